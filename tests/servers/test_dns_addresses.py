"""Several servers behind one name (issue #25): a host name whose addresses
are 127.0.0.2 (dead: nothing listens there, or a firewall drops everything
sent to it) and 127.0.0.3 (Python's http.server and atftpd), through the
namespace's own /etc/hosts (`ip netns exec` bind-mounts /etc/netns/NAME/hosts).
The agent on CPython (glibc's resolver) and on the image's interpreter built
for x86_64 (static MicroPython on musl, whose getaddrinfo reads /etc/hosts
too and returns every address) connects to the second address and fetches
the file whole; a TFTP request refused by ICMP is asked again after a
backoff until the server is there.
"""

import hashlib
import os
import subprocess
import time

import pytest

from tests.support.servers import PY, ROOT, Netns, agent_fetch

pytestmark = [pytest.mark.slow, pytest.mark.servers]

NS = "s390nb-dns"
HOSTS = "127.0.0.1 localhost\n127.0.0.2 boot.test\n127.0.0.3 boot.test\n"
SIZE = 1 << 20


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    d = tmp_path_factory.mktemp("dns")
    root = d / "root"
    root.mkdir()
    (root / "f").write_bytes(os.urandom(SIZE))
    os.chmod(str(root), 0o755)
    ns = Netns(NS, hosts=HOSTS)
    try:
        ns.start([PY, "-m", "http.server", "--bind", "127.0.0.3", "--directory", str(root), "8080"],
                 log=str(d / "http.log"), wait=1.0)
        ns.start(["atftpd", "--daemon", "--no-fork", "--port", "69", "--bind-address", "127.0.0.3",
                  "--user", "root", "--group", "root", "--logfile", "-", str(root)], log=str(d / "atftpd.log"))
        yield {"ns": ns, "root": root, "dir": d}
    finally:
        ns.close()


@pytest.fixture(scope="module")
def mpy():
    from packager import debian, micropython
    return micropython.build(os.path.join(ROOT, "agent"), debian.cache_root(), "x86_64", "zig")[0]


def interpreter(request, client):
    return request.getfixturevalue("mpy") if client == "micropython" else PY


def firewall(ns, on):
    """Everything sent to 127.0.0.2 dropped on arrival (a dead host: no
    refusal, no answer), or no firewall."""
    ns.run(["nft", "flush", "ruleset"], check=True)
    if on:
        for rule in (["add", "table", "inet", "t"],
                     ["add", "chain", "inet", "t", "c", "{ type filter hook input priority 0; }"],
                     ["add", "rule", "inet", "t", "c", "ip", "daddr", "127.0.0.2", "drop"]):
            ns.run(["nft"] + rule, check=True)


CLIENTS = ["cpython", pytest.param("micropython", marks=pytest.mark.parts)]


@pytest.mark.parametrize("client", CLIENTS)
def test_the_resolver_gives_both_addresses_ipv4_first_once_each(lab, client, request):
    """agent.tftp.resolve_all under each interpreter in the namespace: both
    addresses of /etc/hosts, in its order (a third line repeating the first
    would be dropped: the unit tests check that on the pure ordering)."""
    script = ("import agent.tftp as t, agent.compat as c\n"
              "print(' '.join([c.sockaddr_text(a) for a in t.resolve_all('boot.test', 80, 1)]))\n")
    p = lab["ns"].run([interpreter(request, client), "-c", script], cwd=ROOT, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["127.0.0.2:80", "127.0.0.3:80"], p.stdout


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("dead", ["refused", "silent"])
@pytest.mark.parametrize("scheme", ["http", "tftp"])
def test_a_dead_first_address_gives_way_to_the_next(lab, client, dead, scheme, request, tmp_path):
    """The first address refuses (TCP reset, ICMP port unreachable) or is
    silent (dropped): the fetch goes on to the second and gets the whole
    file; a silent one costs its ADDRESS_S / ANSWER_S (3 s), not the whole
    time-out; the JSON names the address that failed and why."""
    firewall(lab["ns"], dead == "silent")
    out = str(tmp_path / "got")
    url = "http://boot.test:8080/f" if scheme == "http" else "tftp://boot.test/f"
    start = time.monotonic()
    try:
        rc, res, err = agent_fetch(lab["ns"], url, out, python=interpreter(request, client), timeout=120)
    finally:
        firewall(lab["ns"], False)
    seconds = time.monotonic() - start
    assert rc == 0, err
    assert sha(out) == sha(str(lab["root"] / "f"))
    port = 8080 if scheme == "http" else 69
    why = {"refused": "refused" if scheme == "http" else "port unreachable",
           "silent": "no answer within 3 s"}[dead]
    assert res["tried"] == ["127.0.0.2:%d (%s)" % (port, why)], res
    if dead == "silent":
        assert 2.5 < seconds < 9, "fetch %s past a silent address took %.1f s, want about 3" % (url, seconds)
    else:
        assert seconds < 3, "fetch %s past a refusing address took %.1f s, want < 3" % (url, seconds)


def test_every_address_failing_is_one_line_naming_each(lab, tmp_path):
    """Nothing on port 8081 at either address: one line naming both."""
    rc, res, err = agent_fetch(lab["ns"], "http://boot.test:8081/f", str(tmp_path / "got"))
    assert rc == 2 and res is None
    assert err.splitlines() == ["fetch: http://boot.test:8081/f: cannot connect to any of its 2 addresses: "
                                "127.0.0.2:8081 (refused), 127.0.0.3:8081 (refused)"], err
    assert not os.path.exists(str(tmp_path / "got")) and not os.path.exists(str(tmp_path / "got.part"))


@pytest.mark.parametrize("client", CLIENTS)
def test_an_icmp_refusal_is_asked_again_after_a_backoff(lab, client, request, tmp_path):
    """A TFTP server that is not there yet (ICMP port unreachable): the
    request is asked again after a randomised backoff, not waited out for
    the 30 s time-out and not given up, and the file comes once the server
    is up (started 1.5 s after the first request)."""
    ns = lab["ns"]
    out = str(tmp_path / "got")
    argv = ns.argv([interpreter(request, client), "-m", "agent", "fetch", "tftp://127.0.0.4/f", "-o", out, "--json"])
    start = time.monotonic()
    p = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    server = ns.start(["atftpd", "--daemon", "--no-fork", "--port", "69", "--bind-address", "127.0.0.4",
                       "--user", "root", "--group", "root", "--logfile", "-", str(lab["root"])],
                      log=str(tmp_path / "atftpd.log"), wait=0)
    try:
        stdout, stderr = p.communicate(timeout=60)
    finally:
        ns.stop(server)
    seconds = time.monotonic() - start
    assert p.returncode == 0, stderr
    assert sha(out) == sha(str(lab["root"] / "f"))
    import json
    tried = json.loads(stdout.splitlines()[-1])["tried"]
    assert tried and set(tried) == {"127.0.0.4:69 (port unreachable)"}, tried
    assert 1.5 < seconds < 25, seconds
