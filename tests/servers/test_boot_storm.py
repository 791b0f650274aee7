"""A small boot storm (bench/boot_storm.py): every transport, the nginx
restart and the caching proxy, with few guests and small files, so the
suite runs the bench's whole path and the goals that hold at any size: no
guest fails, one TCP connection and one full TLS handshake per guest, the
origin behind the proxy sends each file once."""

import json
import os
import subprocess
import sys

import pytest

from tests.support import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.servers, pytest.mark.parts]


@pytest.fixture(scope="module")
def storm(tmp_path_factory):
    d = tmp_path_factory.mktemp("storm")
    argv = [sys.executable, os.path.join(ROOT, "bench", "boot_storm.py"), "--agents", "6", "--tftp-agents", "4",
            "--kernel-mib", "1", "--initrd-mib", "40", "--tftp-initrd-mib", "2", "--restart-grace", "0",
            "--timeout", "120", "--json", str(d / "storm.json"), "--plot", str(d / "storm.png")]
    for t in ("http", "https", "tftp", "tftp-dnsmasq", "http-restart", "http-proxy"):
        argv += ["--transport", t]
    p = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=900)
    with open(str(d / "storm.json")) as f:
        rows = dict((r["transport"], r) for r in json.load(f))
    return p, rows, d


def test_every_guest_boots_over_every_transport(storm):
    p, rows, _ = storm
    assert p.returncode == 0, p.stdout + p.stderr
    assert sorted(rows) == sorted(["http", "https", "tftp", "tftp-dnsmasq", "http-restart", "http-proxy"])
    for name, r in rows.items():
        assert r["failed"] == 0, (name, r["failures"])
        assert len(r["times"]) == r["agents"], name
    for name in ("http", "https", "tftp", "tftp-dnsmasq"):
        assert rows[name]["curl_failed"] == 0 and len(rows[name]["curl_times"]) == rows[name]["agents"], name
    lines = [line for line in p.stdout.splitlines() if line.startswith("storm ")]
    assert "storm http: 6 agents, 0 failed, " in lines[0] and lines[0].endswith(" x curl"), lines


def test_one_connection_and_one_full_handshake_per_guest(storm):
    _, rows, _ = storm
    for name in ("http", "https", "http-proxy"):
        assert rows[name]["conns_max"] == 1, name
        assert rows[name]["accepts_per_agent"] == 1.0, name   # nginx's own count: no connection without a request
    assert rows["https"]["full_tls_max"] == 1


def test_the_origin_behind_the_proxy_sends_each_file_once(storm):
    _, rows, _ = storm
    assert rows["http-proxy"]["origin"] == {"/kernel": 1, "/initrd": 1, "/pxelinux.cfg/default": 1}


def test_a_restart_in_the_middle_costs_no_guest(storm):
    p, rows, _ = storm
    r = rows["http-restart"]
    assert "restart_s" in r, p.stdout    # nginx was restarted while guests were fetching
    assert r["failed"] == 0
    assert "nginx restarted (QUIT, TERM after 0 s)" in p.stdout
    # TERM at once cut transfers; they went on from where they were cut (Range), and
    # the bytes sent twice (what was in flight) stay a small part of the storm's.
    assert r["ranges"] >= 1, p.stdout
    assert r["refetched"] < 0.05, p.stdout


def test_the_plot_is_a_png(storm):
    _, _, d = storm
    with open(str(d / "storm.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
