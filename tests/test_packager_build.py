"""`packager build --agent agent/` on this x86_64 host, from Debian's s390x parts."""

import json
import os
import subprocess
import sys

import pytest

from packager import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENT = os.path.join(ROOT, "agent")

pytestmark = pytest.mark.slow


def build(out, *extra, env=None):
    return subprocess.run([sys.executable, "-m", "packager", "build", "--agent", AGENT, "-o", out] + list(extra),
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=dict(os.environ, **(env or {})))


@pytest.fixture(scope="module")
def built(s390x, tmp_path_factory):
    d = tmp_path_factory.mktemp("build")
    a, b = str(d / "a.0"), str(d / "b.0")
    pa = build(a, env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert pa.returncode == 0, pa.stderr
    pb = build(b, env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert pb.returncode == 0, pb.stderr
    return a, b, pa


def test_two_builds_are_byte_identical(built):
    a, b, _ = built
    with open(a, "rb") as fa, open(b, "rb") as fb:
        assert fa.read() == fb.read()


def test_inspect_shows_the_parts_and_no_python_files(built, s390x):
    a, _, _ = built
    with open(a, "rb") as f:
        info = cli.inspect_image(f.read())
    paths = {e["path"]: e for e in info["entries"]}
    rel = s390x.release
    for want in ("init", "bin/micropython", "bin/busybox", "sbin/kexec", "lib/ld64.so.1",
                 "lib/s390x-linux-gnu/libc.so.6", "lib/s390x-linux-gnu/ld64.so.1",
                 "lib/modules/%s/kernel/drivers/net/virtio_net.ko" % rel,
                 "lib/modules/%s/kernel/drivers/net/net_failover.ko" % rel,
                 "lib/modules/%s/kernel/net/core/failover.ko" % rel,
                 "lib/modules/%s/kernel/drivers/block/virtio_blk.ko" % rel,
                 "lib/modules/%s/modules.dep" % rel, "etc/netboot/modules", "etc/netboot/manifest.json",
                 "usr/share/udhcpc/default.script", "bin/sh", "bin/udhcpc", "bin/ip",
                 "dev/console", "dev/null"):
        assert want in paths, want
    assert [p for p in paths if p.endswith((".py", ".pyc", ".mpy"))] == []
    assert paths["bin/sh"]["target"] == "busybox" and paths["dev/console"]["rdev"] == "5:1"
    assert paths["tmp"]["mode"] == "1777"
    assert all(e["uid"] == 0 and e["gid"] == 0 and e["mtime"] <= 1700000000 for e in info["entries"])
    assert info["initrd_compression"] == "xz"
    assert info["kernel_version"].startswith(rel)


def test_summary_and_manifest(built):
    a, _, proc = built
    with open(a + ".manifest.json") as f:
        m = json.load(f)
    names = [p["name"] for p in m["parts"]]
    for n in ("busybox-static", "kexec-tools", "libc6", "kernel", "micropython"):
        assert n in names, names
    assert m["image_size"] == os.path.getsize(a) and m["source_date_epoch"] == 1700000000
    assert "wrote %s" % a in proc.stdout and "kexec-tools" in proc.stdout and "manifest:" in proc.stdout
    assert "[1] fetching Debian" in proc.stderr and "interpreter" in proc.stderr


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_other_compressions_and_cmdline(compression, s390x, tmp_path):
    out = str(tmp_path / "p.0")
    p = build(out, "--compress", compression, "--cmdline", "pxe.debug pxe.window=32")
    assert p.returncode == 0, p.stderr
    with open(out, "rb") as f:
        info = cli.inspect_image(f.read())
    assert info["initrd_compression"] == compression and info["cmdline"] == "pxe.debug pxe.window=32"


def test_prebuilt_interpreter_and_sysroot(s390x, tmp_path, built):
    out = str(tmp_path / "p.0")
    a, _, _ = built
    from packager import initramfs, s390image
    with open(a, "rb") as f:
        members = initramfs.read(s390image.initrd_bytes(f.read()), with_data=True)
    interp = tmp_path / "micropython"
    interp.write_bytes([m.data for m in members if m.path == "bin/micropython"][0])
    p = build(out, "--interpreter", str(interp), "--sysroot", s390x.sysroot, "--kernel", s390x.kernel)
    assert p.returncode == 0, p.stderr
    assert "prebuilt" in p.stdout


@pytest.mark.parametrize("case", ["kernel", "no-busybox", "no-kexec", "no-manifest", "interpreter",
                                  "not-s390", "cmdline", "outdir", "offline", "compile"])
def test_bad_input_one_line_and_nothing_written(case, s390x, tmp_path):
    out = tmp_path / "pxelinux.0"
    args, want = [], ""
    agent = AGENT
    if case == "kernel":
        args, want = ["--kernel", str(tmp_path / "nope")], "kernel %s does not exist" % (tmp_path / "nope")
    elif case in ("no-busybox", "no-kexec"):
        root = tmp_path / "root"
        (root / "boot").mkdir(parents=True)
        (root / "sbin").mkdir()
        os.symlink(s390x.kernel, str(root / "boot" / ("vmlinuz-" + s390x.release)))
        if case == "no-kexec":
            (root / "bin").mkdir()
            os.symlink(os.path.join(s390x.sysroot, "bin/busybox"), str(root / "bin/busybox"))
        args = ["--sysroot", str(root)]
        want = "no busybox in the sysroot" if case == "no-busybox" else "no kexec in the sysroot"
    elif case == "no-manifest":
        agent = str(tmp_path)
        want = "has no manifest.py"
    elif case == "interpreter":
        args, want = ["--interpreter", str(tmp_path / "mp")], "--interpreter %s does not exist" % (tmp_path / "mp")
    elif case == "not-s390":
        (tmp_path / "bz").write_bytes(b"\0" * 0x202 + b"HdrS" + b"\0" * 0x20000)
        args, want = ["--kernel", str(tmp_path / "bz")], "not an s390 kernel image: found an x86 Linux kernel"
    elif case == "cmdline":
        args, want = ["--cmdline", "x" * 5000], "command line is 5000 bytes"
    elif case == "outdir":
        out = tmp_path / "no" / "pxelinux.0"
        want = "directory %s does not exist" % (tmp_path / "no")
    elif case == "compile":
        import shutil
        agent = str(tmp_path / "agent")
        shutil.copytree(AGENT, agent, ignore=shutil.ignore_patterns("__pycache__"))
        with open(os.path.join(agent, "broken.py"), "w") as f:
            f.write("def broken(:\n    pass\n")
        args = ["--skel", os.path.join(ROOT, "rootfs-skel")]
        want = "error compiling agent/broken.py:; SyntaxError: invalid syntax"
    elif case == "offline":
        args = ["--cache", str(tmp_path / "cache"), "--mirror", "http://127.0.0.1:9/debian"]
        want = "a first build needs the network"
    p = subprocess.run([sys.executable, "-m", "packager", "build", "--agent", agent, "-o", str(out)] + args,
                       cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err_lines = [l for l in p.stderr.splitlines() if l.startswith("packager:")]
    assert p.returncode == 2, p.stderr
    assert len(err_lines) == 1 and want in err_lines[0], p.stderr
    assert "Traceback" not in p.stderr
    assert not out.exists() and not os.path.exists(str(out) + ".manifest.json")
    assert not [f for f in os.listdir(str(out.parent)) if f.startswith(".pxelinux")] if out.parent.exists() else True


def test_s390x_host_path_uses_its_own_root_and_running_kernel(s390x, tmp_path, monkeypatch, capsys):
    """On an s390x host, no --sysroot means the host's own root and the running
    kernel (/boot/vmlinuz-$(uname -r)); walked here with Debian's s390x tree as that root."""
    import platform
    from packager import build
    monkeypatch.setattr(platform, "machine", lambda: "s390x")
    monkeypatch.setattr(platform, "release", lambda: s390x.release)
    monkeypatch.setattr(build, "HOST_ROOT", s390x.sysroot)
    out = str(tmp_path / "host.0")
    assert cli.run(["build", "--agent", AGENT, "-o", out]) == 0
    text = capsys.readouterr()
    assert "fetching Debian" not in text.err
    assert "(this s390x host)" in text.out and "vmlinuz-%s" % s390x.release in text.out
    monkeypatch.setattr(platform, "release", lambda: "9.9.9-nothere")
    assert cli.run(["build", "--agent", AGENT, "-o", out + "x"]) == 2
    assert "no /boot/image-9.9.9-nothere or /boot/vmlinuz-9.9.9-nothere" in capsys.readouterr().err
