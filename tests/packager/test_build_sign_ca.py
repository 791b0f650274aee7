"""packager build --sign-ca: the signing roots in the image."""

import json
import os
import subprocess
import sys

import pytest

from tests.support import signca
from tests.support.signca import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.parts]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return signca.make_pki(str(tmp_path_factory.mktemp("pki")))


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
