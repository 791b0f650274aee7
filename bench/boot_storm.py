#!/usr/bin/env python3
"""Boot storm: N guests netboot at once from one boot server, beside N curl
processes fetching the same bytes from the same server in the same run.

    .venv/bin/python bench/boot_storm.py [--agents 200] [--tftp-agents 100]
        [--transport http|https|tftp|tftp-dnsmasq|http-restart|http-proxy ...]
        [--kernel-mib 5] [--initrd-mib 48] [--tftp-initrd-mib 16]
        [--plot storm.png] [--json storm.json]

Each guest is the agent's own boot flow (bench/storm_agent.py in the static
MicroPython the image runs, built for x86_64 with the agent frozen in) in a
network namespace of its own whose veth is a port of one bridge. busybox
udhcpc asks dnsmasq (DHCP, option 210 for HTTP) for a lease, the agent
searches pxelinux.cfg/ as PXELINUX does, fetches the kernel and the initrd,
and stops where kexec -e would follow (pxe.noexec), after checking every
block of both files and freeing them.

Transports (all four when none is named):
  http          nginx over HTTP (option 210 http://)
  https         nginx over HTTPS, the agent trusting the bench's own CA
  tftp          atftpd (blksize from the MTU, windowsize 16)
  tftp-dnsmasq  dnsmasq's own TFTP server (no windowsize: lock-step)
  http-restart  http, with nginx restarted (stopped as systemd stops it:
                QUIT, then TERM after --restart-grace s) once 40 % of the
                storm's bytes are sent
  http-proxy    http through an nginx caching proxy (proxy_cache, with
                proxy_cache_lock) in front of an origin nginx
Reference: after each storm, curl in every guest's namespace fetches the
same kernel and initrd from the same server (one process per guest, one
connection for both files; for TFTP curl's blksize 1468, the agent's).

Prints a table per transport and one line each:
    storm TRANSPORT: N agents, F failed, T s to all, R x curl
Loopback only: everything runs in namespaces of its own on 198.18.0.0/16
(RFC 2544's benchmarking range), bounded by --timeout per storm; the
namespaces and servers are removed at the end, also on ^C.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from tests.support import tlsca  # noqa: E402

SERVER_IP = "198.18.0.1"
ORIGIN = "127.0.0.1:8081"      # the origin behind the caching proxy, in the server's namespace
STATUS = "127.0.0.1:8099"      # nginx's stub_status, in the server's namespace
STAMP = 65536                  # every block of this size starts with its name and number
MIB = 1 << 20
TRANSPORTS = ("http", "https", "tftp", "tftp-dnsmasq", "http-restart", "http-proxy")
DEFAULT_TRANSPORTS = ("http", "https", "tftp", "tftp-dnsmasq")
CONFIG = """DEFAULT storm
PROMPT 0
LABEL storm
  KERNEL kernel
  INITRD initrd
  APPEND root=/dev/ram0 console=ttysclp0
"""


class Die(Exception):
    pass


def sh(argv, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("text", True)
    p = subprocess.run(argv, **kw)
    if p.returncode != 0:
        raise Die("%s failed: %s" % (" ".join(argv[:6]), (p.stderr or p.stdout).strip()[-300:]))
    return p.stdout


def micropython_binary():
    from packager import debian, micropython
    path, _ = micropython.build(os.path.join(ROOT, "agent"), debian.cache_root(), "x86_64", "zig")
    return path


def write_file(path, name, size):
    """size bytes whose every STAMP-byte block starts with (name, block number)
    (what bench/storm_agent.py checks), the rest of each block fixed bytes."""
    import random
    filler = random.Random(name).randbytes(STAMP) if hasattr(random.Random, "randbytes") \
        else bytes(random.Random(name).getrandbits(8) for _ in range(STAMP))
    with open(path, "wb") as f:
        block = 0
        left = size
        while left > 0:
            data = (("%-6s%09d\n" % (name, block)).encode() + filler[16:])[:left]
            f.write(data)
            left -= len(data)
            block += 1


class Lab:
    """The server namespace with a bridge, and one namespace per guest with
    a veth on that bridge; removed by close()."""

    def __init__(self, count, work):
        self.tag = "st%d" % (os.getpid() % 100000)
        self.server = self.tag + "s"
        self.guests = ["%sg%d" % (self.tag, i) for i in range(count)]
        self.work = work
        self.closed = False
        batch = ["netns add %s" % self.server] + ["netns add %s" % g for g in self.guests]
        batch += ["link add v%s%d netns %s type veth peer name eth0 netns %s" % (self.tag, i, self.server, g)
                  for i, g in enumerate(self.guests)]
        self._batch(batch)
        srv = ["link set lo up", "link add br0 type bridge", "link set br0 up",
               "addr add %s/16 dev br0" % SERVER_IP]
        for i in range(count):
            srv += ["link set v%s%d master br0" % (self.tag, i), "link set v%s%d up" % (self.tag, i)]
        self._batch(srv, self.server)
        for g in self.guests:
            sh(["ip", "-n", g, "link", "set", "lo", "up"])

    def _batch(self, lines, netns=None):
        path = os.path.join(self.work, "ip.batch")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        sh(["ip"] + (["-n", netns] if netns else []) + ["-batch", path])

    def argv(self, netns, argv):
        return ["ip", "netns", "exec", netns] + list(argv)

    def tx_bytes(self, pid):
        """Bytes the server's namespace has sent into the bridge, read in
        /proc/PID/net/dev of a process in that namespace (no process started:
        the restart watcher reads it every 10 ms)."""
        with open("/proc/%d/net/dev" % pid) as f:
            for line in f:
                name, _, fields = line.partition(":")
                if name.strip() == "br0":
                    return int(fields.split()[8])
        raise Die("no br0 in the server's namespace")

    def udp_drops(self):
        """UDP datagrams the server's namespace dropped for a full receive
        buffer (RcvbufErrors: DHCP and TFTP requests lost at the server)."""
        lines = [l.split() for l in sh(self.argv(self.server, ["cat", "/proc/net/snmp"])).splitlines()
                 if l.startswith("Udp:")]
        return int(dict(zip(lines[0], lines[1]))["RcvbufErrors"])

    def close(self):
        if self.closed:
            return
        self.closed = True
        lines = ["netns del %s" % g for g in self.guests] + ["netns del %s" % self.server]
        path = os.path.join(self.work, "ip.del")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        subprocess.run(["ip", "-force", "-batch", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Daemon:
    """A server in the server's namespace, in a process group of its own."""

    def __init__(self, lab, argv, log, ready=None):
        self.argv = argv
        self.lab = lab
        self.log = log
        self.proc = None
        self.start(ready)

    def start(self, ready=None):
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(self.lab.argv(self.lab.server, self.argv), stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        # The boot server is a machine of its own: a session of its own is a
        # scheduler autogroup of its own, which gets the same share of the
        # two cores as the guests' group (the guests and curl share this
        # session): neither starves the other, as on two machines. (With a
        # session per guest, 200 groups against one left nginx 1/200th.)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                with open(self.log, errors="replace") as f:
                    raise Die("%s exited at once: %s" % (self.argv[0], f.read()[-400:]))
            if self.in_namespace() and (ready is None or ready()):
                return
            if time.monotonic() > deadline:
                raise Die("%s did not start within 10 s (see %s)" % (self.argv[0], self.log))
            time.sleep(0.05)

    def in_namespace(self):
        """Whether the process has entered the server's namespace (`ip netns
        exec` has run its setns), so that /proc/PID/net is the server's."""
        try:
            return os.stat("/proc/%d/ns/net" % self.proc.pid).st_ino == \
                os.stat("/run/netns/" + self.lab.server).st_ino
        except OSError:
            return False

    def stop(self, first=signal.SIGTERM, grace=5.0):
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, first)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def listening(lab, addr):
    host, port = addr.rsplit(":", 1)
    return subprocess.run(lab.argv(lab.server, ["python3", "-c", "import socket; socket.create_connection"
                                                "((%r, %s), 0.5).close()" % (host, port)]),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


# What both nginx instances share: the storm's log format (read_access),
# everything under their own directory.
NGINX_HEAD = """daemon off;
worker_processes %(workers)s;
user root;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections %(connections)d; }
http {
    log_format storm '$remote_addr $connection $connection_requests $ssl_session_reused $status '
                     '$body_bytes_sent $request_uri $msec $request_time';
    access_log %(dir)s/access.log storm;
    client_body_temp_path %(dir)s/tmp;
    proxy_temp_path %(dir)s/tmp;
    fastcgi_temp_path %(dir)s/tmp;
    uwsgi_temp_path %(dir)s/tmp;
    scgi_temp_path %(dir)s/tmp;
    default_type application/octet-stream;
    sendfile on;
"""

NGINX = NGINX_HEAD + """    tcp_nopush on;
    ssl_protocols TLSv1.2 TLSv1.3;
%(cache)s
    server {
        listen %(status)s;
        location = /status { stub_status; }
    }
    server {
        listen %(ip)s:80 backlog=4096;
        listen %(ip)s:443 ssl backlog=4096;
        ssl_certificate %(certs)s/server.pem;
        ssl_certificate_key %(certs)s/server.key;
%(serve)s
    }
}
"""

PROXY_CACHE = """    proxy_cache_path %(dir)s/cache levels=1:2 keys_zone=boot:10m max_size=2g inactive=1h use_temp_path=off;"""

PROXY_SERVE = """        location / {
            proxy_pass http://%(origin)s;
            proxy_cache boot;
            proxy_cache_valid 200 1h;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 120s;
            proxy_cache_lock_age 120s;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }"""

ORIGIN_NGINX = NGINX_HEAD + """    server { listen %(origin)s; root %(root)s; }
}
"""


class Nginx(Daemon):
    def __init__(self, lab, work, root, certs, proxy=False, name="nginx"):
        self.dir = os.path.join(work, name)
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        values = {"dir": self.dir, "status": STATUS, "ip": SERVER_IP, "certs": certs, "origin": ORIGIN,
                  "root": root, "workers": "auto", "connections": 8192}
        values["cache"] = PROXY_CACHE % values if proxy else ""
        values["serve"] = PROXY_SERVE % values if proxy else "        root %s;" % root
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX % values)
        Daemon.__init__(self, lab, ["nginx", "-p", self.dir, "-c", conf], os.path.join(self.dir, "nginx.out"),
                        lambda: listening(lab, STATUS) and listening(lab, SERVER_IP + ":80"))

    def accepts(self):
        out = sh(self.lab.argv(self.lab.server, ["curl", "-s", "http://%s/status" % STATUS]))
        return int(out.splitlines()[2].split()[0])

    def restart(self, grace):
        """As `systemctl restart nginx` does on Debian: QUIT (finish what is
        in flight, accept nothing new), TERM after grace s, then start again."""
        self.stop(signal.SIGQUIT, grace)
        self.start(lambda: listening(self.lab, STATUS) and listening(self.lab, SERVER_IP + ":80"))


class Origin(Daemon):
    def __init__(self, lab, work, root):
        self.dir = os.path.join(work, "origin")
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(ORIGIN_NGINX % {"dir": self.dir, "origin": ORIGIN, "root": root, "workers": 1,
                                    "connections": 1024})
        Daemon.__init__(self, lab, ["nginx", "-p", self.dir, "-c", conf], os.path.join(self.dir, "nginx.out"),
                        lambda: listening(lab, ORIGIN))


def dnsmasq(lab, work, transport, root, count):
    argv = ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--user=root", "--interface=br0",
            "--bind-interfaces", "--dhcp-range=198.18.1.1,198.18.3.254,255.255.0.0,1h", "--dhcp-authoritative",
            "--no-ping", "--quiet-dhcp", "--log-facility=-", "--dhcp-leasefile=" + os.path.join(work, "leases"),
            "--pid-file=" + os.path.join(work, "dnsmasq.pid"), "--dhcp-lease-max=%d" % (count + 100),
            "--dhcp-match=set:s390,option:client-arch,31",
            "--dhcp-boot=tag:s390,pxelinux.0,,%s" % SERVER_IP]
    if transport.startswith("http"):
        scheme = "https" if transport == "https" else "http"
        argv.append("--dhcp-option=tag:s390,210,%s://%s/" % (scheme, SERVER_IP))
    if transport == "tftp-dnsmasq":
        # An operator of this many guests raises dnsmasq's 50 concurrent transfers.
        argv += ["--enable-tftp", "--tftp-root=" + root, "--tftp-max=%d" % (count + 10)]
    # Ready once it has said so (its first log line is written after its sockets are bound).
    log = os.path.join(work, "dnsmasq-%s.log" % transport)
    if os.path.exists(log):
        os.remove(log)
    return Daemon(lab, argv, log, lambda: os.path.exists(log) and os.path.getsize(log) > 0)


def atftpd(lab, work, root, count):
    return Daemon(lab, ["atftpd", "--daemon", "--no-fork", "--port", "69", "--bind-address", SERVER_IP,
                        "--user", "root", "--group", "root", "--logfile", os.path.join(work, "atftpd.log"),
                        "--maxthread", str(count + 10), root],
                  os.path.join(work, "atftpd.out"))


def tmpfs_kib(sizes):
    """A guest's tmpfs: its kernel and initrd, and the agent's 16 MiB reserve with room to spare."""
    return (sizes["kernel"] + sizes["initrd"]) // 1024 + 65536


def wait_all(procs, timeout):
    """{index: exit time (monotonic)} for processes started together; those
    still running after timeout s are killed and left out."""
    done = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(procs) and time.monotonic() < deadline:
        for i, p in enumerate(procs):
            if i not in done and p.poll() is not None:
                done[i] = time.monotonic()
        time.sleep(0.01)
    for i, p in enumerate(procs):
        if i not in done:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
    return done


def agent_storm(lab, work, transport, count, mpy, sizes, certs, timeout, on_progress=None):
    """Boot count guests at once; returns (boot times in s from the start, failures {guest: reason})."""
    logs = os.path.join(work, "agents-" + transport)
    os.makedirs(logs, exist_ok=True)
    hook = os.path.join(work, "default.script")
    opts = []
    if transport == "https":
        opts.append("pxe.ca-certs=%s/ca.pem" % certs)
    tmpfs = tmpfs_kib(sizes)
    # Power-on: every guest's shell waits at the fifo until all are there,
    # so that they start together, not as fast as this loop can start them.
    fifo = os.path.join(work, "power-on")
    ready = os.path.join(work, "ready")
    for path in (fifo, ready):
        if os.path.lexists(path):
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    os.mkfifo(fifo)
    os.makedirs(ready)
    script = ("mount -t tmpfs -o size=%dk storm /tmp/netboot && mount -t tmpfs -o size=1m storm /run/netboot "
              "&& : >%s/$STORM_GUEST && read -r _ <%s; exec \"$@\"" % (tmpfs, ready, fifo))
    # The image's applets: udhcpc is busybox's, as in the image.
    env = dict(os.environ, NETBOOT_RESOLV_CONF="/run/netboot/resolv.conf",
               PATH=os.path.join(work, "bin") + ":" + os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"))
    procs = []
    for i, g in enumerate(lab.guests[:count]):
        out = open(os.path.join(logs, "%d.log" % i), "wb")
        argv = lab.argv(g, ["sh", "-c", script, "storm", mpy, os.path.join(HERE, "storm_agent.py"), hook,
                            str(STAMP), str(sizes["kernel"]), str(sizes["initrd"])] + opts)
        procs.append(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=dict(env, STORM_GUEST=str(i)),
                                      cwd=work, preexec_fn=os.setpgrp))
        out.close()
    deadline = time.monotonic() + 60
    while len(os.listdir(ready)) < count and time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise Die("a guest's shell ended before power-on (see %s)" % logs)
        time.sleep(0.05)
    time.sleep(0.2)                        # from its ready file to its read of the fifo
    w = os.open(fifo, os.O_WRONLY)
    with open("/proc/uptime") as f:
        start_up = float(f.read().split()[0])   # the clock of the agent's console lines
    start_ns = time.time_ns()
    start = time.monotonic()
    os.close(w)                            # every shell reads end-of-file: power-on
    watcher = None
    ended = threading.Event()
    if on_progress:
        watcher = threading.Thread(target=on_progress, args=(ended,), daemon=True)
        watcher.start()
    wait_all(procs, timeout)
    ended.set()
    if watcher:
        watcher.join()
    times, failed, phases = [], {}, []
    for i in range(count):
        with open(os.path.join(logs, "%d.log" % i), errors="replace") as f:
            text = f.read()
        m = re.search(r"^storm: booted (\d+)$", text, re.M)
        if m:
            times.append((int(m.group(1)) - start_ns) / 1e9)
            phases.append(console_phases(text, start_up, times[-1]))
            continue
        m = re.search(r"^storm: failed: (.*)$", text, re.M)
        failed[i] = m.group(1) if m else "no result within %d s: %s" % (
            timeout, (text.strip().splitlines() or ["no output"])[-1][:200])
    return sorted(times), failed, phases


PHASES = (("lease", r"(lease|DHCPv6 \S+ lease) "), ("config", r"config "), ("booting", r"booting "))


def console_phases(text, start_up, booted):
    """Seconds from power-on to the lease, the lease to the config, and the
    config to the boot, from one guest's console lines ("netboot: [UPTIME] ...")."""
    at = {}
    for name, pattern in PHASES:
        m = re.search(r"^netboot: \[\s*([0-9.]+)\] %s" % pattern, text, re.M)
        if m:
            at[name] = float(m.group(1)) - start_up
    if len(at) < len(PHASES):
        return None
    return (at["lease"], at["config"] - at["lease"], booted - at["booting"])


def curl_storm(lab, transport, count, certs, sizes, timeout):
    """The same kernel and initrd fetched by curl in every guest's namespace at once."""
    scheme = {"https": "https", "tftp": "tftp", "tftp-dnsmasq": "tftp"}.get(transport, "http")
    # Into each guest's own tmpfs, as the agent does: a guest needs the
    # kernel and initrd in its memory to kexec them.
    tmpfs = tmpfs_kib(sizes)
    argv = ["sh", "-c", "mount -t tmpfs -o size=%dk storm /tmp/netboot && exec \"$@\"" % tmpfs, "curl",
            "curl", "-sS", "--fail", "--retry", "5", "--retry-all-errors", "--retry-delay", "1"]
    if scheme == "https":
        argv += ["--cacert", os.path.join(certs, "ca.pem")]
    if scheme == "tftp":
        argv += ["--tftp-blksize", "1468"]
    for name in ("kernel", "initrd"):
        argv += ["-o", "/tmp/netboot/" + name, "%s://%s/%s" % (scheme, SERVER_IP, name)]
    procs = []
    start = time.monotonic()
    for g in lab.guests[:count]:
        procs.append(subprocess.Popen(lab.argv(g, argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      preexec_fn=os.setpgrp))
    done = wait_all(procs, timeout)
    ok = [done[i] - start for i, p in enumerate(procs) if i in done and p.returncode == 0]
    return sorted(ok), count - len(ok)


def read_access(path):
    """[(remote, connection, requests, reused, status, bytes, uri)] from a storm-format log."""
    rows = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 7:
                    rows.append((parts[0], parts[1], int(parts[2]), parts[3], int(parts[4]), int(parts[5]),
                                 parts[6]))
    except OSError:
        pass
    return rows


def connection_counts(rows, transport):
    """Per guest address: (TCP connections that carried a request, full TLS handshakes)."""
    conns, full = {}, {}
    for remote, conn, _, reused, _, _, _ in rows:
        conns.setdefault(remote, set()).add(conn)
        if reused == ".":   # "r": resumed; "-": no TLS
            full.setdefault(remote, set()).add(conn)
    return dict((r, len(c)) for r, c in conns.items()), dict((r, len(c)) for r, c in full.items())


def run_transport(transport, a, lab, work, root, certs, mpy, sizes, baseline):
    count = a.tftp_agents if transport.startswith("tftp") else a.agents
    total = count * (sizes["kernel"] + sizes["initrd"])
    row = {"transport": transport, "agents": count, "kernel": sizes["kernel"], "initrd": sizes["initrd"]}
    dhcp = dnsmasq(lab, work, transport, root, count)
    server = origin = None
    try:
        if transport.startswith("http"):
            if transport == "http-proxy":
                origin = Origin(lab, work, root)
            server = Nginx(lab, work, root, certs, proxy=transport == "http-proxy", name="nginx-" + transport)
        elif transport == "tftp":
            server = atftpd(lab, work, root, count)
            time.sleep(0.3)
        accepts0 = server.accepts() if isinstance(server, Nginx) else None
        tx0 = lab.tx_bytes(dhcp.proc.pid)
        drops0 = lab.udp_drops()
        watch = None
        if transport == "http-restart":
            def watch(ended):
                # Restart once 40 % of the storm's bytes have left the server.
                while lab.tx_bytes(dhcp.proc.pid) - tx0 < 0.4 * total:
                    if ended.wait(0.01):
                        return
                t = time.monotonic()
                server.restart(a.restart_grace)
                row["restart_s"] = round(time.monotonic() - t, 2)
        times, failed, phases = agent_storm(lab, work, transport, count, mpy, sizes, certs, a.timeout, watch)
        row["tx_bytes"] = lab.tx_bytes(dhcp.proc.pid) - tx0
        row["udp_drops"] = lab.udp_drops() - drops0
        row.update(times=times, failed=len(failed), failures=failed)
        phases = [p for p in phases if p]
        for k, name in enumerate(("to_lease", "search", "fetch")):
            values = sorted(p[k] for p in phases)
            if values:
                row[name] = (values[len(values) // 2], values[-1])
        if isinstance(server, Nginx):
            rows = read_access(os.path.join(server.dir, "access.log"))
            conns, full = connection_counts(rows, transport)
            if transport != "http-restart":
                row["accepts_per_agent"] = (server.accepts() - accepts0 - 1) / float(count)  # less its own status request
            row["ranges"] = sum(1 for r in rows if r[4] == 206)   # transfers resumed after a cut
            row["conns_max"] = max(conns.values()) if conns else 0
            row["conns_mean"] = sum(conns.values()) / float(count)
            if transport == "https":
                row["full_tls_max"] = max(full.values()) if full else 0
                row["full_tls_mean"] = sum(full.values()) / float(count)
        if transport == "http-restart" and baseline.get("tx_bytes"):
            row["refetched"] = (row["tx_bytes"] - baseline["tx_bytes"]) / float(baseline["tx_bytes"])
        if origin is not None:
            sent = {}
            for _, _, _, _, status, nbytes, uri in read_access(os.path.join(origin.dir, "access.log")):
                if status == 200:
                    sent.setdefault(uri, []).append(nbytes)
            row["origin"] = dict((uri, len(v)) for uri, v in sent.items())
            row["origin_bytes"] = sum(sum(v) for v in sent.values())
        if transport not in ("http-restart", "http-proxy"):
            ctimes, cfailed = curl_storm(lab, transport, count, certs, sizes, a.timeout)
            row.update(curl_times=ctimes, curl_failed=cfailed)
    finally:
        for d in (server, origin, dhcp):
            if d is not None:
                d.stop()
    last = row["times"][-1] if row["times"] and not row["failed"] else None
    row["all_s"] = last
    row["first_s"] = row["times"][0] if row["times"] else None
    row["mib_s"] = total / MIB / last if last else None
    if row.get("curl_times") and not row.get("curl_failed"):
        row["curl_all_s"] = row["curl_times"][-1]
        row["curl_mib_s"] = total / MIB / row["curl_all_s"]
        row["ratio"] = last / row["curl_all_s"] if last else None
    return row


def fmt(v, f="%.1f"):
    return "-" if v is None else f % v


def report(rows, a):
    print("| transport | agents | kernel + initrd | failed | first boot (s) | all booted (s) | MiB/s "
          "| TCP conns/agent (mean, max) | full TLS handshakes/agent (mean, max) | curl: all (s) | curl MiB/s "
          "| agent / curl |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        conns = "-" if "conns_max" not in r else "%.2f, %d" % (r.get("accepts_per_agent", r["conns_mean"]),
                                                                r["conns_max"])
        tls = "-" if "full_tls_max" not in r else "%.2f, %d" % (r["full_tls_mean"], r["full_tls_max"])
        print("| %s | %d | %.0f + %.0f MiB | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["transport"], r["agents"], r["kernel"] / MIB, r["initrd"] / MIB, r["failed"], fmt(r["first_s"]),
            fmt(r["all_s"]), fmt(r["mib_s"], "%.0f"), conns, tls, fmt(r.get("curl_all_s")),
            fmt(r.get("curl_mib_s"), "%.0f"), fmt(r.get("ratio"), "%.2fx")))
    print()
    print("| transport | power-on to lease (s, median, max) | config search (s) | kernel + initrd (s) "
          "| UDP drops at the server |")
    print("|---|---|---|---|---|")
    for r in rows:
        cells = ["-" if name not in r else "%.1f, %.1f" % tuple(r[name]) for name in ("to_lease", "search", "fetch")]
        print("| %s | %s | %s | %s | %d |" % (r["transport"], cells[0], cells[1], cells[2], r.get("udp_drops", 0)))
    for r in rows:
        if r["transport"] == "http-restart":
            if "restart_s" not in r:
                print("http-restart: the storm ended before 40 %% of its bytes were sent: nginx was not restarted")
            else:
                print("http-restart: nginx restarted (QUIT, TERM after %.0f s) in %s s; %d transfers resumed "
                      "with Range; bytes sent beyond the plain HTTP storm's: %s" % (
                          a.restart_grace, r["restart_s"], r.get("ranges", 0),
                          fmt(r.get("refetched") and 100 * r["refetched"], "%.1f %%")))
        if r["transport"] == "http-proxy":
            print("http-proxy: the origin answered 200 for %s (%d bytes)" % (
                ", ".join("%s x%d" % kv for kv in sorted(r["origin"].items())) or "nothing", r["origin_bytes"]))
        for i, why in sorted(r["failures"].items())[:5]:
            print("%s: guest %d failed: %s" % (r["transport"], i, why))
    for r in rows:
        print("storm %s: %d agents, %d failed, %s s to all, %s x curl" % (
            r["transport"], r["agents"], r["failed"], fmt(r["all_s"]), fmt(r.get("ratio"), "%.2f")))


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for i, r in enumerate(rows):
        color = "C%d" % i
        for times, style, label in ((r["times"], "-", r["transport"]),
                                    (r.get("curl_times"), "--", r["transport"] + " (curl)")):
            if times:
                xs = [0.0] + [t for t in times for _ in (0, 1)]
                ys = [0] + [n for k in range(len(times)) for n in (k, k + 1)]
                ax.plot(xs, ys, style, color=color, label=label)
    ax.set_xlabel("seconds since power-on")
    ax.set_ylabel("guests booted")
    ax.set_title("Boot storm on one 2-core machine: guests booted over time (dashed: curl)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    fig.tight_layout()
    tmp = path + ".tmp"
    fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)
    os.replace(tmp, path)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=200, help="guests per HTTP(S) storm (default 200)")
    ap.add_argument("--tftp-agents", type=int, default=100, help="guests per TFTP storm (default 100)")
    ap.add_argument("--transport", action="append", choices=TRANSPORTS,
                    help="repeat for several (default: %s)" % ", ".join(DEFAULT_TRANSPORTS))
    ap.add_argument("--kernel-mib", type=float, default=5)
    ap.add_argument("--initrd-mib", type=float, default=48, help="default 48, RHEL's s390x installer initrd")
    ap.add_argument("--tftp-initrd-mib", type=float, default=16,
                    help="initrd over TFTP (default 16: lock-step TFTP of 100 x 48 MiB outlasts --timeout here)")
    ap.add_argument("--restart-grace", type=float, default=5.0,
                    help="http-restart: seconds between QUIT and TERM (default 5, as Debian's nginx.service)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds one storm may take (default 600)")
    ap.add_argument("--plot", metavar="PNG", help="write completed boots over time here")
    ap.add_argument("--json", metavar="FILE", help="also write the results here")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs of every guest)")
    ap.add_argument("--interpreter", help="the agent's MicroPython (default: built for x86_64)")
    a = ap.parse_args(argv)
    transports = a.transport or list(DEFAULT_TRANSPORTS)
    if "http-restart" in transports and "http" not in transports:
        transports.insert(transports.index("http-restart"), "http")   # its baseline
    if a.agents < 1 or a.tftp_agents < 1 or a.agents > 700 or a.tftp_agents > 700:
        raise Die("--agents and --tftp-agents take 1 to 700 (the DHCP range holds 764)")
    if os.geteuid() != 0:
        raise Die("the storm makes network namespaces: run it as root")
    for tool in ("ip", "dnsmasq", "nginx", "atftpd", "curl", "busybox"):
        if shutil.which(tool) is None:
            raise Die("%s is missing: tools/install-deps installs it" % tool)
    mpy = a.interpreter or micropython_binary()
    work = tempfile.mkdtemp(prefix="boot-storm-")
    os.chmod(work, 0o755)
    for d in ("/tmp/netboot", "/run/netboot"):
        os.makedirs(d, exist_ok=True)          # mount points of each guest's own tmpfs
    root = os.path.join(work, "root")
    os.makedirs(os.path.join(root, "pxelinux.cfg"))
    with open(os.path.join(root, "pxelinux.cfg", "default"), "w") as f:
        f.write(CONFIG)
    with open(os.path.join(ROOT, "rootfs-skel", "usr", "share", "udhcpc", "default.script")) as f:
        hook = f.read().split("\n", 1)[1]
    with open(os.path.join(work, "default.script"), "w") as f:
        f.write("#!%s\n%s" % (mpy, hook))
    os.chmod(os.path.join(work, "default.script"), 0o755)
    os.makedirs(os.path.join(work, "bin"))
    os.symlink(shutil.which("busybox"), os.path.join(work, "bin", "udhcpc"))
    certs = os.path.join(work, "certs")
    tlsca.make_site(certs, "subjectAltName=IP:%s\n" % SERVER_IP)
    lab = None
    rows = []
    previous = signal.signal(signal.SIGINT, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        lab = Lab(max(a.agents if any(t.startswith("http") for t in transports) else 0,
                      a.tftp_agents if any(t.startswith("tftp") for t in transports) else 0), work)
        baseline = {}
        written = None
        for transport in transports:
            tftp = transport.startswith("tftp")
            sizes = {"kernel": int(a.kernel_mib * MIB),
                     "initrd": int((a.tftp_initrd_mib if tftp else a.initrd_mib) * MIB)}
            if written != sizes:
                for name, size in sizes.items():
                    write_file(os.path.join(root, name), name, size)
                written = sizes
            print("storm over %s: %d guests, %.0f + %.0f MiB each ..." % (
                transport, a.tftp_agents if tftp else a.agents, sizes["kernel"] / MIB, sizes["initrd"] / MIB),
                file=sys.stderr, flush=True)
            row = run_transport(transport, a, lab, work, root, certs, mpy, sizes, baseline)
            if transport == "http":
                baseline = row
            rows.append(row)
    finally:
        signal.signal(signal.SIGINT, previous)
        if lab is not None:
            lab.close()
    report(rows, a)
    if a.plot:
        plot(rows, a.plot)
    if a.json:
        tmp = a.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(rows, f, indent=1, sort_keys=True)
        os.replace(tmp, a.json)
    if a.keep:
        print("work directory kept: %s" % work, file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if any(r["failed"] for r in rows) else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Die as e:
        sys.exit("boot_storm: %s" % e)
    except KeyboardInterrupt:
        sys.exit("boot_storm: interrupted")
