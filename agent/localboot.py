"""Local boot on s390: what LOCALBOOT, chain.c32 and an empty config mean,
and what an installed disk boots. Pure functions over strings and small data;
reading /sys/bus/ccw and mounting a disk are agent/machine.py's.

PXELINUX hands a local boot back to the PC's BIOS (execute.c: LOCALBOOT is
``local_boot(strtoul(arg, NULL, 0))``; chain.c32 reads a disk's boot sector).
An s390 guest has no BIOS to return to; "boot the installed system" is done
one of two ways, chosen with ``pxe.localboot=WAY[,BUSID]``:

- ``kexec`` (the default): mount the disk's /boot read-only, read what it
  boots (a zipl.conf section, or Boot Loader Specification entries as zipl
  and petitboot read them) and kexec its default entry with its command
  line. The machine's IPL device stays the network card, so its next reboot
  asks the network again, as an x86 PC with the network first in its boot
  order does: the provisioning system keeps deciding every boot.
- ``reipl``: set /sys/firmware/reipl to the disk (type ccw, its bus-ID, the
  loadparm when given, clear 1) and reboot, as ``chreipl ccw`` and
  Foreman's kernel-reboot.img do: the firmware IPLs the disk with the
  disk's own loader. Later reboots go to the disk, not the network.

Which disk: the bus-ID given with the option, else the first ccw block
device, in bus-ID order, that holds boot entries.
"""

WAYS = ("kexec", "reipl")
DEFAULT_WAY = "kexec"
EMPTY_CONFIG = "empty config"

# zipl.conf keywords we use (s390-tools zipl/src/scan.c keyword table)
ZIPL_IMAGE, ZIPL_RAMDISK, ZIPL_PARAMETERS = "image", "ramdisk", "parameters"


class LocalbootError(Exception):
    """A one-line reason local boot cannot go on."""


def normalise_busid(text):
    """'0.0.01ab', '0.0.1AB' or '1ab' -> '0.0.01ab'; None when it is not a bus-ID."""
    t = text.strip().lower()
    parts = t.split(".")
    if len(parts) == 1:
        parts = ["0", "0", parts[0]]
    if len(parts) != 3 or not all(parts):
        return None
    for p in parts:
        if any(c not in "0123456789abcdef" for c in p):
            return None
    css, ssid, devno = int(parts[0], 16), int(parts[1], 16), int(parts[2], 16)
    if css > 0xff or ssid > 3 or devno > 0xffff:
        return None
    return "%x.%x.%04x" % (css, ssid, devno)


def busid_key(busid):
    """Sort key: (css, ssid, devno) as numbers."""
    return tuple(int(p, 16) for p in busid.split("."))


def parse_option(value):
    """pxe.localboot=WAY[,BUSID] (either part may come alone) -> (way, busid or None).
    Raises LocalbootError with a one-line message."""
    way, busid = DEFAULT_WAY, None
    for word in [w.strip() for w in (value or "").split(",") if w.strip()]:
        if word.lower() in WAYS:
            way = word.lower()
            continue
        b = normalise_busid(word)
        if b is None:
            raise LocalbootError("pxe.localboot=%s: %r is neither a way (%s) nor a ccw bus-ID like 0.0.0002"
                                 % (value, word, ", ".join(WAYS)))
        busid = b
    return way, busid


def chain_disk(args):
    """chain.c32's arguments -> (disk index or None, partition or None, note or None).

    The forms the provisioning templates write are ``hd0`` / ``hd1`` (Foreman's
    pxelinux_chainload snippet), optionally followed by a partition number
    (``hd0 1``) or written ``hd0,1``; hdN is the N-th ccw block device in
    bus-ID order. Other chain.c32 targets (mbr:, guid:, label:, fs, boot,
    a file name) name things of a PC's disks: the default disk is used and
    the note says so."""
    words = args.replace(",", " ").split()
    if words and words[0].lower().startswith("hd") and words[0][2:].isdigit():
        disk = int(words[0][2:])
        part = None
        if len(words) > 1 and words[1].isdigit():
            part = int(words[1])
        return disk, part, None
    if not words:
        return None, None, None
    return None, None, "chain.c32 %s: no s390 meaning; booting the first disk with boot entries" % args


def is_empty_config(text):
    """An empty or comment-only config (MAAS's local boot, xCAT petitboot's
    '#boot'): only blank lines and lines starting with '#' (bytes or str)."""
    if isinstance(text, str):
        text = text.encode()
    for line in text.split(b"\n"):
        t = line.strip()
        if t and t[:1] != b"#":
            return False
    return True


def describe(localboot):
    """What the plan's "localboot" value says, for the console."""
    if localboot == EMPTY_CONFIG:
        return "an empty config"
    return localboot


# -- zipl.conf ------------------------------------------------------------

def _unquote(v):
    v = v.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        return v[1:-1]
    return v


def parse_zipl_conf(text):
    """zipl.conf -> (default section name or None, {section: {key: value}}, order of sections).

    [defaultboot] default=NAME names the default; a menu (defaultmenu=M and
    a :M section with default=N and N=NAME) gives the same answer."""
    sections = {}
    order = []
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            sections.setdefault(current, {})
            order.append(current)
            continue
        if line.startswith(":"):
            current = line
            sections.setdefault(current, {})
            continue
        if current is None:
            continue
        if "=" in line:
            k, v = line.split("=", 1)
            sections[current][k.strip().lower()] = _unquote(v)
        else:
            sections[current][line.lower()] = ""
    default = None
    boot = sections.get("defaultboot", {})
    if boot.get("default"):
        default = boot["default"]
    elif boot.get("defaultmenu"):
        menu = sections.get(":" + boot["defaultmenu"], {})
        n = menu.get("default", "1")
        default = menu.get(n)
    entries = [s for s in order if s != "defaultboot" and ZIPL_IMAGE in sections[s]]
    if default is None and entries:
        default = entries[0]
    return default, sections, entries


# -- Boot Loader Specification entries -------------------------------------

def parse_bls(text):
    """One /boot/loader/entries/*.conf -> dict: title, version, linux,
    initrd (a list), options."""
    entry = {"initrd": []}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        i = 0
        while i < len(line) and line[i] not in " \t":
            i += 1
        key, value = line[:i], line[i:].strip()
        if key == "initrd":
            entry["initrd"].append(value)
        elif key in ("title", "version", "linux", "options"):
            entry[key] = value
    return entry


def verscmp(a, b):
    """strverscmp's order for entry file names: digit runs compare as numbers."""
    def runs(s):
        out, i = [], 0
        while i < len(s):
            j = i
            digit = s[i] in "0123456789"
            while j < len(s) and (s[j] in "0123456789") == digit:
                j += 1
            out.append((1, int(s[i:j]), "") if digit else (0, 0, s[i:j]))
            i = j
        return out
    ra, rb = runs(a), runs(b)
    for x, y in zip(ra, rb):
        if x != y:
            return -1 if x < y else 1
    return (len(ra) > len(rb)) - (len(ra) < len(rb))


def bls_default(names_texts):
    """[(file name, text)] -> (name, entry) of the default: the highest in
    version order (petitboot's discover/grub2/blscfg.c bls_sort is
    strverscmp newest first; zipl's scan_bls reads the same directory), or
    None when there is no entry with a kernel."""
    best = None
    for name, text in names_texts:
        if not name.endswith(".conf"):
            continue
        entry = parse_bls(text)
        if not entry.get("linux"):
            continue
        if best is None or verscmp(name, best[0]) > 0:
            best = (name, entry)
    return best


class Target:
    """What a disk boots: kernel and initrd paths on its /boot file system
    (relative to the file system's root), the command line, and where that
    was read (for the console)."""

    def __init__(self, kernel, initrd, cmdline, source):
        self.kernel = kernel
        self.initrd = initrd
        self.cmdline = cmdline
        self.source = source


def boot_target(read, boot_prefix):
    """The default entry of a mounted /boot, or None.

    read(path) returns a file's text or None; listdir is read("DIR/") giving
    names one per line (see machine.read_tree). boot_prefix is where /boot's
    files are on that file system: "boot/" when / and /boot are one, "" when
    /boot is a file system of its own. BLS entries win over zipl.conf, as
    zipl reads them when /boot/loader/entries exists."""
    listing = read(boot_prefix + "loader/entries/")
    if listing:
        names = [n for n in listing.splitlines() if n]
        pairs = [(n, read(boot_prefix + "loader/entries/" + n) or "") for n in names]
        found = bls_default(pairs)
        if found is not None:
            name, e = found
            return Target(_on_fs(e["linux"], boot_prefix), [_on_fs(i, boot_prefix) for i in e["initrd"]],
                          e.get("options", ""), "loader/entries/" + name)
    for conf in ("etc/zipl.conf",):
        text = read(conf)
        if text is None:
            continue
        default, sections, entries = parse_zipl_conf(text)
        if default and default in sections and ZIPL_IMAGE in sections[default]:
            s = sections[default]
            initrd = [_strip_root(s[ZIPL_RAMDISK])] if s.get(ZIPL_RAMDISK) else []
            return Target(_strip_root(s[ZIPL_IMAGE]), initrd, s.get(ZIPL_PARAMETERS, ""),
                          "/etc/zipl.conf [%s]" % default)
    return None


def _strip_root(path):
    return path.lstrip("/")


def _on_fs(path, boot_prefix):
    """A BLS path is relative to the partition holding the entries (/boot)."""
    return boot_prefix + path.lstrip("/")
