"""`s390-netboot plan` and `lint` over the trees provisioning systems write
(tests/testdata/provisioning): the command gives the decision the table in
cases.json holds (tests/agent/test_provisioning_trees.py checks the
library), with its exit code, and lint passes each tree once issue 27 is done.

As in the agent test, a case must give "want", or exactly "today" where one
is recorded (a known-wrong answer)."""

import io
import json
import os
from contextlib import redirect_stderr, redirect_stdout

import pytest

from workstation import cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOP = os.path.join(ROOT, "tests", "testdata", "provisioning")
with open(os.path.join(TOP, "cases.json")) as _f:
    DATA = json.load(_f)

ENV_FLAGS = {"mac": "--mac", "ip": "--ip", "server_ip": "--server-ip", "opt209": "--opt209", "opt210": "--opt210"}

# lint's error count per tree: none (LOCALBOOT, chain.c32 and an empty config
# boot the installed system).
LINT_ERRORS = {}


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = cli.run(argv)
    return rc, out.getvalue(), err.getvalue()


def flags(case):
    env = dict(DATA["env"])
    env.update(case.get("env", {}))
    argv = []
    for key in sorted(ENV_FLAGS):
        if key in env:
            argv += [ENV_FLAGS[key], env[key]]
    return argv


def matches(got, want):
    return all(key in got and got[key] == want[key] for key in want)


@pytest.mark.parametrize("case", DATA["cases"], ids=lambda c: "%s-%s" % (c["root"], c.get("typed") or "unattended"))
def test_plan_command(case):
    argv = ["plan", "--root", os.path.join(TOP, case["root"]), "--json"] + flags(case)
    if case.get("typed"):
        argv += ["--label", case["typed"]]
    rc, out, err = run(argv)
    if rc == 0:
        got = json.loads(out)
    else:
        assert rc == 2 and len(err.strip().splitlines()) == 1, (rc, err)
        line = err.strip()
        got = {"error": line[len("plan: "):] if line.startswith("plan: ") else line}
    call = "s390-netboot %s" % " ".join(argv[1:])
    if matches(got, case["want"]):
        assert "today" not in case, "%s: issue 27 fixed this case: delete its \"today\"" % call
        return
    assert "today" in case, "%s = %r, want %r" % (call, got, case["want"])
    assert matches(got, case["today"]), "%s = %r, want %r or today's %r" % (call, got, case["want"], case["today"])


@pytest.mark.parametrize("tree", sorted(set(c["root"] for c in DATA["cases"])))
def test_lint(tree):
    case = [c for c in DATA["cases"] if c["root"] == tree][0]
    argv = ["lint", "--configs-only", "--json", os.path.join(TOP, tree)]
    env = dict(case.get("env", {}))
    for key in ("opt209", "opt210"):
        if key in env:
            argv += [ENV_FLAGS[key], env[key]]
    rc, out, err = run(argv)
    report = json.loads(out)
    want = LINT_ERRORS.get(tree, 0)
    assert report["errors"] == want, "lint %s: %d errors, want %d: %r" % (
        tree, report["errors"], want, [f["message"] for f in report["findings"] if f["severity"] == "error"])
    assert rc == (1 if want else 0), (rc, err)
