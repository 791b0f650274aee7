"""Shared fixtures: real Debian s390x parts, fetched once into the user's cache.

The parts come from the Debian archive the system's apt sources name (or
S390_NETBOOT_MIRROR), through packager.debian's private apt configuration.

The markers say what a test needs (pyproject.toml registers them,
tests/README.md shows the selections); the collection below refuses a test
whose markers do not match what it uses.
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
    from tests.support.netboot_parts import build_image, stage2
    out = str(tmp_path_factory.mktemp("netboot"))
    image = build_image(ROOT, out)
    kernel, initrd = stage2(s390x, out)
    return {"pxelinux.0": image, "vmlinuz": kernel, "stage2.img": initrd}


@pytest.fixture(scope="session")
def debian_tree(apt):
    """Debian 12's amd64 netboot tree (debian-installer-12-netboot-amd64), unpacked once into the cache."""
    images = "usr/lib/debian-installer/images/12/amd64"
    deb, name, version = apt.download("debian-installer-12-netboot-amd64")
    dest = os.path.join(debian.cache_root(), "distro-trees", "%s_%s" % (name, version))
    if not os.path.isdir(os.path.join(dest, images)):
        tmp = dest + ".part"
        debian.extract_deb(deb, tmp)
        os.rename(tmp, dest)
    return os.path.join(dest, images)


# Fixtures that fetch from the Debian archive into the cache, or build from what
# they fetched (the interpreters of tests/micropython, tests/hostile, tests/servers).
PARTS_FIXTURES = {"apt", "s390x", "kernel_bytes", "netboot_files", "debian_tree", "mpy", "mpy_x86_64", "mpy_s390x"}
# Markers that never go without `slow`.
SLOW_MARKERS = ("servers", "qemu", "system")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Before -m selects: every test that uses a parts fixture is marked parts, and every
    servers, qemu or system test is also slow, so that `-m "not parts"` and `-m "not slow"`
    mean what they say."""
    wrong = []
    for item in items:
        marks = set(m.name for m in item.iter_markers())
        if PARTS_FIXTURES & set(item.fixturenames) and "parts" not in marks:
            wrong.append("%s: uses %s; mark it parts" % (item.nodeid, ", ".join(
                sorted(PARTS_FIXTURES & set(item.fixturenames)))))
        for name in SLOW_MARKERS:
            if name in marks and "slow" not in marks:
                wrong.append("%s: marked %s; mark it slow too" % (item.nodeid, name))
    if wrong:
        raise pytest.UsageError("markers that do not match what the tests use:\n  " + "\n  ".join(wrong))
