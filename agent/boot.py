"""The boot flow, run as PID 1 (/init) by the frozen agent.

mount -> lo and network modules -> options from the kernel command line ->
DHCP on each Ethernet interface with a link -> config search -> menu ->
transfers -> kexec. When something fails the console gets one line saying
what and why, then: ONERROR when the config has one, else the boot: prompt
again when a menu was shown, else a reboot after the option-211 time (300 s
when absent) that Enter interrupts. PID 1 never returns.

Agent options on the kernel command line (``packager build --cmdline`` can
build them in):

  pxe.debug          more messages (commands run, notes on the config)
  pxe.if=IF[,IF]     interfaces to try, in order, by name or MAC (default: every Ethernet one)
  pxe.ip=4|6|any     DHCP family: both are asked at once by default, IPv4 wins when both answer
  pxe.label=NAME     boot this label (or menu number) instead of the default
  pxe.config=NAME    use this config file (name or URL) instead of searching
  pxe.prompt         the boot: prompt even with PROMPT 0 (Syslinux's held Shift key)
  pxe.server=HOST    boot server for tftp:// names (default: from the lease)
  pxe.shell          a rescue shell before anything else
  pxe.window=N       TFTP windowsize to ask for (default 16; 1 turns it off)
  pxe.blksize=N      TFTP blksize to ask for (default: from the MTU)
  pxe.noexec         do everything but kexec (for testing a setup)
  pxe.https-only     every name the config search and the config resolve to
                     must be https:// (packager build --https-only builds it in)
  pxe.https-host=H[,H]  and on those hosts only (packager build --https-host)
  pxe.spread=S       wait a random 0..S seconds before the first DHCP request
                     (packager build --spread S builds a default in; 0 turns it off)
  pxe.localboot=WAY[,BUSID]  how LOCALBOOT, chain.c32 and an empty config boot
                     the installed system: kexec (default: its zipl.conf or BLS
                     default entry) or reipl (the disk's own loader); BUSID
                     (0.0.xxxx) names the disk (default: the first ccw disk
                     with boot entries)
  pxe.verify=required  signed boot: every config, kernel and initrd needs a
                     valid NAME.sig under the image's signing roots (agent.verify;
                     packager build --sign-ca builds it in, and then nothing
                     on the command line turns it off)
"""

from agent import cmdline, dhcp, inet, lease as leases, localboot, machine, menu, pxeconfig, search
from agent import plan as planmod
from agent.compat import now_ms, os, random_unit
from agent.pxeconfig import first_word
from agent.fetch import FetchError, NotFound, close
from agent.tftp import ServerRefused
from agent.text import clean_text
from agent.console import Console, Progress, human, rate

WORKDIR = "/tmp/netboot"
DEFAULTS = "/etc/s390-netboot/defaults"   # pxe.* words built into the image
DEFAULT_REBOOT_S = 300
MAX_DISPLAY_LINES = 200    # lines of a DISPLAY file shown
SPACE_RESERVE = 16 << 20   # memory kept free for the kernel's own use while fetching


def parse_cmdline(text):
    """The pxe.* options of a kernel command line, as a dict (flags map to True)."""
    opts = {}
    for word in text.split():
        if not word.startswith("pxe."):
            continue
        word = word[4:]
        if "=" in word:
            k, v = word.split("=", 1)
            opts[k] = v
        else:
            opts[word] = True
    return opts


def load_options(builtin, cmdline):
    """Options built into the image (packager build --https-only/--https-host),
    then the kernel command line's, which win, except that the image's
    pxe.https-only and pxe.https-host stay: they are the image's trust
    decision, and anyone who can edit a guest's command line must not undo
    them (pxe.https-only=)."""
    opts = parse_cmdline(builtin + " " + cmdline)
    image = parse_cmdline(builtin)
    if image.get("https-only"):
        opts["https-only"] = True
    if image.get("https-host"):
        opts["https-host"] = image["https-host"]
    if image.get("verify") == "required":
        asked = parse_cmdline(cmdline).get("verify")
        if asked is not None and asked != "required":
            opts["verify-ignored"] = asked  # _main says so on the console
        opts["verify"] = "required"
    # The image's own roots only (agent.plan.signing_roots): no other file
    # named on the command line.
    opts.pop("sign-ca", None)
    return opts


def int_option(opts, name, default, low=None, high=None):
    """A numeric pxe.NAME=N option; a missing, malformed or out-of-range
    (low..high) one gives the default, with a line saying so."""
    value = opts.get(name)
    if not isinstance(value, str):
        return default
    try:
        n = int(value) if len(value) < 12 else None
    except ValueError:
        n = None
    if n is None or (low is not None and n < low) or (high is not None and n > high):
        want = "a number" if low is None else "a number from %d to %d" % (low, high)
        Console().error("pxe.%s=%s is not %s: using the default" % (name, clean_text(value, 40), want))
        return default
    return n


class BootFailure(Exception):
    pass


def machine_uuid():
    """The guest's UUID from /proc/sysinfo (KVM on s390 shows it as 'VM00 UUID')."""
    for line in machine.read_text("/proc/sysinfo").splitlines():
        if "UUID" in line and ":" in line:
            value = line.split(":", 1)[1].strip()
            try:
                return search.normalise_uuid(value)
            except ValueError:
                continue
    return None


def interfaces_named(words):
    """pxe.if's words as interface names: a name as it is, a MAC address (any
    case, ':' or '-') as the interface that has it. Kernel names (eth0, eth1)
    follow the order the devices were probed in, which varies from boot to
    boot on a guest with several NICs; a MAC does not."""
    out = []
    macs = None
    for word in words:
        mac = word.lower().replace("-", ":")
        if len(mac) == 17 and mac.count(":") == 5:
            if macs is None:
                macs = dict((machine.mac_of(i).lower(), i) for i in machine.interfaces())
            if mac in macs:
                out.append(macs[mac])
            continue
        if word:
            out.append(word)
    return out


def get_lease(con, opts):
    """The first lease from udhcpc on the interfaces, in order; raises BootFailure."""
    if isinstance(opts.get("if"), str):
        names = interfaces_named(opts["if"].split(","))
    else:
        # Every Ethernet interface, the one the firmware booted from first.
        names = machine.interfaces()
        first = machine.boot_interface()
        if first in names:
            names.remove(first)
            names.insert(0, first)
    if not names:
        raise BootFailure("no Ethernet interface found (is the virtio-net module in the image?)")
    tried = []
    for iface in names:
        machine.run(["ip", "link", "set", iface, "up"])
        start = now_ms()
        while not machine.carrier(iface) and now_ms() - start < 5000:
            import time
            time.sleep(0.1)
        if not machine.carrier(iface):
            tried.append("%s: no link" % iface)
            continue
        family = opts.get("ip") if opts.get("ip") in ("4", "6") else "any"
        con.say("DHCP%s on %s (%s)" % ({"4": "", "6": "v6", "any": " and DHCPv6"}[family], iface,
                                      machine.mac_of(iface)))
        lease = lease_on(con, iface, family)
        if lease:
            return lease
        tried.append("%s: no answer" % iface)
    raise BootFailure("no DHCP lease on any interface (%s)" % "; ".join(tried))


V4_GRACE_MS = 1000     # after a DHCPv6 lease, how long an IPv4 one may still win
V4_WAIT_MS = 15000     # udhcpc's own bound (4 tries, 2 s apart, plus its hook) and some


def lease_on(con, iface, family):
    """A lease on one interface: IPv4 (busybox udhcpc) and IPv6 (agent.dhcp6)
    asked at once, so neither family's silence costs the other's time-out.
    IPv4 wins when both answer (a DHCPv4 lease that arrives up to V4_GRACE_MS
    after the DHCPv6 one), unless pxe.ip=6; pxe.ip=4|6 asks only that family."""
    import time
    for f in (4, 6):
        machine.remove(leases.lease_path(iface, f))  # a lease from an earlier attempt is stale
    if family == "4":
        machine.run(dhcp.udhcpc_argv(iface), None if con.debug_on else "/dev/null")
        return _v4(iface)
    mac = machine.mac_of(iface)
    if family == "6":
        return _v6(con, iface, mac, None)
    done = "/run/netboot/udhcpc-%s.done" % iface
    pidfile = "/run/netboot/udhcpc-%s.pid" % iface
    machine.remove(done)
    machine.run_background(dhcp.udhcpc_argv(iface, pidfile=pidfile), done)
    lease6 = _v6(con, iface, mac, lambda: _v4(iface) is not None)
    end = now_ms() + (V4_GRACE_MS if lease6 else V4_WAIT_MS)
    while now_ms() < end and not machine.exists(done) and _v4(iface) is None:
        time.sleep(0.1)
    lease4 = _v4(iface)
    if lease4 is not None:
        return lease4
    if not machine.exists(done):
        pid = machine.read_text(pidfile).strip()
        if inet.is_digits(pid):
            machine.run(["kill", pid])
    return lease6


def _v4(iface):
    lease = leases.read(iface)
    return lease if lease and lease.get("ip") else None


def _v6(con, iface, mac, stop):
    from agent import dhcp6
    try:
        lease = dhcp6.obtain(iface, mac, con.say, stop)
    except OSError as e:
        con.error("DHCPv6 on %s failed: %s" % (iface, e))
        return None
    if lease is None:
        return None
    return dhcp6.configure(lease, con.say)


def environment(lease, opts):
    """(fetcher, env) for this boot: agent.plan.environment with the lease,
    the pxe.* options and the guest's own limits (free memory for files,
    the interface's MTU for TFTP's blksize)."""
    iface = lease.get("interface")

    def space_for(dest):
        # The file being fetched replaces any earlier one of the same name.
        free = machine.free_bytes(WORKDIR)
        return None if free is None else max(0, free + machine.file_size(dest) - SPACE_RESERVE)

    def mtu(addr):
        return machine.mtu_of(iface)
    from agent.tftp import DEFAULT_WINDOW
    window = int_option(opts, "window", DEFAULT_WINDOW, 1, 65535)           # RFC 7440
    blksize = int_option(opts, "blksize", None, 8, 65464)                   # RFC 2348
    return planmod.environment(opts, lease, machine_uuid(), space_for, blksize=blksize, windowsize=window,
                               mtu_of=mtu)


def fetch_file(con, fetcher, url, dest, server):
    name = clean_text(search.display(url, server), 200)  # a config's name never reaches the console raw
    start = now_ms()
    from agent.verify import Unsigned, reason
    try:
        size = fetcher.fetch(url, dest, Progress(con.raw, name, True))
    except Unsigned as e:
        raise BootFailure("%s refused: %s" % (name, reason(e.reason, url)))
    except NotFound as e:
        # "not found", or another TFTP ERROR the server gave instead (its text, cleaned).
        why = "server error %d: %s" % (e.code, e.server_text) if isinstance(e, ServerRefused) else ""
        raise BootFailure("%s not found on %s%s" % (name, _where(url, server), " (%s)" % why if why else ""))
    except FetchError as e:
        raise BootFailure("fetching %s failed: %s" % (name, e))
    except OSError as e:
        raise BootFailure("fetching %s failed: %s" % (name, e))
    ms = now_ms() - start
    con.say("fetched %s: %s in %.1f s, %.1f MiB/s" % (name, human(size), ms / 1000.0, rate(size, ms)))
    return size


def _where(url, server):
    try:
        if url.startswith("tftp://"):
            return "TFTP server %s (tftp path %s)" % (server, clean_text(inet.split_url(url)[3]))
    except ValueError:
        pass
    return clean_text(url.split("/")[2] if url.count("/") >= 2 else url)


def concat(paths, dest):
    """Append paths after the first into it (PXELINUX hands several initrds as one).

    Each piece starts on a 4-byte boundary, zero-padded, as Syslinux aligns
    archives (com32/lib/syslinux/initramfs_archive.c); the kernel skips the
    zeros between archives. Through one 64 KiB buffer: a 1 MiB read per piece
    ran the image's heap out (MemoryError with a 1.2 MiB second initrd)."""
    from agent.fetch import copy_file
    buf = bytearray(65536)
    size = os.stat(paths[0])[6]
    with open(paths[0], "ab") as out:
        for p in paths[1:]:
            pad = -size & 3
            if pad:
                out.write(b"\0" * pad)
            with open(p, "rb") as f:
                size += pad + copy_file(f, out, buf)
            os.remove(p)
    if paths[0] != dest:
        os.rename(paths[0], dest)


def boot_plan(con, fetcher, p, noexec=False):
    """Fetch and kexec what the plan names; raises BootFailure."""
    machine.makedirs(WORKDIR)
    kernel = WORKDIR + "/kernel"
    fetch_file(con, fetcher, p.kernel, kernel, p.server)
    initrd = None
    if p.initrd:
        parts = []
        for i, url in enumerate(p.initrd):
            path = "%s/initrd.%d" % (WORKDIR, i)
            fetch_file(con, fetcher, url, path, p.server)
            parts.append(path)
        initrd = WORKDIR + "/initrd"
        try:
            concat(parts, initrd)
        except OSError as e:
            # The pieces and the joined file share the RAM-backed /tmp for a moment.
            raise BootFailure("joining the %d initrds failed: %s (too little memory for them in /tmp?)"
                              % (len(parts), e))
    con.say("kexec %s%s" % (search.display(p.kernel, p.server),
                            " with %d initrd(s)" % len(p.initrd) if p.initrd else ""))
    con.say("command line: %s" % p.cmdline)
    close(fetcher)   # the connections kept open end before the next kernel takes the network
    ok, how = machine.kexec_load(kernel, initrd, p.cmdline)
    if not ok:
        raise BootFailure("kexec refused the kernel: %s" % how)
    con.debug("loaded with %s" % how)
    if noexec:
        con.say("pxe.noexec: not starting the kernel")
        raise BootFailure("pxe.noexec given: stopped before kexec -e")
    con.say("starting the kernel")
    msg = machine.kexec_exec()
    raise BootFailure("kexec -e returned: %s" % msg)


def interactive(cfg):
    return bool(cfg.prompt or cfg.timeout or cfg.totaltimeout)


def choose(con, p, fetcher, shift=False, resume=False):
    """What the console boots: (command, source, label), Syslinux's decision
    (agent.menu.session, the one plan uses) with a person at the console.

    shift: pxe.prompt, the held Shift key a line-mode console lacks.
    resume: after a failed boot, where ldlinux.c goes on: its prompt (a UI's
    menu again)."""
    cfg = p.cfg
    for text in cfg.display:
        try:
            shown = pxeconfig.decode(fetcher.read(search.resolve(text, p.prefix, p.server)))
        except FetchError:
            con.debug("DISPLAY %s: not found" % text)
            continue
        for line in shown.splitlines()[:MAX_DISPLAY_LINES]:
            con.line(line)
    for line in cfg.say:
        con.line(line)
    def show(default):
        for line in menu.menu_lines(cfg, None, default):
            con.line(line)

    def note(text):
        con.debug("note: %s" % text)
    try:
        return menu.drive(cfg, lambda action: ask(con, cfg, action), shift, resume, con.line, note, show,
                          probe=planmod.prober(fetcher, p))
    except pxeconfig.ConfigError as e:
        raise BootFailure(str(e))


def ask(con, cfg, action):
    """One wait at the boot: prompt (or the menu's): the line typed, or None
    when it timed out. A line-mode console sends nothing before Enter, so an
    empty line during a countdown is the key press that stops it (cli.c: the
    countdown is for the first key only); TOTALTIMEOUT still runs. 'shell'
    (when no label has that name) starts a busybox shell."""
    kbd, total, what = action[2], action[3], action[4]
    deadline = now_ms() + total * 100 if total else None
    first = menu.first_wait(kbd, total)
    if kbd and what:
        con.line(menu.countdown_text((first + 9) // 10, first_word(what)))
    wait = first / 10.0
    counting = bool(kbd)
    while True:
        con.raw("boot: ")
        line = con.wait_line(wait)
        if line is None:
            con.raw("\n")
            return None
        typed = line.strip()
        if typed == "shell" and cfg.label("shell") is None:
            con.say("starting a shell; exit it to return to the boot: prompt")
            machine.shell()
        elif typed or not counting:
            return typed
        counting = False
        wait = _left(deadline)


def _left(deadline):
    if deadline is None:
        return 0
    return max(0.001, (deadline - now_ms()) / 1000.0)


MAX_SPREAD_S = 3600


def spread_start(con, opts):
    """pxe.spread=S: wait a random 0..S seconds before the first DHCP request,
    so that guests powered on together do not all ask at once (RFC 2131 4.4.1
    asks for a random 1-10 s); 0 (the default) does not wait."""
    spread = int_option(opts, "spread", 0, 0, MAX_SPREAD_S)
    if spread:
        import time
        wait = spread * random_unit()
        con.say("pxe.spread=%d: waiting %.1f s before the first request" % (spread, wait))
        time.sleep(wait)


def run_once(con, opts, state):
    """One attempt from DHCP to kexec; raises BootFailure with the reason."""
    if state.get("lease") is None:
        spread_start(con, opts)
        state["lease"] = get_lease(con, opts)
        lease = state["lease"]
        if lease.get("family") == 6:
            con.say("DHCPv6 %s lease %s on %s, boot file %s" % (
                lease.get("mode"), lease.get("ip6"), lease.get("interface"), leases.bootfile(lease)))
        else:
            con.say("lease %s/%s on %s from %s, boot server %s, boot file %s" % (
                lease.get("ip"), lease.get("prefix"), lease.get("interface"), lease.get("server_id"),
                leases.boot_server(lease), leases.bootfile(lease)))
    lease = state["lease"]
    # This attempt's own plan only: a failure before the config is found must
    # not act on an earlier attempt's ONERROR or menu (it repeated forever).
    state.pop("plan", None)
    # The files of an earlier attempt are not counted against this one's space.
    machine.clean_dir(WORKDIR)
    try:
        fetcher, env = environment(lease, opts)
    except (leases.LeaseError, planmod.OptionError) as e:
        raise BootFailure(str(e))
    onerror_of = state.pop("onerror_of", None)
    label = opts.get("label") if isinstance(opts.get("label"), str) else None
    config = opts.get("config") if isinstance(opts.get("config"), str) else None
    shown = []

    def show(p):
        state["plan"] = p
        con.say("config %s" % search.display(p.config, p.server))
        for note in p.notes[len(shown):]:
            con.debug("note: %s" % note)
        shown[:] = p.notes

    chooser = None
    state["at_console"] = False  # whether this attempt's choice was typed by someone
    if onerror_of is None and label is None and not state.get("menu_done"):
        # The console decides, config by config (CONFIG hops show theirs).
        resume = ["menu_done" in state]  # set False by a failure: the prompt again
        state["menu_done"] = True

        def chooser(p):
            show(p)
            again, resume[0] = resume[0], False
            command, source, lab = choose(con, p, fetcher, opts.get("prompt") is True, again)
            state["at_console"] = source == cmdline.TYPED
            return command, source, lab
    try:
        p = planmod.make_plan(fetcher, env, label, config, chooser, onerror_of)
    except planmod.PlanError as e:
        raise BootFailure(str(e))
    except FetchError as e:
        raise BootFailure("config search failed: %s" % e)
    except MemoryError as e:
        raise BootFailure(memory_failure(e, "reading the configs"))
    if chooser is None:
        show(p)
    state["plan"] = p
    if p.localboot is not None:
        boot_local(con, opts, p)
    con.say("booting %s" % (p.entry.label or p.entry.kernel))
    boot_plan(con, fetcher, p, bool(opts.get("noexec")))


LOCAL_MNT = "/mnt/disk"
LOCAL_MODULES = "/etc/netboot/modules.local"   # file systems and DASD, loaded for local boot only


def boot_local(con, opts, p, sysfs="/sys", mnt=LOCAL_MNT):
    """LOCALBOOT, chain.c32 or an empty config: boot the installed system from
    a ccw disk (agent/localboot.py has the rules). Returns only by raising
    BootFailure, with one line saying why."""
    what = localboot.describe(p.localboot)
    if p.entry is not None and p.entry.label:
        what = "%s (label %s)" % (what, p.entry.label)
    value = opts.get("localboot")
    try:
        way, busid = localboot.parse_option(value if isinstance(value, str) else "")
    except localboot.LocalbootError as e:
        raise BootFailure(str(e))
    index = None
    if p.entry is not None and p.entry.ktype != pxeconfig.LOCALBOOT:
        index, _, note = localboot.chain_disk(p.localboot)
        if note:
            con.say(note)
    disks = machine.ccw_disks(sysfs)
    if busid is not None:
        disks = [d for d in disks if d[0] == busid]
        if not disks:
            raise BootFailure("local boot, %s: no ccw block device %s (pxe.localboot)" % (what, busid))
    elif index is not None:
        if index >= len(disks):
            raise BootFailure("local boot, %s: there is no disk hd%d, only %d ccw block device(s)"
                              % (what, index, len(disks)))
        disks = [disks[index]]
    if not disks:
        raise BootFailure("local boot, %s: no ccw block device (virtio-blk or online DASD) to boot from"
                          % what)
    if way == "reipl":
        dev, block = disks[0]
        con.say("local boot, %s: re-IPL from disk %s (%s)" % (what, dev, block))
        err = machine.set_reipl_ccw(dev, None, sysfs)
        if err:
            raise BootFailure("local boot: %s" % err)
        if opts.get("noexec"):
            raise BootFailure("pxe.noexec given: stopped before the re-IPL")
        machine.reboot()
        raise BootFailure("local boot: the re-IPL from %s did not happen" % dev)
    if not opts.get("noexec"):
        # The file systems' modules, only now: a guest without a disk hears so at once.
        for name in machine.load_modules(LOCAL_MODULES):
            con.debug("module %s did not load" % name)
    tried = []
    for dev, block in disks:
        for part in machine.partitions(block, sysfs):
            target = find_target(mnt, "/dev/" + part, tried)
            if target is None:
                continue
            kernel = mnt + "/" + target.kernel
            initrd = None
            if len(target.initrd) == 1:
                initrd = mnt + "/" + target.initrd[0]
            elif target.initrd:
                initrd = WORKDIR + "/initrd"
                machine.makedirs(WORKDIR)
                concat([mnt + "/" + i for i in target.initrd], initrd)
            con.say("local boot, %s: disk %s (%s), %s" % (what, dev, part, target.source))
            con.say("kexec %s%s" % (target.kernel, " with %s" % ", ".join(target.initrd) if target.initrd else ""))
            con.say("command line: %s" % target.cmdline)
            ok, how = machine.kexec_load(kernel, initrd, target.cmdline)
            machine.umount(mnt)
            if not ok:
                raise BootFailure("kexec refused the disk's kernel %s: %s" % (target.kernel, how))
            if opts.get("noexec"):
                raise BootFailure("pxe.noexec given: stopped before kexec -e")
            con.say("starting the kernel")
            raise BootFailure("kexec -e returned: %s" % machine.kexec_exec())
    raise BootFailure("local boot, %s: no boot entries (zipl.conf or /boot/loader/entries) on %s%s"
                      % (what, ", ".join(d for d, _ in disks), "; " + "; ".join(tried) if tried else ""))


def find_target(mnt, device, tried):
    """Mount device read-only at mnt and read what it boots (localboot.boot_target),
    as a root file system holding /boot, then as /boot itself; None when neither."""
    fstype, err = machine.mount_ro(device, mnt)
    if fstype is None:
        tried.append(err)
        return None

    def read(path):
        full = mnt + "/" + path
        if path.endswith("/"):
            try:
                return "\n".join(sorted(os.listdir(full[:-1])))
            except OSError:
                return None
        text = machine.read_text(full, None)
        return text
    for prefix in ("boot/", ""):
        target = localboot.boot_target(read, prefix)
        if target is not None:
            return target
    machine.umount(mnt)
    return None


def memory_failure(e, doing):
    """The failure line for a MemoryError: the heap is freed first (the line
    itself needs memory)."""
    import gc
    gc.collect()
    return "out of memory while %s (%s): see the limits in docs/reference.md" % (doing, str(e) or "MemoryError")


MAX_UNATTENDED_FAILURES = 3


def after_failure(con, opts, state, msg):
    """What follows a failure: ONERROR, the prompt again, or a reboot countdown.

    Syslinux goes back to its prompt after every failed boot, and a prompt
    with a TIMEOUT boots the same default again, for ever. Here a boot that
    nobody typed fails at most MAX_UNATTENDED_FAILURES times in a row; then
    the reboot countdown follows (a reboot asks DHCP again and searches the
    configs anew: a server that moved or came back is found)."""
    con.error(msg)
    p = state.get("plan")
    cfg = p.cfg if p is not None else None
    # Only a line someone typed resets the count: pxe.label and ONERROR are
    # no person at the console (they would retry for ever).
    typed = state.get("at_console") and p is not None and p.entry is not None and p.entry.source == cmdline.TYPED
    state["unattended_failures"] = 0 if typed else state.get("unattended_failures", 0) + 1
    if typed:
        state["onerror_used"] = False  # a boot someone typed starts a new chain: ONERROR again
    if cfg is not None and cfg.onerror and not state.get("onerror_used"):
        # ldlinux.c:load_kernel boots ONERROR itself, from the config that failed.
        state["onerror_used"] = True
        con.say("ONERROR: %s" % cfg.onerror)
        state["onerror_of"] = p
        return
    if cfg is not None and interactive(cfg):
        if state["unattended_failures"] < MAX_UNATTENDED_FAILURES:
            state["menu_done"] = False
            return
        con.say("%d boots in a row failed with nobody typing at the prompt" % state["unattended_failures"])
    lease = state.get("lease") or {}
    # Spread by up to a tenth (30 s at most): guests that failed together
    # do not all come back to the boot server at the same moment.
    base = lease.get("opt211") or DEFAULT_REBOOT_S
    seconds = base + int(min(30, base // 10) * random_unit())
    con.say("rebooting in %d s; press Enter for a shell" % seconds)
    line = con.wait_line(seconds)
    if line is not None:
        con.say("starting a shell; exit it to try the boot again")
        machine.shell()
        state.clear()
        return
    con.say("rebooting")
    machine.reboot()


def setup(con):
    failed = machine.mount_all()
    if failed:
        con.error("could not mount %s" % ", ".join(failed))
    machine.run(["ip", "link", "set", "lo", "up"])
    missing = machine.load_modules()
    if missing:
        con.error("could not load module(s) %s" % ", ".join(missing))
    machine.makedirs("/run/netboot")


def main():
    """PID 1: never returns. Whatever escapes the agent (an error while
    nothing can be said, an interrupt) starts it again after 5 s: PID 1 that
    returns panics the kernel and says nothing useful."""
    while True:
        try:
            _main()
        except BaseException as e:  # noqa: BLE001 -- KeyboardInterrupt and SystemExit included
            try:
                Console().error("internal error: %s: %s; starting again in 5 s" % (type(e).__name__, e))
            except BaseException:  # noqa: BLE001
                pass
            import time
            time.sleep(5)


def _main():
    con = Console()
    try:
        setup(con)
        opts = load_options(machine.read_text(DEFAULTS), machine.read_text("/proc/cmdline"))
    except Exception as e:  # noqa: BLE001 -- PID 1 must survive anything
        con.error("setup failed: %s" % e)
        opts = load_options(machine.read_text(DEFAULTS), "")
    con.debug_on = bool(opts.get("debug"))
    con.say("s390-netboot agent started")
    if opts.get("verify-ignored") is not None:
        con.say("pxe.verify=%s on the kernel command line ignored: this image requires signed files"
                % clean_text(str(opts["verify-ignored"]), 40))
    if opts.get("shell"):
        con.say("pxe.shell: starting a shell; exit it to continue the netboot")
        machine.shell()
    state = {}
    while True:
        try:
            run_once(con, opts, state)
        except BootFailure as e:
            msg = str(e)
        except MemoryError as e:
            msg = memory_failure(e, "booting")
        except BaseException as e:  # noqa: BLE001 -- PID 1 must survive anything
            msg = "internal error: %s: %s" % (type(e).__name__, e)
        try:
            after_failure(con, opts, state, msg)
        except BaseException as e:  # noqa: BLE001
            con.error("internal error after a failure: %s" % e)
            import time
            time.sleep(5)
