"""From a machine's identity to what it boots: config search, parsing, selection.

One way for every caller: environment(opts, lease) turns options (the
boot's pxe.* words, or the workstation's --options) and a lease (the
boot) into (fetcher, env), and make_plan(fetcher, env, ...) decides. The
boot flow, `plan`, `fetch`, `lint` and `test` all start there. All I/O goes
through the fetcher.

env is a dict with any of: mac, ip, netmask, gateway, server_ip (for
IPAPPEND 1), ip6, gateway6, server_ip6 (IPv6: no hex-IP names, no IPAPPEND 1
string), server (the boot server's host for tftp:// names), uuid,
bootfile, opt209, opt210.

Options (a dict; flags map to True): root (a directory standing in for the
server root) or server (HOST[:PORT]); mac, ip, netmask, gateway, server-ip,
uuid, bootfile, opt209, opt210 (the machine, without a lease); ca-certs,
https-only, https-host (HTTPS); TFTP settings come as keyword arguments.
"""

from agent import cmdline, inet, lease as leases, localboot, menu, pxeconfig, search
from agent.fetch import Answered, NotFound, FetchError, HttpsOnly, LocalFetcher, SchemeFetcher

MAX_CONFIG_CHAIN = 16


class PlanError(Exception):
    """Nothing bootable was found; the message says why."""


class OptionError(ValueError):
    """An option's value cannot be used; the message names it and says what is wanted."""


IDENTITY = ("mac", "ip", "netmask", "gateway", "server-ip", "uuid", "bootfile", "opt209", "opt210")


def identity_env(opts):
    """The machine as options give it (no lease): env keys, each value checked."""
    env = {}
    try:
        if opts.get("mac"):
            env["mac"] = search.normalise_mac(opts["mac"])
        if opts.get("uuid"):
            env["uuid"] = search.normalise_uuid(opts["uuid"])
        for key in ("ip", "netmask", "gateway", "server-ip"):
            value = opts.get(key)
            if not value:
                continue
            if key != "netmask" and ":" in value:
                # IPv6: no hex-IP config names and no IPAPPEND 1 string.
                inet.split_zone(value)
                env[key.replace("-", "_") + "6"] = value
                continue
            inet.parse_ipv4(value)
            env[key.replace("-", "_")] = value
    except ValueError as e:
        raise OptionError(str(e))
    for key in ("bootfile", "opt209", "opt210"):
        if opts.get(key):
            env[key] = opts[key]
    return env


def lease_env(lease, server, uuid=None):
    """The machine as its lease gives it (agent.lease), server the boot server's host."""
    bootfile = leases.bootfile(lease)
    if lease.get("family") == 6:
        # No hex-IP names, no IPAPPEND 1 string; the working directory is the
        # bootfile-url up to its last '/' (docs/reference.md, "IPv6").
        return {"mac": lease.get("mac"), "ip": None, "ip6": lease.get("ip6"), "server": server,
                "uuid": uuid, "bootfile": bootfile, "opt209": lease.get("opt209"),
                "opt210": lease.get("opt210") or (search.url_prefix(bootfile) if bootfile else None)}
    return {"mac": lease.get("mac"), "ip": lease.get("ip"), "netmask": lease.get("netmask"),
            "gateway": lease.get("router"), "server_ip": server, "server": server, "uuid": uuid,
            "bootfile": bootfile, "opt209": lease.get("opt209"), "opt210": lease.get("opt210")}


def make_fetcher(opts, default_port=69, space_for=None, ca_hint=None, **tftp):
    """The fetcher options ask for: a directory (root) for every scheme, or
    the agent's TFTP client (tftp: its settings, e.g. blksize, windowsize,
    mtu_of) and HTTP(S) client; pxe.https-only / https-host refuse the rest;
    pxe.verify=required (the image) or --sign-ca (a workstation) check every
    file's signature (agent.verify)."""
    if opts.get("root"):
        local = LocalFetcher(opts["root"])
        fetcher = SchemeFetcher({"tftp": local, "http": local, "https": local})
    else:
        from agent.http import CA_FILE, HttpFetcher
        from agent.tftp import TftpFetcher
        ca = opts.get("ca-certs")
        if ca is True:
            raise OptionError("--ca-certs needs a FILE of PEM certificates")
        kw = {"ca_hint": ca_hint} if ca_hint else {}
        if tftp.get("total_timeout"):
            kw["timeout"] = tftp["total_timeout"]
        http = HttpFetcher(ca_file=ca or CA_FILE, hosts=inet.https_hosts(opts.get("https-host")),
                           space_for=space_for, **kw)
        fetcher = SchemeFetcher({"tftp": TftpFetcher(default_port=default_port, space_for=space_for, **tftp),
                                 "http": http, "https": http})
    hosts = inet.https_hosts(opts.get("https-host"))
    if opts.get("https-only") or hosts:
        fetcher = HttpsOnly(fetcher, hosts)
    roots = signing_roots(opts)
    if roots is not None:
        from agent.verify import VerifyingFetcher
        fetcher = VerifyingFetcher(fetcher, roots)
    return fetcher


def signing_roots(opts):
    """The PEM roots signed boot checks against (agent.verify), or None when
    nothing is checked: the image's own (pxe.verify=required; missing, they
    are b"" and every file is refused), or --sign-ca FILE's on a workstation.
    OptionError for an unusable --sign-ca."""
    from agent import verify
    if opts.get("verify") == "required":
        try:
            return verify.load_roots()
        except OSError:
            return b""
    path = opts.get("sign-ca")
    if path is None:
        return None
    if path is True:
        raise OptionError("--sign-ca needs a FILE of PEM certificates")
    try:
        roots = verify.load_roots(path)
    except OSError as e:
        raise OptionError("--sign-ca %s: cannot read it (%s)" % (path, e))
    if b"-----BEGIN CERTIFICATE-----" not in roots:
        raise OptionError("--sign-ca %s holds no PEM certificate: give the site's code-signing root" % path)
    return roots


def environment(opts, lease=None, uuid=None, space_for=None, ca_hint=None, **tftp):
    """(fetcher, env) for a machine: from its lease (the boot; opts["server"]
    overrides the lease's boot server), or from options (the workstation:
    root, or server HOST[:PORT] whose host is also option 54's address for
    IPAPPEND 1). OptionError for an unusable option; LeaseError for a lease
    that names no boot server."""
    server_opt = opts.get("server") if isinstance(opts.get("server"), str) else None
    port = 69
    host = None
    if server_opt:
        try:
            host, port = inet.host_port(server_opt, 69)
        except ValueError as e:
            raise OptionError(str(e))
    if lease is not None:
            env = lease_env(lease, host or leases.boot_server(lease), uuid)
    elif opts.get("root"):
        env = identity_env(opts)
        env["server"] = "localhost"
    elif host:
        env = identity_env(opts)
        env["server"] = host
        if "server_ip" not in env and "server_ip6" not in env and not inet.is_ipv6(host):
            env["server_ip"] = host
    else:
        raise OptionError("plan needs --root DIR or --server HOST[:PORT]")
    return make_fetcher(opts, port, space_for, ca_hint, **tftp), env


class Plan:
    def __init__(self):
        self.tried = []
        self.config = None       # URL of the config used
        self.cfg = None          # the parsed Config
        self.entry = None        # cmdline.Entry
        self.kernel = None       # URL
        self.initrd = []         # URLs
        self.cmdline = ""
        self.notes = []
        self.prefix = ""         # the working directory (pxe.c's cwd_name), e.g. '::s390x/'
        self.server = ""
        self.localboot = None    # boot the installed system: LOCALBOOT's argument, chain.c32's, or EMPTY_CONFIG

    def labels(self):
        return [lab.name for lab in self.cfg.visible_labels()] if self.cfg else []

    def as_dict(self):
        """The documented `plan --json` object: exactly these keys, and
        "localboot" for a local-boot decision (then "kernel" is null)."""
        show = lambda url: search.display(url, self.server)  # noqa: E731
        d = {
            "tried": [show(u) for u in self.tried],
            "config": show(self.config) if self.config else None,
            "label": self.entry.label if self.entry else None,
            "kernel": show(self.kernel) if self.kernel else None,
            "initrd": [show(u) for u in self.initrd],
            "cmdline": self.cmdline,
            "labels": self.labels(),
            "timeout": self.cfg.timeout if self.cfg else 0,
        }
        if self.localboot is not None:
            d["localboot"] = self.localboot
        return d


def prober(fetcher, plan):
    """probe(name) -> bool for agent.menu's get_extension: whether the server
    has that file (relative to the working directory)."""
    def probe(name):
        url = search.resolve(name, plan.prefix, plan.server)
        try:
            fetcher.read(url, limit=1)   # stop at the first bytes: a kernel is not downloaded to learn it is there
        except (NotFound, Answered):
            return False
        except FetchError:
            # Larger than the first byte asked for, or any other answer than
            # "not found": it is there (loading it reports a real problem).
            return True
        return True
    return probe


def find_config(fetcher, env, tried):
    """(url, text) of the first config that exists; tried gets every URL requested
    (pxe.c:pxe_open_config, names relative to pxe.c:get_prefix's directory).

    "Not found", and any other answer refusing the file (an HTTP 403), moves
    on to the next name; a server that does not answer is raised (each name
    would wait out its own timeout).
    """
    pfx = search.prefix(env.get("bootfile"), env.get("opt210"))
    server = env.get("server") or ""
    names = search.probe_names(env.get("mac"), env.get("ip"), env.get("uuid"), env.get("opt209"))
    for name in names:
        url = search.resolve(name, pfx, server)
        tried.append(url)
        try:
            return url, fetcher.read(url)
        except (NotFound, Answered):
            continue
    return None, None


def loader(fetcher, pfx, server, seen=None):
    """The INCLUDE loader for the parser: names relative to the prefix; a
    file that is not there is None, any other failure a ConfigError.
    seen(name, url, data): told of every file asked for (data None when it
    is not there), before the parser gets it (lint counts what is reached)."""
    def load(name):
        url = search.resolve(name, pfx, server)
        try:
            data = fetcher.read(url)
        except NotFound:
            data = None
        except FetchError as e:
            raise pxeconfig.ConfigError(str(e))
        if seen is not None:
            seen(name, url, data)
        return data
    return load


def select(plan, command, source, env, lab=None):
    """Resolve a boot command in plan.cfg into plan.entry/kernel/initrd/cmdline
    (lab: the menu entry's own label, see cmdline.resolve)."""
    entry = cmdline.resolve(plan.cfg, command, source, lab)
    plan.entry = entry
    if entry.localboot is not None:
        plan.localboot = entry.localboot
        plan.kernel, plan.initrd, plan.cmdline = None, [], ""
        return entry
    plan.kernel = search.resolve(entry.kernel, plan.prefix, plan.server)
    plan.initrd = [search.resolve(n, plan.prefix, plan.server) for n in entry.initrd]
    plan.cmdline = cmdline.command_line(entry, env)
    if entry.dropped:
        plan.notes.append("ALLOWOPTIONS 0: options %r dropped, as PXELINUX does for %s"
                          % (entry.dropped, "a menu entry" if entry.label else "a kernel that names no label"))
    if entry.label is None and plan.cfg.append and entry.ktype != "config":
        plan.notes.append("the global APPEND is not used for %s, which names no label "
                          "(PXELINUX passes only the options given with it)" % entry.kernel)
    return entry


def uuid_note(env):
    """Why a UUID is not used, or None (sysappend.c:is_valid_uuid)."""
    uuid = env.get("uuid")
    if not uuid or search.valid_uuid(uuid):
        return None
    return ("UUID %s is not valid (byte 6 is 0x%s, not 0x10-0xef): PXELINUX neither looks for "
            "pxelinux.cfg/<uuid> nor appends SYSUUID=" % (uuid, search.normalise_uuid(uuid)[14:16]))


def make_plan(fetcher, env, label=None, config_url=None, choose=None, onerror_of=None):
    """The Plan for a machine. Raises PlanError when nothing bootable is found.

    label is what a person would type at the boot: prompt (a label or a
    kernel, then extra options); config_url forces one config file. What
    boots in each config (the first, then each CONFIG hop's) is
    agent.menu.decide's answer with nobody at the console, or choose(plan)
    -> (command, source, label): the boot console's (agent.boot.choose),
    which runs the same decision with a person there.

    onerror_of: a plan whose boot failed: its config's ONERROR is booted as
    ldlinux.c:load_kernel does on a failure, from that config (after any
    CONFIG hops), with no prompt or menu in between.

    MemoryError (configs beyond the heap, whatever the limits missed) is a
    PlanError too: the one-line failure path, not PID 1's "internal error".
    """
    try:
        return _make_plan(fetcher, env, label, config_url, choose, onerror_of)
    except MemoryError as e:
        import gc
        gc.collect()
        raise PlanError("out of memory while reading the configs (%s): see the limits in "
                        "docs/reference.md" % (str(e) or "MemoryError"))


def _make_plan(fetcher, env, label, config_url, choose, onerror_of):
    plan = Plan()
    forced = cfg = None
    ipappend = 0
    if onerror_of is not None:
        failed = onerror_of
        plan.prefix, plan.server, plan.tried = failed.prefix, failed.server, list(failed.tried)
        url, cfg = failed.config, failed.cfg
        forced = (cfg.onerror, "ONERROR")
    else:
        plan.prefix = search.prefix(env.get("bootfile"), env.get("opt210"))
        plan.server = env.get("server") or ""
        note = uuid_note(env)
        if note:
            plan.notes.append(note)
        if config_url:
            url = search.resolve(config_url, plan.prefix, plan.server)
            plan.tried.append(url)
            try:
                text = fetcher.read(url)
            except NotFound:
                raise PlanError("config %s not found" % search.display(url, plan.server))
        else:
            url, text = find_config(fetcher, env, plan.tried)
            if url is None:
                raise_no_config(plan)
    for _ in range(MAX_CONFIG_CHAIN):
        plan.config = url
        if cfg is not None:
            plan.cfg, cfg = cfg, None
        else:
            try:
                plan.cfg = pxeconfig.parse(text, search.display(url, plan.server),
                                           loader(fetcher, plan.prefix, plan.server), ipappend,
                                           key=lambda n: search.resolve(n, plan.prefix, plan.server), ident=url)
            except pxeconfig.ConfigError as e:
                raise PlanError(str(e))
            plan.notes += [pxeconfig.note_text(n) for n in plan.cfg.notes]
            if localboot.is_empty_config(text):
                # MAAS's local-boot file, xCAT petitboot's "#boot": nothing to
                # decide. Syslinux would wait at its prompt; QEMU's firmware
                # goes on to the next boot device, the disk: so does the agent.
                plan.localboot = localboot.EMPTY_CONFIG
                plan.notes.append("the config is empty (comments only): boot the installed system")
                return plan
        if forced is not None:
            command, source = forced
            lab = forced = None
        elif choose is not None:
            command, source, lab = choose(plan)
        else:
            try:
                command, source, lab, notes = menu.decide(plan.cfg, label, prober(fetcher, plan))
            except pxeconfig.ConfigError as e:
                raise PlanError("%s: %s" % (search.display(url, plan.server), e))
            plan.notes += notes
        try:
            entry = select(plan, command, source, env, lab)
        except pxeconfig.ConfigError as e:
            onerror = plan.cfg.onerror
            if onerror and onerror != command:
                plan.notes.append("%s; ONERROR %s is used instead" % (e, onerror))
                try:
                    entry = select(plan, onerror, "ONERROR", env)
                except pxeconfig.ConfigError as e2:
                    raise PlanError("%s; ONERROR: %s" % (e, e2))
                command, source = onerror, "ONERROR"
            else:
                raise PlanError(str(e))
        if entry.ktype != "config":
            if entry.label is None and source != cmdline.TYPED and entry.localboot is None:
                plan.notes.append("%s %r names no label: taken as a kernel file name, as PXELINUX does"
                                  % (source, pxeconfig.split_command(command)[0]))
            return plan
        # CONFIG file [dir]: restart with another configuration file
        # (execute.c:execute). The file is named from the current directory; the
        # first word after it on the entry's command line (its own text, the
        # SYSAPPEND strings, typed options alike) is the new directory, entered
        # after the file is opened (readconfig.c:parse_main_config, pxe.c:pxe_chdir).
        url = search.resolve(entry.kernel, plan.prefix, plan.server)
        plan.tried.append(url)
        directory = pxeconfig.split_command(cmdline.command_args(entry, env))[0]
        if directory:
            plan.prefix = search.chdir(plan.prefix, directory)
            plan.notes.append("CONFIG %s %s: file names are now relative to %s"
                              % (entry.kernel, directory, plan.prefix))
        ipappend = plan.cfg.ipappend  # SysAppends lives in the core: it survives the restart
        label = None
        try:
            text = fetcher.read(url)
        except NotFound:
            raise PlanError("CONFIG %s not found" % search.display(url, plan.server))
    raise PlanError("more than %d CONFIG hops: a loop?" % MAX_CONFIG_CHAIN)


def raise_no_config(plan):
    shown = [search.display(u, plan.server) for u in plan.tried]
    raise PlanError("no config found; tried %s" % ", ".join(shown))
