"""What follows a failed boot attempt (agent.boot.after_failure): ONERROR once,
the prompt again, and after MAX_UNATTENDED_FAILURES unattended failures in a
row the reboot countdown (option 211), never an endless retry. Runs under
CPython and MicroPython, with the machine in dry-run mode."""

from tests.agent.test_hostile_values import FakeConsole


class FakeEntry:
    def __init__(self, source):
        self.source = source


class FakePlan:
    def __init__(self, text, source):
        from agent import pxeconfig
        self.cfg = pxeconfig.parse(text)
        self.entry = FakeEntry(source)


PROMPT_CFG = "PROMPT 1\nTIMEOUT 10\nDEFAULT a\nLABEL a\n KERNEL k\n"


def _fail(state, source, text=PROMPT_CFG, at_console=False):
    from agent import boot, machine
    con = FakeConsole()
    state["plan"] = FakePlan(text, source)
    state["at_console"] = at_console
    machine.DRY_RUN = True
    del machine.LOG[:]
    try:
        boot.after_failure(con, {}, state, "vmlinuz: no answer from 192.0.2.1:69 for 30 s")
    finally:
        machine.DRY_RUN = False
    return con.lines, list(machine.LOG)


def test_unattended_failures_end_in_the_reboot_countdown():
    # ldlinux.c enter_cmdline: after a failed load_kernel the prompt comes back and its
    # TIMEOUT boots the default again, for ever; the agent stops after three in a row
    # (docs/reference.md, Differences from PXELINUX).
    from agent import boot
    state = {"lease": {"opt211": 7}}
    for n in range(1, boot.MAX_UNATTENDED_FAILURES):
        lines, log = _fail(state, "DEFAULT")
        assert state.get("menu_done") is False and log == [], \
            "after_failure(unattended #%d) = %r %r, want the prompt again" % (n, lines, log)
    lines, log = _fail(state, "DEFAULT")
    want = "%d boots in a row failed with nobody typing at the prompt" % boot.MAX_UNATTENDED_FAILURES
    assert want in lines and "rebooting in 7 s; press Enter for a shell" in lines, lines
    assert log and log[-1] == "reboot -f", log


def test_a_typed_boot_that_fails_starts_the_count_again():
    from agent import boot, cmdline
    state = {"lease": {"opt211": 7}}
    for n in range(boot.MAX_UNATTENDED_FAILURES - 1):
        _fail(state, "DEFAULT")
    lines, log = _fail(state, cmdline.TYPED, at_console=True)
    assert state["unattended_failures"] == 0 and log == [], (lines, log)
    lines, log = _fail(state, "ONTIMEOUT")
    assert state.get("menu_done") is False and log == [], (lines, log)


def test_pxe_label_is_nobody_typing():
    # pxe.label=a boots a with the source the boot: prompt gives (TYPED), but nobody
    # typed it: its failures count, or a missing kernel is retried for ever.
    from agent import boot, cmdline
    state = {"lease": {"opt211": 7}}
    for n in range(boot.MAX_UNATTENDED_FAILURES - 1):
        lines, log = _fail(state, cmdline.TYPED)
        assert log == [], (n, lines, log)
    lines, log = _fail(state, cmdline.TYPED)
    assert log and log[-1] == "reboot -f", (lines, log)


def test_onerror_runs_once_before_the_count():
    state = {"lease": {"opt211": 7}}
    lines, log = _fail(state, "DEFAULT", "DEFAULT a\nONERROR b\nLABEL a\n KERNEL k\nLABEL b\n KERNEL k2\n")
    assert state.get("onerror_of") is not None and "ONERROR: b" in lines and log == [], (lines, log)
    lines, log = _fail(state, "ONERROR", "DEFAULT a\nONERROR b\nLABEL a\n KERNEL k\nLABEL b\n KERNEL k2\n")
    # Not interactive (PROMPT 0, no UI): the reboot countdown at once.
    assert "rebooting in 7 s; press Enter for a shell" in lines and log[-1] == "reboot -f", (lines, log)


def test_pxe_if_by_name_or_mac():
    # A MAC in pxe.if stands for the interface that has it (any case, ':' or '-').
    from agent import boot, machine
    real = (machine.interfaces, machine.mac_of)
    macs = {"eth0": "52:54:00:00:00:01", "eth1": "52:54:00:12:34:56"}
    machine.interfaces = lambda: ["eth0", "eth1"]
    machine.mac_of = lambda i: macs[i]
    try:
        for words, want in ((["eth1", "eth0"], ["eth1", "eth0"]),
                            (["52-54-00-12-34-56", "52:54:00:00:00:01"], ["eth1", "eth0"]),
                            (["52:54:00:12:34:56".upper(), "eth0"], ["eth1", "eth0"]),
                            (["52:54:00:99:99:99", "eth0", ""], ["eth0"])):
            got = boot.interfaces_named(words)
            assert got == want, "interfaces_named(%r) = %r, want %r" % (words, got, want)
    finally:
        machine.interfaces, machine.mac_of = real


def test_onerror_again_after_a_typed_boot_fails():
    # load_kernel runs ONERROR on every failed boot; the agent runs it once per chain
    # (ONERROR's own failure does not run it again) and again for a boot someone typed.
    from agent import cmdline
    cfg = "PROMPT 1\nTIMEOUT 10\nDEFAULT a\nONERROR b\nLABEL a\n KERNEL k\nLABEL b\n KERNEL k2\n"
    state = {"lease": {"opt211": 7}}
    lines, log = _fail(state, "DEFAULT", cfg)
    assert "ONERROR: b" in lines, lines
    lines, log = _fail(state, "ONERROR", cfg)
    assert "ONERROR: b" not in lines and state.get("menu_done") is False, lines
    lines, log = _fail(state, cmdline.TYPED, cfg, at_console=True)
    assert "ONERROR: b" in lines, lines
