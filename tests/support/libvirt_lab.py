"""Real libvirt, isolated: libvirtd and virtlogd (Debian's 9.0) started by the
test itself, without systemd, in a network namespace and a private mount
namespace of their own, so nothing they define, start or write reaches the
host: libvirt's state, configuration, logs and run directories are bind
mounts of the test's work directory, and /srv/tftp is the test's TFTP root.

Every command (virsh, reading the console log) runs through nsenter in those
namespaces; down() kills every process in the network namespace (libvirtd,
virtlogd, libvirt's dnsmasq, QEMU) and removes it, also after a failure.
"""

import os
import re
import signal
import subprocess
import time

from tests.support import ROOT

PAGE = os.path.join(ROOT, "docs", "quickstart-libvirt.md")
GUEST = "s390-netboot-guest"
CONSOLE_LOG = "/var/log/libvirt/qemu/s390-netboot-guest-console.log"
FENCE = re.compile(r"^( *)```(\w+)([^\n]*)\n(.*?)^\1```", re.S | re.M)


def page_blocks():
    """[(language, info, code)] of the quick start page, in order, dedented."""
    with open(PAGE) as f:
        text = f.read()
    out = []
    for m in FENCE.finditer(text):
        indent = len(m.group(1))
        code = "".join(line[indent:] + "\n" for line in m.group(4).splitlines())
        out.append((m.group(2), m.group(3).strip(), code))
    return out


def quickstart_block(lang, must_contain, must_not=None):
    """The one code block of the quick start in lang holding must_contain."""
    found = [code for kind, _, code in page_blocks() if kind == lang and must_contain in code
             and (must_not is None or must_not not in code)]
    if len(found) != 1:
        raise AssertionError("quickstart has %d %s blocks with %r" % (len(found), lang, must_contain))
    return found[0]


# Directories libvirt writes, each replaced by a directory of the test's.
PRIVATE_DIRS = ("/etc/libvirt/qemu", "/var/lib/libvirt", "/var/log/libvirt", "/var/cache/libvirt",
                "/run/libvirt", "/var/lib/dnsmasq")

HOLDER = r"""
set -e
work=$1
for d in %s; do
    src="$work/fs$d"
    mkdir -p "$src" "$d"
    chmod 755 "$src"
    # the host's directory tree (no files: no definitions, leases or logs)
    (cd "$d" && find . -type d) | while read -r sub; do
        mkdir -p "$src/$sub"
        chown --reference="$d/$sub" "$src/$sub"
        chmod --reference="$d/$sub" "$src/$sub"
    done
    mount --bind "$src" "$d"
done
mkdir -p /etc/libvirt/qemu/networks/autostart /srv/tftp "$work/tftp"
mount --bind "$work/tftp" /srv/tftp
# libvirt's pid files and sockets outside /run/libvirt
mount -t tmpfs -o mode=755 tmpfs /run/lock 2>/dev/null || true
ip link set lo up
virtlogd -d -p "$work/virtlogd.pid"
libvirtd -d --pid-file "$work/libvirtd.pid"
for i in $(seq 100); do
    virsh -c qemu:///system version >/dev/null 2>&1 && break
    sleep 0.1
done
echo READY
exec sleep 86400
""" % " ".join(PRIVATE_DIRS)


class LibvirtLab:
    def __init__(self, workdir, name=None):
        self.workdir = str(workdir)
        self.ns = name or "nblv%d" % os.getpid()
        self.tftp = os.path.join(self.workdir, "tftp")
        os.makedirs(self.tftp, exist_ok=True)
        os.chmod(self.workdir, 0o755)
        self.holder = None

    def up(self):
        subprocess.run(["ip", "netns", "del", self.ns], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        self.holder = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "unshare", "-m", "--propagation", "private",
             "sh", "-c", HOLDER, "holder", self.workdir],
            stdout=subprocess.PIPE, stderr=open(os.path.join(self.workdir, "holder.log"), "ab"),
            text=True, start_new_session=True)
        line = self.holder.stdout.readline()
        if line.strip() != "READY":
            raise AssertionError("libvirtd did not start: %s" % self.holder_log())
        return self

    def holder_log(self):
        try:
            with open(os.path.join(self.workdir, "holder.log")) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def run(self, *argv, check=True, timeout=120):
        """argv inside libvirt's namespaces; returns the CompletedProcess.

        Entering a mount namespace puts nsenter at that namespace's own root
        and cwd, which inside a chroot (a build system's, tools/fresh-root-check)
        is the host's: -r and -w take the holder's root and working directory,
        which are the caller's (the holder was started from here)."""
        p = subprocess.run(["nsenter", "-t", str(self.holder.pid), "-m", "-n", "-r", "-w"] + list(argv),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("%s failed (%d): %s%s" % (" ".join(argv), p.returncode, p.stdout, p.stderr))
        return p

    def virsh(self, *args, check=True):
        return self.run("virsh", "-c", "qemu:///system", *args, check=check)

    def shell(self, script, env=None, check=True):
        """A doc's shell block, run as a user would, inside the namespaces."""
        argv = ["env"] + ["%s=%s" % kv for kv in sorted((env or {}).items())] + \
            ["bash", "-euo", "pipefail", "-c", script]
        return self.run(*argv, check=check)

    def path(self, inside):
        """The host path of a file libvirt writes at `inside`."""
        for d in PRIVATE_DIRS:
            if inside.startswith(d + "/"):
                return os.path.join(self.workdir, "fs" + d, inside[len(d) + 1:])
        if inside.startswith("/srv/tftp/"):
            return os.path.join(self.tftp, inside[len("/srv/tftp/"):])
        raise ValueError(inside)

    def wait_for_file_text(self, inside, text, timeout):
        """Wait until the file (inside path) holds text; returns its contents."""
        path = self.path(inside)
        end = time.monotonic() + timeout
        data = ""
        while time.monotonic() < end:
            try:
                with open(path, errors="replace") as f:
                    data = f.read()
            except OSError:
                data = ""
            if text in data:
                return data
            time.sleep(0.2)
        raise AssertionError("%r did not appear in %s within %d s; it holds:\n%s"
                             % (text, inside, timeout, data[-5000:]))

    def down(self):
        p = subprocess.run(["ip", "netns", "pids", self.ns], stdout=subprocess.PIPE, text=True)
        for pid in p.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        if self.holder is not None:
            try:
                os.killpg(self.holder.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.holder.wait()
        for _ in range(50):
            if not subprocess.run(["ip", "netns", "pids", self.ns], stdout=subprocess.PIPE,
                                  text=True).stdout.split():
                break
            time.sleep(0.1)
        subprocess.run(["ip", "netns", "del", self.ns], stderr=subprocess.DEVNULL)
