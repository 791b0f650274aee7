"""The MicroPython runner (tests/support/mpy_runner.py) calls exactly what pytest
collects in tests/agent: plain test functions, none that it would miss (a class,
a parametrized test) or could not call (one taking a fixture). Both run under
CPython here, in seconds; test_micropython.py runs the runner under MicroPython."""

import os
import subprocess
import sys

from tests.support import ROOT


def test_the_runner_runs_what_pytest_collects():
    p = subprocess.run([sys.executable, "-m", "pytest", "tests/agent", "--collect-only", "-q", "-p", "no:cacheprovider"],
                       cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    collected = set(os.path.basename(line).replace(".py::", ".") for line in p.stdout.splitlines() if "::" in line)
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "support", "mpy_runner.py"), ROOT],
                       cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.endswith(" 0 failed\n"), r.stdout[-3000:]
    ran = set(line[len("ran "):] for line in r.stdout.splitlines() if line.startswith("ran "))
    assert len(collected) > 100, sorted(collected)
    assert ran == collected, "pytest collects but the runner does not call: %s; the runner calls but pytest " \
        "does not collect: %s" % (sorted(collected - ran), sorted(ran - collected))
