"""TFTP and HTTP over IPv6 with `python -m agent fetch`: dnsmasq on ::1
through the loss relay (atftpd 0.8.0 listens on IPv4 only), and tftpd-hpa (tests/support/udp_relay.py --host ::1), and a link-local
server named with its zone (tftp://[fe80::...%25IF]/, http://[fe80::...%25IF]:PORT/)."""

import hashlib
import json
import os
import time

import pytest

from tests.support.servers import PY, ROOT, Netns, agent_fetch, start_tftp, tftpd_hpa

pytestmark = [pytest.mark.slow, pytest.mark.servers]


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("tftproot6")
    data = os.urandom(1 << 20)
    (root / "one-mib").write_bytes(data)
    (root / "quarter-mib").write_bytes(data[:1 << 18])
    (root / "small").write_bytes(data[:5000])
    os.chmod(str(root), 0o755)
    return root


@pytest.fixture
def ns():
    n = Netns("nbtftp6%d" % os.getpid())
    yield n
    n.close()


def relay6(ns, tmp_path, **kw):
    argv = [PY, os.path.join(ROOT, "tests", "support", "udp_relay.py"), "7000", "69", "--host", "::1",
            "--stats", str(tmp_path / "relay.json")]
    for k, v in kw.items():
        argv += ["--" + k.replace("_", "-"), str(v)]
    return ns.start(argv, log=str(tmp_path / "relay.log"))


def test_lossy_ipv6_link(files, ns, tmp_path):
    """Drops, duplicates and reordering over IPv6: the file arrives whole."""
    start_tftp(ns, "dnsmasq", str(files), str(tmp_path))
    r = relay6(ns, tmp_path, drop=0.05, dup=0.02, reorder=0.02, seed=5)
    out = str(tmp_path / "got")
    rc, res, err = agent_fetch(ns, "tftp://[::1]:7000/quarter-mib", out, "--blksize", "1448")
    ns.stop(r)
    assert rc == 0, err
    assert sha(out) == sha(str(files / "quarter-mib"))
    assert res["blksize"] == 1448 and res["tsize"] == 1 << 18, res
    with open(str(tmp_path / "relay.json")) as f:
        stats = json.load(f)
    assert stats["dropped"] > 0 and stats["duplicated"] > 0, stats


def _link_local(ns, dev):
    end = time.monotonic() + 10
    while time.monotonic() < end:
        out = ns.run(["ip", "-6", "-o", "addr", "show", "dev", dev, "scope", "link"]).stdout
        if out and "tentative" not in out:
            return out.split()[3].split("/")[0]
        time.sleep(0.1)
    raise AssertionError("no link-local address on %s" % dev)


def test_link_local_server_with_zone(files, ns, tmp_path):
    """tftp:// and http:// to a server's link-local address with the client's
    zone, over a veth pair between two namespaces; the MTU-derived block size
    on a 1500-byte IPv6 link is 1448 (MTU - 40 - 8 - 4)."""
    srv = Netns("nbll6%d" % os.getpid())
    try:
        ns.run(["ip", "link", "add", "nbll0", "type", "veth", "peer", "name", "nbll1"], check=True)
        ns.run(["ip", "link", "set", "nbll1", "netns", srv.name], check=True)
        ns.run(["ip", "link", "set", "nbll0", "up"], check=True)
        srv.run(["ip", "link", "set", "nbll1", "up"], check=True)
        ll = _link_local(srv, "nbll1")
        _link_local(ns, "nbll0")
        # tftpd-hpa on every IPv6 address (dnsmasq 2.90 does not answer TFTP
        # requests from a link-local address).
        srv.start([tftpd_hpa(), "-L", "-6", "-u", "root", "-s", str(files)],
                  log=str(tmp_path / "tftpd.log"), wait=0.5)
        srv.start([PY, "-c", "import http.server as h, socket, functools\n"
                   "class S(h.ThreadingHTTPServer): address_family = socket.AF_INET6\n"
                   "S(('::', 8080), functools.partial(h.SimpleHTTPRequestHandler, directory=%r)).serve_forever()"
                   % str(files)], log=str(tmp_path / "http.log"), wait=0.8)
        out = str(tmp_path / "got")
        rc, res, err = agent_fetch(ns, "tftp://[%s%%25nbll0]/small" % ll, out)
        assert rc == 0, err
        assert sha(out) == sha(str(files / "small")) and res["blksize"] == 1448, res
        rc, res, err = agent_fetch(ns, "http://[%s%%25nbll0]:8080/one-mib" % ll, out)
        assert rc == 0, err
        assert sha(out) == sha(str(files / "one-mib")), res
        # Without brackets an IPv6 URL is refused with a line saying so.
        rc, res, err = agent_fetch(ns, "tftp://%s/small" % ll, out)
        assert rc == 2 and "needs brackets" in err, err
    finally:
        srv.close()


def test_plan_against_an_ipv6_server(ns, tmp_path):
    """`plan --server [::1] --ip 2001:db8::5`: the search goes over TFTP/IPv6,
    tries no hex-IP names, and IPAPPEND 1 adds nothing (BOOTIF still does)."""
    root = tmp_path / "root"
    (root / "s390x" / "pxelinux.cfg").mkdir(parents=True)
    (root / "s390x" / "pxelinux.cfg" / "default").write_text(
        "DEFAULT a\nIPAPPEND 3\nLABEL a\n KERNEL linux\n INITRD initrd.gz\n")
    os.chmod(str(tmp_path), 0o755)
    start_tftp(ns, "dnsmasq", str(root), str(tmp_path))
    p = ns.run([PY, "-m", "agent", "plan", "--server", "[::1]", "--mac", "52:54:00:12:34:56",
                "--ip", "2001:db8::5", "--bootfile", "s390x/pxelinux.0", "--json"],
               cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert p.returncode == 0, p.stderr
    plan = json.loads(p.stdout)
    assert plan["tried"] == ["s390x/pxelinux.cfg/01-52-54-00-12-34-56", "s390x/pxelinux.cfg/default"], plan
    assert plan["kernel"] == "s390x/linux"
    assert plan["cmdline"] == "BOOT_IMAGE=linux initrd=initrd.gz BOOTIF=01-52-54-00-12-34-56"
