"""The packager command line: `packager build|image|inspect`.

Errors are one line naming the option or file and what to do; `--debug`
shows the traceback as well. Outputs are written to a temporary file beside
the target and renamed into place, so nothing half-written is ever left at an
output path.
"""

import argparse
import json
import os
import sys
import traceback

from packager import errors, s390image
try:
    from packager import initramfs
except ImportError as e:  # a workstation install (`pip install .`) without the build extra
    initramfs = None
    MISSING = str(e)
from packager.files import check_output, read_file, write_atomic
from packager.errors import Die


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises Die with one line instead of printing usage and exiting."""

    def error(self, message):
        raise Die("%s (see `%s --help`)" % (message, self.prog))


def parse_args(argv):
    p = ArgumentParser(prog="packager", description="Build s390x netboot images (pxelinux.0).")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    p.add_argument("-v", "--verbose", action="store_true", help="echo external commands")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    sub.required = True

    b = sub.add_parser("build", help="build pxelinux.0 with the agent frozen in")
    b.add_argument("--agent", required=True, metavar="DIR", help="the agent source directory (agent/)")
    b.add_argument("-o", "--output", default="pxelinux.0", metavar="FILE", help="image to write (pxelinux.0)")
    b.add_argument("--compress", choices=("xz", "gzip", "zstd", "none"), default="zstd",
                   help="initramfs compression (zstd: the smallest image and the fastest "
                        "to unpack; see docs/performance.md)")
    b.add_argument("--cmdline", metavar="TEXT", help="kernel command line built into the image")
    b.add_argument("--sysroot", metavar="DIR", help="root with s390x busybox, kexec, libc and modules")
    b.add_argument("--kernel", metavar="FILE", help="the s390 kernel image to boot")
    b.add_argument("--modules", metavar="DIR", help="the kernel's modules directory (lib/modules/RELEASE)")
    b.add_argument("--interpreter", metavar="FILE", help="a prebuilt s390x MicroPython to use")
    b.add_argument("--suite", metavar="NAME", help="Debian suite for the parts (host's release or bookworm)")
    b.add_argument("--mirror", metavar="URL", help="Debian mirror (default: the one apt's sources name)")
    b.add_argument("--skel", metavar="DIR", help="image skeleton (default: rootfs-skel/ beside the agent)")
    b.add_argument("--cache", metavar="DIR", help="cache directory (default ~/.cache/s390-netboot)")
    b.add_argument("--ca-certs", metavar="FILE|debian",
                   help="PEM certificates the agent trusts for https:// (debian: Debian's ca-certificates "
                        "bundle); default none, so https:// fails closed")
    b.add_argument("--kexec-tools", action="store_true",
                   help="also put Debian's kexec-tools (and the glibc it needs) into the image, for the "
                        "rescue shell; the agent loads kernels with its own system calls")
    b.add_argument("--https-only", action="store_true",
                   help="build pxe.https-only in: every name the config resolves must be https://")
    b.add_argument("--https-host", metavar="HOST", action="append",
                   help="build pxe.https-host in (implies --https-only): https:// names only on this host "
                        "(again for more hosts); DHCP then cannot send the guest to another server its "
                        "trust store vouches for")
    b.add_argument("--spread", metavar="S",
                   help="build pxe.spread=S in: each guest waits a random 0 to S seconds (0-3600) before its "
                        "first DHCP request, so that guests powered on together do not all ask at once; "
                        "pxe.spread= on the kernel command line overrides it (0 turns it off)")
    b.add_argument("--sign-ca", metavar="FILE",
                   help="signed boot: PEM code-signing root(s) built in with pxe.verify=required, which "
                        "nothing on the kernel command line undoes; every config, kernel and initrd then "
                        "needs a valid NAME.sig (s390-netboot sign; docs/servers.md, Signed boot)")
    b.add_argument("--toolchain", choices=("zig", "gcc"), default="zig",
                   help="cross compiler for the interpreter (zig from PyPI, or gcc-s390x-linux-gnu)")

    i = sub.add_parser("image", help="kernel + initramfs -> bootable s390 image (like mk-s390image)")
    i.add_argument("kernel", metavar="KERNEL", help="s390 kernel image")
    i.add_argument("-r", "--ramdisk", required=True, metavar="INITRD", help="initramfs to append")
    g = i.add_mutually_exclusive_group()
    g.add_argument("-p", "--parmfile", metavar="PARMFILE", help="file with the kernel command line")
    g.add_argument("--cmdline", metavar="TEXT", help="kernel command line")
    i.add_argument("-o", "--output", required=True, metavar="OUT", help="image to write")

    n = sub.add_parser("inspect", help="show what an s390 boot image holds")
    n.add_argument("image", metavar="IMAGE")
    n.add_argument("--json", action="store_true", help="one JSON object on stdout")
    return p.parse_args(argv)


def cmd_image(args):
    kernel = read_file(args.kernel, "kernel")
    initrd = read_file(args.ramdisk, "initrd")
    check_output(args.output, [("input kernel", args.kernel), ("initrd", args.ramdisk)]
                 + ([("parmfile", args.parmfile)] if args.parmfile else []))
    cmdline = args.cmdline
    if args.parmfile:
        raw = read_file(args.parmfile, "parmfile", limit=s390image.MAX_COMMAND_LINE_SIZE * 2)
        try:
            cmdline = raw.decode("ascii")
        except UnicodeDecodeError:
            raise Die("parmfile %s is not plain ASCII text" % args.parmfile)
    try:
        image = s390image.make_image(kernel, initrd, cmdline)
    except s390image.ImageError as e:
        where = "--cmdline/--parmfile" if str(e).startswith("command line") else args.kernel
        raise Die("%s: %s" % (where, e))
    except UnicodeEncodeError:
        raise Die("--cmdline: the kernel command line must be plain ASCII")
    write_atomic(args.output, image)
    print("%s: %d bytes, kernel %d bytes, initramfs %d bytes at 0x%x"
          % (args.output, len(image), len(kernel), len(initrd), len(image) - len(initrd)))
    return 0


def inspect_image(data):
    """A dict describing an image (what `inspect --json` prints).

    Raises ImageError only when the bytes are not an s390 kernel image at
    all; everything else that cannot be read is listed in "problems" and
    the rest is still filled in."""
    problems = []
    info = s390image.parse_image(data, problems)
    info["image_size"] = len(data)
    start, size = info["initrd_offset"], info["initrd_size"]
    initrd = data[start:start + size] if size else b""
    info["initrd_compression"] = initramfs.compression_of(initrd) if initrd else None
    entries = []
    if initrd and not problems:
        if info["initrd_compression"] is None:
            problems.append("the initramfs at 0x%x (%d bytes) is neither a cpio archive nor "
                            "compressed in a known format (encrypted, or not an initramfs?): "
                            "its entries are not shown" % (start, size))
            entries = None
        else:
            try:
                entries = [m.as_dict() for m in initramfs.read(initrd)]
            except Exception as e:  # libarchive reports truncation and corruption this way
                problems.append("the initramfs cannot be read: %s" % str(e).splitlines()[0])
                entries = None
    elif initrd:
        entries = None
    info["entries"] = entries
    info["problems"] = problems
    return info


def printable(text):
    """text with newlines, escape sequences and other control characters
    shown as escapes, so a name read from an image cannot steer the terminal."""
    if text is None:
        return None
    out = []
    for c in text:
        o = ord(c)
        if c == "\\":
            out.append("\\\\")
        elif o < 0x20 or o == 0x7f or 0x80 <= o < 0xa0 or 0xd800 <= o < 0xe000:
            out.append("\\x%02x" % (o & 0xff) if o < 0x100 or o >= 0xdc80 else "\\u%04x" % o)
        else:
            out.append(c)
    return "".join(out)


def format_inspect(info):
    cmax = info["cmdline_max"]
    lines = [
        "kernel version:   %s" % (printable(info["kernel_version"]) or "(unknown)"),
        "image size:       %d" % info["image_size"],
        "kernel size:      %d" % info["kernel_size"],
    ]
    if info["initrd_size"]:
        lines.append("initramfs:        %d bytes at 0x%x, %s" % (
            info["initrd_size"], info["initrd_offset"],
            info["initrd_compression"] or "unknown format"))
    else:
        lines.append("initramfs:        none")
    lines.append("command line:     \"%s\" (%s)" % (
        printable(info["cmdline"]), "at most %d bytes" % cmax if cmax is not None else "size unknown"))
    if info["entries"]:
        lines.append("entries:          %d" % len(info["entries"]))
        for e in info["entries"]:
            extra = ""
            if "target" in e:
                extra = " -> " + printable(e["target"])
            elif "rdev" in e:
                extra = " (%s)" % e["rdev"]
            lines.append("  %-7s %s %10d  /%s%s" % (e["type"], e["mode"], e["size"],
                                                     printable(e["path"]), extra))
    return "\n".join(lines)


def cmd_inspect(args):
    data = read_file(args.image, "image")
    try:
        info = inspect_image(data)
    except s390image.ImageError as e:
        raise Die("%s: %s" % (args.image, e))
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
    else:
        print(format_inspect(info))
    sys.stdout.flush()
    if info["problems"]:
        # What could be read was shown; what could not is one line each.
        for msg in info["problems"]:
            print("packager: error: %s: %s" % (args.image, msg), file=sys.stderr)
        return 2
    return 0


def cmd_build(args):
    from packager import build
    return build.run(args)


def run(argv):
    debug = "--debug" in argv
    try:
        args = parse_args(argv)
        if initramfs is None and args.command != "image":
            raise Die("the image-building libraries are not installed (%s): pip install "
                      "'s390-netboot[build]', or run tools/install-deps" % MISSING)
        errors.VERBOSE = args.verbose
        return {"image": cmd_image, "inspect": cmd_inspect, "build": cmd_build}[args.command](args)
    except Die as e:
        if debug:
            traceback.print_exc()
        print("packager: error: %s" % e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("packager: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`packager inspect IMAGE | head`): what it
        # asked for was written; keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as e:
        if debug:
            raise
        print("packager: internal error: %s: %s (run with --debug for the traceback)"
              % (type(e).__name__, e), file=sys.stderr)
        return 1


def main():
    sys.exit(run(sys.argv[1:]))
