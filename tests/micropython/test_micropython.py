"""The agent under a real MicroPython: the same build recipe as the image's
interpreter (Debian's source package, static, agent frozen in), for x86_64 to
run the agent's own tests, and for s390x to run a self-check under
qemu-s390x-static (big-endian, the way it runs in the guest)."""

import os
import subprocess

import pytest

from packager import debian, micropython

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AGENT = os.path.join(ROOT, "agent")

pytestmark = [pytest.mark.slow, pytest.mark.parts]


@pytest.fixture(scope="session")
def mpy_x86_64():
    path, version = micropython.build(AGENT, debian.cache_root(), "x86_64", "zig")
    return path


@pytest.fixture(scope="session")
def mpy_s390x():
    path, version = micropython.build(AGENT, debian.cache_root(), "s390x", "zig")
    return path


# Agent tests that cannot run under MicroPython, each with the reason. None today:
# every test in tests/agent runs there.
CPYTHON_ONLY = {}


def agent_tests():
    """MODULE.NAME of every test function in tests/agent/test_*.py (what pytest collects there)."""
    import ast
    folder = os.path.join(ROOT, "tests", "agent")
    names = set()
    for fname in sorted(os.listdir(folder)):
        if fname.startswith("test_") and fname.endswith(".py"):
            with open(os.path.join(folder, fname)) as f:
                tree = ast.parse(f.read())
            names.update("%s.%s" % (fname[:-3], node.name) for node in tree.body
                         if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"))
    return names


def test_agent_tests_pass_under_micropython(mpy_x86_64):
    argv = [mpy_x86_64, os.path.join(ROOT, "tests", "support", "mpy_runner.py"), ROOT]
    proc = subprocess.run(argv + ["-" + name for name in sorted(CPYTHON_ONLY)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    fails = [line for line in proc.stdout.splitlines() if line.startswith("FAIL ")]
    assert proc.returncode == 0 and last.endswith(" 0 failed"), \
        "\n".join(fails[:40] + [last]) if fails else proc.stdout[-4000:]
    ran = set(line[len("ran "):] for line in proc.stdout.splitlines() if line.startswith("ran "))
    want = agent_tests() - set(CPYTHON_ONLY)
    assert len(want) > 100, sorted(want)
    assert ran == want, "under MicroPython, not run: %s; run but not a test of tests/agent: %s" % (
        sorted(want - ran), sorted(ran - want))
    assert int(last.split()[0]) == len(want), last


SELF_CHECK = r"""
import sys
import agent, agent.boot, agent.cli, agent.compat, agent.dhcp, agent.dhcp6, agent.fetch, agent.http
import agent.machine, agent.menu, agent.plan, agent.pxeconfig, agent.search, agent.tftp
import agent.console, agent.inet, agent.lease, agent.text
from agent import cmdline, pxeconfig, tftp
assert sys.implementation.name == "micropython"
assert sys.byteorder == "big", sys.byteorder
cfg = pxeconfig.parse("DEFAULT a\nLABEL a\n KERNEL k\n APPEND x=1\n")
e = cmdline.resolve(cfg, "a")
assert cmdline.command_line(e, {}) == "BOOT_IMAGE=k x=1"
rrq = tftp.encode_rrq("pxelinux.cfg/default", [("blksize", 1468), ("tsize", 0), ("windowsize", 16)])
assert rrq == b"\x00\x01pxelinux.cfg/default\x00octet\x00blksize\x001468\x00tsize\x000\x00windowsize\x0016\x00", rrq
op, (block, data) = tftp.decode(tftp.encode_data(65535, b"xy"))
assert (op, block, data) == (3, 65535, b"xy")
import bootsys
from agent import machine
assert machine.bootsys is bootsys and machine.direct()      # the image loads kernels itself
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


TFTPRX_CHECK = r"""
import socket, struct, tftprx
from agent import tftp
assert tftp.C_BLOCKS is tftprx.blocks

def sock(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(socket.getaddrinfo("127.0.0.1", port)[0][-1])
    return s

client, server, stranger = sock(PORT), sock(PORT + 1), sock(PORT + 2)
to_client = socket.getaddrinfo("127.0.0.1", PORT)[0][-1]
peer = socket.getaddrinfo("127.0.0.1", PORT + 1)[0][-1]
buf = bytearray(64)

def data(block, payload):
    return struct.pack(">HH", 3, block) + payload

def call(pos, last, since, window=2, room=-1, wait=200):
    return tftprx.blocks(client.fileno(), peer, buf, pos, last, 8, window, since, room, wait, 250,
                         -1, 0, 1000, 200, 1000)

def acks():
    got = []
    while True:
        import select
        p = select.poll()
        p.register(server, select.POLLIN)
        if not p.poll(50):
            return got
        got.append(server.recvfrom(16)[0])

# Three full blocks (window 2: ACK after the 2nd), then the short last block for Python.
for i, chunk in enumerate((b"AAAAAAAA", b"BBBBBBBB", b"CCCCCCCC")):
    server.sendto(data((65535 + i) & 0xFFFF, chunk), to_client)
server.sendto(data(2, b"end"), to_client)
r = call(0, 65534, 0)
st, pos, last, n, since, ack_age, pending, quiet, first, srtt, rttvar, rto, pkt, addr = r
assert (st, pos, last, n, since) == (2, 24, 1, 3, 1), r
assert pkt == data(2, b"end") and addr == peer, r
assert bytes(buf[:24]) == b"AAAAAAAABBBBBBBBCCCCCCCC", buf
assert ack_age >= 0 and pending == -1, r          # the ACK of block 0 was answered by block 1
assert srtt >= 0 and rto == 200, r                # its round trip: loopback, the timer at its floor
assert acks() == [struct.pack(">HH", 4, 0)], "one ACK, of block 0 (65535, 0: rollover)"

# Each kind of packet that is not the plain case comes back untouched, buf not advanced.
cases = [
    ("duplicate", server, data(1, b"DDDDDDDD")),
    ("future", server, data(3, b"FFFFFFFF")),
    ("oversized", server, data(2, b"123456789")),
    ("error", server, struct.pack(">HH", 5, 1) + b"nope\0"),
    ("runt", server, b"\0"),
    ("stranger", stranger, data(2, b"SSSSSSSS")),
]
for name, src, pkt in cases:
    src.sendto(pkt, to_client)
    r = call(24, 1, 0)
    assert r[0] == 2 and r[1] == 24 and r[3] == 0 and r[8] == -1 and r[12] == pkt, (name, r)
    assert (r[13] == peer) == (src is server), (name, r)
assert acks() == [], "no ACK for packets handed back"

# The size limit: a full block over `room` goes back to Python (which refuses it).
server.sendto(data(2, b"GGGGGGGG"), to_client)
r = call(24, 1, 0, room=7)
assert r[0] == 2 and r[3] == 0 and r[12] == data(2, b"GGGGGGGG"), r

# A full buffer: handed back before receiving; silence: TIMEOUT after wait.
assert call(60, 1, 0)[0] == 1
r = call(24, 1, 0, wait=30)
assert r[0] == 3 and r[3] == 0 and r[6] == -1, r

# Window 1, lock-step: every block acknowledged, the last ACK pending.
server.sendto(data(2, b"HHHHHHHH"), to_client)
r = call(24, 1, 0, window=1, wait=200)
assert r[0] == 3 and r[3] == 1 and r[4] == 0 and r[6] >= 0 and r[8] >= r[6], r
assert acks() == [struct.pack(">HH", 4, 2)]
print("TFTPRX OK")
"""


def test_tftprx_hands_back_everything_but_plain_blocks(mpy_x86_64):
    """The C receive loop (packager/cmod/tftprx) against a loopback peer: full
    in-order blocks into the buffer with ACKs per window; every other packet
    back to Python as recvfrom would give it."""
    port = 20000 + os.getpid() % 20000
    proc = subprocess.run([mpy_x86_64, "-c", "PORT = %d\n" % port + TFTPRX_CHECK], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    assert proc.returncode == 0 and "TFTPRX OK" in proc.stdout, proc.stdout


BOOTSYS_OFF_S390 = r"""
import bootsys
from agent import machine
assert machine.bootsys is bootsys and bootsys.version == "s390-netboot bootsys 1"
f = "/tmp/bootsys-check-%d" % PID
with open(f, "wb") as out:
    out.write(b"k" * 10000)

def errno_of(call, *args):
    try:
        getattr(bootsys, call)(*args)
    except OSError as e:
        return e.args[0]
    raise SystemExit("%s ran on the host" % call)

def refused(call, *args):
    try:
        getattr(bootsys, call)(*args)
    except ValueError as e:
        return str(e)
    raise SystemExit("%s took %r" % (call, args))

# Every call does its part (arguments, files opened and mapped) and stops
# with ENOSYS where the system call would be.
assert errno_of("mount", "proc", "/proc", "proc", 0, None) == 38
assert errno_of("finit_module", f, "") == 38
assert errno_of("kexec_file_load", f, f, "x", 0) == 38
assert errno_of("reboot", 0x45584543) == 38
seg = [(b"head", 0, 4, 0x10000, 4096), (f, 4096, 5904, 0x11000, 8192), (f, 100, 0, 0x20000, 0)]
assert errno_of("kexec_load", 0x10000, seg, 22 << 16) == 38
# What is wrong before the call: a file shorter than its segment, a missing file.
assert errno_of("kexec_load", 0x10000, [(f, 4096, 5905, 0, 8192)], 0) == 22
assert errno_of("kexec_load", 0x10000, [(f, 0, 1, 0, 4096), ("/nonexistent", 0, 1, 4096, 4096)], 0) == 2
assert errno_of("finit_module", "/nonexistent", "") == 2
assert errno_of("kexec_file_load", f, "/nonexistent", "", 0) == 2
assert "past its buffer" in refused("kexec_load", 0, [(b"abc", 2, 2, 0, 4096)], 0)
assert "1 to 16" in refused("kexec_load", 0, [(b"a", 0, 1, 0, 4096)] * 17, 0)
assert "1 to 16" in refused("kexec_load", 0, [], 0)
assert "(source, offset" in refused("kexec_load", 0, [(f, 0, 1)], 0)
assert "negative" in refused("kexec_load", 0, [(f, -1, 1, 0, 4096)], 0)
import os
os.remove(f)
print("BOOTSYS OK")
"""


def test_bootsys_makes_no_system_call_off_s390(mpy_x86_64):
    """The x86_64 build of the image's interpreter (the one the tests run) has
    bootsys (packager/cmod/bootsys): its argument checks, file mapping and
    errors run as on s390x, and every system call is ENOSYS (no test can
    mount over the host's /proc or reboot it). The s390x build's calls are
    proven by the QEMU scenarios, each of which kexecs through them."""
    proc = subprocess.run([mpy_x86_64, "-c", "PID = %d\n" % os.getpid() + BOOTSYS_OFF_S390], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    assert proc.returncode == 0 and "BOOTSYS OK" in proc.stdout, proc.stdout


def test_the_frozen_agent_imports_before_dev_is_mounted(mpy_x86_64, tmp_path):
    """/init imports the agent before it has mounted anything: no agent module
    may touch /dev (or /proc) when imported. MicroPython's random module reads
    /dev/urandom when imported, and an import of it at the top of compat.py
    killed PID 1 (ENOENT, kernel panic). Here: the interpreter with the agent
    frozen in, run from a directory without agent/ sources, in a mount
    namespace whose /dev and /proc are empty."""
    # sig_openssl.py is CPython's signature check, not frozen (agent/manifest.py).
    mods = sorted(n[:-3] for n in os.listdir(AGENT) if n.endswith(".py")
                  and n not in ("manifest.py", "__init__.py", "__main__.py", "sig_openssl.py"))
    script = "import %s\nprint('IMPORTED', %d)\n" % (", ".join("agent." + m for m in mods), len(mods))
    proc = subprocess.run(["unshare", "-m", "sh", "-c",
                           "mount --make-rprivate / && mount -t tmpfs none /dev && mount -t tmpfs none /proc "
                           "&& exec \"$0\" -c \"$1\"", mpy_x86_64, script],
                          cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=120)
    assert proc.returncode == 0 and "IMPORTED %d" % len(mods) in proc.stdout, proc.stdout
