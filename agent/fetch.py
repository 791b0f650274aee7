"""The one small interface every file transfer goes through.

A fetcher has ``read(url, limit) -> bytes`` for configs and
``fetch(url, path, progress) -> size`` for kernels and initrds. It raises
NotFound when the file does not exist (the caller tries the next name) and
FetchError for anything else (the caller reports it).

Schemes: tftp:// (agent.tftp), http:// (agent.http), and LocalFetcher, a
directory standing in for the server root (``plan --root`` and tests).
"""

from agent.compat import path_join


class FetchError(Exception):
    """A transfer failed for a reason other than "no such file"."""


class NotFound(FetchError):
    """The server says the file does not exist."""


class TooLarge(FetchError):
    """The file does not fit in the space given for it."""


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
    """Collects blocks and writes them to a file 64 KiB at a time.

    MicroPython's files are unbuffered: one write per 1468-byte TFTP block is
    one system call, which is dear in a guest.
    """

    LIMIT = 64 * 1024

    def __init__(self, f):
        self.f = f
        self.parts = []
        self.size = 0

    def write(self, data):
        self.parts.append(data)
        self.size += len(data)
        if self.size >= self.LIMIT:
            self.flush()
        return len(data)

    def flush(self):
        if self.parts:
            self.f.write(b"".join(self.parts))
            self.parts = []
            self.size = 0

    def seek(self, pos):
        self.parts = []
        self.size = 0
        self.f.seek(pos)

    def truncate(self):
        self.f.truncate()


class LocalFetcher:
    """Files under a directory; the URL's host part is ignored."""

    def __init__(self, root):
        self.root = root

    def _path(self, url):
        from agent.search import split_url
        scheme, host, port, path = split_url(url)
        path = path.lstrip("/")
        for part in path.split("/"):
            if part == "..":
                raise FetchError("%s: '..' leaves the root" % url)
        return path_join(self.root, path)

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
            from agent.compat import errno_of, is_dir
            if errno_of(e) in (2, 20) or is_dir(path):  # ENOENT, ENOTDIR
                raise NotFound("%s: not found" % url)
            raise FetchError("%s: %s" % (url, e))
        if len(data) > limit:
            raise FetchError("%s: larger than %d bytes" % (url, limit))
        return data

    def fetch(self, url, dest, progress=None):
        data = self.read(url, 1 << 40)
        with open(dest, "wb") as f:
            f.write(data)
        return len(data)


class SchemeFetcher:
    """Dispatches on the URL scheme to the fetcher registered for it."""

    def __init__(self, schemes):
        self.schemes = schemes

    def _for(self, url):
        scheme = url.split("://", 1)[0].lower()
        f = self.schemes.get(scheme)
        if f is None:
            raise FetchError("%s: the %s:// scheme is not supported (use tftp:// or http://)"
                             % (url, scheme))
        return f

    def read(self, url, limit=CONFIG_LIMIT):
        return self._for(url).read(url, limit)

    def fetch(self, url, dest, progress=None):
        return self._for(url).fetch(url, dest, progress)
