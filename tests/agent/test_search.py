"""Config search names and path rules (runs under CPython and MicroPython)."""

from agent import inet
from agent import search


def check(got, want, call):
    assert got == want, "%s = %r, want %r" % (call, got, want)


def test_probe_names():
    cases = [
        (dict(mac="52:54:00:12:34:56", ip="192.0.2.10"),
         ["pxelinux.cfg/01-52-54-00-12-34-56", "pxelinux.cfg/C000020A", "pxelinux.cfg/C000020",
          "pxelinux.cfg/C00002", "pxelinux.cfg/C0000", "pxelinux.cfg/C000", "pxelinux.cfg/C00",
          "pxelinux.cfg/C0", "pxelinux.cfg/C", "pxelinux.cfg/default"]),
        (dict(mac="88-99-AA-BB-CC-DD", ip="10.0.0.1", uuid="B8945908-D6A6-41A9-611D-74A6AB80B83D"),
         ["pxelinux.cfg/b8945908-d6a6-41a9-611d-74a6ab80b83d", "pxelinux.cfg/01-88-99-aa-bb-cc-dd",
          "pxelinux.cfg/0A000001", "pxelinux.cfg/0A00000", "pxelinux.cfg/0A0000", "pxelinux.cfg/0A000",
          "pxelinux.cfg/0A00", "pxelinux.cfg/0A0", "pxelinux.cfg/0A", "pxelinux.cfg/0",
          "pxelinux.cfg/default"]),
        (dict(opt209="site/s390.cfg"), ["site/s390.cfg", "pxelinux.cfg/default"]),
        (dict(), ["pxelinux.cfg/default"]),
    ]
    for kw, want in cases:
        check(search.probe_names(**kw), want, "probe_names(%r)" % kw)


def test_prefix():
    # pxe.c:get_prefix: a relative prefix is made '::'-absolute (the server root).
    cases = [
        ((None, None), "::"),
        (("pxelinux.0", None), "::"),
        (("s390x/pxelinux.0", None), "::s390x/"),
        (("/srv/tftp/s390x/pxelinux.0", None), "::/srv/tftp/s390x/"),
        (("s390x/pxelinux.0", "http://boot.example/s390/"), "http://boot.example/s390/"),
    ]
    for args, want in cases:
        check(search.prefix(*args), want, "prefix%r" % (args,))


def test_resolve():
    cases = [
        (("vmlinuz", "::s390x/", "192.0.2.1"), "tftp://192.0.2.1/s390x/vmlinuz"),
        (("::images/vmlinuz", "::s390x/", "192.0.2.1"), "tftp://192.0.2.1/images/vmlinuz"),
        (("http://web/k", "::s390x/", "192.0.2.1"), "http://web/k"),
        (("k", "http://web/s390/", "192.0.2.1"), "http://web/s390/k"),
        (("k", "::", "192.0.2.1"), "tftp://192.0.2.1/k"),
    ]
    for args, want in cases:
        check(search.resolve(*args), want, "resolve%r" % (args,))


def test_split_url():
    cases = [
        ("tftp://192.0.2.1/pxelinux.cfg/default", ("tftp", "192.0.2.1", None, "pxelinux.cfg/default")),
        ("tftp://h:6969//abs/path", ("tftp", "h", 6969, "/abs/path")),
        ("http://web:8080/s390/k", ("http", "web", 8080, "/s390/k")),
        ("http://web", ("http", "web", None, "/")),
        ("tftp://[::1]:69/f", ("tftp", "::1", 69, "f")),
    ]
    for url, want in cases:
        check(inet.split_url(url), want, "split_url(%r)" % url)


def test_bad_identities():
    for fn, arg in ((search.normalise_mac, "52:54:00"), (search.normalise_uuid, "abc"),
                    (inet.parse_ipv4, "300.1.1.1"), (inet.parse_ipv4, "1.2.3")):
        try:
            fn(arg)
        except ValueError as e:
            assert arg in str(e), str(e)
        else:
            assert False, "%s(%r) did not fail" % (fn.__name__, arg)


def test_kernel_command_line_options():
    from agent import boot
    got = boot.parse_cmdline("root=/dev/ram0 pxe.debug pxe.if=eth1,eth0 pxe.label=rescue pxe.window=32 quiet")
    want = {"debug": True, "if": "eth1,eth0", "label": "rescue", "window": "32"}
    assert got == want, "parse_cmdline(...) = %r, want %r" % (got, want)
    assert boot.int_option(got, "window", 16) == 32
    assert boot.int_option({}, "window", 16) == 16
    # Out of range (RFC 7440 windowsize 1-65535, RFC 2348 blksize 8-65464): the default.
    for value in ("0", "-5", "65536", "9" * 30, "x"):
        assert boot.int_option({"window": value}, "window", 16, 1, 65535) == 16, value
    assert boot.int_option({"blksize": "70000"}, "blksize", None, 8, 65464) is None
    assert boot.int_option({"blksize": "1468"}, "blksize", None, 8, 65464) == 1468
