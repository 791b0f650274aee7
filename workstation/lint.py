"""`s390-netboot lint TREE`: a TFTP tree checked the way the boot agent reads it.

What is checked, starting from every file in pxelinux.cfg/ whose name the
agent searches for (agent.search.probe_names: default, 01-<mac>, upper-case
hex IP prefixes, valid UUIDs; the --opt209 file) and following INCLUDE, MENU
INCLUDE and CONFIG:

- every config parses with the agent's own parser (agent.pxeconfig); its
  notes ("file:line: message") become findings: unknown directives,
  duplicate labels, INCLUDE loops and missing INCLUDE files, lines and
  nesting beyond the parser's limits;
- files beyond the agent's limits (agent.fetch.CONFIG_LIMIT per file,
  pxeconfig.MAX_PARSE_BYTES / MAX_INCLUDE_FILES per parse);
- what boots with nobody at the console (agent.menu.decide) can boot;
- every label: its KERNEL and INITRDs exist, the kernel is an s390 image
  (packager.s390image: x86 bzImages, ELF files and COM32 modules are named
  as such), and its command line as the agent assembles it
  (pxeconfig.cmdline, with the longest ip=/BOOTIF=/SYSUUID= strings unless
  an identity is given) fits that kernel's own maximum (its header at
  0x10430);
- labels no one can reach (a name defined earlier, NOESCAPE 1 without a
  menu), MENU DEFAULT on a MENU HIDE label, DEFAULT naming a hidden label
  under a menu;
- the boot file the firmware loads (--bootfile, else pxelinux.0 when the
  tree has one): an s390 kernel with an initramfs appended whole, readable
  by a TFTP server that runs as nobody;
- files in pxelinux.cfg/ that no search name, INCLUDE or CONFIG reaches,
  and names that look like search names but are never asked for (upper-case
  MAC, lower-case hex IP, invalid UUID);
- with --sign-ca FILE (signed boot): every config and DISPLAY file read and
  every KERNEL and INITRD a label names has a NAME.sig that agent.verify
  accepts under those roots (the finding names the label's line).

Findings are errors (the boot fails or goes somewhere unintended) or
warnings (ignored lines, unreachable files and labels).
"""

import os
import re

from agent import cmdline, localboot, menu, pxeconfig, search
from agent import plan as planmod
from workstation import bootfile, firmware, tree
from workstation.tree import Tree, cap_fetcher, find_config_dirs
from agent.fetch import CONFIG_LIMIT, FetchError, NotFound
from agent.plan import MAX_CONFIG_CHAIN
from packager import s390image

ERROR = "error"
WARNING = "warning"

# The longest strings IPAPPEND/SYSAPPEND can add, for the command-line length check.
LONGEST_ENV = {
    "ip": "255.255.255.255", "server_ip": "255.255.255.255", "gateway": "255.255.255.255",
    "netmask": "255.255.255.255", "mac": "ff:ff:ff:ff:ff:ff",
    "uuid": "ffffffff-ffff-4fff-ffff-ffffffffffff",
}
BOOTFILE = bootfile.BOOTFILE
# How the parser's notes are judged, by their kind (agent.pxeconfig.N_*);
# any other kind is a warning.
NOTE_SEVERITY = {
    pxeconfig.N_INCLUDE_LOOP: ERROR,
    pxeconfig.N_INCLUDE_MISSING: WARNING,  # INCLUDE of a missing file: skipped, as Syslinux does
    pxeconfig.N_INCLUDE_DEPTH: ERROR,
    pxeconfig.N_LONG_LINE: ERROR,
}

MAC_NAME = re.compile(r"^01-([0-9a-f]{2}-){5}[0-9a-f]{2}$")
HEXIP_NAME = re.compile(r"^[0-9A-F]{1,8}$")
UUID_NAME = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Finding:
    def __init__(self, file, line, severity, message):
        self.file = file
        self.line = line
        self.severity = severity
        self.message = message

    def key(self):
        return (self.file, self.line, self.severity, self.message)

    def __str__(self):
        where = "%s:%d" % (self.file, self.line) if self.line else self.file
        return "%s: %s: %s" % (where, self.severity, self.message)

    def as_dict(self):
        return {"file": self.file, "line": self.line, "severity": self.severity, "message": self.message}


def search_name(name):
    """(kind, problem) of a file name in pxelinux.cfg/: kind is 'default', 'mac',
    'ip', 'uuid' when the agent asks for it, else None with problem saying why a
    name that looks like one is never asked for (or None)."""
    if name == "default":
        return "default", None
    if MAC_NAME.match(name):
        return "mac", None
    if HEXIP_NAME.match(name):
        return "ip", None
    if UUID_NAME.match(name):
        if search.valid_uuid(name):
            return "uuid", None
        return None, ("UUID %s is not valid (byte 6 is 0x%s, not 0x10-0xef): PXELINUX never asks for it"
                      % (name, name[14:16]))
    low = name.lower()
    if MAC_NAME.match(low):
        return None, "the agent asks for MAC names in lower case (%s); TFTP names are case-sensitive" % low
    if re.match(r"^01[-:]?([0-9a-f]{2}[-:]?){5}[0-9a-f]{2}$", low) or re.match(r"^([0-9a-f]{2}[-:]){5}[0-9a-f]{2}$", low):
        digits = re.sub(r"[^0-9a-f]", "", low)
        digits = digits[2:] if len(digits) == 14 else digits
        return None, ("looks like a MAC address, but the agent asks for 01-%s"
                      % "-".join(digits[i:i + 2] for i in range(0, 12, 2)))
    if HEXIP_NAME.match(name.upper()) and re.match(r"^[0-9a-fA-F]+$", name):
        return None, ("the agent asks for hex IP names in upper case (%s); TFTP names are case-sensitive"
                      % name.upper())
    if UUID_NAME.match(low):
        return None, "the agent asks for UUID names in lower case (%s)" % low
    if name.lower() == "default":
        return None, "the agent asks for 'default' in lower case"
    return None, None


class Linter:
    """Lints the tree a fetcher serves. root: the local directory behind it
    (None for a live server: no orphan check, configs found by search names)."""

    def __init__(self, fetcher, server, root=None, prefix="::", env=None, opt209=None, configs_only=False,
                 bootfile=None, sign_roots=None):
        self.firmware = False     # --firmware: also QEMU's own pxelinux.cfg parser's view
        self.sign_roots = sign_roots  # PEM bytes: check every file's NAME.sig (signed boot)
        self.boot_sites = {}     # URL -> (file, line, what, KERNEL|INITRD) where a label first names it
        self.configs_only = configs_only  # no KERNEL/INITRD file (nor the boot file) is looked at
        self.bootfile = bootfile  # None: pxelinux.0 if the tree has one
        self.fetcher = fetcher
        self.tree = Tree(fetcher, root)
        self.server = server
        self.root = root
        self.prefix = prefix
        self.env = dict(LONGEST_ENV)
        self.env.update(env or {})
        self.identity = env or {}
        self.opt209 = opt209
        self.findings = {}
        self.reached = set()     # URLs of every file read as config (or DISPLAY)
        self.configs = []        # configs linted, as shown
        self.done = set()
        self.kernel_urls = set()  # the kernels checked
        self.checked = set()     # check_boot's arguments already checked
        self.labels = 0
        self.queue = []          # (url, prefix, ipappend, site, CONFIG hops to it)
        self.depth = 0           # CONFIG hops to the config being linted

    # findings

    def add(self, file, line, severity, message):
        f = Finding(file, line, severity, message)
        self.findings.setdefault(f.key(), f)

    def show(self, url):
        return search.display(url, self.server)

    def sorted_findings(self):
        """By file, then line (whole-file findings first), in the order found."""
        found = list(self.findings.values())
        order = dict((id(f), i) for i, f in enumerate(found))
        return sorted(found, key=lambda f: (f.file, f.line or 0, order[id(f)]))

    def counts(self):
        errors = sum(1 for f in self.findings.values() if f.severity == ERROR)
        return errors, len(self.findings) - errors

    # files

    def read_config(self, url):
        """The config's bytes, or None with the finding added."""
        path = self.tree.local_path(url)
        if path is not None and os.path.isfile(path) and os.path.getsize(path) > CONFIG_LIMIT:
            self.add(self.show(url), None, ERROR, "%d bytes: larger than the agent reads (%d, CONFIG_LIMIT)"
                     % (os.path.getsize(path), CONFIG_LIMIT))
            return None
        return self.fetcher.read(url)

    # the tree

    def config_dir(self):
        url = search.resolve("pxelinux.cfg/default", self.prefix, self.server)
        try:
            path = self.tree.local_path(url)
        except FetchError:
            return None
        return os.path.dirname(path) if path else None

    def start_configs(self):
        """URLs of the configs the agent can start from, with findings for names it never asks for."""
        starts = []
        if self.opt209:
            starts.append(search.resolve(self.opt209, self.prefix, self.server))
        cfgdir = self.config_dir()
        if cfgdir is None:
            ident = self.identity
            for name in search.probe_names(ident.get("mac"), ident.get("ip"), ident.get("uuid")):
                url = search.resolve(name, self.prefix, self.server)
                try:
                    self.fetcher.read(url)
                except NotFound:
                    continue
                except FetchError:
                    pass
                starts.append(url)
            return starts
        if not os.path.isdir(cfgdir):
            if starts:
                return starts
            found = find_config_dirs(self.root)
            hint = ""
            if found:
                hint = " (%s is there: --bootfile %spxelinux.0 names it)" % (found[0], found[0][:-len("pxelinux.cfg")])
            self.add(self.show(search.resolve("pxelinux.cfg", self.prefix, self.server)), None, ERROR,
                     "no pxelinux.cfg directory: the agent finds no config" + hint)
            return starts
        for name in sorted(os.listdir(cfgdir)):
            if os.path.isfile(os.path.join(cfgdir, name)):
                kind, problem = search_name(name)
                url = search.resolve("pxelinux.cfg/" + name, self.prefix, self.server)
                if kind:
                    starts.append(url)
                elif problem:
                    self.add(self.show(url), None, WARNING, "never read: " + problem)
        return starts

    def orphans(self):
        cfgdir = self.config_dir()
        if cfgdir is None or not os.path.isdir(cfgdir):
            return
        for top, dirs, files in os.walk(cfgdir):
            dirs.sort()
            for name in sorted(files):
                rel = os.path.relpath(os.path.join(top, name), cfgdir).replace(os.sep, "/")
                url = search.resolve("pxelinux.cfg/" + rel, self.prefix, self.server)
                if url in self.reached or search_name(rel)[0] or search_name(rel)[1]:
                    continue
                if rel.endswith(".sig") and url[:-4] in self.reached:
                    continue  # a config's signature (signed boot): read with it
                self.add(self.show(url), None, WARNING,
                         "never read: not a name the agent searches for, and no INCLUDE or CONFIG names it")

    def run(self):
        if not self.configs_only:
            self.check_bootfile(self.bootfile or BOOTFILE, self.bootfile is not None)
        errors = self.counts()[0]
        starts = self.start_configs()
        if not starts and self.counts()[0] == errors:
            where = self.show(search.resolve("pxelinux.cfg/", self.prefix, self.server))
            if self.root is None:
                why = "no search name (%s) finds a config on the server" % ", ".join(
                    search.probe_names(self.identity.get("mac"), self.identity.get("ip"), self.identity.get("uuid")))
            else:
                why = ("no file here is one the agent searches for (default, 01-<mac> in lower case, "
                       "upper-case hex IP, a valid UUID)")
            self.add(where, None, ERROR, why + ": every machine stops with 'no config found'")
        for url in starts:
            self.queue.append((url, self.prefix, 0, None, 0))
        while self.queue:
            url, prefix, ipappend, site, self.depth = self.queue.pop(0)
            self.lint_config(url, prefix, ipappend, site)
        self.orphans()
        if self.sign_roots is not None:
            self.check_signatures()
        return self

    def check_signatures(self):
        """Signed boot: each file the agent would read or boot, through
        agent.verify as the agent checks it; a refusal is an error."""
        import tempfile
        from agent import verify
        v = verify.VerifyingFetcher(self.fetcher, self.sign_roots)
        for url in sorted(self.reached):
            try:
                v.read(url)
            except verify.Unsigned as e:
                self.add(self.show(url), None, ERROR, "signature: %s" % verify.reason(e.reason, url))
            except FetchError:
                pass  # said already
        cap_fetcher(self.fetcher, tree.DOWNLOAD_LIMIT)
        for url in sorted(self.boot_sites):
            if not self.tree.exists(url):
                continue
            file, line, what, kind = self.boot_sites[url]
            with tempfile.TemporaryDirectory(prefix="s390-netboot-lint.") as tmp:
                try:
                    v.fetch(url, os.path.join(tmp, "file"))
                except verify.Unsigned as e:
                    self.add(file, line, ERROR, "%s: %s %s refused: %s"
                             % (what, kind, self.show(url), verify.reason(e.reason, url)))
                except FetchError:
                    pass

    # the boot file

    def check_bootfile(self, name, explicit):
        """The file the firmware loads (workstation/bootfile.py)."""
        url = search.resolve("::" + name.lstrip("/"), "::", self.server)
        shown = self.show(url)
        for message in bootfile.check(self.tree, url, explicit):
            self.add(shown, None, ERROR, message)

    # one config

    def lint_config(self, url, prefix, ipappend, site):
        if (url, prefix, ipappend) in self.done:
            return
        self.done.add((url, prefix, ipappend))
        shown = self.show(url)
        try:
            text = self.read_config(url)
        except NotFound:
            if site is None:
                self.add(shown, None, WARNING, "not found: the agent goes on with the search names")
            else:
                file, line, what = site
                self.add(file, line, ERROR, "%s not found" % what)
            return
        except FetchError as e:
            self.add(shown, None, ERROR, "cannot be read: %s" % e)
            return
        if text is None:
            return
        self.reached.add(url)
        if shown not in self.configs:
            self.configs.append(shown)
        names = {shown: shown}

        def key(name):
            return search.resolve(name, prefix, self.server)

        def seen(name, u, data):
            names[name] = self.show(u)
            if data is not None:
                self.reached.add(u)
        load = planmod.loader(self.fetcher, prefix, self.server, seen)

        try:
            cfg = pxeconfig.parse(text, shown, load, ipappend, key=key, ident=url)
        except pxeconfig.ConfigError as e:
            self.error(e, names, shown)
            return
        # MAAS's local-boot file, xCAT petitboot's "#boot": the agent boots the
        # installed system (docs/reference.md, "Local boot").
        empty = localboot.is_empty_config(text)
        for file, line, kind, note in cfg.notes:
            self.add(names.get(file, file), line, NOTE_SEVERITY.get(kind, WARNING), note)
        sites = dict((id(lab), (names.get(lab.where[0], lab.where[0]), lab.where[1]))
                     for lab in cfg.labels if lab.where)
        self.check_labels(cfg, prefix, sites, shown)
        if self.firmware and site is None:
            self.check_firmware(text, cfg, prefix, shown, empty)
        if empty:
            return
        self.check_default(cfg, prefix, sites, shown)
        for name in cfg.display:
            u = key(name)
            if self.tree.exists(u):
                self.reached.add(u)
            else:
                self.add(shown, None, WARNING, "DISPLAY %s: not found" % name)

    def decide(self, cfg, prefix):
        """What boots unattended (agent.menu.decide), kernels named without a
        label probed in the tree as the agent probes the server."""
        return menu.decide(cfg, None, lambda name: self.tree.exists(search.resolve(name, prefix, self.server)))

    def check_firmware(self, text, cfg, prefix, shown, empty):
        """--firmware: where QEMU's own pxelinux.cfg parser would boot this
        config differently from the agent (workstation/firmware.py)."""
        agent = {"localboot": True} if empty else None
        if not empty:
            try:
                command, source, lab, notes = self.decide(cfg, prefix)
                entry = cmdline.resolve(cfg, command, source, lab)
                agent = {"label": entry.label, "kernel": entry.kernel, "initrd": entry.initrd,
                         "cmdline": cmdline.command_line(entry, self.env) if entry.kernel else "",
                         "localboot": entry.localboot is not None}
            except pxeconfig.ConfigError:
                agent = None
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        for line, severity, message in firmware.check(data, agent):
            self.add(shown, line, severity, message)

    def error(self, e, names, shown):
        """A config that cannot be used (pxeconfig.ConfigError) as an error on
        the file and line it names, its message without them."""
        text = str(e)
        if e.file is not None:
            site = "%s:%d: " % (e.file, e.line) if e.line else "%s: " % e.file
            if text.startswith(site):
                text = text[len(site):]
            self.add(names.get(e.file, e.file), e.line, ERROR, text)
            return
        self.add(shown, None, ERROR, text)

    def check_labels(self, cfg, prefix, sites, shown):
        targets = set()
        for cmd in [cfg.default_cmd, cfg.default, cfg.ontimeout, cfg.onerror] + [m.ontimeout for m in cfg.menus]:
            if cmd:
                targets.add(pxeconfig.first_word(cmd.strip()))
        is_menu = cfg.is_menu()
        for lab in cfg.labels:
            if lab.action is not None or not lab.name:
                continue
            self.labels += 1
            file, line = sites.get(id(lab), (shown, None))
            # A later label of a name is the parser's note ("defined again").
            first = cfg.label(lab.name) is lab
            if first and cfg.noescape and lab.name not in targets and not (is_menu and not lab.hidden):
                self.add(file, line, WARNING, "label %s can never be chosen%s: NOESCAPE 1 and %s"
                         % (lab.name, "" if file == shown else " when %s is read" % shown,
                            "it is hidden" if is_menu else "there is no menu"))
            if lab.hidden and lab.menu_default and is_menu:
                self.add(file, line, WARNING, "label %s: MENU DEFAULT on a MENU HIDE label: the menu ignores it"
                         % lab.name)
            if lab.ktype == pxeconfig.COM32 and pxeconfig.is_ui_module(lab.kernel):
                continue
            try:
                entry = cmdline.resolve(cfg, lab.name, "LABEL", lab)
            except pxeconfig.ConfigError as e:
                msg = str(e)
                if msg.startswith("label %s is " % lab.name):
                    msg = msg[len("label %s is " % lab.name):]
                self.add(file, line, ERROR, "label %s: %s" % (lab.name, msg))
                continue
            if entry.localboot is not None:
                continue  # boots the installed system: no file on the server to check
            if entry.ktype == pxeconfig.CONFIG:
                self.hop(entry, prefix, cfg, (file, line, "CONFIG %s" % entry.kernel))
            else:
                self.check_boot(entry, prefix, file, line, "label %s" % lab.name)

    def check_default(self, cfg, prefix, sites, shown):
        try:
            command, source, lab, notes = self.decide(cfg, prefix)
        except pxeconfig.ConfigError as e:
            # A kernel named without a label that is not on the server (menu.py
            # _load: "Loading NAME... failed") is an error, as a missing KERNEL is.
            self.add(shown, None, ERROR if str(e).startswith("Loading ") else WARNING,
                     "nothing boots unattended: %s" % e)
            return
        if cfg.has_ui and cfg.default:
            named = cfg.label(pxeconfig.first_word(cfg.default))
            if named is not None and named.hidden and (lab is None or lab is not named):
                file, line = sites.get(id(named), (shown, None))
                self.add(file, line, WARNING, "DEFAULT %s names a MENU HIDE label: the menu does not start "
                         "there, %s (%s) boots instead" % (named.name, pxeconfig.first_word(command), source))
        try:
            entry = cmdline.resolve(cfg, command, source, lab)
        except pxeconfig.ConfigError as e:
            if cfg.onerror:
                self.add(shown, None, WARNING, "%s %s cannot boot (%s): ONERROR %s boots instead"
                         % (source, command, e, cfg.onerror))
            else:
                self.add(shown, None, ERROR, "%s %s cannot boot: %s" % (source, command, e))
            return  # a label's own problem is reported at the label
        if entry.localboot is not None:
            return
        if entry.label is None:
            if entry.ktype == pxeconfig.CONFIG:
                self.hop(entry, prefix, cfg, (shown, None, "%s CONFIG %s" % (source, entry.kernel)))
            else:
                self.check_boot(entry, prefix, shown, None, "%s %s" % (source, command))
        elif lab is None and entry.extra:
            # DEFAULT label extra options: the label's line, with more on it.
            self.check_boot(entry, prefix, shown, None, "%s %s" % (source, command))

    def hop(self, entry, prefix, cfg, site):
        url = search.resolve(entry.kernel, prefix, self.server)
        # The new directory as plan takes it: the first word (Syslinux's white space).
        directory = pxeconfig.split_command(cmdline.command_args(entry, self.env))[0]
        new = search.chdir(prefix, directory) if directory else prefix
        if self.depth + 1 > MAX_CONFIG_CHAIN:
            # Configs are keyed by (url, prefix): CONFIG default sub/ in default grew
            # the prefix for ever. plan and the agent stop after as many hops.
            file, line, what = site
            self.add(file, line, ERROR, "%s: more than %d CONFIG hops in a row (a loop?): the agent stops "
                     "with an error there" % (what, MAX_CONFIG_CHAIN))
            return
        self.queue.append((url, new, cfg.ipappend, site, self.depth + 1))

    def check_boot(self, entry, prefix, file, line, what):
        if self.configs_only:
            return
        kurl = search.resolve(entry.kernel, prefix, self.server)
        # A label INCLUDEd by many configs is checked once per distinct result.
        key = (kurl, prefix, tuple(entry.initrd), len(cmdline.command_line(entry, self.env)), file, line, what)
        if key in self.checked:
            return
        self.checked.add(key)
        self.kernel_urls.add(kurl)
        self.boot_sites.setdefault(kurl, (file, line, what, "KERNEL"))
        for name in entry.initrd:
            self.boot_sites.setdefault(search.resolve(name, prefix, self.server), (file, line, what, "INITRD"))
        kind, data = self.tree.head(kurl)
        if kind == "missing":
            self.add(file, line, ERROR, "%s: KERNEL %s not found" % (what, self.show(kurl)))
        elif kind == "unreadable":
            self.add(file, line, ERROR, "%s: KERNEL %s cannot be read: %s" % (what, self.show(kurl), data))
        else:
            try:
                s390image.check_kernel(data)
                size = s390image.max_cmdline_size(data)
            except s390image.ImageError as e:
                self.add(file, line, ERROR, "%s: KERNEL %s is %s" % (what, self.show(kurl), str(e)))
            else:
                line_bytes = cmdline.command_line(entry, self.env).encode("utf-8")
                if len(line_bytes) > size - 1:
                    self.add(file, line, ERROR,
                             "%s: the command line is %d bytes, KERNEL %s takes at most %d (its header at 0x%x)"
                             % (what, len(line_bytes), self.show(kurl), size - 1,
                                s390image.MAX_COMMAND_LINE_SIZE_OFFSET))
        for name in entry.initrd:
            iurl = search.resolve(name, prefix, self.server)
            if not self.tree.exists(iurl):
                self.add(file, line, ERROR, "%s: INITRD %s not found" % (what, self.show(iurl)))

    def summary(self):
        errors, warnings = self.counts()
        kernels = ("checked, no kernels (--configs-only)" if self.configs_only
                   else "%d kernel%s checked" % (len(self.kernel_urls), plural(len(self.kernel_urls))))
        return ("lint: %d config%s, %d label%s, %s: %d error%s, %d warning%s"
                % (len(self.configs), plural(len(self.configs)), self.labels, plural(self.labels),
                   kernels, errors, plural(errors), warnings, plural(warnings)))

    def as_dict(self):
        errors, warnings = self.counts()
        return {"findings": [f.as_dict() for f in self.sorted_findings()], "configs": self.configs,
                "labels": self.labels, "errors": errors, "warnings": warnings}


def plural(n):
    return "" if n == 1 else "s"
