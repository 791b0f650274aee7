"""`python -m agent plan|fetch`: the agent's logic on a workstation.

plan   what a machine would boot, against a directory standing in for the
       TFTP root (--root DIR) or a live server (--server HOST[:PORT]).
fetch  one transfer with the agent's own TFTP/HTTP clients, with figures.

Exit codes: 0 done, 2 nothing bootable / transfer failed / bad usage; the
reason is one line on stderr (a traceback only with --debug).
"""

import sys

from agent import plan as planmod
from agent.compat import dumps_sorted, stderr_write
from agent.fetch import FetchError

PLAN_OPTIONS = ("root", "server", "mac", "ip", "netmask", "gateway", "server-ip", "uuid",
                "bootfile", "opt209", "opt210", "label", "config", "ca-certs", "https-host")
FETCH_OPTIONS = ("o", "output", "blksize", "windowsize", "timeout", "tsize", "max-size", "ca-certs")
FLAGS = ("json", "debug", "quiet", "no-options", "help", "https-only")

USAGE = """usage: python -m agent plan (--root DIR | --server HOST[:PORT]) [--mac MAC] [--ip IP]
                           [--netmask MASK] [--gateway IP] [--server-ip IP] [--uuid UUID]
                           [--bootfile NAME] [--opt209 NAME] [--opt210 PREFIX]
                           [--label 'LABEL [ARGS]'] [--config NAME] [--ca-certs FILE]
                           [--https-only] [--https-host H[,H]] [--json] [--debug]
       python -m agent fetch URL -o FILE [--blksize N] [--windowsize N] [--timeout S]
                           [--max-size N] [--no-options] [--ca-certs FILE] [--json] [--debug]
"""


HELP = {
    "plan": """usage: python -m agent plan (--root DIR | --server HOST[:PORT]) [options]

What a machine would boot, decided exactly as the boot agent decides it.

  --root DIR          a directory standing in for the TFTP root
  --server HOST[:P]   a live TFTP server (or --opt210 http://... for HTTP)
  --mac MAC           the machine's MAC address (01-MAC config name, BOOTIF=)
  --ip IP             its address (hex-IP config names, ip=); IPv6: neither
  --server-ip IP      the boot server's address (option 54 / siaddr)
  --uuid UUID         the machine's UUID (config name and SYSUUID=; only a valid
                      one, byte 6 in 0x10-0xef, is used, as PXELINUX does)
  --bootfile NAME     DHCP boot file name: up to its last character outside
                      A-Z a-z 0-9 . - it is the prefix ('boot\\pxelinux.0': 'boot\\')
  --opt209 NAME       DHCP option 209, the config file to use
  --opt210 PREFIX     DHCP option 210, the path prefix ('::dir/' from the server
                      root, 'host::dir/' from another server, or a URL)
  --label 'L ARGS'    what a person types at the boot: prompt; ARGS go after the
                      IPAPPEND strings; ALLOWOPTIONS 0 drops them for a kernel
                      that is no label, and for any entry behind UI menu.c32
  --config NAME       start from this config file instead of the search
  --ca-certs FILE     PEM certificates to check https:// servers against (the
                      image's trust store; default /etc/s390-netboot/ca.pem)
  --https-only        refuse every name that is not https:// (pxe.https-only)
  --https-host H[,H]  and every https:// name on another host, redirects
                      included (pxe.https-host)
  --json              one JSON object on stdout
  --debug             tracebacks on errors

Exit 0 when something bootable was found, 2 otherwise (one line on stderr).""",
    "fetch": """usage: python -m agent fetch URL -o FILE [options]

One transfer with the agent's own TFTP/HTTP clients, with figures.

  URL                 tftp://HOST[:PORT]/PATH, http://HOST[:PORT]/PATH or https://...
  -o, --output FILE   where to write it
  --blksize N         TFTP block size to ask for (RFC 2348)
  --windowsize N      TFTP window size to ask for (RFC 7440)
  --timeout S         TFTP retransmission timeout to start from
  --no-options        plain RFC 1350 TFTP, no option negotiation
  --ca-certs FILE     PEM certificates to check an https:// server against
                      (default /etc/s390-netboot/ca.pem, the image's trust store)
  --max-size N        refuse a file larger than N bytes (K, M, G suffixes;
                      default: the free space where FILE goes)
  --json              figures as one JSON object
  --debug             tracebacks on errors

Exit 0 when the file arrived whole, 2 otherwise (one line on stderr).""",
}


class UsageError(Exception):
    pass


def parse_args(argv, allowed, flags=FLAGS):
    """(positionals, options) from argv; --name VALUE and --name=VALUE forms."""
    pos, opts = [], {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("-") and a != "-":
            name = a.lstrip("-")
            value = None
            if "=" in name:
                name, value = name.split("=", 1)
            if name in flags:
                if value is not None:
                    raise UsageError("--%s takes no value" % name)
                opts[name] = True
            elif name in allowed:
                if value is None:
                    i += 1
                    if i >= len(argv):
                        raise UsageError("--%s needs a value" % name)
                    value = argv[i]
                opts[name] = value
            else:
                raise UsageError("unknown option %s" % a)
        else:
            pos.append(a)
        i += 1
    return pos, opts


def host_port(text, default_port):
    """(host, port) of HOST, HOST:PORT, [V6] or [V6]:PORT; UsageError when the port is not 1-65535."""
    port = None
    if text.startswith("[") and "]" in text:
        host, rest = text[1:].split("]", 1)
        if rest.startswith(":"):
            port = rest[1:]
        elif rest:
            raise UsageError("server %r: want HOST, HOST:PORT or [IPV6]:PORT" % text)
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host = text
    if not host:
        raise UsageError("server %r has no host" % text)
    if port is None:
        return host, default_port
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError("server %r: port %r is not a number from 1 to 65535" % (text, port))
    return host, int(port)


def plan_env(opts):
    """The plan's machine identity from options, validated with one-line errors."""
    from agent import search
    env = {}
    try:
        if "mac" in opts:
            env["mac"] = search.normalise_mac(opts["mac"])
        if "uuid" in opts:
            env["uuid"] = search.normalise_uuid(opts["uuid"])
        for key in ("ip", "netmask", "gateway", "server-ip"):
            if key in opts:
                if key != "netmask" and ":" in opts[key]:
                    # IPv6: no hex-IP config names and no IPAPPEND 1 string.
                    search.split_zone(opts[key])
                    env[key.replace("-", "_") + "6"] = opts[key]
                    continue
                search.parse_ipv4(opts[key])
                env[key.replace("-", "_")] = opts[key]
    except ValueError as e:
        raise UsageError(str(e))
    for key in ("bootfile", "opt209", "opt210"):
        if key in opts:
            env[key] = opts[key]
    return env


def http_fetcher(opts, **kw):
    """The HTTP(S) client with the trust store --ca-certs names (the image's path by default)."""
    from agent.http import CA_FILE, HttpFetcher
    ca = opts.get("ca-certs")
    if ca is True:
        raise UsageError("--ca-certs needs a FILE of PEM certificates")
    from agent.fetch import https_hosts
    return HttpFetcher(ca_file=ca or CA_FILE, ca_hint="pass --ca-certs FILE with the CA that signed the "
                       "server's certificate", hosts=https_hosts(opts.get("https-host")), **kw)


def https_only(fetcher, opts):
    from agent.fetch import https_hosts
    hosts = https_hosts(opts.get("https-host"))
    if opts.get("https-only") or hosts:
        from agent.fetch import HttpsOnly
        return HttpsOnly(fetcher, hosts)
    return fetcher


def make_fetcher(opts):
    from agent.fetch import LocalFetcher, SchemeFetcher
    if "root" in opts:
        local = LocalFetcher(opts["root"])
        fetcher = SchemeFetcher({"tftp": local, "http": local, "https": local})
        return https_only(fetcher, opts), "localhost"
    if "server" in opts:
        from agent.tftp import TftpFetcher
        host, port = host_port(opts["server"], 69)
        http = http_fetcher(opts)
        fetcher = SchemeFetcher({"tftp": TftpFetcher(default_port=port), "http": http, "https": http})
        return https_only(fetcher, opts), host
    raise UsageError("plan needs --root DIR or --server HOST[:PORT]")


def escaped(text):
    """text with control characters (a config's or a server's escape sequences,
    CR, LF) written as \\xNN: one terminal line, showing what is really there."""
    out = []
    for c in text:
        o = ord(c)
        if o < 0x20 or o == 0x7f or 0x80 <= o < 0xa0:
            out.append("\\x%02x" % o)
        else:
            out.append(c)
    return "".join(out)


def format_plan(p):
    d = p.as_dict()
    lines = ["config tried:  %s" % ", ".join(d["tried"]),
             "config used:   %s" % d["config"]]
    if d["labels"]:
        lines.append("labels:        %s" % " ".join(d["labels"]))
    if p.cfg and p.cfg.title:
        lines.append("menu title:    %s" % p.cfg.title)
    lines.append("timeout:       %s" % ("%.1f s" % (d["timeout"] / 10.0) if d["timeout"] else "none"))
    lines.append("boots:         %s (%s)" % (d["label"] or "(no label)", p.entry.source))
    lines.append("kernel:        %s" % d["kernel"])
    lines.append("initrd:        %s" % (", ".join(d["initrd"]) or "none"))
    lines.append("command line:  %s" % d["cmdline"])
    for note in p.notes:
        lines.append("note: %s" % note)
    return "\n".join([escaped(line) for line in lines])


def cmd_plan(pos, opts):
    if pos:
        raise UsageError("plan takes no positional arguments (got %s)" % pos[0])
    fetcher, server = make_fetcher(opts)
    env = plan_env(opts)
    env["server"] = server
    if "server_ip" not in env and "server" in opts:
        env["server_ip"] = server
    try:
        p = planmod.make_plan(fetcher, env, opts.get("label"), opts.get("config"))
    except planmod.PlanError as e:
        stderr_write("plan: %s\n" % escaped(str(e)))
        return 2
    except FetchError as e:  # the server went silent, refused, or answered nonsense
        stderr_write("plan: %s\n" % escaped(str(e)))
        return 2
    if opts.get("json"):
        print(dumps_sorted(p.as_dict()))
    else:
        print(format_plan(p))
    return 0


def cmd_fetch(pos, opts):
    from agent.transfer import fetch_command
    if len(pos) != 1:
        raise UsageError("fetch takes one URL")
    return fetch_command(pos[0], opts)


def run(argv):
    debug = "--debug" in argv
    try:
        if not argv or argv[0] in ("-h", "--help", "help"):
            print(USAGE)
            return 0 if argv else 2
        verb, rest = argv[0], argv[1:]
        if verb in HELP and ("-h" in rest or "--help" in rest):
            print(HELP[verb])
            return 0
        if verb == "plan":
            pos, opts = parse_args(rest, PLAN_OPTIONS)
            return cmd_plan(pos, opts)
        if verb == "fetch":
            pos, opts = parse_args(rest, FETCH_OPTIONS)
            return cmd_fetch(pos, opts)
        raise UsageError("unknown command %r: use plan or fetch" % verb)
    except UsageError as e:
        stderr_write("agent: %s (see python -m agent --help)\n" % escaped(str(e)))
        return 2
    except Exception as e:
        if debug:
            raise
        stderr_write("agent: %s: %s (run with --debug for the traceback)\n" % (type(e).__name__, escaped(str(e))))
        return 1


def main():
    sys.exit(run(sys.argv[1:]))
