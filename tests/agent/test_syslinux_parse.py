"""The parser as Syslinux 6.04's readconfig.c reads a file, and the limits on
the work of one parse. Each case cites the Syslinux function that decides
it. Runs under CPython and MicroPython."""

from agent import cmdline as C
from agent import pxeconfig as P
from agent.compat import MICROPYTHON, now_ms


def labels(cfg):
    return [(lab.name, lab.kernel) for lab in cfg.labels]


def lookup(cfg, name):
    lab = cfg.label(name)
    return None if lab is None else (lab.name, lab.kernel, lab.ktype, lab.action)


def check(cases, fn):
    for text, want in cases:
        got = fn(P.parse(text))
        assert got == want, "parse(%r) = %r, want %r" % (text, got, want)


def test_lines_and_keywords():
    check([
        # readconfig.c:parse_config_file: a line is cut at its first CR (not split there).
        ("LABEL a\rKERNEL k\nLABEL b\n", [("a", "a"), ("b", "b")]),
        ("LABEL a\r\n KERNEL k\r\n", [("a", "k")]),
        # fgets gives a C string: a NUL ends the line.
        ("LABEL a\x00b\n KERNEL k\x00x\n", [("a", "k")]),
        # looking_at: the keyword must be followed by a byte <= ' '.
        ("LABEL a\n KERNEL=k\n", [("a", "a")]),
        ("LABEL a\n KERNELk\n", [("a", "a")]),
        ("LABEL\ta\n\tKERNEL\tk\n", [("a", "k")]),
        ("label a\n kErNeL k\n", [("a", "k")]),
        # __refdup_word: the label's name ends at any byte <= ' '.
        ("LABEL a\x01b\n", [("a", "a")]),
        # readconfig.c: "LABEL" sets ld.kernel to the label's word too.
        ("LABEL vmlinuz\n APPEND x\n", [("vmlinuz", "vmlinuz")]),
        # is_kernel_type: the last KERNEL-like line wins.
        ("LABEL a\n KERNEL k1\n LINUX k2\n", [("a", "k2")]),
        # record: a LABEL's lines end at the next LABEL or MENU BEGIN.
        ("LABEL a\nMENU BEGIN\n KERNEL k\nMENU END\n", [("a", "a")]),
    ], labels)


def test_label_lookup_is_exact():
    check([
        # find_label: strncmp up to the first space, case-sensitive; the first wins.
        ("LABEL Linux\n KERNEL k\n", None),
        ("LABEL linux\n KERNEL k1\nLABEL linux\n KERNEL k2\n", ("linux", "k1", P.LINUX, None)),
        # MENU DISABLE: record() drops the label's name.
        ("LABEL linux\n KERNEL k\n MENU DISABLE\n", None),
        # MENU EXIT outside a submenu is ignored (m->parent is NULL): it boots.
        ("LABEL linux\n KERNEL k\n MENU EXIT\n", ("linux", "k", P.LINUX, None)),
        ("MENU BEGIN s\nLABEL linux\n MENU EXIT\nMENU END\n", ("linux", "linux", P.LINUX, "exit")),
        # resolve_gotos: a MENU GOTO to no menu is disabled.
        ("LABEL linux\n MENU GOTO nosuch\n", ("linux", "linux", P.LINUX, "disabled")),
        ("LABEL linux\n MENU QUIT\n", ("linux", "linux", P.LINUX, "quit")),
    ], lambda cfg: lookup(cfg, "linux"))


def test_kernel_types():
    # ldlinux.c:parse_image_type, case-sensitive; execute.c runs FDIMAGE as Linux.
    cases = [
        ("KERNEL vmlinuz", P.LINUX), ("KERNEL kernel.img", P.LINUX), ("KERNEL KERNEL.IMG", P.LINUX),
        ("FDIMAGE floppy.img", P.LINUX), ("KERNEL x.com", P.LINUX), ("KERNEL x.cbt", P.LINUX),
        ("KERNEL menu.c32", P.COM32), ("KERNEL MENU.C32", P.LINUX), ("KERNEL pxelinux.0", "PXE program"),
        ("KERNEL mbr.bin", "boot sector"), ("KERNEL x.bs", "boot sector"), ("KERNEL x.bss", "boot sector"),
        ("COMBOOT x", "COMBOOT program"), ("COM32 x", P.COM32), ("CONFIG x.cfg", P.CONFIG),
        ("LOCALBOOT 0", P.LOCALBOOT), ("LINUX x.c32", P.LINUX),
    ]
    for line, want in cases:
        got = P.parse("LABEL a\n %s\n" % line).label("a").ktype
        assert got == want, "ktype(%r) = %r, want %r" % (line, got, want)
    # A label with no KERNEL: its own name's extension.
    got = P.parse("LABEL menu.c32\n").label("menu.c32").ktype
    assert got == P.COM32, "ktype(LABEL menu.c32) = %r, want %r" % (got, P.COM32)


def test_globals():
    cases = [
        # readconfig.c: "ui" sets defaultlevel LEVEL_UI; DEFAULT after it keeps UI's command.
        ("UI menu.c32\nDEFAULT a\n", ("level", "default_cmd"), (P.LEVEL_UI, "menu.c32")),
        ("DEFAULT a\nDEFAULT b\n", ("level", "default_cmd"), (P.LEVEL_DEFAULT, "b")),
        # atoi: junk reads as 0, a leading number counts.
        ("PROMPT 1x\nTIMEOUT abc\nIMPLICIT no\n", ("prompt", "timeout", "implicit"), (1, 0, 0)),
        ("TIMEOUT 50\nTOTALTIMEOUT 10\n", ("timeout", "totaltimeout"), (50, 10)),
        ("ONTIMEOUT\n", ("ontimeout",), (None,)),
    ]
    for text, attrs, want in cases:
        cfg = P.parse(text)
        got = tuple(getattr(cfg, a) for a in attrs)
        assert got == want, "parse(%r).%s = %r, want %r" % (text, attrs, got, want)
    # INITRD outside a LABEL: "Ignore" (readconfig.c); the label after it has none.
    cfg = P.parse("INITRD x.gz\nDEFAULT a\nLABEL a\n KERNEL k\n")
    e = C.resolve(cfg, "a")
    assert (e.initrd, C.command_line(e, {})) == ([], "BOOT_IMAGE=k"), (e.initrd, C.command_line(e, {}))


def test_menus():
    text = ("TIMEOUT 30\nONTIMEOUT a\nLABEL a\n KERNEL ka\nMENU BEGIN sub\n MENU LABEL Sub\n MENU DEFAULT\n"
            " TIMEOUT 70\n LABEL b\n  KERNEL kb\n LABEL c\n  KERNEL kc\n  MENU DEFAULT\n LABEL h\n  KERNEL kh\n"
            "  MENU HIDE\n  MENU DEFAULT\nMENU END\nLABEL d\n KERNEL kd\n")
    cfg = P.parse(text)
    root, sub = cfg.root, cfg.menus[-1]
    got = (root.defentry, root.timeout, root.ontimeout, sub.label, sub.defentry, sub.timeout, sub.ontimeout,
           [lab.name for lab in cfg.hide.entries], cfg.timeout)
    # menu.c32 readconfig.c: MENU DEFAULT after MENU BEGIN makes the submenu its
    # parent's default; TIMEOUT/ONTIMEOUT are the current menu's, inherited at
    # new_menu; a hidden label goes to the hidden menu; ldlinux's TIMEOUT is the last.
    want = (1, 30, "a", "Sub", 1, 70, "a", ["h"], 70)
    assert got == want, "menus(%r) = %r, want %r" % (text, got, want)


def test_include_with_a_title_is_a_submenu():
    # menu.c32 readconfig.c (do_include with a title, MENU INCLUDE file title):
    # record, begin_submenu(title), the file, record, end_submenu.
    files = {"sub.cfg": "LABEL b\n KERNEL kb\n MENU DEFAULT\n"}
    for line in ("INCLUDE sub.cfg Sub menu", "MENU INCLUDE sub.cfg Sub menu"):
        text = "LABEL a\n KERNEL ka\n%s\nLABEL c\n KERNEL kc\n" % line
        cfg = P.parse(text, "default", lambda n: files.get(n))
        sub = cfg.menus[-1]
        got = ([getattr(e, "name", None) for e in cfg.root.entries], sub.label, [lab.name for lab in sub.entries],
               sub.defentry, cfg.root.defentry)
        want = (["a", None, "c"], "Sub menu", ["b"], 0, 0)
        assert got == want, "parse(%r) = %r, want %r" % (text, got, want)


def test_include_loops_by_resolved_name():
    # No limit in Syslinux (do_include recurses); here a file being read is not read again.
    for spelling in ("a.cfg", "./a.cfg", "x/../a.cfg", "//a.cfg"):
        files = {"a.cfg": "LABEL a\n KERNEL k\nINCLUDE %s\n" % spelling}
        cfg = P.parse("INCLUDE a.cfg\n", "default", lambda n: files.get(P.canonical(n)[1:]))
        got = (len(cfg.labels), len([n for n in cfg.notes if n[2] == P.N_INCLUDE_LOOP]))
        assert got == (1, 1), "include(%r) = %r, want %r" % (spelling, got, (1, 1))


def test_include_limits():
    # 100 files, each INCLUDEing all 100: a million reads without a limit.
    files = {}
    for i in range(100):
        files["f%d" % i] = "".join("INCLUDE f%d\n" % j for j in range(100) if j != i)
    start = now_ms()
    try:
        P.parse(files["f0"], "f0", lambda n: files.get(n))
    except P.ConfigError as e:
        msg = str(e)
    else:
        msg = None
    ms = now_ms() - start
    assert msg is not None and "MAX_INCLUDE_FILES" in msg, "parse(100x100 includes) = %r" % msg
    assert MICROPYTHON or ms < 2000, "parse(100x100 includes) took %d ms" % ms
    # MAX_PARSE_BYTES counts every file read in one parse.
    big = "# " + "x" * 1000 + "\n"
    files = {"big": big * 600}
    try:
        P.parse("INCLUDE big\nINCLUDE big\n", "default", lambda n: files.get(n))
    except P.ConfigError as e:
        msg = str(e)
    else:
        msg = None
    assert msg is not None and "MAX_PARSE_BYTES" in msg, "parse(2 x 600 KB) = %r" % msg


def test_many_labels_fast():
    n = 20000
    text = "DEFAULT l%d\n" % (n - 1) + "".join("LABEL l%d\n KERNEL k%d\n APPEND a=%d\n" % (i, i, i)
                                             for i in range(n))
    start = now_ms()
    cfg = P.parse(text)
    for i in range(0, n, 7):
        C.resolve(cfg, "l%d" % i)
    ms = now_ms() - start
    got = (len(cfg.labels), cfg.label("l%d" % (n - 1)).kernel)
    assert got == (n, "k%d" % (n - 1)), "parse(%d labels) = %r" % (n, got)
    assert MICROPYTHON or ms < 1000, "parse+resolve(%d labels) took %d ms, want < 1000" % (n, ms)
