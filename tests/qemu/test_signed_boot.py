"""Signed boot in a real guest: qemu-system-s390x netboots a signed tree
over TFTP from dnsmasq in a network namespace."""

import os
import re
import shutil

import pytest

from tests.support import signca
from tests.support.lab import Lab
from tests.support.netboot_parts import MARKER, build_image, marker_cmdline
from tests.support.signca import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.qemu, pytest.mark.servers, pytest.mark.parts]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return signca.make_pki(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture(scope="module")
def signed_image(pki, netboot_files, tmp_path_factory):
    """pxelinux.0 with the test root built in, and pxe.verify=0 on its
    command line (which the image must ignore)."""
    out = str(tmp_path_factory.mktemp("netboot-signed"))
    return build_image(ROOT, out, "--sign-ca", os.path.join(pki, "root.pem"), "--cmdline", "pxe.verify=0")


def test_qemu_signed_tree_changed_initrd_refused_onerror_boots(pki, netboot_files, signed_image, tmp_path):
    """A signed tree over TFTP: the default label's initrd has one byte
    changed after signing: one line says so and ONERROR boots the signed
    fallback; pxe.verify=0 on the image's command line is ignored, with a line."""
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
