"""https:// against Debian's nginx with certificates from a test CA (tests/support/tlsca.py),
in a network namespace of its own: the agent on CPython and the frozen s390x
agent under qemu-s390x-static fetch with the CA, and refuse another CA, a
self-signed man in the middle, a wrong host name, an expired certificate and
a redirect to http://; what arrives is checked byte for byte (SHA-256). A
small TLS server that cuts the connection mid-body checks the retry.
"""

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.support import tlsca
from tests.support.servers import ROOT, Netns

pytestmark = [pytest.mark.slow, pytest.mark.servers]

NS = "s390nb-https"
KERNEL_SIZE = 3 << 20
CONFIG = "DEFAULT linux\nLABEL linux\n  KERNEL kernel\n  INITRD initrd\n"

MPY_SCRIPT = "import sys, agent.cli\nprint('rc', agent.cli.run(sys.argv[1:]))\n"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("https"))
    certs = tlsca.make_certs(os.path.join(d, "certs"))
    root = os.path.join(d, "root")
    os.makedirs(os.path.join(root, "pxelinux.cfg"))
    files = {"kernel": os.urandom(KERNEL_SIZE), "initrd": os.urandom(200000) + b"x",
             "pxelinux.cfg/default": CONFIG.encode()}
    for name, data in files.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    ns = Netns(NS)
    nginx = tlsca.Nginx(os.path.join(d, "nginx"), certs, root, netns=NS)
    try:
        yield {"dir": d, "certs": certs, "ns": ns, "nginx": nginx,
               "sha": dict((k, hashlib.sha256(v).hexdigest()) for k, v in files.items())}
    finally:
        nginx.stop()
        ns.close()


@pytest.fixture(scope="module")
def mpy_s390x():
    from packager import debian, micropython
    path, version = micropython.build(os.path.join(ROOT, "agent"), debian.cache_root(), "s390x", "zig")
    return path


def run_agent(lab, client, args, mpy=None):
    """(returncode, stdout, stderr) of `agent ARGS` in the namespace."""
    if client == "cpython":
        argv = [sys.executable, "-m", "agent"] + args
    else:
        argv = ["qemu-s390x-static", mpy, "-c", MPY_SCRIPT] + args
    p = lab["ns"].run(argv, cwd=ROOT, timeout=180)
    rc = p.returncode
    if client != "cpython":
        rc = int(p.stdout.strip().splitlines()[-1].split()[1]) if p.stdout.strip().startswith("rc") or \
            "\nrc " in p.stdout else rc
    return rc, p.stdout, p.stderr


def fetch(lab, client, url, out, ca, mpy=None, *more):
    args = ["fetch", url, "-o", out, "--json", "--timeout", "20"] + list(more)
    if ca:
        args += ["--ca-certs", os.path.join(lab["certs"], ca + ".pem")]
    return run_agent(lab, client, args, mpy)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# (server certificate, host in the URL, CA the client trusts, what stderr must say; None: fetched)
CASES = [
    ("good", "127.0.0.1", "ca", None),
    ("good", "localhost", "ca", None),
    ("good", "127.0.0.1", "other-ca", "127.0.0.1's certificate is not signed by a CA in"),
    ("mitm", "localhost", "ca", "localhost's certificate is not signed by a CA in"),
    ("wrong-name", "127.0.0.1", "ca", "127.0.0.1's certificate is for another host name"),
    ("expired", "127.0.0.1", "ca", "127.0.0.1's certificate has expired (the clock reads"),
]
CLIENTS = ["cpython", pytest.param("frozen-s390x", marks=pytest.mark.parts)]


@pytest.mark.parametrize("client", CLIENTS)
def test_trust_rules(lab, client, request, tmp_path):
    mpy = request.getfixturevalue("mpy_s390x") if client != "cpython" else None
    failures = []
    for cert, host, ca, want in CASES:
        out = str(tmp_path / ("%s-%s-%s" % (cert, host, ca)))
        url = lab["nginx"].url(cert, "kernel", host)
        rc, stdout, stderr = fetch(lab, client, url, out, ca, mpy)
        if want is None:
            got = sha(out) if os.path.exists(out) else "nothing"
            if rc != 0 or got != lab["sha"]["kernel"]:
                failures.append("%s %s with %s: rc %s, sha256 %s, want 0 and %s (%s)"
                                % (cert, host, ca, rc, got, lab["sha"]["kernel"], stderr.strip()))
            else:
                result = json.loads([ln for ln in stdout.splitlines() if ln.startswith("{")][0])
                assert result["size"] == KERNEL_SIZE
        else:
            lines = [ln for ln in stderr.splitlines() if ln.strip()]
            if rc != 2 or len(lines) != 1 or want not in lines[0] or url not in lines[0]:
                failures.append("%s %s with %s: rc %s, stderr %r, want 2 and one line with %r"
                                % (cert, host, ca, rc, stderr, want))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("client", CLIENTS)
def test_redirect_to_http_and_missing_trust_store_are_refused(lab, client, request, tmp_path):
    mpy = request.getfixturevalue("mpy_s390x") if client != "cpython" else None
    rc, out, err = fetch(lab, client, lab["nginx"].url("good", "to-http"), str(tmp_path / "a"), "ca", mpy)
    assert rc == 2 and "redirected from https:// to http://" in err and "refused" in err, err
    rc, out, err = fetch(lab, client, lab["nginx"].url("good", "kernel"), str(tmp_path / "b"), None, mpy,
                         "--ca-certs", str(tmp_path / "none.pem"))
    assert rc == 2 and "no trust store (%s is missing)" % (tmp_path / "none.pem") in err, err
    assert not os.path.exists(str(tmp_path / "b")) or os.path.getsize(str(tmp_path / "b")) == 0


def test_plan_over_https_and_https_only(lab, tmp_path):
    """`plan --server` with option 210 https://: the config comes over TLS; with
    --https-only an http:// prefix is refused with one line."""
    ca = os.path.join(lab["certs"], "ca.pem")
    base = "https://127.0.0.1:%d/" % lab["nginx"].ports["good"]
    rc, out, err = run_agent(lab, "cpython", ["plan", "--server", "127.0.0.1", "--opt210", base,
                                              "--mac", "52:54:00:12:34:56", "--ca-certs", ca, "--https-only",
                                              "--json"])
    assert rc == 0, err
    plan = json.loads(out)
    assert plan["config"] == base + "pxelinux.cfg/default" and plan["kernel"] == base + "kernel", plan
    http = "http://127.0.0.1:%d/" % lab["nginx"].http_port
    rc, out, err = run_agent(lab, "cpython", ["plan", "--server", "127.0.0.1", "--opt210", http,
                                              "--mac", "52:54:00:12:34:56", "--https-only"])
    assert rc == 2 and "refused: pxe.https-only allows only https:// names" in err, err
    rc, out, err = run_agent(lab, "cpython", ["plan", "--server", "127.0.0.1", "--opt210", base,
                                              "--mac", "52:54:00:12:34:56", "--ca-certs",
                                              os.path.join(lab["certs"], "other-ca.pem")])
    assert rc == 2 and "127.0.0.1's certificate is not signed by a CA" in err, err


CUT_SERVER = textwrap.dedent("""
    import socket, ssl, sys
    cert, key, port, mode, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    body = bytes(range(256)) * (size // 256)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(4)
    n = 0
    while True:
        c, _ = s.accept()
        n += 1
        print("connection", n, flush=True)
        try:
            t = ctx.wrap_socket(c, server_side=True)
            req = b""
            while b"\\r\\n\\r\\n" not in req:
                d = t.recv(4096)
                if not d:
                    break
                req += d
            t.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body))
            if mode == "always" or n == 1:
                t.sendall(body[:len(body) // 2])
                t.shutdown(socket.SHUT_RDWR)   # cut: no close_notify, no more bytes
            else:
                t.sendall(body)
            t.close()
        except (OSError, ssl.SSLError) as e:
            print("error", e, flush=True)
""")


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("mode", ["once", "always"])
def test_connection_cut_mid_body(lab, client, mode, request, tmp_path):
    """Cut once: the retry fetches it whole (byte-exact). Cut every time: one
    line saying how many bytes came, after the retries, and exit 2."""
    mpy = request.getfixturevalue("mpy_s390x") if client != "cpython" else None
    size = 1 << 20
    port = 9443 if mode == "once" else 9444
    log = str(tmp_path / "cut.log")
    certs = lab["certs"]
    p = lab["ns"].start([sys.executable, "-c", CUT_SERVER, os.path.join(certs, "good.pem"),
                         os.path.join(certs, "good.key"), str(port), mode, str(size)], log=log, wait=0.8)
    try:
        out = str(tmp_path / "got")
        rc, stdout, stderr = fetch(lab, client, "https://127.0.0.1:%d/f" % port, out, "ca", mpy)
    finally:
        lab["ns"].stop(p)
    with open(log) as f:
        conns = f.read().count("connection")
    if mode == "once":
        assert rc == 0, stderr
        assert sha(out) == hashlib.sha256(bytes(range(256)) * (size // 256)).hexdigest()
        assert conns == 2
    else:
        lines = [ln for ln in stderr.splitlines() if ln.strip()]
        assert rc == 2 and len(lines) == 1 and "of %d bytes" % size in lines[0], stderr
        assert conns == 4   # the first try and RETRIES (3) more
