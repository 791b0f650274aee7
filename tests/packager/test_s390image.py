"""packager image / inspect and the pure image patcher, on Debian's real s390x kernel."""

import json
import struct

import pytest

from packager import cli, initramfs, s390image as S


def u64(data, off):
    return struct.unpack_from(">Q", data, off)[0]


def fake_kernel(size=0x12345, max_cmdline=4096):
    k = bytearray(size)
    k[S.ENTRY_MAGIC_OFFSET:S.ENTRY_MAGIC_OFFSET + 6] = S.ENTRY_MAGIC
    struct.pack_into(">Q", k, S.MAX_COMMAND_LINE_SIZE_OFFSET, max_cmdline)
    k[S.COMMAND_LINE_OFFSET:S.COMMAND_LINE_OFFSET + 14] = b"root=/dev/ram0"
    return bytes(k)


@pytest.mark.parametrize("size,want_start", [
    (0x12345, 0x13000),
    (0x13000, 0x13000),
    (0x13001, 0x14000),
])
def test_padding_and_offsets(size, want_start):
    initrd = b"INITRD" * 100
    img = S.make_image(fake_kernel(size), initrd)
    got = (u64(img, S.INITRD_START_OFFSET), u64(img, S.INITRD_SIZE_OFFSET))
    assert got == (want_start, len(initrd)), "make_image(kernel of %#x) = %r, want %r" % (
        size, got, (want_start, len(initrd)))
    assert img[size:want_start] == b"\0" * (want_start - size)
    assert img[want_start:] == initrd
    assert len(img) == want_start + len(initrd)


def test_cmdline_zero_fills_and_fits():
    img = S.make_image(fake_kernel(), b"x", "console=ttysclp0 quiet\n")
    area = img[S.COMMAND_LINE_OFFSET:S.COMMAND_LINE_OFFSET + 4096]
    assert area.rstrip(b"\0") == b"console=ttysclp0 quiet"
    assert area[len(b"console=ttysclp0 quiet"):] == b"\0" * (4096 - 22)


def test_cmdline_keeps_kernel_default_when_absent():
    img = S.make_image(fake_kernel(), b"x")
    assert S.parse_image(img)["cmdline"] == "root=/dev/ram0"


@pytest.mark.parametrize("max_field,limit", [(4096, 4095), (0, 895), (2048, 2047)])
def test_cmdline_limit(max_field, limit):
    k = fake_kernel(max_cmdline=max_field)
    S.make_image(k, b"x", "a" * limit)
    with pytest.raises(S.ImageError) as e:
        S.make_image(k, b"x", "a" * (limit + 1))
    assert "%d bytes" % (limit + 1) in str(e.value) and "at most %d" % limit in str(e.value)


@pytest.mark.parametrize("data,want", [
    (b"", "an empty file"),
    (b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x02\x00\x3e\x00" + b"\0" * 100, "x86_64"),
    (b"\x1f\x8b\x08" + b"\0" * 100, "gzip"),
    (b"\0" * 0x202 + b"HdrS" + b"\0" * 0x20000, "x86 Linux kernel"),
    (b"\0" * 0x20000, "no S390EP magic"),
    (b"hello", "too small"),
])
def test_foreign_kernels_refused(data, want):
    with pytest.raises(S.ImageError) as e:
        S.check_kernel(data)
    assert want in str(e.value), "check_kernel(...) said %r, want it to mention %r" % (str(e.value), want)


@pytest.mark.parts
def test_real_kernel_image_layout(s390x, kernel_bytes, tmp_path):
    """The rules of mk-s390image on Debian's s390x kernel, through the CLI."""
    initrd = initramfs.write([initramfs.file("init", b"#!/bin/sh\n", 0o755)], "gzip")
    (tmp_path / "initrd").write_bytes(initrd)
    (tmp_path / "parm").write_bytes(b"console=ttysclp0 pxe.debug\n")
    out = tmp_path / "pxelinux.0"
    rc = cli.run(["image", s390x.kernel, "-r", str(tmp_path / "initrd"), "-p", str(tmp_path / "parm"),
                  "-o", str(out)])
    assert rc == 0
    img = out.read_bytes()
    start = (len(kernel_bytes) + 4095) // 4096 * 4096
    assert img[:0x10400] == kernel_bytes[:0x10400]
    assert u64(img, 0x10408) == start and start % 4096 == 0
    assert u64(img, 0x10410) == len(initrd)
    assert img[start:] == initrd
    assert img[0x10480:0x10480 + 27] == b"console=ttysclp0 pxe.debug\0"
    # Everything between the parmarea fields and after the command line is the kernel's.
    assert img[0x10418:0x10480] == kernel_bytes[0x10418:0x10480]
    assert img[0x10480 + 4096:len(kernel_bytes)] == kernel_bytes[0x10480 + 4096:]

    info = cli.inspect_image(img)
    assert info["kernel_version"].startswith(s390x.release + " ")
    assert info["initrd_offset"] == start and info["initrd_size"] == len(initrd)
    assert info["cmdline"] == "console=ttysclp0 pxe.debug" and info["cmdline_max"] == 4095
    assert info["initrd_compression"] == "gzip"
    assert [e["path"] for e in info["entries"]] == ["init"]


@pytest.mark.parts
def test_inspect_cli_json(s390x, tmp_path, capsys):
    initrd = initramfs.write([initramfs.symlink("bin/sh", "busybox"),
                              initramfs.chardev("dev/console", 5, 1)], "xz")
    (tmp_path / "i").write_bytes(initrd)
    assert cli.run(["image", s390x.kernel, "-r", str(tmp_path / "i"), "--cmdline", "quiet",
                    "-o", str(tmp_path / "img")]) == 0
    capsys.readouterr()
    assert cli.run(["inspect", str(tmp_path / "img"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["initrd_compression"] == "xz"
    byp = {e["path"]: e for e in info["entries"]}
    assert byp["bin/sh"]["type"] == "symlink" and byp["bin/sh"]["target"] == "busybox"
    assert byp["dev/console"]["type"] == "char" and byp["dev/console"]["rdev"] == "5:1"
    assert cli.run(["inspect", str(tmp_path / "img")]) == 0
    text = capsys.readouterr().out
    assert "/bin/sh -> busybox" in text and s390x.release in text


@pytest.mark.parts
def test_reads_image_without_initrd(kernel_bytes):
    info = cli.inspect_image(kernel_bytes)
    assert info["initrd_size"] == 0 and info["entries"] == []
    assert info["cmdline"].startswith("root=/dev/ram0")


def run_cli(args, capsys):
    rc = cli.run(args)
    err = capsys.readouterr().err
    return rc, err


@pytest.mark.parts
@pytest.mark.parametrize("case", ["truncated", "foreign", "garbage-initrd", "missing"])
def test_inspect_bad_images(case, kernel_bytes, tmp_path, capsys):
    img = S.make_image(kernel_bytes, initramfs.write([initramfs.file("init", b"x" * 50000)], "none"))
    path = tmp_path / "img"
    want = {"truncated": "truncated image", "foreign": "not an s390 kernel image: found gzip",
            "garbage-initrd": "neither a cpio archive", "missing": "does not exist"}[case]
    if case == "truncated":
        path.write_bytes(img[:-1000])
    elif case == "foreign":
        path.write_bytes(b"\x1f\x8b" + b"\0" * 100000)
    elif case == "garbage-initrd":
        start = u64(img, 0x10408)
        path.write_bytes(img[:start] + b"\x55" * (len(img) - start))
    rc, err = run_cli(["inspect", str(path)], capsys)
    assert rc == 2
    assert err.count("\n") == 1 and want in err and "Traceback" not in err, err


@pytest.mark.parts
def test_image_bad_inputs_leave_nothing(kernel_bytes, tmp_path, capsys):
    (tmp_path / "k").write_bytes(kernel_bytes)
    (tmp_path / "x86").write_bytes(b"\0" * 0x202 + b"HdrS" + b"\0" * 0x20000)
    (tmp_path / "i").write_bytes(b"070701")
    out = tmp_path / "out"
    cases = [
        (["image", str(tmp_path / "x86"), "-r", str(tmp_path / "i"), "-o", str(out)],
         "not an s390 kernel image: found an x86 Linux kernel"),
        (["image", str(tmp_path / "k"), "-r", str(tmp_path / "nope"), "-o", str(out)],
         "initrd %s does not exist" % (tmp_path / "nope")),
        (["image", str(tmp_path / "k"), "-r", str(tmp_path / "i"), "--cmdline", "a" * 5000, "-o", str(out)],
         "command line is 5000 bytes, the kernel takes at most 4095"),
        (["image", str(tmp_path / "k"), "-r", str(tmp_path / "i"), "-o", str(tmp_path / "no/such/dir")],
         "does not exist"),
        (["image", str(tmp_path / "k"), "-o", str(out)], "required: -r"),
    ]
    for args, want in cases:
        rc, err = run_cli(args, capsys)
        assert rc == 2 and want in err and err.count("\n") == 1, "%s: %r, want %r" % (args, err, want)
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["i", "k", "x86"]


@pytest.mark.parametrize("field,want", [
    (1 << 28, "maximum command line size 268435456 at 0x10430 is outside 896..1048576"),
    (1 << 34, "maximum command line size 17179869184 at 0x10430 is outside 896..1048576"),
    (100, "maximum command line size 100 at 0x10430 is outside 896..1048576"),
])
def test_corrupt_cmdline_size_refused(field, want):
    k = fake_kernel(size=0x20000, max_cmdline=field)
    with pytest.raises(S.ImageError) as e:
        S.make_image(k, b"x", "quiet")
    assert want in str(e.value), "make_image(max field %d) = %r, want %r" % (field, str(e.value), want)
    # Without a new command line the field is not used: the image is made.
    assert len(S.make_image(k, b"x")) == 0x20000 + 1


def test_truncated_kernel_cmdline_never_reaches_the_initramfs():
    k = fake_kernel(size=0x10480 + 1000, max_cmdline=4096)
    with pytest.raises(S.ImageError) as e:
        S.make_image(k, b"INITRD", "quiet")
    assert "truncated kernel image" in str(e.value), str(e.value)


def _image_with_names(kernel, names):
    return S.make_image(kernel, initramfs.write([initramfs.file(n, b"x") for n in names], "none"))


@pytest.mark.parts
def test_inspect_shows_what_it_can_of_a_foreign_initrd(kernel_bytes, tmp_path, capsys):
    img = S.make_image(kernel_bytes, b"\x55" * 70000, "console=ttysclp0")
    path = tmp_path / "img"
    path.write_bytes(img)
    rc = cli.run(["inspect", str(path)])
    out, err = capsys.readouterr()
    assert rc == 2
    assert "kernel version:   6." in out and "initramfs:        70000 bytes at 0x" in out, out
    assert '"console=ttysclp0"' in out, out
    assert err.count("\n") == 1 and "neither a cpio archive" in err and "entries are not shown" in err, err
    rc = cli.run(["inspect", "--json", str(path)])
    info = json.loads(capsys.readouterr().out)
    assert rc == 2 and info["entries"] is None and info["initrd_size"] == 70000
    assert info["kernel_version"].startswith("6.") and len(info["problems"]) == 1


@pytest.mark.parts
def test_inspect_escapes_names_for_the_terminal_json_keeps_them(kernel_bytes, tmp_path, capsys):
    names = ["evil\nkernel version:   1.0", "bell\x07\x1b[2Jclear", "back\\slash"]
    path = tmp_path / "img"
    path.write_bytes(_image_with_names(kernel_bytes, names))
    assert cli.run(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out, out
    assert sum(l.startswith("kernel version:") for l in out.splitlines()) == 1, out
    for want in ("/evil\\x0akernel version:   1.0", "/bell\\x07\\x1b[2Jclear", "/back\\\\slash"):
        assert want in out, "inspect text lacks %r:\n%s" % (want, out)
    assert cli.run(["inspect", "--json", str(path)]) == 0
    paths = [e["path"] for e in json.loads(capsys.readouterr().out)["entries"]]
    assert sorted(paths) == sorted(names), paths


@pytest.mark.parametrize("path,want", [
    ("/dev/zero", "image /dev/zero is a device or socket, not a file"),
    ("/", "image / is a directory"),
])
def test_inspect_bounded_reads(path, want, capsys):
    rc = cli.run(["inspect", path])
    err = capsys.readouterr().err
    assert rc == 2 and want in err and err.count("\n") == 1, err


@pytest.mark.parts
def test_inspect_into_a_closed_pipe(kernel_bytes, tmp_path):
    """`packager inspect pxelinux.0 | head -5`, as the quick start shows it."""
    import subprocess
    import sys
    path = tmp_path / "img"
    path.write_bytes(_image_with_names(kernel_bytes, ["f%04d" % i for i in range(3000)]))
    p = subprocess.run(["bash", "-o", "pipefail", "-c",
                        '"$0" -m packager inspect "$1" | head -5', sys.executable, str(path)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       cwd=str(__import__("pathlib").Path(__file__).parent.parent.parent))
    assert p.returncode == 0 and p.stderr == "", p.stderr
    assert len(p.stdout.splitlines()) == 5


@pytest.mark.parts
def test_image_output_paths(kernel_bytes, tmp_path, capsys):
    k = tmp_path / "k"
    k.write_bytes(kernel_bytes)
    (tmp_path / "i").write_bytes(b"070701")
    (tmp_path / "d").mkdir()
    cases = [
        (str(tmp_path / "d"), "output %s is a directory" % (tmp_path / "d")),
        (str(k), "output %s is the input kernel itself" % k),
        (str(tmp_path / "i"), "is the initrd itself"),
    ]
    for out, want in cases:
        rc, err = run_cli(["image", str(k), "-r", str(tmp_path / "i"), "-o", out], capsys)
        assert rc == 2 and want in err and err.count("\n") == 1, "-o %s: %r, want %r" % (out, err, want)
    assert k.read_bytes() == kernel_bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "i", "k"]
