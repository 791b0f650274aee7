"""Where PXELINUX looks for its configuration, and how it names files (pure logic).

After doc/pxelinux.txt of the Syslinux project:

- the path prefix is DHCP option 210 when given, else the directory part of
  the boot file name (option 67 / the BOOTP file field) up to its last '/';
- the config names tried, in order, under the prefix: the option-209 file;
  pxelinux.cfg/<uuid> (lower case, 8-4-4-4-12); pxelinux.cfg/01-<mac> (lower
  case, dash-separated, 01 = Ethernet); the IPv4 address as 8 upper-case hex
  digits, then shortened one digit at a time down to one; pxelinux.cfg/default;
- a file name is relative to the prefix; one starting with '::' is taken from
  the server root without the prefix; one containing '://' is a URL.

Locations are URLs: tftp://SERVER/NAME (NAME as sent in the TFTP request) or
http://HOST[:PORT]/PATH.
"""

HEX = "0123456789abcdef"


def normalise_mac(mac):
    """'52:54:00:AB:cd:01' (or with dashes, or bare hex) as '52:54:00:ab:cd:01'."""
    digits = "".join(c for c in mac.lower() if c in HEX)
    if len(digits) != 12:
        raise ValueError("MAC address %r: want six hex bytes like 52:54:00:12:34:56" % mac)
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def normalise_uuid(uuid):
    digits = "".join(c for c in uuid.lower() if c in HEX)
    if len(digits) != 32:
        raise ValueError("UUID %r: want 32 hex digits like 2a9f0c5e-1b3d-4c2e-8f00-0123456789ab" % uuid)
    return "%s-%s-%s-%s-%s" % (digits[:8], digits[8:12], digits[12:16], digits[16:20], digits[20:])


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
        if n < 0 or n > 255 or not p.isdigit():
            raise ValueError("IPv4 address %r: want four numbers 0-255 like 192.0.2.10" % ip)
        out.append(n)
    return out


def ip_hex(ip):
    return "".join("%02X" % n for n in parse_ipv4(ip))


def prefix(bootfile=None, opt210=None):
    if opt210:
        return opt210
    if bootfile and "/" in bootfile:
        return bootfile[:bootfile.rfind("/") + 1]
    return ""


def probe_names(mac=None, ip=None, uuid=None, opt209=None):
    """Config file names, relative to the prefix, in the order PXELINUX tries them."""
    names = []
    if opt209:
        names.append(opt209)
    if uuid:
        names.append("pxelinux.cfg/" + normalise_uuid(uuid))
    if mac:
        names.append("pxelinux.cfg/01-" + normalise_mac(mac).replace(":", "-"))
    if ip:
        h = ip_hex(ip)
        for n in range(8, 0, -1):
            names.append("pxelinux.cfg/" + h[:n])
    names.append("pxelinux.cfg/default")
    return names


def is_url(name):
    return "://" in name


def resolve(name, prefix_, server):
    """The URL of a file name met in a config or a DHCP option."""
    if is_url(name):
        return name
    if name.startswith("::"):
        return "tftp://%s/%s" % (server, name[2:])
    full = prefix_ + name
    if is_url(full):
        return full
    return "tftp://%s/%s" % (server, full)


def split_url(url):
    """(scheme, host, port or None, path) of a tftp:// or http:// URL.

    For tftp the path is the file name as requested (no leading '/' added or
    removed beyond the one that ends the host part).
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
        host = hostport[1:k]
        if hostport[k + 1:k + 2] == ":":
            port = int(hostport[k + 2:])
    elif ":" in hostport:
        host, p = hostport.rsplit(":", 1)
        port = int(p)
    else:
        host = hostport
    if scheme == "http":
        path = "/" + path
    return scheme, host, port, path


def display(url, server):
    """A URL as an administrator would name it: the TFTP file name on the boot server."""
    head = "tftp://%s/" % server
    if url.startswith(head):
        return url[len(head):]
    return url
