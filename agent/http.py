"""A small HTTP/1.1 client for http:// boot files (RFC 9112 subset).

GET only, one request per connection (``Connection: close``); bodies by
Content-Length, chunked transfer coding, or until the server closes; up to
MAX_REDIRECTS redirects (301, 302, 303, 307, 308); 404 and 410 mean "not
found", any other status that is not 200 is an error naming it. Each wait
for the server is bounded by a timeout; a failed connection or a cut-off
body is retried a few times with backoff. No TLS (the image has no
certificates to check them with).
"""

from agent.compat import latin1
from agent.fetch import FetchError, MemorySink, NotFound, TooLarge, check_space

MAX_REDIRECTS = 5
CHUNK = 65536
RETRIES = 3


class _Conn:
    """A TCP connection with a timeout on every wait, over select.poll."""

    def __init__(self, host, port, timeout):
        import select
        import socket
        ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        self.sock = socket.socket(ai[0][0], socket.SOCK_STREAM)
        self.timeout_ms = int(timeout * 1000)
        self.sock.connect(ai[0][-1])
        self.poller = select.poll()
        self.poller.register(self.sock, select.POLLIN)
        self.buf = b""
        self.eof = False

    def send(self, data):
        while data:
            n = self.sock.send(data)
            data = data[n:]

    def _more(self):
        if self.eof:
            return False
        if not self.poller.poll(self.timeout_ms):
            raise FetchError("no data from the server for %d s" % (self.timeout_ms // 1000))
        data = self.sock.recv(CHUNK)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def line(self):
        while b"\n" not in self.buf:
            if len(self.buf) > 16384:
                raise FetchError("header line longer than 16 KiB")
            if not self._more():
                raise FetchError("connection closed in the middle of the headers")
        i = self.buf.index(b"\n")
        out, self.buf = self.buf[:i], self.buf[i + 1:]
        return latin1(out.rstrip(b"\r"))

    def read(self, n):
        """Up to n bytes (at least one unless the connection is closed)."""
        if not self.buf:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def close(self):
        self.sock.close()


def parse_url(url):
    from agent.search import split_url
    scheme, host, port, path = split_url(url)
    if scheme != "http":
        raise FetchError("%s: only http:// is supported here" % url)
    return host, port or 80, path or "/"


def join_location(base, location):
    if "://" in location:
        return location
    host, port, path = parse_url(base)
    if location.startswith("/"):
        return "http://%s:%d%s" % (host, port, location)
    return "http://%s:%d%s" % (host, port, path[:path.rfind("/") + 1] + location)


def _headers(conn):
    status_line = conn.line()
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise FetchError("not an HTTP response: %r" % status_line[:60])
    try:
        status = int(parts[1])
    except ValueError:
        raise FetchError("bad HTTP status line: %r" % status_line[:60])
    reason = parts[2] if len(parts) > 2 else ""
    headers = {}
    while True:
        line = conn.line()
        if not line:
            break
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, reason, headers


def _body(conn, headers, sink, max_size, progress):
    size = 0
    total = None
    if headers.get("transfer-encoding", "").lower().endswith("chunked"):
        while True:
            line = conn.line().split(";")[0].strip()
            try:
                n = int(line, 16)
            except ValueError:
                raise FetchError("bad chunk size %r" % line[:20])
            if n == 0:
                while conn.line():
                    pass
                return size, None
            size += n
            check_space(size, max_size, known=False)
            while n:
                data = conn.read(min(n, CHUNK))
                if not data:
                    raise FetchError("connection closed in the middle of a chunk")
                sink.write(data)
                n -= len(data)
            conn.line()
    if "content-length" in headers:
        try:
            total = int(headers["content-length"])
        except ValueError:
            raise FetchError("bad Content-Length %r" % headers["content-length"])
        check_space(total, max_size)
    from agent.compat import now_ms
    last = now_ms()
    while total is None or size < total:
        data = conn.read(CHUNK if total is None else min(CHUNK, total - size))
        if not data:
            if total is None:
                break
            raise FetchError("connection closed after %d of %d bytes" % (size, total))
        sink.write(data)
        size += len(data)
        check_space(size, max_size, known=False)
        if progress is not None and now_ms() - last >= 500:
            last = now_ms()
            progress(size, total)
    return size, total


class HttpStatus(FetchError):
    """The server answered with a status other than 200 (or 404/410): not retried."""


class HttpFetcher:
    def __init__(self, timeout=10.0, retries=RETRIES, space_for=None, user_agent="s390-netboot"):
        self.timeout = timeout
        self.retries = retries
        self.space_for = space_for
        self.user_agent = user_agent
        self.last_status = None

    def _get(self, url, sink, max_size, progress):
        for _ in range(MAX_REDIRECTS + 1):
            host, port, path = parse_url(url)
            try:
                conn = _Conn(host, port, self.timeout)
            except OSError as e:
                raise FetchError("%s: cannot connect (%s)" % (url, e))
            try:
                hosthdr = host if port == 80 else "%s:%d" % (host, port)
                conn.send(("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
                           "Accept-Encoding: identity\r\nConnection: close\r\n\r\n"
                           % (path, hosthdr, self.user_agent)).encode())
                status, reason, headers = _headers(conn)
                self.last_status = status
                if status in (301, 302, 303, 307, 308) and "location" in headers:
                    url = join_location(url, headers["location"])
                    continue
                if status in (404, 410):
                    raise NotFound("%s: not found (HTTP %d %s)" % (url, status, reason))
                if status != 200:
                    raise HttpStatus("%s: HTTP %d %s" % (url, status, reason))
                size, total = _body(conn, headers, sink, max_size, progress)
                if progress is not None:
                    progress(size, total)
                return size
            finally:
                conn.close()
        raise FetchError("%s: more than %d redirects" % (url, MAX_REDIRECTS))

    def _retry(self, url, open_sink, max_size, progress):
        import time
        delay = 0.5
        for attempt in range(self.retries + 1):
            sink = open_sink()
            try:
                return self._get(url, sink, max_size, progress), sink
            except (NotFound, TooLarge, HttpStatus):
                raise
            except FetchError:
                if attempt == self.retries:
                    raise
            except OSError as e:
                if attempt == self.retries:
                    raise FetchError("%s: %s" % (url, e))
            time.sleep(delay)
            delay *= 2

    def read(self, url, limit=1 << 20):
        size, sink = self._retry(url, MemorySink, limit, None)
        return sink.getvalue()

    def fetch(self, url, dest, progress=None):
        max_size = self.space_for(dest) if self.space_for else None
        files = []

        def open_sink():
            for f in files:
                f.close()
            f = open(dest, "wb")
            files.append(f)
            return f
        try:
            size, sink = self._retry(url, open_sink, max_size, progress)
        finally:
            for f in files:
                f.close()
        return size
