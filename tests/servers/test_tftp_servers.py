"""The agent's TFTP client against real servers (atftpd, tftpd-hpa, dnsmasq,
tftpy), directly and through a relay that drops, duplicates and reorders."""

import hashlib
import json
import os

import pytest

from tests.support.servers import Netns, PY, ROOT, SERVERS, agent_fetch, start_tftp

pytestmark = [pytest.mark.slow, pytest.mark.servers]


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("tftproot")
    rnd = __import__("random").Random(7)
    sizes = {"empty": 0, "small": 100, "exact": 1468 * 3, "three-mib": 3 << 20, "one-mib": 1 << 20,
             "quarter-mib": 1 << 18, "64k": 1 << 16}
    for name, size in sizes.items():
        (root / name).write_bytes(bytes(rnd.getrandbits(8) for _ in range(min(size, 4096))) * (size // 4096)
                                  + bytes(rnd.getrandbits(8) for _ in range(size % 4096)))
    os.chmod(str(root), 0o755)
    return root


@pytest.fixture
def ns(request):
    n = Netns("nbtftp%d" % os.getpid())
    yield n
    n.close()


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("options,want", [
    ((), None),
    (("--blksize", "1468"), 1468),
    (("--blksize", "512", "--windowsize", "1"), 512),
    (("--no-options",), 512),
])
def test_every_server_every_size(server, options, want, files, ns, tmp_path):
    start_tftp(ns, server, str(files), str(tmp_path))
    for name in ("empty", "small", "exact", "three-mib"):
        out = str(tmp_path / ("got-" + name))
        rc, res, err = agent_fetch(ns, "tftp://127.0.0.1/" + name, out, *options)
        assert rc == 0, "%s %s %s: %s" % (server, options, name, err)
        assert sha(out) == sha(str(files / name)), (server, options, name)
        assert res["size"] == os.path.getsize(str(files / name))
        if want is not None:
            assert res["blksize"] == want, res
    if server == "atftpd" and options == ("--blksize", "1468"):
        assert res["windowsize"] == 16, res
    if not options:
        # 64 KiB blocks: one per window, so a window always fits the receive buffer
        assert res["windowsize"] == 1, res
    if server in ("tftpd-hpa", "dnsmasq"):
        assert res["windowsize"] == 1  # they do not implement RFC 7440
    if not options:
        # loopback's MTU is 65536: the largest block RFC 2348 allows
        assert res["blksize"] in (65464, 512 if server == "tftpy" else 65464) or server == "dnsmasq", res


@pytest.mark.parametrize("server", SERVERS)
def test_missing_file_is_not_found(server, files, ns, tmp_path):
    start_tftp(ns, server, str(files), str(tmp_path))
    rc, res, err = agent_fetch(ns, "tftp://127.0.0.1/no/such/file", str(tmp_path / "x"))
    assert rc == 2 and "not found" in err.lower(), err


def test_dead_server_gives_up_in_bounded_time(ns, tmp_path):
    """A socket that never answers: the request is resent until the time-out."""
    import time
    silent = ns.start([PY, "-c", "import socket, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                       "s.bind(('127.0.0.1', 6999))\ntime.sleep(120)\n"])
    t = time.monotonic()
    try:
        rc, res, err = agent_fetch(ns, "tftp://127.0.0.1:6999/x", str(tmp_path / "x"), "--timeout", "3")
    finally:
        ns.stop(silent)
    took = time.monotonic() - t
    assert rc == 2 and "no answer from 127.0.0.1:6999 for 3 s" in err, err
    assert took < 15, took


def test_no_server_on_the_port_is_asked_again_then_given_up(ns, tmp_path):
    """Nothing on the port (ICMP port unreachable): asked again after 1, 2, 4
    and 8 s of backoff (each spread over half to one and a half), then one line."""
    import time
    t = time.monotonic()
    rc, res, err = agent_fetch(ns, "tftp://127.0.0.1:6999/x", str(tmp_path / "x"), "--timeout", "3")
    took = time.monotonic() - t
    assert rc == 2 and err.splitlines() == ["fetch: tftp://127.0.0.1:6999/x: 127.0.0.1:6999: port unreachable"], err
    assert 7 < took < 25, took


def relay(ns, tmp_path, **kw):
    argv = [PY, os.path.join(ROOT, "tests", "support", "udp_relay.py"), "7000", "69",
            "--stats", str(tmp_path / "relay.json")]
    for k, v in kw.items():
        argv += ["--" + k.replace("_", "-"), str(v)]
    return ns.start(argv, log=str(tmp_path / "relay.log"))


@pytest.mark.parametrize("server,loss,name", [
    ("atftpd", 0.05, "three-mib"),
    ("atftpd", 0.20, "one-mib"),
    ("tftpd-hpa", 0.05, "quarter-mib"),
    ("dnsmasq", 0.05, "quarter-mib"),
])
def test_lossy_link(server, loss, name, files, ns, tmp_path):
    """Drops, duplicates and reordering (seeded): the transfer completes with the right SHA-256."""
    start_tftp(ns, server, str(files), str(tmp_path))
    r = relay(ns, tmp_path, drop=loss, dup=0.02, reorder=0.02, seed=11)
    out = str(tmp_path / "got")
    rc, res, err = agent_fetch(ns, "tftp://127.0.0.1:7000/" + name, out, "--blksize", "1468")
    ns.stop(r)
    assert rc == 0, err
    assert sha(out) == sha(str(files / name))
    with open(str(tmp_path / "relay.json")) as f:
        stats = json.load(f)
    assert stats["dropped"] > 0 and stats["duplicated"] > 0, stats


@pytest.fixture(scope="module")
def mpy():
    from packager import debian, micropython
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return micropython.build(os.path.join(root, "agent"), debian.cache_root(), "x86_64", "zig")[0]


@pytest.mark.parametrize("server,loss,name", [
    ("atftpd", 0.05, "one-mib"),       # windowsize 16
    ("dnsmasq", 0.05, "64k"),          # lock-step (dnsmasq answers a loss after about 1 s)
])
@pytest.mark.parametrize("c_loop", ["1", "0"])
@pytest.mark.parts
def test_micropython_with_and_without_the_c_loop(server, loss, name, c_loop, mpy, files, ns, tmp_path):
    """The image's interpreter (x86_64 build): with tftprx (the C receive
    loop) and without it (NETBOOT_TFTP_C=0, the Python loop), through drops,
    duplicates and reordering: the same file, and the C loop took blocks
    only when it is on."""
    start_tftp(ns, server, str(files), str(tmp_path))
    r = relay(ns, tmp_path, drop=loss, dup=0.05, reorder=0.02, seed=5)
    out = str(tmp_path / "got")
    rc, res, err = agent_fetch(ns, "tftp://127.0.0.1:7000/" + name, out, "--blksize", "1468",
                               python=mpy, env=["NETBOOT_TFTP_C=" + c_loop])
    ns.stop(r)
    assert rc == 0, err
    assert sha(out) == sha(str(files / name))
    blocks = os.path.getsize(str(files / name)) // 1468 + 1
    if c_loop == "1":
        assert blocks // 2 < res["c_blocks"] < blocks, res
    else:
        assert res["c_blocks"] == 0, res
    with open(str(tmp_path / "relay.json")) as f:
        stats = json.load(f)
    assert stats["dropped"] > 0 and stats["duplicated"] > 0, stats


def test_duplicates_are_not_amplified(files, ns, tmp_path):
    """Every packet duplicated: the client sends no more packets than without duplicates
    (plus a few retransmissions), so no Sorcerer's Apprentice cascade starts."""
    start_tftp(ns, "atftpd", str(files), str(tmp_path))
    r = relay(ns, tmp_path, dup=1.0, seed=3)
    out = str(tmp_path / "got")
    rc, res, err = agent_fetch(ns, "tftp://127.0.0.1:7000/one-mib", out, "--blksize", "1468")
    ns.stop(r)
    assert rc == 0 and sha(out) == sha(str(files / "one-mib")), err
    with open(str(tmp_path / "relay.json")) as f:
        stats = json.load(f)
    blocks = (1 << 20) // 1468 + 1
    windows = blocks // 16 + 2
    assert stats["to_server"] <= windows + 10, (stats, windows, res, err)
    assert res["duplicates"] >= blocks - 5, res


@pytest.mark.parametrize("server", ["atftpd", "dnsmasq"])
def test_plan_against_a_live_server(server, ns, tmp_path):
    """`plan --server`: the search goes over TFTP; missing names are "not found", not errors."""
    root = tmp_path / "root"
    (root / "s390x" / "pxelinux.cfg").mkdir(parents=True)
    (root / "s390x" / "pxelinux.cfg" / "C000020").write_text(
        "DEFAULT a\nINCLUDE extra.cfg\nLABEL a\n KERNEL linux\n INITRD initrd.gz\n")
    (root / "s390x" / "extra.cfg").write_text("IPAPPEND 1\n")
    os.chmod(str(tmp_path), 0o755)
    start_tftp(ns, server, str(root), str(tmp_path))
    p = ns.run([PY, "-m", "agent", "plan", "--server", "127.0.0.1", "--mac", "52:54:00:12:34:56",
                "--ip", "192.0.2.10", "--netmask", "255.255.255.0", "--gateway", "192.0.2.1",
                "--bootfile", "s390x/pxelinux.0", "--json"], cwd=ROOT)
    assert p.returncode == 0, p.stderr
    plan = json.loads(p.stdout)
    assert plan["tried"] == ["s390x/pxelinux.cfg/01-52-54-00-12-34-56", "s390x/pxelinux.cfg/C000020A",
                             "s390x/pxelinux.cfg/C000020"]
    assert plan["kernel"] == "s390x/linux" and plan["initrd"] == ["s390x/initrd.gz"]
    assert plan["cmdline"] == "BOOT_IMAGE=linux initrd=initrd.gz ip=192.0.2.10:127.0.0.1:192.0.2.1:255.255.255.0"
