"""PXELINUX directives and selection (runs under CPython and MicroPython)."""

from agent import pxeconfig as P
from agent.fetch import LocalFetcher, NotFound
from agent import plan as planmod
from tests.agent.memfetch import MemFetcher

ENV = {"mac": "52:54:00:12:34:56", "ip": "192.0.2.10", "netmask": "255.255.255.0",
       "gateway": "192.0.2.1", "server_ip": "192.0.2.1", "server": "192.0.2.1",
       "uuid": "2a9f0c5e-1b3d-4c2e-8f00-0123456789ab"}


def boot(text, label=None, files=None):
    """(label, kernel, initrd list, cmdline) that a config boots, via plan."""
    files = dict(files or {})
    files["pxelinux.cfg/default"] = text
    # Kernels named without a label are on the server (get_extension probes
    # NAME.c32 ... NAME.0, then loads NAME; a name on no file fails to load).
    for name in ("vmlinuz", "images/vmlinuz"):
        files.setdefault(name, "kernel")


    p = planmod.make_plan(MemFetcher(files), dict(ENV), label)
    d = p.as_dict()
    return d["label"], d["kernel"], d["initrd"], d["cmdline"]


def check_boot(text, want, label=None, files=None):
    got = boot(text, label, files)
    assert got == want, "boot(%r, label=%r) = %r, want %r" % (text, label, got, want)


def test_default_and_append_rules():
    check_boot("DEFAULT a\nAPPEND global=1\nLABEL a\n KERNEL k\nLABEL b\n KERNEL kb\n APPEND own=1\n",
               ("a", "k", [], "BOOT_IMAGE=k global=1"))
    check_boot("APPEND global=1\nLABEL a\n KERNEL k\nLABEL b\n KERNEL kb\n APPEND own=1\n",
               ("b", "kb", [], "BOOT_IMAGE=kb own=1"), label="b")
    check_boot("DEFAULT a\nAPPEND global=1\nLABEL a\n KERNEL k\n APPEND -\n", ("a", "k", [], "BOOT_IMAGE=k"))


def test_initrd_directive_and_append():
    check_boot("DEFAULT a\nLABEL a\n KERNEL k\n INITRD i1,i2\n APPEND quiet\n",
               ("a", "k", ["i1", "i2"], "BOOT_IMAGE=k quiet initrd=i1,i2"))
    # readconfig.c:record puts " initrd=<INITRD>" after APPEND; kernel.c's strstr
    # takes the first initrd= on the line, so APPEND's wins, INITRD's stays on it.
    check_boot("DEFAULT a\nLABEL a\n KERNEL k\n INITRD ignored\n APPEND initrd=x,y quiet initrd=z\n",
               ("a", "k", ["x", "y"], "BOOT_IMAGE=k initrd=x,y quiet initrd=z initrd=ignored"))


def test_ipappend_bits_and_scope():
    # A global value (before any LABEL) is what later labels start with; a
    # label's own replaces it.
    cfg = "DEFAULT a\nIPAPPEND 1\nLABEL a\n KERNEL k\nLABEL b\n KERNEL k\n IPAPPEND 6\nLABEL c\n KERNEL k\n SYSAPPEND 2\n"
    check_boot(cfg, ("a", "k", [], "BOOT_IMAGE=k ip=192.0.2.10:192.0.2.1:192.0.2.1:255.255.255.0"))
    check_boot(cfg, ("b", "k", [], "BOOT_IMAGE=k BOOTIF=01-52-54-00-12-34-56 "
                                   "SYSUUID=2a9f0c5e-1b3d-4c2e-8f00-0123456789ab"), label="b")
    check_boot(cfg, ("c", "k", [], "BOOT_IMAGE=k BOOTIF=01-52-54-00-12-34-56"), label="c")


def test_selection_order():
    base = "LABEL a\n KERNEL ka\nLABEL b\n KERNEL kb\n MENU DEFAULT\nLABEL c\n KERNEL kc\n"
    check_boot("UI menu.c32\n" + base, ("b", "kb", [], "BOOT_IMAGE=kb"))
    check_boot("DEFAULT menu.c32\n" + base, ("b", "kb", [], "BOOT_IMAGE=kb"))
    check_boot("DEFAULT c\n" + base, ("c", "kc", [], "BOOT_IMAGE=kc"))
    # ldlinux.c:main: without PROMPT 1, DEFAULT boots at once; ONTIMEOUT is only
    # for a boot: prompt that times out (ldlinux.c:enter_cmdline).
    check_boot("DEFAULT c\nONTIMEOUT a extra\n" + base, ("c", "kc", [], "BOOT_IMAGE=kc"))
    check_boot("PROMPT 1\nTIMEOUT 10\nDEFAULT c\nONTIMEOUT a extra\n" + base, ("a", "ka", [], "BOOT_IMAGE=ka extra"))


def test_default_naming_no_label_is_a_kernel():
    # ldlinux.c:load_kernel -> execute.c:execute -> kernel.c:new_linux_kernel: a
    # kernel that is no label gets only its own options; the global APPEND is unused.
    check_boot("DEFAULT images/vmlinuz root=/dev/ram0\nAPPEND console=ttysclp0\n",
               (None, "images/vmlinuz", [], "BOOT_IMAGE=images/vmlinuz root=/dev/ram0"))


def test_typed_label_number_and_options():
    from agent import menu
    cfg = P.parse("LABEL a\n KERNEL ka\nLABEL hidden\n MENU HIDE\n KERNEL kh\nLABEL b\n KERNEL kb\n")
    cases = [("2", "b"), ("2 quiet", "b quiet"), ("a x=1", "a x=1"), ("", None), ("hidden", "hidden")]
    for typed, want in cases:
        got = menu.choice_command(cfg, typed)
        assert got == want, "choice_command(%r) = %r, want %r" % (typed, got, want)
    assert [l.name for l in cfg.visible_labels()] == ["a", "b"]


def test_case_comments_crlf_and_text_blocks():
    text = ("# comment\r\n  dEfAuLt  x\r\n\r\nlabel x\r\n\tkernel K\r\n  TEXT HELP\r\n"
            "  KERNEL not-this\r\n  ENDTEXT\r\n  append a=1\r\n")
    check_boot(text, ("x", "K", [], "BOOT_IMAGE=K a=1"))


def test_include_relative_nested_and_loop():
    files = {"inc/one.cfg": "INCLUDE inc/two.cfg\nLABEL one\n KERNEL k1\n",
             "inc/two.cfg": "LABEL two\n KERNEL k2\nMENU INCLUDE inc/one.cfg\n"}
    check_boot("INCLUDE inc/one.cfg\nDEFAULT one\n", ("one", "k1", [], "BOOT_IMAGE=k1"), files=files)
    cfg = P.parse("INCLUDE inc/one.cfg\n", "default", lambda n: files.get(n))
    assert [l.name for l in cfg.labels] == ["two", "one"]
    assert [n[2] for n in cfg.notes] == [P.N_INCLUDE_LOOP] and "INCLUDE loop" in cfg.notes[0][3], cfg.notes


def test_include_depth_limit():
    files = {}
    for i in range(40):
        files["d%d" % i] = "INCLUDE d%d\nLABEL l%d\n KERNEL k\n" % (i + 1, i)
    cfg = P.parse("INCLUDE d0\n", "default", lambda n: files.get(n))
    assert len(cfg.labels) == P.MAX_INCLUDE_DEPTH
    assert any(n[2] == P.N_INCLUDE_DEPTH and "deeper than 16" in n[3] for n in cfg.notes), cfg.notes


def test_x86_only_cannot_boot_localboot_and_chain_boot_the_disk():
    for line, want in (("KERNEL vesamenu2.c32", "COM32 module"), ("KERNEL pxelinux.0", "PXE program"),
                       ("KERNEL memdisk.bin", "boot sector"), ("COM32 hdt.c32", "COM32 module"),
                       ("BOOT bootsect.bin", "boot sector"), ("PXE other.0", "PXE program")):
        try:
            boot("DEFAULT x\nLABEL x\n %s\n" % line)
        except planmod.PlanError as e:
            assert want in str(e) and "cannot boot on s390" in str(e), str(e)
        else:
            assert False, "%s booted" % line
    # execute.c: LOCALBOOT and chain.c32 hand the boot to the local disk; on
    # s390 that is local boot (agent/localboot.py), kernel None.
    cases = [("LOCALBOOT 0", "0"), ("LOCALBOOT -1", "-1"), ("LOCALBOOT", "0"), ("COM32 chain.c32\n APPEND hd0", "hd0"),
             ("KERNEL chain.c32\n APPEND hd1 2", "hd1 2"), ("KERNEL boot/chain.c32", "chain.c32")]
    for line, want in cases:
        files = {"pxelinux.cfg/default": "DEFAULT disk\nLABEL disk\n %s\n" % line}
        d = planmod.make_plan(MemFetcher(files), dict(ENV)).as_dict()
        got = (d.get("localboot"), d["kernel"], d["label"])
        assert got == (want, None, "disk"), "%r: (localboot, kernel, label) = %r, want %r" % (
            line, got, (want, None, "disk"))
    for text in ("", "# comment only\n\n  # indented\n", "#boot\n"):
        d = planmod.make_plan(MemFetcher({"pxelinux.cfg/default": text}), dict(ENV)).as_dict()
        assert d.get("localboot") == "empty config" and d["kernel"] is None, (text, d)


def test_onerror_used_when_default_cannot_boot():
    check_boot("DEFAULT broken\nONERROR good\nLABEL broken\n KERNEL pxelinux.0\nLABEL good\n KERNEL k\n",
               ("good", "k", [], "BOOT_IMAGE=k"))


def test_unknown_directives_and_bad_numbers_are_notes():
    cfg = P.parse("FROBNICATE 1\nTIMEOUT soon\nMENU SPARKLE\nMENU COLOR title 1;36 #ffffffff\nLABEL a\n KERNEL k\n")
    notes = " | ".join(P.note_text(n) for n in cfg.notes)
    # readconfig.c reads numbers with atoi: junk is 0 (noted here).
    assert "unknown directive FROBNICATE" in notes and "TIMEOUT 'soon' is read as 0" in notes
    assert "MENU SPARKLE" in notes and "COLOR" not in notes
    assert cfg.timeout == 0


def test_config_hop():
    files = {"other.cfg": "DEFAULT there\nLABEL there\n KERNEL k2\n APPEND hop=1\n"}
    check_boot("DEFAULT go\nLABEL go\n CONFIG other.cfg\n", ("there", "k2", [], "BOOT_IMAGE=k2 hop=1"), files=files)


def test_non_utf8_bytes():
    cfg = P.parse(b"MENU TITLE caf\xe9\nLABEL a\n KERNEL k\n")
    assert cfg.title == "caf\xe9" and cfg.labels[0].kernel == "k"


def test_local_fetcher(tmp=None):
    import os
    root = "/tmp/agent-test-local"
    try:
        os.mkdir(root)
    except OSError:
        pass
    with open(root + "/x", "wb") as f:
        f.write(b"hello")
    f = LocalFetcher(root)
    assert f.read("tftp://any/x") == b"hello"
    try:
        f.read("tftp://any/missing")
    except NotFound:
        pass
    else:
        assert False
    os.remove(root + "/x")


def test_notes_and_labels_say_where():
    # Issue #22: notes are (file, line, kind, text), labels know their LABEL line,
    # so lint reports them without reading the files again.
    files = {"inc.cfg": b"LABEL b\n KERNEL kb\nBOGUS 1\n"}
    cfg = P.parse("# top\nLABEL a\n KERNEL ka\nINCLUDE inc.cfg\nLABEL a\nTIMEOUT 5x\n", "top.cfg",
                  lambda name: files.get(name), key=lambda n: n)
    got = [(lab.name, lab.where) for lab in cfg.labels]
    assert got == [("a", ("top.cfg", 2)), ("b", ("inc.cfg", 1)), ("a", ("top.cfg", 5))], got
    got = [n[:3] for n in cfg.notes]
    assert got == [("inc.cfg", 3, P.N_UNKNOWN), ("top.cfg", 5, P.N_LABEL_AGAIN), ("top.cfg", 6, P.N_NUMBER)], got
    assert P.note_text(cfg.notes[0]) == "inc.cfg:3: unknown directive BOGUS: ignored", cfg.notes[0]
