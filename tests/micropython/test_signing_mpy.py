"""Signed boot's refusal table (tests/support/signca.py) on the image's own
check: packager/cmod/sigcheck on mbedtls, in the x86_64 interpreter and in
the frozen s390x agent under qemu-s390x-static."""

import os

import pytest

from packager import debian, micropython
from tests.support import signca
from tests.support.signca import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.parts]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return signca.make_pki(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture(scope="module")
def tree(pki, tmp_path_factory):
    return signca.build_tree(pki, str(tmp_path_factory.mktemp("tree")))


def test_cases_on_micropython_mbedtls(pki, tree, tmp_path):
    path, _ = micropython.build(os.path.join(ROOT, "agent"), debian.cache_root(), "x86_64", "zig")
    signca.check_lines(signca.mpy_lines([path], tree, pki, tmp_path))


def test_cases_on_frozen_s390x_agent(pki, tree, tmp_path):
    path, _ = micropython.build(os.path.join(ROOT, "agent"), debian.cache_root(), "s390x", "zig")
    signca.check_lines(signca.mpy_lines(["qemu-s390x-static", path], tree, pki, tmp_path))
