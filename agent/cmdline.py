"""From a config's entry to the kernel command line, as PXELINUX builds it.

resolve() turns a boot command (a label, or a kernel name, then options)
into an Entry: kernel, type, initrd names, the label's text
(readconfig.c:record), options typed or dropped (ALLOWOPTIONS);
command_line() joins them with the IPAPPEND/SYSAPPEND strings in
ldlinux.c:load_kernel's order (kernel.c:new_linux_kernel).
"""

from agent import search
from agent.pxeconfig import (ACTION_NAMES, BOOTABLE_TYPES, COM32, LINUX, LOCALBOOT, ConfigError, kernel_type,
                             split_command)

# chain.c32 boots a PC's local disk (com32/chain); on s390 it means local boot.
CHAIN_MODULE = "chain.c32"

# The source of a command a person typed at the boot: prompt (or the menu's).
TYPED = "the boot: prompt"


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
        self.localboot = None     # LOCALBOOT's argument, chain.c32's arguments: boot from disk


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


def resolve(cfg, command, source="", lab=None):
    """The Entry a command line (label name or kernel, then extra options) boots.

    lab: the label a menu entry stands for (menu.c32 runs an entry's own
    command line; a typed name finds the first label of that name).
    Raises ConfigError when it cannot boot here, with the reason.
    """
    word, extra = split_command(command)
    if not word:
        raise ConfigError("empty boot command")
    e = Entry()
    e.command = command
    e.source = source
    e.extra = extra
    if lab is None:
        lab = cfg.label(word)
    if lab is not None:
        e.label = lab.name
        if lab.action is not None:
            # readconfig.c: such entries have no command line to run.
            raise ConfigError("label %s is a %s entry: it boots nothing"
                              % (lab.name, ACTION_NAMES.get(lab.action, lab.action)))
        if lab.localboot is not None:
            # execute.c: IMAGE_TYPE_LOCALBOOT -> local_boot(strtoul(arg, NULL, 0)):
            # on s390, boot the installed system (agent/localboot.py).
            e.ktype = LOCALBOOT
            e.localboot = lab.localboot
            return e
        if not lab.kernel:
            raise ConfigError("label %s has no KERNEL" % lab.name)
        e.kernel = lab.kernel
        e.ktype = lab.ktype
        e.append = label_args(cfg, lab)
        e.ipappend = lab.ipappend
        # ldlinux.c:load_kernel keeps options typed after a label; only menu.c32
        # (a UI menu) with ALLOWOPTIONS 0 gives no way to type them (no Tab, no Esc).
        if not cfg.allowoptions and cfg.is_menu() and source == TYPED:
            e.dropped, e.extra = e.extra, ""
    else:
        if not cfg.implicit:
            raise ConfigError("%s names no label, and IMPLICIT 0 forbids booting other kernels"
                              % word)
        e.kernel = word
        e.ktype = kernel_type(word)
        # ldlinux.c:load_kernel: a kernel that is no label gets its own options
        # (none with ALLOWOPTIONS 0) and the SYSAPPEND strings; no APPEND, no INITRD.
        e.ipappend = cfg.ipappend
        if not cfg.allowoptions:
            e.dropped, e.extra = e.extra, ""
    if e.ktype == COM32 and e.kernel.split("/")[-1] == CHAIN_MODULE:
        e.localboot = _join(e.append, e.extra) or CHAIN_MODULE
        return e
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
    address written 0.0.0.0; nothing on an IPv6 lease (env ip6 without ip). Bit 2 (pxe.c:make_bootif_string): BOOTIF=01-<mac>.
    Bit 4 (sysappend.c:sysappend_set_uuid): SYSUUID=<uuid>, only for a valid UUID.
    The higher bits name DMI and CPU strings an s390 guest does not have."""
    out = []
    if bits & 1 and not (env.get("ip6") and not env.get("ip")):
        # On IPv6 nothing: the kernel's ip= has no IPv6 form (docs/reference.md).
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


def command_line(entry, env):
    """The kernel command line PXELINUX would hand the kernel (kernel.c:new_linux_kernel)."""
    args = command_args(entry, env)
    return "BOOT_IMAGE=%s %s" % (entry.kernel, args) if args else "BOOT_IMAGE=%s" % entry.kernel
