"""The Containerfile: `podman build` gives the same pxelinux.0 as the host build.

The base is a stand-in for Debian 12's official image, imported from a
debootstrapped root by tools/container-base (no registry is reachable here).
The image is built with build options passed through build args, taken out
with `podman create` + `podman cp` (this sandbox refuses `podman run`: crun's
setrlimit), and compared byte for byte with `packager build` run on the host
with the same options, from the same commit, against the same Debian archive
(the host build from its usual cache, again from a fresh one when the
archive has moved on since that cache was filled).

The podman flags --isolation=chroot and --cgroup-manager=cgroupfs are what
this kind of machine needs; an administrator's host needs neither.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TAG = "localhost/s390-netboot-test:%d" % os.getpid()
EPOCH = "1700000000"
# Options with a space in a value, a file from the checkout, and the HTTPS switches.
OPTIONS = ["--cmdline", "quiet loglevel=3", "--https-host", "boot.example.org",
           "--ca-certs", "tests/testdata/tls/ca.pem"]
BUILD_OPTIONS = "--cmdline 'quiet loglevel=3' --https-host boot.example.org --ca-certs tests/testdata/tls/ca.pem"

pytestmark = [pytest.mark.slow, pytest.mark.system, pytest.mark.parts, pytest.mark.timeout(5400)]


def podman(*args, timeout=600, check=True):
    p = subprocess.run(["podman", "--cgroup-manager=cgroupfs"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if check:
        assert p.returncode == 0, "podman %s failed (%d):\n%s" % (" ".join(args), p.returncode, p.stdout[-4000:])
    return p


def readme_block(needle):
    """The one sh block of the README holding needle."""
    with open(os.path.join(ROOT, "README.md")) as f:
        blocks = re.findall(r"```sh\n(.*?)```", f.read(), re.S)
    found = [b for b in blocks if needle in b]
    assert len(found) == 1, "README has %d sh blocks with %r" % (len(found), needle)
    return found[0]


def podman_conf(tmp_path):
    """containers.conf with cgroupfs, which this sandbox needs, for commands run as the README has them."""
    path = tmp_path / "containers.conf"
    path.write_text('[engine]\ncgroup_manager = "cgroupfs"\n')
    return str(path)


@pytest.fixture(scope="module")
def base():
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (tools/install-deps installs it)")
    if os.getuid() != 0:
        pytest.skip("tools/container-base debootstraps the base image: run as root")
    p = subprocess.run([os.path.join(ROOT, "tools", "container-base")], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=1800)
    assert p.returncode == 0, p.stdout[-3000:]


def host_build(tmp_path, cache=None):
    """packager build on this host, as tools/build-pxelinux ends; (manifest, image bytes, seconds)."""
    out = tmp_path / ("host-fresh" if cache else "host")
    os.makedirs(str(out))
    t0 = time.time()
    h = subprocess.run([sys.executable, "-m", "packager", "build", "--agent", "agent/", "-o", str(out / "pxelinux.0")]
                       + (["--cache", cache] if cache else []) + OPTIONS, cwd=ROOT,
                       env=dict(os.environ, SOURCE_DATE_EPOCH=EPOCH), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=3600)
    assert h.returncode == 0, h.stdout[-3000:]
    with open(str(out / "pxelinux.0.manifest.json")) as f:
        return json.load(f), (out / "pxelinux.0").read_bytes(), time.time() - t0


def test_container_build_is_the_host_build(base, tmp_path):
    hm, host_image, host_s = host_build(tmp_path)

    t0 = time.time()
    # --ulimit: chroot isolation gives RUN 1024 descriptors, too few for zig's parallel
    # build of musl (ProcessFdQuotaExceeded); this sandbox allows no more than its own.
    nofile = subprocess.run(["sh", "-c", "ulimit -Hn"], stdout=subprocess.PIPE, text=True).stdout.strip()
    p = podman("build", "--pull=never", "--isolation=chroot", "--layers=false", "--ulimit",
               "nofile=%s:%s" % (nofile, nofile), "-t", TAG, "-f", os.path.join(ROOT, "Containerfile"),
               "--build-arg", "BUILD_OPTIONS=" + BUILD_OPTIONS, "--build-arg", "SOURCE_DATE_EPOCH=" + EPOCH,
               ROOT, timeout=5000, check=False)
    container_s = time.time() - t0
    try:
        assert p.returncode == 0, "podman build failed (%d):\n%s" % (p.returncode, p.stdout[-5000:])
        # The README's commands that take the files out without running the image.
        out = tmp_path / "container"
        os.makedirs(str(out))
        script = readme_block("podman create").replace(" s390-netboot)", " %s)" % TAG)
        assert TAG in script, script
        q = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=str(out), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=300,
                           env=dict(os.environ, CONTAINERS_CONF=podman_conf(tmp_path)))
        assert q.returncode == 0, "the README's podman create/cp lines failed:\n%s\n%s" % (script, q.stdout)
        assert sorted(os.listdir(str(out))) == ["pxelinux.0", "pxelinux.0.manifest.json"], os.listdir(str(out))
    finally:
        podman("rmi", "-f", TAG, check=False)
    with open(str(out / "pxelinux.0.manifest.json")) as f:
        cm = json.load(f)
    container_image = (out / "pxelinux.0").read_bytes()

    if cm["parts"] != hm["parts"]:
        # The archive moved on since the host's cache last fetched: build again from it as it is now.
        hm, host_image, host_s = host_build(tmp_path, str(tmp_path / "cache"))
    print("container build %.0f s (base ready), host build %.0f s" % (container_s, host_s))

    assert cm["built_in"].startswith("container"), cm["built_in"]
    assert hm["built_in"] == "host", hm["built_in"]
    assert cm["cmdline"].endswith("quiet loglevel=3") and cm["https_hosts"] == ["boot.example.org"] \
        and cm["ca_certs"]["count"] == 1 and cm["source_date_epoch"] == int(EPOCH), cm
    diff = sorted(k for k in set(cm) | set(hm) if cm.get(k) != hm.get(k))
    assert diff == ["built_in"], "the manifests differ in %s: container %r, host %r" % (
        diff, dict((k, cm.get(k)) for k in diff), dict((k, hm.get(k)) for k in diff))
    assert container_image == host_image, \
        "pxelinux.0 from the container (%d bytes) differs from the host build (%d bytes)" % (
            len(container_image), len(host_image))
