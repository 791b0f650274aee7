#!/usr/bin/env python3
"""What TLS session resumption saves: a full handshake against a resumed one.

Debian's nginx with the test CA's P-256 certificate (tests/support/tlsca.py)
in a network namespace of its own, its defaults for resumption (tickets on,
no session cache) and keepalive_requests 1, so every request is a new TCP
connection and handshake. One agent.http.HttpFetcher fetches a 100-byte
file --reps times with its sessions forgotten before each fetch (full
handshakes), then --reps times keeping them (resumed, after the first).
Milliseconds per fetch (connect, handshake, request, response), median and
min, under CPython, the image's interpreter built for x86_64, and the s390x
one under qemu-s390x-static (TCG, a stand-in for a guest without KVM); the
nginx log's $ssl_session_reused is checked for each run.

    .venv/bin/python bench/tls_resume.py [--reps 20] [--no-s390x]
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

CLIENT = r"""
import sys, time
from agent.http import HttpFetcher
try:
    us, diff = time.ticks_us, time.ticks_diff
except AttributeError:
    us, diff = (lambda: int(time.perf_counter() * 1e6)), (lambda a, b: a - b)
ca, url, reps, mode = sys.argv[-4], sys.argv[-3], int(sys.argv[-2]), sys.argv[-1]
f = HttpFetcher(timeout=60.0, ca_file=ca, retries=0)
f.read(url)      # the trust store loaded, a first session kept
out = []
for i in range(reps):
    if mode == "full":
        f.sessions = {}
    t = us()
    f.read(url)
    out.append(diff(us(), t))
print("RESULT", " ".join([str(x) for x in out]))
"""


def run(ns, argv, nginx, mode, reps):
    start = os.path.getsize(nginx.access_log) if os.path.exists(nginx.access_log) else 0
    p = ns.run(argv + [CLIENT, os.path.join(nginx.certs, "ca.pem"), nginx.url("good", "f"), str(reps), mode],
               cwd=ROOT, timeout=1800)
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT")]
    if p.returncode != 0 or not line:
        raise SystemExit("%s failed: %s" % (argv[0], p.stderr.strip()[-300:]))
    with open(nginx.access_log) as f:
        f.seek(start)
        reused = [ln.split()[1] for ln in f.read().splitlines()][1:]
    want = "." if mode == "full" else "r"
    if reused != [want] * reps:
        raise SystemExit("%s %s: $ssl_session_reused %s, want all %r" % (argv[0], mode, "".join(reused), want))
    return [int(x) / 1000.0 for x in line[0].split()[1:]]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--no-s390x", action="store_true", help="skip the s390x interpreter under qemu-s390x-static")
    args = ap.parse_args()
    from packager import debian, micropython
    from tests.support import tlsca
    from tests.support.servers import Netns
    clients = [("CPython %d.%d" % sys.version_info[:2], [sys.executable, "-c"])]
    mpy = micropython.build(os.path.join(ROOT, "agent"), debian.cache_root(), "x86_64", "zig")[0]
    clients.append(("MicroPython x86_64", [mpy, "-c"]))
    if not args.no_s390x:
        mpy = micropython.build(os.path.join(ROOT, "agent"), debian.cache_root(), "s390x", "zig")[0]
        clients.append(("MicroPython s390x (qemu-s390x-static)", ["qemu-s390x-static", mpy, "-c"]))
    d = tempfile.mkdtemp(prefix="tls-resume-")
    ns = Netns("s390nb-tlsbench")
    nginx = None
    try:
        certs = tlsca.make_certs(os.path.join(d, "certs"))
        os.makedirs(os.path.join(d, "root"))
        with open(os.path.join(d, "root", "f"), "wb") as f:
            f.write(b"x" * 100)
        nginx = tlsca.Nginx(os.path.join(d, "nginx"), certs, os.path.join(d, "root"), netns=ns.name,
                            names=("good",), log_format="$connection $ssl_session_reused",
                            extra="    keepalive_requests 1;")
        nginx.certs = certs
        print("%-40s %16s %16s %8s" % ("ms per fetch (median / min)", "full handshake", "resumed", "saved"))
        for name, argv in clients:
            full = run(ns, argv, nginx, "full", args.reps)
            resumed = run(ns, argv, nginx, "resumed", args.reps)
            mf, mr = statistics.median(full), statistics.median(resumed)
            print("%-40s %9.1f / %4.1f %9.1f / %4.1f %7.0f%%" % (name, mf, min(full), mr, min(resumed),
                                                           100.0 * (mf - mr) / mf if mf else 0))
    finally:
        if nginx is not None:
            nginx.stop()
        ns.close()
        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
