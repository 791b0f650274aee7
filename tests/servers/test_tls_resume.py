"""TLS session resumption against Debian's nginx (its defaults: session
tickets on, no session cache), in a network namespace of its own, with the
agent's HTTP client under CPython and under the image's MicroPython built for
x86_64 (whose tls module the build patches: packager/micropython.py,
patch_tls_session).

nginx closes every connection after one request (keepalive_requests 1), so
each file is a new TCP connection, and logs per request its connection
number and $ssl_session_reused ('r': resumed, '.': a full handshake). The
second and later connections to the same host name and port must be
resumed; a connection to another name of the same server must not be
offered the session (nginx would take it: the same server block and
ticket keys); a server refusing resumption (tickets and cache off) still
serves every file, each with a full handshake; one that drops a
connection offering a session (a stand-in) gets the same request again
over a full handshake.
"""

import hashlib
import os
import sys

import pytest

from tests.support import tlsca
from tests.support.servers import ROOT, Netns

pytestmark = [pytest.mark.slow, pytest.mark.servers]

NS = "s390nb-tlsres"
FILES = ("a", "b", "c", "d")
LOG_FORMAT = "$connection $ssl_session_reused $ssl_protocol $request_uri $status"

# Fetch each URL in argv with one HttpFetcher (sessions kept between them);
# print one line per file: its SHA-256 and the TCP connections made so far.
CLIENT = """import sys, hashlib, binascii
from agent.http import HttpFetcher
f = HttpFetcher(timeout=20.0, ca_file=sys.argv[1], retries=0)
for url in sys.argv[2:]:
    data = f.read(url)
    print("got", url, binascii.hexlify(hashlib.sha256(data).digest()).decode(), f.connections)
f.close()
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("tlsres"))
    certs = tlsca.make_certs(os.path.join(d, "certs"))
    root = os.path.join(d, "root")
    os.makedirs(root)
    sha = {}
    for name in FILES:
        data = os.urandom(20000) + name.encode()
        sha[name] = hashlib.sha256(data).hexdigest()
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    ns = Netns(NS)
    # nginx's defaults for resumption (Debian 12, 1.22): ssl_session_tickets on,
    # ssl_session_cache none; only the connection is cut after each request.
    offers = tlsca.Nginx(os.path.join(d, "offers"), certs, root, netns=NS, names=("good",), base_port=8443,
                         log_format=LOG_FORMAT, extra="    keepalive_requests 1;")
    refuses = None
    try:
        refuses = tlsca.Nginx(os.path.join(d, "refuses"), certs, root, netns=NS, names=("good",),
                              base_port=8543, log_format=LOG_FORMAT,
                              extra="    keepalive_requests 1;\n    ssl_session_tickets off;\n"
                                    "    ssl_session_cache off;")
        yield {"certs": certs, "ns": ns, "offers": offers, "refuses": refuses, "sha": sha}
    finally:
        if refuses is not None:
            refuses.stop()
        offers.stop()
        ns.close()


@pytest.fixture(scope="module")
def mpy_x86_64():
    from packager import debian, micropython
    return micropython.build(os.path.join(ROOT, "agent"), debian.cache_root(), "x86_64", "zig")[0]


CLIENTS = ["cpython", pytest.param("micropython", marks=pytest.mark.parts)]


def run_client(lab, client, urls, request):
    """The client's lines, after checking every file arrived whole."""
    python = sys.executable if client == "cpython" else request.getfixturevalue("mpy_x86_64")
    p = lab["ns"].run([python, "-c", CLIENT, os.path.join(lab["certs"], "ca.pem")] + urls, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = [ln.split() for ln in p.stdout.splitlines() if ln.startswith("got ")]
    assert [ln[1] for ln in lines] == urls, p.stdout
    for _, url, digest, _ in lines:
        assert digest == lab["sha"][url.rsplit("/", 1)[1]], "%s arrived changed" % url
    return lines


def server_log(nginx, start):
    """[(connection, reused, protocol, uri)] of the requests logged after byte start."""
    with open(nginx.access_log) as f:
        f.seek(start)
        return [tuple(ln.split()[:4]) for ln in f.read().splitlines()]


def log_size(nginx):
    return os.path.getsize(nginx.access_log) if os.path.exists(nginx.access_log) else 0


@pytest.mark.parametrize("client", CLIENTS)
def test_reconnections_resume_the_session(lab, client, request):
    nginx = lab["offers"]
    start = log_size(nginx)
    urls = [nginx.url("good", name) for name in FILES]
    lines = run_client(lab, client, urls, request)
    assert lines[-1][3] == str(len(FILES)), "connections made: %s, want one per file" % lines[-1][3]
    log = server_log(nginx, start)
    assert len(set(conn for conn, _, _, _ in log)) == len(FILES), log
    got = [reused for _, reused, _, _ in log]
    assert got == ["."] + ["r"] * (len(FILES) - 1), \
        "$ssl_session_reused per connection = %s, want a full handshake then resumed ones (%s)" % (got, log)
    # MicroPython's mbedtls speaks TLS 1.2 (packager/micropython.py); CPython whatever nginx offers.
    if client == "micropython":
        assert set(proto for _, _, proto, _ in log) == {"TLSv1.2"}, log


@pytest.mark.parametrize("client", CLIENTS)
def test_a_session_is_offered_only_to_the_host_name_it_came_from(lab, client, request):
    nginx = lab["offers"]
    start = log_size(nginx)
    urls = [nginx.url("good", "a", "127.0.0.1"), nginx.url("good", "b", "localhost"),
            nginx.url("good", "c", "127.0.0.1"), nginx.url("good", "d", "localhost")]
    run_client(lab, client, urls, request)
    got = [reused for _, reused, _, _ in server_log(nginx, start)]
    # The same nginx server block (and ticket key) answers both names: a session
    # offered to localhost would have been taken.
    assert got == [".", ".", "r", "r"], \
        "$ssl_session_reused for 127.0.0.1, localhost, 127.0.0.1, localhost = %s, want . . r r" % got


@pytest.mark.parametrize("client", CLIENTS)
def test_a_server_refusing_resumption_gets_full_handshakes(lab, client, request):
    nginx = lab["refuses"]
    start = log_size(nginx)
    urls = [nginx.url("good", name) for name in FILES[:3]]
    run_client(lab, client, urls, request)
    log = server_log(nginx, start)
    assert [reused for _, reused, _, _ in log] == ["."] * 3 and len(set(c for c, _, _, _ in log)) == 3, log


# A TLS server (Python's ssl, which issues tickets) that drops every connection
# whose ClientHello offers a session (a non-empty SessionTicket extension, TLS
# 1.2, or a pre_shared_key, TLS 1.3) before answering it: what no real server
# here does, standing for one that fails resumption instead of declining it.
SPOILER = """
import socket, ssl, struct, sys
cert, key, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
body = b"resumed or not" * 100

def offers_session(hello):
    p = 5 + 4 + 2 + 32                       # record, handshake headers, version, random
    p += 1 + hello[p]                         # session id
    p += 2 + struct.unpack(">H", hello[p:p + 2])[0]   # cipher suites
    p += 1 + hello[p]                         # compression methods
    end = p + 2 + struct.unpack(">H", hello[p:p + 2])[0]
    p += 2
    while p + 4 <= end:
        kind, size = struct.unpack(">HH", hello[p:p + 4])
        if (kind == 35 and size) or kind == 41:
            return True
        p += 4 + size
    return False

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(4)
n = 0
while True:
    c, _ = s.accept()
    n += 1
    c.settimeout(10)
    hello = c.recv(16384, socket.MSG_PEEK)
    if offers_session(hello):
        print("connection", n, "offered a session: dropped", flush=True)
        c.close()
        continue
    try:
        t = ctx.wrap_socket(c, server_side=True)
        req = b""
        while b"\\r\\n\\r\\n" not in req:
            req += t.recv(4096)
        t.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\nConnection: close\\r\\n\\r\\n" % len(body) + body)
        t.close()
        print("connection", n, "full handshake", flush=True)
    except (OSError, ssl.SSLError) as e:
        print("connection", n, "error", e, flush=True)
"""


@pytest.mark.parametrize("client", CLIENTS)
def test_a_handshake_failing_with_a_session_offered_is_made_again_without(lab, client, request, tmp_path):
    port = 9445
    log = str(tmp_path / "spoiler.log")
    certs = lab["certs"]
    p = lab["ns"].start([sys.executable, "-c", SPOILER, os.path.join(certs, "good.pem"),
                         os.path.join(certs, "good.key"), str(port)], log=log, wait=0.8)
    want = hashlib.sha256(b"resumed or not" * 100).hexdigest()
    lab["sha"]["spoiled"] = want
    try:
        run_client(lab, client, ["https://127.0.0.1:%d/spoiled" % port] * 2, request)
    finally:
        lab["ns"].stop(p)
    with open(log) as f:
        seen = [ln.split(" ", 2)[2] for ln in f.read().splitlines() if ln.startswith("connection")]
    assert seen == ["full handshake", "offered a session: dropped", "full handshake"], seen
