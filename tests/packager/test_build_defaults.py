"""The pxe.* words `packager build` writes into the image's defaults file
(etc/s390-netboot/defaults), and what the agent makes of them with a kernel
command line: without building an image (test_packager_build.py and
test_build_sign_ca.py check the file inside built images)."""

import os
import subprocess
import sys

import pytest

from agent import boot
from packager import build
from packager.errors import Die

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("kw,want", [
    ({}, ""),
    ({"spread": 0}, ""),
    ({"spread": 30}, "pxe.spread=30\n"),
    ({"https_only": True, "hosts": ["boot.example"]}, "pxe.https-only\npxe.https-host=boot.example\n"),
    ({"https_only": True, "signed": True, "spread": 5}, "pxe.https-only\npxe.verify=required\npxe.spread=5\n"),
])
def test_defaults_text(kw, want):
    got = build.defaults_text(**kw)
    assert got == want, "defaults_text(%r) = %r, want %r" % (kw, got, want)


@pytest.mark.parametrize("cmdline,want", [
    ("", 30),                       # the image's default
    ("pxe.spread=0", 0),            # the command line turns it off
    ("pxe.spread=5 console=ttysclp0", 5),
    ("pxe.spread=x", 0),            # a bad value: the agent's own default, with a line saying so
])
def test_built_in_spread_and_the_command_line(cmdline, want):
    opts = boot.load_options(build.defaults_text(spread=30), cmdline)
    got = boot.int_option(opts, "spread", 0, 0, boot.MAX_SPREAD_S)
    assert got == want, "spread with the image's 30 and %r = %r, want %r" % (cmdline, got, want)


def test_spread_limit_is_the_agents():
    assert build.MAX_SPREAD_S == boot.MAX_SPREAD_S


@pytest.mark.parametrize("value,want", [(None, 0), ("0", 0), ("10", 10), (" 3600", 3600)])
def test_spread_seconds(value, want):
    assert build.spread_seconds(value) == want, value


@pytest.mark.parametrize("value", ["-1", "3601", "1.5", "ten", "", "５", "99999999"])
def test_spread_seconds_refused(value):
    with pytest.raises(Die) as e:
        build.spread_seconds(value)
    assert str(e.value) == "--spread %r: want a whole number of seconds from 0 to 3600" % value


def test_bad_spread_is_one_line_before_anything_is_built(tmp_path):
    out = str(tmp_path / "pxelinux.0")
    p = subprocess.run([sys.executable, "-m", "packager", "build", "--agent", os.path.join(ROOT, "agent"),
                        "-o", out, "--spread", "5s"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    assert p.returncode == 2, p.stderr
    assert p.stderr.splitlines() == ["packager: error: --spread '5s': want a whole number of seconds from 0 to 3600"], \
        p.stderr
    assert os.listdir(str(tmp_path)) == []
