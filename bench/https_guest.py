#!/usr/bin/env python3
"""HTTPS against HTTP and TFTP in the guest, and what TLS costs the image.

Netboots qemu-system-s390x (dnsmasq in a network namespace, as the test
suite's scenarios do) once per protocol; the label's initrd is the second
stage with 100 MiB of random data appended, fetched over
  - TFTP from atftpd (windowsize 16, blksize from the MTU),
  - HTTP from Debian's nginx (option 210 http://),
  - HTTPS from the same nginx with a certificate from a test CA the image
    trusts (packager build --ca-certs; option 210 https://),
and prints the agent's own "fetched" figures as a table. Then the sizes:
the interpreter with and without the ssl module (raw and zstd -19, the
image's compression) and the trust stores.

    flock /tmp/s390-qemu.lock .venv/bin/python bench/https_guest.py [--reps 1] [--no-sizes]
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from tests.support.lab import Lab, SERVER_IP  # noqa: E402
from tests.support.netboot_parts import MARKER, build_image, stage2  # noqa: E402
from tests.support import tlsca  # noqa: E402

CONFIG = "DEFAULT big\nLABEL big\n KERNEL vmlinuz\n INITRD big.img\n APPEND console=ttysclp0 scenario=%s\n"
FETCHED = re.compile(r"fetched \S*big\.img: ([\d.]+) MiB in ([\d.]+) s, ([\d.]+) MiB/s")
PROTOCOLS = ("tftp", "http", "https")


def one_boot(proto, files, certs, work):
    lab = Lab(work).up()
    nginx = None
    try:
        for name, path in files.items():
            shutil.copy(path, os.path.join(lab.tftp, name))
        with open(os.path.join(lab.tftp, "pxelinux.cfg", "default"), "w") as f:
            f.write(CONFIG % proto)
        if proto == "tftp":
            lab.dnsmasq(tftp=False)
            lab.atftpd()
        else:
            nginx = tlsca.Nginx(os.path.join(work, "nginx"), certs, lab.tftp, addr=SERVER_IP,
                                base_port=8443, names=("good",), netns=lab.ns)
            prefix = nginx.url("good", "") if proto == "https" else "http://%s:%d/" % (SERVER_IP, nginx.http_port)
            lab.dnsmasq("--dhcp-option=tag:s390,210,%s" % prefix)
        lab.boot(memory=1024)
        lab.wait_for(MARKER, 600)
        m = FETCHED.search(lab.text())
        if not m:
            raise RuntimeError("%s: no 'fetched big.img' line:\n%s" % (proto, lab.text()[-2000:]))
        return float(m.group(1)), float(m.group(2)), float(m.group(3))
    finally:
        if nginx:
            nginx.stop()
        lab.down()


def zstd_size(path):
    return len(subprocess.run(["zstd", "-19", "-c", path], stdout=subprocess.PIPE, check=True).stdout)


def sizes():
    """(interpreter without TLS, with TLS) as (raw, zstd -19) byte counts."""
    from packager import debian, micropython
    agent = os.path.join(ROOT, "agent")
    with_tls, _ = micropython.build(agent, debian.cache_root(), "s390x", "zig")
    saved = list(micropython.MAKE_FLAGS)
    try:
        micropython.MAKE_FLAGS[:] = [f.replace("MICROPY_PY_SSL=1", "MICROPY_PY_SSL=0")
                                     .replace("MICROPY_SSL_MBEDTLS=1", "MICROPY_SSL_MBEDTLS=0") for f in saved]
        without, _ = micropython.build(agent, debian.cache_root(), "s390x", "zig")
    finally:
        micropython.MAKE_FLAGS[:] = saved
    return [(os.path.getsize(p), zstd_size(p)) for p in (without, with_tls)]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--no-sizes", action="store_true", help="skip the interpreter size comparison")
    a = ap.parse_args(argv)
    from tests.conftest import Parts, SUITE, SYSROOT_PACKAGES
    from packager import debian
    apt = debian.Apt(SUITE)
    sysroot = os.path.join(debian.cache_root(), "sysroot", "%s-s390x" % SUITE)
    debian.fetch_sysroot(apt, sysroot, SYSROOT_PACKAGES)
    parts = Parts(sysroot, None)
    work = tempfile.mkdtemp(prefix="httpsbench")
    results = {}
    try:
        certs = tlsca.make_certs(os.path.join(work, "certs"))
        image = build_image(ROOT, work, "--ca-certs", os.path.join(certs, "ca.pem"))
        kernel, initrd = stage2(parts, work)
        big = os.path.join(work, "big.img")
        shutil.copy(initrd, big)
        with open(big, "ab") as f:
            f.write(os.urandom(100 << 20))
        files = {"pxelinux.0": image, "vmlinuz": kernel, "big.img": big}
        for proto in PROTOCOLS:
            for i in range(a.reps):
                results.setdefault(proto, []).append(one_boot(proto, files, certs,
                                                              os.path.join(work, "%s%d" % (proto, i))))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("| protocol | server | size | time (s, median of %d) | MiB/s |" % a.reps)
    print("|---|---|---|---|---|")
    servers = {"tftp": "atftpd, windowsize 16", "http": "nginx", "https": "nginx, TLS 1.2, ECDSA P-256"}
    for proto in PROTOCOLS:
        runs = results[proto]
        print("| %s | %s | %.1f MiB | %.1f | %.1f |" % (proto.upper(), servers[proto], runs[0][0],
                                                        statistics.median(r[1] for r in runs),
                                                        statistics.median(r[2] for r in runs)))
    if not a.no_sizes:
        (raw0, z0), (raw1, z1) = sizes()
        print()
        print("| interpreter | bytes | zstd -19 |")
        print("|---|---|---|")
        print("| without ssl | %d | %d |" % (raw0, z0))
        print("| with ssl (mbedtls) | %d | %d |" % (raw1, z1))
        print("| cost of TLS | +%d | +%d |" % (raw1 - raw0, z1 - z0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
