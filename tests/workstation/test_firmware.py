"""lint --firmware: QEMU's own pxelinux.cfg parser (pc-bios/s390-ccw netmain.c
and SLOF's lib/libnet/pxelinux.c, QEMU 10.0) against the agent's decision."""

import os
import subprocess
import sys

from workstation import firmware

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AGENT = {"label": "install", "kernel": "k", "initrd": ["i"], "cmdline": "BOOT_IMAGE=k a=1 initrd=i",
         "localboot": False}
LABEL = b"DEFAULT install\nLABEL install\n KERNEL k\n INITRD i\n APPEND a=1\n"


def messages(data, agent=AGENT):
    return [(line, sev, msg) for line, sev, msg in firmware.check(data, agent)]


def test_parse_as_the_firmware_reads():
    entries, chosen, ignored, unparsed = firmware.parse(
        b"# pxelinux\nlabel a\n kernel ka\nDEFAULT b\nMENU TITLE x\nLABEL b\n\tKERNEL kb\n INITRD x,y\n"
        b" APPEND  q=1 \r\nIPAPPEND\n")
    got = [(e.label, e.kernel, e.initrd, e.append) for e in entries]
    assert got == [("a", "ka", None, None), ("b", "kb", "x,y", "q=1")], got
    assert (chosen, ignored, unparsed) == (1, {"MENU": [5]}, [10]), (chosen, ignored, unparsed)
    # DEFAULT after the LABEL it names does not count; no match: the first entry.
    assert firmware.parse(b"LABEL a\nLABEL b\nDEFAULT b\n")[1] == 0
    # 16 entries at most.
    data = b"".join(b"LABEL l%d\n KERNEL k\n" % i for i in range(20)) + b"DEFAULT l18\n"
    assert len(firmware.parse(data)[0]) == 16


def test_what_the_firmware_does_differently():
    assert messages(LABEL) == []
    cases = [
        (LABEL + b"#" * 2048, "error", "reads at most 2047"),
        (LABEL.replace(b"DEFAULT install", b"DEFAULT menu\nLABEL other\n KERNEL ko"), "warning",
         "boots LABEL other, where the agent boots install"),
        (LABEL.replace(b"INITRD i", b"INITRD i,j"), "warning", "one file name there"),
        (LABEL.replace(b"a=1", b"a=" + b"x" * 900), "warning", "it passes the first 896"),
        (LABEL + b" IPAPPEND 2\n", "warning", "IPAPPEND is not supported"),
        (b"# nothing\n", "warning", "gives up and tries the next boot device"),
    ]
    for data, sev, text in cases:
        got = messages(data)
        assert any(s == sev and text in m for _, s, m in got), (data[:60], got)
    got = messages(LABEL, dict(AGENT, cmdline="BOOT_IMAGE=k a=1 initrd=i BOOTIF=01-52-54-00-12-34-56"))
    assert [m for _, _, m in got] == ["firmware: no IPAPPEND/SYSAPPEND there: the kernel does not get "
                                      "BOOTIF=01-52-54-00-12-34-56"], got
    got = messages(b"DEFAULT local\nLABEL local\n LOCALBOOT 0\n", {"localboot": True})
    assert any("it knows no LOCALBOOT" in m for _, _, m in got), got
    assert messages(b"# MAAS: local boot\n", {"localboot": True}) == []


def test_lint_firmware_flag(tmp_path):
    (tmp_path / "pxelinux.cfg").mkdir()
    (tmp_path / "pxelinux.cfg" / "default").write_bytes(
        b"DEFAULT menu\nPROMPT 0\nTIMEOUT 50\nONTIMEOUT install\nLABEL local\n LOCALBOOT 0\n"
        b"LABEL install\n KERNEL k\n APPEND console=ttysclp0\n")
    args = [sys.executable, "-m", "workstation", "lint", str(tmp_path), "--configs-only"]
    plain = subprocess.run(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    fw = subprocess.run(args + ["--firmware"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert "firmware:" not in plain.stdout, plain.stdout
    assert "pxelinux.cfg/default:5: warning: firmware: boots LABEL local, where the agent boots install" \
        in fw.stdout, fw.stdout
