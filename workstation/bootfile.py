"""The boot file lint checks (pxelinux.0): what QEMU's s390-ccw netboot
firmware loads must be an s390 kernel with the agent's initramfs appended
(offset at 0x10408, size at 0x10410), readable by a TFTP server that runs
as nobody. Without it the firmware reads pxelinux.cfg itself: no menu, no
BOOTIF, no fetches over HTTP."""

import os
import stat

from agent.fetch import FetchError, NotFound
from packager import s390image

BOOTFILE = "pxelinux.0"
BOOTFILE_LIMIT = 512 << 20  # a boot file larger than this is not read whole
# An initramfs starts with a cpio archive or one of the kernel's decompressors' magics.
INITRAMFS_MAGIC = ((b"070701", "cpio"), (b"070702", "cpio"), (b"\x1f\x8b", "gzip"), (b"\xfd7zXZ\x00", "xz"),
                   (b"\x28\xb5\x2f\xfd", "zstd"), (b"BZh", "bzip2"), (b"\x02\x21\x4c\x18", "lz4"),
                   (b"\x89LZO", "lzo"), (b"\x5d\x00\x00", "lzma"))


def _read_whole(tree, url, path, out):
    """The boot file's bytes (None, with a line in out, when it cannot be read)."""
    try:
        if path is not None:
            size = os.path.getsize(path)
            if size > BOOTFILE_LIMIT:
                out.append("boot file is %d bytes, more than %d: not an agent image"
                           % (size, BOOTFILE_LIMIT))
                return None
            with open(path, "rb") as f:
                return f.read()
        return tree.download(url)
    except NotFound:
        raise
    except (OSError, FetchError) as e:
        out.append("boot file cannot be read: %s" % e)
        return None


def check(tree, url, explicit):
    """The file the firmware loads (QEMU's s390-ccw netboot): an s390
    kernel with the agent's initramfs appended (offset at 0x10408, size
    at 0x10410), readable by a server that runs as nobody. Without it the
    firmware parses pxelinux.cfg itself: no menu, no BOOTIF, no fetches
    over HTTP."""
    out = []
    try:
        path = tree.local_path(url)
    except FetchError as e:
        out.append("boot file: %s" % e)
        return out
    fallback = "the firmware then reads pxelinux.cfg itself (no menu, no BOOTIF, no HTTP)"
    if path is not None and not os.path.isfile(path):
        if explicit:
            out.append("boot file not found: %s; build it with `packager build`" % fallback)
        return out
    if path is not None and not os.stat(path).st_mode & stat.S_IROTH:
        out.append("boot file is not readable by others (mode %04o): a TFTP server running "
                   "as nobody (libvirt's dnsmasq, atftpd) cannot send it and %s: chmod a+r %s"
                   % (stat.S_IMODE(os.stat(path).st_mode), fallback, path))
    try:
        data = _read_whole(tree, url, path, out)
    except NotFound:
        if explicit:
            out.append("boot file not found: %s" % fallback)
        return out
    if data is None:
        return out
    try:
        s390image.check_kernel(data)
    except s390image.ImageError as e:
        out.append("boot file is %s; an s390x guest needs an s390 kernel with the agent's "
                   "initramfs appended (`packager build`)" % str(e))
        return out
    problems = []
    info = s390image.parse_image(data, problems)
    for p in problems:
        out.append("boot file: %s" % p)
    if problems:
        return out
    if not info["initrd_size"]:
        out.append("boot file is an s390 kernel with no initramfs appended (0 at 0x%x): it "
                   "starts no boot agent; build pxelinux.0 with `packager build`" % s390image.INITRD_SIZE_OFFSET)
        return out
    head = data[info["initrd_offset"]:info["initrd_offset"] + 8]
    if not any(head.startswith(magic) for magic, _ in INITRAMFS_MAGIC):
        out.append("boot file: the initramfs at offset %d starts with %s, neither a cpio "
                   "archive nor a compression the kernel unpacks" % (info["initrd_offset"], head.hex()))
    return out
