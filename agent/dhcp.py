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
"""

import json

from agent import machine
from agent.compat import os, path_join

LEASE_DIR = "/run/netboot"
RESOLV_CONF = "/etc/resolv.conf"
REQUEST_OPTIONS = (66, 67, 209, 210, 211)
CLIENT_ARCH = 0x001F
VENDOR_CLASS = "PXEClient:Arch:%05d:UNDI:003016" % CLIENT_ARCH
HOOK = "/usr/share/udhcpc/default.script"


class LeaseError(Exception):
    pass


def udhcpc_argv(iface, hook=HOOK, tries=4, wait=2):
    argv = ["udhcpc", "-i", iface, "-f", "-q", "-n", "-t", str(tries), "-T", str(wait),
            "-s", hook, "-V", VENDOR_CLASS, "-x", "0x5d:%04x" % CLIENT_ARCH, "-o"]
    for opt in (1, 3, 6, 12, 15, 28, 51, 54) + REQUEST_OPTIONS:
        argv += ["-O", str(opt)]
    return argv


def option_text(value):
    """An option udhcpc passes as hex (unknown codes such as 209/210) or as text."""
    if value is None:
        return None
    v = value.strip()
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
    bits = 0
    for part in mask.split("."):
        n = int(part)
        while n & 0x80:
            bits += 1
            n = (n << 1) & 0xFF
    return bits


def lease_from_env(env):
    """The lease record from udhcpc's environment (a dict)."""
    get = env.get
    lease = {
        "interface": get("interface"),
        "ip": get("ip"),
        "netmask": get("subnet"),
        "prefix": int(get("mask")) if get("mask") else (prefix_len(get("subnet")) if get("subnet") else None),
        "broadcast": get("broadcast"),
        "router": (get("router") or "").split()[0] if get("router") else None,
        "dns": (get("dns") or "").split(),
        "domain": get("domain"),
        "hostname": get("hostname"),
        "siaddr": get("siaddr"),
        "server_id": get("serverid"),
        "opt66": option_text(get("tftp") or get("opt66")),
        "opt67": option_text(get("bootfile") or get("opt67")),
        "boot_file": get("boot_file"),
        # busybox names 209-211 (pxeconffile, pxepathprefix, reboottime); builds
        # that do not know them pass optNNN as hex.
        "opt209": get("pxeconffile") or option_text(get("opt209")),
        "opt210": get("pxepathprefix") or option_text(get("opt210")),
        "opt211": None,
        "mac": None,
        "lease": get("lease"),
    }
    try:
        if get("reboottime"):
            lease["opt211"] = int(get("reboottime"))
        elif get("opt211"):
            lease["opt211"] = int(get("opt211"), 16)
    except ValueError:
        lease["opt211"] = None
    if lease["siaddr"] == "0.0.0.0":
        lease["siaddr"] = None
    return lease


def boot_server(lease):
    """Option 66, else siaddr, else the server identifier; LeaseError when none."""
    for key in ("opt66", "siaddr", "server_id"):
        if lease.get(key):
            return lease[key]
    raise LeaseError("the DHCP lease on %s names no boot server (no option 66, siaddr or "
                     "server identifier)" % lease.get("interface"))


def bootfile(lease):
    return lease.get("opt67") or lease.get("boot_file")


def lease_dir():
    """Where leases are recorded (NETBOOT_LEASE_DIR overrides it, for tests on a host)."""
    return os.getenv("NETBOOT_LEASE_DIR") or LEASE_DIR


def lease_path(iface):
    return path_join(lease_dir(), "lease-%s.json" % iface)


def resolv_conf(lease):
    lines = []
    if lease.get("domain"):
        lines.append("search %s" % lease["domain"])
    for ns in lease.get("dns") or []:
        lines.append("nameserver %s" % ns)
    return "\n".join(lines) + "\n" if lines else ""


def configure_commands(lease):
    """The commands that configure an interface for a lease (bound/renew)."""
    iface = lease["interface"]
    cmds = [["ip", "addr", "flush", "dev", iface],
            ["ip", "link", "set", iface, "up"]]
    add = ["ip", "addr", "add", "%s/%d" % (lease["ip"], lease["prefix"] or 32)]
    if lease.get("broadcast"):
        add += ["broadcast", lease["broadcast"]]
    cmds.append(add + ["dev", iface])
    if lease.get("router"):
        cmds.append(["ip", "route", "replace", "default", "via", lease["router"], "dev", iface])
    return cmds


def deconfigure_commands(iface):
    return [["ip", "addr", "flush", "dev", iface], ["ip", "link", "set", iface, "up"]]


def hook(argv=None, environ=None):
    """Entry point of the udhcpc hook script; returns the exit status."""
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
        lease = lease_from_env(env)
        lease["mac"] = machine.mac_of(iface)
        for cmd in configure_commands(lease):
            rc = machine.run(cmd)
            if rc != 0:
                print("netboot: %s failed (%d)" % (" ".join(cmd), rc))
        text = resolv_conf(lease)
        if text:
            machine.write_file(os.getenv("NETBOOT_RESOLV_CONF") or RESOLV_CONF, text)
        machine.makedirs(lease_dir())
        machine.write_file(lease_path(iface), json.dumps(lease))
        return 0
    return 0


def _environ():
    keys = ("interface", "ip", "subnet", "mask", "broadcast", "router", "dns", "domain", "hostname",
            "siaddr", "serverid", "tftp", "bootfile", "boot_file", "opt66", "opt67", "opt209",
            "opt210", "opt211", "pxeconffile", "pxepathprefix", "reboottime", "lease", "sname")
    env = {}
    for k in keys:
        v = os.getenv(k)
        if v is not None:
            env[k] = v
    return env


def read_lease(iface):
    try:
        with open(lease_path(iface)) as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None
