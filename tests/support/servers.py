"""Real TFTP and HTTP servers for tests and benchmarks, each started inside a
network namespace of its own (so port 69 is free and nothing leaks), on its
loopback. Clients run in the same namespace with `ip netns exec`.
"""

import os
import signal
import subprocess
import sys
import time

from tests.support import ROOT  # noqa: F401  (tests import it from here too)
PY = sys.executable


def cache_dir():
    from packager import debian
    return debian.cache_root()


def tftpd_hpa():
    """Path of tftpd-hpa's in.tftpd, unpacked from Debian's package (it conflicts
    with atftpd, so it is not installed system-wide)."""
    dest = os.path.join(cache_dir(), "tools", "tftpd-hpa")
    binary = os.path.join(dest, "usr", "sbin", "in.tftpd")
    if not os.path.exists(binary):
        os.makedirs(dest, exist_ok=True)
        subprocess.run(["apt-get", "download", "-q", "tftpd-hpa"], cwd=dest, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deb = [f for f in os.listdir(dest) if f.endswith(".deb")][0]
        subprocess.run(["dpkg-deb", "-x", os.path.join(dest, deb), dest], check=True)
    return binary


class Netns:
    """hosts: the text of the namespace's own /etc/hosts (`ip netns exec`
    bind-mounts /etc/netns/NAME/hosts over /etc/hosts for what it runs)."""

    def __init__(self, name, hosts=None):
        self.name = name
        self.procs = []
        self.etc = os.path.join("/etc/netns", name) if hosts is not None else None
        subprocess.run(["ip", "netns", "del", name], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "add", name], check=True)
        if self.etc:
            os.makedirs(self.etc, exist_ok=True)
            with open(os.path.join(self.etc, "hosts"), "w") as f:
                f.write(hosts)
        self.run(["ip", "link", "set", "lo", "up"], check=True)

    def argv(self, argv):
        return ["ip", "netns", "exec", self.name] + list(argv)

    def run(self, argv, **kw):
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        kw.setdefault("text", True)
        return subprocess.run(self.argv(argv), **kw)

    def start(self, argv, log=None, wait=0.3):
        out = open(log, "ab") if log else subprocess.DEVNULL
        p = subprocess.Popen(self.argv(argv), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(p)
        time.sleep(wait)
        if p.poll() is not None:
            raise RuntimeError("%s exited at once (%s); see %s" % (argv[0], p.returncode, log))
        return p

    def stop(self, p):
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def close(self):
        for p in self.procs:
            self.stop(p)
        subprocess.run(["ip", "netns", "del", self.name], stderr=subprocess.DEVNULL)
        if self.etc:
            import shutil
            shutil.rmtree(self.etc, ignore_errors=True)


SERVERS = ("atftpd", "tftpd-hpa", "dnsmasq", "tftpy")


def start_tftp(ns, kind, root, workdir, port=69, host="127.0.0.1"):
    log = os.path.join(workdir, "%s.log" % kind)
    if kind == "atftpd":
        argv = ["atftpd", "--daemon", "--no-fork", "--port", str(port), "--bind-address", host,
                "--user", "root", "--group", "root", "--logfile", "-", root]
    elif kind == "tftpd-hpa":
        # -a fails in a namespace with only a loopback (getaddrinfo's AI_ADDRCONFIG):
        # bind every address, which in a private namespace means its loopback.
        if port != 69:
            raise ValueError("tftpd-hpa is run on port 69 only here")
        argv = [tftpd_hpa(), "-L", "-u", "root", "-s", root]
    elif kind == "dnsmasq":
        if port != 69:
            raise ValueError("dnsmasq serves TFTP on port 69 only")
        argv = ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--user=root",
                "--interface=lo", "--bind-interfaces", "--enable-tftp", "--tftp-root=" + root,
                "--log-facility=-", "--pid-file=" + os.path.join(workdir, "dnsmasq.pid")]
    elif kind == "tftpy":
        argv = [PY, "-c", "import logging, tftpy; logging.disable(logging.CRITICAL); "
                "tftpy.TftpServer(%r).listen('127.0.0.1', %d)" % (root, port)]
    else:
        raise ValueError(kind)
    return ns.start(argv, log=log, wait=0.5)


def agent_fetch(ns, url, out, *options, timeout=300, python=PY, env=()):
    """`python -m agent fetch` in the namespace; (returncode, parsed JSON or None, stderr).
    python: the interpreter (e.g. a static MicroPython); env: NAME=VALUE strings."""
    import json
    argv = (["env"] + list(env) if env else []) + [python, "-m", "agent", "fetch", url, "-o", out,
                                                   "--json"] + list(options)
    p = ns.run(argv, cwd=ROOT, timeout=timeout)
    try:
        result = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else None
    except ValueError:
        result = None
    return p.returncode, result, p.stderr
