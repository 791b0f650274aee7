"""`packager build --agent agent/` on this x86_64 host, from Debian's s390x parts."""

import json
import os
import subprocess
import sys

import pytest

from packager import build as build_mod, cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AGENT = os.path.join(ROOT, "agent")

pytestmark = [pytest.mark.slow, pytest.mark.parts]


def build(out, *extra, env=None):
    return subprocess.run([sys.executable, "-m", "packager", "build", "--agent", AGENT, "-o", out] + list(extra),
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=dict(os.environ, **(env or {})))


def image_interpreter(image, tmp_path):
    """The image's bin/micropython, written to tmp_path: its path."""
    from packager import initramfs, s390image
    with open(image, "rb") as f:
        members = initramfs.read(s390image.initrd_bytes(f.read()), with_data=True)
    interp = tmp_path / "micropython"
    interp.write_bytes([m.data for m in members if m.path == "bin/micropython"][0])
    return interp


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
    for want in ("init", "bin/micropython", "bin/busybox",
                 "lib/modules/%s/kernel/drivers/net/virtio_net.ko" % rel,
                 "lib/modules/%s/kernel/drivers/net/net_failover.ko" % rel,
                 "lib/modules/%s/kernel/net/core/failover.ko" % rel,
                 "lib/modules/%s/kernel/drivers/block/virtio_blk.ko" % rel,
                 "lib/modules/%s/modules.dep" % rel, "etc/netboot/modules", "etc/netboot/manifest.json",
                 "usr/share/udhcpc/default.script", "bin/sh", "bin/udhcpc", "bin/ip",
                 "dev/console", "dev/null"):
        assert want in paths, want
    # The agent loads kernels with bootsys: no kexec-tools, no glibc (build_mod.has_bootsys).
    # (by file name: lib/modules/.../libcrc32c.ko, which xfs needs for local boot, is no glibc)
    names = [(p, p.rsplit("/", 1)[-1]) for p in paths]
    assert [p for p, n in names if "kexec" in n or n.startswith(("libc.so", "libc-", "ld64"))] == [], sorted(paths)
    assert [p for p in paths if p.endswith((".py", ".pyc", ".mpy"))] == []
    assert paths["bin/sh"]["target"] == "busybox" and paths["dev/console"]["rdev"] == "5:1"
    assert paths["tmp"]["mode"] == "1777"
    assert all(e["uid"] == 0 and e["gid"] == 0 and e["mtime"] <= 1700000000 for e in info["entries"])
    assert info["initrd_compression"] == "zstd"
    assert info["kernel_version"].startswith(rel)
    # build.BOOT_CMDLINE: the crypto self-tests skipped (docs/performance.md)
    assert info["cmdline"] == "cryptomgr.notests"


def test_summary_and_manifest(built):
    a, _, proc = built
    with open(a + ".manifest.json") as f:
        m = json.load(f)
    names = [p["name"] for p in m["parts"]]
    for n in ("busybox-static", "kernel", "micropython"):
        assert n in names, names
    assert "kexec-tools" not in names and "libc6" not in names, names
    assert m["image_size"] == os.path.getsize(a) and m["source_date_epoch"] == 1700000000
    assert m["built_in"] == "host", m["built_in"]
    assert "wrote %s" % a in proc.stdout and "busybox-static" in proc.stdout and "manifest:" in proc.stdout
    assert "kexec-tools" not in proc.stdout
    assert "[1] fetching Debian" in proc.stderr and "interpreter" in proc.stderr


@pytest.mark.parametrize("compression", ["xz", "gzip", "none"])
def test_other_compressions_and_cmdline(compression, s390x, tmp_path):
    out = str(tmp_path / "p.0")
    p = build(out, "--compress", compression, "--cmdline", "pxe.debug pxe.window=32")
    assert p.returncode == 0, p.stderr
    with open(out, "rb") as f:
        info = cli.inspect_image(f.read())
    assert info["initrd_compression"] == compression and info["cmdline"] == "cryptomgr.notests pxe.debug pxe.window=32"


def test_prebuilt_interpreter_and_sysroot(s390x, tmp_path, built):
    out = str(tmp_path / "p.0")
    a, _, _ = built
    from packager import initramfs, s390image
    interp = image_interpreter(a, tmp_path)
    # With a trust store (a bundle with comments between the certificates) and https only.
    bundle = tmp_path / "bundle.pem"
    ca = make_ca(tmp_path)
    bundle.write_text("# site CA\n" + ca + "junk between\n" + ca)
    p = build(out, "--interpreter", str(interp), "--sysroot", s390x.sysroot, "--kernel", s390x.kernel,
              "--ca-certs", str(bundle), "--https-only")
    assert p.returncode == 0, p.stderr
    assert "prebuilt" in p.stdout
    assert "2 CA certificates from %s" % bundle in p.stdout and "https only" in p.stdout
    with open(out, "rb") as f:
        members = dict((m.path, m) for m in initramfs.read(s390image.initrd_bytes(f.read()), with_data=True))
    assert members["etc/s390-netboot/ca.pem"].data == (ca + ca).encode()
    assert members["etc/s390-netboot/defaults"].data == b"pxe.https-only\n"
    with open(out + ".manifest.json") as f:
        m = json.load(f)
    assert m["https_only"] is True and m["ca_certs"]["count"] == 2 and m["https_hosts"] is None
    # --https-host pins the servers (and implies --https-only); a URL is refused in one line.
    p = build(out, "--interpreter", str(interp), "--sysroot", s390x.sysroot, "--kernel", s390x.kernel,
              "--ca-certs", str(bundle), "--https-host", "Boot.example", "--https-host", "[2001:db8::1]",
              "--spread", "7")
    assert p.returncode == 0 and "https only from boot.example, 2001:db8::1" in p.stdout, (p.stdout, p.stderr)
    assert "spread:    pxe.spread=7 built in" in p.stdout, p.stdout
    with open(out, "rb") as f:
        members = dict((m.path, m) for m in initramfs.read(s390image.initrd_bytes(f.read()), with_data=True))
    assert members["etc/s390-netboot/defaults"].data == \
        b"pxe.https-only\npxe.https-host=boot.example,2001:db8::1\npxe.spread=7\n"
    with open(out + ".manifest.json") as f:
        assert json.load(f)["spread"] == 7
    p = build(out, "--interpreter", str(interp), "--sysroot", s390x.sysroot, "--kernel", s390x.kernel,
              "--https-host", "https://boot.example/")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "want a host name or an IP address" in p.stderr


def test_debian_ca_bundle_loads_in_the_agent(s390x, tmp_path, built):
    """--ca-certs debian: Debian's ca-certificates (through the packager's apt) in
    the image, and every certificate of it accepted by the frozen agent's mbedtls
    (one it cannot parse would make the whole trust store unusable)."""
    from packager import debian, initramfs, micropython, s390image
    a, _, _ = built
    with open(a, "rb") as f:
        members = initramfs.read(s390image.initrd_bytes(f.read()), with_data=True)
    interp = tmp_path / "micropython"
    interp.write_bytes([m.data for m in members if m.path == "bin/micropython"][0])
    out = str(tmp_path / "d.0")
    p = build(out, "--interpreter", str(interp), "--sysroot", s390x.sysroot, "--kernel", s390x.kernel,
              "--ca-certs", "debian")
    assert p.returncode == 0, p.stderr
    with open(out, "rb") as f:
        pem = [m.data for m in initramfs.read(s390image.initrd_bytes(f.read()), with_data=True)
               if m.path == "etc/s390-netboot/ca.pem"][0]
    count = pem.count(b"-----BEGIN CERTIFICATE-----")
    assert count > 100 and "%d CA certificates from Debian's ca-certificates" % count in p.stdout, p.stdout
    (tmp_path / "ca.pem").write_bytes(pem)
    mpy, _ = micropython.build(AGENT, debian.cache_root(), "x86_64", "zig")
    script = ("from agent.http import trust_context\n"
              "ctx, skipped = trust_context(open(%r).read())\nprint('loaded, skipped', skipped)\n"
              % str(tmp_path / "ca.pem"))
    r = subprocess.run([mpy, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert r.stdout.strip() == "loaded, skipped 0", r.stderr


def make_ca(d):
    """A CA certificate (PEM text) made with openssl."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"), "-subj", "/CN=test", "-days", "2"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (d / "ca.pem").read_text()


def test_default_build_has_no_trust_store(built):
    a, _, proc = built
    from packager import initramfs, s390image
    with open(a, "rb") as f:
        paths = [m.path for m in initramfs.read(s390image.initrd_bytes(f.read()))]
    assert "etc/s390-netboot/ca.pem" not in paths and "etc/s390-netboot/defaults" not in paths
    assert "no trust store: https:// fails closed" in proc.stdout


@pytest.mark.parametrize("case", ["kernel", "no-busybox", "no-kexec", "no-manifest", "interpreter",
                                  "not-s390", "cmdline", "outdir", "offline", "compile", "ca-certs",
                                  "sign-ca"])
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
        args = ["--sysroot", str(root)] + (["--kexec-tools"] if case == "no-kexec" else [])
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
        args, want = ["--cmdline", "x" * 5000], "command line is 5018 bytes"
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
    elif case == "ca-certs":
        (tmp_path / "ca.txt").write_text("not a certificate\n")
        args = ["--ca-certs", str(tmp_path / "ca.txt")]
        want = "--ca-certs %s holds no PEM certificate" % (tmp_path / "ca.txt")
    elif case == "sign-ca":
        (tmp_path / "root.der").write_bytes(b"\x30\x82\x01\x00" + b"\xff" * 40)
        args = ["--sign-ca", str(tmp_path / "root.der")]
        want = "--sign-ca %s is not a PEM file (binary data)" % (tmp_path / "root.der")
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


def test_two_builds_at_once_share_a_cold_cache(built, tmp_path):
    """Two builds started together on one machine, with an interpreter cache
    that has to be built: they take turns on the cache (packager.debian
    cache_lock) and both give the same bytes as a build alone."""
    import shutil
    from packager import debian
    cache = tmp_path / "cache"
    # The Debian downloads are shared (no network needed); the interpreter is not.
    shutil.copytree(os.path.join(debian.cache_root(), "apt"), str(cache / "apt"), symlinks=True)
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    procs = [subprocess.Popen([sys.executable, "-m", "packager", "build", "--agent", AGENT,
                               "--cache", str(cache), "-o", str(tmp_path / name)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for name in ("one.0", "two.0")]
    results = [p.communicate(timeout=900) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err[-3000:]
    assert "waiting for another build" in results[0][1] + results[1][1]
    one, two = (tmp_path / "one.0").read_bytes(), (tmp_path / "two.0").read_bytes()
    assert one == two, "two builds run at once differ"
    with open(built[0], "rb") as f:
        alone = f.read()
    assert one == alone, "builds run at once differ from a build alone (same agent, same parts)"


@pytest.mark.parametrize("case", ["fifo", "output-is-dir", "output-is-kernel", "readonly", "full"])
def test_bad_output_or_skeleton_one_line_nothing_left(case, s390x, tmp_path):
    import shutil
    import stat
    out = tmp_path / "out" / "pxelinux.0"
    out.parent.mkdir()
    args = []
    skel = tmp_path / "skel"
    shutil.copytree(os.path.join(ROOT, "rootfs-skel"), str(skel))
    args = ["--skel", str(skel)]
    prefix = []
    if case == "fifo":
        os.mkfifo(str(skel / "etc" / "pipe"))
        want = "--skel: %s is a FIFO" % (skel / "etc" / "pipe")
    elif case == "output-is-dir":
        out = tmp_path / "out"
        want = "output %s is a directory" % out
    elif case == "output-is-kernel":
        k = tmp_path / "out" / "vmlinuz"
        shutil.copy(s390x.kernel, str(k))
        args += ["--kernel", str(k)]
        out = k
        want = "is the input kernel itself"
    elif case == "readonly":
        # A read-only mount of the output directory, in a private mount namespace.
        prefix = ["unshare", "-m", "sh", "-c",
                  'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" || exit 99; "$@"; rc=$?; '
                  'ls -A "$0" | sed "s/^/left: /" >&2; exit $rc', str(out.parent)]
        want = "cannot write %s: Read-only file system" % out
    elif case == "full":
        # A 64 KiB tmpfs as the output directory: the image does not fit.
        prefix = ["unshare", "-m", "sh", "-c",
                  'mount -t tmpfs -o size=64k none "$0" || exit 99; "$@"; rc=$?; '
                  'ls -A "$0" | sed "s/^/left: /" >&2; exit $rc', str(out.parent)]
        want = "cannot write %s: No space left on device" % out
    before = sorted(os.listdir(str(out.parent))) if out.parent.is_dir() else []
    p = subprocess.run(prefix + [sys.executable, "-m", "packager", "build", "--agent", AGENT, "-o", str(out)] + args,
                       cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    err_lines = [l for l in p.stderr.splitlines() if l.startswith("packager:")]
    assert p.returncode == 2, p.stderr
    assert len(err_lines) == 1 and want in err_lines[0], p.stderr
    assert "Traceback" not in p.stderr and "left: " not in p.stderr, p.stderr
    if case not in ("output-is-dir", "output-is-kernel"):
        assert sorted(os.listdir(str(out.parent))) == before, "left behind: %s" % os.listdir(str(out.parent))
    if case == "output-is-kernel":
        with open(s390x.kernel, "rb") as a:
            assert out.read_bytes() == a.read(), "the input kernel was overwritten"


def test_has_bootsys_wants_the_modules_own_text():
    # The frozen agent names bootsys and its functions whether the module is in or not.
    assert not build_mod.has_bootsys(b"...import bootsys...kexec_file_load...finit_module...")
    assert build_mod.has_bootsys(b"\0s390-netboot bootsys 1\0")


def test_kexec_tools_only_on_request_or_for_an_interpreter_without_bootsys(s390x, tmp_path, built):
    """build_mod.has_bootsys: the image's own interpreter loads kernels itself, so
    kexec-tools and glibc stay out unless --kexec-tools asks for them (the
    rescue shell) or the --interpreter given lacks bootsys."""
    from packager import initramfs, s390image
    interp = image_interpreter(built[0], tmp_path)
    # Any static s390x program without the module's names stands for an old interpreter.
    old = tmp_path / "old-micropython"
    with open(os.path.join(s390x.sysroot, "bin/busybox"), "rb") as f:
        old.write_bytes(f.read())
    for name, extra, want in (("asked", ["--interpreter", str(interp), "--kexec-tools"], True),
                              ("old", ["--interpreter", str(old)], True),
                              ("own", ["--interpreter", str(interp)], False)):
        out = str(tmp_path / ("%s.0" % name))
        p = build(out, "--sysroot", s390x.sysroot, "--kernel", s390x.kernel, *extra)
        assert p.returncode == 0, p.stderr
        with open(out, "rb") as f:
            paths = [m.path for m in initramfs.read(s390image.initrd_bytes(f.read()))]
        has = "sbin/kexec" in paths and "lib/s390x-linux-gnu/libc.so.6" in paths and "lib/ld64.so.1" in paths
        assert has == want, (name, sorted(p for p in paths if "lib/" in p or "sbin" in p))
        assert ("closing over busybox, kexec and the interpreter" in p.stderr) == want, p.stderr
