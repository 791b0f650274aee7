"""plan, test and lint --server decide the same for the same machine and
server (issue #22): all three set the machine up through
agent.plan.environment. `test --server` used to leave option 54's address
out, so IPAPPEND 1 gave ip=...:0.0.0.0:... there and ip=...:127.0.0.1:...
in plan."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAC = "52:54:00:12:34:56"
IP = "192.0.2.10"
CONFIG = ("DEFAULT inst\nLABEL inst\n KERNEL images/linux\n INITRD images/initrd.gz\n"
          " APPEND console=ttysclp0\n IPAPPEND 3\n")


def s390_netboot(*args):
    p = subprocess.run([sys.executable, "-m", "workstation"] + list(args), cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def server(tmp_path):
    """A tftpy server on 127.0.0.1 serving a tree with a per-MAC config; HOST:PORT."""
    root = tmp_path / "tftp"
    (root / "pxelinux.cfg").mkdir(parents=True)
    (root / "pxelinux.cfg" / ("01-" + MAC.replace(":", "-"))).write_text(CONFIG)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    code = ("import logging, tftpy; logging.disable(logging.CRITICAL); "
            "tftpy.TftpServer(%r).listen('127.0.0.1', %d)" % (str(root), port))
    p = subprocess.Popen([sys.executable, "-c", code])
    time.sleep(0.5)
    yield "127.0.0.1:%d" % port
    p.terminate()
    p.wait()


def test_plan_test_and_lint_agree(server, tmp_path):
    rc, out, err = s390_netboot("plan", "--server", server, "--mac", MAC, "--ip", IP, "--json")
    assert rc == 0, err
    plan = json.loads(out)
    want = "BOOT_IMAGE=images/linux console=ttysclp0 initrd=images/initrd.gz " \
           "ip=%s:127.0.0.1:0.0.0.0:0.0.0.0 BOOTIF=01-%s" % (IP, MAC.replace(":", "-"))
    assert plan["cmdline"] == want, plan
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps({"case": [{"name": "per-MAC", "mac": MAC, "ip": IP,
                                           "expect": {"config": plan["config"], "label": plan["label"],
                                                      "kernel": plan["kernel"], "initrd": plan["initrd"],
                                                      "cmdline": plan["cmdline"]}}]}))
    rc, out, err = s390_netboot("test", "--server", server, str(cases), "--json")
    assert rc == 0, (out, err)
    result = json.loads(out)
    assert result["passed"] == 1 and result["failed"] == 0, out
    rc, out, err = s390_netboot("lint", "--server", server, "--mac", MAC, "--ip", IP, "--configs-only",
                                "--json")
    assert rc == 0, (out, err)
    linted = json.loads(out)
    assert linted["configs"][0] == plan["config"] and linted["errors"] == 0, linted
