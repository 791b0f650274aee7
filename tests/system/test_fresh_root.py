"""The README's first command on a fresh Debian 12 root (tools/fresh-root-check):
debootstrap minbase bookworm, this checkout copied in, `tools/build-pxelinux`
run there with nothing but what it installs itself. The machines the suite
runs on have a newer Python first on PATH; this is what proves that a new
user's Debian python3 (3.11.2) builds the image."""

import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = [pytest.mark.slow, pytest.mark.system, pytest.mark.timeout(3600)]


def test_build_pxelinux_in_a_fresh_debian_root(tmp_path):
    root = str(tmp_path / "root")
    p = subprocess.run([os.path.join(ROOT, "tools", "fresh-root-check"), root],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=3500)
    assert p.returncode == 0, p.stdout[-5000:]
    assert "fresh-root: /usr/bin/python3 is Python 3.11.2, .venv has Python 3.11.2" in p.stdout, p.stdout[-3000:]
    assert "fresh-root-check: OK" in p.stdout and "wrote pxelinux.0" in p.stdout, p.stdout[-3000:]
    assert not os.path.exists(root), "the fresh root was not removed"
