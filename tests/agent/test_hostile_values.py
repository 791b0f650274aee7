"""Hostile values, pure logic (issue #12): the transfer Deadline, text from
servers, DHCP values, HTTP header values, and what follows a failed attempt.
Plain functions with assert: they also run under MicroPython."""

from agent import dhcp, http, lease as leases
from agent.fetch import Deadline, FetchError, Refused
from agent.text import clean_text


def test_deadline_only_progress_extends_it():
    d = Deadline(0, idle_s=30, min_rate=4096)
    assert d.end == 30000 and not d.expired(29999) and d.expired(30000)
    d.progress(0, 10000)                       # nothing delivered: no change
    assert d.end == 30000
    # fast progress: the end follows the latest progress, idle_s later
    for t in range(1, 11):
        d.progress(1 << 20, t * 1000)
    assert d.end == 40000, d.end
    assert d.reason(40000) == "no progress for 30 s", d.reason(40000)
    # a drip of 512 bytes every 2 s gains 31 ms each time: it ends near 30 s
    d = Deadline(0, idle_s=30, min_rate=4096)
    t = 0
    while not d.expired(t):
        t += 2000
        d.progress(512, t)
    assert t == 32000, t
    assert d.reason(t) == "too slow: 8192 bytes in 32 s, less than 4096 bytes/s", d.reason(t)


def test_clean_text():
    for text, want in (("plain", "plain"),
                       ("\x1b[31mred\x1b[0m", "?[31mred?[0m"),
                       ("a\r\nb\x00c\x7fd\x9be", "a??b?c?d?e"),
                       ("x" * 200, "x" * 160 + "..."),
                       (b"bytes\xff\n", "bytes\xff?")):
        got = clean_text(text)
        assert got == want, "clean_text(%r) = %r, want %r" % (text, got, want)


# (environment from udhcpc, lease fields wanted, problem lines wanted)
BASE = {"interface": "eth0", "ip": "192.0.2.10", "subnet": "255.255.255.0", "router": "192.0.2.1",
        "serverid": "192.0.2.1"}
DHCP_CASES = [
    ({}, {"ip": "192.0.2.10", "prefix": 24, "router": "192.0.2.1"}, []),
    ({"router": "   "}, {"router": None, "ip": "192.0.2.10"},
     ["DHCP router '   ' ignored: not an IPv4 address"]),
    ({"router": "bad 192.0.2.254"}, {"router": "192.0.2.254"},
     ["DHCP router 'bad' ignored: not an IPv4 address"]),
    ({"subnet": "255.0.255.0"}, {"prefix": None, "netmask": None},
     ["DHCP subnet mask '255.0.255.0' ignored: not a contiguous netmask"]),
    ({"subnet": "255.255.x.0"}, {"prefix": None},
     ["DHCP subnet mask '255.255.x.0' ignored: not an IPv4 address"]),
    ({"mask": "33"}, {"prefix": 24},
     ["DHCP prefix length (mask) '33' ignored: want 0-32"]),
    ({"ip": "192.0.2.999"}, {"ip": None},
     ["DHCP address '192.0.2.999' ignored: not an IPv4 address"]),
    ({"domain": "example.com\nnameserver 203.0.113.66"}, {"domain": None},
     ["DHCP domain 'example.com?nameserver 203.0.113.66' ignored: not a list of DNS names"]),
    ({"domain": "a.example b.example"}, {"domain": "a.example b.example"}, []),
    ({"dns": "192.0.2.53 \x1b[2J"}, {"dns": ["192.0.2.53"]},
     ["DHCP DNS server '?[2J' ignored: not an IPv4 address"]),
    ({"hostname": dhcp.NOT_TEXT}, {"hostname": None},
     ["DHCP host name '?' ignored: not a DNS name"]),
    ({"tftp": "boot.example"}, {"opt66": "boot.example"}, []),
    ({"tftp": "boot server"}, {"opt66": None},
     ["DHCP option 66 (TFTP server) 'boot server' ignored: not a DNS name"]),
    ({"bootfile": "s390x/pxelinux.0"}, {"opt67": "s390x/pxelinux.0"}, []),
    # Names udhcpc knows come as text: a name of hex digits stays what it is.
    ({"bootfile": "73333930"}, {"opt67": "73333930"}, []),
    ({"tftp": "6e6f6465"}, {"opt66": "6e6f6465"}, []),
    ({"opt67": "73333930"}, {"opt67": "s390"}, []),
    ({"bootfile": "a\rb"}, {"opt67": None},
     ["DHCP option 67 (boot file) 'a?b' ignored: control characters, spaces or bytes outside ASCII"]),
    # option 210 as udhcpc passes unknown options: hex
    ({"opt210": "687474703a2f2f782f"}, {"opt210": "http://x/"}, []),
    ({"opt210": "687474703a2f2f782f0d0a"}, {"opt210": None},
     ["DHCP option 210 (path prefix) '687474703a2f2f782f0d0a' ignored: control characters, "
      "spaces or bytes outside ASCII"]),
    ({"pxepathprefix": "http://x/\r\nHost: evil"}, {"opt210": None},
     ["DHCP option 210 (path prefix) 'http://x/??Host: evil' ignored: control characters, "
      "spaces or bytes outside ASCII"]),
    ({"opt211": "0000012c"}, {"opt211": 300}, []),
    ({"reboottime": "abc"}, {"opt211": None},
     ["DHCP option 211 (reboot time) 'abc' ignored: want a number of seconds"]),
    ({"reboottime": "0"}, {"opt211": None},
     ["DHCP option 211 (reboot time) 0 ignored: want 1-604800 seconds"]),
]


def test_dhcp_values():
    for extra, want, want_problems in DHCP_CASES:
        env = dict(BASE)
        env.update(extra)
        problems = []
        lease = dhcp.lease_from_env(env, problems)
        got = dict((k, lease[k]) for k in want)
        assert got == want, "lease_from_env(%r) = %r, want %r" % (extra, got, want)
        assert problems == want_problems, "lease_from_env(%r) problems = %r, want %r" % (
            extra, problems, want_problems)


def test_resolv_conf_never_gets_an_injected_line():
    lease = {"domain": "example.com\nnameserver 203.0.113.66", "dns": ["192.0.2.53", "1.2.3.4\noptions x"]}
    assert leases.resolv_conf(lease) == "nameserver 192.0.2.53\n", leases.resolv_conf(lease)


def test_hook_survives_hostile_values():
    from agent import machine
    machine.DRY_RUN = True
    try:
        env = dict(BASE)
        env.update({"router": "   ", "subnet": "1.2.3", "hostname": dhcp.NOT_TEXT, "ip": "bad"})
        assert dhcp.hook(["hook", "bound"], env) == 0
        env["ip"] = "192.0.2.10"
        assert dhcp.hook(["hook", "bound"], env) == 0   # dry run: nothing is written
    finally:
        machine.DRY_RUN = False


def test_http_content_length():
    for value, want in (("5", 5), ("5, 5", 5), ("0", 0)):
        assert http.content_length({"content-length": value}) == want
    assert http.content_length({}) is None
    for value in ("-5", "5, 7", "", "0x10", "1e3", "9" * 20):
        try:
            http.content_length({"content-length": value})
        except Refused:
            pass
        else:
            assert False, "content_length(%r) did not refuse" % value


def test_http_urls():
    assert http.parse_url("http://h:8080/a b/\u00e9") == ("h", 8080, "/a%20b/%C3%A9")
    for url in ("http://h:abc/", "http://h/a\r\nX: y", "http://h/\x00", "http://h:0/", "http:///x",
                "http://h\n/x", "tftp://h/x"):
        try:
            http.parse_url(url)
        except FetchError as e:
            assert isinstance(e, Refused) and "\n" not in str(e), str(e)
        else:
            assert False, "parse_url(%r) did not refuse" % url


class FakeConsole:
    def __init__(self):
        self.lines = []
        self.debug_on = False

    def say(self, msg):
        self.lines.append(msg)

    def error(self, msg):
        self.lines.append("ERROR: " + msg)

    def debug(self, msg):
        pass

    def raw(self, text):
        self.lines.append(text)

    def line(self, text):
        self.lines.append(text)

    def wait_line(self, seconds):
        self.lines.append("(waited %s s)" % seconds)
        return None


def test_a_failed_config_search_ends_in_the_reboot_countdown():
    """Issue #13 item 4: the plan of an earlier attempt must not turn a failed
    config search into an endless retry."""
    from agent import boot, machine, pxeconfig
    from agent import plan as planmod

    class OldPlan:
        cfg = pxeconfig.parse("PROMPT 1\nTIMEOUT 50\nDEFAULT a\nLABEL a\n KERNEL k\n")
    state = {"lease": {"interface": "eth0", "ip": "192.0.2.10", "serverid": "192.0.2.1",
                       "server_id": "192.0.2.1", "opt211": 42},
             "plan": OldPlan(), "menu_done": True}
    real = planmod.make_plan

    def failing(*a, **k):
        raise FetchError("tftp://192.0.2.1/pxelinux.cfg/default: no answer from 192.0.2.1:69 for 30 s")
    machine.DRY_RUN = True
    planmod.make_plan = failing
    con = FakeConsole()
    try:
        try:
            boot.run_once(con, {}, state)
        except boot.BootFailure as e:
            msg = str(e)
        else:
            assert False, "run_once did not fail"
        assert msg.startswith("config search failed: ") and "plan" not in state, (msg, state)
        boot.after_failure(con, {}, state, msg)
    finally:
        planmod.make_plan = real
        machine.DRY_RUN = False
    # Option 211's 42 s, spread by up to a tenth (4 s) so that guests do not all come back at once.
    waits = [line for line in con.lines if line.startswith("rebooting in ")]
    assert len(waits) == 1 and waits[0].endswith(" s; press Enter for a shell"), con.lines
    assert 42 <= int(waits[0].split()[2]) <= 46, waits
    assert con.lines[-1] == "rebooting", con.lines
    assert machine.LOG[-1] == "reboot -f", machine.LOG[-3:]


def test_second_attempt_space_counts_the_file_it_replaces():
    """The space check of a second attempt (after ONERROR, the prompt or a
    shell) must not count the first attempt's files against it."""
    from agent import boot, machine
    from agent.compat import makedirs, os
    d = "/tmp/netboot-test-space"
    makedirs(d)
    with open(d + "/kernel", "wb") as f:
        f.write(b"k" * 500)
    with open(d + "/initrd.0", "wb") as f:
        f.write(b"i" * 300)
    real = machine.free_bytes
    machine.free_bytes = lambda path: boot.SPACE_RESERVE + 1000
    try:
        fetcher = boot.environment({"interface": "eth0", "siaddr": "192.0.2.1"}, {})[0]
        for scheme in ("tftp", "http"):
            got = fetcher.schemes[scheme].space_for(d + "/kernel")
            assert got == 1500, "space_for(kernel) via %s = %r, want 1500" % (scheme, got)
            got = fetcher.schemes[scheme].space_for(d + "/absent")
            assert got == 1000, "space_for(absent) via %s = %r, want 1000" % (scheme, got)
        machine.clean_dir(d)
        assert os.listdir(d) == [], os.listdir(d)
    finally:
        machine.free_bytes = real
        os.rmdir(d)


def test_concat_aligns_each_initrd_to_four_bytes():
    from agent import boot
    from agent.compat import os
    names = ["/tmp/netboot-test-concat.%d" % i for i in range(3)]
    for name, data in zip(names, (b"abcde", b"", b"xyz" * 30000)):
        with open(name, "wb") as f:
            f.write(data)
    dest = "/tmp/netboot-test-concat.out"
    boot.concat(names, dest)
    with open(dest, "rb") as f:
        got = f.read()
    os.remove(dest)
    want = b"abcde\0\0\0" + b"xyz" * 30000
    assert got == want, "concat = %d bytes %r..., want %d bytes" % (len(got), got[:12], len(want))
    assert [n for n in names if n.split("/")[-1] in os.listdir("/tmp")] == [], "pieces left behind"


def test_pxe_spread_waits_a_random_while_before_the_first_request():
    # Issue #25: guests powered on together spread their first requests.
    from agent import boot
    from agent.compat import now_ms
    con = FakeConsole()
    start = now_ms()
    boot.spread_start(con, {})
    boot.spread_start(con, {"spread": "0"})
    assert con.lines == [] and now_ms() - start < 200, con.lines
    boot.spread_start(con, {"spread": "1"})
    took = now_ms() - start
    assert len(con.lines) == 1 and con.lines[0].startswith("pxe.spread=1: waiting "), con.lines
    said = float(con.lines[0].split()[2])
    assert 0 <= said <= 1 and took >= said * 1000 - 100, (said, took)
