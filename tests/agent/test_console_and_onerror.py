"""ONERROR booted from the config that failed, the console's handling of
config and server text, and values at their C limits. Runs under CPython
and MicroPython."""

from tests.agent.memfetch import MemFetcher

ENV = {"mac": "52:54:00:12:34:56", "ip": "192.0.2.10", "server": "192.0.2.1"}


def _plans(files, **kw):
    from agent import plan
    fetcher = MemFetcher(files)
    first = plan.make_plan(fetcher, ENV, **kw)
    return first, plan.make_plan(fetcher, ENV, onerror_of=first)


def test_onerror_is_booted_not_typed():
    # ldlinux.c:load_kernel runs ONERROR itself: no prompt, no menu in between, so
    # NOESCAPE 1 / MENU SHIFTKEY do not send it back to DEFAULT, and ALLOWOPTIONS 0
    # (which drops options typed into menu.c32's prompt) keeps ONERROR's own options.
    for head in ("NOESCAPE 1\n", "UI menu.c32\nMENU SHIFTKEY\nALLOWOPTIONS 0\n"):
        cfg = head + "DEFAULT a\nONERROR b single\nLABEL a\n KERNEL missing\nLABEL b\n KERNEL k\n APPEND root=x\n"
        first, again = _plans({"pxelinux.cfg/default": cfg, "k": b"K"})
        assert first.entry.label == "a", (head, first.entry.label)
        assert again.entry.label == "b" and again.entry.source == "ONERROR", (head, again.entry.label)
        assert again.cmdline == "BOOT_IMAGE=k root=x single", (head, again.cmdline)


def test_onerror_is_the_failed_configs_after_a_config_hop():
    files = {"pxelinux.cfg/default": "DEFAULT hop\nONERROR first\nLABEL hop\n CONFIG other.cfg\nLABEL first\n KERNEL k\n",
             "other.cfg": "DEFAULT a\nONERROR second\nLABEL a\n KERNEL missing\nLABEL second\n KERNEL k2\n"}
    first, again = _plans(files)
    assert first.entry.label == "a" and again.entry.label == "second", (first.entry.label, again.entry.label)
    assert again.kernel.endswith("/k2"), again.kernel


def test_split_command_is_my_isspace():
    # ldlinux.c:find_command and load_kernel: a word ends at a byte <= ' ' or DEL; a
    # U+00A0 is part of the word (CPython's str.split and MicroPython's disagree on it).
    from agent import pxeconfig, cmdline
    for text, want in (("vmlinuz\xa0quiet", ("vmlinuz\xa0quiet", "")),
                       ("a\x1cextra", ("a", "extra")),
                       ("  a  b  c \x7f", ("a", "b  c")),
                       ("\x01", ("", "")), ("", ("", ""))):
        got = pxeconfig.split_command(text)
        assert got == want, "split_command(%r) = %r, want %r" % (text, got, want)
    cfg = pxeconfig.parse("DEFAULT vmlinuz\xa0quiet\n")
    e = cmdline.resolve(cfg, cfg.default_cmd, "DEFAULT")
    assert (e.kernel, e.extra) == ("vmlinuz\xa0quiet", ""), (e.kernel, e.extra)


def test_numbers_are_clamped_as_strtol_does():
    from agent import pxeconfig
    for text, want in (("99999999999999999999", 0x7fffffff), ("-99999999999999999999", -0x80000000),
                       ("2147483648", 0x7fffffff), ("50", 50)):
        got = pxeconfig.c_atoi(text)[0]
        assert got == want, "c_atoi(%r) = %r, want %r" % (text, got, want)
    cfg = pxeconfig.parse("PROMPT 1\nTIMEOUT 99999999999999999999\nDEFAULT a\nLABEL a\n KERNEL k\n")
    assert 0 < cfg.timeout <= 0x7fffffff, cfg.timeout


def test_menu_goto_finds_the_newest_menu_of_its_tag():
    # readconfig.c:find_menu: the newest MENU BEGIN of that tag; none: the entry is disabled.
    from agent import pxeconfig
    cfg = pxeconfig.parse("UI menu.c32\nMENU BEGIN t\nMENU TITLE one\nMENU END\nMENU BEGIN t\nMENU TITLE two\n"
                          "MENU END\nLABEL g\n MENU GOTO t\nLABEL n\n MENU GOTO nowhere\n")
    g, n = cfg.label("g"), cfg.label("n")
    assert g.action == "goto" and g.target.title == "two", (g.action, g.target)
    assert n.action == "disabled" and n.target is None, (n.action, n.target)


class FakeOut:
    def __init__(self, fail=False):
        self.text = []
        self.fail = fail

    def write(self, text):
        if self.fail:
            raise OSError(9)
        self.text.append(text)

    def flush(self):
        pass


class FakeSys:
    def __init__(self, out):
        self.stdout = out


def _console(out):
    from agent import console
    real = console.sys
    console.sys = FakeSys(out)
    return console, real


def test_console_shows_config_text_without_control_characters():
    out = FakeOut()
    boot, real = _console(out)
    try:
        con = boot.Console()
        con.say("hi\x1b[2J\x07there\nnetboot: fake line")
        con.line("MENU TITLE \x1b]0;owned\x07\tx")
    finally:
        boot.sys = real
    text = "".join(out.text)
    assert "\x1b" not in text and "\x07" not in text and text.count("\n") == 2, repr(text)
    assert "hi?[2J?there?netboot: fake line\n" in text and "MENU TITLE ?]0;owned?\tx\n" in text, repr(text)


class FakeKmsg:
    """open() for the console's fallback: records (path, text) written to /dev/kmsg, or fails
    as a missing /dev/kmsg; any other file (/proc/uptime) is the real one."""

    def __init__(self, fail=False):
        self.written = []
        self.fail = fail

    def __call__(self, path, mode="r"):
        if path != "/dev/kmsg":
            return open(path, mode)
        if self.fail:
            raise OSError(2)
        self.path = path
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def write(self, text):
        self.written.append((self.path, text))


def test_console_without_a_console_does_not_raise():
    # fd 1 closed (the kernel found no console): PID 1 must not die of a write;
    # each line goes to the kernel log instead, and when that fails too, nowhere.
    for kmsg in (FakeKmsg(), FakeKmsg(fail=True)):
        out = FakeOut(fail=True)
        boot, real = _console(out)
        boot.open = kmsg            # the console module's own name, before the builtin
        try:
            con = boot.Console()
            con.say("lease 192.0.2.10")
            con.line("a menu line")
            con.error("config not found")
        finally:
            boot.sys = real
            del boot.open
        assert out.text == [], out.text
        got = [(path, text.split("] ", 1)[-1]) for path, text in kmsg.written]
        want = [] if kmsg.fail else [("/dev/kmsg", "lease 192.0.2.10\n"), ("/dev/kmsg", "a menu line\n"),
                                     ("/dev/kmsg", "ERROR: config not found\n")]
        assert got == want, "console lines with fd 1 closed went to %r, want %r" % (got, want)


def test_url_ports_out_of_range_are_refused():
    # A port beyond 16 bits must not wrap round (99999 would be 34463 in a sockaddr).
    from agent import inet
    for url in ("tftp://h:99999/k", "http://h:0/k", "tftp://[2001:db8::1]:65536/k"):
        try:
            inet.split_url(url)
        except ValueError as e:
            assert "out of range" in str(e), (url, e)
        else:
            assert False, "split_url(%r) accepted the port" % url
    assert inet.split_url("tftp://h:65535/k")[2] == 65535


def test_escaped_names_are_sent_as_their_bytes():
    # urlparse.c:url_unescape gives bytes; %C3%A9 is UTF-8's e-acute, sent as those
    # two bytes (it went out as four: decoded to two characters, then encoded again).
    from agent import search, tftp
    name = search.unescape("k%C3%A9rnel;x", ";")
    assert name == "k\u00e9rnel", repr(name)
    assert tftp.encode_rrq(name)[2:9] == b"k\xc3\xa9rnel", tftp.encode_rrq(name)
    assert search.unescape("a%zzb%41", ";") == "a%zzbA"
    assert search.unescape("plain;rest", ";") == "plain"


class Forbidding(MemFetcher):
    """Answers names in `forbidden` with an HTTP status (nginx's 403 for a directory)."""

    def __init__(self, files, forbidden, error):
        MemFetcher.__init__(self, files)
        self.forbidden = forbidden
        self.error = error

    def read(self, url, limit=1 << 20):
        if url.split("/", 3)[3] in self.forbidden:
            raise self.error(url + ": HTTP 403 Forbidden")
        return MemFetcher.read(self, url, limit)


def test_config_search_goes_on_past_a_refused_name():
    # pxe.c:pxe_open_config tries the next name whenever an open fails; a server
    # answering 403 for one name does not end the search. One that does not answer does.
    from agent import plan
    from agent.fetch import TimedOut
    from agent.http import HttpStatus
    files = {"pxelinux.cfg/default": "DEFAULT a\nLABEL a\n KERNEL k\n"}
    first = "pxelinux.cfg/01-52-54-00-12-34-56"
    p = plan.make_plan(Forbidding(files, [first], HttpStatus), ENV)
    assert p.config.endswith("/pxelinux.cfg/default") and len(p.tried) > 2, p.tried
    try:
        plan.make_plan(Forbidding(files, [first], TimedOut), ENV)
    except TimedOut:
        pass
    else:
        assert False, "a silent server must end the search"
