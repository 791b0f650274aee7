"""The kernel loader of the image (agent.s390kernel.s390_segments and the bootsys
path): the segments kexec-tools 2.0.25 would pass to kexec_load for an s390
kernel (kexec/arch/s390/kexec-image.c, image_s390_load; kexec-s390.h), the
parameter area it writes, and what happens when the calls fail. The system
calls are a recording fake here; the QEMU scenarios boot through the real
ones. Runs under CPython and MicroPython."""

import struct

from agent import machine, s390kernel

PAGE = 4096


def head(maxsize=4096, magic=b"S390EP", size=0x2000):
    h = bytearray(size)
    h[8:14] = magic
    struct.pack_into(">Q", h, s390kernel.MAX_CMDLINE, maxsize)
    h[0x480:0x490] = b"old command line"
    h[0x408:0x410] = b"\xff" * 8
    return bytes(h)


def test_segments_as_kexec_tools_places_them():
    # image_s390_load: kernel from 0x10000 at 0x10000 (the entry), ramdisk at
    # MAX(RAMDISK_ORIGIN_ADDR 8 MiB, kernel_size) rounded up to 1 MiB.
    size = 6115328                      # the suite's second-stage vmlinuz (0x5d5000)
    patched, segs = s390kernel.s390_segments(head(), size, 1005888, "console=ttysclp0 x=1")
    assert segs == [("head", 0, 0x2000, 0x10000, 0x2000),
                    ("kernel", 0x12000, size - 0x12000, 0x12000, size - 0x12000),
                    ("initrd", 0, 1005888, 0x800000, 1007616)], segs
    assert struct.unpack_from(">QQ", patched, 0x408) == (0x800000, 1005888)
    end = 0x480 + len("console=ttysclp0 x=1")
    assert patched[0x480:end] == b"console=ttysclp0 x=1"
    # strncpy(dest, cmdline, maxsize - 1): the old text gone, zeros to the end
    assert patched[end:0x480 + 4096] == bytes(0x480 + 4096 - end)
    assert len(patched) == 0x2000 and patched[8:14] == b"S390EP"


def test_segments_cover_the_kernel_once_page_aligned():
    for size in (0x12000, 0x12001, 9 * 1048576 + 5, 0x11fff, 0x11480):
        h = head()[:min(0x2000, size - 0x10000)]
        _, segs = s390kernel.s390_segments(h, size, None, "x")
        at = 0x10000
        for src, off, n, mem, memsz in segs:
            assert mem == at and mem % PAGE == 0 and memsz % PAGE == 0 and n <= memsz, (size, segs)
            at = mem + memsz
        assert at == (size + PAGE - 1) // PAGE * PAGE, (size, segs)


def test_a_big_kernel_pushes_the_initrd_to_the_next_mib():
    _, segs = s390kernel.s390_segments(head(), 9 * 1048576 + 5, 10, "")
    assert segs[-1] == ("initrd", 0, 10, 10 * 1048576, PAGE), segs


def test_no_initrd_writes_zero_start_and_size():
    patched, segs = s390kernel.s390_segments(head(), 0x400000, None, "")
    assert [s[0] for s in segs] == ["head", "kernel"], segs
    assert struct.unpack_from(">QQ", patched, 0x408) == (0, 0)


def test_command_line_limit_is_the_kernels_own():
    # MAX_COMMAND_LINESIZE_OFFS 0 (old kernels): LEGACY_COMMAND_LINESIZE 896,
    # so 895 bytes and a NUL.
    s390kernel.s390_segments(head(maxsize=0), 0x400000, None, "a" * 895)
    try:
        s390kernel.s390_segments(head(maxsize=0), 0x400000, None, "a" * 896)
        raise AssertionError("896 bytes taken by a kernel of 896")
    except s390kernel.KexecError as e:
        assert str(e) == "the command line is 896 bytes, the kernel takes at most 895", e
    s390kernel.s390_segments(head(), 0x400000, None, "a" * 4095)


def test_a_file_cut_inside_its_command_line_area_is_refused():
    try:
        s390kernel.s390_segments(head()[:0x147f], 0x1147f, None, "x")
        raise AssertionError("a kernel cut at 0x1147f taken")
    except s390kernel.KexecError as e:
        assert "too small for its own command line size (4096)" in str(e), e


def test_what_is_not_an_s390_kernel_is_refused_before_the_jump():
    # kexec-tools takes any file (image_s390_probe: "everything is valid") and
    # the machine hangs in it; the agent says what is wrong and goes on to
    # ONERROR/the prompt, as Syslinux refuses an x86 kernel without its boot
    # magic (com32/lib/syslinux/load_linux.c, bios_boot_linux: "Invalid boot
    # magic") and load_kernel then runs ONERROR (docs/reference.md).
    for h, size, want in ((head(magic=b"MZ\0\0\0\0"), 0x400000, "not an s390 kernel image"),
                          (head(), 0x10400, "too small for an s390 kernel image"),
                          (b"", 100, "too small for an s390 kernel image")):
        try:
            s390kernel.s390_segments(h, size, None, "")
            raise AssertionError("took %r" % (h[:16],))
        except s390kernel.KexecError as e:
            assert want in str(e), e


class FakeSys:
    """bootsys, recording; fail maps a call's name to the errno it raises."""

    def __init__(self, fail=None):
        self.calls = []
        self.fail = fail or {}

    def _call(self, name, *args):
        self.calls.append((name,) + args)
        if name in self.fail:
            raise OSError(self.fail[name])

    def kexec_load(self, *a):
        self._call("kexec_load", *a)

    def kexec_file_load(self, *a):
        self._call("kexec_file_load", *a)

    def reboot(self, *a):
        self._call("reboot", *a)

    def sync(self):
        self._call("sync")

    def mount(self, *a):
        self._call("mount", *a)

    def finit_module(self, *a):
        self._call("finit_module", *a)


def _files():
    d = "/tmp/netboot-test-kexec"
    try:
        import os
        os.mkdir(d)
    except OSError:
        pass
    k = d + "/kernel"
    with open(k, "wb") as f:
        f.write(bytes(0x10000) + head() + bytes(0x3000))
    i = d + "/initrd"
    with open(i, "wb") as f:
        f.write(b"initrd")
    return k, i


def _with(fake, fn, *args):
    saved = machine.bootsys
    machine.bootsys = fake
    try:
        return fn(*args)
    finally:
        machine.bootsys = saved


def test_kexec_load_passes_files_by_path_and_the_patched_head():
    k, i = _files()
    fake = FakeSys()
    assert _with(fake, machine.kexec_load, k, i, "c=1") == (True, "kexec_load")
    name, entry, segs, flags = fake.calls[0]
    assert (name, entry, flags) == ("kexec_load", 0x10000, 22 << 16), fake.calls
    assert [(s[0] if isinstance(s[0], str) else "bytes",) + tuple(s[1:]) for s in segs] == [
        ("bytes", 0, 0x2000, 0x10000, 0x2000),
        (k, 0x12000, 0x3000, 0x12000, 0x3000),
        (i, 0, 6, 0x800000, PAGE)], segs
    assert bytes(segs[0][0][0x480:0x484]) == b"c=1\0" and struct.unpack_from(">Q", segs[0][0], 0x410)[0] == 6
    assert len(fake.calls) == 1


def test_a_refused_kexec_load_tries_kexec_file_load_then_says_both():
    k, i = _files()
    fake = FakeSys({"kexec_load": 1})           # EPERM: lockdown
    assert _with(fake, machine.kexec_load, k, i, "c=1") == (True, "kexec_file_load")
    assert fake.calls[1] == ("kexec_file_load", k, i, "c=1", 0), fake.calls
    fake = FakeSys({"kexec_load": 1, "kexec_file_load": 38})
    ok, msg = _with(fake, machine.kexec_load, k, None, "c=1")
    assert not ok and msg == "kexec_file_load: ENOSYS; kexec_load: EPERM", msg
    assert fake.calls[1] == ("kexec_file_load", k, None, "c=1", 4), fake.calls   # KEXEC_FILE_NO_INITRAMFS


def test_a_kernel_that_is_not_s390_is_not_handed_to_either_call():
    k, i = _files()
    with open(k, "wb") as f:
        f.write(b"<html>404</html>")
    fake = FakeSys()
    ok, msg = _with(fake, machine.kexec_load, k, i, "")
    assert not ok and "too small for an s390 kernel image" in msg and fake.calls == [], (msg, fake.calls)


def test_kexec_exec_syncs_and_reboots_into_the_kernel():
    fake = FakeSys({"reboot": 22})
    msg = _with(fake, machine.kexec_exec)
    assert fake.calls == [("sync",), ("reboot", 0x45584543)], fake.calls
    assert msg == "reboot(LINUX_REBOOT_CMD_KEXEC): EINVAL", msg


def test_mounts_and_modules_are_system_calls_and_failures_are_named():
    fake = FakeSys({"mount": 16})
    failed = _with(fake, machine.mount_all)
    assert fake.calls[0] == ("mount", "proc", "/proc", "proc", 2 | 4 | 8, None), fake.calls
    assert fake.calls[4] == ("mount", "tmpfs", "/tmp", "tmpfs", 2 | 4, "mode=1777"), fake.calls
    assert failed[0] == "/proc (EBUSY)" and len(failed) == 5, failed
    listfile = "/tmp/netboot-test-kexec/modules"
    with open(listfile, "w") as f:
        f.write("kernel/net/core/failover.ko\n\nkernel/drivers/net/virtio_net.ko\n")
    fake = FakeSys({"finit_module": 17})        # EEXIST: loaded before the agent started again
    assert _with(fake, machine.load_modules, listfile) == []
    assert [c[0] for c in fake.calls] == ["finit_module", "finit_module"], fake.calls
    fake = FakeSys({"finit_module": 2})
    assert _with(fake, machine.load_modules, listfile) == ["failover.ko (ENOENT)", "virtio_net.ko (ENOENT)"]


def test_dry_run_records_the_commands_and_makes_no_call():
    # plan/test on a workstation, and the agent's dry-run tests: LOG, never a call.
    k, i = _files()
    fake = FakeSys()
    machine.DRY_RUN = True
    del machine.LOG[:]
    try:
        assert _with(fake, machine.kexec_load, k, i, "c=1") == (True, "kexec_load")
        _with(fake, machine.kexec_exec)
        _with(fake, machine.mount_all)
    finally:
        machine.DRY_RUN = False
    assert fake.calls == [], fake.calls
    assert machine.LOG[0].startswith("kexec -l %s --initrd=%s --command-line=c=1 " % (k, i)), machine.LOG
    assert machine.LOG[1].startswith("kexec -e "), machine.LOG
    assert "mount -t proc -o nosuid,nodev,noexec proc /proc" in machine.LOG, machine.LOG
