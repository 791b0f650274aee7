"""A reproducible initramfs: newc cpio, written and read through libarchive.

The archive model is a list of in-memory records (Entry), normalised and
sorted before anything is written: every parent directory present, uid/gid 0,
mtimes clamped to SOURCE_DATE_EPOCH (0 when unset), inode numbers assigned in
order. Two builds from the same records give the same bytes.

All libarchive quirks live here:
- symlinks written from memory lose their target with libarchive-c's own
  setter (python-libarchive-c issue #143), so archive_entry_copy_symlink is
  bound directly;
- the gzip filter stores a timestamp unless told ``gzip:!timestamp``;
- the xz filter writes a CRC64 check that the kernel's xz decoder rejects, so
  xz is produced by the stdlib lzma module with a CRC32 check.
"""

import ctypes
import lzma
import os
import stat

import libarchive
import libarchive.ffi as laffi

COMPRESSIONS = ("xz", "gzip", "zstd", "none")

_copy_symlink = laffi.ffi("entry_copy_symlink", [laffi.c_archive_entry_p, ctypes.c_char_p], None)
_set_ino = laffi.ffi("entry_set_ino64", [laffi.c_archive_entry_p, ctypes.c_int64], None)
_set_nlink = laffi.ffi("entry_set_nlink", [laffi.c_archive_entry_p, ctypes.c_uint], None)
_set_dev = laffi.ffi("entry_set_dev", [laffi.c_archive_entry_p, ctypes.c_uint64], None)
_get_ino = laffi.ffi("entry_ino64", [laffi.c_archive_entry_p], ctypes.c_int64)


class Entry:
    """One archive member: a directory, file, symlink or device node."""

    __slots__ = ("path", "mode", "data", "target", "rdev", "mtime", "uid", "gid")

    def __init__(self, path, mode, data=b"", target=None, rdev=(0, 0), mtime=0, uid=0, gid=0):
        self.path = normpath(path)
        self.mode = mode
        self.data = data
        self.target = target
        self.rdev = rdev
        self.mtime = mtime
        self.uid = uid
        self.gid = gid

    @property
    def kind(self):
        fmt = stat.S_IFMT(self.mode)
        return {stat.S_IFDIR: "dir", stat.S_IFREG: "file", stat.S_IFLNK: "symlink",
                stat.S_IFCHR: "char", stat.S_IFBLK: "block", stat.S_IFIFO: "fifo",
                stat.S_IFSOCK: "socket"}.get(fmt, "unknown")

    def __repr__(self):
        return "Entry(%r, %o)" % (self.path, self.mode)


def normpath(path):
    """Archive member names: relative, no '.', '..' or doubled slashes."""
    parts = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise ValueError("path %r climbs out of the archive" % path)
        parts.append(part)
    if not parts:
        raise ValueError("empty archive path %r" % path)
    return "/".join(parts)


def directory(path, perm=0o755):
    return Entry(path, stat.S_IFDIR | perm)


def file(path, data, perm=0o644):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return Entry(path, stat.S_IFREG | perm, data=data)


def symlink(path, target):
    return Entry(path, stat.S_IFLNK | 0o777, target=target)


def chardev(path, major, minor, perm=0o600):
    return Entry(path, stat.S_IFCHR | perm, rdev=(major, minor))


def source_date_epoch():
    value = os.environ.get("SOURCE_DATE_EPOCH", "")
    try:
        return max(0, int(value)) if value else 0
    except ValueError:
        raise ValueError("SOURCE_DATE_EPOCH=%r is not a whole number of seconds" % value)


def normalise(entries, epoch=None):
    """Sorted records with every parent directory, owner 0 and clamped times.

    A later record for the same path replaces an earlier one, so callers can
    lay parts over a skeleton.
    """
    if epoch is None:
        epoch = source_date_epoch()
    byname = {}
    for e in entries:
        byname[e.path] = e
    for path in list(byname):
        parts = path.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if parent not in byname:
                byname[parent] = directory(parent)
            elif byname[parent].kind != "dir":
                raise ValueError("%s is a %s but %s needs it to be a directory"
                                 % (parent, byname[parent].kind, path))
    out = []
    for path in sorted(byname, key=lambda p: p.split("/")):
        e = byname[path]
        out.append(Entry(e.path, e.mode, e.data if e.kind == "file" else b"", e.target,
                         e.rdev, min(e.mtime, epoch), 0, 0))
    return out


def _cpio_bytes(entries, filter_name=None, options=""):
    chunks = []

    def write(data):
        chunks.append(bytes(data))
        return len(data)

    with libarchive.custom_writer(write, "cpio_newc", filter_name=filter_name,
                                  options=options) as archive:
        for ino, e in enumerate(entries, 1):
            entry = libarchive.ArchiveEntry(header_codec="utf-8")
            entry.pathname = e.path
            entry.mode = e.mode
            entry.uid = e.uid
            entry.gid = e.gid
            entry.mtime = e.mtime
            _set_ino(entry._entry_p, ino)
            _set_dev(entry._entry_p, 0)
            _set_nlink(entry._entry_p, 2 if e.kind == "dir" else 1)
            if e.kind == "symlink":
                target = e.target.encode("utf-8")
                _copy_symlink(entry._entry_p, target)
                entry.size = len(target)
            elif e.kind == "file":
                entry.size = len(e.data)
            else:
                entry.size = 0
            if e.kind in ("char", "block"):
                entry.rdevmajor, entry.rdevminor = e.rdev
            laffi.write_header(archive._pointer, entry._entry_p)
            if e.kind == "file" and e.data:
                view = memoryview(e.data)
                for off in range(0, len(view), 1 << 20):
                    chunk = bytes(view[off:off + (1 << 20)])
                    laffi.write_data(archive._pointer, chunk, len(chunk))
            laffi.write_finish_entry(archive._pointer)
    return b"".join(chunks)


def write(entries, compression="xz", epoch=None):
    """The compressed newc archive of the records, as bytes."""
    entries = normalise(entries, epoch)
    if compression == "none":
        return _cpio_bytes(entries)
    if compression == "gzip":
        return _cpio_bytes(entries, "gzip", "gzip:!timestamp,gzip:compression-level=9")
    if compression == "zstd":
        return _cpio_bytes(entries, "zstd", "zstd:compression-level=19")
    if compression == "xz":
        # The kernel's xz decoder knows CRC32 only; BCJ for s390 is absent from it.
        return lzma.compress(_cpio_bytes(entries), format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32,
                             filters=[{"id": lzma.FILTER_LZMA2, "preset": 9, "dict_size": 1 << 20}])
    raise ValueError("unknown compression %r: choose one of %s" % (compression, ", ".join(COMPRESSIONS)))


MAGICS = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bzip2"),
    (b"\x5d\x00\x00", "lzma"),
    (b"\x89LZO", "lzo"),
    (b"\x02\x21\x4c\x18", "lz4"),
    (b"070701", "none"),
    (b"070702", "none"),
)


def compression_of(data):
    for magic, name in MAGICS:
        if data.startswith(magic):
            return name
    return None


class Member:
    """An archive member as read back (the fields `packager inspect` lists)."""

    __slots__ = ("path", "kind", "mode", "size", "target", "uid", "gid", "mtime", "ino",
                 "rdev", "data")

    def as_dict(self):
        d = {"path": self.path, "type": self.kind, "mode": "%04o" % (self.mode & 0o7777),
             "size": self.size, "uid": self.uid, "gid": self.gid, "mtime": self.mtime}
        if self.target is not None:
            d["target"] = self.target
        if self.kind in ("char", "block"):
            d["rdev"] = "%d:%d" % self.rdev
        return d


def _text(name):
    """A name libarchive gives as bytes when it is not UTF-8: bytes outside it
    as surrogates (printed as \\xNN by packager inspect), never a crash."""
    if isinstance(name, bytes):
        return name.decode("utf-8", "surrogateescape")
    return name


def read(data, with_data=False):
    """Members of a (possibly compressed, possibly concatenated) newc archive."""
    kinds = {stat.S_IFDIR: "dir", stat.S_IFREG: "file", stat.S_IFLNK: "symlink",
             stat.S_IFCHR: "char", stat.S_IFBLK: "block", stat.S_IFIFO: "fifo",
             stat.S_IFSOCK: "socket"}
    members = []
    with libarchive.memory_reader(data) as archive:
        for entry in archive:
            m = Member()
            m.path = _text(entry.pathname)
            m.mode = entry.mode
            m.kind = kinds.get(stat.S_IFMT(entry.mode), "unknown")
            m.size = entry.size or 0
            m.target = _text(entry.linkpath) if m.kind == "symlink" else None
            m.uid, m.gid = entry.uid, entry.gid
            m.mtime = int(entry.mtime or 0)
            m.ino = _get_ino(entry._entry_p)
            m.rdev = (entry.rdevmajor, entry.rdevminor)
            m.data = b"".join(entry.get_blocks()) if with_data and m.kind == "file" else None
            if m.kind == "symlink":
                m.size = len(m.target or "")
            members.append(m)
    return members
