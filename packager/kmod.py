"""Kernel-module closure: the modules asked for and everything they depend on.

Dependencies come from modules.dep when the sysroot has one, otherwise from
each module's own ``.modinfo`` section (``depends=``), read with pyelftools:
Debian's kernel packages ship no modules.dep (depmod runs at install time).
Compressed modules (.ko.xz, .ko.zst, .ko.gz) are found and stored
decompressed, so busybox insmod loads them without decompression support.
A module built into the kernel (modules.builtin, or =y in the kernel config)
is not needed and not an error.

The result carries the load order (dependencies first) and a modules.dep for
busybox modprobe inside the image.
"""

import gzip
import io
import lzma
import os

from elftools.elf.elffile import ELFFile

from packager.errors import Die

SUFFIXES = (".ko", ".ko.xz", ".ko.zst", ".ko.gz")


def canon(name):
    """Module names treat '-' and '_' alike."""
    return name.replace("-", "_")


def module_name(path):
    base = os.path.basename(path)
    for suffix in SUFFIXES:
        if base.endswith(suffix):
            return canon(base[:-len(suffix)])
    return canon(base)


def plain_path(path):
    """A module's path with any compression suffix dropped (as stored in the image)."""
    for suffix in SUFFIXES[1:]:
        if path.endswith(suffix):
            return path[:-len(suffix)] + ".ko"
    return path


def decompress(path, data):
    if path.endswith(".ko.xz"):
        return lzma.decompress(data)
    if path.endswith(".ko.gz"):
        return gzip.decompress(data)
    if path.endswith(".ko.zst"):
        import libarchive
        with libarchive.memory_reader(data, format_name="raw", filter_name="zstd") as archive:
            for entry in archive:
                return b"".join(entry.get_blocks())
    return data


def modinfo(data):
    """The key=value pairs of a module's .modinfo section (keys may repeat)."""
    elf = ELFFile(io.BytesIO(data))
    section = elf.get_section_by_name(".modinfo")
    pairs = []
    if section is None:
        return pairs
    for item in section.data().split(b"\0"):
        if b"=" in item:
            key, value = item.split(b"=", 1)
            pairs.append((key.decode("ascii", "replace"), value.decode("utf-8", "replace")))
    return pairs


class ModuleSet:
    """Modules to put in the image, in load order, and their modules.dep."""

    def __init__(self, release):
        self.release = release
        self.order = []        # module paths relative to lib/modules/<release>, deps first
        self.deps = {}         # path -> [dependency paths]
        self.data = {}         # path -> decompressed bytes
        self.builtin = []      # requested names that are built in
        self.missing = []      # requested names that are neither built in nor modules

    def modules_dep(self):
        lines = []
        for path in self.order:
            lines.append(("%s: %s" % (path, " ".join(self._all_deps(path)))).rstrip())
        return "\n".join(lines) + ("\n" if lines else "")

    def _all_deps(self, path):
        out = []
        stack = list(self.deps.get(path, []))
        while stack:
            dep = stack.pop(0)
            if dep not in out:
                out.append(dep)
                stack.extend(self.deps.get(dep, []))
        return out


def _index(moddir):
    """name -> path (relative to moddir, original suffix) of every module file."""
    index = {}
    for root, dirs, files in os.walk(moddir):
        dirs.sort()
        for fname in sorted(files):
            if fname.endswith(SUFFIXES):
                rel = os.path.relpath(os.path.join(root, fname), moddir)
                index.setdefault(module_name(fname), rel)
    return index


def _builtin(moddir, config_text):
    names = set()
    path = os.path.join(moddir, "modules.builtin")
    if os.path.exists(path):
        with open(path) as f:
            names.update(module_name(line.strip()) for line in f if line.strip())
    return names


def _config_builtin(config_text, name):
    """Whether a kernel config says a well-known module is built in."""
    symbols = {"af_packet": "CONFIG_PACKET", "virtio_net": "CONFIG_VIRTIO_NET",
               "virtio_blk": "CONFIG_VIRTIO_BLK", "failover": "CONFIG_FAILOVER",
               "net_failover": "CONFIG_NET_FAILOVER"}
    sym = symbols.get(name)
    return bool(sym and config_text and ("\n%s=y\n" % sym) in "\n" + config_text + "\n")


def _parse_modules_dep(path):
    deps = {}
    with open(path) as f:
        for line in f:
            if ":" not in line:
                continue
            mod, rest = line.split(":", 1)
            deps[mod.strip()] = rest.split()
    return deps


def closure(moddir, release, names, config_text=""):
    """The ModuleSet for the requested module names in moddir (lib/modules/<release>)."""
    if not os.path.isdir(moddir):
        raise Die("no kernel modules for %s: %s does not exist (pass --modules DIR)" % (release, moddir))
    index = _index(moddir)
    builtin = _builtin(moddir, config_text)
    dep_file = os.path.join(moddir, "modules.dep")
    dep_table = _parse_modules_dep(dep_file) if os.path.exists(dep_file) else None
    result = ModuleSet(release)
    raw = {}

    def load(rel):
        if rel not in raw:
            with open(os.path.join(moddir, rel), "rb") as f:
                raw[rel] = decompress(rel, f.read())
        return raw[rel]

    def deps_of(rel):
        if dep_table is not None and rel in dep_table:
            return dep_table[rel]
        out = []
        for key, value in modinfo(load(rel)):
            if key == "depends":
                for dep in value.split(","):
                    dep = canon(dep.strip())
                    if not dep:
                        continue
                    if dep in index:
                        out.append(index[dep])
                    elif dep not in builtin:
                        raise Die("module %s depends on %s, which is not in %s" % (rel, dep, moddir))
        return out

    visiting = set()

    def visit(rel, chain):
        if rel in result.deps:
            return
        if rel in visiting:
            raise Die("module dependency cycle: %s" % " -> ".join(chain + [rel]))
        visiting.add(rel)
        deps = deps_of(rel)
        for dep in deps:
            visit(dep, chain + [rel])
        visiting.discard(rel)
        result.deps[plain_path(rel)] = [plain_path(d) for d in deps]
        result.deps[rel] = result.deps[plain_path(rel)]
        result.data[plain_path(rel)] = load(rel)
        if plain_path(rel) not in result.order:
            result.order.append(plain_path(rel))

    for name in names:
        name = canon(name)
        if name in index:
            visit(index[name], [])
        elif name in builtin or _config_builtin(config_text, name):
            result.builtin.append(name)
        else:
            result.missing.append(name)
    result.deps = {p: d for p, d in result.deps.items() if p in result.data}
    return result
