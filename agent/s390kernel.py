"""The s390 kernel image's layout, as pure functions over bytes: the one
definition the agent (kexec) and the packager (the boot image) share.

The kernel's boot code reads a "parmarea" at 0x10400 (arch/s390/boot):
big-endian 8-byte fields: the IPL device, the initrd's start (0x10408) and
size (0x10410), the old memory base and size, a pointer to the kernel
version string (0x10428) and the maximum command line size (0x10430; 0 in
old kernels: 896 bytes), then the command line, NUL-terminated, at 0x10480.
The entry point carries the magic "S390EP" at 0x10008.
"""

import struct

ENTRY_MAGIC_OFFSET = 0x10008
ENTRY_MAGIC = b"S390EP"
PARMAREA = 0x10400
IPL_DEVICE_OFFSET = 0x10400
INITRD_START_OFFSET = 0x10408
INITRD_SIZE_OFFSET = 0x10410
OLDMEM_BASE_OFFSET = 0x10418
OLDMEM_SIZE_OFFSET = 0x10420
KERNEL_VERSION_OFFSET = 0x10428
MAX_COMMAND_LINE_SIZE_OFFSET = 0x10430
COMMAND_LINE_OFFSET = 0x10480
LEGACY_COMMAND_LINE_SIZE = 896
PAGE = 4096


# Where kexec-tools 2.0.25 puts an s390 kernel (kexec/arch/s390/kexec-image.c,
# image_s390_load, and kexec-s390.h): the file from byte 0x10000 on at
# physical 0x10000, which is also the entry point; the initrd at 8 MiB or,
# for a larger kernel file, at its size rounded up to 1 MiB; the initrd's
# address and size and the command line written into the kernel's parameter
# area. No purgatory on s390.
IMAGE_OFFSET = 0x10000
RAMDISK_ORIGIN = 0x800000
# Offsets from IMAGE_OFFSET: where the file's bytes from IMAGE_OFFSET on
# (the head kexec loads) hold each field.
INITRD_START = INITRD_START_OFFSET - IMAGE_OFFSET         # 0x408
INITRD_SIZE = INITRD_SIZE_OFFSET - IMAGE_OFFSET           # 0x410
MAX_CMDLINE = MAX_COMMAND_LINE_SIZE_OFFSET - IMAGE_OFFSET  # 0x430
CMDLINE = COMMAND_LINE_OFFSET - IMAGE_OFFSET              # 0x480
LEGACY_CMDLINE_SIZE = LEGACY_COMMAND_LINE_SIZE


class KexecError(Exception):
    pass


def align_up(n, to):
    return (n + to - 1) // to * to


def head_size(head):
    """How many bytes from IMAGE_OFFSET on hold the parameter area and its
    command line, a page multiple (head: at least the first page)."""
    return align_up(CMDLINE + (struct.unpack_from(">Q", head, MAX_CMDLINE)[0] or LEGACY_CMDLINE_SIZE), PAGE)


def s390_segments(head, kernel_size, initrd_size, cmdline):
    """The kexec_load segments for an s390 kernel image, as kexec-tools makes them.

    head: the kernel file's bytes from IMAGE_OFFSET on, at least to the end of
    the parameter area's command line (what s390_head reads);
    kernel_size, initrd_size: the files' sizes (initrd_size None: no initrd).
    Returns (patched, segments): patched is head with the parameter area
    filled in; segments are (source, offset, length, mem, memsz) with source
    "head" (patched), "kernel" or "initrd" (the files). Raises KexecError.
    """
    if kernel_size < IMAGE_OFFSET + CMDLINE or len(head) < CMDLINE:
        raise KexecError("the kernel is %d bytes, too small for an s390 kernel image" % kernel_size)
    if bytes(head[8:14]) != ENTRY_MAGIC:
        raise KexecError("the kernel is not an s390 kernel image (no S390EP at 0x10008; "
                         "a kernel for another architecture?)")
    maxsize = struct.unpack_from(">Q", head, MAX_CMDLINE)[0] or LEGACY_CMDLINE_SIZE
    raw = cmdline.encode()
    if len(raw) > maxsize - 1:
        raise KexecError("the command line is %d bytes, the kernel takes at most %d" % (len(raw), maxsize - 1))
    if len(head) < CMDLINE + maxsize:
        raise KexecError("the kernel is too small for its own command line size (%d)" % maxsize)
    patched = bytearray(head)
    origin = align_up(max(RAMDISK_ORIGIN, kernel_size), 0x100000) if initrd_size else 0
    struct.pack_into(">QQ", patched, INITRD_START, origin, initrd_size or 0)   # 0x408, 0x410
    # strncpy into maxsize bytes: the rest of the area zeroed
    patched[CMDLINE:CMDLINE + maxsize] = raw + b"\0" * (maxsize - len(raw))
    body = kernel_size - IMAGE_OFFSET
    n = len(patched)
    segments = [("head", 0, n, IMAGE_OFFSET, align_up(n, PAGE))]
    if body > n:
        segments.append(("kernel", IMAGE_OFFSET + n, body - n, IMAGE_OFFSET + n, align_up(body - n, PAGE)))
    if initrd_size:
        segments.append(("initrd", 0, initrd_size, origin, align_up(initrd_size, PAGE)))
    return patched, segments
