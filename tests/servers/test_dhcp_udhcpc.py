"""The udhcpc hook, run by real busybox udhcpc against dnsmasq across a veth
pair between two network namespaces."""

import json
import os
import subprocess
import sys

import pytest

from agent import dhcp, lease as leases
from tests.support.servers import Netns, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.servers]


@pytest.fixture
def pair(tmp_path):
    server = Netns("nbdhs%d" % os.getpid())
    client = Netns("nbdhc%d" % os.getpid())
    subprocess.run(["ip", "link", "add", "nbvs", "type", "veth", "peer", "name", "nbvc"], check=True)
    subprocess.run(["ip", "link", "set", "nbvs", "netns", server.name], check=True)
    subprocess.run(["ip", "link", "set", "nbvc", "netns", client.name], check=True)
    server.run(["ip", "addr", "add", "192.0.2.1/24", "dev", "nbvs"], check=True)
    server.run(["ip", "link", "set", "nbvs", "up"], check=True)
    client.run(["ip", "link", "set", "nbvc", "up"], check=True)
    yield server, client
    client.close()
    server.close()


def hook_script(tmp_path):
    """The agent's hook under CPython (the image runs the same code under MicroPython)."""
    path = tmp_path / "hook"
    path.write_text("#!%s\nimport sys\nsys.path.insert(0, %r)\nfrom agent import dhcp\n"
                    "sys.exit(dhcp.hook())\n" % (sys.executable, ROOT))
    path.chmod(0o755)
    return str(path)


def dnsmasq(server, tmp_path, *extra):
    argv = ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--interface=nbvs",
            "--bind-interfaces", "--dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,1h",
            "--dhcp-leasefile=" + str(tmp_path / "leases"), "--log-dhcp", "--log-facility=-",
            "--pid-file=" + str(tmp_path / "pid"),
            "--dhcp-match=set:s390,option:client-arch,31"] + list(extra)
    server.start(argv, log=str(tmp_path / "dnsmasq.log"))


def run_udhcpc(client, tmp_path):
    env = dict(os.environ, NETBOOT_LEASE_DIR=str(tmp_path / "run"),
               NETBOOT_RESOLV_CONF=str(tmp_path / "resolv.conf"))
    argv = ["busybox"] + dhcp.udhcpc_argv("nbvc", hook=hook_script(tmp_path))[:]
    argv = ["busybox"] + argv[1:]
    return client.run(argv, env=env, timeout=60)


def test_lease_recorded_and_interface_configured(pair, tmp_path):
    server, client = pair
    dnsmasq(server, tmp_path, "--dhcp-boot=tag:s390,s390x/pxelinux.0,,192.0.2.9",
            "--dhcp-option=tag:s390,209,pxelinux.cfg/special",
            "--dhcp-option=tag:s390,210,http://192.0.2.1:8080/s390/",
            "--dhcp-option=211,30i", "--dhcp-option=66,192.0.2.1",
            "--dhcp-option=option:domain-name,example.test",
            "--dhcp-option=option:dns-server,192.0.2.53,192.0.2.54")
    # An IPv6 address (the agent asks DHCPv6 at the same time) survives the
    # hook's deconfig and bound: it flushes IPv4 only.
    client.run(["ip", "-6", "addr", "add", "2001:db8::5/64", "dev", "nbvc", "nodad"], check=True)
    p = run_udhcpc(client, tmp_path)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "run" / "lease-nbvc.json").exists(), p.stdout + p.stderr
    assert "2001:db8::5/64" in client.run(["ip", "-6", "addr", "show", "dev", "nbvc"]).stdout
    with open(str(tmp_path / "run" / "lease-nbvc.json")) as f:
        lease = json.load(f)
    mac = client.run(["cat", "/sys/class/net/nbvc/address"]).stdout.strip()
    want = {"interface": "nbvc", "netmask": "255.255.255.0", "prefix": 24, "broadcast": "192.0.2.255",
            "router": "192.0.2.1", "dns": ["192.0.2.53", "192.0.2.54"], "domain": "example.test",
            "server_id": "192.0.2.1", "siaddr": "192.0.2.9", "opt66": "192.0.2.1",
            "opt67": "s390x/pxelinux.0", "opt209": "pxelinux.cfg/special",
            "opt210": "http://192.0.2.1:8080/s390/", "opt211": 30, "mac": mac}
    for k, v in want.items():
        assert lease[k] == v, "lease[%r] = %r, want %r" % (k, lease[k], v)
    assert lease["ip"].startswith("192.0.2.1")
    # siaddr (next-server) wins over option 66, as in PXELINUX's parse_dhcp.
    assert leases.boot_server(lease) == "192.0.2.9" and leases.bootfile(lease) == "s390x/pxelinux.0"
    addr = client.run(["ip", "-4", "addr", "show", "dev", "nbvc"]).stdout
    assert "inet %s/24 brd 192.0.2.255" % lease["ip"] in addr, addr
    route = client.run(["ip", "route", "show", "default"]).stdout
    assert "default via 192.0.2.1 dev nbvc" in route, route
    assert (tmp_path / "resolv.conf").read_text() == \
        "search example.test\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n"
    log = (tmp_path / "dnsmasq.log").read_text()
    assert "vendor class: PXEClient:Arch:00031:UNDI:003016" in log and "tags: s390" in log


def test_boot_server_is_siaddr_then_server_id_then_option_66(pair, tmp_path):
    server, client = pair
    dnsmasq(server, tmp_path, "--dhcp-boot=pxelinux.0")
    p = run_udhcpc(client, tmp_path)
    assert p.returncode == 0, p.stderr
    with open(str(tmp_path / "run" / "lease-nbvc.json")) as f:
        lease = json.load(f)
    assert lease["opt66"] is None and lease["siaddr"] == "192.0.2.1"
    assert leases.boot_server(lease) == "192.0.2.1"
    assert leases.boot_server(dict(lease, siaddr=None)) == "192.0.2.1"  # server identifier
    assert leases.boot_server(dict(lease, siaddr=None, server_id=None, opt66="192.0.2.7")) == "192.0.2.7"
    with pytest.raises(leases.LeaseError, match="names no boot server"):
        leases.boot_server(dict(lease, siaddr=None, server_id=None))


def test_deconfig_undoes_the_address(pair, tmp_path):
    server, client = pair
    client.run(["ip", "addr", "add", "198.51.100.7/24", "dev", "nbvc"], check=True)
    env = dict(os.environ, interface="nbvc")
    p = client.run([hook_script(tmp_path), "deconfig"], env=env)
    assert p.returncode == 0, p.stderr
    assert "inet " not in client.run(["ip", "-4", "addr", "show", "dev", "nbvc"]).stdout


def test_no_server_means_no_lease(pair, tmp_path):
    server, client = pair
    p = run_udhcpc(client, tmp_path)
    assert p.returncode != 0
    assert not (tmp_path / "run" / "lease-nbvc.json").exists()
