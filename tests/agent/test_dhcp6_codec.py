"""DHCPv6 messages and the lease taken from them (agent.dhcp6; CPython and MicroPython)."""

import struct

from agent import dhcp6, inet, lease as leases


def check(got, want, call):
    assert got == want, "%s = %r, want %r" % (call, got, want)


def _reply(extra=()):
    addr = inet.parse_ipv6("2001:db8::105")
    iaaddr = addr + struct.pack(">II", 3600, 7200)
    ia = struct.pack(">III", 7, 1800, 3150) + dhcp6.option(dhcp6.OPT_IAADDR, iaaddr)
    url = b"tftp://[2001:db8::1]/s390x/pxelinux.0"
    params = struct.pack(">H", 34) + b"pxelinux.configfile=pxelinux.cfg/x"
    opts = [(dhcp6.OPT_SERVERID, b"\0\1\0\1abcd"), (dhcp6.OPT_IA_NA, ia),
            (dhcp6.OPT_DNS_SERVERS, inet.parse_ipv6("2001:db8::53")),
            (dhcp6.OPT_DOMAIN_LIST, b"\7example\4test\0"),
            (dhcp6.OPT_BOOTFILE_URL, url), (dhcp6.OPT_BOOTFILE_PARAM, params)] + list(extra)
    return dhcp6.encode(dhcp6.REPLY, 0xABCDEF, opts)


def test_decode_reply():
    mtype, xid, opts = dhcp6.decode(_reply())
    check((mtype, xid), (dhcp6.REPLY, 0xABCDEF), "decode(reply)[:2]")
    iaid, addrs, status = dhcp6.ia_na(opts[dhcp6.OPT_IA_NA][0])
    check((iaid, [inet.ipv6_text(a[0]) for a in addrs], status), (7, ["2001:db8::105"], 0), "ia_na")
    problems = []
    lease = dhcp6.lease_from_reply(opts, "eth0", problems)
    check(problems, [], "problems")
    for key, want in (("bootfile_url", "tftp://[2001:db8::1]/s390x/pxelinux.0"),
                      ("bootfile_param", ["pxelinux.configfile=pxelinux.cfg/x"]),
                      ("opt209", "pxelinux.cfg/x"), ("dns", ["2001:db8::53"]), ("domain", "example.test"),
                      ("server_duid", "0001000161626364")):
        check(lease[key], want, "lease[%r]" % key)
    check(leases.boot_server(lease), "2001:db8::1", "boot_server")


def test_bad_values_dropped():
    bad = [
        (dhcp6.OPT_BOOTFILE_URL, b"ftp://[2001:db8::1]/x", "option 59"),
        (dhcp6.OPT_BOOTFILE_URL, b"tftp://[2001:db8::1/x", "option 59"),
        (dhcp6.OPT_BOOTFILE_URL, b"tftp://[2001:db8::1]/a\nb", "option 59"),
        (dhcp6.OPT_BOOTFILE_PARAM, b"\0\x09abc", "option 60"),
        (dhcp6.OPT_BOOTFILE_PARAM, b"\0\x03a\x1bb", "option 60"),
        (dhcp6.OPT_DNS_SERVERS, b"\0" * 15, "option 23"),
        (dhcp6.OPT_DOMAIN_LIST, b"\x50abc", "option 24"),
    ]
    for code, data, what in bad:
        problems = []
        lease = dhcp6.lease_from_reply({code: [data]}, "eth0", problems)
        assert len(problems) == 1 and what in problems[0], "lease_from_reply(%d: %r): problems %r" % (
            code, data, problems)
        check((lease["bootfile_url"], lease["bootfile_param"], lease["dns"], lease["domain"]),
              (None, [], [], None), "lease_from_reply(%d: %r) values" % (code, data))


def test_malformed_messages():
    for data in (b"", b"\x07\0\0", b"\x07\0\0\1\0\x3b\0\x10abc", b"\x07\0\0\1\0"):
        try:
            dhcp6.decode(data)
        except ValueError:
            continue
        raise AssertionError("decode(%r): want ValueError" % data)
    # An IA_NA whose address has status NoAddrsAvail offers nothing.
    ia = struct.pack(">III", 1, 0, 0) + dhcp6.option(dhcp6.OPT_STATUS_CODE, b"\0\2none")
    check(dhcp6.ia_na(ia), (1, [], 2), "ia_na(NoAddrsAvail)")


def test_link_local_server_gets_zone():
    lease = {"family": 6, "bootfile_url": "tftp://[fe80::1]/pxelinux.0", "interface": "eth0"}
    check(leases.boot_server(lease), "fe80::1%eth0", "boot_server(link-local)")
    lease = {"family": 6, "bootfile_url": "tftp://[fe80::1%25eth1]/pxelinux.0", "interface": "eth0"}
    check(leases.boot_server(lease), "fe80::1%eth1", "boot_server(link-local with zone)")


def test_client_messages():
    duid = dhcp6.duid_ll("52:54:00:12:34:56")
    check(duid, b"\0\3\0\1\x52\x54\0\x12\x34\x56", "duid_ll")
    msg = dhcp6.encode(dhcp6.SOLICIT, 0x123456, dhcp6.client_options(duid, 150, dhcp6.iaid_of("52:54:00:12:34:56")))
    mtype, xid, opts = dhcp6.decode(msg)
    check((mtype, xid), (dhcp6.SOLICIT, 0x123456), "solicit header")
    check(opts[dhcp6.OPT_CLIENTID], [duid], "client id")
    check(opts[dhcp6.OPT_ELAPSED_TIME], [b"\0\x96"], "elapsed time")
    check(opts[dhcp6.OPT_CLIENT_ARCH], [b"\0\x1f"], "client arch")
    check(opts[dhcp6.OPT_ORO], [b"\0\x17\0\x18\0\x3b\0\x3c"], "ORO")
    check(dhcp6.ia_na(opts[dhcp6.OPT_IA_NA][0]), (0x00123456, [], 0), "IA_NA")


def test_retransmission_times():
    # RFC 8415 15: RT = 2*RT + RAND*RT, capped at MRT (+RAND*MRT).
    check(dhcp6.next_rt(1000, 0.0), 2000, "next_rt(1000, 0)")
    check(dhcp6.next_rt(1000, 0.1), 2100, "next_rt(1000, 0.1)")
    check(dhcp6.next_rt(20000, -0.1, 30000), 27000, "next_rt(20000, -0.1, 30000)")


def test_solicit_and_information_request_are_one_exchange_each():
    # Issue #25: one _exchange for the whole SOLICIT_S (and INFO_S), so its RT
    # doubles with RAND (RFC 8415 15); rounds of 1 s each restarted the RT
    # and sent a Solicit every second, in step with every other guest.
    calls = []

    def exchange(sock, dest, build, xid, want, limit_ms, max_tries=0, stop=None):
        calls.append((want, limit_ms))
        return None
    saved = dhcp6._exchange
    dhcp6._exchange = exchange
    try:
        got = dhcp6._obtain(None, None, "eth0", "52:54:00:12:34:56", b"duid", 1, lambda line: None, None, 4, 3)
    finally:
        dhcp6._exchange = saved
    check(got, None, "_obtain with no answer")
    check(calls, [((dhcp6.ADVERTISE,), 4000), ((dhcp6.REPLY,), 3000)], "_exchange calls")


def test_proc_tables():
    if_inet6 = ("fe800000000000005054fffe123456 02 40 20 80 eth0\n"
                "fe80000000000000505400fffe123456 02 40 20 80 eth0\n"
                "20010db8000000000000000000000105 02 80 00 c0 eth0\n")
    check(dhcp6.ready_address("eth0", True, if_inet6), inet.parse_ipv6("fe80::5054:ff:fe12:3456"),
          "ready_address(link-local)")
    check(dhcp6.ready_address("eth0", False, if_inet6), None, "ready_address(global, tentative)")
    route = ("20010db8000000000000000000000000 40 00000000000000000000000000000000 00 "
             "00000000000000000000000000000000 00000100 00000001 00000000 00040001 eth0\n")
    check(dhcp6.has_route("eth0", route), True, "has_route(prefix)")
    check(dhcp6.has_route("eth1", route), False, "has_route(other interface)")
