"""bench/boot_compare.py runs: one round of the shell image and the firmware
path (about a minute; the agent's own path is what the netboot tests boot).
A smoke test of the benchmark, not a timed test: no number is checked."""

import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.qemu, pytest.mark.parts]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_boot_compare_smoke(s390x):
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "boot_compare.py"), "--reps", "1",
                           "--only", "shell1468,firmware"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| shell") or line.startswith("| QEMU")]
    assert len(rows) == 2, proc.stdout
    assert "lease -> kexec -e, shell1468:" in proc.stdout, proc.stdout
