"""Where PXELINUX looks for its configuration, and how it names files (pure logic).

Decided as Syslinux 6.04's code decides (core/fs/pxe/pxe.c, urlparse.c,
core/sysappend.c), not only as doc/pxelinux.txt describes:

- the working directory starts as DHCP option 210 when given, else the boot
  file name (option 67 / the BOOTP file field) cut after its last character
  that is not a letter, digit, '.' or '-' (so ``boot\\pxelinux.0`` gives
  ``boot\\``); a prefix with no ``::`` or ``://`` is taken from the server
  root, i.e. becomes ``::prefix`` (pxe.c:get_prefix);
- the config names tried, in order, under that directory: the option-209
  file; pxelinux.cfg/<uuid> (lower case, 8-4-4-4-12) only when the UUID is
  valid, i.e. its byte 6 is 0x10..0xef (sysappend.c:is_valid_uuid);
  pxelinux.cfg/01-<mac>; the IPv4 address as 8 upper-case hex digits, then
  shortened one digit at a time down to one; pxelinux.cfg/default
  (pxe.c:pxe_open_config);
- a name's kind is decided by its first ':' (urlparse.c:url_type): followed
  by '//' it is a URL; followed by ':' it is ``host::file`` (``::file``: the
  boot server), a file from that server's root without the prefix; anything
  else is relative and gets the working directory in front
  (pxe.c:pxe_realpath, urlparse.c:parse_url);
- changing directory (CONFIG file dir) appends a relative directory to the
  working directory as text, and replaces it with an absolute one
  (pxe.c:pxe_chdir).

Locations are URLs: tftp://SERVER/NAME (NAME as sent in the TFTP request),
http://HOST[:PORT]/PATH or https://HOST[:PORT]/PATH. An IPv6 host is written in brackets
(``tftp://[2001:db8::1]/NAME``), a link-local one with its zone as RFC 6874
writes it (``[fe80::1%25eth0]``; a bare ``%eth0`` is taken too).

On IPv6 (docs/reference.md, "IPv6"), PXELINUX defined nothing: the agent
takes the working directory from DHCPv6 option 59 (bootfile-url) up to its
last '/', and tries the same names as on IPv4 minus the hex-IP ones
(probe_names without ip).
"""

from agent.text import decode
from agent.inet import parse_ipv4, url_host

HEX = "0123456789abcdef"

# urlparse.c: enum url_type
URL_NORMAL = "url"          # scheme://host/path
URL_OLD_TFTP = "host::"     # host::path, ::path
URL_SUFFIX = "relative"     # gets the working directory in front


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


def url_prefix(url):
    """An IPv6 boot file URL's working directory: the URL up to its last '/'."""
    i = url.find("://")
    j = url.rfind("/")
    return url[:j + 1] if j > i + 2 else url + "/"


def ip_hex(ip):
    return "".join("%02X" % n for n in parse_ipv4(ip))


def valid_uuid(uuid):
    """Whether PXELINUX uses a UUID at all (sysappend.c:is_valid_uuid): its byte 6
    (the first two digits of the third group) is 0x10..0xef, i.e. the version
    nibble is neither 0 nor 15. An invalid UUID names no config file and gives
    no SYSUUID=."""
    digits = normalise_uuid(uuid).replace("-", "")
    b6 = int(digits[12:14], 16)
    return 0x10 <= b6 < 0xf0


def url_type(name):
    """urlparse.c:url_type: decided by the first ':' of the name."""
    i = name.find(":")
    if i < 0:
        return URL_SUFFIX
    if name[i + 1:i + 3] == "//":
        return URL_NORMAL
    if name[i + 1:i + 2] == ":":
        return URL_OLD_TFTP
    return URL_SUFFIX


def _name_char(ch):
    # pxe.c:get_prefix ORs 0x20 into the byte, then accepts 0-9, a-z, '.', '-'.
    c = ord(ch) | 0x20
    return 0x30 <= c <= 0x39 or 0x61 <= c <= 0x7a or c == 0x2e or c == 0x2d


def bootfile_prefix(bootfile):
    """The boot file name up to and including its last character outside
    [A-Za-z0-9.-] ('' when it has none): pxe.c:get_prefix without option 210."""
    i = len(bootfile or "")
    while i > 0 and _name_char(bootfile[i - 1]):
        i -= 1
    return (bootfile or "")[:i]


def prefix(bootfile=None, opt210=None):
    """The working directory PXELINUX starts in (pxe.c:get_prefix): option 210,
    else the boot file's prefix; a relative one is made '::'-absolute."""
    p = opt210 if opt210 else bootfile_prefix(bootfile)
    if url_type(p) == URL_SUFFIX:
        p = "::" + p
    return p


def chdir(cwd, directory):
    """pxe.c:pxe_chdir: a relative directory is appended to the working directory
    as text (no '/' added); a '::' or URL one replaces it."""
    if url_type(directory) == URL_SUFFIX:
        return cwd + directory
    return directory


def probe_names(mac=None, ip=None, uuid=None, opt209=None):
    """Config file names, relative to the working directory, in the order
    pxe.c:pxe_open_config tries them."""
    names = []
    if opt209:
        names.append(opt209)
    if uuid and valid_uuid(uuid):
        names.append("pxelinux.cfg/" + normalise_uuid(uuid))
    if mac:
        names.append("pxelinux.cfg/01-" + normalise_mac(mac).replace(":", "-"))
    if ip:
        h = ip_hex(ip)
        for n in range(8, 0, -1):
            names.append("pxelinux.cfg/" + h[:n])
    names.append("pxelinux.cfg/default")
    return names


def unescape(text, stop):
    """urlparse.c:url_unescape: %XX decoded (a '%' without two hex digits stays
    as it is), ending at the first unescaped stop character."""
    if "%" not in text:
        i = text.find(stop)
        return text if i < 0 else text[:i]
    # Bytes, as Syslinux decodes them: '%C3%A9' is the two bytes of UTF-8's
    # 'é', sent as those two bytes again (not as four after a second encoding).
    out = bytearray()
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == stop:
            break
        if c == "%" and i + 2 < n and text[i + 1].lower() in HEX and text[i + 2].lower() in HEX:
            b = int(text[i + 1:i + 3], 16)
            if b == 0:
                break   # '%00': the C string url_unescape writes ends there
            out.append(b)
            i += 3
            continue
        out += c.encode("utf-8")
        i += 1
    return decode(bytes(out))


def location(full, server):
    """The URL of an absolute name (urlparse.c:parse_url): scheme://host/path
    (the path cut at '#'; for tftp, %XX decoded and cut at ';' as
    tftp.c:tftp_open does), host::path from that host's TFTP root with no
    decoding; an empty host is the boot server (pxe.c:url_set_ip)."""
    kind = url_type(full)
    if kind == URL_NORMAL:
        i = full.find("://")
        scheme, rest = full[:i], full[i + 3:]
        j = rest.find("/")
        host, path = (rest, "") if j < 0 else (rest[:j], rest[j + 1:])
        path = path.split("#", 1)[0]
        if scheme == "tftp":
            path = unescape(path, ";")
        return "%s://%s/%s" % (scheme, host or url_host(server), path)
    if kind == URL_OLD_TFTP:
        i = full.find(":")
        return "tftp://%s/%s" % (full[:i] or url_host(server), full[i + 2:])
    return "tftp://%s/%s" % (url_host(server), full)


def resolve(name, cwd, server):
    """The URL of a file name met in a config, a DHCP option or at the prompt,
    with cwd the working directory (pxe.c:__pxe_searchdir)."""
    if url_type(name) == URL_SUFFIX:
        name = cwd + name
    return location(name, server)


def display(url, server):
    """A URL as an administrator would name it: the TFTP file name on the boot server."""
    head = "tftp://%s/" % url_host(server)
    if url.startswith(head):
        return url[len(head):]
    return url
