"""The agent's own DHCPv6 client (agent.dhcp6) against real dnsmasq (DHCPv6
and router advertisements) across a veth pair between two network
namespaces. Debian's busybox has no udhcpc6, so the agent speaks DHCPv6
itself (docs/reference.md, "IPv6"); the IPv4 side is tests/servers/test_dhcp_udhcpc.py."""

import json
import os
import subprocess
import sys
import time

import pytest

from tests.support.servers import Netns, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.servers]
SERVER6 = "2001:db8:6::1"
URL = "tftp://[%s]/s390x/pxelinux.0" % SERVER6


@pytest.fixture
def pair(tmp_path):
    server = Netns("nbd6s%d" % os.getpid())
    client = Netns("nbd6c%d" % os.getpid())
    subprocess.run(["ip", "link", "add", "nbv6s", "type", "veth", "peer", "name", "nbv6c"], check=True)
    subprocess.run(["ip", "link", "set", "nbv6s", "netns", server.name], check=True)
    subprocess.run(["ip", "link", "set", "nbv6c", "netns", client.name], check=True)
    server.run(["ip", "-6", "addr", "add", SERVER6 + "/64", "dev", "nbv6s", "nodad"], check=True)
    server.run(["ip", "link", "set", "nbv6s", "up"], check=True)
    client.run(["ip", "link", "set", "nbv6c", "up"], check=True)
    yield server, client
    client.close()
    server.close()


def dnsmasq(server, tmp_path, *extra):
    argv = ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--interface=nbv6s",
            "--bind-interfaces", "--enable-ra", "--log-dhcp", "--log-facility=-",
            "--dhcp-leasefile=" + str(tmp_path / "leases"), "--pid-file=" + str(tmp_path / "pid"),
            "--dhcp-option=option6:bootfile-url," + URL] + list(extra)
    server.start(argv, log=str(tmp_path / "dnsmasq.log"))


CLIENT = """
import json, sys
sys.path.insert(0, %r)
from agent import dhcp6
mac = open("/sys/class/net/nbv6c/address").read().strip()
lease = dhcp6.obtain("nbv6c", mac)
if lease is not None:
    lease = dhcp6.configure(lease)
print(json.dumps(lease))
"""


def run_client(client, tmp_path):
    env = dict(os.environ, NETBOOT_LEASE_DIR=str(tmp_path / "run"),
               NETBOOT_RESOLV_CONF=str(tmp_path / "resolv.conf"))
    start = time.monotonic()
    p = client.run([sys.executable, "-c", CLIENT % ROOT], env=env, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1]), time.monotonic() - start


def test_stateful_lease_with_bootfile_url(pair, tmp_path):
    server, client = pair
    dnsmasq(server, tmp_path, "--dhcp-range=2001:db8:6::100,2001:db8:6::1ff,64,1h",
            "--dhcp-option=option6:bootfile-param,pxelinux.configfile=pxelinux.cfg/s390",
            "--dhcp-option=option6:dns-server,[2001:db8:6::53]",
            "--dhcp-option=option6:domain-search,example.test",
            "--dhcp-match=set:s390,option6:61,00:1f")
    lease, secs = run_client(client, tmp_path)
    log = (tmp_path / "dnsmasq.log").read_text()
    assert lease is not None, log
    assert lease["mode"] == "stateful" and lease["ip6"].startswith("2001:db8:6::1"), lease
    assert lease["bootfile_url"] == URL
    assert lease["bootfile_param"] == ["pxelinux.configfile=pxelinux.cfg/s390"]
    assert lease["opt209"] == "pxelinux.cfg/s390"
    assert lease["dns"] == ["2001:db8:6::53"] and lease["domain"] == "example.test"
    mac = client.run(["cat", "/sys/class/net/nbv6c/address"]).stdout.strip()
    assert lease["duid"] == "00030001" + mac.replace(":", ""), lease["duid"]
    # The address is on the interface, past DAD, and the server answers from it.
    addrs = client.run(["ip", "-6", "addr", "show", "dev", "nbv6c"]).stdout
    assert lease["ip6"] + "/128" in addrs and "tentative" not in addrs.split(lease["ip6"])[1].split("\n")[0]
    assert client.run(["busybox", "ping", "-6", "-c", "1", "-W", "3", SERVER6]).returncode == 0
    with open(str(tmp_path / "run" / "lease6-nbv6c.json")) as f:
        assert json.load(f) == lease
    assert (tmp_path / "resolv.conf").read_text() == "search example.test\nnameserver 2001:db8:6::53\n"
    # The client announced itself as s390 (RFC 5970 client architecture 31).
    assert "DHCPREPLY(nbv6s) " + lease["ip6"] in log, log
    assert "tags: s390, dhcpv6" in log or "tags: dhcpv6, s390" in log, log
    print("stateful DHCPv6 lease in %.2f s" % secs)
    assert secs < 8, secs


def test_stateless_answer_with_slaac_address(pair, tmp_path):
    server, client = pair
    dnsmasq(server, tmp_path, "--dhcp-range=2001:db8:6::,ra-stateless,64")
    lease, secs = run_client(client, tmp_path)
    assert lease is not None, (tmp_path / "dnsmasq.log").read_text()
    assert lease["mode"] == "stateless" and lease["bootfile_url"] == URL, lease
    # The kernel's SLAAC address from the router advertisement (EUI-64 of the MAC).
    assert lease["ip6"] and lease["ip6"].startswith("2001:db8:6:0:"), lease
    print("stateless DHCPv6 answer in %.2f s" % secs)


def test_silent_network_is_bounded(pair, tmp_path):
    server, client = pair
    lease, secs = run_client(client, tmp_path)
    assert lease is None
    assert secs < 12, secs
