#!/usr/bin/env python3
"""Our pxelinux.0 against the shell design it replaces and against QEMU's own
firmware, netbooting the same stage-2 under qemu-system-s390x (TCG) with QEMU's
user-mode network (built-in DHCP and TFTP), alternating in one run.

Paths (boot file named by `-netdev user,...,bootfile=`):

- agent:      our image (`packager build --agent agent/`, or --image);
- shell 512:  a seed-style initramfs from the same Debian parts (busybox
  udhcpc, a /init shell script, busybox tftp, kexec with its libraries, the
  virtio_net modules; gzip), as s390-tools' netboot scripts make one, wrapped
  into an image with packager's s390image.make_image; busybox tftp without -b
  (RFC 1350's 512-byte blocks);
- shell 1468: the same initramfs, `busybox tftp -b 1468` (QEMU grants 1428);
- firmware:   a boot file whose first line is `# pxelinux`, which QEMU's
  s390-ccw firmware parses itself and boots (no agent, no kexec).

All four fetch pxelinux.cfg/default (one label, no menu) and boot the same
stage-2 (tests/support/netboot_parts.py: Debian's kernel with 1 MiB of zeros appended,
a tiny initrd whose /init prints a marker).

    .venv/bin/python bench/boot_compare.py [--reps 3] [--image pxelinux.0]
        [--only agent,shell512,...] [--extra NAME=IMAGE ...]

Run it under the machine's QEMU lock: `flock /tmp/s390-qemu.lock ...`.
Times are seconds since qemu-system-s390x started, as the host sees console
lines arrive; the table gives medians. Not a timed test: the numbers depend on
the machine.
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

from tests.support.netboot_parts import MARKER, build_image, stage2  # noqa: E402

MAC = "52:54:00:12:34:56"
APPEND = "console=ttysclp0 bench=1"
CONFIG = """DEFAULT linux
LABEL linux
  KERNEL vmlinuz
  INITRD stage2.img
  APPEND %s
""" % APPEND

# The seed-style /init: what s390-tools' netboot scripts do, in busybox sh.
SHELL_INIT = r"""#!/bin/sh
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
for m in $(cat /etc/modules); do insmod /lib/modules/$m; done
echo "shell-netboot: /init started"
ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -f -q -n -t 4 -T 2 -s /etc/udhcpc.script >/dev/null 2>&1
. /tmp/lease
echo "shell-netboot: lease $ip from $server, boot file $bootfile"
B=
[ -n "$blksize" ] && B="-b $blksize"
cd /tmp
mac=$(cat /sys/class/net/eth0/address)
mac=01-$(echo $mac | sed 's/:/-/g')
tftp -g $B -r pxelinux.cfg/$mac -l cfg $server 2>/dev/null ||
  tftp -g $B -r pxelinux.cfg/default -l cfg $server
default=; cur=; kernel=; initrd=; append=
while read key val; do
  case "$key" in
    DEFAULT|default) default=$val;;
    LABEL|label) cur=$val;;
    KERNEL|kernel|LINUX|linux) [ "$cur" = "$default" ] && kernel=$val;;
    INITRD|initrd) [ "$cur" = "$default" ] && initrd=$val;;
    APPEND|append) [ "$cur" = "$default" ] && append=$val;;
  esac
done < cfg
tftp -g $B -r "$kernel" -l kernel $server
echo "shell-netboot: fetched $kernel"
tftp -g $B -r "$initrd" -l initrd $server
echo "shell-netboot: fetched $initrd"
kexec -l kernel --initrd=initrd --command-line="$append"
echo "shell-netboot: kexec -e"
kexec -e
echo "shell-netboot: kexec failed"
exec sh
"""

UDHCPC_SCRIPT = r"""#!/bin/sh
case "$1" in
  deconfig)
    ip addr flush dev $interface
    ip link set $interface up;;
  bound|renew)
    ip addr add $ip/$mask dev $interface
    [ -n "$router" ] && ip route add default via ${router%% *}
    server=$siaddr
    [ -z "$server" -o "$server" = 0.0.0.0 ] && server=$serverid
    echo "ip=$ip; server=$server; bootfile=$boot_file" > /tmp/lease;;
esac
exit 0
"""

PATHS = {
    # name: (boot file, /init line, lease line, kexec line)
    "agent": ("pxelinux.0", (b"s390-netboot agent started",), (b"netboot: ", b" lease "),
              (b"starting the kernel",)),
    "shell512": ("shell512.img", (b"shell-netboot: /init started",), (b"shell-netboot: lease",),
                 (b"shell-netboot: kexec -e",)),
    "shell1468": ("shell1468.img", (b"shell-netboot: /init started",), (b"shell-netboot: lease",),
                  (b"shell-netboot: kexec -e",)),
    "firmware": ("fw.cfg", None, None, None),
}
LABELS = {
    "agent": "our pxelinux.0 (agent)",
    "shell512": "shell initramfs, busybox tftp 512",
    "shell1468": "shell initramfs, busybox tftp -b 1468",
    "firmware": "QEMU firmware's own pxelinux parser",
}
COLUMNS = ["fw has file", "kernel", "/init", "lease", "kexec -e", "2nd kernel", "2nd stage", "unpack"]


def shell_initramfs(parts, compression="gzip"):
    """The seed-style initramfs: bytes."""
    from packager import build, elfdeps, initramfs, kmod
    sysroot = parts.sysroot
    entries = [initramfs.file("init", SHELL_INIT, 0o755),
               initramfs.file("etc/udhcpc.script", UDHCPC_SCRIPT, 0o755),
               initramfs.chardev("dev/console", 5, 1), initramfs.chardev("dev/null", 1, 3, 0o666)]
    for d in ("proc", "sys", "tmp", "dev"):
        entries.append(initramfs.directory(d))
    closure = elfdeps.closure(sysroot, ["bin/busybox", "sbin/kexec"])
    entries += build.sysroot_entries(sysroot, closure)
    with open(os.path.join(sysroot, "bin", "busybox"), "rb") as f:
        applets = build.busybox_applets(f.read())
    for name in applets:
        if name not in ("busybox", "init", "linuxrc"):
            entries.append(initramfs.symlink("bin/" + name, "busybox"))
    mods = kmod.closure(parts.moddir, parts.release, ["virtio_net"], parts.config)
    for rel in mods.order:
        entries.append(initramfs.file("lib/modules/" + os.path.basename(rel), mods.data[rel]))
    entries.append(initramfs.file("etc/modules", "".join(os.path.basename(m) + "\n" for m in mods.order)))
    return initramfs.write(entries, compression)


def shell_image(parts, initrd, cmdline):
    from packager import s390image
    with open(parts.kernel, "rb") as f:
        kernel = f.read()
    return s390image.make_image(kernel, initrd, cmdline)


def boot(tftp, bootfile, timeout=240):
    """[(seconds, line)] of one netboot to the second stage's marker."""
    argv = ["qemu-system-s390x", "-M", "s390-ccw-virtio", "-accel", "tcg", "-nographic", "-m", "1024",
            "-no-reboot", "-netdev", "user,id=n0,tftp=%s,bootfile=%s" % (tftp, bootfile),
            "-device", "virtio-net-ccw,netdev=n0,mac=%s,bootindex=1" % MAC]
    t0 = time.monotonic()
    q = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    stamps = []
    tail = b""
    try:
        while time.monotonic() - t0 < timeout:
            r, _, _ = select.select([q.stdout], [], [], 1.0)
            if not r:
                continue
            chunk = os.read(q.stdout.fileno(), 65536)
            now = time.monotonic() - t0
            if not chunk:
                break
            data = tail + chunk
            lines = data.split(b"\n")
            tail = lines.pop()
            for line in lines:
                stamps.append((now, line))
            if MARKER.encode() in data:
                if tail:
                    stamps.append((now, tail))
                return stamps
    finally:
        q.kill()
        q.wait()
    raise RuntimeError("%s: no second stage within %d s; console tail:\n%s" % (
        bootfile, timeout, b"\n".join(l for _, l in stamps[-30:]).decode("utf-8", "replace")))


def first(stamps, needles, nth=1, after=0.0):
    seen = 0
    for t, line in stamps:
        if t >= after and all(n in line for n in needles):
            seen += 1
            if seen == nth:
                return t
    return None


def stages(path, stamps):
    """{column: seconds} for one boot."""
    _, init, lease, kexec = PATHS[path]
    out = {}
    if path == "firmware":
        # The firmware gets its lease, has the config (its boot file), loads
        # the kernel and the initrd itself, and jumps into the kernel: its
        # "lease -> kexec -e" is its own transfer of the same files.
        out["lease"] = first(stamps, (b"Using IPv4 address",))
        out["fw has file"] = first(stamps, (b"Loading pxelinux.cfg entry",))
        out["kexec -e"] = first(stamps, (b"Network loading done",))
        out["2nd kernel"] = first(stamps, (b"Linux version",))
    else:
        out["fw has file"] = first(stamps, (b"Network loading done",))
        # The jump: kernel banners before it are the first kernel's, the first
        # after it the second's (a first-stage command line with `quiet`
        # hides the first kernel's banner).
        jump = next((i for i, (_, line) in enumerate(stamps) if all(n in line for n in kexec)), len(stamps))
        out["kernel"] = first(stamps[:jump], (b"Linux version",))
        out["/init"] = first(stamps, init)
        out["lease"] = first(stamps, lease)
        out["kexec -e"] = first(stamps, kexec)
        out["2nd kernel"] = first(stamps[jump:], (b"Linux version",))
    out["2nd stage"] = first(stamps, (MARKER.encode(),))
    # The kernel's own clock for its initramfs unpacking (the console reaches
    # the host late and in bursts; printk's stamps do not).
    a = printk_time(stamps, b"Trying to unpack rootfs image")
    b = printk_time(stamps, b"Freeing initrd memory")
    out["unpack"] = b - a if a is not None and b is not None and path != "firmware" else None
    out["firmware starts"] = first(stamps, (b"Network boot starting",)) or 0.0
    return out


def printk_time(stamps, needle):
    for _, line in stamps:
        if needle in line and line.startswith(b"[") and b"]" in line:
            try:
                return float(line[1:line.index(b"]")])
            except ValueError:
                return None
    return None


def fmt(v):
    return "-" if v is None else "%.2f" % v


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--image", help="our pxelinux.0 (default: build one)")
    ap.add_argument("--only", help="comma-separated paths (%s)" % ",".join(PATHS))
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=IMAGE",
                    help="another image of ours to alternate with (e.g. other compression)")
    ap.add_argument("--keep", metavar="DIR", help="write the TFTP tree here and keep it")
    a = ap.parse_args(argv)
    from tests.conftest import Parts, SUITE, SYSROOT_PACKAGES
    from packager import debian
    sysroot = os.path.join(debian.cache_root(), "sysroot", "%s-s390x" % SUITE)
    parts = Parts(sysroot, debian.fetch_sysroot(debian.Apt(SUITE), sysroot, SYSROOT_PACKAGES))
    work = tempfile.mkdtemp(prefix="bootcmp")
    tftp = a.keep or os.path.join(work, "tftp")
    os.makedirs(os.path.join(tftp, "pxelinux.cfg"), exist_ok=True)
    paths = a.only.split(",") if a.only else list(PATHS)
    try:
        if "agent" in paths:
            image = a.image or build_image(ROOT, work)
            shutil.copy(image, os.path.join(tftp, "pxelinux.0"))
        for spec in a.extra:
            name, img = spec.split("=", 1)
            PATHS[name] = ("%s.img" % name,) + PATHS["agent"][1:]
            LABELS[name] = "our image: %s (%s)" % (name, os.path.basename(img))
            shutil.copy(img, os.path.join(tftp, "%s.img" % name))
            paths.append(name)
        kernel, initrd = stage2(parts, work)
        shutil.copy(kernel, os.path.join(tftp, "vmlinuz"))
        shutil.copy(initrd, os.path.join(tftp, "stage2.img"))
        with open(os.path.join(tftp, "pxelinux.cfg", "default"), "w") as f:
            f.write(CONFIG)
        with open(os.path.join(tftp, "fw.cfg"), "w") as f:
            f.write("# pxelinux\n" + CONFIG)
        shell = shell_initramfs(parts)
        for name, cmdline in (("shell512.img", None), ("shell1468.img", "blksize=1468")):
            with open(os.path.join(tftp, name), "wb") as f:
                f.write(shell_image(parts, shell, cmdline))
        sizes = {n: os.path.getsize(os.path.join(tftp, PATHS[n][0])) for n in paths}
        fetched = os.path.getsize(os.path.join(tftp, "vmlinuz")) + os.path.getsize(os.path.join(tftp, "stage2.img"))
        runs = {n: [] for n in paths}
        for rep in range(a.reps):
            for n in paths:
                stamps = boot(tftp, PATHS[n][0])
                runs[n].append(stages(n, stamps))
                r = runs[n][-1]
                print("rep %d %-10s %s" % (rep + 1, n, " ".join("%s=%s" % (c, fmt(r.get(c))) for c in COLUMNS)),
                      file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(paths, runs, sizes, fetched, a.reps)
    return 0


def report(paths, runs, sizes, fetched, reps):
    print("| path (boot file size) | %s | lease -> kexec -e | to 2nd stage, each run |"
          % " | ".join(COLUMNS))
    print("|---|%s---|---|" % ("---|" * len(COLUMNS)))
    meds = {}
    for n in paths:
        rs = runs[n]
        m = {c: med([r.get(c) for r in rs]) for c in COLUMNS}
        lk = med([r["kexec -e"] - r["lease"] for r in rs if r.get("kexec -e") and r.get("lease")])
        m["lease->kexec"] = lk
        meds[n] = m
        print("| %s (%.1f MiB) | %s | %s | %s |" % (
            LABELS[n], sizes[n] / 1048576.0, " | ".join(fmt(m[c]) for c in COLUMNS), fmt(lk),
            ", ".join(fmt(r.get("2nd stage")) for r in rs)))
    print()
    print("medians of %d run(s); seconds since QEMU started; stage-2 kernel + initrd: %.1f MiB"
          % (reps, fetched / 1048576.0))
    ours = meds.get("agent", {}).get("2nd stage")
    for other, goal in (("shell512", 0.67), ("shell1468", 0.9)):
        if ours and meds.get(other, {}).get("2nd stage"):
            r = ours / meds[other]["2nd stage"]
            print("to the second stage, agent / %s: %.2fx (goal <= %.2fx: %s)"
                  % (other, r, goal, "met" if r <= goal else "missed"))
    lk = meds.get("agent", {}).get("lease->kexec")
    fwt = meds.get("firmware", {}).get("lease->kexec")
    if lk and fwt:
        r = lk / fwt
        print("lease -> kexec -e, agent %.2f s / firmware's transfer of the same files %.2f s: %.2fx "
              "(goal <= 1.3x: %s)" % (lk, fwt, r, "met" if r <= 1.3 else "missed"))
    for n in paths:
        if n != "agent" and n != "firmware" and meds[n].get("lease->kexec") and fwt:
            print("lease -> kexec -e, %s: %.2f s, %.2fx the firmware's" % (n, meds[n]["lease->kexec"],
                                                                          meds[n]["lease->kexec"] / fwt))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
