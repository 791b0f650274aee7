# One guest of a boot storm (bench/boot_storm.py), run by the agent's own
# interpreter (the static MicroPython with the agent frozen in) inside the
# guest's network namespace:
#
#   micropython bench/storm_agent.py HOOK STAMPSIZE KERNEL_SIZE INITRD_SIZE [pxe.OPTION ...]
#
# It is the image's boot flow with two differences, both at the edges:
# - udhcpc runs HOOK (the image's /usr/share/udhcpc/default.script with this
#   interpreter as its #! line), since the host has no such file;
# - kexec_load, where the guest would hand over to the next kernel, checks
#   what was fetched instead (sizes, and the stamp that starts every
#   STAMPSIZE bytes: a block missing, repeated or put at the wrong offset
#   moves every stamp after it, so the check fails), removes the files (so that 200 guests' files never sit in
#   memory at once) and prints "storm: booted TIME_NS" or the failure.
# pxe.noexec then stops the attempt where kexec -e would follow. One
# attempt only: a guest that fails is counted as failed, with the agent's
# own reason, rather than being rebooted.
import os
import sys
import time

from agent import boot, dhcp, machine
from agent.console import Console

HOOK = sys.argv[1]
STAMP = int(sys.argv[2])
HEAD = bytearray(16)      # each block's stamp, read in place (the check must not cost the storm)
SIZES = {"kernel": int(sys.argv[3]), "initrd": int(sys.argv[4])}


def clock_ns():
    try:
        return time.time_ns()
    except AttributeError:
        return int(time.time() * 1000000000)


def stamp(name, block):
    """The 16 bytes that start block number `block` of file `name` (bench/boot_storm.py writes them)."""
    return ("%-6s%09d\n" % (name, block)).encode()


def check(path, name):
    """None when path holds the file `name` as the server has it, else why not."""
    try:
        size = os.stat(path)[6]
    except OSError as e:
        return "%s missing (%s)" % (name, e)
    if size != SIZES[name]:
        return "%s is %d bytes, not %d" % (name, size, SIZES[name])
    with open(path, "rb") as f:
        for block in range((size + STAMP - 1) // STAMP):
            f.seek(block * STAMP)
            n = f.readinto(HEAD)
            head = bytes(HEAD[:n])
            if head != stamp(name, block)[:n]:
                return "%s: block %d (offset %d) is not the server's" % (name, block, block * STAMP)
    return None


def argv_with_hook(iface, pidfile=None):
    return udhcpc_argv(iface, hook=HOOK, pidfile=pidfile)


def kexec_load(kernel, initrd, cmdline):
    booted = clock_ns()
    why = check(kernel, "kernel") or check(initrd, "initrd")
    for path in (kernel, initrd):
        try:
            os.remove(path)
        except OSError:
            pass
    if why:
        return False, "storm check: " + why
    print("storm: booted %d" % booted)
    return True, "storm check"


udhcpc_argv = dhcp.udhcpc_argv
dhcp.udhcpc_argv = argv_with_hook
machine.kexec_load = kexec_load

con = Console()
opts = boot.load_options("", " ".join(["pxe.noexec", "pxe.if=eth0"] + sys.argv[5:]))
try:
    boot.run_once(con, opts, {})
    print("storm: failed: the attempt returned")
except boot.BootFailure as e:
    if "pxe.noexec" not in str(e):
        print("storm: failed: %s" % e)
except Exception as e:  # noqa: BLE001 -- reported, and counted as a failure
    print("storm: failed: %s: %s" % (type(e).__name__, e))
