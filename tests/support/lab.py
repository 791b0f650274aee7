"""A netboot lab: a network namespace with a tap device, dnsmasq (DHCP + TFTP),
optionally an HTTP server and packet loss, and qemu-system-s390x on the tap.

Everything lives in a namespace the test makes itself and tears down; the
lab network is 192.0.2.0/24 (TEST-NET-1), the server is 192.0.2.1; with
IPv6, 2001:db8::/64 (documentation prefix), the server 2001:db8::1.
"""

import json
import os
import select
import signal
import socket
import subprocess
import threading
import time

SERVER_IP = "192.0.2.1"
SERVER_IP6 = "2001:db8::1"
MAC = "52:54:00:12:34:56"
TAP = "nbtap0"


def sh(*argv, check=True, ns=None):
    if ns:
        argv = ("ip", "netns", "exec", ns) + argv
    return subprocess.run(argv, check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class Lab:
    def __init__(self, workdir, name=None):
        self.workdir = str(workdir)
        self.ns = name or "nbtest%d" % os.getpid()
        self.tftp = os.path.join(self.workdir, "tftp")
        os.makedirs(os.path.join(self.tftp, "pxelinux.cfg"), exist_ok=True)
        self.procs = []
        self.qemu = None
        self.console = b""
        self.dnsmasq_log = os.path.join(self.workdir, "dnsmasq.log")

    # -- network ----------------------------------------------------------
    def up(self, ipv4=True, ipv6=False):
        sh("ip", "netns", "del", self.ns, check=False)
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "set", "lo", "up", ns=self.ns)
        sh("ip", "tuntap", "add", "dev", TAP, "mode", "tap", ns=self.ns)
        if ipv4:
            sh("ip", "addr", "add", SERVER_IP + "/24", "dev", TAP, ns=self.ns)
        if ipv6:
            sh("ip", "-6", "addr", "add", SERVER_IP6 + "/64", "dev", TAP, "nodad", ns=self.ns)
        sh("ip", "link", "set", TAP, "up", ns=self.ns)
        return self

    def dnsmasq(self, *extra, s390_bootfile="pxelinux.0", other_bootfile="x86/pxelinux.0", tftp=True,
                ipv4=True, ipv6=False):
        """dnsmasq on the tap: DHCPv4 (ipv4), DHCPv6 and router advertisements
        with a bootfile-url for s390 clients (ipv6), TFTP on both."""
        argv = ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--user=root",
                "--interface=" + TAP, "--bind-interfaces", "--except-interface=lo",
                "--dhcp-leasefile=" + os.path.join(self.workdir, "leases"),
                "--pid-file=" + os.path.join(self.workdir, "dnsmasq.pid"),
                "--log-dhcp", "--log-facility=-"]
        if ipv4:
            argv += ["--dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,1h",
                     "--dhcp-match=set:s390,option:client-arch,31",
                     "--dhcp-boot=tag:s390," + s390_bootfile,
                     "--dhcp-boot=tag:!s390," + other_bootfile]
        if ipv6:
            # slaac: router advertisements with the A flag too (QEMU's firmware
            # takes a SLAAC address and asks only Information-Request, without
            # the client architecture option, so the bootfile-url is untagged).
            argv += ["--dhcp-range=2001:db8::100,2001:db8::1ff,slaac,64,1h", "--enable-ra",
                     "--dhcp-option=option6:bootfile-url,tftp://[%s]/%s" % (SERVER_IP6, s390_bootfile)]
        argv += list(extra)
        if tftp:
            argv += ["--enable-tftp", "--tftp-root=" + self.tftp]
        self.start(argv, log=self.dnsmasq_log)
        time.sleep(0.3)

    def atftpd(self):
        """atftpd (blksize, tsize, timeout, windowsize) on the server address, port 69."""
        argv = ["atftpd", "--daemon", "--no-fork", "--port", "69", "--bind-address", SERVER_IP,
                "--user", "root", "--group", "root", "--logfile", "-", "--verbose=5", self.tftp]
        self.start(argv, log=os.path.join(self.workdir, "atftpd.log"))
        time.sleep(0.3)

    def http(self, root, port=80):
        argv = ["python3", "-m", "http.server", "--bind", SERVER_IP, "--directory", root, str(port)]
        self.start(argv, log=os.path.join(self.workdir, "http.log"))
        time.sleep(0.5)

    def loss(self, percent):
        """Drop percent% of UDP packets in both directions on the tap (nftables)."""
        mod = 100 // percent
        rules = ("table inet nbloss {\n"
                 " chain in { type filter hook input priority 0; udp dport != 67 numgen random mod %d 0 drop; }\n"
                 " chain out { type filter hook output priority 0; udp sport != 67 numgen random mod %d 0 drop; }\n"
                 "}\n" % (mod, mod))
        path = os.path.join(self.workdir, "loss.nft")
        with open(path, "w") as f:
            f.write(rules)
        sh("nft", "-f", path, ns=self.ns)

    def start(self, argv, log):
        f = open(log, "ab")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns] + argv, stdout=f, stderr=subprocess.STDOUT,
                             start_new_session=True)
        self.procs.append(p)
        return p

    # -- guest --------------------------------------------------------------
    # QEMU 10's TCG with a tap backend loses a virtio-net receive notification
    # now and then (seen after 6,000 to 34,000 packets: the guest's receive queue
    # never gets a packet again, while user-mode networking keeps going);
    # without the event_idx feature it does not happen.
    NIC_OPTS = "event_idx=off"

    def silent_nic(self, name="nbtap1"):
        """QEMU arguments for a NIC on a tap where nothing answers DHCP, placed
        before the boot NIC so the guest sees it as eth0."""
        sh("ip", "tuntap", "add", "dev", name, "mode", "tap", ns=self.ns)
        sh("ip", "link", "set", name, "up", ns=self.ns)
        return ["-netdev", "tap,id=s0,ifname=%s,script=no,downscript=no" % name,
                "-device", "virtio-net-ccw,netdev=s0,mac=52:54:00:00:00:01,%s" % self.NIC_OPTS]

    def boot(self, memory=1024, extra=(), nic_opts=NIC_OPTS, before=()):
        self.qmp_path = os.path.join(self.workdir, "qmp.sock")
        if os.path.exists(self.qmp_path):
            os.unlink(self.qmp_path)
        argv = ["ip", "netns", "exec", self.ns, "qemu-system-s390x", "-M", "s390-ccw-virtio",
                "-accel", "tcg", "-nographic", "-m", str(memory), "-no-reboot",
                "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
                "-uuid", "2a9f0c5e-1b3d-4c2e-8f00-0123456789ab"] + list(before) + [
                "-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no" % TAP,
                "-device", "virtio-net-ccw,netdev=n0,mac=%s,bootindex=1%s" % (
                    MAC, "," + nic_opts if nic_opts else "")] + list(extra)
        self.qemu = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.t0 = time.monotonic()
        self.stamps = []
        self.qmp = QmpEvents(self.qmp_path)
        return self

    def ended(self, timeout=60):
        """Wait for QEMU to exit and say how the guest ended, from QMP's events:
        "reboot" (SHUTDOWN with reason guest-reset: the guest asked for a
        re-IPL and -no-reboot turned it into an exit), "panic" (GUEST_PANICKED:
        a disabled wait, which QEMU's default -action panic=shutdown also
        turns into an exit with status 0), "poweroff" (guest-shutdown), or
        the SHUTDOWN reason as QEMU gave it."""
        self.qemu.wait(timeout)
        while self.read(0.2):
            pass
        return self.qmp.ending()

    def read(self, timeout):
        """Read console output for up to timeout seconds; returns what came."""
        fd = self.qemu.stdout.fileno()
        got = b""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r, _, _ = select.select([fd], [], [], max(0, end - time.monotonic()))
            if not r:
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            now = time.monotonic() - self.t0
            for line in chunk.split(b"\n"):
                if line:
                    self.stamps.append((now, line))
            got += chunk
            self.console += chunk
            if got:
                break
        return got

    def wait_for(self, text, timeout=120):
        """Wait until the console shows text; returns the console so far (str)."""
        needle = text.encode()
        start = len(self.console)
        end = time.monotonic() + timeout
        while needle not in self.console[max(0, start - len(needle)):]:
            if needle in self.console:
                break
            left = end - time.monotonic()
            if left <= 0 or self.qemu.poll() is not None and not self.read(0.2):
                raise AssertionError("%r did not appear on the console within %d s; console:\n%s"
                                     % (text, timeout, self.text()[-6000:]))
            self.read(min(left, 1.0))
        return self.text()

    def type(self, line):
        self.qemu.stdin.write(line.encode() + b"\n")
        self.qemu.stdin.flush()

    def text(self):
        return self.console.decode("utf-8", "replace")

    def stop_guest(self):
        if self.qemu is not None and self.qemu.poll() is None:
            try:
                os.killpg(self.qemu.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.qemu.wait()
        self.qemu = None
        qmp = getattr(self, "qmp", None)
        if qmp is not None and qmp.sock is not None:
            qmp.sock.close()

    def down(self):
        self.stop_guest()
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
        sh("ip", "netns", "del", self.ns, check=False)

    def log(self):
        try:
            with open(self.dnsmasq_log) as f:
                return f.read()
        except OSError:
            return ""


class QmpEvents:
    """QEMU's QMP monitor, read in a thread from the moment QEMU listens: the
    events (RESET, SHUTDOWN with its reason, GUEST_PANICKED with its info)
    tell a guest's reboot from its crash, which QEMU's exit status cannot
    (both exit 0 under -no-reboot and the default -action panic=shutdown)."""

    def __init__(self, path, connect_within=10):
        self.events = []
        self.sock = None
        end = time.monotonic() + connect_within
        while time.monotonic() < end:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                self.sock = s
                break
            except OSError:
                s.close()
                time.sleep(0.05)
        if self.sock is None:
            raise AssertionError("QEMU's QMP socket %s did not open within %d s" % (path, connect_within))
        self.sock.sendall(b'{"execute": "qmp_capabilities"}\n')
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if "event" in msg:
                    self.events.append(msg)

    def names(self):
        return [e["event"] for e in self.events]

    def ending(self, timeout=5):
        """How the guest ended (see Lab.ended), once QEMU closed the monitor."""
        self.thread.join(timeout)
        for e in self.events:
            if e["event"] == "GUEST_PANICKED":
                return "panic"
        for e in self.events:
            if e["event"] == "SHUTDOWN":
                reason = e.get("data", {}).get("reason")
                return {"guest-reset": "reboot", "guest-shutdown": "poweroff",
                        "guest-panic": "panic"}.get(reason, reason)
        return None

    def describe(self):
        return "; ".join("%s %s" % (e["event"], json.dumps(e.get("data", {}), sort_keys=True))
                         for e in self.events)
