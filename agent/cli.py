"""`python -m agent plan|fetch`: the agent's logic on a workstation.

plan   what a machine would boot, against a directory standing in for the
       TFTP root (--root DIR) or a live server (--server HOST[:PORT]).
fetch  one transfer with the agent's own TFTP/HTTP clients, with figures.

Exit codes: 0 done, 2 nothing bootable / transfer failed / bad usage; the
reason is one line on stderr (a traceback only with --debug).
"""

import sys

from agent import plan as planmod
from agent.compat import dirname, dumps_sorted, errno_of, now_ms, os, route_mtu, stderr_write

EPIPE = 32
from agent.console import Progress, human, rate
from agent.fetch import FetchError
from agent.text import escaped

PROG = "python -m agent"
CA_HINT = "pass --ca-certs FILE with the CA that signed the server's certificate"

PLAN_OPTIONS = ("root", "server", "mac", "ip", "netmask", "gateway", "server-ip", "uuid",
                "bootfile", "opt209", "opt210", "label", "config", "ca-certs", "https-host", "sign-ca")
FETCH_OPTIONS = ("o", "output", "blksize", "windowsize", "timeout", "tsize", "max-size", "ca-certs", "sign-ca")
FLAGS = ("json", "debug", "quiet", "no-options", "help", "https-only")

USAGE = """usage: python -m agent plan (--root DIR | --server HOST[:PORT]) [--mac MAC] [--ip IP]
                           [--netmask MASK] [--gateway IP] [--server-ip IP] [--uuid UUID]
                           [--bootfile NAME] [--opt209 NAME] [--opt210 PREFIX]
                           [--label 'LABEL [ARGS]'] [--config NAME] [--ca-certs FILE]
                           [--https-only] [--https-host H[,H]] [--sign-ca FILE] [--json] [--debug]
       python -m agent fetch URL -o FILE [--blksize N] [--windowsize N] [--timeout S]
                           [--max-size N] [--no-options] [--ca-certs FILE] [--sign-ca FILE]
                           [--json] [--debug]
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
  --sign-ca FILE      signed boot (pxe.verify=required): every config, kernel and
                      initrd needs a valid NAME.sig by a code-signing certificate
                      under these PEM roots; the first refusal ends the plan
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
  --sign-ca FILE      keep FILE only with a valid URL.sig under these PEM roots
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


def format_plan(p):
    d = p.as_dict()
    lines = ["config tried:  %s" % ", ".join(d["tried"]),
             "config used:   %s" % d["config"]]
    if d["labels"]:
        lines.append("labels:        %s" % " ".join(d["labels"]))
    if p.cfg and p.cfg.title:
        lines.append("menu title:    %s" % p.cfg.title)
    lines.append("timeout:       %s" % ("%.1f s" % (d["timeout"] / 10.0) if d["timeout"] else "none"))
    if d.get("localboot") is not None:
        if p.entry is not None:
            lines.append("boots:         %s (%s)" % (d["label"] or "(no label)", p.entry.source))
        lines.append("local boot:    %s: the installed system on a ccw disk (pxe.localboot=kexec|reipl[,BUSID])"
                     % d["localboot"])
        for note in p.notes:
            lines.append("note: %s" % note)
        return "\n".join([escaped(line) for line in lines])
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
    try:
        fetcher, env = planmod.environment(opts, ca_hint=CA_HINT)
    except planmod.OptionError as e:
        raise UsageError(str(e))
    try:
        p = planmod.make_plan(fetcher, env, opts.get("label"), opts.get("config"))
    except planmod.PlanError as e:
        stderr_write("plan: %s\n" % escaped(str(e)))
        return 2
    except FetchError as e:  # the server went silent, refused, or answered nonsense
        stderr_write("plan: %s\n" % escaped(str(e)))
        return 2
    if opts.get("sign-ca"):
        try:
            check_signed(fetcher, p)
        except FetchError as e:
            stderr_write("plan: %s\n" % escaped(str(e)))
            return 2
    if opts.get("json"):
        print(dumps_sorted(p.as_dict()))
    else:
        print(format_plan(p))
    return 0


def check_signed(fetcher, p):
    """With --sign-ca: the plan's kernel and initrds fetched (to a scratch
    file, removed) and checked as the agent would before kexec; the configs
    were checked as they were read. Raises the first refusal."""
    from agent.compat import path_join
    tmp = getattr(os, "getenv", lambda k: None)("TMPDIR") or "/tmp"
    scratch = path_join(tmp, "s390-netboot-plan-%d-%d" % (now_ms(), id(p)))
    try:
        for url in [p.kernel] + list(p.initrd):
            fetcher.fetch(url, scratch)
    finally:
        try:
            os.remove(scratch)
        except OSError:
            pass


def cmd_fetch(pos, opts):
    if len(pos) != 1:
        raise UsageError("fetch takes one URL")
    return fetch_command(pos[0], opts)


def size_cap(opts, out):
    """The most bytes `agent fetch` writes: --max-size N[K|M|G] when given, else
    the free space of the output's file system. ValueError for a bad value."""
    text = opts.get("max-size")
    if isinstance(text, str):
        mult = 1
        t = text.strip().upper()
        if t[-1:] in ("K", "M", "G"):
            mult = 1 << {"K": 10, "M": 20, "G": 30}[t[-1]]
            t = t[:-1]
        from agent.inet import is_digits
        if not is_digits(t):
            raise ValueError("--max-size %s: want a number of bytes, e.g. 512M" % text)
        return int(t) * mult
    try:
        st = os.statvfs(dirname(out) or ".")
        return st[0] * st[4]
    except (OSError, AttributeError):
        return None


def partial_name(out):
    """Where fetch writes before the rename: FILE.part, or None when FILE is a
    device or a FIFO (/dev/null), which is written as it is."""
    try:
        if os.stat(out)[0] & 0o170000 != 0o100000:
            return None
    except OSError:
        pass
    return out + ".part"


def fetch_command(url, opts):
    """`python -m agent fetch URL -o FILE`: one transfer, then its figures."""
    import json
    out = opts.get("o") or opts.get("output")
    if not out:
        stderr_write("agent: fetch needs -o FILE\n")
        return 2
    try:
        fetcher = url_fetcher(url, opts)
        cap = size_cap(opts, out)
    except ValueError as e:
        raise UsageError(str(e))
    fetcher.space_for = lambda dest: cap
    client = fetcher     # its figures (last) after the transfer
    if opts.get("sign-ca"):
        from agent.verify import VerifyingFetcher
        try:
            fetcher = VerifyingFetcher(fetcher, planmod.signing_roots(opts))
        except planmod.OptionError as e:
            raise UsageError(str(e))
    start = now_ms()
    progress = None if opts.get("quiet") or opts.get("json") else Progress(stderr_write, url, False)
    # Into FILE.part, renamed when whole: a failed or cut transfer leaves FILE
    # as it was (a 404 must not empty an existing file).
    part = partial_name(out)
    try:
        size = fetcher.fetch(url, part or out, progress)
        if part:
            os.rename(part, out)
    except (FetchError, OSError) as e:
        if part:
            try:
                os.remove(part)
            except OSError:
                pass
        stderr_write("fetch: %s\n" % escaped(str(e)))
        return 2
    ms = max(now_ms() - start, 1)
    if progress is not None and progress.shown:
        stderr_write("\n")  # end the progress line rewritten with CR
    result = {"url": url, "size": size, "seconds": ms / 1000.0, "mib_per_s": round(rate(size, ms), 2)}
    if getattr(client, "tried", None):
        result["tried"] = client.tried   # a host name's addresses that failed first
    rx = getattr(client, "last", None)
    if rx is not None:
        result["options"] = rx.options
        result["blksize"] = rx.blksize
        result["windowsize"] = rx.windowsize
        result["tsize"] = rx.tsize
        result["duplicates"] = rx.duplicates
        result["out_of_order"] = rx.out_of_order
        result["c_blocks"] = rx.c_blocks
    if opts.get("json"):
        print(json.dumps(result))
    else:
        if rx is not None:
            print("options:  %s" % (", ".join("%s=%s" % kv for kv in sorted(rx.options.items()))
                                   or "none (RFC 1350 defaults)"))
            print("blksize:  %d  windowsize: %d" % (rx.blksize, rx.windowsize))
        if getattr(client, "tried", None):
            print("tried:    %s" % ", ".join(client.tried))
        print("size:     %d bytes (%s)" % (size, human(size)))
        print("time:     %.3f s" % (ms / 1000.0))
        print("rate:     %.2f MiB/s" % rate(size, ms))
    return 0


def _number(opts, name, default, conv=int):
    if name not in opts:
        return default
    try:
        value = conv(opts[name])
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError("--%s %s: want a number" % (name, opts[name]))
    return value


def url_fetcher(url, opts):
    """The fetcher for one URL with fetch's TFTP settings; ValueError for a bad one."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in ("tftp", "http", "https"):
        raise ValueError("%s: give a tftp://HOST[:PORT]/PATH, http://HOST[:PORT]/PATH or https://... URL "
                         "(an IPv6 host in brackets: tftp://[2001:db8::1]/PATH)" % url)
    from agent.tftp import DEFAULT_WINDOW
    tftp = {"blksize": _number(opts, "blksize", None),
            "windowsize": _number(opts, "windowsize", DEFAULT_WINDOW),
            "use_options": not opts.get("no-options"), "mtu_of": route_mtu}
    timeout = _number(opts, "timeout", 0, float)
    if timeout:
        tftp["total_timeout"] = timeout
    # One scheme's client (fetch_command adds --sign-ca's check around it).
    fetcher = planmod.make_fetcher(dict(opts, server=None, **{"sign-ca": None}), ca_hint=CA_HINT, **tftp)
    return fetcher.schemes[scheme] if hasattr(fetcher, "schemes") else fetcher


def run(argv, prog=PROG):
    """The command's exit status; prog names the command in its messages
    (s390-netboot runs plan and fetch through here)."""
    debug = "--debug" in argv
    try:
        if not argv or argv[0] in ("-h", "--help", "help"):
            print(USAGE.replace(PROG, prog))
            return 0 if argv else 2
        verb, rest = argv[0], argv[1:]
        if verb in HELP and ("-h" in rest or "--help" in rest):
            print(HELP[verb].replace(PROG, prog))
            return 0
        if verb == "plan":
            pos, opts = parse_args(rest, PLAN_OPTIONS)
            return cmd_plan(pos, opts)
        if verb == "fetch":
            pos, opts = parse_args(rest, FETCH_OPTIONS)
            return cmd_fetch(pos, opts)
        raise UsageError("unknown command %r: use plan or fetch" % verb)
    except UsageError as e:
        stderr_write("%s: %s (see %s --help)\n" % (_name(prog), escaped(str(e)), prog))
        return 2
    except Exception as e:
        if isinstance(e, OSError) and errno_of(e) == EPIPE:
            return 0   # the reader went away (| head): nothing more to say to it
        if debug:
            raise
        stderr_write("%s: %s: %s (run with --debug for the traceback)\n"
                     % (_name(prog), type(e).__name__, escaped(str(e))))
        return 1


def _name(prog):
    return "agent" if prog == PROG else prog


def main():
    from agent.compat import safe_output
    safe_output()
    sys.exit(run(sys.argv[1:]))
