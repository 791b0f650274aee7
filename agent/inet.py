"""Addresses, host names, host:port and URLs: the agent's leaf module (it
imports nothing of the agent's).

IPv4 in dotted quads; IPv6 as RFC 4291 text, printed as RFC 5952 writes it;
a link-local address's zone as RFC 6874 writes it in a URL
(``[fe80::1%25eth0]``; a bare ``%eth0`` is taken too). URLs are
tftp://, http:// and https:// with an optional port. Digits are ASCII digits
only ('²' is no digit here, whatever str.isdigit says on CPython).
"""


def is_digits(text):
    """Whether text is one or more ASCII digits (CPython's str.isdigit also
    takes '²' and '¹', which int() then refuses)."""
    return bool(text) and all("0" <= c <= "9" for c in text)


def parse_ipv4(ip):
    parts = ip.split(".")
    if len(parts) != 4:
        raise ValueError("IPv4 address %r: want four numbers like 192.0.2.10" % ip)
    out = []
    for p in parts:
        try:
            n = int(p)
        except ValueError:
            n = -1
        if n < 0 or n > 255 or not is_digits(p):
            raise ValueError("IPv4 address %r: want four numbers 0-255 like 192.0.2.10" % ip)
        out.append(n)
    return out


def parse_ipv6(text):
    """An IPv6 address (no zone) as 16 bytes; ValueError when it is not one."""
    bad = ValueError("IPv6 address %r: want hex groups like 2001:db8::1" % text)
    if not text or len(text) > 45 or text.count("::") > 1:
        raise bad
    tail = []
    if "." in text:
        # An embedded IPv4 address (::ffff:192.0.2.1): the last 32 bits.
        i = text.rfind(":")
        tail = parse_ipv4(text[i + 1:])
        text = text[:i + 1] + "0:0"
    if "::" in text:
        head, rest = text.split("::")
        left = head.split(":") if head else []
        right = rest.split(":") if rest else []
        if len(left) + len(right) > 7:
            raise bad
        groups = left + ["0"] * (8 - len(left) - len(right)) + right
    else:
        groups = text.split(":")
    if len(groups) != 8:
        raise bad
    out = bytearray()
    for g in groups:
        if not 1 <= len(g) <= 4 or not all(c in "0123456789abcdefABCDEF" for c in g):
            raise bad
        n = int(g, 16)
        out.append(n >> 8)
        out.append(n & 255)
    if tail:
        out[12:16] = bytes(tail)
    return bytes(out)


def ipv6_text(addr):
    """16 bytes as the RFC 5952 text form (lower case, the longest run of zero
    groups as '::')."""
    groups = [(addr[i] << 8) | addr[i + 1] for i in range(0, 16, 2)]
    best, best_len, i = -1, 1, 0
    while i < 8:
        if groups[i] == 0:
            j = i
            while j < 8 and groups[j] == 0:
                j += 1
            if j - i > best_len:
                best, best_len = i, j - i
            i = j
        else:
            i += 1
    parts = ["%x" % g for g in groups]
    if best < 0:
        return ":".join(parts)
    return ":".join(parts[:best]) + "::" + ":".join(parts[best + best_len:])


ZONE_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."


def split_zone(host):
    """(address, zone or None) of 'fe80::1%eth0'; ValueError for a bad one."""
    addr, zone = host, None
    if "%" in host:
        addr, zone = host.split("%", 1)
        if not zone or len(zone) > 15 or not all(c in ZONE_CHARS for c in zone):
            raise ValueError("IPv6 zone %r: want an interface name like eth0" % zone)
    parse_ipv6(addr)
    return addr, zone


def is_ipv6(host):
    """Whether a host is an IPv6 address, zone or not (two colons at least:
    'HOST:PORT' is not one)."""
    return (host or "").count(":") > 1


def url_host(host):
    """A host as written in a URL: an IPv6 address in brackets, its zone as %25."""
    if is_ipv6(host) and not host.startswith("["):
        return "[" + host.replace("%", "%25") + "]"
    return host


def split_url(url):
    """(scheme, host, port or None, path) of a tftp://, http:// or https:// URL.

    For tftp the path is the file name as requested (no leading '/' added or
    removed beyond the one that ends the host part). An IPv6 host comes
    without its brackets, its zone (%25eth0 or %eth0) as '%eth0'; ValueError
    for a malformed one.
    """
    i = url.find("://")
    if i < 0:
        raise ValueError("not a URL: %r" % url)
    scheme = url[:i].lower()
    rest = url[i + 3:]
    j = rest.find("/")
    hostport, path = (rest, "") if j < 0 else (rest[:j], rest[j + 1:])
    port = None
    if hostport.startswith("["):
        k = hostport.find("]")
        if k < 0:
            raise ValueError("no ']' after the IPv6 address")
        host = hostport[1:k].replace("%25", "%")
        split_zone(host)
        if hostport[k + 1:k + 2] == ":":
            port = _port(hostport[k + 2:])
        elif hostport[k + 1:]:
            raise ValueError("%r after the IPv6 address" % hostport[k + 1:])
    elif hostport.count(":") > 1:
        raise ValueError("an IPv6 address in a URL needs brackets: [%s]" % hostport)
    elif ":" in hostport:
        host, p = hostport.rsplit(":", 1)
        port = _port(p)
    else:
        host = hostport
    if port is not None and not 0 < port < 65536:
        raise ValueError("port %d is out of range (1-65535)" % port)
    if scheme in ("http", "https"):
        path = "/" + path
    return scheme, host, port, path


def _port(text):
    if not is_digits(text) or len(text) > 5:
        raise ValueError("port %r is not a number" % text)
    return int(text)


def host_port(text, default_port):
    """(host, port) of HOST, HOST:PORT, [V6] or [V6]:PORT; ValueError when it is
    malformed or the port is not 1-65535."""
    port = None
    if text.startswith("[") and "]" in text:
        host, rest = text[1:].split("]", 1)
        if rest.startswith(":"):
            port = rest[1:]
        elif rest:
            raise ValueError("server %r: want HOST, HOST:PORT or [IPV6]:PORT" % text)
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host = text
    if not host:
        raise ValueError("server %r has no host" % text)
    if port is None:
        return host, default_port
    if not is_digits(port) or len(port) > 5 or not 0 < int(port) < 65536:
        raise ValueError("server %r: port %r is not a number from 1 to 65535" % (text, port))
    return host, int(port)


NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."


def dns_name(value):
    """value when it is a DNS-like name (letters, digits, '-', '_', '.'; at most
    253 characters, no empty label); ValueError otherwise."""
    if not value or len(value) > 253 or not all(c in NAME_CHARS for c in value) or \
            value.startswith(".") or ".." in value:
        raise ValueError("not a DNS name")
    return value


def https_hosts(value):
    """The host list of pxe.https-host=H[,H...] / --https-host (lower case,
    IPv6 without brackets), or None when the option is not given."""
    if not isinstance(value, str) or not value:
        return None
    hosts = []
    for h in value.split(","):
        h = h.strip().lower()
        if h.startswith("[") and h.endswith("]"):
            h = h[1:-1]
        if h:
            hosts.append(h)
    return hosts or None


AF_INET = 2   # Linux's number, the same on both interpreters


def address_order(infos):
    """The socket addresses of a getaddrinfo answer in the order a client
    tries them: the IPv4 ones first, then the others, each in the resolver's
    order, each once (a name listed twice, or once per socket type, gives
    the same address again). A server name with several addresses is
    several servers: a connection that fails goes on to the next."""
    out = []
    for v4 in (True, False):
        for info in infos:
            addr = info[-1]
            if (info[0] == AF_INET) == v4 and addr not in out:
                out.append(addr)
    return out
