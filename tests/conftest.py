"""Shared fixtures: real Debian s390x parts, fetched once into the user's cache.

The parts come from the Debian archive the system's apt sources name (or
S390_NETBOOT_MIRROR), through packager.debian's private apt configuration.
"""

import glob
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from packager import debian  # noqa: E402

SUITE = os.environ.get("S390_NETBOOT_SUITE", "bookworm")
SYSROOT_PACKAGES = ["linux-image", "busybox-static", "kexec-tools", "libc6"]


class Parts:
    def __init__(self, sysroot, parts):
        self.sysroot = sysroot
        self.parts = parts
        self.kernel = sorted(glob.glob(os.path.join(sysroot, "boot", "vmlinuz-*")))[-1]
        self.release = os.path.basename(self.kernel)[len("vmlinuz-"):]
        self.moddir = os.path.join(sysroot, "lib", "modules", self.release)
        with open(os.path.join(sysroot, "boot", "config-" + self.release)) as f:
            self.config = f.read()


@pytest.fixture(scope="session")
def apt():
    return debian.Apt(SUITE, mirror=os.environ.get("S390_NETBOOT_MIRROR"))


@pytest.fixture(scope="session")
def s390x(apt):
    """A sysroot with Debian's s390x kernel, busybox-static, kexec-tools and libc6."""
    dest = os.path.join(debian.cache_root(), "sysroot", "%s-s390x" % SUITE)
    parts = debian.fetch_sysroot(apt, dest, SYSROOT_PACKAGES)
    return Parts(dest, parts)


@pytest.fixture(scope="session")
def kernel_bytes(s390x):
    with open(s390x.kernel, "rb") as f:
        return f.read()


@pytest.fixture(scope="session")
def netboot_files(s390x, tmp_path_factory):
    """Our pxelinux.0, built once per session, and the second stage (kernel, initrd)."""
    from netboot_parts import build_image, stage2
    out = str(tmp_path_factory.mktemp("netboot"))
    image = build_image(ROOT, out)
    kernel, initrd = stage2(s390x, out)
    return {"pxelinux.0": image, "vmlinuz": kernel, "stage2.img": initrd}
