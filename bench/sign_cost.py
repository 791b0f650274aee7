#!/usr/bin/env python3
"""What signed boot costs: time to check a 30 MiB initrd, and image bytes.

Time: a 30 MiB random file signed with a test PKI (tests/support/signca.py:
P-256 root, intermediate, code-signing certificate), checked by the frozen agent
of the image's s390x interpreter under qemu-s390x-static (a stand-in for
the guest: both are TCG), through agent.verify: the file's SHA-256 from
disk, the signature check alone, and a whole VerifyingFetcher.fetch
against a plain LocalFetcher.fetch of the same file (copy + hash + .sig +
check, minus the copy). Medians of --reps runs.

Bytes: the s390x interpreter with and without packager/cmod/sigcheck and
MBEDTLS_PKCS7_C/MBEDTLS_X509_CRL_PARSE_C (raw and zstd -19, the image's
compression), and the frozen agent/verify.py (mpy-cross -O1).

    .venv/bin/python bench/sign_cost.py [--reps 3] [--no-sizes]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

SIZE = 30 << 20

TIMING = r"""
import sys, time
from agent import verify
from agent.fetch import LocalFetcher
tree, roots, out = sys.argv[-3:]
roots = verify.load_roots(roots)
def ms(f):
    t = time.ticks_ms(); f(); return time.ticks_diff(time.ticks_ms(), t)
digest = [None]
sig = open(tree + "/big.img.sig", "rb").read()
def h():
    digest[0] = verify.file_sha256(tree + "/big.img")
t_hash = ms(h)
t_check = ms(lambda: verify.check(sig, digest[0], roots))
assert verify.check(sig, digest[0], roots) == verify.OK
plain = LocalFetcher(tree)
signed = verify.VerifyingFetcher(LocalFetcher(tree), roots)
t_plain = ms(lambda: plain.fetch("tftp://x/big.img", out))
t_signed = ms(lambda: signed.fetch("tftp://x/big.img", out))
print("RESULT", t_hash, t_check, t_plain, t_signed)
"""


def timing(interp, reps):
    from tests.support import signca
    d = tempfile.mkdtemp(prefix="sign-cost-")
    try:
        pki = signca.make_pki(os.path.join(d, "pki"))
        tree = os.path.join(d, "tree")
        os.makedirs(tree)
        with open(os.path.join(tree, "big.img"), "wb") as f:
            f.write(os.urandom(SIZE))
        signca.cms_sign(pki, "signer", os.path.join(tree, "big.img"))
        runs = []
        for _ in range(reps):
            p = subprocess.run(["qemu-s390x-static", interp, "-c", TIMING, tree, os.path.join(pki, "root.pem"),
                                os.path.join(d, "out")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, cwd=d, timeout=900)
            line = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
            if p.returncode != 0 or not line:
                raise RuntimeError(p.stdout[-2000:])
            runs.append([int(x) for x in line[0].split()[1:]])
        return [statistics.median(col) for col in zip(*runs)]
    finally:
        shutil.rmtree(d, ignore_errors=True)


def zstd_size(path):
    return len(subprocess.run(["zstd", "-19", "-c", path], stdout=subprocess.PIPE, check=True).stdout)


def sizes(with_sig):
    """(without, with) as (raw, zstd -19) byte counts; the frozen verify.py's bytes."""
    from packager import debian, micropython
    agent = os.path.join(ROOT, "agent")
    saved = (micropython.CMOD_DIR, micropython.MBEDTLS_CONFIG)
    tmp = tempfile.mkdtemp(prefix="sign-cost-cmod-")
    try:
        cmod = os.path.join(tmp, "cmod")
        shutil.copytree(saved[0], cmod, ignore=shutil.ignore_patterns("sigcheck"))
        micropython.CMOD_DIR = cmod
        micropython.MBEDTLS_CONFIG = "\n".join(line for line in saved[1].splitlines()
                                               if "PKCS7" not in line and "CRL_PARSE" not in line) + "\n"
        without, _ = micropython.build(agent, debian.cache_root(), "s390x", "zig")
    finally:
        micropython.CMOD_DIR, micropython.MBEDTLS_CONFIG = saved
        shutil.rmtree(tmp, ignore_errors=True)
    version, src = micropython.source_dir(debian.cache_root())
    mpy = os.path.join(tmp + "-verify.mpy")
    subprocess.run([os.path.join(src, "mpy-cross", "build", "mpy-cross"), "-O1", "-o", mpy,
                    os.path.join(agent, "verify.py")], check=True)
    frozen = os.path.getsize(mpy)
    os.remove(mpy)
    return [(os.path.getsize(p), zstd_size(p)) for p in (without, with_sig)], frozen


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-sizes", action="store_true")
    args = ap.parse_args(argv)
    from packager import debian, micropython
    interp, _ = micropython.build(os.path.join(ROOT, "agent"), debian.cache_root(), "s390x", "zig")
    t_hash, t_check, t_plain, t_signed = timing(interp, args.reps)
    print("30 MiB file, frozen s390x agent under qemu-s390x-static, medians of %d (ms):" % args.reps)
    print("| step | ms |")
    print("|---|---|")
    print("| SHA-256 of the file from disk (verify.file_sha256) | %d |" % t_hash)
    print("| signature check (sigcheck.verify: chain, EKU, ECDSA P-256) | %d |" % t_check)
    print("| LocalFetcher.fetch (copy) | %d |" % t_plain)
    print("| VerifyingFetcher.fetch (copy, .sig, hash, check) | %d |" % t_signed)
    if not args.no_sizes:
        pairs, frozen = sizes(interp)
        (raw0, z0), (raw1, z1) = pairs
        print("| interpreter | bytes | zstd -19 |")
        print("|---|---|---|")
        print("| without sigcheck | %d | %d |" % (raw0, z0))
        print("| with sigcheck | %d | %d |" % (raw1, z1))
        print("| added | %d | %d |" % (raw1 - raw0, z1 - z0))
        print("frozen agent/verify.py: %d bytes (mpy-cross -O1)" % frozen)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
