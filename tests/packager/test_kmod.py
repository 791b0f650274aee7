"""Kernel-module closure on Debian's real s390x kernel (no modules.dep in the package)."""

import lzma
import os
import shutil

import pytest

from packager import kmod
from packager.errors import Die

pytestmark = pytest.mark.parts


def test_debian_virtio_closure(s390x):
    assert not os.path.exists(os.path.join(s390x.moddir, "modules.dep"))
    s = kmod.closure(s390x.moddir, s390x.release, ["virtio_net", "virtio-blk", "af_packet"], s390x.config)
    assert s.order == ["kernel/net/core/failover.ko", "kernel/drivers/net/net_failover.ko",
                       "kernel/drivers/net/virtio_net.ko", "kernel/drivers/block/virtio_blk.ko"]
    assert s.builtin == ["af_packet"] and s.missing == []
    assert s.modules_dep().splitlines() == [
        "kernel/net/core/failover.ko:",
        "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko",
        "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko",
        "kernel/drivers/block/virtio_blk.ko:",
    ]
    assert s.data["kernel/drivers/net/virtio_net.ko"][:4] == b"\x7fELF"


def test_compressed_modules_are_found_and_stored_plain(s390x, tmp_path):
    moddir = tmp_path / "mods"
    for rel in ["kernel/net/core/failover.ko", "kernel/drivers/net/net_failover.ko",
                "kernel/drivers/net/virtio_net.ko"]:
        src = os.path.join(s390x.moddir, rel)
        dst = moddir / (rel + ".xz")
        dst.parent.mkdir(parents=True, exist_ok=True)
        with open(src, "rb") as f:
            dst.write_bytes(lzma.compress(f.read(), check=lzma.CHECK_CRC32))
    shutil.copy(os.path.join(s390x.moddir, "modules.builtin"), moddir)
    s = kmod.closure(str(moddir), s390x.release, ["virtio_net"])
    assert s.order == ["kernel/net/core/failover.ko", "kernel/drivers/net/net_failover.ko",
                       "kernel/drivers/net/virtio_net.ko"]
    with open(os.path.join(s390x.moddir, "kernel/drivers/net/virtio_net.ko"), "rb") as f:
        assert s.data["kernel/drivers/net/virtio_net.ko"] == f.read()


def test_modules_dep_is_honoured_when_present(s390x, tmp_path):
    moddir = tmp_path / "mods"
    shutil.copytree(s390x.moddir, moddir)
    (moddir / "modules.dep").write_text("kernel/drivers/block/virtio_blk.ko: kernel/net/core/failover.ko\n")
    s = kmod.closure(str(moddir), s390x.release, ["virtio_blk"])
    assert s.order == ["kernel/net/core/failover.ko", "kernel/drivers/block/virtio_blk.ko"]


def test_missing_module_and_moddir(s390x, tmp_path):
    s = kmod.closure(s390x.moddir, s390x.release, ["no_such_module"])
    assert s.missing == ["no_such_module"]
    with pytest.raises(Die, match="no kernel modules for 9.9: .* does not exist"):
        kmod.closure(str(tmp_path / "none"), "9.9", ["virtio_net"])
