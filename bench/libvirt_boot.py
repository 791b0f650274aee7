#!/usr/bin/env python3
"""libvirt against plain QEMU: the same guest netbooting the same TFTP tree to
the second stage, alternating in one run.

- libvirt: docs/quickstart-libvirt.md as written (its TFTP tree, network and
  guest XML), libvirtd and its dnsmasq in private namespaces
  (tests/support/libvirt_lab.py); timed from `virsh start` to the second stage's
  marker line in the console log.
- QEMU user-mode: the page's "Without libvirt" command (QEMU's built-in DHCP
  and TFTP) with the guest's memory, vCPUs and NIC options; timed from the
  start of qemu-system-s390x to the same marker.

    .venv/bin/python bench/libvirt_boot.py [--reps 3] [--image pxelinux.0]

Prints a table of the runs, the medians and their ratio (the goal: libvirt
within 1.2x of QEMU alone). Builds pxelinux.0 first unless --image is given.
"""

import argparse
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from tests.conftest import SUITE, SYSROOT_PACKAGES, Parts  # noqa: E402
from tests.support.libvirt_lab import CONSOLE_LOG, GUEST, LibvirtLab, quickstart_block  # noqa: E402
from tests.support.netboot_parts import MARKER, build_image, stage2  # noqa: E402
from packager import debian  # noqa: E402

MAC = "52:54:00:12:34:56"


def libvirt_boot(lab, n):
    t0 = time.monotonic()
    lab.virsh("start", GUEST)
    path = lab.path(CONSOLE_LOG)
    while time.monotonic() - t0 < 600:
        try:
            with open(path, errors="replace") as f:
                if f.read().count(MARKER + " cmdline=") >= n:
                    return time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("libvirt boot %d did not reach the second stage in 600 s" % n)


def user_boot(tftp):
    argv = ["qemu-system-s390x", "-M", "s390-ccw-virtio", "-accel", "tcg", "-nographic", "-m", "2048",
            "-smp", "2", "-no-reboot",
            "-netdev", "user,id=n0,tftp=%s,bootfile=pxelinux.0" % tftp,
            "-device", "virtio-net-ccw,netdev=n0,mac=%s,bootindex=1,event_idx=off" % MAC]
    t0 = time.monotonic()
    q = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen = b""
    try:
        while time.monotonic() - t0 < 600:
            r, _, _ = select.select([q.stdout], [], [], 1.0)
            if r:
                chunk = os.read(q.stdout.fileno(), 65536)
                if not chunk:
                    break
                seen = (seen + chunk)[-4096:]
                if (MARKER + " cmdline=").encode() in seen:
                    return time.monotonic() - t0
    finally:
        q.kill()
        q.wait()
    raise SystemExit("user-mode boot did not reach the second stage:\n%s" % seen.decode("utf-8", "replace"))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--image", help="a built pxelinux.0 (default: build one)")
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="libvirt-bench-")
    lab = None
    try:
        dest = os.path.join(debian.cache_root(), "sysroot", "%s-s390x" % SUITE)
        parts = Parts(dest, debian.fetch_sysroot(debian.Apt(SUITE), dest, SYSROOT_PACKAGES))
        image = args.image or build_image(ROOT, work)
        kernel, initrd = stage2(parts, work)
        lab = LibvirtLab(os.path.join(work, "lv")).up()
        env = {"TFTPROOT": "/srv/tftp", "PXELINUX": image, "KERNEL": kernel, "INITRD": initrd}
        lab.shell("cd %s\n%s" % (ROOT, quickstart_block("sh", 'cp "$PXELINUX"')), env=env)
        xmldir = os.path.join(work, "xml")
        os.makedirs(xmldir)
        with open(os.path.join(xmldir, "netboot-net.xml"), "w") as f:
            f.write(quickstart_block("xml", "<network", "dhcp-option-force"))
        with open(os.path.join(xmldir, "guest.xml"), "w") as f:
            f.write(quickstart_block("xml", "<domain"))
        lab.shell("cd %s\n%s" % (xmldir, quickstart_block("sh", "virsh net-define netboot-net.xml", "net-undefine")))
        lab.shell("cd %s\n%s" % (xmldir, quickstart_block("sh", "virsh define guest.xml")
                                 .replace("virsh start --console " + GUEST, "")))
        rows = []
        for i in range(args.reps):
            rows.append(("libvirt (quick start XML)", libvirt_boot(lab, i + 1)))
            rows.append(("QEMU user-mode network", user_boot(lab.tftp)))
        print("| run | path | virsh start / qemu start -> second stage (s) |")
        print("|---|---|---|")
        for n, (name, secs) in enumerate(rows, 1):
            print("| %d | %s | %.1f |" % (n, name, secs))
        lv = statistics.median(s for name, s in rows if name.startswith("libvirt"))
        um = statistics.median(s for name, s in rows if name.startswith("QEMU"))
        print()
        print("median: libvirt %.1f s, QEMU user-mode %.1f s, ratio %.2fx (goal <= 1.2x)" % (lv, um, lv / um))
        return 0
    finally:
        if lab is not None:
            lab.down()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
