"""Debian packages for another architecture, fetched without root.

apt-get runs under a private configuration (its own sources list, lists,
cache and an empty dpkg status), so the system's apt state is never touched.
Release files are checked by apt against the Debian archive keyring. The
mirror is the one the system's apt sources already name, or one given by the
caller: no host name is written here.

Everything lands under a cache directory (default
``$XDG_CACHE_HOME/s390-netboot``) so a second run needs no network.
"""

import fcntl
import os
import posixpath
import re
import shutil
import sys
import tarfile

from packager.errors import Die, run_cmd

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
SOURCE_FILES = ("/etc/apt/sources.list",)
SOURCE_DIR = "/etc/apt/sources.list.d"
OS_RELEASE = "/etc/os-release"
CONTAINER_HINT = "or build in the container: podman build -t s390-netboot . (README: Build on any host)"


class HostError(Die):
    """This host cannot fetch Debian's parts as it is (no apt, no Debian archive
    in its sources, no Debian keyring): the one line says what to do."""


def cache_root():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "s390-netboot")


def parse_sources(text, deb822):
    """Archive URIs named by one apt sources file (one-line or deb822 format)."""
    uris = []
    if deb822:
        for stanza in re.split(r"\n\s*\n", text):
            fields = {}
            for line in stanza.splitlines():
                if ":" in line and not line.startswith(("#", " ")):
                    key, value = line.split(":", 1)
                    fields[key.strip().lower()] = value.strip()
            if fields.get("enabled", "yes").lower() == "no":
                continue
            if "deb" not in fields.get("types", "").split():
                continue
            suites = fields.get("suites", "")
            for uri in fields.get("uris", "").split():
                uris.append((uri, suites))
    else:
        for line in text.splitlines():
            words = line.split("#", 1)[0].split()
            if not words or words[0] != "deb":
                continue
            words = [w for w in words[1:] if not w.startswith("[") and not w.endswith("]")
                     and "=" not in w]
            if len(words) >= 2:
                uris.append((words[0], words[1]))
    return uris


def os_release(path=None):
    """The fields of os-release(5) as a dict; empty when the file is missing."""
    fields = {}
    try:
        with open(path or OS_RELEASE) as f:
            for line in f:
                if "=" in line and not line.startswith("#"):
                    key, value = line.rstrip("\n").split("=", 1)
                    fields[key.strip()] = value.strip().strip("\"'")
    except OSError:
        pass
    return fields


def host_name(path=None):
    """What this host is, for messages: os-release's ID (ubuntu, rhel, sles...)."""
    return os_release(path).get("ID") or "this"


def system_mirror(source_files=None, source_dir=None, os_release_path=None):
    """The first Debian archive (not security) that the system's apt sources name.

    On a host whose sources name no Debian archive (Ubuntu's name only
    Ubuntu's, which has no Debian bookworm) or that has none at all, a
    HostError saying what to do: --mirror URL, or the container."""
    source_files = SOURCE_FILES if source_files is None else source_files
    source_dir = SOURCE_DIR if source_dir is None else source_dir
    found = []
    for path in source_files:
        if os.path.exists(path):
            with open(path) as f:
                found += parse_sources(f.read(), False)
    if os.path.isdir(source_dir):
        for name in sorted(os.listdir(source_dir)):
            path = os.path.join(source_dir, name)
            if name.endswith(".sources"):
                with open(path) as f:
                    found += parse_sources(f.read(), True)
            elif name.endswith(".list"):
                with open(path) as f:
                    found += parse_sources(f.read(), False)
    for uri, suites in found:
        if "security" in uri or "security" in suites:
            continue
        if "/debian" in uri:
            return uri.rstrip("/")
    what = "no apt sources" if not found else "no Debian archive in the apt sources"
    raise HostError("%s on this %s host (%s): pass --mirror URL, the URL of a Debian archive "
                    "(Debian's keyring checks it: apt-get install debian-archive-keyring), %s"
                    % (what, host_name(os_release_path), " ".join(list(source_files) + [source_dir + "/"]),
                       CONTAINER_HINT))


def check_host(mirror=None, which=shutil.which, keyring=None, **sources):
    """The mirror to use; a HostError when this host cannot fetch Debian's parts
    (no apt-get, no Debian archive named, no Debian keyring)."""
    if which("apt-get") is None:
        raise HostError("apt-get not found: this %s host has no apt, which fetches Debian's s390x parts: "
                        "install apt and debian-archive-keyring and pass --mirror URL (a Debian archive), %s"
                        % (host_name(sources.get("os_release_path")), CONTAINER_HINT))
    mirror = mirror or system_mirror(**sources)
    keyring = keyring or KEYRING
    if not os.path.exists(keyring):
        raise HostError("%s missing: apt checks the Debian archive with it: apt-get install "
                        "debian-archive-keyring, %s" % (keyring, CONTAINER_HINT))
    return mirror


def host_suite(path=None):
    """The host's Debian release name; bookworm on any other host (an Ubuntu
    codename names no Debian suite)."""
    fields = os_release(path)
    if fields.get("ID") == "debian" and fields.get("VERSION_CODENAME"):
        return fields["VERSION_CODENAME"]
    return "bookworm"


_held = {}


class cache_lock:
    """Hold the cache directory for one build (reentrant within a process).

    Concurrent builds on one machine (two users, two CI jobs, a build beside
    the test suite) take turns on downloads, unpacking and the interpreter
    build instead of breaking each other's files; what is published into the
    cache is renamed into place, so a build killed half-way leaves nothing
    that a later one trusts."""

    def __init__(self, cache):
        self.path = os.path.join(os.path.abspath(cache), ".lock")

    def __enter__(self):
        held = _held.get(self.path)
        if held:
            held[1] += 1
            return self
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise Die("cannot use the cache %s: %s (pass --cache DIR)"
                      % (os.path.dirname(self.path), e.strerror))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("waiting for another build that uses the cache %s ..." % os.path.dirname(self.path),
                  file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        _held[self.path] = [fd, 1]
        return self

    def __exit__(self, *exc):
        held = _held[self.path]
        held[1] -= 1
        if held[1] == 0:
            del _held[self.path]
            os.close(held[0])  # closing the only descriptor releases the lock
        return False


class Apt:
    """apt-get and apt-cache under a private configuration for one architecture."""

    def __init__(self, suite, arch="s390x", mirror=None, cache=None, log=None,
                 source_suites=(), binary=True):
        self.suite = suite
        self.arch = arch
        self.mirror = mirror
        self.cache = cache or cache_root()
        self.dir = os.path.join(self.cache, "apt",
                                "%s-%s" % (suite, arch if binary else "source"))
        self.source_suites = tuple(source_suites)
        self.binary = binary
        self.log = log or (lambda msg: None)
        self._updated = False

    def _write_config(self):
        mirror = check_host(self.mirror)
        for sub in ("lists/partial", "archives/partial", "etc/preferences.d", "debs", "src"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        lines = []
        if self.binary:
            lines.append("deb [arch=%s signed-by=%s] %s %s main" % (self.arch, KEYRING, mirror, self.suite))
        for suite in self.source_suites:
            lines.append("deb-src [signed-by=%s] %s %s main" % (KEYRING, mirror, suite))
        with open(os.path.join(self.dir, "etc/sources.list"), "w") as f:
            f.write("\n".join(lines) + "\n")
        status = os.path.join(self.dir, "status")
        if not os.path.exists(status):
            open(status, "w").close()

    def _options(self):
        d = self.dir
        opts = {
            "Dir::Etc::SourceList": d + "/etc/sources.list",
            "Dir::Etc::SourceParts": "/dev/null",
            "Dir::Etc::Preferences": "/dev/null",
            "Dir::Etc::PreferencesParts": d + "/etc/preferences.d",
            "Dir::State::Lists": d + "/lists",
            "Dir::State::status": d + "/status",
            "Dir::Cache": d,
            "Dir::Cache::archives": d + "/archives",
            "APT::Architecture": self.arch,
            "APT::Architectures": self.arch,
            "Debug::NoLocking": "1",
            "APT::Sandbox::User": "root" if os.getuid() == 0 else os.environ.get("USER", "nobody"),
            "Acquire::Languages": "none",
        }
        args = []
        for key, value in opts.items():
            args += ["-o", "%s=%s" % (key, value)]
        return args

    def update(self, force=False):
        with cache_lock(self.cache):
            self._update(force)

    def _update(self, force):
        if self._updated:
            return
        self._write_config()
        stamp = os.path.join(self.dir, "updated")
        if force or not os.path.exists(stamp):
            self.log("apt-get update (%s, %s)" % (self.suite, self.arch))
            run_cmd(["apt-get", "-q"] + self._options() + ["update"],
                    hint="check the network and the mirror (--mirror URL)")
            open(stamp, "w").close()
        self._updated = True

    def show(self, package):
        """The first apt-cache show record of a package, as a dict of fields."""
        self.update()
        out = run_cmd(["apt-cache"] + self._options() + ["show", package], capture=True,
                      hint="is %s in %s for %s?" % (package, self.suite, self.arch))
        record = out.split("\n\n", 1)[0]
        fields = {}
        key = None
        for line in record.splitlines():
            if line.startswith((" ", "\t")) and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
        return fields

    def download(self, package):
        """Path of the .deb of a package (name or name=version), downloaded once."""
        with cache_lock(self.cache):
            return self._download(package)

    def _download(self, package):
        info = self.show(package)
        name, version = info["Package"], info["Version"]
        debs = os.path.join(self.dir, "debs")
        fname = "%s_%s_%s.deb" % (name, version.replace(":", "%3a"), info.get("Architecture", self.arch))
        path = os.path.join(debs, fname)
        if not os.path.exists(path):
            self.log("downloading %s %s (%s KiB)" % (name, version, int(info.get("Size", 0)) // 1024))
            run_cmd(["apt-get", "-q"] + self._options() + ["download", "%s=%s" % (name, version)],
                    cwd=debs, hint="check the network and the mirror (--mirror URL)")
            if not os.path.exists(path):
                raise Die("apt-get download %s gave no %s" % (name, fname))
        return path, name, version

    def source(self, package):
        """Directory with the downloaded source package files (orig tarball, .dsc)."""
        with cache_lock(self.cache):
            return self._source(package)

    def _source(self, package):
        self.update()
        out = os.path.join(self.dir, "src", package)
        stamp = os.path.join(out, ".done")
        if not os.path.exists(stamp):
            os.makedirs(out, exist_ok=True)
            self.log("apt-get source --download-only %s" % package)
            run_cmd(["apt-get", "-q"] + self._options() + ["source", "--download-only", package],
                    cwd=out, hint="check the network and the mirror (--mirror URL)")
            open(stamp, "w").close()
        return out


def depends_names(field):
    """Package names of a Depends field, taking the first of each alternative."""
    names = []
    for part in field.split(","):
        alt = part.split("|")[0].strip()
        if alt:
            names.append(alt.split()[0].split(":")[0])
    return names


def resolve_kernel_package(apt, meta=None):
    """The versioned kernel package the meta package points at (never pinned)."""
    meta = meta or "linux-image-%s" % apt.arch
    for name in depends_names(apt.show(meta).get("Depends", "")):
        if name.startswith("linux-image-") and name != meta:
            return name
    raise Die("%s names no kernel image package" % meta)


def extract_deb(deb, dest):
    """Unpack a .deb's data into dest (dpkg-deb -x; no maintainer scripts run)."""
    os.makedirs(dest, exist_ok=True)
    run_cmd(["dpkg-deb", "-x", deb, dest], hint="is dpkg installed?")


def checked_members(tar, path):
    """The tarball's regular files, directories and links, all of them inside
    the destination; anything else stops the build (what the "data" filter of
    newer Pythons refuses, checked here so that 3.11.2 refuses it too)."""
    members = []
    for m in tar.getmembers():
        name = m.name
        parts = name.split("/")
        if name.startswith("/") or ".." in parts:
            raise Die("%s: member %r points outside the tree; is the download corrupt?" % (path, name))
        if m.issym():
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), m.linkname))
            if m.linkname.startswith("/") or target == ".." or target.startswith("../"):
                raise Die("%s: symlink %r -> %r points outside the tree" % (path, name, m.linkname))
        elif m.islnk():
            if m.linkname.startswith("/") or ".." in m.linkname.split("/"):
                raise Die("%s: hard link %r -> %r points outside the tree" % (path, name, m.linkname))
        elif not (m.isfile() or m.isdir()):
            continue  # devices and FIFOs have no place in a source tree
        m.mode &= 0o755  # no setuid, setgid or world-writable files
        members.append(m)
    return members


def extract_tar(path, dest):
    """Unpack a source tarball into dest, stripping its top directory."""
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    with tarfile.open(path) as tar:
        members = checked_members(tar, path)
        if hasattr(tarfile, "data_filter"):
            tar.extractall(tmp, members=members, filter="data")
        else:  # Python < 3.11.4 (Debian 12's 3.11.2) has no extraction filters
            tar.extractall(tmp, members=members)
    entries = os.listdir(tmp)
    top = os.path.join(tmp, entries[0]) if len(entries) == 1 else tmp
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(top, dest)
    shutil.rmtree(tmp, ignore_errors=True)


def fetch_sysroot(apt, dest, packages):
    """Download and unpack packages into a sysroot; returns [(name, version)]."""
    with cache_lock(apt.cache):
        return _fetch_sysroot(apt, dest, packages)


def _fetch_sysroot(apt, dest, packages):
    stamp = os.path.join(dest, ".s390-netboot-parts")
    wanted = []
    for pkg in packages:
        if pkg == "linux-image":
            pkg = resolve_kernel_package(apt)
        wanted.append(pkg)
    debs = [apt.download(pkg) for pkg in wanted]
    parts = [(name, version) for deb, name, version in debs]
    if os.path.exists(stamp):
        with open(stamp) as f:
            if f.read() == repr(parts):
                return parts
    shutil.rmtree(dest, ignore_errors=True)
    for deb, name, version in debs:
        apt.log("unpacking %s" % name)
        extract_deb(deb, dest)
    with open(stamp, "w") as f:
        f.write(repr(parts))
    return parts

