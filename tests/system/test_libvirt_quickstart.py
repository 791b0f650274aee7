"""docs/quickstart-libvirt.md, run through real libvirt: libvirtd and virtlogd
(Debian 12's libvirt 9.0) started without systemd in namespaces of the
test's own (tests/support/libvirt_lab.py), the page's own TFTP tree, network and
guest XML and virsh commands, libvirt's own dnsmasq serving DHCP and TFTP,
an s390x guest under QEMU booting through our pxelinux.0 to the second
stage. The HTTP-prefix variant (option 210 through <dnsmasq:options>) runs
in the same lab."""

import os
import time
import xml.etree.ElementTree as ET

import pytest

from tests.support.libvirt_lab import CONSOLE_LOG, GUEST, LibvirtLab, quickstart_block as block
from tests.support.netboot_parts import MARKER

pytestmark = [pytest.mark.slow, pytest.mark.qemu, pytest.mark.system, pytest.mark.parts]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAC = "52:54:00:12:34:56"
def console_cmdlines(text):
    return [line.split(" cmdline=", 1)[1].strip() for line in text.splitlines()
            if line.startswith(MARKER + " cmdline=")]


@pytest.fixture
def lab(tmp_path):
    lab = LibvirtLab(tmp_path / "lv").up()
    yield lab
    lab.down()


def boot_to_second_stage(lab, n, timeout=420):
    """Start the guest as the page says; returns (cmdline, seconds, console text)."""
    t0 = time.monotonic()
    lab.virsh("start", GUEST)
    end = t0 + timeout
    while time.monotonic() < end:
        try:
            with open(lab.path(CONSOLE_LOG), errors="replace") as f:
                text = f.read()
        except OSError:
            text = ""
        got = console_cmdlines(text)
        if len(got) >= n:
            return got[n - 1], time.monotonic() - t0, text
        time.sleep(0.2)
    raise AssertionError("no second stage within %d s; console:\n%s\nlibvirt:\n%s"
                         % (timeout, text[-6000:], lab.holder_log()))


def test_quickstart_through_libvirt(lab, netboot_files, tmp_path):
    files = netboot_files
    env = {"TFTPROOT": "/srv/tftp", "PXELINUX": files["pxelinux.0"], "KERNEL": files["vmlinuz"],
           "INITRD": files["stage2.img"]}
    # Step 4: the TFTP tree, exactly as the page writes it (plan included).
    p = lab.shell("cd %s\n%s" % (ROOT, block("sh", 'cp "$PXELINUX"')), env=env)
    assert "install (MENU DEFAULT)" in p.stdout, p.stdout
    assert oct(os.stat(os.path.join(lab.tftp, "pxelinux.0")).st_mode & 0o777) == "0o644"

    # Step 5: the network, defined, started and marked autostart by the page's commands.
    work = str(tmp_path / "work")
    os.makedirs(work)
    with open(os.path.join(work, "netboot-net.xml"), "w") as f:
        f.write(block("xml", "<network", "dhcp-option-force"))
    lab.shell("cd %s\n%s" % (work, block("sh", "virsh net-define netboot-net.xml", "net-undefine")))
    assert "yes" in lab.virsh("net-info", "netboot").stdout.split("Autostart:")[1].splitlines()[0]

    # Step 6: the guest; --console needs a terminal, the test reads the console log instead.
    with open(os.path.join(work, "guest.xml"), "w") as f:
        f.write(block("xml", "<domain"))
    lab.shell("cd %s\n%s" % (work, block("sh", "virsh define guest.xml")
                             .replace("virsh start --console " + GUEST, "")))
    dom = ET.fromstring(lab.virsh("dumpxml", GUEST).stdout)
    assert dom.get("type") == ("kvm" if os.uname().machine == "s390x" else "qemu")

    cmdline, seconds, text = boot_to_second_stage(lab, 1)
    assert "priority=low" in cmdline and "BOOTIF=01-" + MAC.replace(":", "-") in cmdline, cmdline
    assert "config pxelinux.cfg/default" in text
    leases = lab.virsh("net-dhcp-leases", "netboot").stdout
    assert MAC in leases and "192.168.130." in leases, leases
    print("libvirt quick start: virsh start -> second stage %.1f s (TFTP)" % seconds)

    # Many guests: option 210 through <dnsmasq:options>, an HTTP server on the bridge.
    http = lab.run("sh", "-c", "cd /srv/tftp && (python3 -m http.server --bind 192.168.130.1 8080 "
                   ">/dev/null 2>&1 &) ; sleep 1; echo started")
    assert "started" in http.stdout
    with open(os.path.join(work, "netboot-net.xml"), "w") as f:
        f.write(block("xml", "dhcp-option-force"))
    lab.virsh("destroy", GUEST, check=False)
    lab.shell("cd %s\n%s" % (work, block("sh", "virsh net-undefine netboot")))
    cmdline, seconds, text = boot_to_second_stage(lab, 2)
    second = text[text.rfind("s390-netboot agent started"):]
    assert "http://192.168.130.1:8080/" in second, second[-4000:]
    assert "priority=low" in cmdline and "BOOTIF=01-" in cmdline, cmdline
    print("libvirt quick start: virsh start -> second stage %.1f s (HTTP prefix)" % seconds)
