"""The reproducible initramfs writer, read back entry by entry."""

import gzip
import lzma
import stat
import struct

import pytest

from packager import initramfs as I


def sample():
    return [
        I.file("init", b"#!/bin/micropython\n", 0o755),
        I.file("usr/share/big", bytes(range(256)) * 8192),
        I.symlink("bin/sh", "busybox"),
        I.symlink("lib/ld64.so.1", "s390x-linux-gnu/ld64.so.1"),
        I.chardev("dev/console", 5, 1, 0o600),
        I.chardev("dev/null", 1, 3, 0o666),
        I.directory("proc", 0o555),
        I.Entry("etc/motd", stat.S_IFREG | 0o644, data=b"hi", mtime=2_000_000_000),
    ]


@pytest.mark.parametrize("compression", I.COMPRESSIONS)
def test_reads_back_entry_by_entry(compression, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    data = I.write(sample(), compression)
    assert I.compression_of(data) == compression
    got = [(m.path, m.kind, "%o" % (m.mode & 0o7777), m.size, m.target, m.rdev if m.kind == "char" else None,
            m.uid, m.gid, m.mtime, m.ino) for m in I.read(data)]
    want = [
        ("bin", "dir", "755", 0, None, None, 0, 0, 0, 1),
        ("bin/sh", "symlink", "777", 7, "busybox", None, 0, 0, 0, 2),
        ("dev", "dir", "755", 0, None, None, 0, 0, 0, 3),
        ("dev/console", "char", "600", 0, None, (5, 1), 0, 0, 0, 4),
        ("dev/null", "char", "666", 0, None, (1, 3), 0, 0, 0, 5),
        ("etc", "dir", "755", 0, None, None, 0, 0, 0, 6),
        ("etc/motd", "file", "644", 2, None, None, 0, 0, 1700000000, 7),
        ("init", "file", "755", 19, None, None, 0, 0, 0, 8),
        ("lib", "dir", "755", 0, None, None, 0, 0, 0, 9),
        ("lib/ld64.so.1", "symlink", "777", 25, "s390x-linux-gnu/ld64.so.1", None, 0, 0, 0, 10),
        ("proc", "dir", "555", 0, None, None, 0, 0, 0, 11),
        ("usr", "dir", "755", 0, None, None, 0, 0, 0, 12),
        ("usr/share", "dir", "755", 0, None, None, 0, 0, 0, 13),
        ("usr/share/big", "file", "644", 256 * 8192, None, None, 0, 0, 0, 14),
    ]
    for g, w in zip(got, want):
        assert g == w, "read(write(sample, %s)) entry = %r, want %r" % (compression, g, w)
    assert len(got) == len(want)
    big = [m for m in I.read(data, with_data=True) if m.path == "usr/share/big"][0]
    assert big.data == bytes(range(256)) * 8192


@pytest.mark.parametrize("compression", I.COMPRESSIONS)
def test_two_builds_identical(compression):
    a = I.write(sample(), compression)
    b = I.write(list(reversed(sample())), compression)
    assert a == b


def test_source_date_epoch_changes_bytes(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "100")
    a = I.write(sample(), "none")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "2100000000")
    b = I.write(sample(), "none")
    assert a != b  # etc/motd's mtime is clamped to the epoch in a, kept in b


def test_gzip_header_has_no_timestamp():
    data = I.write(sample(), "gzip")
    assert data[:3] == b"\x1f\x8b\x08"
    assert struct.unpack_from("<I", data, 4)[0] == 0
    gzip.decompress(data)


def test_xz_uses_crc32_check():
    data = I.write(sample(), "xz")
    # Stream header: magic (6 bytes), stream flags (2 bytes): check type in the low nibble.
    assert data[6] == 0 and data[7] & 0x0F == 0x01, "xz check type %#x, want CRC32 (1)" % data[7]
    lzma.decompress(data)


def test_later_entry_replaces_earlier_and_bad_paths():
    es = I.normalise([I.file("etc/x", b"old"), I.file("etc/x", b"new")])
    assert [e.data for e in es if e.path == "etc/x"] == [b"new"]
    with pytest.raises(ValueError, match="climbs out"):
        I.file("../etc/passwd", b"")
    with pytest.raises(ValueError, match="needs it to be a directory"):
        I.normalise([I.file("bin", b""), I.file("bin/sh", b"")])
    with pytest.raises(ValueError, match="SOURCE_DATE_EPOCH"):
        import os
        os.environ["SOURCE_DATE_EPOCH"] = "yesterday"
        try:
            I.normalise([])
        finally:
            del os.environ["SOURCE_DATE_EPOCH"]


def newc(name, data=b"", mode=0o100644):
    """One newc member and the trailer, by hand (libarchive would refuse the name)."""
    def member(name, data, mode):
        fields = [1, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
        head = b"070701" + b"".join(b"%08X" % f for f in fields) + name + b"\0"
        head += b"\0" * (-len(head) % 4)
        return head + data + b"\0" * (-len(data) % 4)
    return member(name, data, mode) + member(b"TRAILER!!!", b"", 0)


def test_a_name_that_is_not_utf8_is_shown_escaped(tmp_path):
    """packager inspect on an image whose initramfs holds a Latin-1 name: the entry
    is listed with the byte as \\xff (text and JSON), no crash."""
    import json
    import os
    import subprocess
    import sys
    from packager import s390image
    assert I.read(newc(b"bad\xffname", b"x"))[0].path == "bad\udcffname"
    kernel = bytearray(0x10480 + 896)
    kernel[0x10008:0x1000E] = b"S390EP"
    image = tmp_path / "image"
    image.write_bytes(s390image.make_image(bytes(kernel), newc(b"etc/bad\xffname", b"x")))
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p = subprocess.run([sys.executable, "-m", "packager", "inspect", str(image)], cwd=root,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.returncode == 0 and "/etc/bad\\xffname" in p.stdout, (p.stdout, p.stderr)
    p = subprocess.run([sys.executable, "-m", "packager", "inspect", "--json", str(image)], cwd=root,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.returncode == 0 and json.loads(p.stdout)["entries"][0]["path"] == "etc/bad\udcffname", p.stderr


def test_skeleton_symlinks_to_directories_are_links(tmp_path):
    """A --skel symlink to a directory (lib -> usr/lib, one to /run) is a link record,
    not dropped (os.walk lists it among the directories) and not followed."""
    import os
    from packager import build
    skel = tmp_path / "skel"
    (skel / "usr" / "lib").mkdir(parents=True)
    (skel / "usr" / "lib" / "f").write_text("x")
    os.symlink("usr/lib", str(skel / "lib"))
    os.symlink("/run", str(skel / "rundir"))
    records = dict((r.path, r) for r in build.skeleton_entries(str(skel)))
    links = dict((p, r.target) for p, r in records.items() if stat.S_ISLNK(r.mode))
    assert links == {"lib": "usr/lib", "rundir": "/run"}, links
    assert "usr/lib/f" in records and "lib/f" not in records, sorted(records)
