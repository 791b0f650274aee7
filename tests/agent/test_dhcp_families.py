"""Which lease the boot flow takes when DHCPv4 and DHCPv6 are asked at once
(agent.boot.lease_on), with fake clients: pxe.ip=4|6|any. Runs under CPython
and MicroPython, with the machine in dry-run mode."""

from tests.agent.test_hostile_values import FakeConsole

V4 = {"ip": "192.0.2.10", "interface": "eth0"}
V6 = {"family": 6, "ip6": "2001:db8::10", "interface": "eth0"}


def _run(family, v4_after, v6_lease):
    """lease_on with udhcpc's lease appearing v4_after polls after it starts
    (None: never, udhcpc ends without one) and dhcp6.obtain returning v6_lease."""
    from agent import boot, dhcp6, lease as leases, machine
    calls = []
    polls = [0]
    saved = (leases.read, dhcp6.obtain, dhcp6.configure, machine.exists, boot.V4_WAIT_MS)

    def read_lease(iface, family=4):
        polls[0] += 1
        return dict(V4) if v4_after is not None and polls[0] > v4_after else None

    def obtain(iface, mac, say, stop):
        calls.append("dhcp6")
        if stop is not None and v4_after == 0 and stop():
            return None
        return dict(v6_lease) if v6_lease else None
    machine.DRY_RUN = True
    del machine.LOG[:]
    leases.read = read_lease
    dhcp6.obtain = obtain
    dhcp6.configure = lambda lease, say: lease
    machine.exists = lambda path: v4_after is None and path.endswith(".done")
    boot.V4_WAIT_MS = 300
    try:
        lease = boot.lease_on(FakeConsole(), "eth0", family)
    finally:
        leases.read, dhcp6.obtain, dhcp6.configure, machine.exists, boot.V4_WAIT_MS = saved
        machine.DRY_RUN = False
    udhcpc = [line for line in machine.LOG if line.startswith("udhcpc") or line.startswith("{ udhcpc")]
    return lease, calls, udhcpc


def test_families():
    cases = [
        # (pxe.ip, v4_after, v6 lease) -> (lease, DHCPv6 asked, udhcpc run how)
        ("any", 0, V6, V4, True, "background"),       # both answer: IPv4 wins
        ("any", 2, V6, V4, True, "background"),       # IPv4 a little after IPv6: still IPv4
        ("any", None, V6, V6, True, "background"),    # IPv6 only
        ("any", None, None, None, True, "background"),
        ("6", 0, V6, V6, True, None),                 # pxe.ip=6: no udhcpc at all
        ("4", 0, V6, V4, False, "foreground"),        # pxe.ip=4: no DHCPv6
    ]
    for family, v4_after, v6, want, want_v6, how in cases:
        lease, calls, udhcpc = _run(family, v4_after, v6)
        call = "lease_on(pxe.ip=%s, v4_after=%r, v6=%r)" % (family, v4_after, bool(v6))
        assert lease == want, "%s = %r, want %r" % (call, lease, want)
        assert (calls == ["dhcp6"]) == want_v6, "%s: DHCPv6 asked %r, want %r" % (call, calls, want_v6)
        got_how = None if not udhcpc else ("background" if udhcpc[0].startswith("{") else "foreground")
        assert got_how == how, "%s: udhcpc %r, want %r" % (call, udhcpc, how)
