"""What QEMU's s390-ccw firmware makes of a pxelinux.cfg file, for `lint --firmware`.

QEMU's netboot firmware (pc-bios/s390-ccw/netmain.c, with SLOF's
lib/libnet/pxelinux.c parser) reads a pxelinux.cfg itself when the boot
file it is given starts with `# pxelinux`, when the boot file cannot be read
(pxelinux.0 unreadable to the TFTP server), or when DHCP names a directory.
Some sites hand some guests such a file on purpose. Its rules, as that code
has them (QEMU 10.0):

- the file is read into a 2048-byte buffer: a longer one is not read;
- one directive per line, its argument after the first space or tab (a
  directive with nothing after it is "Failed to parse"); five directives,
  in any case: DEFAULT, LABEL, KERNEL, INITRD, APPEND; any other (IPAPPEND,
  LOCALBOOT, INCLUDE, MENU, PROMPT, TIMEOUT, UI, SAY, ...) is "not
  supported" and ignored;
- at most 16 LABEL entries; DEFAULT names the entry whose LABEL text equals
  its argument exactly, and only a LABEL after the DEFAULT line counts;
  without a match the first entry boots;
- the kernel and one initrd (the INITRD text as one file name: a comma list
  is one name) from the boot server; APPEND is the whole command line, cut
  to 896 bytes: no BOOT_IMAGE=, no initrd= handling, no IPAPPEND strings
  (BOOTIF, ip=), no options typed at a prompt;
- no entry (an empty config, comments only): the firmware gives up and the
  next boot device is tried.

check(data, agent) compares that with the agent's decision and returns
(line, severity, message) tuples; line None for the whole file.
"""

CFG_BUFFER = 2048
MAX_ENTRIES = 16
COMMAND_LINE = 896
DIRECTIVES = ("default", "label", "kernel", "initrd", "append")


class Entry:
    def __init__(self, label, line):
        self.label = label
        self.line = line
        self.kernel = None
        self.initrd = None
        self.append = None


def parse(data):
    """(entries, default index, ignored {DIRECTIVE: [lines]}, unparsed [lines])
    as the firmware's parser reads the bytes of a config."""
    text = data[:CFG_BUFFER - 1].decode("latin-1")
    entries, ignored, unparsed = [], {}, []
    default = None
    chosen = 0
    for n, raw in enumerate(text.split("\n"), 1):
        if len(entries) >= MAX_ENTRIES:
            break
        line = raw.rstrip("\r \t").lstrip(" \t")
        if not line or line.startswith("#"):
            continue
        cut = [i for i in (line.find(" "), line.find("\t")) if i >= 0]
        if not cut:
            unparsed.append(n)
            continue
        word, arg = line[:min(cut)].lower(), line[min(cut):].lstrip(" \t")
        if word == "default":
            default = arg
        elif word == "label":
            if default is not None and arg == default:
                chosen = len(entries)
            entries.append(Entry(arg, n))
        elif word in ("kernel", "initrd", "append") and entries:
            setattr(entries[-1], word, arg)
        else:
            ignored.setdefault(word.upper(), []).append(n)
    return entries, chosen, ignored, unparsed


def check(data, agent):
    """Where the firmware would boot differently from the agent. agent: a dict
    with "label" (None for a kernel that names no label), "kernel" (its name
    as the config writes it), "initrd" (names), "cmdline" (the agent's
    command line), "localboot" (True when the agent boots the disk), or
    None when the agent boots nothing unattended."""
    out = []
    if len(data) > CFG_BUFFER - 1:
        out.append((None, "error", "firmware: the file is %d bytes; QEMU's firmware reads at most %d "
                    "(its config buffer) and fails" % (len(data), CFG_BUFFER - 1)))
        return out
    entries, chosen, ignored, unparsed = parse(data)
    for word in sorted(ignored):
        lines = ignored[word]
        if word in ("IPAPPEND", "SYSAPPEND", "LOCALBOOT", "INCLUDE", "UI", "CONFIG", "COM32", "LINUX"):
            out.append((lines[0], "warning", "firmware: %s is not supported there (%d line%s): ignored"
                        % (word, len(lines), "" if len(lines) == 1 else "s")))
    for n in unparsed:
        out.append((n, "warning", "firmware: a directive without an argument: \"Failed to parse this line\""))
    if not entries:
        if agent is not None and not agent.get("localboot"):
            out.append((None, "warning", "firmware: no LABEL it can read: it gives up and tries the next "
                        "boot device, where the agent boots %s" % (agent.get("label") or agent.get("kernel"))))
        return out
    e = entries[chosen]
    if agent is None:
        out.append((e.line, "warning", "firmware: boots LABEL %s, where the agent boots nothing unattended"
                    % e.label))
        return out
    if agent.get("localboot"):
        out.append((e.line, "warning", "firmware: boots LABEL %s (it knows no LOCALBOOT), where the agent "
                    "boots the installed system" % e.label))
        return out
    if agent.get("label") != e.label:
        out.append((e.line, "warning", "firmware: boots LABEL %s, where the agent boots %s"
                    % (e.label, agent.get("label") or "the kernel %s" % agent.get("kernel"))))
        return out
    if not e.kernel:
        out.append((e.line, "error", "firmware: LABEL %s has no KERNEL line it reads: \"Kernel entry is "
                    "missing\"" % e.label))
        return out
    if e.kernel != agent.get("kernel"):
        out.append((e.line, "warning", "firmware: LABEL %s loads %s, where the agent loads %s"
                    % (e.label, e.kernel, agent.get("kernel"))))
    initrds = agent.get("initrd") or []
    if e.initrd is not None and "," in e.initrd:
        out.append((e.line, "warning", "firmware: INITRD %s is one file name there (it loads one initrd), "
                    "the agent loads %d" % (e.initrd, len(initrds))))
    elif (e.initrd is None) != (not initrds) or (e.initrd is not None and [e.initrd] != initrds):
        out.append((e.line, "warning", "firmware: LABEL %s loads initrd %s, where the agent loads %s"
                    % (e.label, e.initrd or "none", ", ".join(initrds) or "none")))
    append = (e.append or "").encode("latin-1")
    if len(append) > COMMAND_LINE:
        out.append((e.line, "warning", "firmware: APPEND is %d bytes; it passes the first %d"
                    % (len(append), COMMAND_LINE)))
    words = (agent.get("cmdline") or "").split()
    missing = [w for w in words if w.startswith(("BOOTIF=", "ip=", "SYSUUID="))]
    if missing:
        out.append((e.line, "warning", "firmware: no IPAPPEND/SYSAPPEND there: the kernel does not get %s"
                    % " ".join(missing)))
    return out
