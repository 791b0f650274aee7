"""Issue 23: what the fuzzer found in the workstation command (`s390-netboot
plan` and `lint` on real temporary trees), one test per finding. The
agent's findings are in tests/agent_tests/test_fuzz_findings.py."""

import os
import resource
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAC = "52:54:00:12:34:56"
HEAD = "DEFAULT a\nLABEL a\n KERNEL k\n"


def _limits():
    # A runaway must not take the machine with it (the lint loop reached 15 GB in 60 s).
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    resource.setrlimit(resource.RLIMIT_CPU, (60, 60))


def run_cmd(args, env=None, timeout=60):
    full = dict(os.environ, PYTHONPATH=ROOT)
    full.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "workstation"] + args, cwd=ROOT, env=full, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_limits)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def tree(tmp_path, files):
    root = tmp_path / "tftp"
    for name, data in files.items():
        path = root / os.fsdecode(name) if isinstance(name, bytes) else root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(root)


def no_traceback(rc, out, err, what):
    assert "Traceback" not in err and "Error:" not in err.split("(run with --debug")[0].split(":")[0], \
        "%s: rc %d, stderr %r" % (what, rc, err[-2000:])


def test_include_with_a_nul_is_a_note(tmp_path):
    # INCLUDE tftp://h/x%00y unescapes to a NUL; LocalFetcher let "embedded null byte" out.
    root = tree(tmp_path, {"pxelinux.cfg/default": "INCLUDE tftp://h/x%00y\n" + HEAD, "k": "k"})
    rc, out, err = run_cmd(["plan", "--root", root, "--mac", MAC])
    assert rc == 0 and "kernel:        k\n" in out, (rc, out, err)
    assert "INCLUDE tftp://h/x%00y: not found: ignored" in out, out
    rc, out, err = run_cmd(["lint", root])
    assert rc in (0, 1) and "ValueError" not in out + err, (rc, out, err)


def test_config_with_a_nul_in_the_name(tmp_path):
    root = tree(tmp_path, {"pxelinux.cfg/default": "DEFAULT a\nLABEL a\n CONFIG tftp://h/x%00y\n", "k": "k"})
    rc, out, err = run_cmd(["plan", "--root", root, "--mac", MAC])
    assert rc == 2 and "CONFIG tftp://h/x not found" in err and err.count("\n") == 1, (rc, out, err)


def test_lint_ends_on_a_config_that_chdirs_for_ever(tmp_path):
    # lint keyed the configs it had read by (url, prefix): CONFIG ... sub/ grew the
    # prefix without end (15 GB RSS in 60 s). plan stops after 16 hops.
    for line in ("CONFIG ::pxelinux.cfg/default sub/", "CONFIG pxelinux.cfg/default /",
                 "CONFIG ::pxelinux.cfg/default ../x/"):
        root = tree(tmp_path, {"pxelinux.cfg/default": "DEFAULT a\nLABEL a\n %s\n" % line})
        rc, out, err = run_cmd(["lint", root], timeout=60)
        assert rc in (0, 1) and "Error" not in err, (line, rc, out[-2000:], err[-2000:])
        assert out.count("\n") < 200, (line, out[-2000:])


def test_strict_stdout_lint_never_read(tmp_path):
    # A file name that is not UTF-8 in lint's "never read" finding, on a strict stdout.
    root = tree(tmp_path, {"pxelinux.cfg/default": HEAD, b"pxelinux.cfg/caf\xe9.cfg": HEAD, "k": "k"})
    rc, out, err = run_cmd(["lint", root], env={"PYTHONIOENCODING": "utf-8:strict"})
    assert rc in (0, 1) and "UnicodeEncodeError" not in err and "Traceback" not in err, (rc, out, err)
    assert "never read" in out and "caf" in out, out


def test_strict_stdout_plan_label(tmp_path):
    root = tree(tmp_path, {"pxelinux.cfg/default": HEAD, "k": "k"})
    full = dict(os.environ, PYTHONPATH=ROOT, PYTHONIOENCODING="utf-8:strict")
    for args in ([b"--label", b"a\xff"], [b"--label", b"a\xff", b"--json"], [b"--label", b"k\xff x=\xfe"]):
        proc = subprocess.run([sys.executable.encode(), b"-m", b"workstation", b"plan", b"--root",
                               os.fsencode(root), b"--mac", MAC.encode()] + args, cwd=ROOT, env=full,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, preexec_fn=_limits)
        err = proc.stderr.decode("utf-8", "replace")
        assert proc.returncode in (0, 2) and "UnicodeEncodeError" not in err and "Traceback" not in err, \
            (args, proc.returncode, proc.stdout, err)


def test_strict_stdout_config_of_latin1(tmp_path):
    root = tree(tmp_path, {"pxelinux.cfg/default": b"DEFAULT a\nLABEL a\n KERNEL k\xe9\n APPEND x=\xff\n"})
    for cmd in (["plan", "--root", root, "--mac", MAC], ["plan", "--root", root, "--mac", MAC, "--json"],
                ["lint", root]):
        rc, out, err = run_cmd(cmd, env={"PYTHONIOENCODING": "ascii:strict"})
        assert rc in (0, 1, 2) and "Traceback" not in err and "UnicodeEncodeError" not in err, (cmd, rc, out, err)
