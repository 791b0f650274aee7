"""PXELINUX configuration files: parsing and label selection (pure logic).

Implements the subset of the Syslinux configuration language
(doc/syslinux.txt, doc/menu.txt, doc/pxelinux.txt) that decides what a
network-booted machine runs:

- keywords are case-insensitive; leading white space, blank lines and lines
  starting with '#' are ignored; CRLF line ends and bytes that are not UTF-8
  are accepted;
- DEFAULT, UI, LABEL, KERNEL, LINUX, BOOT, BSS, PXE, FDIMAGE, COMBOOT, COM32,
  CONFIG, LOCALBOOT, INITRD, APPEND (``APPEND -`` for none), IPAPPEND,
  SYSAPPEND, TIMEOUT, TOTALTIMEOUT, ONTIMEOUT, ONERROR, PROMPT, NOESCAPE,
  ALLOWOPTIONS, IMPLICIT, SAY, DISPLAY, INCLUDE (nested up to 16 levels),
  TEXT HELP ... ENDTEXT, MENU LABEL / DEFAULT / HIDE / TITLE / INCLUDE /
  BEGIN / END, and the cosmetic MENU keywords (accepted, not shown);
- anything else is ignored with a note; nothing in a file is fatal.

The entry booted without anyone at the console is: ONTIMEOUT, else DEFAULT
(unless it names a UI module such as menu.c32), else the label marked MENU
DEFAULT, else the first label.

File access goes through an injected ``load(name) -> text or None``; nothing
here touches the network or the disk.
"""

from agent.compat import latin1

MAX_INCLUDE_DEPTH = 16
MAX_LINE = 4096

# The kernel types of Syslinux and what each means here.
LINUX = "linux"
BOOTABLE_TYPES = (LINUX,)
TYPE_KEYWORDS = {
    "linux": LINUX,
    "boot": "boot sector",
    "bss": "boot sector",
    "pxe": "PXE program",
    "fdimage": "floppy image",
    "comboot": "COMBOOT program",
    "com32": "COM32 module",
    "config": "config",
}
EXTENSION_TYPES = (
    (".c32", "COM32 module"),
    (".cbt", "COMBOOT program"),
    (".com", "COMBOOT program"),
    (".0", "PXE program"),
    (".bin", "boot sector"),
    (".bs", "boot sector"),
    (".bss", "boot sector"),
    (".img", "floppy image"),
)
UI_MODULES = ("menu.c32", "vesamenu.c32")
# MENU keywords that only change how a graphical menu looks.
MENU_COSMETIC = (
    "color", "colour", "background", "width", "margin", "passwordmargin", "rows",
    "tabmsgrow", "cmdlinerow", "endrow", "passwordrow", "timeoutrow", "helpmsgrow",
    "helpmsgendrow", "hiddenrow", "hshift", "vshift", "resolution", "font", "msgcolor",
    "tabmsg", "autoboot", "notabmsg", "passprompt", "separator", "disable", "passwd",
    "master", "save", "nosave", "clear", "immediate", "shiftkey", "hidden", "exit",
    "start", "helpmsgrow", "indent",
)
COSMETIC = ("serial", "console", "font", "kbdmap", "path", "f1", "f2", "f3", "f4", "f5", "f6", "f7",
            "f8", "f9", "f10", "f11", "f12", "f0", "nohalt", "allowimplicit")


# Every directive the parser acts on (docs/reference.md describes each).
DIRECTIVES = (
    "DEFAULT", "UI", "LABEL", "KERNEL", "LINUX", "BOOT", "BSS", "PXE", "FDIMAGE", "COMBOOT", "COM32",
    "CONFIG", "LOCALBOOT", "INITRD", "APPEND", "IPAPPEND", "SYSAPPEND", "TIMEOUT", "TOTALTIMEOUT",
    "ONTIMEOUT", "ONERROR", "PROMPT", "NOESCAPE", "ALLOWOPTIONS", "IMPLICIT", "SAY", "DISPLAY",
    "INCLUDE", "TEXT", "ENDTEXT", "MENU LABEL", "MENU DEFAULT", "MENU HIDE", "MENU TITLE",
    "MENU INCLUDE", "MENU BEGIN", "MENU END", "MENU GOTO", "MENU QUIT",
)


def is_ui_module(command):
    """Whether a DEFAULT/UI value names a menu module (menu.c32, any directory)."""
    word = command.split()[0].lower() if command.split() else ""
    return word.split("/")[-1] in UI_MODULES


def kernel_type(name, keyword="kernel"):
    """The Syslinux kernel type of a KERNEL-like directive's file name."""
    keyword = keyword.lower()
    if keyword != "kernel":
        return TYPE_KEYWORDS.get(keyword, LINUX)
    low = name.lower()
    for ext, kind in EXTENSION_TYPES:
        if low.endswith(ext):
            return kind
    return LINUX


class Label:
    def __init__(self, name, ipappend):
        self.name = name
        self.kernel = None
        self.ktype = LINUX
        self.kernel_args = ""
        self.append = None        # None: the global APPEND
        self.initrd = None        # text of INITRD, comma list
        self.ipappend = ipappend  # the global value when the label was defined
        self.global_append = None  # the global APPEND when the label was recorded
        self.menu_label = None
        self.hidden = False
        self.menu_default = False
        self.localboot = None
        self.help = ""
        self.where = ""

    def display(self):
        text = self.menu_label or self.name
        return text.replace("^", "")


class Config:
    def __init__(self):
        self.labels = []
        self.default = None
        self.ui = None
        self.ontimeout = None
        self.onerror = None
        self.timeout = 0          # tenths of a second
        self.totaltimeout = 0
        self.prompt = 0
        self.noescape = 0
        self.allowoptions = 1
        self.implicit = 1
        self.title = None
        self.say = []
        self.display = []
        self.append = None        # global APPEND
        self.initrd = None        # global INITRD (for a DEFAULT that is no label)
        self.ipappend = 0
        self.notes = []
        self.files = []

    def label(self, name):
        for lab in self.labels:
            if lab.name == name:
                return lab
        low = name.lower()
        for lab in self.labels:
            if lab.name.lower() == low:
                return lab
        return None

    def visible_labels(self):
        """Labels a menu lists: not hidden, and with something to boot
        (entries such as MENU EXIT have no kernel)."""
        return [lab for lab in self.labels if not lab.hidden and
                (lab.kernel or lab.localboot is not None)]

    def menu_default(self):
        for lab in self.labels:
            if lab.menu_default:
                return lab
        return None

    def is_menu(self):
        """Whether a menu UI is asked for (UI menu.c32, or DEFAULT menu.c32)."""
        if self.ui:
            return True
        return bool(self.default) and is_ui_module(self.default)


class ConfigError(Exception):
    pass


def decode(data):
    """Config bytes as text: UTF-8, else Latin-1, so no byte is fatal."""
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeError:
        return latin1(data)


def _int(text, default, where, notes, keyword):
    word = text.split()[0] if text.split() else ""
    try:
        return int(word)
    except ValueError:
        notes.append("%s: %s needs a number, got %r: ignored" % (where, keyword.upper(), text[:40]))
        return default


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
    if text[i:i + 2].lower() == "0x" and text[i + 2:i + 3] and text[i + 2].lower() in "0123456789abcdef":
        base, i = 16, i + 2
    elif text[i:i + 1] == "0":
        base = 8
    digits = "0123456789abcdef"[:base]
    start, value = i, 0
    while i < n and text[i].lower() in digits:
        value = value * base + digits.index(text[i].lower())
        i += 1
    if i == start:
        return 0, text
    if value > 0xFFFFFFFF:
        value = 0xFFFFFFFF
    elif sign < 0:
        value = (-value) & 0xFFFFFFFF
    return value, text[i:]


def sysappend_value(text, where, notes, keyword):
    """IPAPPEND/SYSAPPEND's bit mask: readconfig.c reads it with strtoul(p, NULL, 0)."""
    value, rest = c_number(text)
    if rest and rest[0] not in C_SPACE:
        notes.append("%s: %s %r is read as %d (a C number: 0x hex, leading 0 octal), as PXELINUX does"
                     % (where, keyword.upper(), text[:40], value))
    return value


def split_lines(text):
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        lines.append(line)
    return lines


class _Parser:
    def __init__(self, load):
        self.load = load
        self.cfg = Config()
        self.current = None
        self.stack = []
        self.menu_depth = 0

    def parse_file(self, name, text, depth):
        if depth > MAX_INCLUDE_DEPTH:
            self.cfg.notes.append("%s: INCLUDE nested deeper than %d levels: not read"
                                  % (name, MAX_INCLUDE_DEPTH))
            return
        if name in self.stack:
            self.cfg.notes.append("%s: INCLUDE loop (%s): not read again"
                                  % (name, " -> ".join(self.stack + [name])))
            return
        self.stack.append(name)
        self.cfg.files.append(name)
        in_text = False
        for lineno, raw in enumerate(split_lines(decode(text)), 1):
            where = "%s:%d" % (name, lineno)
            # Syslinux reads lines as C strings: a NUL ends the line.
            line = raw.split("\0", 1)[0].strip()
            if in_text:
                if line.lower() == "endtext":
                    in_text = False
                elif self.current is not None:
                    self.current.help += line + "\n"
                continue
            if not line or line.startswith("#"):
                continue
            if len(line) > MAX_LINE:
                self.cfg.notes.append("%s: line longer than %d characters: cut" % (where, MAX_LINE))
                line = line[:MAX_LINE]
            parts = line.split(None, 1)
            keyword = parts[0].lower()
            rest = parts[1].strip() if len(parts) > 1 else ""
            if keyword == "text":
                in_text = True
                continue
            self.directive(keyword, rest, where, depth)
        self.stack.pop()

    def include(self, rest, where, depth):
        fname = rest.split()[0] if rest.split() else ""
        if not fname:
            self.cfg.notes.append("%s: INCLUDE without a file name: ignored" % where)
            return
        try:
            text = self.load(fname)
        except ConfigError as e:
            self.cfg.notes.append("%s: INCLUDE %s: %s" % (where, fname, e))
            return
        if text is None:
            self.cfg.notes.append("%s: INCLUDE %s: not found: ignored" % (where, fname))
            return
        self.parse_file(fname, text, depth + 1)

    def directive(self, kw, rest, where, depth):
        cfg, cur = self.cfg, self.current
        notes = cfg.notes
        if kw == "menu":
            self.menu(rest, where, depth)
        elif kw == "include":
            self.include(rest, where, depth)
        elif kw == "label":
            if not rest:
                notes.append("%s: LABEL without a name: ignored" % where)
                self.current = None
                return
            name = rest.split()[0]
            if cfg.label(name) is not None and cfg.label(name).name == name:
                notes.append("%s: LABEL %s defined again: the first one is used" % (where, name))
            lab = Label(name, cfg.ipappend)
            # readconfig.c:record takes the global APPEND in force when the label
            # is recorded; it cannot change while the label is current.
            lab.global_append = cfg.append
            lab.where = where
            cfg.labels.append(lab)
            self.current = lab
        elif kw in ("kernel", "linux", "boot", "bss", "pxe", "fdimage", "comboot", "com32", "config"):
            if cur is None:
                notes.append("%s: %s outside a LABEL: ignored" % (where, kw.upper()))
                return
            if not rest:
                notes.append("%s: %s without a file name: ignored" % (where, kw.upper()))
                return
            words = rest.split(None, 1)
            cur.kernel = words[0]
            cur.ktype = kernel_type(cur.kernel, kw)
            # Options after the kernel's name go before APPEND on its command line.
            cur.kernel_args = words[1].strip() if len(words) > 1 else ""
        elif kw == "localboot":
            if cur is None:
                notes.append("%s: LOCALBOOT outside a LABEL: ignored" % where)
                return
            cur.localboot = rest or "0"
            cur.ktype = "local boot"
        elif kw == "append":
            value = "" if rest == "-" else rest
            if cur is None:
                cfg.append = value
            else:
                cur.append = value
        elif kw == "initrd":
            if cur is None:
                cfg.initrd = rest
            else:
                cur.initrd = rest
        elif kw in ("ipappend", "sysappend"):
            value = sysappend_value(rest, where, notes, kw)
            if cur is None:
                cfg.ipappend = value
            else:
                cur.ipappend = value
        elif kw == "default":
            cfg.default = rest or None
        elif kw == "ui":
            cfg.ui = rest or None
        elif kw == "ontimeout":
            cfg.ontimeout = rest or None
        elif kw == "onerror":
            cfg.onerror = rest or None
        elif kw == "timeout":
            cfg.timeout = max(0, _int(rest, 0, where, notes, kw))
        elif kw == "totaltimeout":
            cfg.totaltimeout = max(0, _int(rest, 0, where, notes, kw))
        elif kw == "prompt":
            cfg.prompt = _int(rest, 0, where, notes, kw)
        elif kw == "noescape":
            cfg.noescape = _int(rest, 0, where, notes, kw)
        elif kw == "allowoptions":
            cfg.allowoptions = _int(rest, 1, where, notes, kw)
        elif kw == "implicit":
            cfg.implicit = _int(rest, 1, where, notes, kw)
        elif kw == "say":
            cfg.say.append(rest)
        elif kw == "display":
            cfg.display.append(rest)
        elif kw in COSMETIC:
            pass
        else:
            notes.append("%s: unknown directive %s: ignored" % (where, kw.upper()))

    def menu(self, rest, where, depth):
        parts = rest.split(None, 1)
        sub = parts[0].lower() if parts else ""
        arg = parts[1].strip() if len(parts) > 1 else ""
        cur = self.current
        if sub == "label":
            if cur is not None:
                cur.menu_label = arg
        elif sub == "default":
            if cur is not None:
                cur.menu_default = True
        elif sub == "hide":
            if cur is not None:
                cur.hidden = True
        elif sub == "title":
            if self.menu_depth == 0:
                self.cfg.title = arg
        elif sub == "include":
            self.include(arg, where, depth)
        elif sub == "begin":
            self.menu_depth += 1
            self.current = None
        elif sub == "end":
            self.menu_depth = max(0, self.menu_depth - 1)
            self.current = None
        elif sub in ("goto", "quit"):
            self.cfg.notes.append("%s: MENU %s needs the graphical menu: ignored" % (where, sub.upper()))
        elif sub in MENU_COSMETIC:
            pass
        else:
            self.cfg.notes.append("%s: unknown directive MENU %s: ignored" % (where, sub.upper()))


def parse(text, name="config", load=None, ipappend=0):
    """A Config from a file's text (str or bytes). load(name) -> text or None for INCLUDE.

    ipappend: the global IPAPPEND/SYSAPPEND bits to start with (after a CONFIG
    hop, the previous file's: SysAppends lives in Syslinux's core, not in the
    ldlinux.c32 that CONFIG restarts)."""
    p = _Parser(load or (lambda fname: None))
    p.cfg.ipappend = ipappend
    p.parse_file(name, text, 0)
    return p.cfg


class Entry:
    """What would boot: the label (or None) and its resolved pieces, still unresolved paths."""

    def __init__(self):
        self.label = None
        self.kernel = None
        self.ktype = LINUX
        self.append = ""          # a label's text after the kernel name, without SYSAPPEND strings
        self.initrd = []
        self.ipappend = 0
        self.extra = ""           # options typed, or given after DEFAULT's word
        self.dropped = ""         # options ALLOWOPTIONS 0 dropped
        self.command = ""
        self.source = ""


def default_command(cfg):
    """(command, source) of what boots without anyone at the console, or (None, why)."""
    if cfg.ontimeout:
        return cfg.ontimeout, "ONTIMEOUT"
    if cfg.default and not is_ui_module(cfg.default):
        return cfg.default, "DEFAULT"
    lab = cfg.menu_default()
    if lab is not None:
        return lab.name, "MENU DEFAULT"
    if cfg.labels:
        return cfg.labels[0].name, "the first LABEL"
    return None, "the config has no LABEL and no DEFAULT"


def initrd_in_append(line):
    """The initrd names PXELINUX loads for a command line, or None.

    kernel.c:new_linux_kernel takes the first "initrd=" anywhere in
    "BOOT_IMAGE=kernel args" (strstr: also inside a longer word), then names
    that end at ' ' or ',', as long as a ',' follows.
    """
    i = line.find("initrd=")
    if i < 0:
        return None
    names = []
    pos = i + len("initrd")
    while True:
        pos += 1  # the '=' or ','
        end = pos
        while end < len(line) and line[end] not in " ,":
            end += 1
        names.append(line[pos:end])
        pos = end
        if pos >= len(line) or line[pos] != ",":
            return names


def label_args(cfg, lab):
    """readconfig.c:record: the label's text after the kernel name: the options on
    the KERNEL line, APPEND (the label's, else the global one in force when the
    label was recorded; "-" is none), then " initrd=" and INITRD as written.
    The SYSAPPEND strings come next (sysappend_strings)."""
    append = lab.append if lab.append is not None else lab.global_append
    if append is None or append == "-":
        append = ""
    parts = [lab.kernel_args, append]
    if lab.initrd is not None:
        parts.append("initrd=" + lab.initrd)
    return " ".join(x for x in parts if x)


def resolve(cfg, command, source=""):
    """The Entry a command line (label name or kernel, then extra options) boots.

    Raises ConfigError when it cannot boot here, with the reason.
    """
    words = command.split(None, 1)
    if not words:
        raise ConfigError("empty boot command")
    e = Entry()
    e.command = command
    e.source = source
    e.extra = words[1].strip() if len(words) > 1 else ""
    lab = cfg.label(words[0])
    if lab is not None:
        e.label = lab.name
        if lab.localboot is not None:
            raise ConfigError("label %s is LOCALBOOT %s: booting from a local disk is not done by "
                              "the network agent on s390" % (lab.name, lab.localboot))
        if not lab.kernel:
            raise ConfigError("label %s has no KERNEL" % lab.name)
        e.kernel = lab.kernel
        e.ktype = lab.ktype
        e.append = label_args(cfg, lab)
        e.ipappend = lab.ipappend
        # ldlinux.c:load_kernel keeps options typed after a label; only menu.c32
        # (a UI menu) with ALLOWOPTIONS 0 gives no way to type them (no Tab, no Esc).
        if not cfg.allowoptions and cfg.is_menu() and source == "the boot: prompt":
            e.dropped, e.extra = e.extra, ""
    else:
        if not cfg.implicit:
            raise ConfigError("%s names no label, and IMPLICIT 0 forbids booting other kernels"
                              % words[0])
        e.kernel = words[0]
        e.ktype = kernel_type(words[0])
        # ldlinux.c:load_kernel: a kernel that is no label gets its own options
        # (none with ALLOWOPTIONS 0) and the SYSAPPEND strings; no APPEND, no INITRD.
        e.ipappend = cfg.ipappend
        if not cfg.allowoptions:
            e.dropped, e.extra = e.extra, ""
    names = initrd_in_append("BOOT_IMAGE=%s %s" % (e.kernel, _join(e.append, e.extra)))
    if names is not None:
        if "" in names:
            raise ConfigError("%s: initrd= names an empty file (%s): PXELINUX fails to load it"
                              % (e.label or e.kernel, "initrd=" + ",".join(names)))
        e.initrd = names
    if e.ktype == "config":
        return e
    if e.ktype not in BOOTABLE_TYPES:
        raise ConfigError("%s is a %s, which runs only on x86 PCs: it cannot boot on s390"
                          % (e.kernel, e.ktype))
    return e


def _join(*parts):
    return " ".join(x for x in parts if x)


def _quad(value):
    return value or "0.0.0.0"


def sysappend_strings(bits, env):
    """The IPAPPEND/SYSAPPEND strings for bits 1, 2 and 4 (env: ip, server_ip, gateway,
    netmask, mac, uuid), in bit order.

    Bit 1 (pxe.c:genipopt): ip=<client>:<server>:<gateway>:<netmask>, an unknown
    address written 0.0.0.0. Bit 2 (pxe.c:make_bootif_string): BOOTIF=01-<mac>.
    Bit 4 (sysappend.c:sysappend_set_uuid): SYSUUID=<uuid>, only for a valid UUID.
    The higher bits name DMI and CPU strings an s390 guest does not have."""
    from agent import search
    out = []
    if bits & 1:
        out.append("ip=%s:%s:%s:%s" % (_quad(env.get("ip")), _quad(env.get("server_ip")),
                                       _quad(env.get("gateway")), _quad(env.get("netmask"))))
    if bits & 2 and env.get("mac"):
        out.append("BOOTIF=01-%s" % env["mac"].replace(":", "-").lower())
    if bits & 4 and env.get("uuid") and search.valid_uuid(env["uuid"]):
        out.append("SYSUUID=%s" % search.normalise_uuid(env["uuid"]))
    return out


def command_args(entry, env):
    """What follows BOOT_IMAGE=<kernel>: for a label (readconfig.c:record, then
    ldlinux.c:load_kernel) its text, the SYSAPPEND strings, then the options
    typed or given after DEFAULT's word; for a kernel that is no label
    (execute.c:execute with sysappend) its options, then the SYSAPPEND strings."""
    strings = sysappend_strings(entry.ipappend, env)
    if entry.label is not None:
        return _join(*([entry.append] + strings + [entry.extra]))
    return _join(*([entry.extra] + strings))


def cmdline(entry, env):
    """The kernel command line PXELINUX would hand the kernel (kernel.c:new_linux_kernel)."""
    args = command_args(entry, env)
    return "BOOT_IMAGE=%s %s" % (entry.kernel, args) if args else "BOOT_IMAGE=%s" % entry.kernel
