"""The pieces every netboot test uses: our pxelinux.0 and a second-stage kernel.

The second stage is Debian's real s390x kernel (with 1 MiB of zeros appended:
QEMU's TCG otherwise stalls in the decompressor of a kernel identical to the
first, see shared FACTS) and a tiny initramfs whose /init prints a marker line
with /proc/cmdline and powers the guest off.
"""

import os
import subprocess
import sys

from packager import initramfs

MARKER = "SECOND-STAGE-MARKER"
STAGE2_INIT = """#!/bin/sh
/bin/busybox mount -t proc proc /proc
echo "%s cmdline=$(/bin/busybox cat /proc/cmdline)"
/bin/busybox poweroff -f
""" % MARKER


def build_image(repo, out, *extra):
    """`packager build --agent agent/ [extra...]` into out; returns its path."""
    path = os.path.join(out, "pxelinux.0")
    subprocess.run([sys.executable, "-m", "packager", "build", "--agent", os.path.join(repo, "agent"),
                    "-o", path] + list(extra), check=True, cwd=repo)
    return path


def stage2(parts, out):
    """(kernel path, initrd path) of the second stage."""
    with open(os.path.join(parts.sysroot, "bin", "busybox"), "rb") as f:
        busybox = f.read()
    initrd = initramfs.write([
        initramfs.file("bin/busybox", busybox, 0o755),
        initramfs.symlink("bin/sh", "busybox"),
        initramfs.file("init", STAGE2_INIT, 0o755),
        initramfs.directory("proc"),
        initramfs.chardev("dev/console", 5, 1),
    ], "gzip")
    kpath = os.path.join(out, "vmlinuz")
    ipath = os.path.join(out, "stage2.img")
    with open(parts.kernel, "rb") as f:
        kernel = f.read()
    with open(kpath, "wb") as f:
        f.write(kernel + b"\0" * (1 << 20))
    with open(ipath, "wb") as f:
        f.write(initrd)
    return kpath, ipath


def marker_cmdline(console):
    for line in console.splitlines():
        if line.startswith(MARKER + " cmdline="):
            return line[len(MARKER + " cmdline="):].strip()
    return None
