"""https:// in the agent's pure parts: URL parsing and redirects keep the
scheme, TLS failures become one line naming the server (tls_kind and
tls_reason on mbedtls's and OpenSSL's verify messages), pxe.https-only
refuses other schemes before any packet. Runs under CPython and MicroPython."""

from tests.agent.memfetch import MemFetcher


def test_parse_url_https_default_port():
    from agent.http import parse_url, join_location
    cases = [
        ("https://boot.example.com/s390x/linux", ("boot.example.com", 443, "/s390x/linux")),
        ("https://192.0.2.1:8443/a", ("192.0.2.1", 8443, "/a")),
        ("http://192.0.2.1/a", ("192.0.2.1", 80, "/a")),
    ]
    for url, want in cases:
        got = parse_url(url)
        assert got == want, "parse_url(%r) = %r, want %r" % (url, got, want)
    for base, loc, want in [
        ("https://h/a/b", "/c", "https://h:443/c"),
        ("https://h:8443/a/b", "c", "https://h:8443/a/c"),
        ("http://h/a/b", "/c", "http://h:80/c"),
    ]:
        got = join_location(base, loc)
        assert got == want, "join_location(%r, %r) = %r, want %r" % (base, loc, got, want)


def test_split_url_and_resolve_keep_https():
    from agent import inet, search
    got = inet.split_url("https://h:8443/x/y")
    assert got == ("https", "h", 8443, "/x/y"), "split_url = %r" % (got,)
    got = search.resolve("debian/linux", "https://boot.example.com/s390x/", "192.0.2.1")
    assert got == "https://boot.example.com/s390x/debian/linux", "resolve = %r" % got


# (text of the failure as mbedtls or OpenSSL gives it, kind)
KINDS = [
    ("\nThe certificate is not correctly signed by the trusted CA\n", "unknown-ca"),
    ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate "
     "(_ssl.c:992) unable to get local issuer certificate", "unknown-ca"),
    ("certificate verify failed: self-signed certificate", "unknown-ca"),
    ("\nThe certificate Common Name (CN) does not match with the expected CN\n", "wrong-host"),
    ("certificate verify failed: Hostname mismatch, certificate is not valid for 'x'.", "wrong-host"),
    ("certificate verify failed: IP address mismatch, certificate is not valid for '127.0.0.1'.", "wrong-host"),
    ("\nThe certificate validity has expired\n", "expired"),
    ("certificate verify failed: certificate has expired", "expired"),
    ("\nThe certificate validity starts in the future\n", "not-yet-valid"),
    ("(-30592, 'SSL - A fatal alert message was received from our peer')", "handshake"),
    ("", "handshake"),
]


def test_tls_kind():
    from agent.http import tls_kind
    for text, want in KINDS:
        got = tls_kind(text)
        assert got == want, "tls_kind(%r) = %r, want %r" % (text, got, want)


def test_tls_reason_is_one_line_naming_the_server():
    from agent.http import tls_reason
    for text, kind in KINDS:
        line = tls_reason(text + "\x1b[2J", "boot.example.com", "/etc/s390-netboot/ca.pem",
                          "2026-01-01 00:00 UTC")
        assert "\n" not in line and "\x1b" not in line, "tls_reason(%r) = %r: not one clean line" % (text, line)
        assert line.startswith("TLS: ") and "boot.example.com" in line, "tls_reason(%r) = %r" % (text, line)
        if kind in ("expired", "not-yet-valid"):
            assert "the clock reads 2026-01-01 00:00 UTC" in line, line
        if kind == "unknown-ca":
            assert "/etc/s390-netboot/ca.pem" in line and "--ca-certs" in line, line


def test_https_only_refuses_other_schemes_before_fetching():
    from agent.fetch import HttpsOnly, Refused
    inner = MemFetcher({"a": b"x"})
    f = HttpsOnly(inner)
    assert f.read("https://h/a") == b"x"
    for url in ("http://h/a", "tftp://h/a", "HTTP://h/a"):
        try:
            f.read(url)
            assert False, "HttpsOnly.read(%r) passed" % url
        except Refused as e:
            assert "refused: pxe.https-only allows only https:// names" in str(e), str(e)


def test_no_trust_store_fails_closed():
    from agent.http import HttpFetcher, TlsError
    f = HttpFetcher(ca_file="/nonexistent/ca.pem")
    try:
        f.read("https://192.0.2.1/x")
        assert False, "an https fetch without a trust store did not fail"
    except TlsError as e:
        msg = str(e)
        assert "no trust store (/nonexistent/ca.pem is missing)" in msg and "--ca-certs" in msg, msg


def _testdata_ca():
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    with open(here + "/../testdata/tls/ca.pem") as f:
        return f.read()


BAD = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"


def test_trust_store_skips_what_the_library_cannot_parse():
    from agent.http import trust_context as tls_context
    ca = _testdata_ca()
    cut = "-----BEGIN CERTIFICATE-----\nMIIB\n"   # a block that lost its END line
    cases = [(ca, 0), ("# a comment\n" + ca + BAD, 1), (BAD + ca + BAD, 2), (cut + ca, 1)]
    for text, want in cases:
        ctx, skipped = tls_context(text)
        assert skipped == want, "tls_context(...%d bytes) skipped %d, want %d" % (len(text), skipped, want)
    for text in (BAD, BAD + BAD):
        try:
            tls_context(text)
            assert False, "tls_context of unusable certificates passed"
        except ValueError as e:
            assert "no certificate the TLS library can use" in str(e), str(e)


def test_the_images_https_only_cannot_be_undone_on_the_command_line():
    from agent import boot
    for cmdline in ("pxe.https-only=", "pxe.https-only=0 quiet", ""):
        opts = boot.load_options("pxe.https-only\n", cmdline)
        assert opts.get("https-only") is True, (cmdline, opts)
    # Without it in the image, the command line decides; other options: the command line wins.
    assert boot.load_options("", "pxe.https-only").get("https-only") is True
    assert not boot.load_options("", "pxe.https-only=").get("https-only")
    assert boot.load_options("pxe.window=8", "pxe.window=4")["window"] == "4"


def test_dhcpv6_bootfile_url_may_be_https():
    from agent import dhcp6
    url = "https://[2001:db8::1]/s390x/pxelinux.0"
    assert dhcp6.check_boot_url(url) == url
    try:
        dhcp6.check_boot_url("ftp://[2001:db8::1]/x")
    except ValueError as e:
        assert "https://" in str(e), e
    else:
        assert False, "ftp:// accepted"


def test_https_host_pins_the_servers():
    # DHCP (unauthenticated) names the server; pxe.https-host limits which hosts may
    # serve, whatever certificate the trust store would vouch for.
    from agent.fetch import HttpsOnly, Refused
    from agent.inet import https_hosts
    from tests.agent.memfetch import MemFetcher
    hosts = https_hosts("Boot.Example,[2001:db8::1]")
    assert hosts == ["boot.example", "2001:db8::1"], hosts
    f = HttpsOnly(MemFetcher({"k": b"K"}), hosts)
    assert f.read("https://boot.example/k") == b"K"
    assert f.read("https://[2001:db8::1]:8443/k") == b"K"
    for url in ("https://evil.example/k", "https://boot.example.evil/k", "http://boot.example/k"):
        try:
            f.read(url)
        except Refused as e:
            assert "refused" in str(e), (url, e)
        else:
            assert False, "%s was let through" % url
    assert https_hosts("") is None and https_hosts(True) is None
    from agent import boot
    opts = boot.load_options("pxe.https-only\npxe.https-host=boot.example\n", "pxe.https-host=evil.example")
    assert opts["https-host"] == "boot.example", opts


def test_trust_store_file_with_a_latin1_comment(tmp_path=None):
    # PEM is ASCII; a comment in Latin-1 (a non-UTF-8 byte) must not stop the rest.
    from agent.http import HttpFetcher
    path = "/tmp/s390-netboot-test-ca-latin1.pem"
    with open(path, "wb") as f:
        f.write(b"# Caf\xe9 CA\n" + _testdata_ca().encode())
    f = HttpFetcher(ca_file=path)
    assert f.tls_context("https://boot.example/x") is not None
