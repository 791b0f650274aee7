"""The agent's HTTP/1.1 client against a real server on loopback."""

import http.server
import socket
import threading

import pytest

from agent.fetch import FetchError, NotFound
from agent.http import HttpFetcher

BODY = bytes(range(256)) * 4000


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hits = []
    connections = []   # one entry per TCP connection accepted
    ranges = []        # the Range and If-Range headers of /resumable requests
    cuts = {"left": 0}

    def setup(self):
        Handler.connections.append(self.client_address)
        super().setup()

    def log_message(self, *a):
        pass

    def do_GET(self):
        Handler.hits.append(self.path)
        p = self.path
        if p == "/plain":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)
        elif p == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(BODY), 7777):
                chunk = BODY[i:i + 7777]
                self.wfile.write(b"%x;ext=1\r\n" % len(chunk) + chunk + b"\r\n")
            self.wfile.write(b"0\r\nX-Trailer: 1\r\n\r\n")
        elif p == "/close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(BODY)
            self.close_connection = True
        elif p.startswith("/redirect/"):
            n = int(p.split("/")[2])
            self.send_response(302 if n % 2 else 301)
            self.send_header("Location", "/plain" if n == 0 else "/redirect/%d" % (n - 1))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif p == "/absolute":
            self.send_response(307)
            host = "[::1]" if self.server.address_family == socket.AF_INET6 else "127.0.0.1"
            self.send_header("Location", "http://%s:%d/plain" % (host, self.server.server_port))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif p == "/truncated":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY[:1000])
            self.close_connection = True
        elif p.startswith("/forbidden/"):
            self.send_response(403, "Forbidden")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif p in ("/resumable", "/resumable-weak", "/changed"):
            etag = 'W/"v1"' if p == "/resumable-weak" else '"v1"'
            rng = self.headers.get("Range")
            Handler.ranges.append((rng, self.headers.get("If-Range")))
            start = 0
            if rng and p != "/changed" and self.headers.get("If-Range") == etag:
                start = int(rng.split("=")[1].rstrip("-"))
                self.send_response(206)
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(BODY) - 1, len(BODY)))
            else:
                self.send_response(200)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(BODY) - start))
            self.end_headers()
            if Handler.cuts["left"] > 0:
                Handler.cuts["left"] -= 1
                self.wfile.write(BODY[start:start + 300000])
                self.close_connection = True
                return
            self.wfile.write(BODY[start:])
        elif p == "/error":
            self.send_response(503, "Busy")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()


@pytest.fixture(scope="module")
def base():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d" % srv.server_port
    srv.shutdown()


class Server6(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


@pytest.fixture(scope="module")
def base6():
    srv = Server6(("::1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield "http://[::1]:%d" % srv.server_port
    srv.shutdown()


@pytest.mark.parametrize("path", ["/plain", "/chunked", "/redirect/4", "/absolute"])
def test_ipv6_bodies_and_redirects(base6, path, tmp_path):
    """Over IPv6: [::1]:PORT URLs, relative and absolute redirects to [::1]."""
    f = HttpFetcher(timeout=5)
    out = tmp_path / "out"
    assert f.fetch(base6 + path, str(out)) == len(BODY)
    assert out.read_bytes() == BODY


@pytest.mark.parametrize("path", ["/plain", "/chunked", "/close", "/redirect/0", "/redirect/4", "/absolute"])
def test_bodies_and_redirects(base, path, tmp_path):
    f = HttpFetcher(timeout=5)
    out = tmp_path / "out"
    assert f.fetch(base + path, str(out)) == len(BODY)
    assert out.read_bytes() == BODY
    assert f.read(base + path, limit=len(BODY)) == BODY


def test_errors(base, tmp_path):
    f = HttpFetcher(timeout=5, retries=1)
    with pytest.raises(NotFound, match="HTTP 404"):
        f.read(base + "/missing")
    with pytest.raises(FetchError, match="HTTP 503 Busy"):
        f.read(base + "/error")
    with pytest.raises(FetchError, match="more than 5 redirects"):
        f.read(base + "/redirect/9")
    Handler.hits.clear()
    with pytest.raises(FetchError, match="closed after 1000 of"):
        f.fetch(base + "/truncated", str(tmp_path / "t"))
    assert Handler.hits == ["/truncated", "/truncated"]  # retried once
    with pytest.raises(FetchError, match="more than the 1000 bytes of space"):
        HttpFetcher(space_for=lambda p: 1000).fetch(base + "/plain", str(tmp_path / "s"))
    with pytest.raises(FetchError, match="cannot connect"):
        HttpFetcher(retries=0).read("http://127.0.0.1:1/x")


def test_an_error_names_the_url_once_with_its_status(base):
    # Issue #22: the message started with the cleaned URL while the client
    # checked for the raw one, so a long URL answered 403 was named twice.
    url = base + "/forbidden/" + "x" * 200
    with pytest.raises(FetchError) as info:
        HttpFetcher(timeout=5, retries=0).read(url)
    e = info.value
    assert (e.url, e.code, e.server_text) == (url, 403, "Forbidden"), (e.url, e.code, e.server_text)
    assert str(e).count("/forbidden/") == 1 and str(e).endswith(": HTTP 403 Forbidden"), str(e)


def test_one_connection_carries_every_request(base, tmp_path):
    """Issue #25: HTTP/1.1 persistence: a config search, a kernel and a redirect
    to the same server over one TCP connection; close() ends it."""
    f = HttpFetcher(timeout=5)
    Handler.connections.clear()
    for name in ("missing-1", "missing-2"):
        with pytest.raises(NotFound):
            f.read(base + "/" + name)
    assert f.read(base + "/plain", limit=len(BODY)) == BODY
    assert f.fetch(base + "/chunked", str(tmp_path / "c")) == len(BODY)
    assert f.fetch(base + "/redirect/2", str(tmp_path / "r")) == len(BODY)
    assert (len(Handler.connections), f.connections) == (1, 1), (Handler.connections, f.connections)
    f.close()
    assert f.read(base + "/plain", limit=len(BODY)) == BODY
    assert f.connections == 2 and len(Handler.connections) == 2, Handler.connections


def test_a_connection_the_server_closed_is_made_again(base, tmp_path):
    """A kept connection the server has closed since (its keep-alive timeout):
    the request goes out again on a new one, without a retry's backoff."""
    f = HttpFetcher(timeout=5, retries=0)
    assert f.read(base + "/plain", limit=len(BODY)) == BODY
    assert len(f.conns) == 1
    for conn in f.conns.values():      # gone since, as if the server had closed it
        conn.raw.shutdown(socket.SHUT_RDWR)
    assert f.read(base + "/plain", limit=len(BODY)) == BODY
    assert f.connections == 2, f.connections
    assert f.read(base + "/close", limit=len(BODY)) == BODY   # Connection: close: not kept
    assert f.conns == {} and f.read(base + "/plain", limit=len(BODY)) == BODY
    assert f.connections == 3, f.connections


def test_a_cut_transfer_goes_on_from_where_it_was_cut(base, tmp_path):
    """A connection cut after 300000 bytes: the next try asks for the rest with
    Range and If-Range (the ETag), and the file is whole; a weak ETag or a file
    that changed (the server answers 200) gives a fetch from the start."""
    out = tmp_path / "r"
    for path, want in (("/resumable", ("bytes=300000-", '"v1"')), ("/resumable-weak", (None, None)),
                       ("/changed", ("bytes=300000-", '"v1"'))):
        Handler.ranges.clear()
        Handler.cuts["left"] = 1
        f = HttpFetcher(timeout=5, retries=2)
        assert f.fetch(base + path, str(out)) == len(BODY), path
        assert out.read_bytes() == BODY, path
        assert Handler.ranges[0] == (None, None) and len(Handler.ranges) == 2, (path, Handler.ranges)
        assert Handler.ranges[1] == want, (path, Handler.ranges)
        assert f.resumed == (1 if want[0] else 0), (path, f.resumed)


def test_backoff_is_random_exponential_and_capped():
    from agent.http import backoff_s
    for attempt, low, high in ((0, 0.25, 0.75), (1, 0.5, 1.5), (3, 2.0, 6.0), (10, 4.0, 12.0)):
        got = [backoff_s(attempt) for _ in range(200)]
        assert all(low <= g < high for g in got), (attempt, min(got), max(got))
        assert max(got) - min(got) > (high - low) / 4, (attempt, "not spread", min(got), max(got))


def test_https_host_also_bounds_redirects(base, tmp_path):
    """pxe.https-host: a redirect to a host not in the list is refused, before any connection
    to it (the trust store would vouch for any host it has a certificate for)."""
    from agent.fetch import Refused
    port = base.rsplit(":", 1)[1]
    f = HttpFetcher(timeout=5, hosts=["localhost"])
    out = tmp_path / "out"
    Handler.hits[:] = []
    with pytest.raises(Refused) as e:
        f.fetch("http://localhost:%s/absolute" % port, str(out))   # -> http://127.0.0.1:PORT/plain
    assert "127.0.0.1" in str(e.value) and "pxe.https-host allows only localhost" in str(e.value)
    assert Handler.hits == ["/absolute"], Handler.hits
    assert HttpFetcher(timeout=5, hosts=["127.0.0.1"]).fetch(base + "/redirect/2", str(out)) == len(BODY)
