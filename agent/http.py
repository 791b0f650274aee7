"""A small HTTP/1.1 client for http:// and https:// boot files (RFC 9112 subset).

GET only, one request per connection (``Connection: close``); bodies by
Content-Length, chunked transfer coding, or until the server closes; up to
MAX_REDIRECTS redirects (301, 302, 303, 307, 308) to other http(s):// URLs;
interim 1xx responses skipped; 404 and 410 mean "not found", any other
status that is not 200 is an error naming it.

https:// (RFC 9110 4.2.2, TLS 1.2 by RFC 5246): the server's certificate
chain is checked against the trust store, a PEM file (CA_FILE in the image,
``--ca-certs FILE`` on a workstation), and its names against the URL's host
(which is also sent as SNI); validity dates are checked against the clock.
No trust store means every https:// fetch fails, with a line saying how to
add one. A redirect from https:// to anything else is refused. A failed
check is one line naming the server and the reason (tls_reason), and is not
retried; a connection cut mid-body is retried like plain HTTP. A new
connection to a host and port that had one before offers its TLS session
again (RFC 5077 session tickets, agent.compat.tls_session): the server
skips the certificate and key exchange when it takes it; sessions are kept
per host name and port, never offered to another; a handshake that fails
with one offered is tried once more without it.

A host name with several addresses is several servers (connect()): each
is tried in turn, IPv4 first, until one takes the connection; each but the
last has ADDRESS_S seconds for it.

Limits (docs/reference.md): the connection must be made within the timeout
(a host dropping SYNs), the status line and headers must all arrive within
the timeout, at most MAX_HEADERS header lines of at most MAX_LINE bytes and
MAX_HEADER_BYTES in all; the body runs on an agent.fetch.Deadline (no byte
for the timeout, or fewer than MIN_RATE bytes/s on average, ends it). A
failed connection, a cut-off body and a time-out are retried a few times
(RETRIES) with randomised exponential backoff: a server busy with a boot
storm, or a caching proxy still filling its cache, answers late, not never;
a refused connection (a server restarting) for up to PATIENCE_S of backoff.
Refused answers (TLS failures, unusable responses) are not retried.

Refused, with one line: a URL with a bad port, a control character or a
space-like byte (nothing from the network reaches the request line
unescaped), a negative, malformed or conflicting Content-Length, a
Transfer-Encoding other than chunked, a Content-Encoding other than
identity (the request says ``Accept-Encoding: identity``), a redirect to
anything but http:// or https://, from https:// to anything but https://.
"""

from agent.compat import (MICROPYTHON, TLS_DEFERRED, errno_of, is_v6_addr, latin1, now_ms, plain_io, recv_into, sockaddr_text, tcp_nodelay,
                          tls_context, tls_eof, tls_failure, tls_pending, tls_session, tls_wrap)
from agent.inet import is_digits
from agent.text import PEM_BEGIN, clean_text, pem_blocks
from agent.fetch import (IDLE_S, backoff_s, MIN_RATE, Answered, Deadline, FetchError, MemorySink, NotFound, Refused,
                         TimedOut, TooLarge, REFUSED, Unreachable, check_space, os_reason)

MAX_REDIRECTS = 5
NONBLOCKING = MICROPYTHON   # compat.plain_io and tls_wrap make its sockets non-blocking
CHUNK = 65536
RETRIES = 3
PATIENCE_S = 30   # of backoff after refused connections (a server restarting), before giving up
MAX_LINE = 8192
MAX_HEADERS = 100
MAX_HEADER_BYTES = 65536
MAX_INTERIM = 10
CA_FILE = "/etc/s390-netboot/ca.pem"
IMAGE_HINT = "build the image with packager build --ca-certs FILE"
DEFAULT_PORTS = {"http": 80, "https": 443}


class HttpStatus(Answered):
    """The server answered with a status other than 200 (or 404/410): not retried."""


class TlsError(Refused):
    """The TLS handshake failed or the server's certificate was not accepted: not retried."""


# Substrings of mbedtls's (x509_crt_verify_info) and OpenSSL's verify messages.
TLS_REASONS = (
    ("unknown-ca", ("not correctly signed by the trusted CA", "unable to get local issuer",
                    "self-signed certificate", "self signed certificate", "unable to get issuer")),
    ("wrong-host", ("does not match with the expected CN", "Hostname mismatch", "IP address mismatch")),
    ("expired", ("validity has expired", "certificate has expired")),
    ("not-yet-valid", ("validity starts in the future", "certificate is not yet valid")),
)


def tls_kind(text):
    """'unknown-ca', 'wrong-host', 'expired', 'not-yet-valid' or 'handshake'
    for the text of a failed TLS handshake (pure)."""
    for kind, needles in TLS_REASONS:
        for n in needles:
            if n in text:
                return kind
    return "handshake"


def tls_reason(text, host, ca_file, clock=None, hint=None):
    """One console line for a failed handshake with host (pure)."""
    kind = tls_kind(text)
    if kind == "unknown-ca":
        return ("TLS: %s's certificate is not signed by a CA in %s (a man in the middle, or a CA "
                "missing there: %s)" % (host, ca_file, hint or IMAGE_HINT))
    if kind == "wrong-host":
        return ("TLS: %s's certificate is for another host name (use a name or address the "
                "certificate lists in its subjectAltName)" % host)
    when = " (the clock reads %s)" % clock if clock else ""
    if kind == "expired":
        return "TLS: %s's certificate has expired%s; renew it or fix the clock" % (host, when)
    if kind == "not-yet-valid":
        return "TLS: %s's certificate is not valid yet%s; the clock is probably wrong" % (host, when)
    detail = " ".join(clean_text(text, 120).split())
    return "TLS: handshake with %s failed: %s" % (host, detail or "no reason given")


def clock_text():
    """The UTC time as the certificate checks see it, e.g. 2026-11-25 21:30 UTC."""
    import time
    t = time.gmtime()
    return "%04d-%02d-%02d %02d:%02d UTC" % (t[0], t[1], t[2], t[3], t[4])


def url_scheme(url):
    return url.split("://", 1)[0].lower() if "://" in url else ""


class _Conn:
    """A TCP connection with a limit on every wait, over select.poll.

    Until body() is called, every wait ends at the header deadline (timeout
    seconds after the connection was made, never extended); then at the body
    Deadline, which bytes extend.
    """

    def __init__(self, host, port, timeout, idle_s, min_rate, tls=None, ca_file=CA_FILE, hint=None,
                 session=None):
        import select
        import socket
        from agent.tftp import resolve_all
        self.timeout_ms = int(timeout * 1000)
        self.sock, self.addr, self.tried = connect(resolve_all(host, port, socket.SOCK_STREAM), timeout)
        self.tls = tls is not None
        if self.tls:
            tcp_nodelay(self.sock)
        self.raw = self.sock
        self.handshaking = False
        self.session = session   # the TLS session offered for resumption
        self.session_taken = False
        if self.tls:
            self.tls_why = (host, ca_file, hint)
            try:
                self.sock = tls_wrap(tls, self.sock, host.split("%", 1)[0], session)
            except (OSError, ValueError) as e:
                self.close()
                raise self._tls_error(e)
            self.handshaking = TLS_DEFERRED
            # mbedtls's socket has read/write only (recv/send come with DTLS).
            self._recv = self.sock.read
            self._send = self.sock.write
            self._recv_into = recv_into(self.sock)
        else:
            self._recv, self._send, self._recv_into = plain_io(self.sock)
        self.poller = select.poll()
        self.poller.register(self.sock, select.POLLIN)
        self.buf = b""
        self.pos = 0             # bytes of buf already consumed
        self.eof = False
        self.header_end = now_ms() + self.timeout_ms
        self.idle_s = idle_s
        self.min_rate = min_rate
        self.deadline = None
        self.received = 0        # bytes received for the current request
        self.requests = 0

    def next_request(self):
        """Ready for another request on this connection (HTTP/1.1 persistence):
        the header deadline starts again; False when bytes are left over from
        the last response (nothing may be, before a request is sent)."""
        if self.eof or self.pos < len(self.buf):
            return False
        self.buf, self.pos = b"", 0
        self.header_end = now_ms() + self.timeout_ms
        self.deadline = None
        self.received = 0
        return True

    def _tls_error(self, e):
        host, ca_file, hint = self.tls_why
        return TlsError(tls_reason(tls_failure(e), host, ca_file, clock_text(), hint))

    def send(self, data):
        """All of data; on MicroPython's TLS socket the first send also does the
        handshake, each of its waits bounded by the header deadline."""
        while data:
            try:
                n = self._send(data)
            except (OSError, ValueError) as e:
                if not self.handshaking:
                    raise
                self.close()
                raise self._tls_error(e)
            if n is None:
                # Non-blocking TLS: the handshake (or a full socket) must wait for the
                # server. Poll a short while, never past the deadline, and try again.
                now = now_ms()
                if now >= self.header_end:
                    self.close()
                    raise TimedOut("no TLS handshake within %d s" % (self.timeout_ms // 1000)
                                   if self.handshaking else
                                   "could not send the request within %d s" % (self.timeout_ms // 1000))
                self.poller.poll(min(100, self.header_end - now))
                continue
            self.handshaking = False
            data = data[n:]

    def body(self):
        self.deadline = Deadline(now_ms(), self.idle_s, self.min_rate)

    def _more(self):
        data = self._receive(None)
        if not data:
            return False
        # Lines are taken by position, not by slicing what is left each time.
        self.buf = self.buf[self.pos:] + data if self.pos < len(self.buf) else data
        self.pos = 0
        return True

    def _receive(self, into):
        """The next bytes from the connection, each wait bounded by the
        deadline: new bytes, or with into (a memoryview) their count, put
        there (no allocation per read: on MicroPython a new 64 KiB bytes
        object per read made the heap's allocator the transfer's bottleneck).
        b"" or 0 at the end of the connection."""
        if self.eof:
            return b"" if into is None else 0
        while True:
            now = now_ms()
            end = self.header_end if self.deadline is None else self.deadline.end
            # MicroPython's sockets here are non-blocking: read first, and wait
            # only when nothing is there (one poll per read less).
            ready = NONBLOCKING and now < end
            if self.tls and not ready:
                ready = tls_pending(self.sock) > 0
            if not ready and (now >= end or not self.poller.poll(max(1, end - now))):
                now = now_ms()
                if self.deadline is None:
                    raise TimedOut("no complete response headers within %d s" % (self.timeout_ms // 1000))
                raise TimedOut(self.deadline.reason(now))
            try:
                data = self._recv(CHUNK) if into is None else self._recv_into(into)
            except OSError as e:
                if not (self.tls and tls_eof(e)):
                    raise
                data = b"" if into is None else 0
            if data is not None:   # None: nothing yet (a non-blocking read, a TLS record half there)
                break
            if NONBLOCKING and not self.poller.poll(max(1, end - now_ms())):
                continue            # the deadline is checked at the top
        if not data:
            self.eof = True
            return data
        self.received += data if into is not None else len(data)
        return data

    def line(self):
        while True:
            i = self.buf.find(b"\n", self.pos)
            if i >= 0:
                break
            if len(self.buf) - self.pos > MAX_LINE:
                raise Refused("a header line longer than %d bytes" % MAX_LINE)
            if not self._more():
                raise FetchError("connection closed in the middle of the headers")
        if i - self.pos > MAX_LINE:
            raise Refused("a header line longer than %d bytes" % MAX_LINE)
        out = self.buf[self.pos:i]
        self.pos = i + 1
        return latin1(out.rstrip(b"\r"))

    def read(self, n):
        """Up to n body bytes (at least one unless the connection is closed)."""
        if self.pos >= len(self.buf):
            self._more()
        end = min(len(self.buf), self.pos + n)
        if self.pos == 0 and end == len(self.buf):
            out = self.buf
        else:
            out = self.buf[self.pos:end]
        self.pos = end
        if out:
            self.deadline.progress(len(out), now_ms())
        return out

    def readinto(self, mv):
        """Body bytes into the memoryview mv: how many (at least one unless
        the connection is closed); what the headers' reads left over first."""
        left = len(self.buf) - self.pos
        if left > 0:
            n = min(left, len(mv))
            mv[:n] = self.buf[self.pos:self.pos + n]
            self.pos += n
        else:
            n = self._receive(mv)
        if n:
            self.deadline.progress(n, now_ms())
        return n

    def close(self):
        # A failed MicroPython handshake frees the TLS socket's hold on the raw
        # one: close both, so no descriptor is left behind.
        for s in (self.sock, self.raw):
            try:
                s.close()
            except (OSError, AttributeError):
                pass


ADDRESS_S = 3   # of a host's several addresses, each but the last must take the connection within this


def connect(addrs, timeout, each=ADDRESS_S):
    """(socket, address, tried): a TCP connection to the first of addrs (in
    agent.tftp.resolve_all's order) that takes it. One that refuses, cannot
    be reached or stays silent for `each` seconds gives way to the next; the
    last has the whole timeout. tried: those that failed, each with why.
    TimedOut when every address stayed silent,
    else the OSError (one address) or Unreachable naming each address
    and why it failed."""
    import socket
    tried = []
    silent = 0
    for i, addr in enumerate(addrs):
        limit = timeout if i == len(addrs) - 1 else min(timeout, each)
        sock = socket.socket(socket.AF_INET6 if is_v6_addr(addr) else socket.AF_INET, socket.SOCK_STREAM)
        try:
            # Bounds connect() (Linux applies the send timeout to it) and, later, send().
            sock.settimeout(limit)
        except (AttributeError, OSError):
            pass
        start = now_ms()
        try:
            sock.connect(addr)
        except OSError as e:
            sock.close()
            timed_out = now_ms() - start >= int(limit * 1000) - 100
            if len(addrs) == 1:
                if timed_out:
                    raise TimedOut("cannot connect within %d s" % int(limit))
                raise
            if timed_out:
                silent += 1
            tried.append("%s (%s)" % (sockaddr_text(addr), "no answer within %d s" % int(limit)
                                      if timed_out else os_reason(e)))
            continue
        if limit != timeout:
            try:
                sock.settimeout(timeout)
            except (AttributeError, OSError):
                pass
        return sock, addr, tried
    why = "cannot connect to any of its %d addresses: %s" % (len(addrs), ", ".join(tried))
    raise TimedOut(why) if silent == len(addrs) else Unreachable(why)


def _check_chars(url, text, what):
    for c in text:
        o = ord(c)
        if o < 32 or 127 <= o < 160:  # C0, DEL and the C1 controls (U+009B is a terminal's CSI)
            raise Refused("a control character (0x%02x) in the %s" % (o, what), url)


def _quote_path(path):
    """Spaces and non-ASCII characters percent-encoded; the rest as written."""
    if all(32 < ord(c) < 127 for c in path):
        return path
    out = []
    for c in path:
        if 32 < ord(c) < 127:
            out.append(c)
        else:
            out.append("".join(["%%%02X" % b for b in c.encode()]))
    return "".join(out)


def parse_url(url):
    """(host, port, path) of an http:// or https:// URL; Refused for anything unusable."""
    from agent.inet import split_url
    try:
        scheme, host, port, path = split_url(url)
    except ValueError as e:
        raise Refused("bad URL (%s)" % clean_text(str(e)), url)
    if scheme not in DEFAULT_PORTS:
        raise Refused("only http:// and https:// are supported here", url)
    _check_chars(url, host, "host name")
    _check_chars(url, path, "path")
    if not host or " " in host:
        raise Refused("no usable host in the URL", url)
    if port is not None and not 0 < port < 65536:
        raise Refused("port %d is out of range" % port, url)
    return host, port or DEFAULT_PORTS[scheme], _quote_path(path or "/")


def join_location(base, location):
    if "://" in location:
        return location
    from agent.inet import url_host
    host, port, path = parse_url(base)
    scheme = url_scheme(base)
    if location.startswith("/"):
        return "%s://%s:%d%s" % (scheme, url_host(host), port, location)
    return "%s://%s:%d%s" % (scheme, url_host(host), port, path[:path.rfind("/") + 1] + location)


def _response(conn):
    """(status, reason, headers) of the final response; 1xx interim ones are skipped."""
    count = 0
    size = 0
    for _ in range(MAX_INTERIM + 1):
        status_line = conn.line()
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise Refused("not an HTTP response: %r" % clean_text(status_line, 60))
        if not (len(parts[1]) == 3 and is_digits(parts[1])):
            raise Refused("bad HTTP status line: %r" % clean_text(status_line, 60))
        status = int(parts[1])
        reason = clean_text(parts[2], 60) if len(parts) > 2 else ""
        headers = {":version": parts[0]}
        while True:
            line = conn.line()
            if not line:
                break
            count += 1
            size += len(line)
            if count > MAX_HEADERS or size > MAX_HEADER_BYTES:
                raise Refused("more than %d header lines or %d bytes of headers"
                              % (MAX_HEADERS, MAX_HEADER_BYTES))
            if ":" in line:
                k, v = line.split(":", 1)
                k = k.strip().lower()
                v = v.strip()
                if k in headers:
                    headers[k] = headers[k] + ", " + v
                else:
                    headers[k] = v
        if 100 <= status < 200 and status != 101:
            continue
        return status, reason, headers
    raise Refused("more than %d interim (1xx) responses" % MAX_INTERIM)


def content_length(headers):
    """The body length the headers announce (None: not given); Refused when malformed."""
    if "content-length" not in headers:
        return None
    values = [v.strip() for v in headers["content-length"].split(",")]
    for v in values:
        if not is_digits(v) or len(v) > 15:
            raise Refused("bad Content-Length %r" % clean_text(headers["content-length"], 40))
    if len(set(int(v) for v in values)) != 1:
        raise Refused("conflicting Content-Length values %r" % clean_text(headers["content-length"], 40))
    return int(values[0])


def _chunk_size(line):
    text = line.split(";")[0].strip()
    if not text or len(text) > 12 or not all(c in "0123456789abcdefABCDEF" for c in text):
        raise Refused("bad chunk size %r" % clean_text(text, 20))
    return int(text, 16)


def _body(conn, headers, sink, max_size, progress, start=0):
    """The body into sink: (size, total), counting the start bytes a resumed
    transfer already has. A FetchError for a cut body carries .received,
    the body bytes written before the cut."""
    size = start
    total = None
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise Refused("Content-Encoding %s is not supported (the request asked for identity)"
                      % clean_text(encoding, 40))
    conn.body()
    coding = headers.get("transfer-encoding")
    if coding is not None:
        if coding.strip().lower() != "chunked":
            raise Refused("Transfer-Encoding %s is not supported (only chunked)" % clean_text(coding, 40))
        trailers = 0
        while True:
            n = _chunk_size(conn.line())
            if n == 0:
                while conn.line():
                    trailers += 1
                    if trailers > MAX_HEADERS:
                        raise Refused("more than %d trailer lines" % MAX_HEADERS)
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
    total = content_length(headers)
    if total is not None:
        total += start
        check_space(total, max_size)
    if start:
        sink.seek(start)
    last = now_ms()
    buf = memoryview(bytearray(CHUNK))   # one buffer for the whole body
    while total is None or size < total:
        try:
            n = conn.readinto(buf if total is None or total - size >= CHUNK else buf[:total - size])
        except TimedOut as e:
            e.received = size - start   # a stalled body goes on from here when tried again
            raise
        if not n:
            if total is None:
                break
            e = FetchError("connection closed after %d of %d bytes" % (size, total))
            e.received = size - start
            raise e
        size += n
        check_space(size, max_size, known=False)
        sink.write(buf[:n])
        if progress is not None and now_ms() - last >= 500:
            last = now_ms()
            progress(size, total)
    return size, total


def _range_headers(resume):
    if resume is None:
        return ""
    offset, validator = resume
    return "Range: bytes=%d-\r\nIf-Range: %s\r\n" % (offset, validator)


def _resumable(headers, received):
    """(offset, validator) to continue a cut body with, or None: only with a
    validator (If-Range: an ETag, else Last-Modified), a known length, and a
    server that does not refuse ranges."""
    if received <= 0 or "transfer-encoding" in headers or "content-length" not in headers:
        return None
    if headers.get("accept-ranges", "").strip().lower() == "none":
        return None
    validator = headers.get("etag") or headers.get("last-modified")
    if not validator or validator.startswith("W/") or any(ord(c) < 32 for c in validator):
        return None   # a weak ETag may not be used with If-Range (RFC 9110 13.1.5)
    return received, validator


def _content_range_start(headers):
    """The first byte of a 206 answer's Content-Range: bytes FIRST-LAST/TOTAL."""
    text = headers.get("content-range", "").strip()
    if text.startswith("bytes "):
        first = text[6:].split("-", 1)[0].strip()
        if first and len(first) < 16 and all("0" <= c <= "9" for c in first):
            return int(first)
    raise Refused("206 answer with a bad Content-Range %r" % clean_text(text, 60))


def _persistent(headers):
    """Whether the connection may carry another request after this response:
    HTTP/1.1, no Connection: close, and a body whose end is known."""
    if headers.get(":version") != "HTTP/1.1":
        return False
    if "close" in [t.strip().lower() for t in headers.get("connection", "").split(",")]:
        return False
    return "content-length" in headers or "transfer-encoding" in headers


DISCARD_LIMIT = 65536


def _discard(conn, headers):
    """Read a small body that is not wanted (a redirect's, an error's), so
    the connection can carry the next request; whether it can."""
    try:
        n = content_length(headers)
    except Refused:
        return False
    if n is None or n > DISCARD_LIMIT or "transfer-encoding" in headers or not _persistent(headers):
        return False
    conn.body()
    while n > 0:
        data = conn.read(n)
        if not data:
            return False
        n -= len(data)
    return True


def trust_context(cadata):
    """(TLS context, certificates skipped) trusting the PEM bundle cadata
    (agent.compat.tls_context, fed the bundle's blocks); ValueError when no
    certificate in it is usable."""
    blocks = pem_blocks(cadata)
    return tls_context(cadata, blocks, cadata.count(PEM_BEGIN) - len(blocks))


class FileSink:
    """A file fetched into: written on, moved to where a resumed transfer goes
    on (seek), or started again empty (restart: opened anew, as MicroPython's
    files cannot truncate)."""

    def __init__(self, path):
        self.path = path
        self.f = open(path, "wb")

    def write(self, data):
        return self.f.write(data)

    def seek(self, pos):
        self.f.seek(pos)

    def restart(self):
        self.f.close()
        self.f = open(self.path, "wb")

    def close(self):
        self.f.close()


class HttpFetcher:
    def __init__(self, timeout=10.0, retries=RETRIES, space_for=None, user_agent="s390-netboot",
                 idle_s=None, min_rate=MIN_RATE, ca_file=CA_FILE, ca_hint=None, hosts=None):
        self.ca_file = ca_file
        # pxe.https-host: the only hosts this fetcher connects to (redirects included);
        # None: any host whose certificate the trust store vouches for.
        self.hosts = [h.lower() for h in hosts] if hosts else None
        # What to do when the trust store is missing (the image vs a workstation).
        self.ca_hint = ca_hint or IMAGE_HINT
        self.tls = None
        self.ca_skipped = 0      # certificates of ca_file the TLS library could not parse
        self.timeout = timeout
        self.retries = retries
        self.patience_s = PATIENCE_S
        self.space_for = space_for
        self.user_agent = user_agent
        self.idle_s = idle_s or min(IDLE_S, timeout)
        self.min_rate = min_rate
        self.last_status = None
        self.conns = {}          # (host, port, tls) -> a connection kept open for the next request
        self.sessions = {}       # (host, port) -> the TLS session to resume the next connection with
        self.connections = 0     # TCP connections made
        self.resumed = 0         # transfers continued with Range after a cut
        self.tried = []          # the addresses that failed before the last connection was made

    def tls_context(self, url):
        """The TLS context trusting ca_file, made once; TlsError without one."""
        if self.tls is None:
            try:
                with open(self.ca_file, "rb") as f:
                    # PEM is ASCII; a comment in another encoding must not stop the rest.
                    cadata = latin1(f.read())
            except OSError:
                raise TlsError("no trust store (%s is missing), so https:// cannot be checked: %s"
                               % (self.ca_file, self.ca_hint), url)
            if PEM_BEGIN not in cadata:
                raise TlsError("%s holds no PEM certificate: %s" % (self.ca_file, self.ca_hint), url)
            try:
                self.tls, self.ca_skipped = trust_context(cadata)
            except (ValueError, OSError) as e:
                raise TlsError("the certificates in %s cannot be used (%s): %s"
                               % (self.ca_file, clean_text(str(e), 80), self.ca_hint), url)
        return self.tls

    def _connect(self, host, port, tls, url):
        """(connection, reused): the open connection to host:port kept from an
        earlier request (HTTP/1.1 persistence), else a new one, offering the
        TLS session of the last one to host:port."""
        key = (host, port, tls is not None)
        conn = self.conns.pop(key, None)
        if conn is not None:
            if conn.next_request():
                return conn, True
            conn.close()
        session = self.sessions.get((host, port)) if tls is not None else None
        try:
            conn = _Conn(host, port, self.timeout, self.idle_s, self.min_rate, tls, self.ca_file, self.ca_hint,
                         session)
        except FetchError as e:   # TimedOut, TlsError, every address failing
            if isinstance(e, TlsError) and session is not None:
                # CPython's handshake, refused with a session offered: once more without it.
                self.sessions.pop((host, port), None)
                return self._connect(host, port, tls, url)
            raise e if e.url else type(e)(str(e), url)
        except OSError as e:
            # Refused or unreachable: a server restarting, tried again for a while (_retry).
            raise (Unreachable if errno_of(e) in REFUSED else FetchError)(
                "cannot connect (%s)" % e, url)
        except (UnicodeError, ValueError) as e:
            raise FetchError("cannot connect (%s)" % e, url)
        self.connections += 1
        self.tried = conn.tried
        return conn, False

    def close(self):
        """Close the connections kept open (before kexec: the next kernel gets a clean network)."""
        for conn in self.conns.values():
            conn.close()
        self.conns = {}

    def _get(self, url, sink, max_size, progress, resume=None):
        """GET url into sink, following redirects; the body's size. resume:
        (offset, validator): ask for the rest from offset (Range, If-Range);
        a 200 answer starts the sink again from 0."""
        hops = 0
        fresh = 0
        while hops <= MAX_REDIRECTS:
            host, port, path = parse_url(url)
            if self.hosts is not None and host.split("%", 1)[0].lower() not in self.hosts:
                raise Refused("refused: pxe.https-host allows only %s" % ",".join(self.hosts), url)
            tls = self.tls_context(url) if url_scheme(url) == "https" else None
            conn, reused = self._connect(host, port, tls, url)
            keep = False
            try:
                # An IPv6 host in brackets, without its zone (RFC 6874: the zone is local).
                hosthdr = host if ":" not in host else "[%s]" % host.split("%", 1)[0]
                if port != DEFAULT_PORTS[url_scheme(url)]:
                    hosthdr = "%s:%d" % (hosthdr, port)
                try:
                    # On MicroPython this send also does the TLS handshake (compat.tls_wrap).
                    conn.requests += 1
                    conn.send(("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
                               "Accept-Encoding: identity\r\n%s\r\n"
                               % (path, hosthdr, self.user_agent, _range_headers(resume))).encode())
                    status, reason, headers = _response(conn)
                except (FetchError, OSError) as e:
                    if reused and not conn.received and fresh < 1:
                        # The server closed the connection it kept (its keep-alive
                        # timeout) before this request reached it: once more, anew.
                        fresh += 1
                        continue
                    if isinstance(e, TlsError) and conn.session is not None and fresh < 1:
                        # MicroPython's handshake (at this send), refused with a
                        # session offered: once more without it.
                        self.sessions.pop((host, port), None)
                        fresh += 1
                        continue
                    if isinstance(e, FetchError) and not e.url:
                        raise type(e)(str(e), url)
                    raise
                try:
                    self.last_status = status
                    if status in (301, 302, 303, 307, 308) and "location" in headers:
                        try:
                            new = join_location(url, headers["location"])
                            parse_url(new)
                        except Refused as e:
                            raise Refused("redirected to an unusable URL: %s" % e)
                        if url_scheme(url) == "https" and url_scheme(new) != "https":
                            raise Refused("redirected from https:// to %s: refused (a redirect may not "
                                          "drop TLS)" % clean_text(new, 100))
                        keep = _discard(conn, headers)
                        url = new
                        hops += 1
                        continue
                    if status in (404, 410):
                        keep = _discard(conn, headers)
                        raise NotFound("not found (HTTP %d %s)" % (status, reason), url, status, reason)
                    start = 0
                    if status == 206 and resume is not None:
                        start = _content_range_start(headers)
                        if start != resume[0]:
                            raise FetchError("asked for the bytes from %d, got a range from %d"
                                             % (resume[0], start))
                    elif status != 200:
                        keep = _discard(conn, headers)
                        raise HttpStatus("HTTP %d %s" % (status, reason), url, status, reason)
                    elif resume is not None:
                        # The file changed (If-Range) or the server ignores Range: all of it.
                        sink.restart()
                    try:
                        size, total = _body(conn, headers, sink, max_size, progress, start)
                    except FetchError as e:
                        e.resume = _resumable(headers, start + getattr(e, "received", 0))
                        raise
                    keep = _persistent(headers)
                except NotFound:
                    raise
                except FetchError as e:
                    if e.url:
                        raise
                    err = type(e)(str(e), url)
                    err.resume = getattr(e, "resume", None)
                    raise err
                if progress is not None:
                    progress(size, total)
                return size
            finally:
                if conn.tls and conn.received and not conn.session_taken:
                    # Once per connection, after a response came (TLS 1.3's tickets follow the handshake).
                    conn.session_taken = True
                    session = tls_session(conn.sock)
                    if session is not None:
                        self.sessions[(host, port)] = session
                if keep:
                    self.conns[(host, port, tls is not None)] = conn
                else:
                    conn.close()
        raise Refused("more than %d redirects" % MAX_REDIRECTS, url)

    def _retry(self, url, open_sink, max_size, progress):
        """_get with up to self.retries more tries after a failure that may pass
        (a cut connection, a server too busy to answer in time), and as many
        as fit in self.patience_s of waiting after a refused connection (a
        server restarting: systemd gives nginx 5 s to finish before it stops
        it), with randomised exponential backoff between them; a cut file
        transfer goes on from where it was cut when the server can resume it
        (Range with If-Range). retries=0: no second try of any kind."""
        import time
        resume = None
        sink = None
        failures = 0     # tries that failed other than by a refused connection
        attempt = 0      # tries that failed, for the backoff
        waited = 0.0
        while True:
            sink = open_sink(resume is not None)
            try:
                return self._get(url, sink, max_size, progress, resume), sink
            except (NotFound, TooLarge, HttpStatus, Refused):
                raise
            except Unreachable:
                # Nothing came: an earlier cut's resume point still holds.
                if not self.retries or waited >= self.patience_s:
                    raise
            except FetchError as e:
                failures += 1
                if failures > self.retries:
                    raise
                resume = getattr(e, "resume", None) if isinstance(sink, FileSink) else None
                if resume is not None:
                    self.resumed += 1
            except OSError as e:
                failures += 1
                if failures > self.retries:
                    raise FetchError(str(e), url)
                resume = None
            wait = backoff_s(attempt)
            attempt += 1
            waited += wait
            time.sleep(wait)

    def read(self, url, limit=1 << 20):
        size, sink = self._retry(url, lambda resuming: MemorySink(), limit, None)
        return sink.getvalue()

    def fetch(self, url, dest, progress=None):
        max_size = self.space_for(dest) if self.space_for else None
        sinks = []

        def open_sink(resuming):
            # One file for every try: a resumed try writes on where the
            # last one was cut (_get seeks), any other starts it again.
            if not sinks:
                sinks.append(FileSink(dest))
            elif not resuming:
                sinks[0].restart()
            return sinks[0]
        try:
            size, sink = self._retry(url, open_sink, max_size, progress)
        finally:
            for f in sinks:
                f.close()
        return size
