"""ELF closure of s390x executables inside a sysroot, read with pyelftools.

Nothing is run (the host is usually not s390x, so ldd cannot be used). For
each executable: its PT_INTERP and its DT_NEEDED libraries, resolved
recursively the way ld.so does, but inside the sysroot:

- DT_RPATH (only when there is no DT_RUNPATH), then DT_RUNPATH, with $ORIGIN;
- then the multiarch and default directories (lib/s390x-linux-gnu,
  usr/lib/s390x-linux-gnu, lib64, usr/lib64, lib, usr/lib);
- symlinks are followed component by component with absolute targets taken
  relative to the sysroot, so merged-/usr layouts (lib -> usr/lib) and
  library symlinks (libfoo.so.1 -> libfoo.so.1.2.3) both resolve, and every
  link met on the way is kept so the image has the same names.

Every file must be EM_S390, ELFCLASS64 and big-endian.
"""

import os
import posixpath

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

from packager.errors import Die

EM_S390 = "EM_S390"
DEFAULT_DIRS = ("lib/s390x-linux-gnu", "usr/lib/s390x-linux-gnu", "lib64", "usr/lib64",
                "lib", "usr/lib")
MAX_LINKS = 40


class Closure:
    """Files to copy (sysroot-relative real paths) and links to recreate."""

    def __init__(self):
        self.files = []       # real files, relative to the sysroot
        self.links = {}       # link path -> target as written in the sysroot
        self.needed = {}      # file -> [sonames] (for reports and tests)

    def add_file(self, path):
        if path not in self.files:
            self.files.append(path)


def chase(sysroot, path, closure=None):
    """Resolve a sysroot-relative path through symlinks, component by component.

    Returns the real path (relative to the sysroot) or None when it does not
    exist. Links met are recorded in closure.links.
    """
    parts = [p for p in path.split("/") if p not in ("", ".")]
    done = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        current = "/".join(done + [part])
        full = os.path.join(sysroot, current)
        if os.path.islink(full):
            hops += 1
            if hops > MAX_LINKS:
                return None
            target = os.readlink(full)
            if closure is not None:
                closure.links[current] = target
            if target.startswith("/"):
                done = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        if not os.path.lexists(full):
            return None
        done.append(part)
    return "/".join(done)


def _check_elf(elf, path):
    if elf.header["e_machine"] != EM_S390 or elf.elfclass != 64 or elf.little_endian:
        found = "%s, %d-bit, %s-endian" % (elf.header["e_machine"].replace("EM_", ""),
                                           elf.elfclass, "little" if elf.little_endian else "big")
        raise Die("%s is not a 64-bit big-endian s390x ELF file (found %s)" % (path, found))


def read_elf(sysroot, path):
    """(interp, needed, rpath, runpath) of one ELF file in the sysroot."""
    full = os.path.join(sysroot, path)
    try:
        with open(full, "rb") as f:
            try:
                elf = ELFFile(f)
            except ELFError:
                raise Die("%s is not an ELF file" % path)
            _check_elf(elf, path)
            interp = None
            needed, rpath, runpath = [], [], []
            for seg in elf.iter_segments():
                if seg.header.p_type == "PT_INTERP":
                    interp = seg.get_interp_name()
            for sec in elf.iter_sections():
                if isinstance(sec, DynamicSection):
                    for tag in sec.iter_tags():
                        if tag.entry.d_tag == "DT_NEEDED":
                            needed.append(tag.needed)
                        elif tag.entry.d_tag == "DT_RPATH":
                            rpath += tag.rpath.split(":")
                        elif tag.entry.d_tag == "DT_RUNPATH":
                            runpath += tag.runpath.split(":")
            return interp, needed, rpath, runpath
    except OSError as e:
        raise Die("cannot read %s: %s" % (full, e.strerror))


def _expand(dirs, origin):
    out = []
    for d in dirs:
        if not d:
            continue
        d = d.replace("${ORIGIN}", "/" + origin).replace("$ORIGIN", "/" + origin)
        out.append(d.lstrip("/"))
    return out


def closure(sysroot, executables):
    """The Closure of the given sysroot-relative executables."""
    result = Closure()
    queue = []
    for exe in executables:
        real = chase(sysroot, exe, result)
        if real is None:
            raise Die("%s is not in the sysroot %s" % (exe, sysroot))
        queue.append((real, exe))
    seen = set()
    while queue:
        real, shown = queue.pop(0)
        if real in seen:
            continue
        seen.add(real)
        result.add_file(real)
        interp, needed, rpath, runpath = read_elf(sysroot, real)
        result.needed[real] = needed
        if interp:
            ireal = chase(sysroot, interp, result)
            if ireal is None:
                raise Die("%s needs its interpreter %s, which is not in the sysroot %s"
                          % (shown, interp, sysroot))
            queue.append((ireal, interp))
        origin = posixpath.dirname(real)
        search = (_expand(rpath, origin) if not runpath else []) + _expand(runpath, origin) \
            + list(DEFAULT_DIRS)
        for soname in needed:
            found = None
            if "/" in soname:
                found = chase(sysroot, soname, result)
            else:
                for d in search:
                    probe = Closure()
                    hit = chase(sysroot, posixpath.join(d, soname), probe)
                    if hit is not None and os.path.isfile(os.path.join(sysroot, hit)):
                        result.links.update(probe.links)
                        found = hit
                        break
            if found is None:
                raise Die("%s needs %s, which is in none of %s in the sysroot %s"
                          % (shown, soname, ", ".join("/" + d for d in search), sysroot))
            queue.append((found, soname))
    return result
