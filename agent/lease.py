"""The lease record, for DHCPv4 (agent.dhcp, through udhcpc) and DHCPv6
(agent.dhcp6) alike: where it is kept, what it names as boot server and boot
file, and the resolv.conf it gives.

A lease is a dict written as JSON to /run/netboot/lease-IFACE.json (IPv4)
or lease6-IFACE.json (IPv6; "family": 6).
"""

import json

from agent import inet, machine
from agent.compat import os, path_join

LEASE_DIR = "/run/netboot"
RESOLV_CONF = "/etc/resolv.conf"


class LeaseError(Exception):
    """A lease the boot cannot use (it names no boot server)."""


def lease_dir():
    """Where leases are recorded (NETBOOT_LEASE_DIR overrides it, for tests on a host)."""
    return os.getenv("NETBOOT_LEASE_DIR") or LEASE_DIR


def lease_path(iface, family=4):
    return path_join(lease_dir(), "lease%s-%s.json" % ("6" if family == 6 else "", iface))


def read(iface, family=4):
    """The recorded lease of one family on an interface, or None."""
    try:
        with open(lease_path(iface, family)) as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def record(lease):
    """Write the lease where read() finds it, and its resolv.conf."""
    text = resolv_conf(lease)
    if text:
        machine.write_file(os.getenv("NETBOOT_RESOLV_CONF") or RESOLV_CONF, text)
    machine.makedirs(lease_dir())
    machine.write_file(lease_path(lease["interface"], lease.get("family") or 4), json.dumps(lease))


def _ok(check, value):
    try:
        check(value)
        return True
    except ValueError:
        return False


def _address(value):
    if ":" in value:
        inet.parse_ipv6(value)
    else:
        inet.parse_ipv4(value)


def resolv_conf(lease):
    """resolv.conf's text for a lease ('' when it names no DNS). Checked again
    here: nothing but DNS names and addresses may become a line."""
    lines = []
    domain = lease.get("domain") or ""
    if not all(32 <= ord(c) < 127 for c in domain):
        domain = ""
    domains = [d for d in domain.split() if _ok(inet.dns_name, d)]
    if domains:
        lines.append("search %s" % " ".join(domains))
    for ns in lease.get("dns") or []:
        if isinstance(ns, str) and _ok(_address, ns):
            lines.append("nameserver %s" % ns)
    return "\n".join(lines) + "\n" if lines else ""


def bootfile(lease):
    """The boot file: option 67, else the BOOTP file field; DHCPv6: the bootfile-url."""
    return lease.get("opt67") or lease.get("boot_file") or lease.get("bootfile_url")


def boot_server(lease):
    """siaddr, else the server identifier (option 54), as PXELINUX takes them
    (core/fs/pxe/dhcp_option.c parse_dhcp, then its option-54 handler `server`);
    PXELINUX never reads option 66, which is used here only when a lease has
    neither. On IPv6: the host of the bootfile-url (option 59), a link-local
    one with the lease's interface as its zone. LeaseError when none."""
    if lease.get("family") == 6:
        url = lease.get("bootfile_url")
        if url:
            host = inet.split_url(url)[1]
            if host.startswith("fe80:") and "%" not in host and lease.get("interface"):
                host += "%" + lease["interface"]
            return host
        raise LeaseError("the DHCPv6 answer on %s names no boot server (no option 59 bootfile-url)"
                         % lease.get("interface"))
    for key in ("siaddr", "server_id", "opt66"):
        if lease.get(key):
            return lease[key]
    raise LeaseError("the DHCP lease on %s names no boot server (no siaddr, server identifier "
                     "or option 66)" % lease.get("interface"))
