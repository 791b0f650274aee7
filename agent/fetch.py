"""The one small interface every file transfer goes through.

A fetcher has ``read(url, limit) -> bytes`` for configs and
``fetch(url, path, progress) -> size`` for kernels and initrds. It raises
NotFound when the file does not exist (the caller tries the next name) and
FetchError for anything else (the caller reports it).

Schemes: tftp:// (agent.tftp), http:// and https:// (agent.http), and
LocalFetcher, a directory standing in for the server root (``plan --root``
and tests). HttpsOnly refuses every other scheme (pxe.https-only).
"""

from agent.compat import errno_of, is_dir, os, path_join, random_unit
from agent.inet import split_url
from agent.text import clean_text


class FetchError(Exception):
    """A transfer failed for a reason other than "no such file".

    url: the file's URL when the message names it (it then starts with the
    URL, shown cleaned); code: the server's own error code (a TFTP error
    code, an HTTP status) when it gave one; server_text: its message."""

    def __init__(self, msg="", url=None, code=None, server_text=None):
        if url is not None:
            msg = "%s: %s" % (clean_text(url), msg)
        super().__init__(msg)
        self.url = url
        self.code = code
        self.server_text = server_text


class NotFound(FetchError):
    """The server says the file does not exist."""


class Answered(FetchError):
    """The server answered, refusing this one file (an HTTP status such as 403):
    the config search goes on with the next name, as pxe_open_config does on
    any failed open."""


class TooLarge(FetchError):
    """The file does not fit in the space given for it."""


class TimedOut(FetchError):
    """The transfer made no progress, or too little, within its limits (HTTP
    tries again a few times, agent.http.RETRIES)."""


class Unreachable(FetchError):
    """The server's address refused the request or cannot be reached (ICMP
    port or host unreachable, a TCP connection refused): another of its
    addresses is tried, then the same again after a backoff (HTTP: for up
    to agent.http.PATIENCE_S of waiting, a server restarting)."""


# Linux's numbers for what a failed connection says (MicroPython's OSError
# carries the number only).
UNREACHABLE = {111: "refused", 113: "host unreachable", 101: "network unreachable", 112: "host down",
               110: "timed out"}
REFUSED = (111, 113, 101, 112)   # of those, the ones that answer at once: nothing listening, no route


def os_reason(e, udp=False):
    """A short reason for a failed connection or send: 'refused', 'host
    unreachable'... (udp: a refusal is an ICMP port unreachable)."""
    code = errno_of(e)
    if udp and code == 111:
        return "port unreachable"
    return UNREACHABLE.get(code) or clean_text(str(e), 60)


class Refused(FetchError):
    """The request itself is unusable (bad URL, unsupported answer): not retried."""


# Limits of every transfer (docs/reference.md, "Limits").
IDLE_S = 30          # no byte delivered in order for this long: give up
MIN_RATE = 4096      # bytes/s: below this on average (after IDLE_S of grace) a transfer ends;
                     # lock-step 512-byte TFTP blocks manage that up to 125 ms round trips


def backoff_s(attempt, base=0.5, cap=8.0):
    """Seconds to wait before try attempt+2: base doubled per try, capped, and
    spread at random over half to one and a half of that, so that guests
    that failed together do not all try again together (RFC 2131 4.1)."""
    return min(cap, base * (1 << min(attempt, 16))) * (0.5 + random_unit())


class Deadline:
    """A transfer's deadline, which only progress (bytes delivered in order) extends.

    It starts idle_s after the start. Each n bytes delivered move it n/min_rate
    seconds later, but never beyond idle_s after the latest progress: a stall
    ends after idle_s, a server dripping bytes slower than min_rate ends a
    little after idle_s too, and packets that deliver nothing (duplicates,
    junk, repeated answers) never move it. Times in milliseconds.
    """

    def __init__(self, now, idle_s=IDLE_S, min_rate=MIN_RATE):
        self.idle = int(idle_s * 1000)
        self.min_rate = min_rate
        self.start = now
        self.last = now          # time of the latest progress
        self.bytes = 0
        self.end = now + self.idle

    def progress(self, n, now):
        if n <= 0:
            return
        self.bytes += n
        self.last = now
        end = self.end + n * 1000 // self.min_rate if self.min_rate else now + self.idle
        self.end = min(end, now + self.idle)

    def left(self, now):
        """Milliseconds left (0 when expired)."""
        return max(0, self.end - now)

    def expired(self, now):
        return now >= self.end

    def reason(self, now):
        """Why it expired, as one line."""
        if now - self.last >= self.idle or not self.bytes:
            return "no progress for %d s" % ((now - self.last) // 1000)
        secs = max(1, (now - self.start) // 1000)
        return "too slow: %d bytes in %d s, less than %d bytes/s" % (self.bytes, secs, self.min_rate)


def copy_file(src, out, buf=None):
    """Copy an open file into another in 64 KiB pieces through one buffer
    (no read allocates more than that, so MicroPython's heap stays small);
    returns the bytes copied."""
    buf = buf or bytearray(65536)
    mv = memoryview(buf)
    total = 0
    while True:
        n = src.readinto(buf)
        if not n:
            return total
        out.write(mv[:n])
        total += n


def check_space(size, max_size, known=True):
    """Raise TooLarge when size bytes (the whole file if known, else what arrived
    so far) exceed the space given for them (None: no limit)."""
    if max_size is not None and size > max_size:
        if known:
            raise TooLarge("file is %d bytes, more than the %d bytes of space left for it" % (size, max_size))
        raise TooLarge("file is larger than the %d bytes of space left for it" % max_size)


CONFIG_LIMIT = 1 << 20


class MemorySink:
    """A file-like sink collecting bytes in memory (configs are small)."""

    def __init__(self):
        self.parts = []

    def write(self, data):
        self.parts.append(bytes(data))
        return len(data)

    def seek(self, pos):
        self.parts = []

    def truncate(self):
        self.parts = []

    def getvalue(self):
        return b"".join(self.parts)


class BatchingSink:
    """Copies blocks into one 64 KiB buffer and writes it to a file when full.

    MicroPython's files are unbuffered: one write per 1468-byte TFTP block is
    one system call, which is dear in a guest. The blocks may be views of
    received packets (agent.tftp passes memoryviews): they are copied into
    the buffer, never kept, so nothing is allocated per block. The file
    gets a view of the buffer, which it must consume before returning (a
    file's write does).
    """

    LIMIT = 64 * 1024

    def __init__(self, f):
        self.f = f
        self.buf = bytearray(self.LIMIT)
        self.view = memoryview(self.buf)
        self.size = 0

    def write(self, data):
        n = len(data)
        end = self.size + n
        if end < self.LIMIT:
            self.buf[self.size:end] = data
            self.size = end
            return n
        mv = memoryview(data)
        done = 0
        while done < n:
            take = min(n - done, self.LIMIT - self.size)
            self.buf[self.size:self.size + take] = mv[done:done + take]
            self.size += take
            done += take
            if self.size == self.LIMIT:
                self.flush()
        return n

    def flush(self):
        if self.size:
            self.f.write(self.view[:self.size])
            self.size = 0

    def seek(self, pos):
        self.size = 0
        self.f.seek(pos)

    def truncate(self):
        # Only ever called before anything was written (a retry after the
        # server's first answer): MicroPython's files have no truncate().
        self.size = 0
        cut = getattr(self.f, "truncate", None)
        if cut is not None:
            cut()


class LocalFetcher:
    """Files under a directory; the URL's host part is ignored."""

    def __init__(self, root):
        self.root = root

    def _path(self, url):
        try:
            scheme, host, port, path = split_url(url)
        except ValueError as e:
            raise FetchError("%s: bad URL (%s)" % (clean_text(url), e))
        path = path.lstrip("/")
        if "\0" in path:
            # open() would raise ValueError ("embedded null byte") on CPython.
            raise FetchError("%s: a NUL character in the file name" % clean_text(url))
        for part in path.split("/"):
            if part == "..":
                raise FetchError("%s: '..' leaves the root" % url)
        path = path_join(self.root, path)
        try:
            mode = os.stat(path)[0]
        except OSError:
            return path  # open() says what is wrong
        if mode & 0o170000 not in (0o100000, 0o040000):
            # A FIFO would block the open for ever, a device read without end.
            raise FetchError("%s: not a regular file" % url)
        return path

    def read(self, url, limit=CONFIG_LIMIT):
        path = self._path(url)
        try:
            with open(path, "rb") as f:
                # In pieces: one read(limit) would allocate the whole limit at
                # once, too much for MicroPython's heap.
                parts, size = [], 0
                while size <= limit:
                    chunk = f.read(65536)
                    if not chunk:
                        break
                    parts.append(chunk)
                    size += len(chunk)
                data = b"".join(parts)
        except OSError as e:
            if errno_of(e) in (2, 20) or is_dir(path):  # ENOENT, ENOTDIR
                raise NotFound("%s: not found" % url)
            raise FetchError("%s: %s" % (url, e))
        if len(data) > limit:
            raise TooLarge("%s: larger than %d bytes" % (url, limit))
        return data

    def fetch(self, url, dest, progress=None):
        path = self._path(url)
        try:
            src = open(path, "rb")
        except OSError as e:
            if errno_of(e) in (2, 20) or is_dir(path):
                raise NotFound("%s: not found" % url)
            raise FetchError("%s: %s" % (url, e))
        try:
            with open(dest, "wb") as out:
                return copy_file(src, out)
        finally:
            src.close()


class SchemeFetcher:
    """Dispatches on the URL scheme to the fetcher registered for it."""

    def __init__(self, schemes):
        self.schemes = schemes

    def _for(self, url):
        scheme = url.split("://", 1)[0].lower()
        f = self.schemes.get(scheme)
        if f is None:
            raise FetchError("%s: the %s:// scheme is not supported (use tftp://, http:// or https://)"
                             % (url, scheme))
        return f

    def read(self, url, limit=CONFIG_LIMIT):
        return self._for(url).read(url, limit)

    def fetch(self, url, dest, progress=None):
        return self._for(url).fetch(url, dest, progress)

    def close(self):
        for f in self.schemes.values():
            close(f)


def close(fetcher):
    """Close what a fetcher keeps open (HTTP connections), if it keeps anything."""
    done = getattr(fetcher, "close", None)
    if done is not None:
        done()


class HttpsOnly:
    """A fetcher passing only https:// URLs on (pxe.https-only): every other
    name a config resolves to is refused with one line, before any packet.
    With hosts (pxe.https-host), only URLs on those hosts: the trust store
    vouches for a certificate's name, these for which names may serve."""

    def __init__(self, inner, hosts=None):
        self.inner = inner
        self.hosts = hosts

    def _check(self, url):
        if not url.lower().startswith("https://"):
            raise Refused("%s: refused: pxe.https-only allows only https:// names" % clean_text(url))
        if self.hosts is not None:
            try:
                host = split_url(url)[1].split("%", 1)[0].lower()
            except ValueError as e:
                raise Refused("%s: bad URL (%s)" % (clean_text(url), e))
            if host not in self.hosts:
                raise Refused("%s: refused: pxe.https-host allows only %s" % (clean_text(url), ",".join(self.hosts)))

    def read(self, url, limit=CONFIG_LIMIT):
        self._check(url)
        return self.inner.read(url, limit)

    def fetch(self, url, dest, progress=None):
        self._check(url)
        return self.inner.fetch(url, dest, progress)

    def close(self):
        close(self.inner)
