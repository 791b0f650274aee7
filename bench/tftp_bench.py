#!/usr/bin/env python3
"""TFTP throughput: this project's client against curl, busybox tftp and tftpy,
all fetching from atftpd in a private network namespace, in one run.

    .venv/bin/python bench/tftp_bench.py [--reps 3] [--size-mib 64] [--delay-size-mib 8]

Two links: loopback, and loopback through a user-space relay that adds 1 ms
in each direction (this machine's kernel has no netem). Prints MiB/s as the
median of the repetitions and the spread (min-max). Times include process
start-up (the same for every client, tens of milliseconds).
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from tests.support.servers import Netns, start_tftp  # noqa: E402


def micropython_binary():
    from packager import debian, micropython
    path, _ = micropython.build(os.path.join(ROOT, "agent"), debian.cache_root(), "x86_64", "zig")
    return path


def clients(port, name, out, mpy):
    url = "tftp://127.0.0.1:%d/%s" % (port, name)
    py = sys.executable
    return [
        ("agent, CPython, MTU blksize, window 16", [py, "-m", "agent", "fetch", url, "-o", out, "--quiet"]),
        ("agent, CPython, blksize 1468, window 16", [py, "-m", "agent", "fetch", url, "-o", out, "--quiet",
                                                     "--blksize", "1468"]),
        ("agent, CPython, blksize 1468, window 1", [py, "-m", "agent", "fetch", url, "-o", out, "--quiet",
                                                    "--blksize", "1468", "--windowsize", "1"]),
        ("agent, MicroPython, blksize 1468, window 16", [mpy, "-m", "agent", "fetch", url, "-o", out,
                                                         "--quiet", "--blksize", "1468"]),
        ("curl, blksize 65464", ["curl", "-s", "-o", out, "--tftp-blksize", "65464", url]),
        ("curl, blksize 1468", ["curl", "-s", "-o", out, "--tftp-blksize", "1468", url]),
        ("busybox tftp, default (512)", ["busybox", "tftp", "-g", "-r", name, "-l", out, "127.0.0.1", str(port)]),
        ("busybox tftp -b 1468", ["busybox", "tftp", "-g", "-b", "1468", "-r", name, "-l", out, "127.0.0.1",
                                  str(port)]),
        ("tftpy client, blksize 1468", [py, "-c", "import logging, tftpy; logging.disable(logging.CRITICAL); "
                                        "tftpy.TftpClient('127.0.0.1', %d, options={'blksize': 1468})"
                                        ".download(%r, %r)" % (port, name, out)]),
    ]


def run_once(ns, argv, out, size, timeout):
    if os.path.exists(out):
        os.remove(out)
    t = time.monotonic()
    p = ns.run(argv, cwd=ROOT, timeout=timeout)
    dt = time.monotonic() - t
    if p.returncode != 0 or not os.path.exists(out) or os.path.getsize(out) != size:
        return None, (p.stderr or p.stdout or "").strip().splitlines()[-1:] or ["wrong size"]
    return size / 1048576.0 / dt, None


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--size-mib", type=int, default=64)
    ap.add_argument("--delay-size-mib", type=int, default=8)
    ap.add_argument("--json", metavar="FILE", help="also write the results here")
    a = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="tftpbench")
    ns = Netns("nbbench%d" % os.getpid())
    results = []
    try:
        root = os.path.join(work, "root")
        os.makedirs(root)
        os.chmod(work, 0o755)
        os.chmod(root, 0o755)
        for name, mib in (("big", a.size_mib), ("mid", a.delay_size_mib)):
            with open(os.path.join(root, name), "wb") as f:
                f.write(os.urandom(mib << 20))
        start_tftp(ns, "atftpd", root, work)
        relay = ns.start([sys.executable, os.path.join(ROOT, "tests", "support", "udp_relay.py"), "7000", "69",
                          "--delay-ms", "1"], log=os.path.join(work, "relay.log"))
        mpy = micropython_binary()
        out = os.path.join(work, "out")
        for link, port, name, mib in (("loopback", 69, "big", a.size_mib),
                                      ("+1 ms each way", 7000, "mid", a.delay_size_mib)):
            for label, cmd in clients(port, name, out, mpy):
                rates, err = [], None
                for _ in range(a.reps):
                    r, err = run_once(ns, cmd, out, mib << 20, timeout=600)
                    if r is None:
                        break
                    rates.append(r)
                row = {"link": link, "file_mib": mib, "client": label, "rates": rates,
                       "median": statistics.median(rates) if rates else None, "error": err}
                results.append(row)
                print_row(row, flush=True)
        ns.stop(relay)
    finally:
        ns.close()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print_table(results)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


def print_row(row, flush=False):
    if row["rates"]:
        print("  %-16s %-44s %8.1f MiB/s  (%.1f-%.1f)" % (row["link"], row["client"], row["median"],
                                                         min(row["rates"]), max(row["rates"])), flush=flush)
    else:
        print("  %-16s %-44s   failed: %s" % (row["link"], row["client"], row["error"]), flush=flush)


def print_table(results):
    print("| link | file | client | MiB/s (median) | spread | vs curl 1468 | vs busybox 512 |")
    print("|---|---|---|---|---|---|---|")
    for link in sorted(set(r["link"] for r in results), key=lambda l: l != "loopback"):
        rows = [r for r in results if r["link"] == link]
        base = {r["client"]: r["median"] for r in rows}
        curl = base.get("curl, blksize 1468")
        bb = base.get("busybox tftp, default (512)")
        for r in rows:
            if not r["rates"]:
                print("| %s | %d MiB | %s | failed | | | |" % (link, r["file_mib"], r["client"]))
                continue
            print("| %s | %d MiB | %s | %.1f | %.1f-%.1f | %s | %s |" % (
                link, r["file_mib"], r["client"], r["median"], min(r["rates"]), max(r["rates"]),
                "%.1fx" % (r["median"] / curl) if curl else "", "%.1fx" % (r["median"] / bb) if bb else ""))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
