"""The s390 boot image: a kernel with an initramfs appended.

The layout is the one s390-tools' mk-s390image writes and the s390 kernel's
boot code reads (arch/s390/boot, the "parmarea" at 0x10400):

- the kernel image, padded with zeros to a 4 KiB multiple;
- the initramfs appended there;
- big-endian 8-byte fields in the parmarea: initrd start at 0x10408, initrd
  size at 0x10410, a pointer to the kernel version string at 0x10428 and the
  maximum command line size at 0x10430 (0 in old kernels: 896 bytes);
- the command line, NUL-terminated, at 0x10480.

Everything here is a pure function over bytes.
"""

import struct

# The offsets are the agent's (agent/s390kernel.py): one definition of the
# layout for the image written here and the kernels the agent loads.
from agent.s390kernel import (COMMAND_LINE_OFFSET, ENTRY_MAGIC, ENTRY_MAGIC_OFFSET, INITRD_SIZE_OFFSET,  # noqa: F401
                              INITRD_START_OFFSET, IPL_DEVICE_OFFSET, KERNEL_VERSION_OFFSET,
                              LEGACY_COMMAND_LINE_SIZE, MAX_COMMAND_LINE_SIZE_OFFSET, OLDMEM_BASE_OFFSET,
                              OLDMEM_SIZE_OFFSET, PAGE, PARMAREA)
# The s390 kernel's CONFIG_COMMAND_LINE_SIZE ranges from 896 bytes to 1 MiB
# (arch/s390/Kconfig); a header claiming more is corrupt.
MAX_COMMAND_LINE_SIZE = 1 << 20
# The smallest image that holds a command line of the legacy size.
MIN_KERNEL_SIZE = COMMAND_LINE_OFFSET + LEGACY_COMMAND_LINE_SIZE


class ImageError(ValueError):
    """The bytes are not what they should be; the message says what was found."""


def _u64(data, offset):
    return struct.unpack_from(">Q", data, offset)[0]


def describe(data):
    """A few words on what some bytes look like, for error messages."""
    if not data:
        return "an empty file"
    if data[:4] == b"\x7fELF":
        machine = struct.unpack_from(">H" if data[5:6] == b"\x02" else "<H", data, 18)[0] \
            if len(data) >= 20 else None
        names = {0x03: "x86", 0x3E: "x86_64", 0xB7: "aarch64", 0x16: "s390", 0x15: "ppc64",
                 0xF3: "riscv"}
        kind = "an ELF file"
        if machine in names:
            kind = "an ELF file for %s" % names[machine]
        if machine == 0x16:
            kind += " (an uncompressed vmlinux, not the bootable image: use arch/s390/boot/bzImage or /boot/vmlinuz-*)"
        return kind
    if data[:2] == b"\x1f\x8b":
        return "gzip-compressed data"
    if data[:6] == b"\xfd7zXZ\x00":
        return "xz-compressed data"
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd-compressed data"
    if data[:6] in (b"070701", b"070702"):
        return "a cpio archive"
    if data[0x202:0x206] == b"HdrS":
        return "an x86 Linux kernel (bzImage)"
    if data[:2] == b"MZ":
        return "a PE/EFI executable"
    if data[0x38:0x3C] == b"ARM\x64":
        return "an arm64 Linux kernel Image"
    i = data.find(b"PXELINUX ", 0, 1 << 16)
    if i >= 0 and data[ENTRY_MAGIC_OFFSET:ENTRY_MAGIC_OFFSET + 6] != ENTRY_MAGIC:
        banner = data[i:data.find(b" ", i + 9, i + 40)].decode("ascii", "replace")
        return "Syslinux's PXELINUX for x86 PCs (%s)" % banner
    if len(data) < MIN_KERNEL_SIZE:
        return "a %d-byte file, too small for an s390 kernel image" % len(data)
    return "no S390EP magic at 0x%x" % ENTRY_MAGIC_OFFSET


def check_kernel(data):
    """Raise ImageError unless data is an s390 kernel image."""
    if len(data) >= MIN_KERNEL_SIZE and data[ENTRY_MAGIC_OFFSET:ENTRY_MAGIC_OFFSET + 6] == ENTRY_MAGIC:
        return
    raise ImageError("not an s390 kernel image: found %s" % describe(data))


def max_cmdline_size(data):
    """Bytes available for the command line, its terminating NUL included.

    Raises ImageError when the header's value is outside what the kernel
    format allows (896 bytes to 1 MiB)."""
    size = _u64(data, MAX_COMMAND_LINE_SIZE_OFFSET)
    if size == 0:
        return LEGACY_COMMAND_LINE_SIZE
    if size < LEGACY_COMMAND_LINE_SIZE or size > MAX_COMMAND_LINE_SIZE:
        raise ImageError("corrupt kernel header: maximum command line size %d at 0x%x is outside "
                         "%d..%d; is this a damaged kernel image?"
                         % (size, MAX_COMMAND_LINE_SIZE_OFFSET, LEGACY_COMMAND_LINE_SIZE,
                            MAX_COMMAND_LINE_SIZE))
    return size


def encode_cmdline(text):
    """A parmfile's or option's text as the bytes the kernel gets."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "strict")
    if text.endswith("\n"):
        text = text[:-1]
    if text.endswith("\r"):
        text = text[:-1]
    # A parmfile may be written on several lines: the kernel sees one.
    text = " ".join(text.split("\n")) if "\n" in text else text
    return text.encode("ascii")


def make_image(kernel, initrd, cmdline=None):
    """The bootable image bytes: kernel, padding, initrd, patched parmarea.

    kernel and initrd are bytes; cmdline is None (keep the kernel's own) or
    str/bytes.
    """
    check_kernel(kernel)
    if cmdline is not None:
        text = encode_cmdline(cmdline)
        size = max_cmdline_size(kernel)
        if len(text) > size - 1:
            raise ImageError("command line is %d bytes, the kernel takes at most %d "
                             "(%d with its terminating NUL): shorten it"
                             % (len(text), size - 1, size))
        if COMMAND_LINE_OFFSET + size > len(kernel):
            # Writing it would run past the kernel into the initramfs.
            raise ImageError("truncated kernel image: its %d-byte command line area ends at "
                             "0x%x, the file has only %d bytes"
                             % (size, COMMAND_LINE_OFFSET + size, len(kernel)))
    image = bytearray(kernel)
    pad = (-len(image)) % PAGE
    image += b"\0" * pad
    initrd_start = len(image)
    image += initrd
    struct.pack_into(">Q", image, INITRD_START_OFFSET, initrd_start)
    struct.pack_into(">Q", image, INITRD_SIZE_OFFSET, len(initrd))
    if cmdline is not None:
        image[COMMAND_LINE_OFFSET:COMMAND_LINE_OFFSET + size] = b"\0" * size
        image[COMMAND_LINE_OFFSET:COMMAND_LINE_OFFSET + len(text)] = text
    return bytes(image)


def _cstring(data, offset, limit):
    end = data.find(b"\0", offset, offset + limit)
    if end < 0:
        end = min(len(data), offset + limit)
    return data[offset:end].decode("ascii", "replace")


def parse_image(data, problems=None):
    """Read back an image's parmarea; raises ImageError on foreign data.

    Returns a dict: kernel_version, initrd_offset, initrd_size, cmdline,
    cmdline_max, kernel_size (bytes before the initrd, or the whole file).
    With a list as `problems`, what cannot be read (a truncated initramfs,
    a corrupt header field) is appended there as one line each and the rest
    is still returned; without one, the first problem raises ImageError.
    """
    check_kernel(data)

    def problem(msg):
        if problems is None:
            raise ImageError(msg)
        problems.append(msg)

    start = _u64(data, INITRD_START_OFFSET)
    size = _u64(data, INITRD_SIZE_OFFSET)
    if size and start < COMMAND_LINE_OFFSET:
        problem("corrupt image: initramfs offset %d lies inside the kernel header" % start)
        start = size = 0
    elif size and start + size > len(data):
        problem("truncated image: the initramfs should span bytes %d to %d, the file has %d"
                % (start, start + size, len(data)))
    version = None
    pointer = _u64(data, KERNEL_VERSION_OFFSET)
    if pointer and pointer < (start if size else len(data)):
        version = _cstring(data, pointer, 256)
    try:
        cmax = max_cmdline_size(data)
    except ImageError as e:
        problem(str(e))
        cmax = None
    return {
        "kernel_version": version,
        "initrd_offset": start if size else None,
        "initrd_size": size,
        "cmdline": _cstring(data, COMMAND_LINE_OFFSET, cmax or LEGACY_COMMAND_LINE_SIZE),
        "cmdline_max": cmax - 1 if cmax else None,
        "kernel_size": start if size else len(data),
    }


def initrd_bytes(data):
    """The initramfs carried by an image (empty when there is none)."""
    info = parse_image(data, [])
    if not info["initrd_size"]:
        return b""
    return data[info["initrd_offset"]:info["initrd_offset"] + info["initrd_size"]]
