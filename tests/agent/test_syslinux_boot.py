"""What boots: one table drives both faces, `plan` (agent.plan.make_plan) and
the boot console (agent.boot.choose with a fake console, through make_plan), and they
must agree. Each case cites the Syslinux 6.04 function that decides it.
Runs under CPython and MicroPython."""

from agent import boot, plan as planmod
from tests.agent.memfetch import MemFetcher

ENV = {"mac": "52:54:00:12:34:56", "ip": "192.0.2.10", "netmask": "255.255.255.0",
       "gateway": "192.0.2.1", "server_ip": "192.0.2.1", "server": "192.0.2.1"}

L3 = "LABEL a\n KERNEL ka\nLABEL b\n KERNEL kb\nLABEL c\n KERNEL kc\n"
NONE = "nothing boots"

# (name, config, typed at the first prompt or None, want (label, kernel, initrds) or NONE)
CASES = [
    # ldlinux.c:main: PROMPT 0 -> ldlinux_auto_boot at once; TIMEOUT/ONTIMEOUT unused.
    ("prompt0-default", "DEFAULT b\nTIMEOUT 50\nONTIMEOUT c\n" + L3, None, ("b", "kb", [])),
    # ldlinux.c:enter_cmdline: the prompt times out -> ONTIMEOUT.
    ("prompt1-ontimeout", "PROMPT 1\nDEFAULT b\nTIMEOUT 50\nONTIMEOUT c\n" + L3, None, ("c", "kc", [])),
    # ldlinux.c:enter_cmdline: timeout without ONTIMEOUT -> ldlinux_auto_boot.
    ("prompt1-timeout-default", "PROMPT 1\nDEFAULT b\nTIMEOUT 50\n" + L3, None, ("b", "kb", [])),
    # cli.c:edit_cmdline: no TIMEOUT waits for ever; Enter -> ldlinux_auto_boot.
    ("prompt1-no-timeout-enter", "PROMPT 1\nDEFAULT b\nONTIMEOUT c\n" + L3, None, ("b", "kb", [])),
    # cli.c:mygetkey_timeout: TOTALTIMEOUT also times the prompt out -> ONTIMEOUT.
    ("totaltimeout", "PROMPT 1\nDEFAULT b\nTOTALTIMEOUT 30\nONTIMEOUT c\n" + L3, None, ("c", "kc", [])),
    # ldlinux.c:ldlinux_auto_boot: no DEFAULT, no UI: a message and the prompt.
    ("no-default", L3, None, NONE),
    ("no-default-prompt1-timeout", "PROMPT 1\nTIMEOUT 10\n" + L3, None, NONE),
    # ... and a timed-out prompt runs ONTIMEOUT (enter_cmdline).
    ("no-default-ontimeout", "TIMEOUT 10\nONTIMEOUT b\n" + L3, None, ("b", "kb", [])),
    # ldlinux.c:load_kernel: a word that names no label is a kernel file.
    ("default-kernel-file", "DEFAULT images/vmlinuz\n" + L3, None, (None, "images/vmlinuz", [])),
    # readconfig.c:find_label compares case-sensitively.
    ("label-case", "DEFAULT B\n" + L3, None, (None, "B", [])),
    # readconfig.c: a label and its kernel are the same word until KERNEL.
    ("label-no-kernel", "DEFAULT vmlinuz\nLABEL vmlinuz\n APPEND x=1\n", None, ("vmlinuz", "vmlinuz", [])),
    # ldlinux.c:parse_image_type is case-sensitive; execute.c loads FDIMAGE as Linux.
    ("kernel-IMG", "DEFAULT k\nLABEL k\n KERNEL KERNEL.IMG\n", None, ("k", "KERNEL.IMG", [])),
    ("kernel-img", "DEFAULT k\nLABEL k\n KERNEL images/kernel.img\n INITRD images/initrd.img\n", None,
     ("k", "images/kernel.img", ["images/initrd.img"])),
    # readconfig.c: INITRD outside a LABEL is ignored.
    ("global-initrd", "INITRD i.gz\nDEFAULT vmlinuz\n", None, (None, "vmlinuz", [])),
    # readconfig.c:find_label: the first of two labels of one name.
    ("duplicate-label", "DEFAULT a\nLABEL a\n KERNEL k1\nLABEL a\n KERNEL k2\n", None, ("a", "k1", [])),
    # readconfig.c:looking_at: KERNEL= is no keyword, so the label boots its own name.
    ("looking-at", "DEFAULT a\nLABEL a\n KERNEL=k\n", None, ("a", "a", [])),
    # ldlinux.c:main with a held Shift key (typed): the prompt even with PROMPT 0.
    ("typed-prompt0", "DEFAULT b\n" + L3, "c", ("c", "kc", [])),
    ("typed-kernel", "DEFAULT b\n" + L3, "other/vmlinuz", (None, "other/vmlinuz", [])),
    # readconfig.c:looking_at: IMPLICIT 0 and a word that is no label (load_kernel: bad_implicit).
    ("implicit0", "IMPLICIT 0\nDEFAULT nosuch\n" + L3, None, NONE),
    # ldlinux.c:enter_cmdline with NOESCAPE and no DEFAULT: kaboom().
    ("noescape-no-default", "NOESCAPE 1\nPROMPT 1\n" + L3, None, NONE),
    # menumain.c:run_menu: the menu starts on the last MENU DEFAULT of its menu.
    ("ui-menu-default", "UI menu.c32\nTIMEOUT 10\n" + L3.replace("KERNEL kb\n", "KERNEL kb\n MENU DEFAULT\n")
     + "LABEL d\n KERNEL kd\n MENU DEFAULT\n", None, ("d", "kd", [])),
    # readconfig.c:parse_configs: with a UI line, DEFAULT's label is the start entry.
    ("ui-default-label", "UI menu.c32\nDEFAULT c\nTIMEOUT 10\n"
     + L3.replace("KERNEL kb\n", "KERNEL kb\n MENU DEFAULT\n"), None, ("c", "kc", [])),
    # ... and a DEFAULT naming no label leaves the first entry (defentry 0).
    ("ui-default-nolabel", "UI menu.c32\nDEFAULT nosuch\nTIMEOUT 10\n" + L3, None, ("a", "ka", [])),
    # ... and without a UI line menu.c32 ignores DEFAULT (has_ui).
    ("default-menu-c32", "DEFAULT menu.c32\nTIMEOUT 10\n" + L3.replace("KERNEL kc\n", "KERNEL kc\n MENU DEFAULT\n"),
     None, ("c", "kc", [])),
    # readconfig.c:record: a hidden label's MENU DEFAULT goes to the hidden menu.
    ("hidden-default", "UI menu.c32\nTIMEOUT 10\n" + L3.replace("KERNEL kc\n", "KERNEL kc\n MENU HIDE\n MENU DEFAULT\n"),
     None, ("a", "ka", [])),
    # menumain.c:run_menu: the menu's TIMEOUT runs out -> its ONTIMEOUT.
    ("ui-ontimeout", "UI vesamenu.c32\nTIMEOUT 10\nONTIMEOUT b\n" + L3, None, ("b", "kb", [])),
    # menu.c32 readconfig.c: TIMEOUT/ONTIMEOUT after MENU BEGIN are the submenu's.
    ("submenu-own-timeout", "UI menu.c32\nLABEL a\n KERNEL ka\nMENU BEGIN sub\nTIMEOUT 10\nONTIMEOUT b\n"
     "LABEL b\n KERNEL kb\n MENU DEFAULT\nMENU END\n", None, ("a", "ka", [])),
    # Debian's shape: a submenu's MENU DEFAULT is that submenu's; the root starts on its first entry.
    ("debian-shape", "PROMPT 0\nTIMEOUT 0\nINCLUDE menu.cfg\nDEFAULT boot-screens/vesamenu.c32\n", None,
     ("install", "linux", [])),
    # readconfig.c: MENU START; menumain.c starts there.
    ("menu-start", "UI menu.c32\nTIMEOUT 10\nLABEL a\n KERNEL ka\nMENU BEGIN sub\nMENU START\nLABEL b\n KERNEL kb\n"
     "LABEL c\n KERNEL kc\n MENU DEFAULT\nMENU END\n", None, ("c", "kc", [])),
    # menumain.c:run_menu: a default entry that is a submenu gives no command: the
    # menu leaves for the prompt, whose timeout runs the UI again: nothing boots.
    ("default-is-submenu", "UI menu.c32\nTIMEOUT 10\nMENU BEGIN sub\nLABEL b\n KERNEL kb\nMENU END\n", None, NONE),
    # readconfig.c: MENU GOTO as MENU DEFAULT (a GOTO entry counts), same.
    ("default-is-goto", "UI menu.c32\nTIMEOUT 10\nLABEL a\n KERNEL ka\nLABEL go\n MENU GOTO sub\n MENU DEFAULT\n"
     "MENU BEGIN sub\nLABEL b\n KERNEL kb\nMENU END\n", None, NONE),
    # A MENU EXIT/QUIT entry boots nothing, typed or not (record: no cmdline).
    ("typed-exit-entry", "UI menu.c32\nMENU BEGIN sub\nLABEL back\n MENU EXIT\nLABEL b\n KERNEL kb\nMENU END\n",
     "back", NONE),
    # ldlinux.c:load_kernel: a label whose KERNEL is vesamenu.c32 runs the menu.
    # (An ONTIMEOUT naming it would loop: menu.c32 takes that ONTIMEOUT as its own.)
    ("label-runs-menu", "PROMPT 1\nDEFAULT b\nLABEL menu\n KERNEL vesamenu.c32\n" + L3
     .replace("KERNEL ka\n", "KERNEL ka\n MENU DEFAULT\n"), "menu", ("a", "ka", [])),
    # menumain.c:run_menu: MENU SHIFTKEY without Shift: the default at once.
    ("shiftkey", "UI menu.c32\nMENU SHIFTKEY\n" + L3.replace("KERNEL kb\n", "KERNEL kb\n MENU DEFAULT\n"),
     None, ("b", "kb", [])),
    # The typed number picks from the console's numbered list (an s390 addition).
    ("typed-number", "UI menu.c32\nTIMEOUT 10\n" + L3, "2", ("b", "kb", [])),
    # A CONFIG entry restarts with the other file (execute.c), whose DEFAULT boots.
    ("config-hop", "DEFAULT go\nLABEL go\n CONFIG other.cfg\n", None, ("there", "k2", [])),
]

FILES = {
    "menu.cfg": "MENU TITLE Installer\nINCLUDE txt.cfg\nMENU BEGIN dark\n MENU LABEL Dark\n INCLUDE drk.cfg\n"
                "MENU END\nLABEL help\n CONFIG prompt.cfg\n",
    "txt.cfg": "LABEL install\n MENU LABEL ^Install\n KERNEL linux\n",
    "drk.cfg": "LABEL installdark\nDEFAULT installdark\n MENU DEFAULT\n KERNEL linux\n",
    "other.cfg": "DEFAULT there\nLABEL there\n KERNEL k2\n",
    # kernels named without a label (ldlinux.c get_extension, then the name as written)
    "images/vmlinuz": "kernel",
    "vmlinuz": "kernel",
    "other/vmlinuz": "kernel",
    "B": "kernel",
}




class Stuck(Exception):
    pass


class FakeConsole:
    """Records output; answers a prompt with the typed line first, then as
    nobody at the console: a countdown times out, a prompt without one gets
    Enter (what plan reports for it)."""

    def __init__(self, typed=None, lines=None):
        self.lines = list(lines) if lines is not None else ([typed] if typed is not None else [])
        self.out = []
        self.waits = []
        self.debug_on = False

    def raw(self, text):
        self.out.append(text)

    def line(self, text):
        self.out.append(text + "\n")

    def say(self, msg):
        self.out.append(msg + "\n")

    def error(self, msg):
        self.out.append("ERROR: " + msg + "\n")

    def debug(self, msg):
        pass

    def wait_line(self, seconds):
        self.waits.append(seconds)
        if len(self.waits) > 12:
            raise Stuck("still at the prompt after %d waits" % len(self.waits))
        if self.lines:
            return self.lines.pop(0)
        return None if seconds and seconds > 0 else ""

    def text(self):
        return "".join(self.out)


def files_for(config):
    files = dict(FILES)
    files["pxelinux.cfg/default"] = config
    return MemFetcher(files)


def by_plan(config, typed):
    try:
        p = planmod.make_plan(files_for(config), dict(ENV), typed)
    except planmod.PlanError:
        return NONE
    d = p.as_dict()
    return (d["label"], d["kernel"], d["initrd"])


def by_console(config, typed, con=None):
    fetcher = files_for(config)
    con = con or FakeConsole(typed)
    env = dict(ENV)
    first = [typed is not None]  # a line typed at the first prompt, as plan's label

    def choose(plan):
        shift, first[0] = first[0], False
        return boot.choose(con, plan, fetcher, shift)
    try:
        p = planmod.make_plan(fetcher, env, None, None, choose)
    except (Stuck, boot.BootFailure, planmod.PlanError):
        return NONE
    d = p.as_dict()
    return (d["label"], d["kernel"], d["initrd"])


def test_plan_decides_as_syslinux():
    for name, config, typed, want in CASES:
        got = by_plan(config, typed)
        assert got == want, "plan(%s, typed=%r) = %r, want %r" % (name, typed, got, want)


def test_console_decides_as_plan():
    for name, config, typed, want in CASES:
        got = by_console(config, typed)
        assert got == want, "console(%s, typed=%r) = %r, want %r" % (name, typed, got, want)


def test_console_output():
    # ldlinux.c:ldlinux_auto_boot prints this line, then enter_cmdline's prompt.
    cases = [
        ("TIMEOUT 10\nONTIMEOUT b\n" + L3, "No DEFAULT or UI configuration directive found!\n"),
        ("PROMPT 1\nTIMEOUT 20\nDEFAULT b\n" + L3, "Booting b in 2 s"),
        ("UI menu.c32\nMENU TITLE T\nTIMEOUT 10\nMENU BEGIN s\nMENU TITLE Sub\nLABEL x\n KERNEL kx\nMENU END\n" + L3,
         "  Sub:\n   1) x\n"),
    ]
    for config, want in cases:
        con = FakeConsole()
        by_console(config, None, con)
        assert want in con.text(), "console(%r) printed %r, want %r in it" % (config, con.text(), want)


def test_empty_line_stops_the_countdown():
    # s390 deviation (docs/reference.md): an empty line is the key press that
    # stops cli.c's first-key countdown; the next empty line is Enter, which
    # ldlinux.c:enter_cmdline answers with ldlinux_auto_boot (DEFAULT).
    config = "PROMPT 1\nTIMEOUT 50\nDEFAULT b\nONTIMEOUT c\n" + L3
    cases = [
        ([None], ("c", "kc", []), [5.0]),
        (["", ""], ("b", "kb", []), [5.0, 0]),
        (["", "a"], ("a", "ka", []), [5.0, 0]),
    ]
    for lines, want, waits in cases:
        con = FakeConsole(lines=lines)
        got = by_console(config, None, con)
        got_waits = con.waits[:len(waits)]
        assert (got, got_waits) == (want, waits), "console(lines=%r) = %r, want %r" % (
            lines, (got, got_waits), (want, waits))
