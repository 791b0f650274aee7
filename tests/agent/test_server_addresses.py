"""A host name with several addresses is several servers (issue #25): the
order they are tried in, and a refused or unreachable one giving way to the
next, over real loopback sockets (runs under CPython and MicroPython;
tests/servers/test_dns_addresses.py does it through a resolver)."""

from agent import inet, tftp
from agent.compat import now_ms, sockaddr_text
from agent.fetch import FetchError, Unreachable
from agent.http import connect

CLOSED = 9          # nothing listens on the discard port on loopback
LISTEN_PORT = 48969


def check(got, want, call):
    assert got == want, "%s = %r, want %r" % (call, got, want)


def v4(ip, port=80):
    return (2, 1, 6, "", (ip, port))


def v6(ip, port=80):
    return (10, 1, 6, "", (ip, port, 0, 0))


def test_address_order():
    cases = [
        ([], []),
        ([v4("192.0.2.1")], [("192.0.2.1", 80)]),
        # IPv4 first (the resolver sorts ::1 first by RFC 6724), each in the resolver's order.
        ([v6("::1"), v4("127.0.0.2"), v4("127.0.0.3")], [("127.0.0.2", 80), ("127.0.0.3", 80), ("::1", 80, 0, 0)]),
        ([v4("192.0.2.9"), v4("192.0.2.1")], [("192.0.2.9", 80), ("192.0.2.1", 80)]),
        # A name listed twice in /etc/hosts, and one entry per socket type (type 0): once each.
        ([v4("127.0.0.2"), v4("127.0.0.3"), v4("127.0.0.2")], [("127.0.0.2", 80), ("127.0.0.3", 80)]),
        ([(2, 1, 6, "", ("192.0.2.1", 80)), (2, 2, 17, "", ("192.0.2.1", 80)), (2, 3, 0, "", ("192.0.2.1", 80))],
         [("192.0.2.1", 80)]),
        ([v6("2001:db8::2"), v6("2001:db8::1"), v6("2001:db8::2")], [("2001:db8::2", 80, 0, 0), ("2001:db8::1", 80, 0, 0)]),
    ]
    for infos, want in cases:
        check(inet.address_order(infos), want, "address_order(%r)" % infos)


def test_address_order_raw_sockaddrs():
    """MicroPython's getaddrinfo gives raw struct sockaddr bytes in a bytearray."""
    a = bytearray(b"\x02\x00\x00P\x7f\x00\x00\x02" + bytes(8))
    b = bytearray(b"\x02\x00\x00P\x7f\x00\x00\x03" + bytes(8))
    six = bytearray(b"\n\x00\x00P" + bytes(4) + bytes(15) + b"\x01" + bytes(4))
    got = inet.address_order([(10, 1, 6, "h", six), (2, 1, 6, "h", a), (2, 1, 6, "h", b),
                              (2, 1, 6, "h", bytearray(a))])
    check([sockaddr_text(x) for x in got], ["127.0.0.2:80", "127.0.0.3:80", "[::1]:80"], "address_order(raw)")


def test_resolve_all_of_addresses():
    check([sockaddr_text(a) for a in tftp.resolve_all("192.0.2.1", 69)], ["192.0.2.1:69"], "resolve_all('192.0.2.1')")
    check([sockaddr_text(a) for a in tftp.resolve_all("::1", 69)], ["[::1]:69"], "resolve_all('::1')")


class TwoServers(tftp.TftpFetcher):
    """A TFTP fetcher whose server name has the addresses given."""

    def __init__(self, addrs, **kw):
        tftp.TftpFetcher.__init__(self, **kw)
        self.addrs = addrs

    def _target(self, url):
        return self.addrs, "f"


def test_tftp_icmp_refusal_ends_the_try_at_once():
    """Nothing on the port: ICMP port unreachable is an answer, not 30 s of silence."""
    f = tftp.TftpFetcher(timeout=0.5)
    f.busy_retries = 0
    start = now_ms()
    try:
        f.read("tftp://127.0.0.1:%d/f" % CLOSED)
    except Unreachable as e:
        check(str(e), "tftp://127.0.0.1:9/f: 127.0.0.1:9: port unreachable", "str(error)")
    else:
        raise AssertionError("read from a closed port succeeded")
    assert now_ms() - start < 1000, "a refused request took %d ms, want < 1000" % (now_ms() - start)


def test_tftp_every_address_refusing_is_asked_again_after_a_backoff():
    addrs = [tftp.resolve("127.0.0.1", CLOSED), tftp.resolve("127.0.0.2", CLOSED)]
    f = TwoServers(addrs, timeout=0.5)
    f.busy_retries = 1
    try:
        f.read("tftp://boot.test:9/f")
    except Unreachable as e:
        check(str(e), "tftp://boot.test:9/f: no address of the server served it: 127.0.0.1:9 (port unreachable), "
              "127.0.0.2:9 (port unreachable)", "str(error)")
    else:
        raise AssertionError("read from closed ports succeeded")
    check(f.tried, ["127.0.0.1:9 (port unreachable)", "127.0.0.2:9 (port unreachable)"] * 2, "tried")
    check(f.busy_waits, 1, "busy_waits")


def _listener(ip):
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(tftp.resolve(ip, LISTEN_PORT, socket.SOCK_STREAM))
    s.listen(4)
    return s


def test_http_connect_goes_on_to_the_next_address():
    """The kernel completes the handshake for a listening socket: no accept needed."""
    lst = _listener("127.0.0.5")
    try:
        addrs = [tftp.resolve("127.0.0.4", LISTEN_PORT, 1), tftp.resolve("127.0.0.5", LISTEN_PORT, 1)]
        sock, addr, tried = connect(addrs, 2)
        sock.close()
        check(sockaddr_text(addr), "127.0.0.5:%d" % LISTEN_PORT, "connected to")
        check(tried, ["127.0.0.4:%d (refused)" % LISTEN_PORT], "tried")
    finally:
        lst.close()


def test_http_connect_every_address_refusing():
    addrs = [tftp.resolve("127.0.0.4", CLOSED, 1), tftp.resolve("127.0.0.6", CLOSED, 1)]
    try:
        connect(addrs, 2)
    except FetchError as e:
        check(str(e), "cannot connect to any of its 2 addresses: 127.0.0.4:9 (refused), 127.0.0.6:9 (refused)",
              "str(error)")
    else:
        raise AssertionError("connect to closed ports succeeded")
    try:
        connect(addrs[:1], 2)   # one address: its own error, as before
    except OSError as e:
        check(e.args[0] if isinstance(e.args[0], int) else e.errno, 111, "errno")
    else:
        raise AssertionError("connect to a closed port succeeded")
