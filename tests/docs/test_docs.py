"""docs/ is checked against the code: every directive and option the code
knows appears in the reference, and the commands and configurations the docs
show are run (shell blocks), or checked by the real daemons (dnsmasq --test,
dhcpd -t, kea-dhcp4 -t) and an XML parser (libvirt)."""

import os
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from agent import boot, pxeconfig
from packager import cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(ROOT, "docs")
BLOCK = re.compile(r"```(\w+) doctest=(\w+)\n(.*?)```", re.S)
# Where s390-netboot is installed (the venv running the tests): the docs call it by name.
VENV_BIN = os.path.dirname(sys.executable)


def read(name):
    with open(os.path.join(DOCS, name)) as f:
        return f.read()


def blocks(kind):
    out = []
    for name in sorted(os.listdir(DOCS)):
        if name.endswith(".md"):
            text = read(name)
            for m in BLOCK.finditer(text):
                if m.group(2) == kind:
                    out.append(("%s:%d" % (name, text[:m.start()].count("\n") + 1), m.group(3), text[m.end():]))
    return out


def test_every_directive_is_in_the_reference():
    ref = read("reference.md")
    for d in pxeconfig.DIRECTIVES:
        assert "`%s" % d in ref, "%s is not described in docs/reference.md" % d


def test_every_packager_option_is_in_the_reference():
    ref = read("reference.md")
    parser_text = open(os.path.join(ROOT, "packager", "cli.py")).read()
    options = set(re.findall(r'add_argument\((?:"-\w", )?"(--[\w-]+)"', parser_text))
    assert {"--agent", "--compress", "--sysroot", "--mirror", "--json", "--parmfile"} <= options
    for opt in sorted(options - {"--debug", "--verbose"}):
        assert opt in ref, "%s is not in docs/reference.md" % opt


def test_every_agent_option_is_in_the_reference():
    ref = read("reference.md")
    opts = re.findall(r"^  (pxe\.\w+)", boot.__doc__, re.M)
    assert len(opts) >= 9
    for opt in opts:
        assert "`%s" % opt in ref, "%s is not in docs/reference.md" % opt


def test_every_console_error_is_in_troubleshooting():
    text = read("troubleshooting.md")
    for needle in ("no DHCP lease on any interface", "no Ethernet interface found", "names no boot server",
                   "no config found", "config search failed", "not found on TFTP server",
                   "space left for it", "no answer from", "kexec refused the kernel",
                   "runs only on x86 PCs", "LOCALBOOT", "local boot, ", "no boot entries",
                   "port unreachable", "cannot connect to any of its"):
        assert needle in text, needle


@pytest.mark.parametrize("where,code,after", blocks("shell"), ids=lambda x: x if isinstance(x, str) and ":" in x
                         and x.endswith(tuple("0123456789")) else "")
def test_shell_blocks_run(where, code, after, tmp_path):
    for name in ("pxelinux.0", "linux", "initrd.gz"):
        (tmp_path / name).write_bytes(b"x")
    env = dict(os.environ, TFTPROOT=str(tmp_path / "tftp"), PXELINUX=str(tmp_path / "pxelinux.0"),
               KERNEL=str(tmp_path / "linux"), INITRD=str(tmp_path / "initrd.gz"),
               PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
               # the checkout's own agent/ and workstation/ (not the venv's install of another tree)
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=ROOT, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    assert p.returncode == 0, "%s: %s" % (where, p.stderr)
    shown = re.match(r"\s*\n?prints\s*\n\s*```\n(.*?)```", after, re.S)
    if shown:
        assert p.stdout == shown.group(1), "%s prints\n%s\nbut the docs show\n%s" % (where, p.stdout, shown.group(1))


def test_quickstart_plan_boots_the_menu_default(tmp_path):
    where, code, _ = [b for b in blocks("shell") if b[0].startswith("quickstart")][0]
    for name in ("pxelinux.0", "linux", "initrd.gz"):
        (tmp_path / name).write_bytes(b"x")
    env = dict(os.environ, TFTPROOT=str(tmp_path / "tftp"), PXELINUX=str(tmp_path / "pxelinux.0"),
               KERNEL=str(tmp_path / "linux"), INITRD=str(tmp_path / "initrd.gz"))
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=ROOT, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "boots:         install (MENU DEFAULT)" in p.stdout
    assert "BOOTIF=01-52-54-00-12-34-56" in p.stdout


@pytest.mark.parametrize("where,code,after", blocks("dnsmasq"))
def test_dnsmasq_configs_are_valid(where, code, after, tmp_path):
    conf = tmp_path / "dnsmasq.conf"
    conf.write_text(code)
    p = subprocess.run(["dnsmasq", "--test", "--conf-file=%s" % conf], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    assert p.returncode == 0 and "syntax check OK" in p.stdout, "%s: %s" % (where, p.stdout)


@pytest.mark.parametrize("where,code,after", blocks("isc"))
def test_isc_dhcpd_configs_are_valid(where, code, after, tmp_path):
    conf = tmp_path / "dhcpd.conf"
    conf.write_text(code)
    p = subprocess.run(["dhcpd", "-t", "-cf", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    assert p.returncode == 0, "%s: %s" % (where, p.stdout)


@pytest.mark.parametrize("where,code,after", blocks("kea"))
def test_kea_configs_are_valid(where, code, after, tmp_path):
    conf = tmp_path / "kea.json"
    conf.write_text(code.replace('"br0"', '"lo"'))
    p = subprocess.run(["kea-dhcp4", "-t", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    assert p.returncode == 0, "%s: %s" % (where, p.stdout[-2000:])


@pytest.mark.parametrize("where,code,after", blocks("kea6"))
def test_kea_dhcp6_configs_are_valid(where, code, after, tmp_path):
    conf = tmp_path / "kea6.json"
    conf.write_text(code.replace('"br0"', '"lo"'))
    p = subprocess.run(["kea-dhcp6", "-t", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    assert p.returncode == 0, "%s: %s" % (where, p.stdout[-2000:])


def test_ipv6_docs_are_checked():
    assert [b for b in blocks("kea6")] and [b for b in blocks("dnsmasq") if "bootfile-url" in b[1]]


@pytest.mark.parametrize("where,code,after", blocks("xml"))
def test_libvirt_xml_is_well_formed(where, code, after):
    root = ET.fromstring(code)
    assert root.tag in ("network", "domain")
    if root.tag == "network":
        assert root.find("ip/tftp").get("root") and root.find("ip/dhcp/bootp").get("file") == "pxelinux.0"
    else:
        assert root.find("os/type").get("arch") == "s390x"
        assert root.find("devices/interface/model").get("type") == "virtio"


def test_readme_starts_with_the_two_commands():
    with open(os.path.join(ROOT, "README.md")) as f:
        head = f.read().split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    assert head[0].startswith("tools/build-pxelinux") and head[1].startswith("tools/check")
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        assert "exec tools/check" in f.read()


def develop_block():
    """The README's "Develop" commands: [(command, its comment)], a line holding only
    a comment continuing the command above it."""
    with open(os.path.join(ROOT, "README.md")) as f:
        block = f.read().split("\n## Develop\n", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    out = []
    for line in block.splitlines():
        command, _, comment = line.partition("#")
        if command.strip():
            out.append([command.strip(), comment.strip()])
        else:
            out[-1][1] += " " + comment.strip()
    return out


def test_develop_commands_are_real():
    """Each pytest command of the README's Develop section selects tests (collected, not
    run: they are the suite itself), each says about how long it takes, and the last is
    tools/check, the command CI runs."""
    commands = develop_block()
    assert [c for c, _ in commands][-1] == "tools/check", commands
    assert any(c.endswith(" tests/agent") for c, _ in commands) and any('-m "not slow"' in c for c, _ in commands)
    for command, comment in commands:
        assert re.search(r"about \d+ (s|min)\b", comment), "README Develop: %r says no time: %r" % (command, comment)
        argv = shlex.split(command)
        if argv[0] == "tools/check":
            assert os.access(os.path.join(ROOT, argv[0]), os.X_OK)
            continue
        assert argv[:3] == [".venv/bin/python", "-m", "pytest"], command
        p = subprocess.run([sys.executable, "-m", "pytest"] + argv[3:] + ["--collect-only", "-q", "-p", "no:cacheprovider"],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        m = re.search(r"^(\d+)(/\d+)? tests? collected", p.stdout, re.M)
        assert p.returncode == 0 and m and int(m.group(1)) > 0, "README Develop: %r: %s%s" % (
            command, p.stdout[-1500:], p.stderr[-1500:])


def test_tests_readme_names_every_folder():
    """tests/README.md's map: every folder of tests/ has a row saying what it needs."""
    tests = os.path.join(ROOT, "tests")
    with open(os.path.join(tests, "README.md")) as f:
        rows = [line for line in f.read().splitlines() if line.startswith("| `")]
    named = [row.split("`")[1] for row in rows]
    folders = sorted(d + "/" for d in os.listdir(tests)
                     if os.path.isdir(os.path.join(tests, d)) and not d.startswith(("_", ".")))
    assert sorted(set(named) & set(folders)) == folders, "tests/README.md does not name %s" % (
        sorted(set(folders) - set(named)))


def test_packager_help_mentions_every_subcommand():
    with pytest.raises(SystemExit):
        cli.parse_args(["--help"])


def test_every_s390_netboot_option_is_in_the_reference():
    from workstation import cases as wcases
    ref = read("reference.md")
    text = open(os.path.join(ROOT, "workstation", "cli.py")).read()
    options = set(re.findall(r'add_argument\((?:"-\w", )?"(--[\w-]+)"', text))
    assert {"--server", "--json", "--strict", "--junit"} <= options
    for opt in sorted(options - {"--debug"}):
        assert "`%s" % opt in ref, "s390-netboot %s is not in docs/reference.md" % opt
    for verb in ("plan", "fetch", "lint", "test"):
        assert "`s390-netboot %s" % verb in ref, "s390-netboot %s is not in docs/reference.md" % verb
    for key in wcases.INPUT_KEYS:
        assert "`%s`" % key in ref, "CASES key %s is not in docs/reference.md" % key
    for key in wcases.EXPECT_KEYS:
        assert "`expect.%s`" % key in ref, "CASES key expect.%s is not in docs/reference.md" % key


FILE_BLOCK = re.compile(r"```\w+ file=(\S+)\n(.*?)```", re.S)


def test_files_shown_are_the_files():
    """A block opened with ```LANG file=PATH shows PATH as it is in the source."""
    shown = 0
    for name in sorted(os.listdir(DOCS)):
        if name.endswith(".md"):
            for m in FILE_BLOCK.finditer(read(name)):
                with open(os.path.join(ROOT, m.group(1))) as f:
                    assert m.group(2) == f.read(), "docs/%s shows %s, which differs" % (name, m.group(1))
                shown += 1
    assert shown >= 5


@pytest.mark.parametrize("where,code,after", blocks("ci"))
def test_ci_jobs_run(where, code, after, tmp_path):
    """The s390-netboot lines of a CI job, run in a copy of plan.md's example repository."""
    import shutil
    repo = tmp_path / "netboot"
    shutil.copytree(os.path.join(ROOT, "tests", "testdata", "lint", "good"), repo / "tftp")
    shutil.copy(os.path.join(ROOT, "tests", "testdata", "lint", "good.toml"), repo / "cases.toml")
    lines = [re.sub(r"^\s*(- run:|-)\s*", "", line) for line in code.splitlines()]
    commands = [line for line in lines if line.startswith("s390-netboot ")]
    assert len(commands) == 2, "%s: %r" % (where, commands)
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    for command in commands:
        p = subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=str(repo), env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        assert p.returncode == 0, "%s: %s: %s%s" % (where, command, p.stdout, p.stderr)
    report = ET.parse(str(repo / "report.xml")).getroot()
    assert report.get("tests") == "4" and report.get("failures") == "0"
