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
