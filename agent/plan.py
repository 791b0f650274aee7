"""From a machine's identity to what it boots: config search, parsing, selection.

Used by the boot flow (with the real fetchers) and by ``python -m agent plan``
(with a directory or a live TFTP server). All I/O goes through the fetcher.

env is a dict with any of: mac, ip, netmask, gateway, server_ip (for
IPAPPEND 1), server (the boot server's host for tftp:// names), uuid,
bootfile, opt209, opt210.
"""

from agent import menu, pxeconfig, search
from agent.fetch import Answered, NotFound, FetchError

MAX_CONFIG_CHAIN = 16


class PlanError(Exception):
    """Nothing bootable was found; the message says why."""


class Plan:
    def __init__(self):
        self.tried = []
        self.config = None       # URL of the config used
        self.cfg = None          # the parsed Config
        self.entry = None        # pxeconfig.Entry
        self.kernel = None       # URL
        self.initrd = []         # URLs
        self.cmdline = ""
        self.notes = []
        self.prefix = ""         # the working directory (pxe.c's cwd_name), e.g. '::s390x/'
        self.server = ""
        self.error = None

    def labels(self):
        return [lab.name for lab in self.cfg.visible_labels()] if self.cfg else []

    def as_dict(self):
        """The documented `plan --json` object: exactly these keys."""
        show = lambda url: search.display(url, self.server)  # noqa: E731
        return {
            "tried": [show(u) for u in self.tried],
            "config": show(self.config) if self.config else None,
            "label": self.entry.label if self.entry else None,
            "kernel": show(self.kernel) if self.kernel else None,
            "initrd": [show(u) for u in self.initrd],
            "cmdline": self.cmdline,
            "labels": self.labels(),
            "timeout": self.cfg.timeout if self.cfg else 0,
        }


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


def loader(fetcher, pfx, server, notes):
    """The INCLUDE loader for the parser: names relative to the prefix."""
    def load(name):
        url = search.resolve(name, pfx, server)
        try:
            return fetcher.read(url)
        except NotFound:
            return None
        except FetchError as e:
            raise pxeconfig.ConfigError(str(e))
    return load


def select(plan, command, source, env, lab=None):
    """Resolve a boot command in plan.cfg into plan.entry/kernel/initrd/cmdline
    (lab: the menu entry's own label, see pxeconfig.resolve)."""
    entry = pxeconfig.resolve(plan.cfg, command, source, lab)
    plan.entry = entry
    plan.kernel = search.resolve(entry.kernel, plan.prefix, plan.server)
    plan.initrd = [search.resolve(n, plan.prefix, plan.server) for n in entry.initrd]
    plan.cmdline = pxeconfig.cmdline(entry, env)
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
    """
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
                                           loader(fetcher, plan.prefix, plan.server, plan.notes), ipappend,
                                           key=lambda n: search.resolve(n, plan.prefix, plan.server), ident=url)
            except pxeconfig.ConfigError as e:
                raise PlanError(str(e))
            plan.notes += plan.cfg.notes
        if forced is not None:
            command, source = forced
            lab = forced = None
        elif choose is not None:
            command, source, lab = choose(plan)
        else:
            try:
                command, source, lab, notes = menu.decide(plan.cfg, label)
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
            if entry.label is None and source != pxeconfig.TYPED:
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
        directory = pxeconfig.split_command(pxeconfig.command_args(entry, env))[0]
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
