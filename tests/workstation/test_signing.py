"""Signed boot (issue 24) on CPython with a real PKI made by openssl(1):
signatures made by `openssl cms` exactly as iPXE documents and by
`s390-netboot sign`, every refusal (tests/support/signca.py's table, which
tests/micropython/test_signing_mpy.py runs on the image's mbedtls), the
workstation's sign, plan --sign-ca and lint --sign-ca, and the commands of
docs/servers.md "Signed boot"."""

import json
import os
import subprocess
import sys

import pytest

from agent import verify
from agent.fetch import LocalFetcher
from tests.support import signca
from tests.support.signca import ROOT

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return signca.make_pki(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture(scope="module")
def tree(pki, tmp_path_factory):
    return signca.build_tree(pki, str(tmp_path_factory.mktemp("tree")))


def test_cases_on_cpython(pki, tree, tmp_path):
    f = verify.VerifyingFetcher(LocalFetcher(tree), verify.load_roots(os.path.join(pki, "roots.pem")))
    lines = []
    for name, _, _ in signca.CASES:
        out = str(tmp_path / "out")
        try:
            f.fetch("tftp://server/" + name, out)
            lines.append("%s ok" % name)
            assert os.path.exists(out)
        except verify.Unsigned as e:
            lines.append("%s %s" % (name, verify.NAMES[e.reason]))
            assert not os.path.exists(out), "%s: the refused file was left at %s" % (name, out)
            assert str(e).startswith("tftp://server/%s: refused: " % name) and "\n" not in str(e), str(e)
    signca.check_lines(lines)


def test_reads_of_configs_are_checked_the_same(pki, tree):
    """read() (configs) checks the bytes it returns; no file is written."""
    f = verify.VerifyingFetcher(LocalFetcher(tree), verify.load_roots(os.path.join(pki, "root.pem")))
    assert f.read("tftp://server/good-cms").startswith(signca.PAYLOAD)
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
        p = signca.run_workstation(["sign"] + args)
        assert p.returncode == 2 and words in p.stderr and p.stderr.count("\n") == 1, (args, p.stderr)
        assert "Traceback" not in p.stderr
        assert not os.path.exists(str(target) + ".sig"), "a failed sign left %s.sig" % target
        assert not [n for n in os.listdir(str(tmp_path)) if ".tmp" in n], os.listdir(str(tmp_path))


def test_plan_sign_ca(pki, tmp_path):
    d = signca.signed_tree(pki, str(tmp_path / "tree"))
    root = os.path.join(pki, "root.pem")
    p = signca.run_workstation(["plan", "--root", d, "--sign-ca", root, "--json"])
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["kernel"] == "vmlinuz"
    with open(os.path.join(d, "initrd.img"), "r+b") as f:
        f.write(b"J")
    p = signca.run_workstation(["plan", "--root", d, "--sign-ca", root])
    assert p.returncode == 2 and p.stderr.strip() == "plan: tftp://localhost/initrd.img: refused: %s" % \
        verify.REASONS[verify.BAD_SIGNATURE], p.stderr
    os.remove(os.path.join(d, "pxelinux.cfg", "default.sig"))
    p = signca.run_workstation(["plan", "--root", d, "--sign-ca", root])
    assert p.returncode == 2 and "pxelinux.cfg/default: refused: missing signature (no default.sig)" in p.stderr, p.stderr
    p = signca.run_workstation(["fetch", "tftp://x/vmlinuz", "-o", str(tmp_path / "k"), "--sign-ca", str(tmp_path / "none.pem")])
    assert p.returncode == 2 and "--sign-ca" in p.stderr and "cannot read" in p.stderr, p.stderr


def test_lint_sign_ca(pki, tmp_path):
    d = signca.signed_tree(pki, str(tmp_path / "tree"))
    root = os.path.join(pki, "root.pem")
    p = signca.run_workstation(["lint", d, "--sign-ca", root])
    assert p.returncode == 0 and ": error:" not in p.stdout, p.stdout + p.stderr
    with open(os.path.join(d, "initrd.img"), "r+b") as f:
        f.write(b"J")
    os.remove(os.path.join(d, "vmlinuz.sig"))
    with open(os.path.join(d, "pxelinux.cfg", "default"), "a") as f:
        f.write("# changed after signing\n")
    p = signca.run_workstation(["lint", d, "--sign-ca", root])
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
    from tests.workstation.test_lint import fake_initrd, fake_kernel
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
    p = signca.run_workstation(["plan", "--root", str(work / "tftp"), "--sign-ca", str(work / "sign-ca.pem")])
    assert p.returncode == 0 and "kernel:        linux" in p.stdout, p.stdout + p.stderr


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
