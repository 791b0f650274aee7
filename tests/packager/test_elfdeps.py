"""ELF closure of real Debian s390x binaries, without running them."""

import os
import shutil
import subprocess

import pytest

from packager import elfdeps
from packager.errors import Die


@pytest.mark.parts
def test_kexec_closure_is_interpreter_plus_libc(s390x):
    c = elfdeps.closure(s390x.sysroot, ["sbin/kexec"])
    assert sorted(c.files) == ["lib/s390x-linux-gnu/ld64.so.1", "lib/s390x-linux-gnu/libc.so.6",
                               "sbin/kexec"]
    assert c.links == {"lib/ld64.so.1": "s390x-linux-gnu/ld64.so.1"}
    assert c.needed["sbin/kexec"] == ["libc.so.6"]


@pytest.mark.parts
def test_static_busybox_needs_nothing(s390x):
    c = elfdeps.closure(s390x.sysroot, ["bin/busybox"])
    assert c.files == ["bin/busybox"] and c.links == {}


def copy(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copy2(src, dst)


@pytest.mark.parts
def test_merged_usr_layout(s390x, tmp_path):
    root = tmp_path / "root"
    for rel in ["sbin/kexec", "lib/s390x-linux-gnu/libc.so.6", "lib/s390x-linux-gnu/ld64.so.1"]:
        copy(os.path.join(s390x.sysroot, rel), str(root / "usr" / rel))
    os.symlink("s390x-linux-gnu/ld64.so.1", root / "usr/lib/ld64.so.1")
    for top in ("lib", "sbin"):
        os.symlink("usr/" + top, root / top)
    c = elfdeps.closure(str(root), ["sbin/kexec"])
    assert sorted(c.files) == ["usr/lib/s390x-linux-gnu/ld64.so.1", "usr/lib/s390x-linux-gnu/libc.so.6",
                               "usr/sbin/kexec"]
    assert c.links["lib"] == "usr/lib" and c.links["sbin"] == "usr/sbin"
    assert c.links["usr/lib/ld64.so.1"] == "s390x-linux-gnu/ld64.so.1"


@pytest.mark.parts
def test_missing_library_names_binary_and_library(s390x, tmp_path):
    root = tmp_path / "root"
    copy(os.path.join(s390x.sysroot, "sbin/kexec"), str(root / "sbin/kexec"))
    copy(os.path.join(s390x.sysroot, "lib/s390x-linux-gnu/ld64.so.1"), str(root / "lib/s390x-linux-gnu/ld64.so.1"))
    os.symlink("s390x-linux-gnu/ld64.so.1", root / "lib/ld64.so.1")
    with pytest.raises(Die) as e:
        elfdeps.closure(str(root), ["sbin/kexec"])
    assert "sbin/kexec needs libc.so.6, which is in none of" in str(e.value)


@pytest.mark.parts
def test_missing_interpreter(s390x, tmp_path):
    root = tmp_path / "root"
    copy(os.path.join(s390x.sysroot, "sbin/kexec"), str(root / "sbin/kexec"))
    with pytest.raises(Die, match="sbin/kexec needs its interpreter /lib/ld64.so.1"):
        elfdeps.closure(str(root), ["sbin/kexec"])


def test_foreign_and_non_elf_refused(tmp_path):
    root = tmp_path / "root"
    copy("/bin/true", str(root / "bin/true"))
    (root / "bin/script").write_text("#!/bin/sh\n")
    with pytest.raises(Die, match=r"bin/true is not a 64-bit big-endian s390x ELF file \(found X86_64, 64-bit, little-endian\)"):
        elfdeps.closure(str(root), ["bin/true"])
    with pytest.raises(Die, match="bin/script is not an ELF file"):
        elfdeps.closure(str(root), ["bin/script"])
    with pytest.raises(Die, match="bin/none is not in the sysroot"):
        elfdeps.closure(str(root), ["bin/none"])


CC = "s390x-linux-gnu-gcc"


@pytest.mark.parts
def test_runpath_and_rpath_with_origin(s390x, tmp_path):
    """A real s390x program and library built by Debian's cross gcc, found through $ORIGIN."""
    root = tmp_path / "root"
    (root / "opt/app/bin").mkdir(parents=True)
    (root / "opt/app/lib").mkdir(parents=True)
    src = tmp_path / "src"
    src.mkdir()
    (src / "f.c").write_text("int f(void) { return 42; }\n")
    (src / "m.c").write_text("int f(void); int main(void) { return f(); }\n")
    subprocess.run([CC, "-shared", "-fPIC", "-o", str(root / "opt/app/lib/libf.so.1.0"),
                    "-Wl,-soname,libf.so.1", str(src / "f.c")], check=True)
    os.symlink("libf.so.1.0", root / "opt/app/lib/libf.so.1")
    for kind, flag in (("runpath", "--enable-new-dtags"), ("rpath", "--disable-new-dtags")):
        exe = root / "opt/app/bin" / kind
        subprocess.run([CC, "-o", str(exe), str(src / "m.c"), "-L" + str(root / "opt/app/lib"),
                        "-l:libf.so.1.0", "-Wl,-rpath,$ORIGIN/../lib", "-Wl," + flag], check=True)
    for rel in ["lib/s390x-linux-gnu/libc.so.6", "lib/s390x-linux-gnu/ld64.so.1"]:
        copy(os.path.join(s390x.sysroot, rel), str(root / rel))
    os.symlink("s390x-linux-gnu/ld64.so.1", root / "lib/ld64.so.1")
    for kind in ("runpath", "rpath"):
        c = elfdeps.closure(str(root), ["opt/app/bin/" + kind])
        assert "opt/app/lib/libf.so.1.0" in c.files, (kind, c.files)
        assert "lib/s390x-linux-gnu/libc.so.6" in c.files
