"""The kernel command line and initrds as Syslinux 6.04's code builds them
(com32/elflink/ldlinux/readconfig.c, ldlinux.c, execute.c, kernel.c,
core/fs/pxe/pxe.c, core/sysappend.c). Runs under CPython and MicroPython."""

from agent import plan as planmod
from agent import cmdline as C
from agent import pxeconfig as P
from tests.agent.memfetch import MemFetcher

UUID = "2a9f0c5e-1b3d-4c2e-8f00-0123456789ab"
ENV = {"mac": "52:54:00:12:34:56", "ip": "192.0.2.10", "netmask": "255.255.255.0",
       "gateway": "192.0.2.1", "server_ip": "192.0.2.1", "server": "192.0.2.1", "uuid": UUID}
IP = "ip=192.0.2.10:192.0.2.1:192.0.2.1:255.255.255.0"
BOOTIF = "BOOTIF=01-52-54-00-12-34-56"
SYSUUID = "SYSUUID=" + UUID


def check(got, want, call):
    assert got == want, "%s = %r, want %r" % (call, got, want)


def boot(text, label=None, env=None, files=None):
    """(label, kernel, initrds, cmdline) of plan over pxelinux.cfg/default = text."""
    files = dict(files or {})
    files["pxelinux.cfg/default"] = text
    # Kernels named without a label are on the server (get_extension probes
    # NAME.c32 ... NAME.0, then loads NAME; a name on no file fails to load).
    for name in ("vmlinuz", "images/vmlinuz"):
        files.setdefault(name, "kernel")


    e = dict(ENV)
    e.update(env or {})
    p = planmod.make_plan(MemFetcher(files), e, label)
    d = p.as_dict()
    return d["label"], d["kernel"], d["initrd"], d["cmdline"]


def check_boots(cases):
    for text, label, want in cases:
        check(boot(text, label), want, "boot(%r, label=%r)" % (text, label))


def test_c_number():
    # readconfig.c: IPAPPEND/SYSAPPEND are strtoul(p, NULL, 0), 32-bit.
    cases = [("2", 2), ("0x2", 2), ("0X1f", 31), ("010", 8), ("08", 0), ("7abc", 7), ("abc", 0),
             ("", 0), ("  6", 6), ("+3", 3), ("-1", 0xFFFFFFFF), ("0x", 0), ("99999999999", 0xFFFFFFFF)]
    for text, want in cases:
        check(P.c_number(text)[0], want, "c_number(%r)" % text)


def test_ipappend_is_a_c_number():
    # readconfig.c: ld.ipappend / SysAppends = strtoul(..., NULL, 0)
    cases = [
        ("DEFAULT a\nLABEL a\n KERNEL k\n IPAPPEND 0x2\n", None, ("a", "k", [], "BOOT_IMAGE=k " + BOOTIF)),
        ("DEFAULT a\nLABEL a\n KERNEL k\n SYSAPPEND 010\n", None, ("a", "k", [], "BOOT_IMAGE=k")),
        ("DEFAULT a\nLABEL a\n KERNEL k\n SYSAPPEND 0x6\n", None, ("a", "k", [], "BOOT_IMAGE=k %s %s" % (BOOTIF, SYSUUID))),
        ("DEFAULT a\nIPAPPEND 03\nLABEL a\n KERNEL k\n", None, ("a", "k", [], "BOOT_IMAGE=k %s %s" % (IP, BOOTIF))),
        ("DEFAULT a\nLABEL a\n KERNEL k\n IPAPPEND 2nd\n", None, ("a", "k", [], "BOOT_IMAGE=k " + BOOTIF)),
    ]
    check_boots(cases)


def test_sysappend_strings():
    # pxe.c:genipopt writes every address with gendotquad (0.0.0.0 when unknown);
    # pxe.c:make_bootif_string; sysappend.c:sysappend_set_uuid only for a valid UUID.
    nogw = dict(ENV, gateway=None)
    cases = [
        ((1, nogw), ["ip=192.0.2.10:192.0.2.1:0.0.0.0:255.255.255.0"]),
        ((1, {}), ["ip=0.0.0.0:0.0.0.0:0.0.0.0:0.0.0.0"]),
        ((7, ENV), [IP, BOOTIF, SYSUUID]),
        ((4, dict(ENV, uuid="00000000-0000-0000-0000-000000000000")), []),
        ((4, dict(ENV, uuid=UUID.upper())), [SYSUUID]),
        ((0xF8, ENV), []),
    ]
    for (bits, env), want in cases:
        check(C.sysappend_strings(bits, env), want, "sysappend_strings(%#x, %r)" % (bits, env))


def test_label_command_line_order():
    # readconfig.c:record: KERNEL's options, APPEND, " initrd=" INITRD, SYSAPPEND
    # strings; ldlinux.c:load_kernel then adds typed options or DEFAULT's.
    cfg = ("DEFAULT a from-default\nIPAPPEND 2\nLABEL a\n KERNEL k root=x\n APPEND quiet\n"
           " INITRD i.gz\nLABEL b\n KERNEL kb\n")
    cases = [
        (cfg, None, ("a", "k", ["i.gz"], "BOOT_IMAGE=k root=x quiet initrd=i.gz %s from-default" % BOOTIF)),
        (cfg, "a typed=1", ("a", "k", ["i.gz"], "BOOT_IMAGE=k root=x quiet initrd=i.gz %s typed=1" % BOOTIF)),
        (cfg, "b typed=1", ("b", "kb", [], "BOOT_IMAGE=kb %s typed=1" % BOOTIF)),
        ("LABEL a\n LINUX k\n APPEND -\n IPAPPEND 1\n", "a x", ("a", "k", [], "BOOT_IMAGE=k %s x" % IP)),
    ]
    check_boots(cases)


def test_kernel_that_is_no_label():
    # ldlinux.c:load_kernel -> execute.c:execute(kernel, type, true): its options,
    # then the SYSAPPEND strings (SysAppends after the whole file); the global
    # APPEND and INITRD are never used (kernel.c:new_linux_kernel gets the args).
    cases = [
        ("DEFAULT vmlinuz root=x\nAPPEND quiet\nIPAPPEND 1\n", None,
         (None, "vmlinuz", [], "BOOT_IMAGE=vmlinuz root=x " + IP)),
        ("DEFAULT a\nIPAPPEND 2\nLABEL a\n KERNEL k\n", "vmlinuz typed=1",
         (None, "vmlinuz", [], "BOOT_IMAGE=vmlinuz typed=1 " + BOOTIF)),
        ("DEFAULT vmlinuz\nINITRD global.gz\n", None, (None, "vmlinuz", [], "BOOT_IMAGE=vmlinuz")),
        ("DEFAULT vmlinuz initrd=i.gz\n", None, (None, "vmlinuz", ["i.gz"], "BOOT_IMAGE=vmlinuz initrd=i.gz")),
    ]
    check_boots(cases)


def test_first_initrd_on_the_whole_line():
    # kernel.c:new_linux_kernel: strstr(cmdline, "initrd=") over
    # "BOOT_IMAGE=kernel args", names up to ' ' or ',' while a ',' follows.
    cases = [
        ("BOOT_IMAGE=k initrd=a,b quiet initrd=c", ["a", "b"]),
        ("BOOT_IMAGE=k quiet", None),
        ("BOOT_IMAGE=k noinitrd=x initrd=y", ["x"]),
        ("BOOT_IMAGE=k INITRD=x", None),
        ("BOOT_IMAGE=k initrd=a,b,c", ["a", "b", "c"]),
        ("BOOT_IMAGE=k initrd=a, b", ["a", ""]),
        ("BOOT_IMAGE=k initrd=", [""]),
    ]
    for line, want in cases:
        check(C.initrd_in_append(line), want, "initrd_in_append(%r)" % line)
    # In a plan: the label's APPEND (and INITRD) come before typed options.
    text = "LABEL a\n KERNEL k\n APPEND initrd=from-append\nLABEL b\n KERNEL k\n INITRD from-initrd\n"
    plans = [
        (text, "a initrd=typed", ("a", "k", ["from-append"], "BOOT_IMAGE=k initrd=from-append initrd=typed")),
        (text, "b initrd=typed", ("b", "k", ["from-initrd"], "BOOT_IMAGE=k initrd=from-initrd initrd=typed")),
        ("LABEL c\n KERNEL k\n", "c initrd=typed", ("c", "k", ["typed"], "BOOT_IMAGE=k initrd=typed")),
    ]
    check_boots(plans)


def test_empty_initrd_name_cannot_boot():
    # kernel.c:new_linux_kernel would try to load a file named "" and fail.
    for text in ("DEFAULT a\nLABEL a\n KERNEL k\n APPEND initrd=a,,b\n", "DEFAULT a\nLABEL a\n KERNEL k\n INITRD\n"):
        try:
            got = boot(text)
        except planmod.PlanError as e:
            assert "empty file" in str(e), "boot(%r) = error %r, want 'empty file'" % (text, str(e))
        else:
            assert False, "boot(%r) = %r, want an error" % (text, got)


def test_allowoptions_0():
    # ldlinux.c:load_kernel truncates the options of a kernel that is no label
    # (typed or DEFAULT's); it keeps those typed after a label. menu.c32
    # (UI menu.c32) with ALLOWOPTIONS 0 offers no editing at all.
    labels = "LABEL a\n KERNEL k\n APPEND own=1\n"
    cases = [
        ("ALLOWOPTIONS 0\n" + labels, "vmlinuz typed=1", (None, "vmlinuz", [], "BOOT_IMAGE=vmlinuz")),
        ("ALLOWOPTIONS 0\nDEFAULT vmlinuz root=x\n", None, (None, "vmlinuz", [], "BOOT_IMAGE=vmlinuz")),
        ("ALLOWOPTIONS 0\n" + labels, "a typed=1", ("a", "k", [], "BOOT_IMAGE=k own=1 typed=1")),
        ("ALLOWOPTIONS 0\nDEFAULT a from-default\n" + labels, None,
         ("a", "k", [], "BOOT_IMAGE=k own=1 from-default")),
        ("ALLOWOPTIONS 0\nUI menu.c32\n" + labels, "a typed=1", ("a", "k", [], "BOOT_IMAGE=k own=1")),
        ("ALLOWOPTIONS 1\nUI menu.c32\n" + labels, "a typed=1", ("a", "k", [], "BOOT_IMAGE=k own=1 typed=1")),
    ]
    check_boots(cases)


def test_global_append_when_the_label_is_recorded():
    # readconfig.c:record(m, &ld, append) passes the global APPEND in force when
    # the label is recorded (at the next LABEL, MENU BEGIN/END or end of input),
    # not the file's last one; ld.ipappend = SysAppends at LABEL.
    text = ("APPEND first=1\nIPAPPEND 2\nMENU BEGIN\nLABEL a\n KERNEL k\nMENU END\n"
            "APPEND second=1\nIPAPPEND 0\nLABEL b\n KERNEL k\n")
    cases = [
        (text, "a", ("a", "k", [], "BOOT_IMAGE=k first=1 " + BOOTIF)),
        (text, "b", ("b", "k", [], "BOOT_IMAGE=k second=1")),
    ]
    check_boots(cases)


def test_sysappends_survive_a_config_hop():
    # SysAppends lives in core/sysappend.c: execute.c's CONFIG restart of
    # ldlinux.c32 keeps it, so the new file's labels start with it.
    files = {"two.cfg": "DEFAULT b\nLABEL b\n KERNEL k\n"}
    got = boot("DEFAULT a\nIPAPPEND 2\nLABEL a\n CONFIG two.cfg\n", files=files)
    # The CONFIG label's own line carries BOOTIF=..., whose first word becomes
    # the directory (execute.c): the next file's names are under it.
    want = ("b", "BOOTIF=01-52-54-00-12-34-56k", [], "BOOT_IMAGE=k " + BOOTIF)
    check(got, want, "boot(IPAPPEND 2 + CONFIG two.cfg)")
