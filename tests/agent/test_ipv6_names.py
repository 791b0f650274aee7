"""IPv6 addresses in URLs, the IPv6 block size and the IPv6 config search
(runs under CPython and MicroPython)."""

from agent import cmdline, inet, search, tftp
from agent.compat import is_v6_addr, sockaddr6, sockaddr6_parts, sockaddr_text


def check(got, want, call):
    assert got == want, "%s = %r, want %r" % (call, got, want)


def test_split_url_ipv6():
    cases = [
        ("tftp://[2001:db8::1]/pxelinux.0", ("tftp", "2001:db8::1", None, "pxelinux.0")),
        ("tftp://[2001:db8::1]:6969/s390x/k", ("tftp", "2001:db8::1", 6969, "s390x/k")),
        ("http://[2001:db8::1]:8080/s390/k", ("http", "2001:db8::1", 8080, "/s390/k")),
        ("http://[fe80::1%25eth0]/k", ("http", "fe80::1%eth0", None, "/k")),
        ("tftp://[fe80::1%eth0]/k", ("tftp", "fe80::1%eth0", None, "k")),
        ("tftp://[::ffff:192.0.2.1]/k", ("tftp", "::ffff:192.0.2.1", None, "k")),
        ("tftp://192.0.2.1:69/k", ("tftp", "192.0.2.1", 69, "k")),
    ]
    for url, want in cases:
        check(inet.split_url(url), want, "split_url(%r)" % url)


def test_split_url_ipv6_malformed():
    for url in ("tftp://[2001:db8::1/k", "tftp://2001:db8::1/k", "tftp://[2001:db8::1]x/k",
                "tftp://[2001:db8:::1]/k", "tftp://[fe80::1%25]/k", "tftp://[fe80::1%25a/b]/k",
                "tftp://[12345::1]/k", "tftp://[1:2:3:4:5:6:7:8:9]/k", "http://[2001:db8::1]:x/k"):
        try:
            got = inet.split_url(url)
        except ValueError:
            continue
        raise AssertionError("split_url(%r) = %r, want ValueError" % (url, got))


def test_ipv6_text_round_trip():
    cases = [
        ("2001:db8::1", "2001:db8::1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("::", "::"),
        ("::1", "::1"),
        ("fe80::", "fe80::"),
        ("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"),     # the longest zero run
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:6"),
        ("2001:db8:0:1:2:3:4:5", "2001:db8:0:1:2:3:4:5"),  # one zero group stays
        ("::ffff:192.0.2.1", "::ffff:c000:201"),
    ]
    for text, want in cases:
        b = inet.parse_ipv6(text)
        check(len(b), 16, "len(parse_ipv6(%r))" % text)
        check(inet.ipv6_text(b), want, "ipv6_text(parse_ipv6(%r))" % text)


def test_url_host_and_prefix():
    check(inet.url_host("2001:db8::1"), "[2001:db8::1]", "url_host('2001:db8::1')")
    check(inet.url_host("fe80::1%eth0"), "[fe80::1%25eth0]", "url_host('fe80::1%eth0')")
    check(inet.url_host("192.0.2.1"), "192.0.2.1", "url_host('192.0.2.1')")
    check(inet.url_host("127.0.0.1:6969"), "127.0.0.1:6969", "url_host('127.0.0.1:6969')")
    check(inet.url_host("::1"), "[::1]", "url_host('::1')")
    cases = [
        ("tftp://[2001:db8::1]/pxelinux.0", "tftp://[2001:db8::1]/"),
        ("tftp://[2001:db8::1]/s390x/pxe_linux.0", "tftp://[2001:db8::1]/s390x/"),
        ("http://[2001:db8::1]:8080/boot/s390/pxelinux.0", "http://[2001:db8::1]:8080/boot/s390/"),
        ("tftp://[2001:db8::1]", "tftp://[2001:db8::1]/"),
    ]
    for url, want in cases:
        check(search.url_prefix(url), want, "url_prefix(%r)" % url)


def test_resolve_on_ipv6_server():
    cwd = "tftp://[2001:db8::1]/s390x/"
    cases = [
        (("pxelinux.cfg/default", cwd, "2001:db8::1"), "tftp://[2001:db8::1]/s390x/pxelinux.cfg/default"),
        (("::vmlinuz", cwd, "2001:db8::1"), "tftp://[2001:db8::1]/vmlinuz"),
        (("vmlinuz", "::", "2001:db8::1"), "tftp://[2001:db8::1]/vmlinuz"),
        (("vmlinuz", "::", "fe80::1%eth0"), "tftp://[fe80::1%25eth0]/vmlinuz"),
        (("http://[2001:db8::2]:8080/k", cwd, "2001:db8::1"), "http://[2001:db8::2]:8080/k"),
    ]
    for args, want in cases:
        check(search.resolve(*args), want, "resolve%r" % (args,))
    check(search.display("tftp://[2001:db8::1]/s390x/k", "2001:db8::1"), "s390x/k", "display(...)")


def test_probe_names_ipv6():
    # No hex-IP names on IPv6 (docs/reference.md): UUID, 01-MAC, default.
    got = search.probe_names(mac="52:54:00:12:34:56", ip=None,
                             uuid="2a9f0c5e-1b3d-4c2e-8f00-0123456789ab", opt209="site.cfg")
    want = ["site.cfg", "pxelinux.cfg/2a9f0c5e-1b3d-4c2e-8f00-0123456789ab",
            "pxelinux.cfg/01-52-54-00-12-34-56", "pxelinux.cfg/default"]
    check(got, want, "probe_names(ip=None)")


def test_blksize_for_ipv6_mtu():
    cases = [((1500,), 1468), ((1500, False), 1468), ((1500, True), 1448), ((1280, True), 1228),
             ((65536, True), 65464)]
    for args, want in cases:
        check(tftp.blksize_for_mtu(*args), want, "blksize_for_mtu%r" % (args,))


def test_tftp_options_from_ipv6_mtu():
    f = tftp.TftpFetcher(mtu_of=lambda addr: 1500)
    v6 = sockaddr6(inet.parse_ipv6("2001:db8::1"), 69)
    check(dict(f._options(v6))["blksize"], 1448, "blksize for an IPv6 server")
    check(is_v6_addr(v6), True, "is_v6_addr(sockaddr6(...))")
    check(sockaddr6_parts(sockaddr6(inet.parse_ipv6("fe80::1"), 547, 3)),
          (inet.parse_ipv6("fe80::1"), 547, 3), "sockaddr6_parts(sockaddr6(fe80::1, 547, 3))")
    check(sockaddr_text(sockaddr6(inet.parse_ipv6("2001:db8::1"), 69)), "[2001:db8::1]:69", "sockaddr_text")


def test_ipappend_on_ipv6():
    env = {"ip6": "2001:db8::5", "mac": "52:54:00:12:34:56"}
    check(cmdline.sysappend_strings(3, env), ["BOOTIF=01-52-54-00-12-34-56"], "sysappend_strings(3, v6)")
    env = {"ip": "192.0.2.5", "ip6": "2001:db8::5"}
    check(cmdline.sysappend_strings(1, env), ["ip=192.0.2.5:0.0.0.0:0.0.0.0:0.0.0.0"],
          "sysappend_strings(1, dual)")


def test_identity_env_ipv6():
    from agent import plan
    env = plan.identity_env({"ip": "2001:db8::5", "server-ip": "fe80::1%eth0", "mac": "52:54:00:12:34:56"})
    check(env, {"ip6": "2001:db8::5", "server_ip6": "fe80::1%eth0", "mac": "52:54:00:12:34:56"},
          "identity_env(v6)")
    try:
        plan.identity_env({"ip": "2001:db8:::5"})
    except plan.OptionError:
        pass
    else:
        raise AssertionError("identity_env(ip=2001:db8:::5): want OptionError")
    check(inet.host_port("[2001:db8::1]:6969", 69), ("2001:db8::1", 6969), "host_port([v6]:port)")
    check(inet.host_port("2001:db8::1", 69), ("2001:db8::1", 69), "host_port(v6)")


def test_resolve_zone_literal():
    # A link-local literal with its zone gets the interface's index as scope id
    # (musl's getaddrinfo in the image, glibc's on a workstation); lo is index 1.
    ip, port, scope = sockaddr6_parts(tftp.resolve("fe80::1%lo", 69))
    check((inet.ipv6_text(ip), port, scope), ("fe80::1", 69, 1), "resolve('fe80::1%lo', 69)")
    check(is_v6_addr(tftp.resolve("192.0.2.1", 69)), False, "is_v6_addr(resolve('192.0.2.1'))")
    try:
        tftp.resolve("fe80::1%a/b", 69)
    except ValueError:
        pass
    else:
        raise AssertionError("resolve('fe80::1%a/b'): want ValueError")
