"""The fuzz tier (issue 23): properties over the agent's parsers, clients and
PID 1 loop and the workstation's lint, with hypothesis.

Each property says: only the module's own error types escape, each call ends
within a CPU bound, and what grows with the input stays bounded. CI runs a
fixed small budget (the "ci" profile, about a minute for the file); set
NETBOOT_FUZZ_EXAMPLES=N for N examples per property (a nightly, a
developer). Shrunk examples the fuzzer found are kept as @example lines.
"""

import os
import struct
import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from tests.agent.memfetch import MemFetcher
from tests.agent.test_hostile_values import FakeConsole

from agent import dhcp, dhcp6, http, inet, lease as leases, machine, menu, pxeconfig, s390kernel, search, tftp
from agent import boot
from agent import plan as planmod
from agent.fetch import FetchError, NotFound

EXAMPLES = int(os.environ.get("NETBOOT_FUZZ_EXAMPLES", "0"))
settings.register_profile("ci", deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                          database=None)
settings.register_profile("deep", deadline=None, suppress_health_check=list(HealthCheck), database=None)
settings.load_profile("deep" if EXAMPLES else "ci")
CPU_S = 2.0                    # each call, as the fuzzer bounded them
MEMORY = 64 << 20              # peak Python allocations of one call (the image's heap is 32 MiB)


def budget(n):
    """n examples in CI, NETBOOT_FUZZ_EXAMPLES when set."""
    return settings(max_examples=EXAMPLES or n)


class Bounded:
    """A block that must end within CPU_S of CPU time and MEMORY of allocations."""

    def __init__(self, what, memory=True):
        self.what = what
        self.memory = memory

    def __enter__(self):
        if self.memory:
            tracemalloc.start()
        self.t = time.process_time()
        return self

    def __exit__(self, *exc):
        spent = time.process_time() - self.t
        peak = 0
        if self.memory:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        if exc[0] is None:
            assert spent < CPU_S * 4 if self.memory else CPU_S, "%s took %.1f s of CPU" % (self.what, spent)
            assert peak < MEMORY, "%s allocated %d MiB at its peak" % (self.what, peak >> 20)
        return False


# ---- config text ---------------------------------------------------------------

DIRECTIVES = [d.encode() for d in pxeconfig.DIRECTIVES] + [b"TEXT HELP", b"MENU COLOR", b"\xe2\x84\xaaERNEL",
                                                             b"LABEL", b"LABEL", b"KERNEL", b"APPEND"]
ARGS = [b"a", b"b", b"k", b"k.img", b"menu.c32", b"x.0", b"inc.cfg", b"sub.cfg Title", b"0x7", b"-", b"10",
        b"initrd=i1,i2", b"caf\xe9", b"\xed\xa0\x80", b"\xc0\xaf", b"\xff", b"\xc2\xb2", b"%00", b"tftp://h/x%00y",
        b"::sub/", b"sub/", b"/", b"99999999999999999999", b"\x00", b"\r", b"\t", b"\x7f"]
line_st = st.one_of(
    st.builds(lambda lead, kw, sp, args: lead + kw + sp + b" ".join(args),
              st.sampled_from([b"", b" ", b"\t", b"\x0b"]), st.sampled_from(DIRECTIVES),
              st.sampled_from([b" ", b"\t", b"\x7f", b"\xc2\xa0", b""]), st.lists(st.sampled_from(ARGS), max_size=3)),
    st.binary(max_size=40),
    st.builds(lambda n: b"APPEND " + b"y" * n, st.integers(4000, 5000)),
)
config_st = st.builds(lambda lines, end: end.join(lines), st.lists(line_st, max_size=30),
                      st.sampled_from([b"\n", b"\r\n"]))


def files_st():
    return st.fixed_dictionaries({"pxelinux.cfg/default": config_st},
                                 optional={"inc.cfg": config_st, "sub.cfg": config_st,
                                           "sub/pxelinux.cfg/default": config_st})


@budget(3000)
@given(config_st)
@example(b"DEFAULT a\nLABEL a\n KERNEL k\n" + b"x\n" * 2000)
@example(b"DEFAULT a\nLABEL a\n \xe2\x84\xaaERNEL vmlinuz\n APPEND x=1")
@example(b"LABEL a\xed\xa0\x80\n KERNEL k\xc0\xaf\n")
def test_parser(text):
    with Bounded("parse(%r)" % text[:80]):
        try:
            cfg = pxeconfig.parse(text, load=lambda name: text if name == "inc.cfg" else None)
        except pxeconfig.ConfigError:
            return
    assert len(cfg.notes) <= 200, len(cfg.notes)
    for lab in cfg.labels:
        assert isinstance(lab.name, str) and isinstance(lab.kernel, str)


@budget(2000)
@given(config_st, st.one_of(st.none(), st.sampled_from(["a", "b x=1", "k", "menu.c32", "\u212a", "caf\xe9"])))
def test_menu_decision(text, typed):
    cfg = pxeconfig.parse(text)
    with Bounded("decide(%r)" % text[:80]):
        try:
            command, source, lab, notes = menu.decide(cfg, typed)
        except pxeconfig.ConfigError:
            return
    assert isinstance(command, str) and isinstance(source, str)


ENV = {"mac": "52:54:00:12:34:56", "ip": "192.0.2.10", "netmask": "255.255.255.0", "gateway": "192.0.2.1",
       "server_ip": "192.0.2.1", "server": "192.0.2.1"}


@budget(2000)
@given(files_st(), st.one_of(st.none(), st.sampled_from(["a", "k x=1", "b"])))
@example({"pxelinux.cfg/default": b"INCLUDE tftp://h/x%00y\nDEFAULT a\nLABEL a\n KERNEL k\n"}, None)
@example({"pxelinux.cfg/default": b"DEFAULT a\nLABEL a\n CONFIG ::pxelinux.cfg/default sub/\n"}, None)
@example({"pxelinux.cfg/default": b"\n"}, None)
def test_plan(files, label):
    with Bounded("make_plan(%r)" % (files,)[:200]):
        try:
            p = planmod.make_plan(MemFetcher(files), dict(ENV), label)
        except (planmod.PlanError, FetchError):
            return
    if p.localboot is not None:
        # LOCALBOOT, chain.c32 or an empty config: the installed system, no kernel to fetch.
        assert p.kernel is None and p.as_dict()["localboot"], (p.localboot, p.kernel)
    else:
        assert p.kernel.startswith("tftp://") and p.cmdline.startswith("BOOT_IMAGE="), (p.kernel, p.cmdline)
    assert len(p.notes) <= 16 * 201, len(p.notes)
    p.as_dict()


@budget(400)
@given(files_st())
def test_plan_root_on_disk(tmp_path_factory, files):
    # LocalFetcher: file names with NULs, '..', invalid UTF-8 reach the disk.
    root = tmp_path_factory.mktemp("tree")
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    fetcher, env = planmod.environment({"root": str(root), "mac": ENV["mac"], "ip": ENV["ip"]})
    with Bounded("plan --root", memory=False):
        try:
            planmod.make_plan(fetcher, env)
        except (planmod.PlanError, FetchError):
            pass


# ---- DHCP and DHCPv6 leases ---------------------------------------------------------

DHCP_KEYS = ["interface", "ip", "mask", "subnet", "router", "dns", "domain", "serverid", "siaddr", "tftp", "boot_file",
             "bootfile", "sname", "opt66", "opt67", "opt209", "opt210", "opt211", "mtu", "lease", "hostname", "opt54"]
dhcp_value = st.one_of(st.text(max_size=30), st.sampled_from(["192.0.2.1", "24", "255.255.255.0", "3a30", "\u00b2",
                                                               "pxelinux.0", "::1", "00", "7465737400", ""]))


@budget(2000)
@given(st.dictionaries(st.sampled_from(DHCP_KEYS), dhcp_value))
def test_dhcp_lease(env):
    with Bounded("lease_from_env(%r)" % env):
        try:
            lease = dhcp.lease_from_env(env, [])
        except leases.LeaseError:
            return
        for fn in (leases.boot_server, leases.bootfile):
            try:
                fn(lease)
            except leases.LeaseError:
                pass
        try:
            planmod.environment({}, lease)
        except (leases.LeaseError, planmod.OptionError):
            pass


dhcp6_option = st.builds(lambda code, data: struct.pack(">HH", code, len(data)) + data,
                         st.sampled_from([1, 2, 3, 13, 23, 24, 59, 60, 209, 210, 5, 99]), st.binary(max_size=40))


@budget(2000)
@given(st.one_of(st.binary(max_size=120),
                 st.builds(lambda head, opts: head + b"".join(opts), st.binary(min_size=4, max_size=4),
                           st.lists(dhcp6_option, max_size=8))))
def test_dhcp6_lease(packet):
    with Bounded("dhcp6(%r)" % packet):
        try:
            kind, xid, opts = dhcp6.decode(packet)
        except ValueError:
            return
        lease = dhcp6.lease_from_reply(opts, "eth0", [])
        try:
            leases.boot_server(lease)
            planmod.environment({}, lease)
        except (leases.LeaseError, planmod.OptionError):
            pass


# ---- TFTP: the Receiver fed any packet sequence ---------------------------------------

def _packet():
    opts = st.lists(st.tuples(st.sampled_from(["blksize", "tsize", "windowsize", "timeout", "BLKSIZE", "x"]),
                              st.sampled_from(["8", "512", "1468", "0", "-1", "\u00b2", "65536", "", "16"])),
                    max_size=4)
    return st.one_of(
        st.builds(lambda b, d: tftp.encode_data(b, d), st.integers(0, 70000), st.binary(max_size=20)),
        st.builds(lambda o: tftp.encode_oack(o), opts),
        st.builds(lambda o, n: tftp.encode_oack(o)[:n], opts, st.integers(0, 40)),
        st.builds(lambda c, m: tftp.encode_error(c, m), st.integers(0, 9), st.text(max_size=10)),
        st.binary(max_size=30),
    )


@budget(3000)
@given(st.lists(_packet(), max_size=30), st.sampled_from([None, 64, 1 << 20]),
       st.sampled_from([{"blksize": 8, "tsize": 0}, {"blksize": 16, "tsize": 0, "windowsize": 4}, {}]))
@example([tftp.encode_oack([("blksize", 8), ("tsize", 16)]), tftp.encode_data(1, b"AAAAAAAA"),
          tftp.encode_oack([("blksize", 8), ("tsize", 16)])[:13]], None, {"blksize": 8, "tsize": 0})
def test_tftp_receiver(packets, max_size, requested):
    class Sink:
        n = 0

        def write(self, b):
            self.n += len(b)
    sink = Sink()
    rx = tftp.Receiver(sink, requested, max_size)
    with Bounded("Receiver"):
        for i, pkt in enumerate(packets):
            try:
                out = rx.feed(pkt, i * 100)
            except FetchError:
                return
            assert all(isinstance(x, bytes) for x in out)
            if rx.done:
                break
        rx.timeout_packet()
    assert sink.n == rx.size and (max_size is None or rx.size <= max_size)


# ---- HTTP response parsing -------------------------------------------------------------

class FakeConn(http._Conn):
    def __init__(self, chunks):
        self.chunks = list(chunks)
        self.buf = b""
        self.pos = 0
        self.eof = False

        class Clock:
            def progress(self, n, now):
                pass
        self.deadline = Clock()

    def body(self):
        pass

    def _receive(self, into):
        """The next chunk, as the real connection hands it: bytes (into None),
        or put into the memoryview into (what does not fit comes next)."""
        if not self.chunks:
            self.eof = True
            return b"" if into is None else 0
        data = self.chunks.pop(0)
        if into is None:
            return data
        n = min(len(data), len(into))
        into[:n] = data[:n]
        if n < len(data):
            self.chunks.insert(0, data[n:])
        return n


head_line = st.one_of(st.sampled_from([b"HTTP/1.1 200 OK", b"HTTP/1.1 \xb200 OK", b"HTTP/1.0 100 Continue",
                                       b"Content-Length: 5", b"Content-Length: \xb9", b"Content-Length: 5, 5",
                                       b"Transfer-Encoding: chunked", b"Content-Encoding: gzip", b"", b"5", b"0",
                                       b"hello", b"Location: /x"]),
                      st.binary(max_size=30))


@budget(3000)
@given(st.lists(head_line, max_size=20), st.integers(1, 7), st.sampled_from([None, 4, 1 << 20]))
@example([b"HTTP/1.1 \xb200 OK", b""], 3, None)
@example([b"HTTP/1.1 200 OK", b"Content-Length: \xb9", b""], 3, None)
def test_http_response(lines, cut, max_size):
    data = b"\r\n".join(lines) + b"\r\n"
    conn = FakeConn([data[i:i + cut] for i in range(0, len(data), cut)])

    class Sink:
        def write(self, b):
            pass
    with Bounded("http response %r" % data[:100]):
        try:
            status, reason, headers = http._response(conn)
            http._body(conn, headers, Sink(), max_size, None)
        except FetchError:
            return


# ---- URLs and host:port -----------------------------------------------------------------

url_text = st.one_of(st.text(max_size=40), st.builds(lambda s, h, p: s + h + p,
                                                     st.sampled_from(["tftp://", "http://", "https://", "", "::"]),
                                                     st.sampled_from(["h", "[::1]", "[fe80::1%eth0]", "192.0.2.1",
                                                                      "h:\u00b9", "h:69", "", "[", "h:0"]),
                                                     st.text(max_size=20)))


@budget(3000)
@given(url_text)
@example("h:\u00b9")
@example("tftp://h/x%00y")
def test_urls_and_host_port(text):
    with Bounded("url %r" % text):
        for fn in (lambda t: inet.host_port(t, 69), inet.split_url, http.parse_url, inet.parse_ipv4,
                   inet.parse_ipv6):
            try:
                fn(text)
            except (ValueError, FetchError):
                pass
        for cwd in ("::", "::s390x/", "tftp://h/d/", "http://[::1]:8080/d/"):
            try:
                url = search.resolve(text, cwd, "192.0.2.1")
            except ValueError:
                continue
            search.display(url, "192.0.2.1")
        search.unescape(text, "\0")
        search.chdir("::", text)


# ---- the s390 kernel layout ------------------------------------------------------------

@budget(2000)
@given(st.binary(max_size=0x700), st.integers(0, 1 << 34), st.one_of(st.none(), st.integers(0, 1 << 34)),
       st.text(max_size=100), st.sampled_from([None, 0, 896, 4096, 1 << 40]))
def test_s390_kernel_layout(head, kernel_size, initrd_size, cmdline, maxsize):
    head = bytearray(head)
    if maxsize is not None and len(head) >= s390kernel.MAX_CMDLINE + 8:
        head[8:14] = b"S390EP"
        struct.pack_into(">Q", head, s390kernel.MAX_CMDLINE, maxsize)
    with Bounded("s390_segments"):
        try:
            patched, segments = s390kernel.s390_segments(bytes(head), kernel_size, initrd_size, cmdline)
        except s390kernel.KexecError:
            return
    for source, offset, length, mem, memsz in segments:
        assert length >= 0 and memsz >= length and mem % s390kernel.PAGE == 0, segments


# ---- lint on generated trees ---------------------------------------------------------

@budget(400)
@given(files_st())
@example({"pxelinux.cfg/default": b"DEFAULT a\nLABEL a\n CONFIG ::pxelinux.cfg/default sub/\n"})
@example({"pxelinux.cfg/default": b"DEFAULT a\nLABEL a\n CONFIG pxelinux.cfg/default /\n"})
def test_lint_tree(tmp_path_factory, files):
    from workstation.lint import Linter
    root = tmp_path_factory.mktemp("tree")
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    fetcher, env = planmod.environment({"root": str(root)})
    server = env["server"]
    with Bounded("lint", memory=False):
        linter = Linter(fetcher, server, root=str(root)).run()
    for f in linter.sorted_findings():
        text = str(f)
        assert "\n" not in text
        text.encode("ascii", "backslashreplace").decode("ascii")


# ---- PID 1: run_once and after_failure never end in an exception ------------------------

class AtThePrompt(Exception):
    """The console waits for a person with no countdown: the machine stays at the prompt."""


class ScriptedConsole(FakeConsole):
    """Lines typed in turn; then nobody types: a countdown runs out (None), a
    wait without one (0 s) is where the machine stays."""
    MAX_WAITS = 200

    def __init__(self, answers):
        FakeConsole.__init__(self)
        self.answers = list(answers)
        self.waits = 0

    def wait_line(self, seconds):
        self.lines.append("(waited %s s)" % seconds)
        self.waits += 1
        assert self.waits < self.MAX_WAITS, "the console waited %d times: %r" % (self.waits, self.lines[-12:])
        if self.answers:
            return self.answers.pop(0)
        if not seconds:
            raise AtThePrompt()
        return None


class FakeServer:
    """The boot server: the files, and how it fails (behaviour)."""

    def __init__(self, files, behaviour):
        self.files = MemFetcher(files)
        self.behaviour = behaviour

    def read(self, url, limit=1 << 20):
        if self.behaviour == "silent":
            raise FetchError("%s: no answer from 192.0.2.1:69 for 30 s" % url)
        if self.behaviour == "memory":
            raise MemoryError("memory allocation failed")
        return self.files.read(url, limit)

    def fetch(self, url, dest, progress=None):
        if self.behaviour == "kernel-missing":
            raise NotFound(url)
        data = self.files.read(url)
        with open(dest, "wb") as f:
            f.write(data)
        return len(data)


def _lease(env):
    """A lease as the agent makes one: udhcpc's environment through dhcp.lease_from_env."""
    lease = dhcp.lease_from_env(env, [])
    lease["interface"] = "eth0"
    return lease


lease_st = st.builds(_lease, st.fixed_dictionaries({"ip": st.sampled_from(["192.0.2.10", "bad", "\u00b9.2.3.4"])}, optional={
    "serverid": st.sampled_from(["192.0.2.1", "x"]), "siaddr": st.just("192.0.2.1"), "mask": st.sampled_from(["24", "99"]),
    "opt211": st.sampled_from(["00000005", "zz"]), "boot_file": st.sampled_from(["pxelinux.0", "s390x/pxelinux.0", ""]),
    "opt210": st.sampled_from(["73333930782f", "3a3a"]), "router": st.just("192.0.2.1")}))


@budget(800)
@given(files_st(), lease_st, st.sampled_from(["ok", "silent", "kernel-missing", "memory"]),
       st.lists(st.sampled_from(["", "a", "b x=1", "k", "menu.c32", "nosuch", "0", None]), max_size=6),
       st.dictionaries(st.sampled_from(["label", "config", "prompt", "noexec"]),
                       st.sampled_from(["a", "k", True, "inc.cfg"]), max_size=2))
def test_pid1_ends_in_kexec_onerror_prompt_or_countdown(tmp_path_factory, files, lease, behaviour, answers, opts):
    files = dict(files, k=b"kernel", i1=b"i1", i2=b"i2")
    server = FakeServer(files, behaviour)
    con = ScriptedConsole(answers)
    state = {"lease": lease}
    real = (boot.environment, machine.kexec_load, machine.kexec_exec, boot.WORKDIR, machine.shell)
    work = str(tmp_path_factory.mktemp("work"))
    real_environment = boot.environment

    def environment(lease, opts):
        fetcher, env = real_environment(lease, opts)
        return server, env
    boot.environment = environment
    machine.kexec_load = lambda kernel, initrd, cmdline: (True, "kexec_load")
    machine.kexec_exec = lambda: machine.LOG.append("kexec -e") or "it returned"
    machine.shell = lambda: machine.LOG.append("shell")
    boot.WORKDIR = work
    machine.DRY_RUN = True
    del machine.LOG[:]
    ends = []
    try:
        with Bounded("PID 1", memory=False):
            for attempt in range(12):
                try:
                    boot.run_once(con, opts, state)
                    msg = "run_once returned"
                except boot.BootFailure as e:
                    msg = str(e)
                except AtThePrompt:
                    ends.append("prompt")
                    break
                assert "internal error" not in msg and "\n" not in msg, msg
                if "kexec -e" in machine.LOG:
                    ends.append("kexec")
                    break
                try:
                    boot.after_failure(con, opts, state, msg)
                except AtThePrompt:
                    ends.append("countdown")   # a 0 s countdown: opt211 0
                    break
                if "reboot -f" in machine.LOG:
                    ends.append("countdown")
                    break
                if "shell" in machine.LOG:
                    ends.append("shell")
                    break
                ends.append("onerror" if state.get("onerror_of") is not None else
                            "prompt" if state.get("menu_done") is False else "again")
    finally:
        (boot.environment, machine.kexec_load, machine.kexec_exec, boot.WORKDIR, machine.shell) = real
        machine.DRY_RUN = False
    assert ends and ends[-1] in ("kexec", "countdown", "shell", "prompt"), (ends, con.lines[-8:])
