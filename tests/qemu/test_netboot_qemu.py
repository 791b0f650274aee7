"""End to end: qemu-system-s390x netboots our pxelinux.0 from dnsmasq in a network
namespace, and the agent kexecs a real s390x kernel named by pxelinux.cfg.

Each scenario asserts on the guest's serial console (SCLP).
"""

import os
import re
import shutil

import pytest

from tests.support.lab import Lab, MAC, SERVER_IP, SERVER_IP6, sh
from tests.support.netboot_parts import MARKER, build_image, marker_cmdline

pytestmark = [pytest.mark.slow, pytest.mark.qemu, pytest.mark.servers, pytest.mark.parts]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOOTIF = "BOOTIF=01-" + MAC.replace(":", "-")


@pytest.fixture
def lab(tmp_path, netboot_files):
    lab = Lab(tmp_path).up()
    for name, path in netboot_files.items():
        shutil.copy(path, os.path.join(lab.tftp, name))
    yield lab
    console = os.path.join(str(tmp_path), "console.log")
    with open(console, "w") as f:
        f.write(lab.text())
    lab.down()


def write(lab, name, text, root=None):
    path = os.path.join(root or lab.tftp, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def boot_and_get_cmdline(lab, timeout=120):
    lab.wait_for(MARKER, timeout)
    lab.read(0.5)
    cmdline = marker_cmdline(lab.text())
    assert cmdline is not None, lab.text()[-3000:]
    return cmdline


MENU = """UI menu.c32
MENU TITLE s390 test menu
TIMEOUT 10
IPAPPEND 2
LABEL first
  MENU LABEL First entry
  KERNEL vmlinuz
  INITRD stage2.img
  APPEND console=ttysclp0 scenario=first
LABEL second
  MENU LABEL Second entry
  MENU DEFAULT
  KERNEL vmlinuz
  INITRD stage2.img
  APPEND console=ttysclp0 scenario=second
"""


def test_menu_default_label_by_mac_with_bootif(lab):
    """Scenario 1: arch-31 match, pxelinux.cfg/01-<mac>, two labels, IPAPPEND 2."""
    write(lab, "pxelinux.cfg/01-" + MAC.replace(":", "-"), MENU)
    lab.dnsmasq()
    lab.boot()
    cmdline = boot_and_get_cmdline(lab)
    assert "scenario=second" in cmdline and "scenario=first" not in cmdline
    assert BOOTIF in cmdline.split()
    assert cmdline.startswith("BOOT_IMAGE=vmlinuz console=ttysclp0 scenario=second initrd=stage2.img")
    text = lab.text()
    assert "s390 test menu" in text and "First entry (first)" in text
    # Answers tagged s390 (client arch 31) carry our boot file, the others the x86 one.
    tags, files = {}, {}
    for xid, rest in re.findall(r"dnsmasq-dhcp\[\d+\]: (\d+) (.*)", lab.log()):
        if rest.startswith("tags:"):
            tags[xid] = "s390" in rest
        m = re.search(r"option: 67 bootfile-name\s+(\S+)", rest)
        if m:
            files.setdefault(xid, set()).add((tags.get(xid), m.group(1)))
    pairs = set().union(*files.values())
    assert (True, "pxelinux.0") in pairs and (True, "x86/pxelinux.0") not in pairs, pairs
    assert "vendor class: PXEClient:Arch:00031" in lab.log()


def test_default_through_ip_hex_fallbacks(lab):
    """Scenario 2: only pxelinux.cfg/default; every hex-IP name is tried first."""
    write(lab, "pxelinux.cfg/default", "DEFAULT linux\nLABEL linux\n KERNEL vmlinuz\n"
          " APPEND initrd=stage2.img console=ttysclp0 scenario=default\n")
    lab.dnsmasq()
    lab.boot()
    cmdline = boot_and_get_cmdline(lab)
    assert "scenario=default" in cmdline
    log = lab.log()
    ip = re.search(r"DHCPACK\(nbtap0\) (192\.0\.2\.\d+)", log).group(1)
    hexip = "".join("%02X" % int(x) for x in ip.split("."))
    for n in range(8, 0, -1):
        assert "pxelinux.cfg/%s not found" % hexip[:n] in log, hexip[:n]
    assert "sent %s/pxelinux.cfg/default" % lab.tftp in log


def test_label_typed_at_boot_prompt(lab):
    """Scenario 3: a person types a label and an extra option at boot:."""
    write(lab, "pxelinux.cfg/default", MENU.replace("TIMEOUT 10", "PROMPT 1\nTIMEOUT 600"))
    lab.dnsmasq()
    lab.boot()
    lab.wait_for("boot:", 120)
    lab.type("first extra=typed")
    cmdline = boot_and_get_cmdline(lab)
    assert "scenario=first" in cmdline and "extra=typed" in cmdline
    assert cmdline.index("scenario=first") < cmdline.index("extra=typed")


def test_missing_kernel_runs_onerror(lab):
    """Scenario 4: the default kernel is missing; the console says so, ONERROR boots."""
    write(lab, "pxelinux.cfg/default", """DEFAULT broken
ONERROR rescue
LABEL broken
  KERNEL images/missing-vmlinuz
  APPEND console=ttysclp0 scenario=broken
LABEL rescue
  KERNEL vmlinuz
  INITRD stage2.img
  APPEND console=ttysclp0 scenario=rescue
""")
    lab.dnsmasq()
    lab.boot()
    cmdline = boot_and_get_cmdline(lab)
    assert "scenario=rescue" in cmdline
    text = lab.text()
    assert re.search(r"ERROR: images/missing-vmlinuz not found on TFTP server %s" % re.escape(SERVER_IP),
                     text), text[-3000:]
    assert "ONERROR: rescue" in text


def test_tftp_server_repeating_block_one_then_onerror(lab):
    """Issue #12: the kernel's server repeats block 1 forever; the transfer ends
    when its deadline passes (30 s without progress), ONERROR boots a label
    with two initrds, the second 3 MiB (in the image's old 2 MiB heap their
    concatenation failed with MemoryError)."""
    from packager import initramfs
    with open(os.path.join(lab.tftp, "firmware.cpio"), "wb") as f:
        f.write(initramfs.write([initramfs.file("lib/firmware/blob", os.urandom(3 << 20))], "none"))
    write(lab, "pxelinux.cfg/default", """DEFAULT broken
ONERROR rescue
LABEL broken
  KERNEL tftp://%s:6969/evil-vmlinuz
  APPEND console=ttysclp0 scenario=broken
LABEL rescue
  KERNEL vmlinuz
  INITRD stage2.img,firmware.cpio
  APPEND console=ttysclp0 scenario=rescue
""" % SERVER_IP)
    lab.start(["python3", os.path.join(ROOT, "tests", "support", "hostile.py"), "tftp", "repeat1", SERVER_IP, "6969"],
              log=os.path.join(lab.workdir, "hostile.log"))
    lab.dnsmasq()
    lab.boot()
    cmdline = boot_and_get_cmdline(lab, timeout=180)
    assert "scenario=rescue" in cmdline
    text = lab.text()
    want = ("ERROR: fetching tftp://{0}:6969/evil-vmlinuz failed: tftp://{0}:6969/evil-vmlinuz: "
            "no progress for 30 s from {0}:6969 (after 1 blocks)").format(SERVER_IP)
    assert want in text, text[-3000:]
    assert "ONERROR: rescue" in text
    assert "kexec vmlinuz with 2 initrd(s)" in text and "MemoryError" not in text, text[-3000:]
    assert "Initramfs unpacking failed" not in text, text[-3000:]


def test_http_prefix_from_option_210(lab, tmp_path):
    """Scenario 5: option 210 is an http:// prefix: config, kernel and initrd over HTTP."""
    www = str(tmp_path / "www")
    os.makedirs(os.path.join(www, "s390"))
    for name in ("vmlinuz", "stage2.img"):
        shutil.move(os.path.join(lab.tftp, name), os.path.join(www, "s390", name))
    write(lab, "s390/pxelinux.cfg/default", "DEFAULT web\nLABEL web\n KERNEL vmlinuz\n INITRD stage2.img\n"
          " APPEND console=ttysclp0 scenario=http\n", root=www)
    lab.http(www, 8080)
    lab.dnsmasq("--dhcp-option=tag:s390,210,http://%s:8080/s390/" % SERVER_IP)
    lab.boot()
    cmdline = boot_and_get_cmdline(lab)
    assert "scenario=http" in cmdline
    with open(os.path.join(str(tmp_path), "http.log")) as f:
        log = f.read()
    for path in ("/s390/pxelinux.cfg/default", "/s390/vmlinuz", "/s390/stage2.img"):
        assert re.search(r'"GET %s HTTP/1.1" 200' % re.escape(path), log), log
    assert "fetched http://%s:8080/s390/vmlinuz" % SERVER_IP in lab.text()


def test_boots_through_ten_percent_loss(lab):
    """Scenario 6: 10% of all UDP packets on the link dropped once the agent runs.

    TFTP comes from atftpd here: with windowsize, the agent's ACK of the last
    in-order block makes the server resend at once, where a lock-step server
    (dnsmasq, tftpd-hpa) can only resend on its own one-second timer.
    """
    write(lab, "pxelinux.cfg/default", "DEFAULT linux\nLABEL linux\n KERNEL vmlinuz\n INITRD stage2.img\n"
          " APPEND console=ttysclp0 scenario=lossy\n")
    lab.dnsmasq(tftp=False)
    lab.atftpd()
    lab.boot()
    lab.wait_for("s390-netboot agent started", 120)
    lab.loss(10)
    cmdline = boot_and_get_cmdline(lab, 400)
    assert "scenario=lossy" in cmdline


def test_hundred_mib_initrd(lab):
    """Scenario 7: a 100 MiB initrd (random data after a real one) boots; the rate is printed."""
    with open(os.path.join(lab.tftp, "stage2.img"), "ab") as f:
        f.write(os.urandom(100 << 20))
    write(lab, "pxelinux.cfg/default", "DEFAULT linux\nLABEL linux\n KERNEL vmlinuz\n INITRD stage2.img\n"
          " APPEND console=ttysclp0 scenario=big\n")
    lab.dnsmasq()
    lab.boot(memory=1024)
    cmdline = boot_and_get_cmdline(lab, 400)
    assert "scenario=big" in cmdline
    m = re.search(r"fetched stage2.img: (\d+\.\d) MiB in [\d.]+ s, ([\d.]+) MiB/s", lab.text())
    assert m, lab.text()[-3000:]
    assert float(m.group(1)) >= 100.0


def test_prompt0_boots_default_prompt1_times_out_to_ontimeout(lab):
    """PROMPT 0 boots DEFAULT at once though TIMEOUT and ONTIMEOUT are set
    (ldlinux.c:main -> ldlinux_auto_boot); DEFAULT is a CONFIG hop to a PROMPT 1
    file, whose boot: prompt counts TIMEOUT down and then runs ONTIMEOUT, not
    DEFAULT (ldlinux.c:enter_cmdline)."""
    stage2 = " KERNEL vmlinuz\n INITRD stage2.img\n APPEND console=ttysclp0 scenario=%s\n"
    write(lab, "pxelinux.cfg/default", "PROMPT 0\nTIMEOUT 3000\nONTIMEOUT wrong\nDEFAULT hop\n"
          "LABEL hop\n CONFIG prompt1.cfg\nLABEL wrong\n" + stage2 % "prompt0-ontimeout")
    write(lab, "prompt1.cfg", "PROMPT 1\nTIMEOUT 30\nDEFAULT wrong\nONTIMEOUT right\n"
          "LABEL wrong\n" + stage2 % "prompt1-default" + "LABEL right\n" + stage2 % "prompt1-ontimeout")
    lab.dnsmasq()
    lab.boot()
    cmdline = boot_and_get_cmdline(lab)
    assert "scenario=prompt1-ontimeout" in cmdline, cmdline
    text = lab.text()
    assert "config prompt1.cfg" in text and "Booting right in 3 s" in text, text[-3000:]
    assert "Booting wrong" not in text and text.count("Booting right") == 1, text[-3000:]

def test_rescue_shell_at_the_prompt_then_totaltimeout(lab):
    """`shell` at boot: gives a busybox shell; after it, TOTALTIMEOUT still boots the default."""
    write(lab, "pxelinux.cfg/default", "PROMPT 1\nTOTALTIMEOUT 200\nDEFAULT linux\nLABEL linux\n"
          " KERNEL vmlinuz\n INITRD stage2.img\n APPEND console=ttysclp0 scenario=totaltimeout\n")
    lab.dnsmasq()
    lab.boot()
    lab.wait_for("boot:", 120)
    lab.type("shell")
    lab.wait_for("starting a shell", 30)
    lab.read(2)
    lab.type("echo RESCUE-$((6*7)) $(cat /run/netboot/lease-eth0.json | grep -c 192.0.2.1)")
    lab.wait_for("RESCUE-42 1", 30)
    lab.type("exit")
    cmdline = boot_and_get_cmdline(lab, 120)
    assert "scenario=totaltimeout" in cmdline
    assert lab.text().count("boot:") >= 2


# The agent's line as it starts DHCP on an interface (both families by default).
DHCP_ON = r"DHCP(?: and DHCPv6|v6)? on %s \(%s\)"


def test_boot_interface_is_tried_first(lab):
    """Two NICs, the firmware booted from the second: the agent asks there first."""
    write(lab, "pxelinux.cfg/default", "DEFAULT linux\nIPAPPEND 2\nLABEL linux\n KERNEL vmlinuz\n"
          " INITRD stage2.img\n APPEND console=ttysclp0 scenario=twonics\n")
    lab.dnsmasq()
    lab.boot(before=lab.silent_nic())
    cmdline = boot_and_get_cmdline(lab, 180)
    assert "scenario=twonics" in cmdline and BOOTIF in cmdline.split()
    text = lab.text()
    # Which NIC the kernel names eth0 depends on probe order, which varies: match by MAC.
    assert re.search(DHCP_ON % ("eth\\d", MAC), text) and "(52:54:00:00:00:01)" not in text, text[-3000:]


@pytest.fixture(scope="session")
def image_trying_silent_nic_first(netboot_files, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("netboot-if"))
    return build_image(ROOT, out, "--cmdline", "pxe.if=52:54:00:00:00:01,%s" % MAC.replace(":", "-"))


def test_next_interface_when_one_gets_no_lease(lab, image_trying_silent_nic_first):
    """pxe.if names the silent NIC first (by MAC: which NIC the kernel calls
    eth0 depends on probe order), then the boot NIC: the agent moves on."""
    shutil.copy(image_trying_silent_nic_first, os.path.join(lab.tftp, "pxelinux.0"))
    write(lab, "pxelinux.cfg/default", "DEFAULT linux\nLABEL linux\n KERNEL vmlinuz\n"
          " INITRD stage2.img\n APPEND console=ttysclp0 scenario=nextnic\n")
    lab.dnsmasq()
    lab.boot(before=lab.silent_nic())
    cmdline = boot_and_get_cmdline(lab, 180)
    assert "scenario=nextnic" in cmdline
    text = lab.text()
    silent = re.search(DHCP_ON % ("(eth\\d)", "52:54:00:00:00:01"), text)
    good = re.search(DHCP_ON % ("(eth\\d)", MAC), text)
    assert silent and good and silent.start() < good.start(), text[-3000:]
    assert re.search(r"lease 192\.0\.2\.\d+/24 on %s" % good.group(1), text), text[-3000:]


def test_server_gone_after_the_config_then_reboot_countdown(lab):
    """Issue #13: the server disappears while the kernel is on its way (after
    the config was found): one failure line within the 30 s no-progress
    limit, then the reboot countdown of option 211, then the reboot (QEMU
    runs with -no-reboot, so it exits); never an endless retry."""
    import time
    with open(os.path.join(lab.tftp, "vmlinuz"), "rb") as f:
        kernel = f.read()
    with open(os.path.join(lab.tftp, "vmlinuz-big"), "wb") as f:
        f.write(kernel + b"\0" * (48 << 20))
    write(lab, "pxelinux.cfg/default", """DEFAULT big
LABEL big
  KERNEL vmlinuz-big
  INITRD stage2.img
  APPEND console=ttysclp0 scenario=big
""")
    lab.dnsmasq("--dhcp-option=211,5i")
    lab.boot()
    lab.wait_for("booting big", 180)
    lab.wait_for("vmlinuz-big:", 60)          # the progress line: blocks are arriving
    rules = ("table inet nbgone {\n"
             " chain in { type filter hook input priority 0; drop; }\n"
             " chain out { type filter hook output priority 0; drop; }\n"
             "}\n")
    path = os.path.join(lab.workdir, "gone.nft")
    with open(path, "w") as f:
        f.write(rules)
    cut = time.monotonic()
    sh("nft", "-f", path, ns=lab.ns)
    lab.wait_for("rebooting in 5 s; press Enter for a shell", 90)
    failed = time.monotonic() - cut
    # The reboot: -no-reboot makes QEMU exit; QMP says whether the guest asked
    # for a re-IPL (SHUTDOWN guest-reset) or ended in a disabled wait.
    ended = lab.ended(60)
    text = lab.text()
    assert ended == "reboot", "the guest ended by %r, not a re-IPL; QMP: %s" % (ended, lab.qmp.describe())
    assert re.search(r"\] rebooting\r?$", text, re.M), text[-2000:]
    after = text[text.index("booting big"):]
    # A stall ends the transfer as "no answer"/"no progress" after 30 s, or, when an
    # early burst was followed by a straggling block, as "too slow" (fetch.Deadline:
    # the bytes so far, at the minimum rate, are used up first).
    assert re.search(r"ERROR: fetching vmlinuz-big failed: .*(no answer|no progress|too slow)", after), \
        after[-3000:]
    assert after.count("ERROR:") == 1 and "config search failed" not in after, after[-3000:]
    assert failed < 75, "the failure and the countdown took %.0f s after the server went" % failed


def test_reboot_countdown_ends_in_a_reipl_not_a_crash(lab):
    """A failed boot's reboot (option 211 countdown) is a re-IPL request QEMU
    receives (QMP SHUTDOWN reason guest-reset under -no-reboot), not the
    disabled wait a Linux reboot ends in under TCG by default: Linux re-IPLs a
    CCW device with DIAG 308 subcode 4 unless /sys/firmware/reipl/ccw/clear
    is 1, and QEMU's TCG handle_diag_308 has no subcode 4 (KVM handles it in
    the host kernel). The agent sets clear before it reboots."""
    write(lab, "pxelinux.cfg/default", "DEFAULT gone\nLABEL gone\n  KERNEL not-there\n")
    lab.dnsmasq("--dhcp-option=211,1i")
    lab.boot()
    lab.wait_for("rebooting in 1 s", 120)
    ended = lab.ended(60)
    assert ended == "reboot", "the guest ended by %r; QMP: %s; console:\n%s" % (
        ended, lab.qmp.describe(), lab.text()[-2000:])
    assert "GUEST_PANICKED" not in lab.qmp.names(), lab.qmp.describe()


@pytest.fixture
def lab6(tmp_path, netboot_files):
    """An IPv6-only lab: no IPv4 address anywhere on the link."""
    lab = Lab(tmp_path).up(ipv4=False, ipv6=True)
    for name, path in netboot_files.items():
        shutil.copy(path, os.path.join(lab.tftp, name))
    yield lab
    with open(os.path.join(str(tmp_path), "console.log"), "w") as f:
        f.write(lab.text())
    lab.down()


def test_ipv6_only_netboot(lab6):
    """IPv6 only: dnsmasq answers DHCPv6 with a bootfile-url, the firmware loads
    pxelinux.0 over TFTP/IPv6, the agent gets its own DHCPv6 lease, finds
    pxelinux.cfg/01-<mac> (no hex-IP names), fetches kernel and initrd over
    IPv6 and kexecs; IPAPPEND 1 adds nothing on IPv6, BOOTIF is there."""
    lab = lab6
    write(lab, "pxelinux.cfg/01-" + MAC.replace(":", "-"),
          "DEFAULT v6\nIPAPPEND 3\nLABEL v6\n KERNEL vmlinuz\n INITRD stage2.img\n"
          " APPEND console=ttysclp0 scenario=ipv6\n")
    lab.dnsmasq(ipv4=False, ipv6=True)
    lab.boot()
    cmdline = boot_and_get_cmdline(lab, 180)
    assert "scenario=ipv6" in cmdline and BOOTIF in cmdline.split(), cmdline
    assert not [w for w in cmdline.split() if w.startswith("ip=")], cmdline
    text, log = lab.text(), lab.log()
    assert "DHCPv6 stateful lease 2001:db8::1" in text, text[-3000:]
    # The config search went straight from 01-<mac> (tried after the UUID) with no hex-IP names.
    assert "sent %s/pxelinux.0 to 2001:db8::" % lab.tftp in log, log[-3000:]
    assert "sent %s/vmlinuz to 2001:db8::" % lab.tftp in log, log[-3000:]
    assert "DHCPACK" not in log and "DHCPDISCOVER" not in log


def test_dual_stack_with_pxe_ip_6_takes_ipv6(tmp_path, netboot_files):
    """pxe.ip=6 in the image, on the dual-stack link of test_dual_stack_takes_ipv4:
    the firmware still loads pxelinux.0 over DHCPv4/TFTP, but the agent asks
    DHCPv6 alone (agent.boot.lease_on, family "6"), takes the bootfile-url's
    server, searches 01-<mac> with no hex-IP names and fetches over IPv6; no
    ip= on the command line (IPAPPEND 1 adds nothing on IPv6), BOOTIF there."""
    image = build_image(ROOT, str(tmp_path), "--cmdline", "pxe.ip=6")
    lab = Lab(tmp_path).up(ipv4=True, ipv6=True)
    try:
        for name, path in netboot_files.items():
            shutil.copy(path, os.path.join(lab.tftp, name))
        shutil.copy(image, os.path.join(lab.tftp, "pxelinux.0"))
        write(lab, "pxelinux.cfg/01-" + MAC.replace(":", "-"),
              "DEFAULT v6\nIPAPPEND 3\nLABEL v6\n KERNEL vmlinuz\n INITRD stage2.img\n"
              " APPEND console=ttysclp0 scenario=ip6\n")
        lab.dnsmasq("--no-ping", ipv4=True, ipv6=True)
        lab.boot()
        cmdline = boot_and_get_cmdline(lab, 180)
        text, log = lab.text(), lab.log()
        assert "scenario=ip6" in cmdline and BOOTIF in cmdline.split(), cmdline
        assert not [w for w in cmdline.split() if w.startswith("ip=")], cmdline
        assert "DHCPv6 on eth0" in text and "DHCP and DHCPv6 on" not in text, text[-3000:]
        assert re.search(r"DHCPv6 \w+ lease 2001:db8::", text), text[-3000:]
        # The firmware's own lease and load were IPv4; every file the agent fetched went over IPv6.
        assert "sent %s/pxelinux.0 to 192.0.2." % lab.tftp in log, log[-3000:]
        assert "sent %s/vmlinuz to 2001:db8::" % lab.tftp in log, log[-3000:]
        assert "sent %s/vmlinuz to 192.0.2." % lab.tftp not in log, log[-3000:]
    finally:
        with open(os.path.join(str(tmp_path), "console.log"), "w") as f:
            f.write(lab.text())
        lab.down()


@pytest.fixture(scope="session")
def https_parts(netboot_files, tmp_path_factory):
    """A test CA (tests/support/tlsca.py; certificates for 192.0.2.1) and an image trusting it."""
    from tests.support import tlsca
    d = str(tmp_path_factory.mktemp("netboot-https"))
    certs = tlsca.make_certs(os.path.join(d, "certs"))
    image = build_image(ROOT, d, "--ca-certs", os.path.join(certs, "ca.pem"))
    return {"certs": certs, "image": image}


def test_https_prefix_from_option_210_and_a_mitm_refused(lab, https_parts, tmp_path):
    """Issue #16: option 210 is https://: the config comes over TLS from nginx
    with a certificate from the image's CA. Its default kernel is on a server
    with a self-signed certificate (a man in the middle): one line naming the
    server and the reason, then ONERROR boots the second stage over HTTPS."""
    from tests.support import tlsca
    shutil.copy(https_parts["image"], os.path.join(lab.tftp, "pxelinux.0"))
    www = str(tmp_path / "www")
    os.makedirs(os.path.join(www, "s390"))
    for name in ("vmlinuz", "stage2.img"):
        shutil.move(os.path.join(lab.tftp, name), os.path.join(www, "s390", name))
    nginx = tlsca.Nginx(str(tmp_path / "nginx"), https_parts["certs"], www, addr=SERVER_IP,
                        base_port=8443, names=("good", "mitm"), netns=lab.ns)
    try:
        good, mitm = nginx.url("good", "s390/"), nginx.url("mitm", "s390/")
        write(lab, "s390/pxelinux.cfg/default", "DEFAULT evil\nONERROR secure\n"
              "LABEL evil\n KERNEL %svmlinuz\n INITRD %sstage2.img\n APPEND console=ttysclp0 scenario=evil\n"
              "LABEL secure\n KERNEL vmlinuz\n INITRD stage2.img\n APPEND console=ttysclp0 scenario=https\n"
              % (mitm, mitm), root=www)
        lab.dnsmasq("--dhcp-option=tag:s390,210,%s" % good)
        lab.boot()
        cmdline = boot_and_get_cmdline(lab, 180)
    finally:
        nginx.stop()
    assert "scenario=https" in cmdline, cmdline
    text = lab.text()
    assert "config %spxelinux.cfg/default" % good in text, text[-3000:]
    want = ("ERROR: fetching {0}vmlinuz failed: {0}vmlinuz: TLS: {1}'s certificate is not signed by a CA "
            "in /etc/s390-netboot/ca.pem").format(mitm, SERVER_IP)
    assert want in text, text[-3000:]
    assert "ONERROR: secure" in text and "fetched %svmlinuz" % good in text, text[-3000:]


def test_dual_stack_takes_ipv4(tmp_path, netboot_files):
    """Dual stack: dnsmasq answers DHCPv4 and DHCPv6 on the same link. The
    firmware takes DHCPv4; the agent asks both at once and boots with the IPv4
    lease (its ip= string is there) as soon as it comes."""
    lab = Lab(tmp_path).up(ipv4=True, ipv6=True)
    try:
        for name, path in netboot_files.items():
            shutil.copy(path, os.path.join(lab.tftp, name))
        write(lab, "pxelinux.cfg/default", "DEFAULT d\nIPAPPEND 3\nLABEL d\n KERNEL vmlinuz\n INITRD stage2.img\n"
              " APPEND console=ttysclp0 scenario=dual\n")
        # no-ping: the firmware asks DHCPv4, then DHCPv6 when no offer came within its
        # short wait; dnsmasq's ping check (3 s) made it take the DHCPv6 answer.
        lab.dnsmasq("--no-ping", ipv4=True, ipv6=True)
        lab.boot()
        cmdline = boot_and_get_cmdline(lab)
        assert "Using IPv4 address" in lab.text() or "Using IPv6 address" not in lab.text(), lab.text()[:2000]
        ip = re.search(r"DHCPACK\(nbtap0\) (192\.0\.2\.\d+) " + MAC, lab.log()).group(1)
        assert "scenario=dual" in cmdline and BOOTIF in cmdline.split(), cmdline
        assert "ip=%s:%s:%s:255.255.255.0" % (ip, SERVER_IP, SERVER_IP) in cmdline.split(), cmdline
        text = lab.text()
        assert "DHCP and DHCPv6 on eth0" in text and "lease %s/24 on eth0" % ip in text, text[-3000:]
        # The IPv4 lease did not wait for DHCPv6 (which stops as soon as it is
        # there): the agent's own timestamps, DHCP start to lease.
        t = dict((m.group(2), float(m.group(1))) for m in
                 re.finditer(r"netboot: \[\s*([\d.]+)\] (DHCP and DHCPv6 on|lease )", text))
        assert t["lease "] - t["DHCP and DHCPv6 on"] < 6, t
    finally:
        with open(os.path.join(str(tmp_path), "console.log"), "w") as f:
            f.write(lab.text())
        lab.down()


def ext4_disk(path, files, size_mb=32):
    """An ext4 file system image holding files ({path in the fs: bytes or a
    local file to copy}), made by mke2fs -d without mounting anything."""
    src = path + ".d"
    for name, data in files.items():
        dest = os.path.join(src, name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if isinstance(data, bytes):
            with open(dest, "wb") as f:
                f.write(data)
        else:
            shutil.copy(data, dest)
    sh("mke2fs", "-q", "-F", "-t", "ext4", "-L", "installed", "-d", src, path, "%dM" % size_mb)
    return path


ZIPL_CONF = """[defaultboot]
defaultmenu=menu

:menu
target=/boot
1=installed
default=1

[installed]
target=/boot
image=/boot/vmlinuz-installed
ramdisk=/boot/initrd.img-installed
parameters="console=ttysclp0 scenario=from-disk root=LABEL=installed"
"""


def test_localboot_0_kexecs_the_disks_zipl_conf_default(lab, tmp_path):
    """Issue 27, the install-then-boot-from-disk cycle: the per-MAC file says
    LOCALBOOT 0 (xCAT's "boot" state); the guest has a virtio-blk disk at
    0.0.0002 holding an ext4 root with /etc/zipl.conf and /boot (Debian's
    layout; the kernel and initrd are the tests' second stage). The agent
    loads the file system modules, mounts the disk read-only, takes
    zipl.conf's default section and kexecs it: the second stage prints the
    disk entry's command line."""
    disk = ext4_disk(str(tmp_path / "disk.img"), {
        "etc/zipl.conf": ZIPL_CONF.encode(),
        "boot/vmlinuz-installed": os.path.join(lab.tftp, "vmlinuz"),
        "boot/initrd.img-installed": os.path.join(lab.tftp, "stage2.img"),
    })
    write(lab, "pxelinux.cfg/01-" + MAC.replace(":", "-"), "#boot\nDEFAULT xCAT\nLABEL xCAT\nLOCALBOOT 0\n")
    lab.dnsmasq()
    lab.boot(extra=["-drive", "file=%s,if=none,id=d0,format=raw" % disk,
                    "-device", "virtio-blk-ccw,drive=d0,devno=fe.0.0002"])
    lab.wait_for("local boot, 0 (label xCAT): disk 0.0.0002 (vda), /etc/zipl.conf [installed]", 150)
    cmdline = boot_and_get_cmdline(lab, 120)
    assert cmdline == "console=ttysclp0 scenario=from-disk root=LABEL=installed", cmdline
    assert "GUEST_PANICKED" not in lab.qmp.names(), lab.qmp.describe()


@pytest.fixture(scope="module")
def image_reipl(netboot_files, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("netboot-reipl"))
    return build_image(ROOT, out, "--cmdline", "pxe.localboot=reipl,0.0.0002")


def test_chain_c32_hd0_with_pxe_localboot_reipl_asks_qemu_to_reipl_the_disk(lab, image_reipl, tmp_path):
    """The re-IPL way (pxe.localboot=reipl,0.0.0002 built into the image):
    Foreman's chain.c32 hd0 label points /sys/firmware/reipl at the disk
    (clear 1) and reboots; QEMU receives the guest's re-IPL request (QMP
    SHUTDOWN guest-reset under -no-reboot), not a disabled wait. That the
    firmware then IPLs the disk was measured by hand (docs/reference.md,
    Local boot): the suite's QEMU runs with -no-reboot."""
    shutil.copy(image_reipl, os.path.join(lab.tftp, "pxelinux.0"))
    disk = ext4_disk(str(tmp_path / "disk.img"), {"etc/zipl.conf": ZIPL_CONF.encode()})
    write(lab, "pxelinux.cfg/default", "UI menu.c32\nTIMEOUT 10\nONTIMEOUT local_chain_hd0\n"
          "LABEL local_chain_hd0\n  COM32 chain.c32\n  APPEND hd0\n")
    lab.dnsmasq()
    lab.boot(extra=["-drive", "file=%s,if=none,id=d0,format=raw" % disk,
                    "-device", "virtio-blk-ccw,drive=d0,devno=fe.0.0002"])
    lab.wait_for("local boot, hd0 (label local_chain_hd0): re-IPL from disk 0.0.0002 (vda)", 150)
    ended = lab.ended(60)
    assert ended == "reboot", "the guest ended by %r; QMP: %s; console:\n%s" % (
        ended, lab.qmp.describe(), lab.text()[-2000:])


def test_foreman_cycle_install_then_the_disk_then_maas_empty_file(lab, tmp_path):
    """Issue 27 (b) and (c): one guest with an installed-style disk, powered on
    three times as a provisioning system drives it. First its per-MAC file is
    an install label (Foreman's kickstart_default_pxelinux shape: KERNEL,
    INITRD, APPEND, IPAPPEND 2): the installer (the tests' second stage) boots
    from the network. Then the file is switched to local boot (LOCALBOOT 0):
    the disk's zipl.conf default boots. Then MAAS's local-boot answer, an
    empty file: the disk again."""
    disk = ext4_disk(str(tmp_path / "disk.img"), {
        "etc/zipl.conf": ZIPL_CONF.encode(),
        "boot/vmlinuz-installed": os.path.join(lab.tftp, "vmlinuz"),
        "boot/initrd.img-installed": os.path.join(lab.tftp, "stage2.img"),
    })
    per_mac = "pxelinux.cfg/01-" + MAC.replace(":", "-")
    drive = ["-drive", "file=%s,if=none,id=d0,format=raw" % disk,
             "-device", "virtio-blk-ccw,drive=d0,devno=fe.0.0002"]
    lab.dnsmasq()
    write(lab, per_mac, "DEFAULT install\nLABEL install\n  KERNEL vmlinuz\n  INITRD stage2.img\n"
          "  APPEND console=ttysclp0 scenario=install\n  IPAPPEND 2\n")
    lab.boot(extra=drive)
    cmdline = boot_and_get_cmdline(lab, 180)
    assert "scenario=install" in cmdline.split() and BOOTIF in cmdline.split(), cmdline
    for text, want in (("DEFAULT local\nLABEL local\n  LOCALBOOT 0\n", "local boot, 0 (label local)"),
                       ("", "local boot, an empty config")):
        lab.stop_guest()
        lab.console = b""
        write(lab, per_mac, text)
        lab.boot(extra=drive)
        lab.wait_for(want, 150)
        cmdline = boot_and_get_cmdline(lab, 120)
        assert cmdline == "console=ttysclp0 scenario=from-disk root=LABEL=installed", (text, cmdline)


def test_localboot_without_a_disk_says_so_then_the_countdown(lab):
    """Issue 27 (d): LOCALBOOT 0 on a guest with no block device: one line
    saying so within a second of the decision, then the reboot countdown
    (option 211), not a hang and not the network again for ever."""
    write(lab, "pxelinux.cfg/default", "DEFAULT local\nLABEL local\n  LOCALBOOT 0\n")
    lab.dnsmasq("--dhcp-option=211,5i")
    lab.boot()
    lab.wait_for("config pxelinux.cfg/default", 150)
    lab.wait_for("rebooting in 5 s; press Enter for a shell", 30)
    text = lab.text()
    stamps = dict((m.group(2), float(m.group(1))) for m in
                  re.finditer(r"netboot: \[\s*([\d.]+)\] (config pxelinux.cfg/default|ERROR: local boot)", text))
    assert "ERROR: local boot" in stamps and "no ccw block device" in text, text[-2000:]
    assert stamps["ERROR: local boot"] - stamps["config pxelinux.cfg/default"] < 1.0, stamps
    assert lab.ended(60) == "reboot", lab.qmp.describe()
