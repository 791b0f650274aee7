"""`python -m agent plan`: the documented JSON keys, exit codes and one-line errors,
and a parser that no byte string can crash (hypothesis)."""

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from agent import plan as planmod, pxeconfig

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MALFORMED = os.path.join(ROOT, "tests", "testdata", "malformed")
KEYS = ["cmdline", "config", "initrd", "kernel", "label", "labels", "timeout", "tried"]


def plan_cli(*args):
    p = subprocess.run([sys.executable, "-m", "agent", "plan"] + list(args), cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stdout, p.stderr


def tree(tmp_path, files):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(tmp_path)


def test_json_has_exactly_the_documented_keys(tmp_path):
    root = tree(tmp_path, {"s390/pxelinux.cfg/01-52-54-00-12-34-56":
                           "TIMEOUT 30\nDEFAULT a\nLABEL a\n KERNEL vmlinuz\n INITRD a.img,b.img\n APPEND quiet\n"})
    rc, out, err = plan_cli("--root", root, "--mac", "52:54:00:12:34:56", "--bootfile", "s390/pxelinux.0",
                            "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert sorted(d) == KEYS
    assert d == {"tried": ["s390/pxelinux.cfg/01-52-54-00-12-34-56"],
                 "config": "s390/pxelinux.cfg/01-52-54-00-12-34-56", "label": "a",
                 "kernel": "s390/vmlinuz", "initrd": ["s390/a.img", "s390/b.img"],
                 "cmdline": "BOOT_IMAGE=vmlinuz quiet initrd=a.img,b.img", "labels": ["a"], "timeout": 30}


def test_readable_output(tmp_path):
    root = tree(tmp_path, {"pxelinux.cfg/default": "MENU TITLE Hello\nLABEL a\n KERNEL k\nFROB x\nDEFAULT a\n"})
    rc, out, err = plan_cli("--root", root)
    assert rc == 0
    assert "config used:   pxelinux.cfg/default" in out and "kernel:        k" in out
    assert "note: pxelinux.cfg/default:4: unknown directive FROB: ignored" in out


@pytest.mark.parametrize("args,want", [
    (["--root", "/nonexistent"], "plan: no config found; tried pxelinux.cfg/default"),
    (["--root", ".", "--mac", "xx"], "MAC address 'xx'"),
    (["--root", ".", "--ip", "1.2.3.400"], "IPv4 address '1.2.3.400'"),
    (["--mac", "52:54:00:12:34:56"], "plan needs --root DIR or --server HOST[:PORT]"),
    (["--root", ".", "--bogus"], "unknown option --bogus"),
    (["--root"], "--root needs a value"),
])
def test_bad_input_one_line_exit_2(args, want):
    rc, out, err = plan_cli(*args)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and want in err and "Traceback" not in err, err


@pytest.mark.parametrize("name,rc,want", [
    # No DEFAULT and no UI: ldlinux.c:ldlinux_auto_boot says so and the prompt
    # waits; nothing boots unattended (it was the first label before).
    ("include-loop.cfg", 2, "No DEFAULT or UI configuration directive found!"),
    ("nul-bytes.cfg", 2, None),
    ("latin1.cfg", 2, "No DEFAULT or UI configuration directive found!"),
    # "DEFAULT\r" is a DEFAULT with an empty command (the line ends at the CR).
    ("crlf-only.cfg", 2, "empty boot command"),
    ("overlong.cfg", 2, "No DEFAULT or UI configuration directive found!"),
    ("directives-no-args.cfg", 2, None),
    ("default-missing-label.cfg", 2, "Loading nosuch... failed"),
    # readconfig.c: LABEL a sets the kernel to "a" too.
    ("label-no-kernel.cfg", 0, None),
    ("numbers.cfg", 2, "No DEFAULT or UI configuration directive found!"),
    ("text-unterminated.cfg", 2, "No DEFAULT or UI configuration directive found!"),
    ("binary.cfg", 2, None),
])
def test_malformed_corpus(name, rc, want, tmp_path):
    with open(os.path.join(MALFORMED, name), "rb") as f:
        data = f.read()
    root = tree(tmp_path, {"pxelinux.cfg/default": data, "include-loop.cfg": data})
    got_rc, out, err = plan_cli("--root", root, "--json")
    assert got_rc == rc, (name, out, err)
    if rc == 0:
        assert sorted(json.loads(out)) == KEYS
    else:
        assert err.startswith("plan: ") and err.count("\n") == 1, err
        if want:
            assert want in err, err
    assert "Traceback" not in err


def test_default_missing_label_becomes_kernel_name(tmp_path):
    # ldlinux.c load_kernel: no label "nosuch", so get_extension probes
    # nosuch.c32 ... nosuch.0, then the file nosuch itself is loaded.
    with open(os.path.join(MALFORMED, "default-missing-label.cfg"), "rb") as f:
        root = tree(tmp_path, {"pxelinux.cfg/default": f.read(), "nosuch": b"a kernel"})
    rc, out, err = plan_cli("--root", root)
    assert rc == 0 and "kernel:        nosuch" in out
    assert "DEFAULT 'nosuch' names no label: taken as a kernel file name" in out
    # Without that file the load fails and the boot: prompt (no TIMEOUT) waits.
    os.remove(os.path.join(root, "nosuch"))
    rc, out, err = plan_cli("--root", root)
    assert rc == 2 and "Loading nosuch... failed: no such file on the server" in err, err


from tests.agent.memfetch import MemFetcher as Mem  # noqa: E402  the agent tests' in-memory fetcher


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2000), st.binary(max_size=300), st.one_of(st.none(), st.text(max_size=20)))
def test_no_byte_string_crashes_the_parser(config, included, label):
    cfg = pxeconfig.parse(config, "default", lambda n: included)
    assert isinstance(cfg.notes, list)
    try:
        p = planmod.make_plan(Mem({"pxelinux.cfg/default": config, "x": included}),
                              {"server": "s", "mac": "52:54:00:12:34:56", "ip": "192.0.2.10"}, label)
        d = p.as_dict()
        if "localboot" in d:
            assert sorted(d) == sorted(KEYS + ["localboot"]) and d["kernel"] is None and d["cmdline"] == ""
        else:
            assert sorted(d) == KEYS and d["cmdline"].startswith("BOOT_IMAGE=")
    except planmod.PlanError as e:
        assert str(e) and "\n" not in str(e)


KEYWORDS = ["DEFAULT", "LABEL", "KERNEL", "LINUX", "APPEND", "INITRD", "IPAPPEND", "SYSAPPEND", "TIMEOUT",
            "ONTIMEOUT", "ONERROR", "PROMPT", "INCLUDE", "MENU LABEL", "MENU DEFAULT", "MENU HIDE", "MENU BEGIN",
            "MENU END", "UI", "CONFIG", "LOCALBOOT", "TEXT HELP", "ENDTEXT", "IMPLICIT", "SAY", "COM32"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KEYWORDS), st.sampled_from(["", "a", "b", "k.c32", "x", "-", "1", "0",
                                                                       "a b=c", "x,y", "menu.c32", "99"])),
                max_size=30))
def test_directive_soup_never_crashes(lines):
    text = "\n".join("%s %s" % kv for kv in lines)
    try:
        p = planmod.make_plan(Mem({"pxelinux.cfg/default": text.encode(), "a": b"LABEL a\nKERNEL k\n"}),
                              {"server": "s"}, None)
        if p.localboot is not None:
            # LOCALBOOT, chain.c32 or an empty config: the installed system, no kernel
            assert p.kernel is None and p.as_dict()["localboot"] == p.localboot
        else:
            assert p.kernel.startswith("tftp://s/")
    except planmod.PlanError as e:
        assert str(e)


def test_help_on_every_verb(capsys):
    from agent import cli
    for argv, want in ((["plan", "--help"], "usage: python -m agent plan"),
                       (["plan", "-h"], "usage: python -m agent plan"),
                       (["fetch", "--help"], "usage: python -m agent fetch URL -o FILE"),
                       (["--help"], "usage: python -m agent plan")):
        rc = cli.run(argv)
        out, err = capsys.readouterr()
        assert rc == 0 and out.startswith(want) and err == "", "run(%s) = %d %r %r" % (argv, rc, out[:60], err)


@pytest.mark.slow
def test_plan_against_a_silent_server_is_one_line_exit_2():
    """A TFTP server that never answers: the search ends at the transfer limit
    (30 s without progress) with one line and exit 2, no traceback."""
    import socket
    import subprocess
    import sys
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    try:
        p = subprocess.run([sys.executable, "-m", "agent", "plan", "--server", "127.0.0.1:%d" % port,
                            "--mac", "52:54:00:12:34:56"], cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        silent.close()
    assert p.returncode == 2 and p.stderr.count("\n") == 1, (p.returncode, p.stderr)
    assert p.stderr.startswith("plan: ") and "127.0.0.1:%d" % port in p.stderr, p.stderr


def test_fetch_max_size(tmp_path):
    import subprocess
    import sys
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "f").write_bytes(b"x" * 5000)
    from agent import cli
    assert "max-size" in cli.FETCH_OPTIONS
    p = subprocess.run([sys.executable, "-m", "agent", "fetch", "http://127.0.0.1:9/f", "-o",
                        str(tmp_path / "out"), "--max-size", "lots"], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert p.returncode == 2 and "--max-size lots: want a number of bytes" in p.stderr, p.stderr


def test_fetch_leaves_the_output_whole_or_as_it_was(tmp_path):
    """`agent fetch -o FILE` writes FILE.part and renames it when whole: a 404 leaves an
    existing FILE as it was, a body cut short leaves no FILE and no FILE.part."""
    import socket
    import subprocess
    import sys
    import threading
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    port = srv.getsockname()[1]

    answers = {b"/missing": b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
               b"/cut": b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 5000,
               b"/whole": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nwhole"}

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            path = c.recv(65536).split(b" ")[1]
            c.sendall(answers[path])  # /cut: every retry is cut short too
            c.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()

    def fetch(path, out):
        return subprocess.run([sys.executable, "-m", "agent", "fetch", "http://127.0.0.1:%d/%s" % (port, path), "-o",
                               str(out), "--quiet"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=60)
    try:
        old = tmp_path / "kept"
        old.write_bytes(b"the earlier download")
        p = fetch("missing", old)
        assert p.returncode == 2 and old.read_bytes() == b"the earlier download", (p.stderr, old.read_bytes())
        p = fetch("cut", tmp_path / "cut")
        assert p.returncode == 2 and sorted(x.name for x in tmp_path.iterdir()) == ["kept"], p.stderr
        p = fetch("whole", tmp_path / "whole")
        assert p.returncode == 0 and (tmp_path / "whole").read_bytes() == b"whole", p.stderr
        assert sorted(x.name for x in tmp_path.iterdir()) == ["kept", "whole"]
    finally:
        srv.close()


def test_plan_root_refuses_a_fifo_config(tmp_path):
    """A FIFO where a config should be would block open() for ever: one line, exit 2."""
    import subprocess
    import sys
    (tmp_path / "pxelinux.cfg").mkdir()
    os.mkfifo(str(tmp_path / "pxelinux.cfg" / "default"))
    p = subprocess.run([sys.executable, "-m", "agent", "plan", "--root", str(tmp_path)], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert p.returncode == 2 and "not a regular file" in p.stderr and p.stderr.count("\n") == 1, p.stderr


def test_plan_shows_control_characters_escaped(tmp_path):
    """A config's escape sequences reach the administrator's terminal as \\xNN, in the
    plan and in its errors; --json stays exact."""
    import json
    import subprocess
    import sys
    (tmp_path / "pxelinux.cfg").mkdir()
    (tmp_path / "pxelinux.cfg" / "default").write_text(
        "MENU TITLE \x1b]0;owned\x07\nDEFAULT a\nLABEL a\n KERNEL k\n APPEND x\x1b[31mred\n")

    def plan(*args):
        return subprocess.run([sys.executable, "-m", "agent", "plan", "--root", str(tmp_path)] + list(args),
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    p = plan()
    assert p.returncode == 0 and "\x1b" not in p.stdout and "\x07" not in p.stdout, repr(p.stdout)
    assert "menu title:    \\x1b]0;owned\\x07" in p.stdout and "x\\x1b[31mred" in p.stdout, p.stdout
    assert json.loads(plan("--json").stdout)["cmdline"] == "BOOT_IMAGE=k x\x1b[31mred"
    p = plan("--config", "pxelinux.cfg/\x1b[2Jgone")
    assert p.returncode == 2 and "\x1b" not in p.stderr and "\\x1b[2Jgone" in p.stderr, repr(p.stderr)
