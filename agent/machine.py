"""Everything that changes the machine, behind one narrow module.

Commands run through busybox (MicroPython's os has system() but no
fork/exec); with DRY_RUN set they are only recorded in LOG, as u-root's
``pxeboot -no-exec`` does. Reading the machine's state (sysfs, /proc) is
harmless and always done.
"""


from agent.s390kernel import IMAGE_OFFSET, MAX_CMDLINE, PAGE, KexecError, head_size, s390_segments
from agent.compat import bootsys, os, path_join, exists, makedirs as _makedirs

DRY_RUN = False
LOG = []

# <linux/mount.h>, <linux/kexec.h>, <linux/reboot.h>
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
KEXEC_ARCH_S390 = 22 << 16
KEXEC_FILE_NO_INITRAMFS = 4
REBOOT_CMD_KEXEC = 0x45584543
REBOOT_CMD_RESTART = 0x01234567
EEXIST = 17


def direct():
    """True when the steps below are system calls (the image), not commands."""
    return bootsys is not None and not DRY_RUN


# Linux's numbers (MicroPython's errno module names only a few of them).
ERRNO_NAMES = {1: "EPERM", 2: "ENOENT", 5: "EIO", 7: "E2BIG", 8: "ENOEXEC", 9: "EBADF", 12: "ENOMEM",
               13: "EACCES", 14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 19: "ENODEV", 20: "ENOTDIR",
               22: "EINVAL", 28: "ENOSPC", 38: "ENOSYS", 61: "ENODATA", 74: "EBADMSG", 95: "EOPNOTSUPP",
               129: "EKEYREJECTED"}


def errname(e):
    """The errno name of an OSError ('EPERM'), the same on both Pythons."""
    code = e.args[0] if e.args and isinstance(e.args[0], int) else getattr(e, "errno", None)
    return ERRNO_NAMES.get(code) or "errno %s" % code


SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_"


def quote(arg):
    """Shell quoting (MicroPython's str has no isalnum)."""
    if arg and all(c in SAFE for c in arg):
        return arg
    return "'" + arg.replace("'", "'\"'\"'") + "'"


def shell_line(argv):
    return " ".join(quote(a) for a in argv)


def exit_status(raw):
    """os.system's value as an exit code (MicroPython returns the raw wait status)."""
    if raw is None:
        return 0
    if raw > 255 or raw & 0x7F:
        if raw & 0x7F:
            return 128 + (raw & 0x7F)
        return (raw >> 8) & 0xFF
    return raw


def run(argv, output=None):
    """Run a command; returns its exit code. output: file to capture stdout+stderr in."""
    line = shell_line(argv)
    if output:
        line += " >%s 2>&1" % quote(output)
    LOG.append(line)
    if DRY_RUN:
        return 0
    return exit_status(os.system(line))


def run_each(commands, failures="/.netboot-failed"):
    """Several commands in one shell: one fork of the interpreter and one exec
    of sh for all of them instead of one each (dear under emulation).
    commands: (argv, name, quiet) -- quiet sends the command's output to
    /dev/null. Returns the names of the commands that failed, in order."""
    lines = []
    for argv, name, quiet in commands:
        line = shell_line(argv)
        LOG.append(line)
        lines.append("%s%s || echo %s >&3" % (line, " >/dev/null 2>&1" if quiet else "", quote(name)))
    if DRY_RUN or not lines:
        return []
    # The failures go to fd 3, so each command's own messages still reach the
    # console; the file is at / because /tmp may be what is being mounted.
    os.system("{\n%s\n} 3>%s" % ("\n".join(lines), quote(failures)))
    try:
        with open(failures) as f:
            names = [n for n in f.read().splitlines() if n]
        os.remove(failures)
    except OSError:
        names = []
    return names


def run_background(argv, done):
    """Start a command and return at once; when it ends, its exit code is
    written to the file done (PID 1 has no fork: the shell puts it in the
    background, output to /dev/null)."""
    line = "{ %s >/dev/null 2>&1; echo $? >%s; } &" % (shell_line(argv), quote(done))
    LOG.append(line)
    if DRY_RUN:
        return
    os.system(line)


def run_capture(argv):
    """(exit code, output text) of a command."""
    out = "/tmp/.netboot-cmd.out"
    rc = run(argv, out)
    try:
        with open(out) as f:
            text = f.read()
        os.remove(out)
    except OSError:
        text = ""
    return rc, text


def write_file(path, text):
    LOG.append("write %s" % path)
    if DRY_RUN:
        return
    with open(path, "w") as f:
        f.write(text)


def remove(path):
    LOG.append("rm %s" % path)
    if DRY_RUN:
        return
    try:
        os.remove(path)
    except OSError:
        pass


def clean_dir(path):
    """Remove the files directly under path (an earlier attempt's downloads)."""
    LOG.append("rm %s/*" % path)
    if DRY_RUN:
        return
    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        try:
            os.remove(path_join(path, name))
        except OSError:
            pass


def file_size(path):
    """Size of a file in bytes, 0 when it does not exist."""
    try:
        return os.stat(path)[6]
    except OSError:
        return 0


def makedirs(path):
    if DRY_RUN:
        return
    _makedirs(path)


def read_text(path, default=""):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def mac_of(iface):
    return read_text("/sys/class/net/%s/address" % iface).strip() or None


def mtu_of(iface):
    try:
        return int(read_text("/sys/class/net/%s/mtu" % iface).strip())
    except ValueError:
        return None


def interfaces():
    """Ethernet interfaces (ARPHRD_ETHER), sorted by name."""
    out = []
    try:
        names = os.listdir("/sys/class/net")
    except OSError:
        return out
    for name in sorted(names):
        if read_text("/sys/class/net/%s/type" % name).strip() == "1" and name != "lo":
            out.append(name)
    return out


def boot_interface():
    """The interface the firmware netbooted from, or None.

    On s390 the IPL device is a CCW device (/sys/firmware/ipl/device, e.g.
    0.0.0001); its virtio child lists the network interface it carries.
    """
    if read_text("/sys/firmware/ipl/ipl_type").strip() != "ccw":
        return None
    dev = read_text("/sys/firmware/ipl/device").strip()
    if not dev:
        return None
    base = "/sys/bus/ccw/devices/" + dev
    try:
        for child in os.listdir(base):
            if child.startswith("virtio"):
                names = os.listdir(base + "/" + child + "/net")
                if names:
                    return sorted(names)[0]
    except OSError:
        pass
    return None


def carrier(iface):
    return read_text("/sys/class/net/%s/carrier" % iface).strip() == "1"


MOUNTS = (
    # fstype, source, target, flags, data
    ("proc", "proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None),
    ("sysfs", "sysfs", "/sys", MS_NOSUID | MS_NODEV | MS_NOEXEC, None),
    ("devtmpfs", "devtmpfs", "/dev", MS_NOSUID, "mode=0755"),
    ("tmpfs", "tmpfs", "/run", MS_NOSUID | MS_NODEV, "mode=0755"),
    ("tmpfs", "tmpfs", "/tmp", MS_NOSUID | MS_NODEV, "mode=1777"),
)


def mount_options(flags, data):
    """mount -o's text for flags and data."""
    words = [data] if data else []
    for bit, word in ((MS_NOSUID, "nosuid"), (MS_NODEV, "nodev"), (MS_NOEXEC, "noexec")):
        if flags & bit:
            words.append(word)
    return ",".join(words)


def mount_all():
    """proc, sysfs, devtmpfs, /run and /tmp; returns a list of failures."""
    commands = []
    failed = []
    for fstype, src, target, flags, data in MOUNTS:
        if not DRY_RUN and not exists(target):
            _makedirs(target)
        argv = ["mount", "-t", fstype, "-o", mount_options(flags, data), src, target]
        if direct():
            LOG.append(shell_line(argv))
            try:
                bootsys.mount(src, target, fstype, flags, data)
            except OSError as e:
                failed.append("%s (%s)" % (target, errname(e)))
        else:
            commands.append((argv, target, False))
    return failed + run_each(commands)


def load_modules(listfile="/etc/netboot/modules"):
    """insmod each module the image lists, in order; returns the ones that failed."""
    commands = []
    failed = []
    release = read_text("/proc/sys/kernel/osrelease").strip()
    for line in read_text(listfile).splitlines():
        rel = line.strip()
        if not rel:
            continue
        path = path_join("/lib/modules", release, rel)
        if not exists(path):
            # The image may have been built for another release: search by name.
            path = path_join("/lib/modules", rel) if exists(path_join("/lib/modules", rel)) else path
        name = rel.split("/")[-1]
        if direct():
            LOG.append(shell_line(["insmod", path]))
            try:
                bootsys.finit_module(path, "")
            except OSError as e:
                if e.args and e.args[0] != EEXIST:   # loaded already: the agent started again
                    failed.append("%s (%s)" % (name, errname(e)))
        else:
            commands.append((["insmod", path], name, True))
    return failed + run_each(commands)


def free_bytes(path):
    """Space left on the filesystem holding path (tmpfs: memory), or None."""
    try:
        st = os.statvfs(path)
    except (OSError, AttributeError):
        return None
    return st[0] * st[4]


def s390_head(kernel):
    """The kernel file's bytes from IMAGE_OFFSET to a page boundary past the
    end of the parameter area's command line (or the file's end), and the
    file's size."""
    size = os.stat(kernel)[6]
    with open(kernel, "rb") as f:
        f.seek(IMAGE_OFFSET)
        head = f.read(PAGE)
        if len(head) >= MAX_CMDLINE + 8:
            want = head_size(head)
            if want > len(head) and want <= 1 << 20:
                head += f.read(want - len(head))
    return bytes(head), size


def kexec_direct(kernel, initrd, cmdline):
    """kexec_load with bootsys; raises KexecError or OSError."""
    head, size = s390_head(kernel)
    isize = os.stat(initrd)[6] if initrd else None
    patched, segments = s390_segments(head, size, isize, cmdline)
    files = {"head": patched, "kernel": kernel, "initrd": initrd}
    bootsys.kexec_load(IMAGE_OFFSET, [(files[src], off, n, mem, memsz) for src, off, n, mem, memsz in segments],
                       KEXEC_ARCH_S390)


def kexec_load(kernel, initrd, cmdline):
    """Load the kernel: the classic kexec_load first, kexec_file_load (-s) after.

    Returns (ok, message). Debian 12's s390x kernel has only the classic call
    (trying -s first cost a failed kexec run, about 0.4 s under emulation); a
    kernel that refuses the classic call (lockdown) gets the -s one. In the
    image both are system calls (bootsys); elsewhere kexec-tools runs.
    """
    if direct():
        LOG.append("kexec_load %s%s" % (kernel, " " + initrd if initrd else ""))
        try:
            kexec_direct(kernel, initrd, cmdline)
            return True, "kexec_load"
        except KexecError as e:
            # Nothing the other call could load either.
            return False, str(e)
        except OSError as e:
            classic = "kexec_load: %s" % errname(e)
        try:
            bootsys.kexec_file_load(kernel, initrd, cmdline, 0 if initrd else KEXEC_FILE_NO_INITRAMFS)
            return True, "kexec_file_load"
        except OSError as e:
            return False, "kexec_file_load: %s; %s" % (errname(e), classic)
    base = ["kexec"]
    args = [kernel]
    if initrd:
        args.append("--initrd=%s" % initrd)
    args.append("--command-line=%s" % cmdline)
    rc, out = run_capture(base + ["-l"] + args)
    if rc == 0:
        return True, "kexec_load"
    classic = out.strip().splitlines()[-1] if out.strip() else "exit %d" % rc
    rc, out = run_capture(base + ["-s", "-l"] + args)
    if rc == 0:
        return True, "kexec_file_load"
    filed = out.strip().splitlines()[-1] if out.strip() else "exit %d" % rc
    return False, "kexec -s: %s; kexec -l: %s" % (filed, classic)


def kexec_exec():
    """Jump into the loaded kernel; returns (with what went wrong) only if that failed."""
    if direct():
        LOG.append("kexec -e")
        bootsys.sync()
        try:
            bootsys.reboot(REBOOT_CMD_KEXEC)
        except OSError as e:
            return "reboot(LINUX_REBOOT_CMD_KEXEC): %s" % errname(e)
        return "reboot(LINUX_REBOOT_CMD_KEXEC) returned"
    rc, out = run_capture(["kexec", "-e"])
    return out.strip() or "exit %d" % rc


REIPL_CCW_CLEAR = "/sys/firmware/reipl/ccw/clear"


def reboot():
    """Re-IPL: the firmware starts again from the re-IPL device (the IPL
    device unless changed), i.e. a netboot from the NIC.

    Linux re-IPLs a CCW device with DIAG 308 subcode 4 (load normal) unless
    /sys/firmware/reipl/ccw/clear is 1, then subcode 3 (load clear)
    (arch/s390/kernel/ipl.c __reipl_run). KVM handles subcode 4 in the host
    kernel (arch/s390/kvm/diag.c __diag_ipl_functions), but QEMU's own
    handle_diag_308 (target/s390x/diag.c), which TCG uses, knows only 0, 1,
    3, 5, 6 and 8-10: subcode 4 gets a specification exception and the
    reboot ends in a disabled wait. A netboot loader keeps nothing in memory
    across the re-IPL, so clear costs nothing and works on both."""
    if read_text(REIPL_CCW_CLEAR, None) is not None:
        try:
            write_file(REIPL_CCW_CLEAR, "1\n")
        except OSError:
            pass
    if direct():
        LOG.append("reboot -f")
        bootsys.sync()
        try:
            bootsys.reboot(REBOOT_CMD_RESTART)
        except OSError:
            pass
    run(["reboot", "-f"])


def shell():
    """A busybox shell on the console, for rescue; returns when it exits."""
    run(["setsid", "cttyhack", "sh"])


# -- local disks (issue 27: LOCALBOOT, chain.c32, an empty config) ---------

MS_RDONLY = 1
# What an installed s390 Linux keeps /boot on: ext4 (Debian, Ubuntu), xfs
# (RHEL, Fedora), btrfs (SUSE); iso9660 for an installer disk. Each needs its
# module in the image (packager's module list); a type whose module is
# missing just fails to mount and the next is tried.
LOCAL_FSTYPES = ("ext4", "xfs", "btrfs", "iso9660", "vfat")


def ccw_disks(sysfs="/sys"):
    """[(bus-ID, block device name)] of the ccw block devices, in bus-ID order:
    virtio-blk (/sys/bus/ccw/devices/<id>/virtio<n>/block/<vdX>) and DASD
    (/sys/bus/ccw/devices/<id>/block/<dasdX>, only when online). Reading
    only: harmless, also in a dry run."""
    base = sysfs + "/bus/ccw/devices"
    try:
        ids = os.listdir(base)
    except OSError:
        return []
    found = []
    for busid in ids:
        dev = base + "/" + busid
        for sub in [""] + sorted(n for n in _listdir(dev) if n.startswith("virtio")):
            blockdir = dev + ("/" + sub if sub else "") + "/block"
            names = sorted(_listdir(blockdir))
            if names:
                found.append((busid, names[0]))
                break
    found.sort(key=lambda p: tuple(int(x, 16) for x in p[0].split(".")))
    return found


def _listdir(path):
    try:
        return os.listdir(path)
    except OSError:
        return []


def partitions(block, sysfs="/sys"):
    """The partitions of a block device (/sys/class/block/<dev>/<dev>N with a
    'partition' file), in number order; [block] itself when it has none."""
    base = sysfs + "/class/block/" + block
    parts = []
    for name in _listdir(base):
        if name.startswith(block) and read_text(base + "/" + name + "/partition", None) is not None:
            tail = name[len(block):].lstrip("p")
            parts.append((int(tail) if tail.isdigit() else 0, name))
    parts.sort()
    return [n for _, n in parts] or [block]


def mount_ro(device, target, fstypes=LOCAL_FSTYPES):
    """Mount device read-only at target, trying each file system type; returns
    (fstype, None) or (None, what failed)."""
    if not DRY_RUN and not exists(target):
        _makedirs(target)
    tried = []
    for fstype in fstypes:
        argv = ["mount", "-r", "-t", fstype, device, target]
        if direct():
            LOG.append(shell_line(argv))
            try:
                bootsys.mount(device, target, fstype, MS_RDONLY, None)
                return fstype, None
            except OSError as e:
                tried.append("%s %s" % (fstype, errname(e)))
        else:
            LOG.append(shell_line(argv))
            if DRY_RUN:
                return fstype, None
            rc = os.system(shell_line(argv) + " 2>/dev/null")
            if exit_status(rc) == 0:
                return fstype, None
            tried.append(fstype)
    return None, "mount %s: %s" % (device, ", ".join(tried))


def umount(target):
    LOG.append("umount %s" % target)
    if DRY_RUN:
        return
    if bootsys is not None and hasattr(bootsys, "umount"):
        try:
            bootsys.umount(target)
            return
        except OSError:
            pass
    os.system("umount %s 2>/dev/null" % quote(target))


def set_reipl_ccw(busid, loadparm=None, sysfs="/sys"):
    """Point the next re-IPL at a ccw device (what `chreipl ccw BUSID` does),
    with clear 1 (see reboot). Returns None or what failed."""
    base = sysfs + "/firmware/reipl"
    steps = [(base + "/ccw/device", busid + "\n"), (base + "/reipl_type", "ccw\n")]
    if loadparm:
        steps.append((base + "/ccw/loadparm", loadparm + "\n"))
    if read_text(base + "/ccw/clear", None) is not None or DRY_RUN:
        steps.append((base + "/ccw/clear", "1\n"))
    for path, text in steps:
        try:
            write_file(path, text)
        except OSError as e:
            return "writing %s: %s" % (path, errname(e))
    return None
