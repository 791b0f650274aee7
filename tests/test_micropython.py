"""The agent under a real MicroPython: the same build recipe as the image's
interpreter (Debian's source package, static, agent frozen in), for x86_64 to
run the agent's own tests, and for s390x to run a self-check under
qemu-s390x-static (big-endian, the way it runs in the guest)."""

import os
import subprocess

import pytest

from packager import debian, micropython

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENT = os.path.join(ROOT, "agent")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def mpy_x86_64():
    path, version = micropython.build(AGENT, debian.cache_root(), "x86_64", "zig")
    return path


@pytest.fixture(scope="session")
def mpy_s390x():
    path, version = micropython.build(AGENT, debian.cache_root(), "s390x", "zig")
    return path


def test_agent_tests_pass_under_micropython(mpy_x86_64):
    proc = subprocess.run([mpy_x86_64, os.path.join(ROOT, "tests", "mpy_runner.py"), ROOT],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert proc.returncode == 0 and last.endswith(" 0 failed"), proc.stdout[-4000:]
    assert int(last.split()[0]) >= 15, last


SELF_CHECK = r"""
import sys
import agent, agent.boot, agent.cli, agent.compat, agent.dhcp, agent.fetch, agent.http
import agent.machine, agent.menu, agent.plan, agent.pxeconfig, agent.search, agent.tftp
import agent.transfer
from agent import pxeconfig, tftp
assert sys.implementation.name == "micropython"
assert sys.byteorder == "big", sys.byteorder
cfg = pxeconfig.parse("DEFAULT a\nLABEL a\n KERNEL k\n APPEND x=1\n")
e = pxeconfig.resolve(cfg, "a")
assert pxeconfig.cmdline(e, {}) == "BOOT_IMAGE=k x=1"
rrq = tftp.encode_rrq("pxelinux.cfg/default", [("blksize", 1468), ("tsize", 0), ("windowsize", 16)])
assert rrq == b"\x00\x01pxelinux.cfg/default\x00octet\x00blksize\x001468\x00tsize\x000\x00windowsize\x0016\x00", rrq
op, (block, data) = tftp.decode(tftp.encode_data(65535, b"xy"))
assert (op, block, data) == (3, 65535, b"xy")
print("SELF-CHECK OK")
"""


def test_frozen_agent_self_check_on_s390x(mpy_s390x):
    proc = subprocess.run(["qemu-s390x-static", mpy_s390x, "-c", SELF_CHECK],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert proc.returncode == 0 and "SELF-CHECK OK" in proc.stdout, proc.stdout


def test_frozen_agent_plan_on_s390x(mpy_s390x, tmp_path):
    """`python -m agent plan` of the frozen agent, run by the s390x interpreter."""
    cfgdir = tmp_path / "pxelinux.cfg"
    cfgdir.mkdir()
    (cfgdir / "C000020A").write_text("DEFAULT x\nIPAPPEND 2\nLABEL x\n KERNEL k\n INITRD i\n")
    proc = subprocess.run(["qemu-s390x-static", mpy_s390x, "-m", "agent", "plan", "--root", str(tmp_path),
                           "--mac", "52:54:00:12:34:56", "--ip", "192.0.2.10", "--json"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    import json
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["config"] == "pxelinux.cfg/C000020A" and plan["kernel"] == "k"
    assert plan["cmdline"] == "BOOT_IMAGE=k initrd=i BOOTIF=01-52-54-00-12-34-56"
