"""DHCP through busybox udhcpc, with the agent as its hook script.

The agent does not speak DHCP itself. It runs ``udhcpc -s HOOK`` on one
interface; udhcpc calls the hook with an event (deconfig, bound, renew,
leasefail, nak) and the lease in environment variables. The hook
configures the interface (address, prefix length, broadcast, default route,
resolv.conf) on bound/renew, undoes it on deconfig, and records the lease as
JSON for the boot flow.

Requested options: 66 (TFTP server name), 67 (boot file), 209 (config
file), 210 (path prefix), 211 (reboot time). Sent: client architecture
0x001F (s390, option 93) and the vendor class
``PXEClient:Arch:00031:UNDI:003016`` (option 60), so that
architecture-aware DHCP servers hand s390 guests their boot file.

The boot server is option 66, else the BOOTP siaddr, else the server
identifier (option 54).

Every value is checked where it enters (lease_from_env): addresses must be
dotted-quad IPv4, the netmask contiguous, the prefix length 0-32, names
(domain, host name, option 66) DNS-like, file names and prefixes free of
control characters, option 211 a number of seconds. A bad value is dropped
with one line naming the option and the value (shown escaped), and the rest
of the lease is used. Bytes that are not UTF-8 count as bad values.
"""

from agent import inet, lease as leases, machine
from agent.compat import os
from agent.inet import dns_name as _name
from agent.text import value_text as show

REQUEST_OPTIONS = (66, 67, 209, 210, 211)
CLIENT_ARCH = 0x001F
VENDOR_CLASS = "PXEClient:Arch:%05d:UNDI:003016" % CLIENT_ARCH
HOOK = "/usr/share/udhcpc/default.script"


def udhcpc_argv(iface, hook=HOOK, tries=4, wait=2, pidfile=None):
    argv = ["udhcpc", "-i", iface, "-f", "-q", "-n", "-t", str(tries), "-T", str(wait)]
    if pidfile:
        argv += ["-p", pidfile]
    argv += ["-s", hook, "-V", VENDOR_CLASS, "-x", "0x5d:%04x" % CLIENT_ARCH, "-o"]
    for opt in (1, 3, 6, 12, 15, 28, 51, 54) + REQUEST_OPTIONS:
        argv += ["-O", str(opt)]
    return argv


def option_text(value):
    """An option udhcpc passes as hex (unknown codes such as 209/210) or as text."""
    if value is None:
        return None
    v = value.strip(" ")
    if v and len(v) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in v):
        try:
            import binascii
            text = binascii.unhexlify(v).decode()
            text = text.rstrip("\0")
            if text and all(32 <= ord(c) < 127 for c in text):
                return text
        except (ValueError, UnicodeError):
            pass
    return v


def prefix_len(mask):
    """The prefix length of a dotted-quad netmask; ValueError unless contiguous."""
    n = 0
    for part in inet.parse_ipv4(mask):
        n = (n << 8) | part
    bits = 0
    while n & 0x80000000:
        bits += 1
        n = (n << 1) & 0xFFFFFFFF
    if n:
        raise ValueError("not a contiguous netmask")
    return bits


NOT_TEXT = "\ufffd"    # what _environ records for a value that is not UTF-8
MAX_REBOOT_S = 7 * 86400


def _ipv4(value):
    try:
        inet.parse_ipv4(value)
    except ValueError:
        raise ValueError("not an IPv4 address")
    return value


def _host(value):
    """Option 66: an IPv4 address or a DNS name."""
    try:
        return _ipv4(value)
    except ValueError:
        return _name(value)


def _text(value):
    """A file name or prefix: printable ASCII without spaces or control characters."""
    if not value or not all(32 < ord(c) < 127 for c in value):
        raise ValueError("control characters, spaces or bytes outside ASCII")
    return value


def lease_from_env(env, problems=None):
    """The lease record from udhcpc's environment (a dict).

    A value that fails its check is left out and a line saying so is added
    to problems (a list) when given.
    """
    problems = problems if problems is not None else []

    def take(key, check, value, what=None):
        if value is None:
            return None
        try:
            return check(value)
        except ValueError as e:
            problems.append("DHCP %s %s ignored: %s" % (what or key, show(value), e))
            return None

    def text(named, code):
        # udhcpc names options it knows (tftp, bootfile) and passes them as text:
        # a boot file called 73333930 stays that. Only an optNNN value is hex.
        if get(named) is not None:
            return get(named)
        return option_text(get(code)) if get(code) is not None else None
    get = env.get
    prefix = take("mask", _prefix, get("mask"), "prefix length (mask)")
    netmask = take("subnet", _ipv4, get("subnet"), "subnet mask")
    if netmask is not None:
        netmask_prefix = take("subnet", prefix_len, netmask, "subnet mask")
        if netmask_prefix is None:
            netmask = None
        elif prefix is None:
            prefix = netmask_prefix
    routers = []
    if get("router") is not None:
        for r in get("router").split() or [get("router")]:
            r = take("router", _ipv4, r)
            if r:
                routers.append(r)
    dns = []
    for d in (get("dns") or "").split():
        d = take("dns", _ipv4, d, "DNS server")
        if d:
            dns.append(d)
    domains = []
    raw = get("domain")
    if raw is not None and (not raw.split() or not all(32 <= ord(c) < 127 for c in raw)):
        # Empty, or a newline or other control character: the whole value goes.
        take("domain", _name, "", "domain")
        problems[-1] = "DHCP domain %s ignored: not a list of DNS names" % show(raw)
    else:
        for d in (raw or "").split():
            d = take("domain", _name, d, "domain")
            if d:
                domains.append(d)
    lease = {
        "interface": take("interface", _name, get("interface")),
        "ip": take("ip", _ipv4, get("ip"), "address"),
        "netmask": netmask,
        "prefix": prefix,
        "broadcast": take("broadcast", _ipv4, get("broadcast")),
        "router": routers[0] if routers else None,
        "dns": dns,
        "domain": " ".join(domains) or None,
        "hostname": take("hostname", _name, get("hostname"), "host name"),
        "siaddr": take("siaddr", _ipv4, get("siaddr"), "next server (siaddr)"),
        "server_id": take("serverid", _ipv4, get("serverid"), "server identifier"),
        "opt66": take("opt66", _host, text("tftp", "opt66"), "option 66 (TFTP server)"),
        "opt67": take("opt67", _text, text("bootfile", "opt67"), "option 67 (boot file)"),
        "boot_file": take("boot_file", _text, get("boot_file"), "BOOTP file"),
        # busybox names 209-211 (pxeconffile, pxepathprefix, reboottime); builds
        # that do not know them pass optNNN as hex.
        "opt209": take("opt209", _text, get("pxeconffile"), "option 209 (config file)") or
        take("opt209", _hex_text, get("opt209"), "option 209 (config file)"),
        "opt210": take("opt210", _text, get("pxepathprefix"), "option 210 (path prefix)") or
        take("opt210", _hex_text, get("opt210"), "option 210 (path prefix)"),
        "opt211": None,
        "mac": None,
        "lease": take("lease", _seconds, get("lease"), "lease time"),
    }
    if get("reboottime") is not None:
        lease["opt211"] = take("opt211", _seconds, get("reboottime"), "option 211 (reboot time)")
    elif get("opt211") is not None:
        lease["opt211"] = take("opt211", _hex_seconds, get("opt211"), "option 211 (reboot time)")
    if lease["opt211"] is not None and not 0 < lease["opt211"] <= MAX_REBOOT_S:
        problems.append("DHCP option 211 (reboot time) %d ignored: want 1-%d seconds"
                        % (lease["opt211"], MAX_REBOOT_S))
        lease["opt211"] = None
    if lease["siaddr"] == "0.0.0.0":
        lease["siaddr"] = None
    return lease


def _hex_text(value):
    """An option udhcpc passes as hex (optNNN): its bytes must be printable text."""
    import binascii
    v = value.strip()
    try:
        data = binascii.unhexlify(v)
    except ValueError:
        raise ValueError("not hex")
    while data.endswith(b"\0"):
        data = data[:-1]
    if not data or not all(32 < b < 127 for b in data):
        raise ValueError("control characters, spaces or bytes outside ASCII")
    return data.decode()


def _prefix(value):
    if not inet.is_digits(value) or not 0 <= int(value) <= 32:
        raise ValueError("want 0-32")
    return int(value)


def _seconds(value):
    if not inet.is_digits(value) or len(value) > 10:
        raise ValueError("want a number of seconds")
    return int(value)


def _hex_seconds(value):
    v = value.strip()
    if not v or len(v) > 8 or not all(c in "0123456789abcdefABCDEF" for c in v):
        raise ValueError("want a 32-bit number")
    return int(v, 16)


def configure_commands(lease):
    """The commands that configure an interface for a lease (bound/renew)."""
    iface = lease["interface"]
    # -4: busybox's `ip addr flush` removes every family, the link-local IPv6
    # address and the DHCPv6 one the agent is getting at the same time included.
    cmds = [["ip", "-4", "addr", "flush", "dev", iface],
            ["ip", "link", "set", iface, "up"]]
    add = ["ip", "addr", "add", "%s/%d" % (lease["ip"], lease["prefix"] or 32)]
    if lease.get("broadcast"):
        add += ["broadcast", lease["broadcast"]]
    cmds.append(add + ["dev", iface])
    if lease.get("router"):
        cmds.append(["ip", "route", "replace", "default", "via", lease["router"], "dev", iface])
    return cmds


def deconfigure_commands(iface):
    return [["ip", "-4", "addr", "flush", "dev", iface], ["ip", "link", "set", iface, "up"]]


def hook(argv=None, environ=None):
    """Entry point of the udhcpc hook script; returns the exit status.

    Whatever the lease holds, it ends with one line, never a traceback."""
    try:
        return _hook(argv, environ)
    except Exception as e:  # noqa: BLE001 -- values from the network must not crash it
        print("netboot: udhcpc hook failed: %s: %s" % (type(e).__name__, show(str(e))))
        return 1


def _hook(argv, environ):
    import sys
    argv = argv if argv is not None else sys.argv
    event = argv[1] if len(argv) > 1 else ""
    env = environ if environ is not None else _environ()
    iface = env.get("interface") or "?"
    if event == "deconfig":
        for cmd in deconfigure_commands(iface):
            machine.run(cmd)
        return 0
    if event in ("bound", "renew"):
        problems = []
        lease = lease_from_env(env, problems)
        for line in problems:
            print("netboot: %s" % line)
        if not lease["ip"] or not lease["interface"]:
            print("netboot: DHCP lease on %s without a usable address: not configured" % show(iface))
            return 0
        lease["mac"] = machine.mac_of(iface)
        for cmd in configure_commands(lease):
            rc = machine.run(cmd)
            if rc != 0:
                print("netboot: %s failed (%d)" % (" ".join(cmd), rc))
        leases.record(lease)
        return 0
    return 0


def _environ():
    keys = ("interface", "ip", "subnet", "mask", "broadcast", "router", "dns", "domain", "hostname",
            "siaddr", "serverid", "tftp", "bootfile", "boot_file", "opt66", "opt67", "opt209",
            "opt210", "opt211", "pxeconffile", "pxepathprefix", "reboottime", "lease", "sname")
    env = {}
    for k in keys:
        try:
            v = os.getenv(k)
        except UnicodeError:  # MicroPython: bytes that are not UTF-8
            v = NOT_TEXT
        if v is not None:
            env[k] = v
    return env
