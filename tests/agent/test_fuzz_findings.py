"""Issue 23: what the fuzzer found in the agent, one test per finding. Runs
under CPython and MicroPython (tests/mpy_runner.py): each finding failed on
at least one of them, and "one rule for text" means both give one answer.

The workstation's findings (lint, plan's output) are in tests/workstation/test_fuzz_findings.py."""

from tests.agent.memfetch import MemFetcher

HEAD = "DEFAULT a\nLABEL a\n KERNEL k\n"
MAC = "52:54:00:12:34:56"


def _plan(files, **env):
    from agent import plan
    env.setdefault("mac", MAC)
    env.setdefault("server", "192.0.2.1")
    return plan.make_plan(MemFetcher(files), env)


def _boots(text):
    """(label, kernel, cmdline) a config boots with nobody at the console."""
    from agent import cmdline, menu, pxeconfig
    cfg = pxeconfig.parse(text)
    command, source, lab, notes = menu.decide(cfg)
    e = cmdline.resolve(cfg, command, source, lab)
    return e.label, e.kernel, cmdline.command_line(e, {})


# ---- memory: notes and everything else that grows with the input ------------

def test_a_config_of_junk_lines_keeps_few_notes():
    # 640 KiB of "x\n" kept a note of about 107 bytes per line: 35 MB, more than
    # the image's 32 MiB heap (PID 1: "internal error: MemoryError").
    from agent import pxeconfig
    text = HEAD + "x\n" * 5000
    cfg = pxeconfig.parse(text)
    assert len(cfg.notes) <= 200, "parse(640 KiB of junk) kept %d notes, want at most 200" % len(cfg.notes)
    assert "not kept" in cfg.notes[-1][3], "the last note says that more were dropped: %r" % (cfg.notes[-1],)


def test_a_config_of_junk_lines_still_boots():
    p = _plan({"pxelinux.cfg/default": HEAD + "x\n" * (320 * 1024)})
    assert p.kernel == "tftp://192.0.2.1/k" and p.cmdline == "BOOT_IMAGE=k", (p.kernel, p.cmdline)
    assert len(p.notes) <= 200, len(p.notes)


def test_memory_error_in_make_plan_is_a_plan_error():
    # The config fits, an INCLUDE does not: PlanError, the one-line failure path.
    from agent import plan

    class Greedy(MemFetcher):
        def read(self, url, limit=1 << 20):
            if url.endswith("/big.cfg"):
                raise MemoryError("memory allocation failed, allocating 1048576 bytes")
            return MemFetcher.read(self, url, limit)
    try:
        plan.make_plan(Greedy({"pxelinux.cfg/default": "INCLUDE big.cfg\n" + HEAD}),
                       {"mac": MAC, "server": "192.0.2.1"})
    except plan.PlanError as e:
        assert "memory" in str(e), str(e)
    else:
        assert False, "make_plan with a MemoryError did not raise PlanError"


def test_memory_error_in_run_once_is_a_boot_failure():
    # Whatever make_plan runs out of, the console gets the failure line and the
    # reboot countdown, not "internal error: MemoryError".
    from agent import boot, machine
    from agent import plan as planmod
    from tests.agent.test_hostile_values import FakeConsole
    state = {"lease": {"interface": "eth0", "ip": "192.0.2.10", "serverid": "192.0.2.1",
                       "server_id": "192.0.2.1", "opt211": 9}}
    real = planmod.make_plan

    def greedy(*a, **k):
        raise MemoryError("memory allocation failed, allocating 35000000 bytes")
    machine.DRY_RUN = True
    planmod.make_plan = greedy
    con = FakeConsole()
    try:
        try:
            boot.run_once(con, {}, state)
        except boot.BootFailure as e:
            msg = str(e)
        else:
            assert False, "run_once did not fail"
        assert "memory" in msg and "\n" not in msg, msg
        boot.after_failure(con, {}, state, msg)
    finally:
        planmod.make_plan = real
        machine.DRY_RUN = False
    assert "rebooting in 9 s; press Enter for a shell" in con.lines, con.lines


def test_labels_and_menus_are_bounded():
    # 1 MiB of labels or of menus: a one-line ConfigError naming the limit, not
    # MemoryError; up to the limit they are all there.
    from agent import pxeconfig
    n = pxeconfig.MAX_LABELS
    cfg = pxeconfig.parse("DEFAULT l7\n" + "".join("LABEL l%d\n" % i for i in range(n)))
    assert len(cfg.labels) == n and cfg.label("l%d" % (n - 1)) is not None, len(cfg.labels)
    for text, limit in (("LABEL a\n" * (1 << 17), "MAX_LABELS"), ("MENU BEGIN m\n" * 80000, "MAX_MENUS"),
                        ("MENU SEPARATOR\n" * 70000, "MAX_LABELS")):
        try:
            pxeconfig.parse(HEAD + text[:(1 << 20) - 40])
        except pxeconfig.ConfigError as e:
            assert limit in str(e) and "\n" not in str(e), str(e)
        else:
            assert False, "parse(1 MiB of %r) did not stop at %s" % (text[:14], limit)
    cfg = pxeconfig.parse(HEAD + "MENU BEGIN m\n" * (pxeconfig.MAX_MENUS - 2))
    assert cfg.label("a") is not None


def test_say_lines_are_bounded():
    from agent import pxeconfig
    cfg = pxeconfig.parse(HEAD + "SAY hello\nDISPLAY x\n" * 1000)
    assert len(cfg.say) == len(cfg.display) == pxeconfig.MAX_SAY, (len(cfg.say), len(cfg.display))


# ---- TFTP: a late duplicate OACK, cut to blksize + 5 bytes -------------------

def test_a_late_duplicate_oack_cut_short_is_ignored():
    from agent import tftp

    class Sink:
        def __init__(self):
            self.data = b""

        def write(self, b):
            self.data += bytes(b)
    sink = Sink()
    rx = tftp.Receiver(sink, {"blksize": 8, "tsize": 0})
    oack = tftp.encode_oack([("blksize", 8), ("tsize", 16)])
    assert rx.feed(oack) == [tftp.encode_ack(0)]
    assert rx.feed(tftp.encode_data(1, b"AAAAAAAA")) == [tftp.encode_ack(1)]
    # _transfer_once reads blksize + 5 bytes once the transfer runs: the copy arrives cut.
    got = rx.feed(oack[:8 + 5])
    assert got == [], "feed(a late OACK cut to 13 bytes) = %r, want [] (a duplicate: ignored)" % got
    assert rx.feed(tftp.encode_data(2, b"BBBBBBBB")) == [tftp.encode_ack(2)]
    assert rx.feed(tftp.encode_data(3, b"")) == [tftp.encode_ack(3)] and rx.done
    assert sink.data == b"AAAAAAAABBBBBBBB", sink.data


# ---- text: keywords as Syslinux compares them --------------------------------

def test_kelvin_sign_is_no_k():
    # U+212A KELVIN SIGN lower-cases to 'k' in Unicode; Syslinux compares bytes.
    cases = [
        ("DEFAULT a\nLABEL a\n \u212aERNEL vmlinuz\n APPEND x=1\n", ("a", "a", "BOOT_IMAGE=a x=1")),
        ("DEFAULT a\nLABEL a\n LINUX k\n \u212aERNEL menu.c32\n", ("a", "k", "BOOT_IMAGE=k")),
        ("DEFAULT a\nLABEL a\n LINUX k\n APPEND \u212aERNEL=1\n", ("a", "k", "BOOT_IMAGE=k \u212aERNEL=1")),
    ]
    for text, want in cases:
        for data in (text, text.encode("utf-8")):
            got = _boots(data)
            assert got == want, "boots(%r) = %r, want %r" % (data, got, want)


def test_menu_shiftkey_with_kelvin_sign_is_unknown():
    from agent import pxeconfig
    cfg = pxeconfig.parse("MENU SHIFT\u212aEY\n" + HEAD)
    assert cfg.shiftkey is False, "MENU SHIFT\\u212aEY turned MENU SHIFTKEY on"
    cfg = pxeconfig.parse("menu shiftkey\n" + HEAD)
    assert cfg.shiftkey is True


def test_dotless_and_dotted_i_are_no_i():
    # U+0130 and U+0131 are no 'i' either (INCLUDE, INITRD, IPAPPEND).
    got = _boots("DEFAULT a\nLABEL a\n KERNEL k\n \u0130NITRD i.img\n \u0131NITRD j.img\n")
    assert got == ("a", "k", "BOOT_IMAGE=k"), got


# ---- text: bytes that are not UTF-8, one rule on both interpreters -------------

def test_invalid_utf8_lines_read_as_latin1_on_both():
    # CPython's strict UTF-8 refuses these; MicroPython's decode kept the raw bytes.
    for bad in (b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\xff", b"\xe9", b"\xc3"):
        text = b"DEFAULT a" + bad + b"\nLABEL a" + bad + b"\n KERNEL k" + bad + b"\n APPEND x=" + bad + b"\n"
        want_word = "".join(chr(b) for b in bytearray(bad))
        got = _boots(text)
        want = ("a" + want_word, "k" + want_word,
                "BOOT_IMAGE=k%s x=%s" % (want_word, want_word))
        assert got == want, "boots(%r) = %r, want %r" % (text, got, want)


def test_valid_utf8_stays_utf8():
    for word in ("caf\u00e9", "\u212a", "\U0001f600", "\u00a0x"):
        text = ("DEFAULT a\nLABEL a\n KERNEL %s\n" % word).encode("utf-8")
        got = _boots(text)
        assert got == ("a", word, "BOOT_IMAGE=" + word), "boots(%r) = %r" % (text, got)


def test_decode_one_line_at_a_time():
    # A line that is not UTF-8 does not change how the others are read.
    got = _boots(b"DEFAULT a\nLABEL a\n KERNEL caf\xc3\xa9\n APPEND x=\xe9\n")
    assert got == ("a", "caf\u00e9", "BOOT_IMAGE=caf\u00e9 x=\u00e9"), got


# ---- digits are ASCII digits ---------------------------------------------------

class _Lines:
    def __init__(self, lines):
        self.lines = list(lines)

    def line(self):
        return self.lines.pop(0)


def test_http_status_of_superscript_digits_is_refused():
    from agent import http
    from agent.fetch import FetchError
    for status in ("\u00b200", "2\u00b20", "\u0662\u0660\u0660", "+20", " 20"):
        try:
            got = http._response(_Lines(["HTTP/1.1 %s OK" % status, ""]))
        except FetchError:
            continue
        assert False, "_response(status %r) = %r, want Refused" % (status, got)


def test_content_length_of_superscript_digits_is_refused():
    from agent import http
    from agent.fetch import FetchError
    for value in ("\u00b9", "1\u00b2", "\u0661", "1_0", "+1"):
        try:
            got = http.content_length({"content-length": value})
        except FetchError:
            continue
        assert False, "content_length(%r) = %r, want Refused" % (value, got)


def test_host_port_of_superscript_digits_is_refused():
    from agent import inet
    for text in ("h:\u00b9", "h:6\u00b99", "[::1]:\u00b3", "h:\u0661", "h:1_0", "h:+69"):
        try:
            got = inet.host_port(text, 69)
        except ValueError:
            continue
        assert False, "host_port(%r) = %r, want ValueError" % (text, got)
    assert inet.host_port("h:6969", 69) == ("h", 6969)


def test_ipv4_of_non_ascii_digits_is_refused():
    from agent import inet
    for text in ("192.0.2.\u0661", "192.0.2.1_0", "\u00b9.2.3.4"):
        try:
            got = inet.parse_ipv4(text)
        except ValueError:
            continue
        assert False, "parse_ipv4(%r) = %r, want ValueError" % (text, got)
