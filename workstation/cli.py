"""`s390-netboot plan|fetch|lint|test`: the workstation command.

plan   what a machine would boot (agent.cli's, as `python -m agent plan`)
fetch  one transfer with the agent's clients (as `python -m agent fetch`)
lint   a TFTP tree checked as the agent reads it (workstation.lint)
test   a table of machines and what each must boot (workstation.cases)
sign   FILE.sig for each FILE, iPXE's signature format (workstation.sign)

Exit codes: lint 1 with errors (with --strict, with warnings too), test 1
when a case fails; 2 for bad usage (one line on stderr; a traceback only with
--debug); plan and fetch as documented in `python -m agent --help`.
"""

import argparse
import json
import os
import sys
import traceback

import agent.cli
from agent import plan as planmod
from agent.text import escaped

PROG = "s390-netboot"


class Usage(Exception):
    """Bad usage: one line on stderr, exit 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises Usage with one line instead of printing usage and exiting."""

    def error(self, message):
        raise Usage("%s (see `%s --help`)" % (message, self.prog))


IDENTITY = (("--mac", "MAC", "the machine's MAC address"),
            ("--ip", "IP", "its IPv4 address"),
            ("--uuid", "UUID", "its UUID"))


def parse_args(argv):
    p = ArgumentParser(prog=PROG, description="PXELINUX-style netboot for s390x: check a TFTP tree "
                       "on a workstation, as the boot agent would read it.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    sub.required = True
    sub.add_parser("plan", help="what a machine would boot (see `%s plan --help`)" % PROG, add_help=False)
    sub.add_parser("fetch", help="one transfer with the agent's TFTP/HTTP clients", add_help=False)

    lint = sub.add_parser("lint", help="check a TFTP tree: configs, kernels, initrds, command lines",
                          description="Check every config the agent can reach in a TFTP tree, and what "
                          "its labels boot. One line per finding, FILE:LINE: error|warning: message, "
                          "then a summary. Exit 1 when there are errors (with --strict, warnings too).")
    lint.add_argument("tree", metavar="TREE", nargs="?", help="the TFTP root directory")
    lint.add_argument("--server", metavar="HOST[:PORT]",
                      help="a live TFTP server instead of TREE (configs found by the search names of "
                      "--mac/--ip/--uuid; no orphan check)")
    lint.add_argument("--bootfile", metavar="NAME", help="DHCP boot file name; its directory is the prefix, and the file is checked "
                      "(default: pxelinux.0 if the tree has one)")
    lint.add_argument("--opt209", metavar="NAME", help="DHCP option 209: a config file read first")
    lint.add_argument("--opt210", metavar="PREFIX", help="DHCP option 210: the path prefix")
    for opt, meta, text in IDENTITY:
        lint.add_argument(opt, metavar=meta, help=text + " (search names with --server; IPAPPEND strings)")
    lint.add_argument("--configs-only", action="store_true",
                      help="check the configs only: no KERNEL or INITRD file is looked at (a repository "
                      "without the kernels)")
    lint.add_argument("--firmware", action="store_true",
                      help="also say where QEMU's own pxelinux.cfg parser (the s390-ccw firmware's, for a "
                      "boot file starting '# pxelinux') would boot a config differently from the agent")
    lint.add_argument("--sign-ca", metavar="FILE",
                      help="signed boot: every config, KERNEL and INITRD needs a NAME.sig valid under these PEM "
                      "roots (what an image built with packager build --sign-ca FILE checks)")
    lint.add_argument("--json", action="store_true", help="one JSON object on stdout")
    lint.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    lint.add_argument("--debug", action="store_true", help="tracebacks on errors")

    test = sub.add_parser("test", help="run a table of machines against a TFTP tree or server",
                          usage="%s test (TREE | --server HOST[:PORT]) CASES [--junit FILE] [-k TEXT] "
                          "[-q] [--json] [--debug]" % PROG,
                          description="Run each case of CASES (TOML or JSON) with the decision `plan` "
                          "makes and compare. Exit 1 when a case fails.")
    test.add_argument("paths", metavar="[TREE] CASES", nargs="+",
                      help="the TFTP root directory (not with --server), then the cases: a .toml or .json file")
    test.add_argument("--server", metavar="HOST[:PORT]",
                      help="a live TFTP server instead of TREE (a case with opt210 = http://... reads over HTTP)")
    test.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report")
    test.add_argument("-k", metavar="TEXT", dest="select", help="only the cases whose name contains TEXT")
    test.add_argument("-q", "--quiet", action="store_true", help="print only failures and the summary")
    test.add_argument("--json", action="store_true", help="results as one JSON object on stdout")
    test.add_argument("--debug", action="store_true", help="tracebacks on errors")

    sign = sub.add_parser("sign", help="write FILE.sig for each FILE (signed boot, iPXE's format)",
                          description="Write FILE.sig beside each FILE: a detached DER CMS signature "
                          "without signed attributes (openssl cms -sign -binary -noattr), which an image "
                          "built with packager build --sign-ca checks before using FILE.")
    sign.add_argument("files", metavar="FILE", nargs="*", help="kernels, initrds and configs to sign")
    sign.add_argument("--cert", metavar="C", required=True,
                      help="the code-signing certificate (PEM, extendedKeyUsage=codeSigning)")
    sign.add_argument("--key", metavar="K", required=True, help="its private key (PEM)")
    sign.add_argument("--chain", metavar="FILE", help="intermediate CA certificates to carry in each signature (PEM)")
    sign.add_argument("--debug", action="store_true", help="tracebacks on errors")
    return p.parse_args(argv)


def cmd_sign(args):
    from workstation import sign
    try:
        return sign.run(args.cert, args.key, args.chain, args.files)
    except sign.SignError as e:
        raise Usage(str(e))


def cmd_lint(args):
    from agent import search
    from workstation.lint import Linter
    if bool(args.tree) == bool(args.server):
        raise Usage("lint needs TREE or --server HOST[:PORT] (see `%s lint --help`)" % PROG)
    if args.tree and not os.path.isdir(args.tree):
        raise Usage("TREE %s is not a directory" % args.tree)
    opts = dict((k, v) for k, v in (("mac", args.mac), ("ip", args.ip), ("uuid", args.uuid),
                                    ("root", args.tree), ("server", args.server)) if v)
    try:
        fetcher, env = planmod.environment(opts)
    except planmod.OptionError as e:
        raise Usage(str(e))
    server = env.pop("server")
    root = args.tree or None
    prefix = search.prefix(args.bootfile, args.opt210)
    roots = None
    if args.sign_ca:
        try:
            with open(args.sign_ca, "rb") as f:
                roots = f.read()
        except OSError as e:
            raise Usage("--sign-ca %s: cannot read it (%s)" % (args.sign_ca, e.strerror or e))
        if b"-----BEGIN CERTIFICATE-----" not in roots:
            raise Usage("--sign-ca %s holds no PEM certificate: give the site's code-signing root" % args.sign_ca)
    linter = Linter(fetcher, server, root=root, prefix=prefix, env=env, opt209=args.opt209,
                    configs_only=args.configs_only, bootfile=args.bootfile, sign_roots=roots)
    linter.firmware = args.firmware
    linter.run()
    if args.json:
        print(json.dumps(linter.as_dict(), indent=1, sort_keys=True))
    else:
        for f in linter.sorted_findings():
            print(escaped(str(f)))
        print(linter.summary())
    errors, warnings = linter.counts()
    return 1 if errors or (args.strict and warnings) else 0


def cmd_test(args):
    from workstation import cases
    want = 1 if args.server else 2
    if len(args.paths) != want:
        raise Usage("test needs %s (see `%s test --help`)"
                    % ("CASES alone with --server" if args.server else "TREE and CASES", PROG))
    args.tree, args.cases = (None, args.paths[0]) if args.server else args.paths
    try:
        table = cases.load(args.cases)
    except cases.CaseError as e:
        raise Usage(str(e))
    if args.server:
        source = {"server": args.server}
        try:
            planmod.environment(source)
        except planmod.OptionError as e:
            raise Usage(str(e))
    elif not os.path.isdir(args.tree):
        raise Usage("TREE %s is not a directory" % args.tree)
    else:
        source = {"root": args.tree}
    if args.select:
        table = [c for c in table if args.select in c.name]
    results = cases.run(source, table)
    if args.json:
        print(json.dumps(cases.as_dict(results), indent=1, sort_keys=True))
    else:
        sys.stdout.write("".join(escaped(line) + "\n"
                                 for line in cases.report(results, args.quiet).splitlines()))
    if args.junit:
        cases.write_junit(args.junit, results, args.cases)
    return 1 if any(not r.ok for r in results) else 0


def run(argv):
    debug = "--debug" in argv
    try:
        if argv and argv[0] in ("plan", "fetch"):
            return agent.cli.run(argv, prog=PROG)
        args = parse_args(argv)
        return {"lint": cmd_lint, "test": cmd_test, "sign": cmd_sign}[args.command](args)
    except Usage as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 2
    except SystemExit as e:  # argparse's --help
        return e.code
    except BrokenPipeError:
        return 0
    except Exception as e:
        if debug:
            traceback.print_exc()
        else:
            sys.stderr.write("%s: %s: %s (run with --debug for the traceback)\n" % (PROG, type(e).__name__, e))
        return 1


def main():
    from agent.compat import safe_output
    safe_output()
    sys.exit(run(sys.argv[1:]))
