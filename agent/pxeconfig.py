"""PXELINUX configuration files: parsing and label selection (pure logic).

What is parsed and how follows the code of Syslinux 6.04, not its manuals:
com32/elflink/ldlinux/readconfig.c (the parser behind the boot: prompt) and
com32/menu/readconfig.c (menu.c32 and vesamenu.c32, which read the same
files again). What boots is decided in agent/menu.py (ldlinux.c and
menumain.c); resolve() here turns a command into an Entry.

- a line ends at LF; it is cut at its first CR and its first NUL (fgets, then
  strchr); leading white space is skipped; a keyword is recognised only when
  a byte <= ' ' (or DEL) follows it (looking_at), in any case;
- DEFAULT, UI, LABEL, KERNEL, LINUX, BOOT, BSS, PXE, FDIMAGE, COMBOOT, COM32,
  CONFIG, LOCALBOOT, NONE, INITRD, APPEND (``APPEND -`` for none), IPAPPEND,
  SYSAPPEND, TIMEOUT, TOTALTIMEOUT, ONTIMEOUT, ONERROR, PROMPT, NOESCAPE,
  ALLOWOPTIONS, IMPLICIT, SAY, DISPLAY, INCLUDE, TEXT HELP ... ENDTEXT, and
  MENU LABEL / DEFAULT / HIDE / TITLE / INCLUDE / BEGIN / END / GOTO / EXIT /
  QUIT / START / SEPARATOR / DISABLE / SHIFTKEY / ONERROR / HELP; the
  cosmetic MENU keywords are accepted and not shown;
- a LABEL's directives end at the next LABEL, MENU BEGIN/END/SEPARATOR or
  the end of the files (readconfig.c:record); a LABEL without KERNEL boots
  the file named like the label; labels are found by exact, case-sensitive
  name, the first of a name wins (find_label);
- numbers are read as C's atoi/strtoul read them;
- anything else is ignored with a note. What is fatal is only work beyond the
  limits below (MAX_INCLUDE_FILES, MAX_PARSE_BYTES): a ConfigError.

File access goes through an injected ``load(name) -> text or None``; nothing
here touches the network or the disk. The text is split into lines lazily,
one line copied at a time, so a 1 MiB file is held once.
"""

from agent.compat import gc_pace, gc_pace_restore
from agent.text import ascii_lower, decode

# Limits on the work one parse does (docs/reference.md, "Limits").
MAX_INCLUDE_DEPTH = 16        # INCLUDE nesting; deeper files are skipped with a note
MAX_INCLUDE_FILES = 128       # INCLUDE/MENU INCLUDE files read in one parse; more is an error
MAX_PARSE_BYTES = 1 << 20     # config text read in one parse, all files together; more is an error
MAX_LINE = 4096               # readconfig.c's line buffer; longer lines are cut with a note
MAX_NOTES = 100               # notes kept per parse; one more says how many were not kept
MAX_LABELS = 20000            # LABELs (and MENU SEPARATORs) in one parse; more is an error
MAX_MENUS = 2000              # MENU BEGINs (and titled INCLUDEs) in one parse; more is an error
MAX_SAY = 100                 # SAY and DISPLAY lines kept per parse
GC_PARTS = 32                 # MicroPython collects after each 1/32 of the heap while parsing

# ldlinux.c's defaultlevel: what ldlinux_auto_boot loads.
LEVEL_DEFAULT = 1
LEVEL_UI = 2

# The kernel types and what each means here (readconfig.c kernel_types,
# execute.c image_boot_types and execute()).
LINUX = "linux"
COM32 = "COM32 module"
CONFIG = "config"
LOCALBOOT = "local boot"
BOOTABLE_TYPES = (LINUX,)
TYPE_KEYWORDS = {
    "kernel": None,              # by the file name's extension (ldlinux.c:parse_image_type)
    "linux": LINUX,
    "fdimage": LINUX,            # execute() hands IMAGE_TYPE_FDIMAGE to new_linux_kernel
    "boot": "boot sector",
    "bss": "boot sector",
    "pxe": "PXE program",
    "comboot": "COMBOOT program",  # not in image_boot_types: Syslinux cannot run it either
    "com32": COM32,
    "config": CONFIG,
    "localboot": LOCALBOOT,
    "none": "NONE entry",          # not in image_boot_types either
}
# ldlinux.c file_extensions, compared case-sensitively (strncmp). ".img" is
# IMAGE_TYPE_FDIMAGE, which execute() loads as a Linux kernel; ".com" and
# ".cbt" are not in 6.04's table at all.
EXTENSION_TYPES = (
    (".c32", COM32),
    (".img", LINUX),
    (".bss", "boot sector"),
    (".bin", "boot sector"),
    (".bs", "boot sector"),
    (".0", "PXE program"),
)
UI_MODULES = ("menu.c32", "vesamenu.c32")
ACTION_NAMES = {"goto": "MENU GOTO", "exit": "MENU EXIT", "quit": "MENU QUIT", "help": "MENU HELP",
                "disabled": "MENU DISABLE (or MENU GOTO to no menu)"}
# MENU keywords that only change how a graphical menu looks or is used.
MENU_COSMETIC = (
    "color", "colour", "msgcolor", "msgcolour", "background", "width", "margin",
    "passwordmargin", "rows", "tabmsgrow", "cmdlinerow", "endrow", "passwordrow",
    "timeoutrow", "helpmsgrow", "helpmsgendrow", "hiddenrow", "hshift", "vshift",
    "resolution", "font", "tabmsg", "autoboot", "notabmsg", "passprompt", "passwd",
    "master", "save", "nosave", "clear", "immediate", "noimmediate", "hidden",
    "hiddenkey", "indent",
)
COSMETIC = ("serial", "console", "font", "kbdmap", "path", "f1", "f2", "f3", "f4", "f5", "f6", "f7",
            "f8", "f9", "f10", "f11", "f12", "f0", "nohalt", "allowimplicit", "nocomplete",
            "pxeretry", "sendcookies")


# Every directive the parser acts on (docs/reference.md describes each).
DIRECTIVES = (
    "DEFAULT", "UI", "LABEL", "KERNEL", "LINUX", "BOOT", "BSS", "PXE", "FDIMAGE", "COMBOOT", "COM32",
    "CONFIG", "LOCALBOOT", "NONE", "INITRD", "APPEND", "IPAPPEND", "SYSAPPEND", "TIMEOUT", "TOTALTIMEOUT",
    "ONTIMEOUT", "ONERROR", "PROMPT", "NOESCAPE", "ALLOWOPTIONS", "IMPLICIT", "SAY", "DISPLAY",
    "INCLUDE", "TEXT", "ENDTEXT", "MENU LABEL", "MENU DEFAULT", "MENU HIDE", "MENU TITLE",
    "MENU INCLUDE", "MENU BEGIN", "MENU END", "MENU GOTO", "MENU EXIT", "MENU QUIT", "MENU START",
    "MENU SEPARATOR", "MENU DISABLE", "MENU SHIFTKEY", "MENU ONERROR", "MENU HELP",
)

# Every first word parse_file acts on (directive() and TEXT); others are noted.
KEYWORDS = set(["text", "label", "append", "menu", "initrd", "ipappend", "sysappend", "include", "default", "ui",
                "timeout", "totaltimeout", "ontimeout", "onerror", "prompt", "noescape", "allowoptions",
                "implicit", "say", "display"] + list(TYPE_KEYWORDS) + list(COSMETIC))


def word_end(s, i=0):
    """Where the word starting at i ends: at a byte <= ' ' or DEL (menu.h:my_isspace)."""
    n = len(s)
    while i < n:
        c = s[i]
        if c <= " " or c == "\x7f":
            return i
        i += 1
    return n


def first_word(s):
    """The first word of a command, as find_label and find_command cut it."""
    return s[:word_end(s)]


def skip_space(s, i=0):
    """Past the bytes <= ' ' and DEL from i (menu.h:my_isspace)."""
    n = len(s)
    while i < n and (s[i] <= " " or s[i] == "\x7f"):
        i += 1
    return i


def split_command(command):
    """(first word, the rest) as ldlinux.c:load_kernel cuts a command line:
    find_command stops at my_isspace, the options start after the spaces
    that follow. Not str.split(): U+00A0 and other non-ASCII spaces are
    part of a word to Syslinux (and MicroPython's split disagrees with CPython's)."""
    i = skip_space(command)
    e = word_end(command, i)
    rest = command[skip_space(command, e):]
    j = len(rest)
    while j and (rest[j - 1] <= " " or rest[j - 1] == "\x7f"):
        j -= 1
    return command[i:e], rest[:j]


def is_ui_module(command):
    """Whether a command runs menu.c32 or vesamenu.c32 (any directory): a .c32 name
    (case-sensitive, as parse_image_type compares) whose base name is one of them."""
    word = first_word(command.lstrip(C_SPACE))
    return word.split("/")[-1] in UI_MODULES


def kernel_type(name, keyword="kernel"):
    """The type of a KERNEL-like directive's file: its keyword's, or for KERNEL
    (and a command that names no label) by the extension, case-sensitively."""
    kind = TYPE_KEYWORDS.get(ascii_lower(keyword), LINUX)
    if kind is not None:
        return kind
    for ext, kind in EXTENSION_TYPES:
        if name.endswith(ext):
            return kind
    return LINUX


def c_atoi(text):
    """(value, clean) as C's atoi reads text: white space, a sign, decimal digits;
    clean is False when something other than white space follows or no digit is there."""
    s = text.lstrip(C_SPACE)
    i, sign = 0, 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        i = 1
    j = i
    while j < len(s) and "0" <= s[j] <= "9":
        j += 1
    if j == i:
        return 0, False
    # Syslinux's atoi is strtol's: a value beyond a 32-bit long is clamped
    # (a TIMEOUT of 20 digits must not overflow a machine word later).
    value = int(s[i:j]) if j - i < 12 else INT_MAX + 1
    return max(-INT_MAX - 1, min(INT_MAX, sign * value)), not s[j:].strip(C_SPACE)


INT_MAX = 0x7fffffff


class Label:
    """One LABEL: readconfig.c's labeldata, then its menu entry.

    Defaults live on the class, so a label holds only what its lines set
    (3000 labels within MicroPython's 2 MiB heap)."""
    kernel = None
    ktype = LINUX
    kernel_args = ""
    append = None             # None: the global APPEND (global_append)
    global_append = None      # the global APPEND when the label was recorded
    initrd = None             # text of INITRD
    ipappend = 0              # the global value when the label was defined
    menu_label = None
    hidden = False
    menu_default = False
    localboot = None
    help = ""
    where = None              # (file, line) of its LABEL line
    action = None             # None: boots; else "goto", "exit", "quit", "help", "disabled"
    target = None             # MENU GOTO/EXIT: the menu's tag, then the Menu
    menu = None               # the Menu it was recorded in, None for the root (MENU HIDE: Config.hide)

    def __init__(self, name, ipappend):
        self.name = name
        # readconfig.c: LABEL sets the kernel to the label's own word too.
        self.kernel = name
        if ipappend:
            self.ipappend = ipappend

    def display(self):
        text = self.menu_label or self.name
        return text.replace("^", "")


class Menu:
    """A menu of menu.c32 (com32/menu/readconfig.c new_menu): the root, the
    hidden-entries menu, or a MENU BEGIN submenu, which starts with its
    parent's TIMEOUT and ONTIMEOUT."""
    action = "submenu"

    def __init__(self, tag, parent=None):
        self.tag = tag            # MENU BEGIN's tag: MENU GOTO finds a menu by it
        self.title = ""
        self.label = tag          # the entry's text in the parent menu
        self.parent = parent
        self.entries = []         # Labels (any action) and submenus (Menu)
        self.defentry = 0
        self.default_source = None
        self.timeout = parent.timeout if parent else 0
        self.ontimeout = parent.ontimeout if parent else None
        self.allowedit = parent.allowedit if parent else True

    def display(self):
        return (self.label or self.title or "").replace("^", "")


class Config:
    def __init__(self):
        self.labels = []          # every LABEL in the order recorded (readconfig.c all_entries)
        self.names = {}           # name -> the first label of that name (find_label)
        self.level = 0            # ldlinux.c defaultlevel
        self.default_cmd = None   # what ldlinux_auto_boot loads: UI's module, else DEFAULT's command
        self.default = None       # the last DEFAULT (globaldefault)
        self.ui = None
        self.has_ui = False       # menu.c32 honours DEFAULT only when a UI line is there
        self.ontimeout = None
        self.onerror = None
        self.timeout = 0          # tenths of a second (the boot: prompt's)
        self.totaltimeout = 0
        self.prompt = 0
        self.noescape = 0
        self.allowoptions = 1
        self.implicit = 1
        self.shiftkey = False
        self.title = None
        self.say = []
        self.display = []
        self.append = None        # global APPEND
        self.ipappend = 0
        self.notes = []
        self.files = []
        self.root = Menu(".top")
        self.hide = Menu(".hidden")
        self.menus = [self.hide, self.root]
        self.start = self.root    # the menu menu.c32 starts in

    def label(self, name):
        """The label of that exact name (readconfig.c:find_label), or None."""
        return self.names.get(name)

    def visible_labels(self):
        """The labels a menu lists, in order: not hidden, and something to boot
        (not MENU GOTO/EXIT/QUIT/HELP/DISABLE entries)."""
        return [lab for lab in self.labels if not lab.hidden and lab.action is None]

    def is_menu(self):
        """Whether a menu UI is asked for (UI menu.c32, or DEFAULT menu.c32)."""
        if self.level == LEVEL_UI:
            return True
        return bool(self.default_cmd) and is_ui_module(self.default_cmd)


# What a note is about (Config.notes holds (file, line, kind, text) tuples;
# `lint` judges each kind, plan and the console show note_text()).
N_LONG_LINE = "long line"
N_IGNORED = "ignored"
N_INCLUDE_LOOP = "include loop"
N_INCLUDE_DEPTH = "include depth"
N_INCLUDE_ERROR = "include error"
N_INCLUDE_MISSING = "include missing"
N_LABEL_AGAIN = "label again"
N_NO_KERNEL = "no kernel"
N_UNKNOWN = "unknown directive"
N_NUMBER = "number"
N_DROPPED = "notes dropped"


def note_text(note):
    """A note as one line: 'file:line: text'."""
    return "%s:%d: %s" % (note[0], note[1], note[3])


class ConfigError(Exception):
    """The config cannot be used; file and line say where, when known."""

    def __init__(self, msg="", file=None, line=None):
        super().__init__(msg)
        self.file = file
        self.line = line


B_SPACE = b" \t\n\v\f\r"
CUT_BYTES = 4 * MAX_LINE + 4  # bytes of a line decoded: more than MAX_LINE characters of any UTF-8


def line_text(raw):
    """A line's text from its first byte that is not white space: at most
    CUT_BYTES of it are decoded (agent.text.decode: UTF-8, else Latin-1),
    so a 1 MiB line costs no more than one of MAX_LINE characters."""
    if isinstance(raw, str):
        return raw.lstrip(C_SPACE)
    raw = raw.lstrip(B_SPACE)
    if len(raw) > CUT_BYTES:
        cut = CUT_BYTES
        while cut > CUT_BYTES - 4 and 0x80 <= raw[cut] < 0xc0:
            cut -= 1             # not inside a UTF-8 sequence
        raw = raw[:cut]
    return decode(raw)


class Notes:
    """The parser's notes, at most MAX_NOTES of them, then one that says how
    many more there were from where the first was dropped: a config of 1 MiB
    of junk lines kept a note per line (35 MB, beyond the image's 32 MiB heap)."""

    def __init__(self, notes):
        self.notes = notes
        self.dropped = 0
        self.first = None        # (file, line) of the first note not kept

    def full(self):
        return len(self.notes) >= MAX_NOTES

    def append(self, note):
        if len(self.notes) < MAX_NOTES:
            self.notes.append(note)
        else:
            self.drop(note[0], note[1])

    def drop(self, name, lineno):
        if not self.dropped:
            self.first = (name, lineno)
        self.dropped += 1

    def close(self):
        if self.dropped:
            self.notes.append(self.first + (N_DROPPED, "%d more notes from here on not kept (MAX_NOTES %d)"
                                            % (self.dropped, MAX_NOTES)))
            self.dropped = 0


def _int(text, default, site, notes, keyword):
    """A number as readconfig.c reads it (atoi: junk reads as 0), with a note for junk."""
    value, clean = c_atoi(text)
    if not clean:
        notes.append(site + (N_NUMBER, "%s %r is read as %d, as Syslinux's atoi does"
                             % (keyword.upper(), text[:40], value)))
    return value


C_SPACE = " \t\n\v\f\r"


def c_number(text):
    """(value, rest) as C's strtoul(text, &rest, 0) reads it on 32-bit PXELINUX:
    leading white space, an optional sign, 0x/0X hex, a leading 0 octal, else
    decimal; the longest run of digits; none gives 0; overflow gives 0xffffffff."""
    i, n = 0, len(text)
    while i < n and text[i] in C_SPACE:
        i += 1
    sign = 1
    if i < n and text[i] in "+-":
        sign = -1 if text[i] == "-" else 1
        i += 1
    base = 10
    c = ascii_lower(text[i + 2:i + 3])
    if ascii_lower(text[i:i + 2]) == "0x" and c and c in "0123456789abcdef":
        base, i = 16, i + 2
    elif text[i:i + 1] == "0":
        base = 8
    digits = "0123456789abcdef"[:base]
    start, value = i, 0
    while i < n and ascii_lower(text[i]) in digits:
        value = value * base + digits.index(ascii_lower(text[i]))
        if value > 0xFFFFFFFF:
            value = 0x100000000  # no bignum for 4096 digits
        i += 1
    if i == start:
        return 0, text
    if value > 0xFFFFFFFF:
        value = 0xFFFFFFFF
    elif sign < 0:
        value = (-value) & 0xFFFFFFFF
    return value, text[i:]


def sysappend_value(text, site, notes, keyword):
    """IPAPPEND/SYSAPPEND's bit mask: readconfig.c reads it with strtoul(p, NULL, 0)."""
    value, rest = c_number(text)
    if rest and rest[0] not in C_SPACE:
        notes.append(site + (N_NUMBER, "%s %r is read as %d (a C number: 0x hex, leading 0 octal), as PXELINUX does"
                             % (keyword.upper(), text[:40], value)))
    return value


def iter_lines(data):
    """The lines of config bytes or text, one copied at a time: split at LF,
    each cut at its first CR and its first NUL (fgets, then strchr)."""
    if isinstance(data, str):
        nl, cr, nul = "\n", "\r", "\0"
    else:
        nl, cr, nul = b"\n", b"\r", b"\0"
    start, n = 0, len(data)
    while start < n:
        end = data.find(nl, start)
        if end < 0:
            end = n
        line = data[start:end]
        start = end + 1
        i = line.find(cr)
        if i >= 0:
            line = line[:i]
        i = line.find(nul)
        if i >= 0:
            line = line[:i]
        yield line


def canonical(name):
    """A file's identity for INCLUDE loops: '//', '.' and '..' resolved in its path
    ('a.cfg', './a.cfg', 'x/../a.cfg' and '//a.cfg' are one file)."""
    head = ""
    i = name.find("://")
    if i >= 0:
        j = name.find("/", i + 3)
        if j < 0:
            return name
        head, name = name[:j], name[j:]
    parts = []
    for part in name.split("/"):
        if part == "" or part == ".":
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return head + "/" + "/".join(parts)


class _Parser:
    def __init__(self, load, key):
        self.load = load
        self.key = key
        self.cfg = Config()
        self.ld = None            # the label being read (readconfig.c's ld)
        self.menu = self.cfg.root  # current_menu
        self.stack = []           # identities of the files being read
        self.includes = 0
        self.nbytes = 0
        self.strings = {}         # one copy of texts many labels repeat
        self.notes = Notes(self.cfg.notes)
        self.labels = 0

    def same(self, text):
        return self.strings.setdefault(text, text)

    def note(self, name, lineno, kind, text):
        """A note on a line: (file, line, kind, text); beyond MAX_NOTES only counted."""
        self.notes.append((name, lineno, kind, text))

    def parse_file(self, name, ident, data, depth):
        cfg = self.cfg
        self.nbytes += len(data)
        if self.nbytes > MAX_PARSE_BYTES:
            raise ConfigError("%s: more than %d bytes of config text in one parse (MAX_PARSE_BYTES): "
                              "an INCLUDE loop or runaway INCLUDEs?" % (name, MAX_PARSE_BYTES), name)
        self.stack.append(ident)
        cfg.files.append(name)
        lines = iter_lines(data)
        lineno = 0
        for raw in lines:
            lineno += 1
            p = line_text(raw)
            if not p or p[0] == "#":
                continue
            if len(p) > MAX_LINE:
                self.note(name, lineno, N_LONG_LINE, "line longer than %d characters: cut" % (MAX_LINE))
                p = p[:MAX_LINE]
            e = word_end(p)
            kw = ascii_lower(p[:e])
            if kw not in KEYWORDS:
                # The common junk line, cheaply: no dispatch, no text for a note not kept.
                if self.notes.full():
                    self.notes.drop(name, lineno)
                else:
                    self.note(name, lineno, N_UNKNOWN, "unknown directive %s: ignored" % kw.upper())
                continue
            rest = p[e:].strip(C_SPACE)
            if kw == "text":
                lineno = self.text(lines, lineno, rest)
                continue
            self.directive(kw, rest, name, lineno, depth)
        self.stack.pop()

    def text(self, lines, lineno, rest):
        """TEXT HELP ... ENDTEXT: the lines up to one whose first word is ENDTEXT."""
        keep = ascii_lower(first_word(rest)) == "help" and self.ld is not None
        buf = []
        for raw in lines:
            lineno += 1
            p = line_text(raw)
            if ascii_lower(first_word(p)) == "endtext":
                break
            if keep:
                buf.append(p)
        if keep:
            self.ld.help = "\n".join(buf)
        return lineno

    def record(self):
        """readconfig.c:record: the label read so far joins its menu (MENU HIDE:
        the hidden one) and the list find_label searches."""
        lab = self.ld
        if lab is None:
            return
        self.ld = None
        cfg = self.cfg
        self.count_label()
        m = cfg.hide if lab.hidden else self.menu
        if cfg.append is not None:
            lab.global_append = cfg.append
        if m is not cfg.root:
            lab.menu = m
        m.entries.append(lab)
        cfg.labels.append(lab)
        if lab.action != "disabled" and lab.name not in cfg.names:
            cfg.names[lab.name] = lab
        # menu.c32's record: MENU DEFAULT counts on an entry that boots or is a
        # MENU GOTO; the last one in a menu wins.
        if lab.menu_default and lab.action in (None, "goto"):
            m.defentry = len(m.entries) - 1
            m.default_source = "MENU DEFAULT"

    def count_label(self):
        self.labels += 1
        if self.labels > MAX_LABELS:
            raise ConfigError("more than %d LABELs in one parse (MAX_LABELS): too many for the agent's memory"
                              % MAX_LABELS)

    def begin(self, tag):
        """MENU BEGIN (readconfig.c:begin_submenu): an entry in the current menu."""
        parent = self.menu
        if len(self.cfg.menus) >= MAX_MENUS:
            raise ConfigError("more than %d menus (MENU BEGIN) in one parse (MAX_MENUS): too many for the "
                              "agent's memory" % MAX_MENUS)
        sub = Menu(tag or None, parent)
        sub.index = len(parent.entries)  # readconfig.c: parent_entry->entry
        parent.entries.append(sub)
        self.cfg.menus.append(sub)
        self.menu = sub

    def end(self):
        self.menu = self.menu.parent or self.menu

    def include(self, rest, name, lineno, depth, keyword):
        e = word_end(rest)
        fname, title = rest[:e], rest[e:].lstrip(C_SPACE)
        if not fname:
            self.note(name, lineno, N_IGNORED, "%s without a file name: ignored" % (keyword))
            return
        self.includes += 1
        if self.includes > MAX_INCLUDE_FILES:
            raise ConfigError("%s:%d: more than %d files INCLUDEd in one parse (MAX_INCLUDE_FILES): "
                              "an INCLUDE loop or runaway INCLUDEs?" % (name, lineno, MAX_INCLUDE_FILES), name, lineno)
        ident = canonical(self.key(fname))
        if ident in self.stack:
            self.note(name, lineno, N_INCLUDE_LOOP, "INCLUDE loop (%s is already being read): not read again" % (fname))
            return
        if depth + 1 > MAX_INCLUDE_DEPTH:
            self.note(name, lineno, N_INCLUDE_DEPTH, "INCLUDE nested deeper than %d levels: %s not read" % (MAX_INCLUDE_DEPTH, fname))
            return
        try:
            data = self.load(fname)
        except ConfigError as e:
            self.note(name, lineno, N_INCLUDE_ERROR, "%s %s: %s" % (keyword, fname, e))
            return
        if data is None:
            self.note(name, lineno, N_INCLUDE_MISSING, "%s %s: not found: ignored" % (keyword, fname))
            return
        if title:
            # menu.c32: INCLUDE file title reads the file as a submenu.
            self.record()
            self.begin(title)
            self.parse_file(fname, ident, data, depth + 1)
            self.record()
            self.end()
        else:
            self.parse_file(fname, ident, data, depth + 1)

    def directive(self, kw, rest, name, lineno, depth):
        cfg, ld = self.cfg, self.ld
        notes = self.notes
        if kw == "label":
            self.record()
            word = first_word(rest)
            if not word:
                self.note(name, lineno, N_IGNORED, "LABEL without a name: ignored")
                return
            if word in cfg.names:
                self.note(name, lineno, N_LABEL_AGAIN, "LABEL %s defined again: the first one is used" % (word))
            lab = Label(word, cfg.ipappend)
            lab.where = (name, lineno)
            kind = kernel_type(word)
            if kind != LINUX:
                lab.ktype = kind
            self.ld = lab
        elif kw in TYPE_KEYWORDS:
            if ld is None:
                self.note(name, lineno, N_IGNORED, "%s outside a LABEL: ignored" % kw.upper())
                return
            e = word_end(rest)
            word, args = rest[:e], rest[e:].lstrip(C_SPACE)
            if not word and kw != "localboot":
                self.note(name, lineno, N_NO_KERNEL, "%s without a file name: the label has no kernel" % kw.upper())
            ld.kernel = self.same(word)
            ld.ktype = kernel_type(word, kw)
            # Options after the kernel's name go before APPEND on its command line.
            if args or ld.kernel_args:
                ld.kernel_args = self.same(args)
            if kw == "localboot":
                ld.localboot = rest or "0"
            elif ld.localboot is not None:
                ld.localboot = None
        elif kw == "append":
            if ld is None:
                cfg.append = rest
            else:
                ld.append = rest
        elif kw == "menu":
            self.menu_directive(rest, name, lineno, depth)
        elif kw == "initrd":
            if ld is None:
                self.note(name, lineno, N_IGNORED, "INITRD outside a LABEL: ignored, as Syslinux does")
            else:
                ld.initrd = self.same(rest)
        elif kw in ("ipappend", "sysappend"):
            value = sysappend_value(rest, (name, lineno), notes, kw)
            if ld is None:
                cfg.ipappend = value
            elif value or ld.ipappend:
                ld.ipappend = value
        elif kw == "include":
            self.include(rest, name, lineno, depth, "INCLUDE")
        elif kw == "default":
            cfg.default = rest
            # A UI line wins over DEFAULT, wherever it is (ldlinux readconfig.c).
            if cfg.level < LEVEL_UI:
                cfg.level = LEVEL_DEFAULT
                cfg.default_cmd = rest
        elif kw == "ui":
            cfg.level = LEVEL_UI
            cfg.default_cmd = rest
            cfg.ui = rest or None
            cfg.has_ui = True
        elif kw == "timeout":
            value = max(0, _int(rest, 0, (name, lineno), notes, kw))
            cfg.timeout = value           # ldlinux: one, the last
            self.menu.timeout = value     # menu.c32: the current menu's
        elif kw == "totaltimeout":
            cfg.totaltimeout = max(0, _int(rest, 0, (name, lineno), notes, kw))
        elif kw == "ontimeout":
            cfg.ontimeout = rest or None
            self.menu.ontimeout = rest or None
        elif kw == "onerror":
            cfg.onerror = rest or None
        elif kw == "prompt":
            cfg.prompt = _int(rest, 0, (name, lineno), notes, kw)
        elif kw == "noescape":
            cfg.noescape = _int(rest, 0, (name, lineno), notes, kw)
        elif kw == "allowoptions":
            value = 1 if _int(rest, 1, (name, lineno), notes, kw) else 0
            cfg.allowoptions = value
            self.menu.allowedit = bool(value)
        elif kw == "implicit":
            cfg.implicit = _int(rest, 1, (name, lineno), notes, kw)
        elif kw == "say":
            if len(cfg.say) < MAX_SAY:
                cfg.say.append(rest)
        elif kw == "display":
            if rest and len(cfg.display) < MAX_SAY:
                cfg.display.append(first_word(rest))
        elif kw in COSMETIC:
            pass
        else:
            self.note(name, lineno, N_UNKNOWN, "unknown directive %s: ignored" % kw.upper())

    def menu_directive(self, rest, name, lineno, depth):
        e = word_end(rest)
        sub = ascii_lower(rest[:e])
        arg = rest[e:].lstrip(C_SPACE)
        cfg, ld, m = self.cfg, self.ld, self.menu
        if sub == "label":
            if ld is not None:
                ld.menu_label = arg
            elif m.parent is not None:
                # MENU LABEL right after MENU BEGIN names the submenu.
                m.label = arg
                if not m.title:
                    m.title = arg.replace("^", "")
        elif sub == "title":
            m.title = arg
            if m is cfg.root:
                cfg.title = arg
        elif sub == "default":
            if ld is not None:
                ld.menu_default = True
            elif m.parent is not None:
                # Right after MENU BEGIN: the submenu is its parent's default.
                m.parent.defentry = m.index
                m.parent.default_source = "MENU DEFAULT"
        elif sub == "hide":
            if ld is not None:
                ld.hidden = True
        elif sub in ("disable", "disabled"):
            if ld is not None:
                ld.action = "disabled"
        elif sub == "separator":
            self.record()
            self.count_label()
            sep = Label("", 0)
            sep.action = "disabled"
            m.entries.append(sep)
        elif sub == "begin":
            self.record()
            self.begin(arg)
        elif sub == "end":
            self.record()
            self.end()
        elif sub == "include":
            self.include(arg, name, lineno, depth, "MENU INCLUDE")
        elif sub == "goto":
            if ld is not None:
                ld.action, ld.target = "goto", arg
        elif sub == "exit":
            if ld is not None and m.parent is not None:
                ld.action, ld.target = "exit", (arg or m.parent)
        elif sub == "quit":
            if ld is not None:
                ld.action = "quit"
        elif sub == "help":
            if ld is not None:
                ld.action = "help"
        elif sub == "start":
            cfg.start = m
        elif sub == "shiftkey":
            cfg.shiftkey = True
        elif sub == "onerror":
            cfg.onerror = arg or None
        elif sub in MENU_COSMETIC:
            pass
        else:
            self.note(name, lineno, N_UNKNOWN, "unknown directive MENU %s: ignored" % sub.upper())

    def finish(self):
        """readconfig.c:parse_configs after the last file: the last label, MENU
        GOTO/EXIT targets (find_menu: the newest menu of that tag), and DEFAULT,
        which menu.c32 honours only with a UI line."""
        self.record()
        cfg = self.cfg
        newest = {}
        for m in cfg.menus:
            newest[m.tag] = m
        for lab in cfg.labels:
            if lab.action in ("goto", "exit") and not isinstance(lab.target, Menu):
                found = newest.get(lab.target) if lab.target else None
                lab.target = found
                if found is None:
                    lab.action = "disabled"
        if cfg.has_ui and cfg.default:
            lab = cfg.label(first_word(cfg.default))
            if lab is not None and lab.menu is not cfg.hide:
                m = lab.menu or cfg.root
                m.defentry = m.entries.index(lab)
                m.default_source = "DEFAULT"
                cfg.start = m


def parse(text, name="config", load=None, ipappend=0, key=None, ident=None):
    """A Config from a file's text (str or bytes). load(name) -> text or None for INCLUDE.

    ipappend: the global IPAPPEND/SYSAPPEND bits to start with (after a CONFIG
    hop, the previous file's: SysAppends lives in Syslinux's core, not in the
    ldlinux.c32 that CONFIG restarts). key(name) -> where an INCLUDE's name
    leads (e.g. its URL), ident the same for this file: INCLUDE loops are
    found by canonical(key). Raises ConfigError beyond MAX_INCLUDE_FILES or
    MAX_PARSE_BYTES."""
    key = key or (lambda fname: fname)
    p = _Parser(load or (lambda fname: None), key)
    p.cfg.ipappend = ipappend
    old = gc_pace(GC_PARTS)
    try:
        p.parse_file(name, canonical(ident or key(name)), text, 0)
        p.finish()
        p.notes.close()
    finally:
        gc_pace_restore(old)
    return p.cfg
