"""Signed boot (issue 24) with a real PKI made by openssl(1): signatures made
by `openssl cms` exactly as iPXE documents and by `s390-netboot sign`, and
every refusal, checked by the same table on CPython (openssl), on the x86_64
MicroPython (the image's mbedtls, packager/cmod/sigcheck) and on the frozen
s390x agent under qemu-s390x-static."""

import hashlib
import json
import os
import subprocess
import sys

import pytest

from agent import verify
from agent.fetch import LocalFetcher
import signca

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAYLOAD = b"".join(b"kernel %d\n" % i for i in range(20000))    # about 200 KB

# (name, how its NAME.sig is made, the reason code wanted)
CASES = [
    ("good-cms", "cms signer", verify.OK),
    ("good-sign", "s390-netboot sign signer", verify.OK),
    ("good-rsa", "cms rsa-signer nochain", verify.OK),
    ("no-intermediate", "cms signer nochain", verify.UNKNOWN_SIGNER),
    ("other-file", "sig of another file", verify.BAD_SIGNATURE),
    ("changed", "file changed after signing", verify.BAD_SIGNATURE),
    ("no-eku", "cms no-eku", verify.NO_CODE_SIGNING),
    ("server-eku", "cms server", verify.NO_CODE_SIGNING),
    ("other-root", "cms other-signer", verify.UNKNOWN_SIGNER),
    ("expired", "cms expired", verify.EXPIRED),
    ("future", "cms future", verify.NOT_YET_VALID),
    ("attrs", "signed attributes (no -noattr)", verify.MALFORMED),
    ("attached", "-nodetach: the file inside", verify.MALFORMED),
    ("sha512", "-md sha512", verify.DIGEST),
    ("empty", "0-byte .sig", verify.MALFORMED),
    ("garbage", "random bytes", verify.MALFORMED),
    ("truncated", "first half of a good .sig", verify.MALFORMED),
    ("huge", "10 MB .sig", verify.TOO_LARGE),
    ("missing", "no .sig", verify.MISSING),
    ("appended", "kernel's appended signature by a root", verify.OK),
    ("appended-changed", "appended signature, a byte changed", verify.BAD_SIGNATURE),
    ("appended-unknown", "appended signature by a signer not among the roots", verify.UNKNOWN_SIGNER),
    ("appended-no-eku", "appended signature by a root without code signing", verify.NO_CODE_SIGNING),
    ("appended-cut", "appended trailer with a sig_len beyond the file", verify.MALFORMED),
]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return signca.make_pki(str(tmp_path_factory.mktemp("pki")))


def build_tree(pki, tree):
    os.makedirs(tree, exist_ok=True)
    for name, how, _ in CASES:
        path = os.path.join(tree, name)
        with open(path, "wb") as f:
            # An attached signature holds the file: a small one, to get past the size bound.
            f.write((PAYLOAD[:1000] if name == "attached" else PAYLOAD) + name.encode())
        sig = path + ".sig"
        words = how.split()
        if words[0] == "cms":
            signca.cms_sign(pki, words[1], path, chain="nochain" not in words)
        elif how.startswith("s390-netboot sign"):
            p = run_workstation(["sign", "--cert", os.path.join(pki, "signer.pem"), "--key",
                                 os.path.join(pki, "signer.key"), "--chain", os.path.join(pki, "chain.pem"), path])
            assert p.returncode == 0 and p.stdout.startswith("signed %s -> %s.sig" % (path, path)), p.stdout + p.stderr
        elif name == "other-file":
            other = os.path.join(pki, "other-file")
            with open(other, "wb") as f:
                f.write(b"another file\n")
            signca.cms_sign(pki, "signer", other, out=sig)
        elif name == "changed":
            signca.cms_sign(pki, "signer", path)
            with open(path, "r+b") as f:
                f.seek(1000)
                f.write(b"X")
        elif name == "attrs":
            signca.openssl(["cms", "-sign", "-binary", "-in", path, "-signer", "signer.pem", "-inkey", "signer.key",
                            "-certfile", "chain.pem", "-outform", "DER", "-out", sig], pki)
        elif name == "attached":
            signca.cms_sign(pki, "signer", path, extra=["-nodetach"])
        elif name == "sha512":
            signca.cms_sign(pki, "signer", path, extra=["-md", "sha512"])
        elif name == "empty":
            open(sig, "wb").close()
        elif name == "garbage":
            with open(sig, "wb") as f:
                f.write(hashlib.sha256(b"seed").digest() * 64)
        elif name == "truncated":
            signca.cms_sign(pki, "signer", path)
            with open(sig, "rb") as f:
                data = f.read()
            with open(sig, "wb") as f:
                f.write(data[:len(data) // 2])
        elif name == "huge":
            good = signca.cms_sign(pki, "signer", path)
            with open(good, "ab") as f:
                f.write(b"\0" * (10 << 20))
        elif name == "missing":
            pass
        elif name == "appended":
            signca.append_signature(pki, "kernel-key", path)
        elif name == "appended-changed":
            signca.append_signature(pki, "kernel-key", path)
            with open(path, "r+b") as f:
                f.write(b"X")
        elif name == "appended-unknown":
            signca.append_signature(pki, "signer", path)
        elif name == "appended-no-eku":
            signca.append_signature(pki, "root", path)
        elif name == "appended-cut":
            signca.append_signature(pki, "kernel-key", path)
            with open(path, "r+b") as f:
                f.seek(-40, 2)
                f.write(b"\0\0\2\0\0\0\0\0\x7f\xff\xff\xff")
        else:
            raise AssertionError("no recipe for %s" % name)
    return tree


def run_workstation(argv):
    return subprocess.run([sys.executable, "-m", "workstation"] + argv, cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=120)


@pytest.fixture(scope="module")
def tree(pki, tmp_path_factory):
    return build_tree(pki, str(tmp_path_factory.mktemp("tree")))


# What each runtime runs: every case fetched through VerifyingFetcher over a
# directory, one line "NAME REASON" each.
DRIVER = r"""
import sys
from agent import verify
from agent.fetch import LocalFetcher
tree, roots, out = sys.argv[-3:]
f = verify.VerifyingFetcher(LocalFetcher(tree), verify.load_roots(roots))
for name in %r:
    try:
        f.fetch("tftp://server/" + name, out)
        code = verify.OK
    except verify.Unsigned as e:
        code = e.reason
    print(name, verify.NAMES[code])
"""


def want_lines():
    return ["%s %s" % (name, verify.NAMES[code]) for name, _, code in CASES]


def check_lines(lines):
    got = dict(line.split(" ", 1) for line in lines if " " in line)
    bad = ["%s: %s, want %s" % (name, got.get(name), verify.NAMES[code])
           for name, _, code in CASES if got.get(name) != verify.NAMES[code]]
    assert not bad, "; ".join(bad)


def test_cases_on_cpython(pki, tree, tmp_path):
    f = verify.VerifyingFetcher(LocalFetcher(tree), verify.load_roots(os.path.join(pki, "roots.pem")))
    lines = []
    for name, _, _ in CASES:
        out = str(tmp_path / "out")
        try:
            f.fetch("tftp://server/" + name, out)
            lines.append("%s ok" % name)
            assert os.path.exists(out)
        except verify.Unsigned as e:
            lines.append("%s %s" % (name, verify.NAMES[e.reason]))
            assert not os.path.exists(out), "%s: the refused file was left at %s" % (name, out)
            assert str(e).startswith("tftp://server/%s: refused: " % name) and "\n" not in str(e), str(e)
    check_lines(lines)


def test_reads_of_configs_are_checked_the_same(pki, tree):
    """read() (configs) checks the bytes it returns; no file is written."""
    f = verify.VerifyingFetcher(LocalFetcher(tree), verify.load_roots(os.path.join(pki, "root.pem")))
    assert f.read("tftp://server/good-cms").startswith(PAYLOAD)
    for name, want in (("changed", verify.BAD_SIGNATURE), ("no-eku", verify.NO_CODE_SIGNING)):
        with pytest.raises(verify.Unsigned) as e:
            f.read("tftp://server/" + name)
        assert e.value.reason == want, (name, e.value)


def test_second_root_in_the_image_is_trusted(pki, tree, tmp_path):
    """The image may carry several roots: other-root's signer passes once it is one of them."""
    both = tmp_path / "roots.pem"
    both.write_bytes(open(os.path.join(pki, "root.pem"), "rb").read() + open(os.path.join(pki, "other-root.pem"), "rb").read())
    f = verify.VerifyingFetcher(LocalFetcher(tree), verify.load_roots(str(both)))
    f.read("tftp://server/other-root")
    f.read("tftp://server/good-cms")


def test_sign_command_errors_are_one_line(pki, tmp_path):
    target = tmp_path / "vmlinuz"
    target.write_bytes(b"k")
    cases = (
        (["--cert", os.path.join(pki, "no-eku.pem"), "--key", os.path.join(pki, "no-eku.key"), str(target)],
         "has no code-signing extended key usage"),
        (["--cert", os.path.join(pki, "signer.pem"), "--key", os.path.join(pki, "signer.key"), str(tmp_path / "nope")],
         "no such file"),
        (["--cert", os.path.join(pki, "signer.pem"), "--key", os.path.join(pki, "other-signer.key"), str(target)],
         "signing %s failed" % target),
    )
    for args, words in cases:
        p = run_workstation(["sign"] + args)
        assert p.returncode == 2 and words in p.stderr and p.stderr.count("\n") == 1, (args, p.stderr)
        assert "Traceback" not in p.stderr
        assert not os.path.exists(str(target) + ".sig"), "a failed sign left %s.sig" % target
        assert not [n for n in os.listdir(str(tmp_path)) if ".tmp" in n], os.listdir(str(tmp_path))


def signed_tree(pki, d):
    """A pxelinux tree with every file signed, for plan --sign-ca."""
    cfg = os.path.join(d, "pxelinux.cfg")
    os.makedirs(cfg)
    with open(os.path.join(cfg, "default"), "w") as f:
        f.write("DEFAULT linux\nLABEL linux\n KERNEL vmlinuz\n INITRD initrd.img\n APPEND console=ttysclp0\n")
    from test_lint import fake_kernel
    for name, data in (("vmlinuz", fake_kernel()), ("initrd.img", b"\x1f\x8b" + b"I" * 7000)):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    for rel in ("pxelinux.cfg/default", "vmlinuz", "initrd.img"):
        signca.cms_sign(pki, "signer", os.path.join(d, rel))
    return d


def test_plan_sign_ca(pki, tmp_path):
    d = signed_tree(pki, str(tmp_path / "tree"))
    root = os.path.join(pki, "root.pem")
    p = run_workstation(["plan", "--root", d, "--sign-ca", root, "--json"])
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["kernel"] == "vmlinuz"
    with open(os.path.join(d, "initrd.img"), "r+b") as f:
        f.write(b"J")
    p = run_workstation(["plan", "--root", d, "--sign-ca", root])
    assert p.returncode == 2 and p.stderr.strip() == "plan: tftp://localhost/initrd.img: refused: %s" % \
        verify.REASONS[verify.BAD_SIGNATURE], p.stderr
    os.remove(os.path.join(d, "pxelinux.cfg", "default.sig"))
    p = run_workstation(["plan", "--root", d, "--sign-ca", root])
    assert p.returncode == 2 and "pxelinux.cfg/default: refused: missing signature (no default.sig)" in p.stderr, p.stderr
    p = run_workstation(["fetch", "tftp://x/vmlinuz", "-o", str(tmp_path / "k"), "--sign-ca", str(tmp_path / "none.pem")])
    assert p.returncode == 2 and "--sign-ca" in p.stderr and "cannot read" in p.stderr, p.stderr


def mpy_lines(cmd, tree, pki, tmp_path):
    names = [n for n, _, _ in CASES]
    script = DRIVER % (names,)
    proc = subprocess.run(cmd + ["-c", script, tree, os.path.join(pki, "roots.pem"), str(tmp_path / "out")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
                          cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:]
    return proc.stdout.splitlines()


@pytest.mark.slow
def test_cases_on_micropython_mbedtls(pki, tree, tmp_path):
    from tests.test_micropython import mpy_x86_64  # noqa: F401 -- the fixture
    from packager import debian, micropython
    path, _ = micropython.build(os.path.join(ROOT, "agent"), debian.cache_root(), "x86_64", "zig")
    check_lines(mpy_lines([path], tree, pki, tmp_path))


@pytest.mark.slow
def test_cases_on_frozen_s390x_agent(pki, tree, tmp_path):
    from packager import debian, micropython
    path, _ = micropython.build(os.path.join(ROOT, "agent"), debian.cache_root(), "s390x", "zig")
    check_lines(mpy_lines(["qemu-s390x-static", path], tree, pki, tmp_path))


def test_lint_sign_ca(pki, tmp_path):
    d = signed_tree(pki, str(tmp_path / "tree"))
    root = os.path.join(pki, "root.pem")
    p = run_workstation(["lint", d, "--sign-ca", root])
    assert p.returncode == 0 and ": error:" not in p.stdout, p.stdout + p.stderr
    with open(os.path.join(d, "initrd.img"), "r+b") as f:
        f.write(b"J")
    os.remove(os.path.join(d, "vmlinuz.sig"))
    with open(os.path.join(d, "pxelinux.cfg", "default"), "a") as f:
        f.write("# changed after signing\n")
    p = run_workstation(["lint", d, "--sign-ca", root])
    assert p.returncode == 1, p.stdout + p.stderr
    errors = sorted(line for line in p.stdout.splitlines() if ": error: " in line)
    assert errors == [
        "pxelinux.cfg/default: error: signature: " + verify.REASONS[verify.BAD_SIGNATURE],
        "pxelinux.cfg/default:2: error: label linux: INITRD initrd.img refused: " + verify.REASONS[verify.BAD_SIGNATURE],
        "pxelinux.cfg/default:2: error: label linux: KERNEL vmlinuz refused: missing signature (no vmlinuz.sig)",
    ], p.stdout


def test_docs_signed_boot_commands_run(tmp_path):
    """docs/servers.md "Signed boot": its `doctest=signing` blocks, in order,
    make the CA, a signed tree that lints clean, and plan accepts it."""
    import re
    from test_lint import fake_initrd, fake_kernel
    with open(os.path.join(ROOT, "docs", "servers.md")) as f:
        code = "\n".join(re.findall(r"```sh doctest=signing\n(.*?)```", f.read(), re.S))
    assert "s390-netboot sign" in code and "openssl x509 -req" in code
    (tmp_path / "linux").write_bytes(fake_kernel())
    (tmp_path / "initrd.gz").write_bytes(fake_initrd())
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "s390-netboot").write_text('#!/bin/sh\nPYTHONPATH=%s exec %s -m workstation "$@"\n' % (ROOT, sys.executable))
    (shim / "s390-netboot").chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ, KERNEL=str(tmp_path / "linux"), INITRD=str(tmp_path / "initrd.gz"),
               PATH=str(shim) + os.pathsep + os.environ.get("PATH", ""))
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=str(work), env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "lint: 1 config, 1 label, 1 kernel checked: 0 errors, 0 warnings" in p.stdout, p.stdout
    for name in ("pxelinux.cfg/default.sig", "linux.sig", "initrd.gz.sig"):
        assert (work / "tftp" / name).stat().st_size > 300, name
    p = run_workstation(["plan", "--root", str(work / "tftp"), "--sign-ca", str(work / "sign-ca.pem")])
    assert p.returncode == 0 and "kernel:        linux" in p.stdout, p.stdout + p.stderr


@pytest.mark.slow
def test_packager_build_sign_ca(pki, s390x, tmp_path):
    """--sign-ca: the roots at /etc/s390-netboot/sign-ca.pem, pxe.verify=required
    built in, the summary and the manifest naming each root."""
    from packager import initramfs, s390image
    out = str(tmp_path / "pxelinux.0")
    p = subprocess.run([sys.executable, "-m", "packager", "build", "--agent", os.path.join(ROOT, "agent"), "-o", out,
                        "--sign-ca", os.path.join(pki, "roots.pem")], cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    assert p.returncode == 0, p.stderr
    fingerprint = signca.openssl(["x509", "-in", "root.pem", "-noout", "-fingerprint", "-sha256"], pki).decode()
    fingerprint = fingerprint.split("=", 1)[1].strip().replace(":", "").lower()
    assert "signed:    pxe.verify=required; 2 code-signing roots from %s" % os.path.join(pki, "roots.pem") in p.stdout
    assert "CN=s390-netboot test root (SHA-256 %s)" % fingerprint in p.stdout, p.stdout
    with open(out + ".manifest.json") as f:
        m = json.load(f)["sign_ca"]
    assert [r["subject"] for r in m["roots"]] == ["CN=s390-netboot test root", "CN=kernel-key"], m
    assert m["roots"][0]["sha256"] == fingerprint
    with open(out, "rb") as f:
        members = dict((x.path, x.data) for x in initramfs.read(s390image.initrd_bytes(f.read()), with_data=True))
    assert members["etc/s390-netboot/defaults"].decode().split() == ["pxe.verify=required"]
    with open(os.path.join(pki, "roots.pem"), "rb") as f:
        assert members["etc/s390-netboot/sign-ca.pem"] == f.read()
    assert "etc/s390-netboot/ca.pem" not in members  # the HTTPS trust store stays apart


@pytest.fixture(scope="module")
def signed_image(pki, netboot_files, tmp_path_factory):
    """pxelinux.0 with the test root built in, and pxe.verify=0 on its
    command line (which the image must ignore)."""
    from netboot_parts import build_image
    out = str(tmp_path_factory.mktemp("netboot-signed"))
    return build_image(ROOT, out, "--sign-ca", os.path.join(pki, "root.pem"), "--cmdline", "pxe.verify=0")


@pytest.mark.slow
@pytest.mark.qemu
def test_qemu_signed_tree_changed_initrd_refused_onerror_boots(pki, netboot_files, signed_image, tmp_path):
    """A signed tree over TFTP: the default label's initrd has one byte
    changed after signing: one line says so and ONERROR boots the signed
    fallback; pxe.verify=0 on the image's command line is ignored, with a line."""
    import re
    import shutil
    from e2e.lab import Lab
    from netboot_parts import MARKER, marker_cmdline
    lab = Lab(tmp_path).up()
    try:
        shutil.copy(signed_image, os.path.join(lab.tftp, "pxelinux.0"))
        for name in ("vmlinuz", "stage2.img"):
            shutil.copy(netboot_files[name], os.path.join(lab.tftp, name))
        shutil.copy(netboot_files["stage2.img"], os.path.join(lab.tftp, "changed.img"))
        os.makedirs(os.path.join(lab.tftp, "pxelinux.cfg"), exist_ok=True)
        with open(os.path.join(lab.tftp, "pxelinux.cfg", "default"), "w") as f:
            f.write("DEFAULT changed\nONERROR fallback\n"
                    "LABEL changed\n KERNEL vmlinuz\n INITRD changed.img\n APPEND console=ttysclp0 scenario=changed\n"
                    "LABEL fallback\n KERNEL vmlinuz\n INITRD stage2.img\n APPEND console=ttysclp0 scenario=signed\n")
        for rel in ("pxelinux.cfg/default", "vmlinuz", "stage2.img", "changed.img"):
            signca.cms_sign(pki, "signer", os.path.join(lab.tftp, rel))
        with open(os.path.join(lab.tftp, "changed.img"), "r+b") as f:
            f.seek(100)
            b = f.read(1)
            f.seek(100)
            f.write(bytes([b[0] ^ 1]))
        lab.dnsmasq()
        lab.boot()
        lab.wait_for(MARKER, 240)
        lab.read(0.5)
        text = lab.text()
    finally:
        with open(str(tmp_path / "console.log"), "w") as f:
            f.write(lab.text())
        lab.down()
    cmdline = marker_cmdline(text)
    assert cmdline is not None and "scenario=signed" in cmdline, text[-3000:]
    assert "pxe.verify=0 on the kernel command line ignored: this image requires signed files" in text, text[-3000:]
    refusals = [line for line in text.splitlines() if "refused:" in line]
    assert len(refusals) == 1 and re.search(r"ERROR: changed\.img refused: bad signature \(the file is not the one "
                                            r"signed\)$", refusals[0].rstrip()), refusals
    assert "ONERROR: fallback" in text


def test_openssl_backend_codes_are_verify_codes():
    from agent import sig_openssl
    for name in ("OK", "BAD_SIGNATURE", "UNKNOWN_SIGNER", "NO_CODE_SIGNING", "EXPIRED", "NOT_YET_VALID",
                 "MALFORMED", "DIGEST", "NO_ROOTS"):
        assert getattr(sig_openssl, name) == getattr(verify, name), name
    with open(os.path.join(ROOT, "packager", "cmod", "sigcheck", "sigcheck.c")) as f:
        c = f.read()
    for name in ("OK", "BAD_SIGNATURE", "UNKNOWN_SIGNER", "NO_CODE_SIGNING", "EXPIRED", "NOT_YET_VALID",
                 "MALFORMED", "DIGEST", "NO_ROOTS", "NO_MEMORY"):
        assert "SIG_%s = %d," % (name, getattr(verify, name)) in c, name
