"""DHCPv6 client (RFC 8415 subset) for IPv6 netboot, spoken by the agent itself.

Debian's busybox-static has no udhcpc6 applet, so unlike IPv4 (agent.dhcp,
busybox udhcpc with the agent as its hook) the agent speaks DHCPv6 on a
plain UDP socket: bound to [::]:546 on the interface, sending to
ff02::1:2 port 547 with the interface's index as scope id.

Supported subset:
- stateful: Solicit -> Advertise -> Request -> Reply for one IA_NA; the
  first Advertise that offers an address is taken (no collection of
  several, no preference); the address is added as /128 (the on-link
  prefix and the default route come from the router advertisement, which
  the kernel handles);
- stateless: when no server offers an address (no Advertise, or status
  NoAddrsAvail), an Information-Request; the address is the kernel's own
  from SLAAC;
- options requested and read: 59 bootfile-url, 60 bootfile-param, 23 DNS
  servers, 24 domain search list; sent: client identifier (DUID-LL from
  the MAC), elapsed time, client architecture 61 = 0x001F (s390) and
  network interface identifier 62 (UNDI 3.16) as PXE clients send them;
- retransmission as RFC 8415 section 15 describes (IRT 1 s, doubling,
  +-10 % randomisation), cut short by this module's own bounds so that a
  silent network costs SOLICIT_S + INFO_S seconds, never more.

No renewal, rebinding, release or decline: the lease only has to last until
kexec. Every value is checked where it enters (lease_from_reply), as
agent.dhcp does for IPv4: addresses must be IPv6, the bootfile-url a
tftp:// or http:// URL with a usable host, the bootfile-params printable
text; a bad value is dropped with one line naming the option.
"""

import struct

from agent import inet, lease as leases, machine, search
from agent.compat import (IPPROTO_IPV6, IPV6_MULTICAST_HOPS, SO_BINDTODEVICE, SO_REUSEADDR, SOL_SOCKET, now_ms,
                          random_bits, random_unit, sockaddr6)

SOLICIT, ADVERTISE, REQUEST, CONFIRM, RENEW, REBIND, REPLY = 1, 2, 3, 4, 5, 6, 7
INFORMATION_REQUEST = 11
OPT_CLIENTID, OPT_SERVERID, OPT_IA_NA, OPT_IAADDR, OPT_ORO = 1, 2, 3, 5, 6
OPT_ELAPSED_TIME, OPT_STATUS_CODE, OPT_DNS_SERVERS, OPT_DOMAIN_LIST = 8, 13, 23, 24
OPT_BOOTFILE_URL, OPT_BOOTFILE_PARAM, OPT_CLIENT_ARCH, OPT_NII = 59, 60, 61, 62
STATUS_NO_ADDRS_AVAIL = 2
CLIENT_PORT, SERVER_PORT = 546, 547
ALL_SERVERS = b"\xff\x02" + b"\0" * 11 + b"\x01\x00\x02"    # ff02::1:2
CLIENT_ARCH = 0x001F
REQUESTED = (OPT_DNS_SERVERS, OPT_DOMAIN_LIST, OPT_BOOTFILE_URL, OPT_BOOTFILE_PARAM)
SOLICIT_S = 4      # Solicits for this long, then Information-Requests
INFO_S = 4
REQUEST_TRIES = 4
DAD_S = 3          # the link-local address must leave the tentative state within this
SLAAC_S = 6        # a stateless answer: wait this long for the kernel's SLAAC address
MAX_PACKET = 4096
STOP_POLL_MS = 50


# ---- codec -------------------------------------------------------------------

def option(code, data):
    return struct.pack(">HH", code, len(data)) + data


def duid_ll(mac):
    """DUID-LL (type 3, hardware type 1) from a MAC address text."""
    return struct.pack(">HH", 3, 1) + bytes([int(x, 16) for x in search.normalise_mac(mac).split(":")])


def iaid_of(mac):
    b = duid_ll(mac)
    return struct.unpack(">I", b[-4:])[0]


def encode(msg_type, xid, options):
    """A DHCPv6 message: type, 24-bit transaction id, options (code, data)."""
    parts = [struct.pack(">I", (msg_type << 24) | (xid & 0xFFFFFF))]
    for code, data in options:
        parts.append(option(code, data))
    return b"".join(parts)


def decode_options(data):
    """{code: [data, ...]} of an option area; ValueError when an option overruns it."""
    opts = {}
    i, n = 0, len(data)
    while i < n:
        if i + 4 > n:
            raise ValueError("truncated option header")
        code, length = struct.unpack(">HH", data[i:i + 4])
        if i + 4 + length > n:
            raise ValueError("option %d overruns the message" % code)
        opts.setdefault(code, []).append(bytes(data[i + 4:i + 4 + length]))
        i += 4 + length
    return opts


def decode(packet):
    """(type, xid, options) of a message; ValueError when malformed."""
    if len(packet) < 4:
        raise ValueError("shorter than a header")
    head = struct.unpack(">I", packet[:4])[0]
    return head >> 24, head & 0xFFFFFF, decode_options(packet[4:])


def status_of(data):
    """(code, message) of a status-code option."""
    if len(data) < 2:
        return None, ""
    return struct.unpack(">H", data[:2])[0], data[2:]


def ia_na(data):
    """(iaid, addresses, status) of an IA_NA: addresses [(16 bytes, preferred, valid)]."""
    if len(data) < 12:
        raise ValueError("IA_NA shorter than 12 bytes")
    iaid = struct.unpack(">I", data[:4])[0]
    inner = decode_options(data[12:])
    addrs = []
    for a in inner.get(OPT_IAADDR, []):
        if len(a) < 24:
            raise ValueError("IAADDR shorter than 24 bytes")
        pref, valid = struct.unpack(">II", a[16:24])
        sub = decode_options(a[24:])
        st = status_of(sub[OPT_STATUS_CODE][0])[0] if OPT_STATUS_CODE in sub else 0
        if st == 0 and valid > 0:
            addrs.append((a[:16], pref, valid))
    status = status_of(inner[OPT_STATUS_CODE][0])[0] if OPT_STATUS_CODE in inner else 0
    return iaid, addrs, status


def client_options(duid, elapsed_cs, iaid=None, server_opts=None):
    """The options every client message carries (server_opts: a Request's
    server identifier and IA_NA, copied from the Advertise)."""
    opts = [(OPT_CLIENTID, duid),
            (OPT_ELAPSED_TIME, struct.pack(">H", min(elapsed_cs, 0xFFFF))),
            (OPT_ORO, b"".join(struct.pack(">H", c) for c in REQUESTED)),
            (OPT_CLIENT_ARCH, struct.pack(">H", CLIENT_ARCH)),
            (OPT_NII, b"\x01\x03\x10")]
    if iaid is not None:
        opts.append((OPT_IA_NA, struct.pack(">III", iaid, 0, 0)))
    for o in server_opts or ():
        opts.append(o)
    return opts


def _strings(data):
    """RFC 8415 bootfile-param: each string is a 16-bit length and its bytes."""
    out = []
    i = 0
    while i + 2 <= len(data):
        n = struct.unpack(">H", data[i:i + 2])[0]
        if i + 2 + n > len(data):
            raise ValueError("a parameter overruns the option")
        out.append(bytes(data[i + 2:i + 2 + n]))
        i += 2 + n
    if i != len(data):
        raise ValueError("trailing bytes")
    return out


def _domains(data):
    """RFC 1035 wire-format names (no compression), as dotted text."""
    out, labels, i = [], [], 0
    while i < len(data):
        n = data[i]
        if n == 0:
            if labels:
                out.append(".".join(labels))
            labels = []
            i += 1
            continue
        if n > 63 or i + 1 + n > len(data):
            raise ValueError("bad label")
        labels.append(bytes(data[i + 1:i + 1 + n]).decode())
        i += 1 + n
    return out


def _text(b):
    if not b or not all(32 < c < 127 for c in b):
        raise ValueError("control characters, spaces or bytes outside ASCII")
    return bytes(b).decode()


def check_boot_url(text):
    """A bootfile-url the agent can use: tftp://, http:// or https://, a usable host. ValueError."""
    scheme, host, port, path = inet.split_url(text)
    if scheme not in ("tftp", "http", "https"):
        raise ValueError("want a tftp://, http:// or https:// URL")
    if not host:
        raise ValueError("no host in the URL")
    return text


def lease_from_reply(opts, iface, problems=None):
    """The lease record from a Reply's (or Advertise's) options; bad values are
    left out with a line in problems."""
    problems = problems if problems is not None else []

    def take(name, fn, value):
        try:
            return fn(value)
        except (ValueError, UnicodeError, IndexError) as e:
            problems.append("DHCPv6 %s ignored: %s" % (name, e))
            return None
    lease = {"family": 6, "interface": iface, "ip6": None, "prefix": 128, "dns": [], "domain": None,
             "bootfile_url": None, "bootfile_param": [], "server_duid": None, "opt209": None,
             "opt210": None, "mac": None, "duid": None}
    for d in opts.get(OPT_DNS_SERVERS, [])[:1]:
        if len(d) % 16:
            problems.append("DHCPv6 option 23 (DNS servers) ignored: length %d is no multiple of 16" % len(d))
            continue
        lease["dns"] = [inet.ipv6_text(d[i:i + 16]) for i in range(0, len(d), 16)]
    for d in opts.get(OPT_DOMAIN_LIST, [])[:1]:
        names = take("option 24 (domain list)", _domains, d) or []
        names = [n for n in names if take("option 24 (domain list)", inet.dns_name, n)]
        lease["domain"] = " ".join(names) or None
    for d in opts.get(OPT_BOOTFILE_URL, [])[:1]:
        lease["bootfile_url"] = take("option 59 (bootfile-url)", lambda b: check_boot_url(_text(b)), d)
    for d in opts.get(OPT_BOOTFILE_PARAM, [])[:1]:
        params = take("option 60 (bootfile-param)", _strings, d) or []
        for p in params:
            t = take("option 60 (bootfile-param)", _text, p)
            if t:
                lease["bootfile_param"].append(t)
    for p in lease["bootfile_param"]:
        # The option 209/210 equivalents (docs/reference.md, "IPv6").
        if p.startswith("pxelinux.configfile="):
            lease["opt209"] = p[len("pxelinux.configfile="):] or None
        elif p.startswith("pxelinux.pathprefix="):
            lease["opt210"] = p[len("pxelinux.pathprefix="):] or None
    for d in opts.get(OPT_SERVERID, [])[:1]:
        lease["server_duid"] = _hex(d)
    return lease


def _hex(b):
    return "".join("%02x" % c for c in b)


def next_rt(rt_ms, rand, mrt_ms=None):
    """The next retransmission time: 2*RT + RAND*RT, capped at MRT (rand in -0.1..0.1)."""
    rt = 2 * rt_ms + int(rand * rt_ms)
    if mrt_ms and rt > mrt_ms:
        rt = mrt_ms + int(rand * mrt_ms)
    return rt


def _rand():
    return random_unit() * 0.2 - 0.1


def _exchange(sock, dest, build, xid, want, limit_ms, max_tries=0, stop=None):
    """Send build(elapsed_cs) until a message of a type in want with xid arrives;
    (type, options) or None after limit_ms or max_tries sends, or as soon as
    stop() says so (looked at every STOP_POLL_MS)."""
    import select
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    start = now_ms()
    end = start + limit_ms
    rt = 1000 + int(abs(_rand()) * 1000)   # the first Solicit's RT must exceed IRT
    tries = 0
    while True:
        now = now_ms()
        if now >= end or (max_tries and tries >= max_tries):
            return None
        sock.sendto(build((now - start) // 10), dest)
        tries += 1
        resend = now + rt
        rt = next_rt(rt, _rand(), 30000)
        while True:
            now = now_ms()
            wait = min(resend, end) - now
            if wait <= 0:
                break
            if _stopped(stop):
                return None
            if not poller.poll(int(min(wait, STOP_POLL_MS))):
                continue
            data, _ = sock.recvfrom(MAX_PACKET)
            try:
                mtype, rxid, opts = decode(data)
            except ValueError:
                continue
            if rxid != xid or mtype not in want:
                continue
            return mtype, opts


def _xid():
    return random_bits(24)


def open_socket(iface):
    import socket
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    s.setsockopt(SOL_SOCKET, SO_BINDTODEVICE, iface.encode())
    s.bind(sockaddr6(b"\0" * 16, CLIENT_PORT, 0))
    return s


def ifindex(iface):
    return int(machine.read_text("/sys/class/net/%s/ifindex" % iface).strip() or "0")


def addresses(iface, text=None):
    """[(16 bytes, prefix length, flags)] of the interface's IPv6 addresses
    (/proc/net/if_inet6: address, index, prefix length, scope, flags, name)."""
    out = []
    text = machine.read_text("/proc/net/if_inet6") if text is None else text
    for line in text.splitlines():
        f = line.split()
        if len(f) == 6 and f[5] == iface and len(f[0]) == 32:
            import binascii
            out.append((binascii.unhexlify(f[0]), int(f[2], 16), int(f[4], 16)))
    return out


IFA_F_DADFAILED, IFA_F_TENTATIVE = 0x08, 0x40


def ready_address(iface, link_local, text=None, want=None):
    """The first usable (not tentative, DAD not failed) link-local or global
    address (want: that address only), or None."""
    for addr, plen, flags in addresses(iface, text):
        ll = addr[:2] == b"\xfe\x80"
        if (want is None and ll == link_local or addr == want) and \
                not flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED):
            return addr
    return None


def wait_address(iface, link_local, seconds, want=None, stop=None):
    """Wait (bounded) for a usable address; want: that address only; stop():
    give up at once when it says so."""
    import time
    end = now_ms() + int(seconds * 1000)
    while not _stopped(stop):
        addr = ready_address(iface, link_local, None, want)
        if addr is not None:
            return addr
        if now_ms() >= end:
            return None
        time.sleep(0.05)
    return None


def obtain(iface, mac, say=print, stop=None, solicit_s=SOLICIT_S, info_s=INFO_S):
    """A DHCPv6 lease on iface (stateful, else stateless), recorded like an
    IPv4 one, or None. stop(): a callable that ends the wait early (an IPv4
    lease arrived). The interface must be up."""
    if wait_address(iface, True, DAD_S, None, stop) is None:
        if _stopped(stop):
            return None
        say("netboot: %s has no usable IPv6 link-local address after %d s" % (iface, DAD_S))
        return None
    duid = duid_ll(mac)
    iaid = iaid_of(mac)
    dest = sockaddr6(ALL_SERVERS, SERVER_PORT, ifindex(iface))
    sock = open_socket(iface)
    try:
        return _obtain(sock, dest, iface, mac, duid, iaid, say, stop, solicit_s, info_s)
    finally:
        sock.close()


def _stopped(stop):
    return stop is not None and stop()


def _obtain(sock, dest, iface, mac, duid, iaid, say, stop, solicit_s, info_s):
    lease = None
    # One exchange for the whole time, so that its retransmissions follow
    # RFC 8415 15 (RT doubling, randomised by RAND) rather than starting
    # again every second; _exchange looks at stop() every STOP_POLL_MS.
    if _stopped(stop):
        return None
    xid = _xid()
    t0 = now_ms()
    got = _exchange(sock, dest, lambda cs: encode(SOLICIT, xid, client_options(
        duid, (now_ms() - t0) // 10, iaid)), xid, (ADVERTISE,), solicit_s * 1000, 0, stop)
    if _stopped(stop):
        return None
    offered = []
    if got is not None:
        for d in got[1].get(OPT_IA_NA, []):
            try:
                offered = ia_na(d)[1]
            except ValueError:
                offered = []
    if got is not None and offered and got[1].get(OPT_SERVERID):
        server_opts = [(OPT_SERVERID, got[1][OPT_SERVERID][0]), (OPT_IA_NA, got[1][OPT_IA_NA][0])]
        xid = _xid()
        t0 = now_ms()
        reply = _exchange(sock, dest, lambda cs: encode(REQUEST, xid, client_options(
            duid, (now_ms() - t0) // 10, None, server_opts)), xid, (REPLY,), 10000, REQUEST_TRIES)
        if reply is not None:
            addrs = []
            for d in reply[1].get(OPT_IA_NA, []):
                try:
                    addrs = ia_na(d)[1]
                except ValueError:
                    pass
            problems = []
            lease = lease_from_reply(reply[1], iface, problems)
            for line in problems:
                say("netboot: %s" % line)
            if addrs:
                lease["ip6"] = inet.ipv6_text(addrs[0][0])
                lease["mode"] = "stateful"
    if lease is None:
        xid = _xid()
        t0 = now_ms()
        reply = None
        if not _stopped(stop):
            reply = _exchange(sock, dest, lambda cs: encode(INFORMATION_REQUEST, xid, client_options(
                duid, (now_ms() - t0) // 10)), xid, (REPLY,), info_s * 1000, 0, stop)
        if reply is None:
            return None
        problems = []
        lease = lease_from_reply(reply[1], iface, problems)
        for line in problems:
            say("netboot: %s" % line)
        lease["mode"] = "stateless"
    lease["mac"] = mac
    lease["duid"] = _hex(duid)
    return lease


# ---- applying a lease --------------------------------------------------------

ALL_ROUTERS = b"\xff\x02" + b"\0" * 13 + b"\x02"     # ff02::2
ROUTE_S = 3


def router_solicit(iface):
    """One ICMPv6 Router Solicitation (the kernel fills in the checksum), so
    that a router that missed the kernel's own (sent before it was up)
    answers now: a /128 stateful address has no on-link route without it."""
    import socket
    s = socket.socket(socket.AF_INET6, 3, 58)    # SOCK_RAW, IPPROTO_ICMPV6
    try:
        s.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255)
        s.setsockopt(SOL_SOCKET, SO_BINDTODEVICE, iface.encode())
        s.sendto(b"\x85\0\0\0\0\0\0\0", sockaddr6(ALL_ROUTERS, 0, ifindex(iface)))
    finally:
        s.close()


def has_route(iface, text=None):
    """Whether the interface has an IPv6 route from a router advertisement: a
    prefix (not fe80::/64, not a /128) or a default route (/proc/net/ipv6_route:
    destination, prefix length, ..., device last)."""
    text = machine.read_text("/proc/net/ipv6_route") if text is None else text
    for line in text.splitlines():
        f = line.split()
        if len(f) == 10 and f[9] == iface:
            plen = int(f[1], 16)
            if plen < 128 and not f[0].startswith("fe80") and not f[0].startswith("ff"):
                return True
    return False


def wait_route(iface, seconds):
    import time
    end = now_ms() + int(seconds * 1000)
    while not has_route(iface):
        if now_ms() >= end:
            return False
        time.sleep(0.05)
    return True

def configure(lease, say=print):
    """Add the stateful address (/128) and wait for its DAD, or wait for the
    kernel's SLAAC address; resolv.conf from the DNS servers."""
    iface = lease["interface"]
    if lease.get("ip6"):
        rc = machine.run(["ip", "-6", "addr", "add", "%s/128" % lease["ip6"], "dev", iface])
        if rc != 0:
            say("netboot: ip -6 addr add %s/128 dev %s failed (%d)" % (lease["ip6"], iface, rc))
        elif not machine.DRY_RUN and wait_address(iface, False, DAD_S,
                                                  inet.parse_ipv6(lease["ip6"])) is None:
            say("netboot: %s on %s still tentative (duplicate address detection) after %d s"
                % (lease["ip6"], iface, DAD_S))
        if not machine.DRY_RUN and not has_route(iface):
            try:
                router_solicit(iface)
            except OSError as e:
                say("netboot: router solicitation on %s failed: %s" % (iface, e))
            if not wait_route(iface, ROUTE_S):
                say("netboot: no router advertisement on %s: only link-local servers are reachable" % iface)
    elif not machine.DRY_RUN:
        addr = wait_address(iface, False, 0.5)
        if addr is None:
            try:
                router_solicit(iface)
            except OSError as e:
                say("netboot: router solicitation on %s failed: %s" % (iface, e))
            addr = wait_address(iface, False, SLAAC_S)
        if addr is not None:
            lease["ip6"] = inet.ipv6_text(addr)
    leases.record(lease)
    return lease
