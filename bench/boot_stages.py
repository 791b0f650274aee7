#!/usr/bin/env python3
"""Boot-time report: netboots the test suite's scenario 1 (dnsmasq in a network
namespace, pxelinux.cfg/01-MAC with a two-label menu, TIMEOUT 1 s) under
qemu-system-s390x and splits the console into stages by when each line arrived.

    .venv/bin/python bench/boot_stages.py [--reps 3] [--image pxelinux.0]

Times are seconds since QEMU started, as seen by the host (median of the
repetitions). Builds pxelinux.0 first unless --image is given.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from tests.support.lab import Lab, MAC  # noqa: E402
from tests.support.netboot_parts import MARKER, build_image, stage2  # noqa: E402

STAGES = [
    ("firmware starts netboot", b"Network boot starting"),
    ("firmware has pxelinux.0", b"Network loading done"),
    ("kernel starts", b"Linux version"),
    ("agent starts (/init)", b"s390-netboot agent started"),
    ("lease", b"netboot: ", b" lease "),
    ("config found", b"netboot: ", b" config "),
    ("menu timeout ends, label chosen", b"netboot: ", b" booting "),
    ("kernel fetched", b"fetched vmlinuz"),
    ("initrd fetched", b"fetched stage2.img"),
    ("kexec -e", b"starting the kernel"),
    ("second kernel starts", b"Linux version", 2),
    ("second stage /init runs", MARKER.encode()),
]

MENU = """UI menu.c32
MENU TITLE s390 test menu
TIMEOUT 10
IPAPPEND 2
LABEL first
  KERNEL vmlinuz
  INITRD stage2.img
  APPEND console=ttysclp0 scenario=first
LABEL second
  MENU DEFAULT
  KERNEL vmlinuz
  INITRD stage2.img
  APPEND console=ttysclp0 scenario=second
"""


def stage_times(stamps):
    out = {}
    for stage in STAGES:
        name, needle = stage[0], stage[1]
        extra = stage[2] if len(stage) > 2 and isinstance(stage[2], bytes) else None
        nth = stage[2] if len(stage) > 2 and isinstance(stage[2], int) else 1
        seen = 0
        for t, line in stamps:
            if needle in line and (extra is None or extra in line):
                seen += 1
                if seen == nth:
                    out[name] = t
                    break
    return out


def one_boot(files, work):
    lab = Lab(work).up()
    try:
        for name, path in files.items():
            shutil.copy(path, os.path.join(lab.tftp, name))
        with open(os.path.join(lab.tftp, "pxelinux.cfg", "01-" + MAC.replace(":", "-")), "w") as f:
            f.write(MENU)
        lab.dnsmasq()
        lab.boot()
        lab.wait_for(MARKER, 180)
        lab.read(0.5)
        return stage_times(lab.stamps)
    finally:
        lab.down()


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--image", help="pxelinux.0 to use (default: build one)")
    a = ap.parse_args(argv)
    from tests.conftest import Parts, SUITE, SYSROOT_PACKAGES  # noqa: F401
    from packager import debian
    apt = debian.Apt(SUITE)
    sysroot = os.path.join(debian.cache_root(), "sysroot", "%s-s390x" % SUITE)
    debian.fetch_sysroot(apt, sysroot, SYSROOT_PACKAGES)
    parts = Parts(sysroot, None)
    work = tempfile.mkdtemp(prefix="bootbench")
    try:
        image = a.image or build_image(ROOT, work)
        kernel, initrd = stage2(parts, work)
        files = {"pxelinux.0": image, "vmlinuz": kernel, "stage2.img": initrd}
        runs = []
        for i in range(a.reps):
            runs.append(one_boot(files, os.path.join(work, "run%d" % i)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("| stage | at (s, median of %d) | spread | since previous (s) |" % a.reps)
    print("|---|---|---|---|")
    prev = 0.0
    for stage in STAGES:
        name = stage[0]
        values = [r[name] for r in runs if name in r]
        if not values:
            print("| %s | not seen | | |" % name)
            continue
        med = statistics.median(values)
        print("| %s | %.2f | %.2f-%.2f | %.2f |" % (name, med, min(values), max(values), med - prev))
        prev = med
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
