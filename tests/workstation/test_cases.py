"""`s390-netboot test TREE CASES`: the cases of tests/testdata/lint against good/,
failures reported with what was expected and found, JUnit XML, bad CASES
files, and the golden plans of tests/testdata/pxelinux/cases.json run as cases."""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from workstation import cases

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "testdata", "lint")
GOOD = os.path.join(DATA, "good")
PXELINUX = os.path.join(ROOT, "tests", "testdata", "pxelinux")


def run_cli(*args):
    p = subprocess.run([sys.executable, "-m", "workstation", "test"] + list(args), cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stdout, p.stderr


def test_good_cases_pass():
    rc, out, err = run_cli("tests/testdata/lint/good", "tests/testdata/lint/good.toml")
    assert rc == 0 and out.endswith("test: 4 cases: 4 passed, 0 failed\n"), (rc, out, err)


FAILURES = {
    "passes": [],
    "wrong label and kernel": [
        "plan(mac='52:54:00:12:34:56').label = 'rescue', want 'install'",
        "plan(mac='52:54:00:12:34:56').kernel = 'rescue/linux', want 'debian12/linux'"],
    "a fragment missing, one present": [
        "plan(label='rescue').cmdline = 'BOOT_IMAGE=rescue/linux console=ttysclp0 rescue/enable=true "
        "initrd=rescue/initrd.gz', want it to contain 'quiet'",
        "plan(label='rescue').cmdline = 'BOOT_IMAGE=rescue/linux console=ttysclp0 rescue/enable=true "
        "initrd=rescue/initrd.gz', want it without 'console=ttysclp0'"],
    "an error expected, a plan made": [
        "plan() boots install (debian12/linux), want an error with 'no config found'"],
    "a plan expected, an error made": [
        "plan(config='pxelinux.cfg/gone') failed: config pxelinux.cfg/gone not found, want a plan"],
}


def test_failures_say_expected_and_found(tmp_path):
    junit = tmp_path / "report.xml"
    rc, out, err = run_cli(GOOD, os.path.join(DATA, "failing.toml"), "--junit", str(junit))
    assert rc == 1, (rc, err)
    for name, lines in FAILURES.items():
        r = cases.run_case(GOOD, [c for c in cases.load(os.path.join(DATA, "failing.toml")) if c.name == name][0])
        assert r.failures == lines, "test(%r).failures = %r, want %r" % (name, r.failures, lines)
        head = ("FAIL  " if lines else "ok    ") + name
        assert "\n".join([head] + ["      " + x for x in lines]) in out
    assert out.endswith("test: 5 cases: 1 passed, 4 failed\n")
    # JUnit XML as CI systems read it: one testcase per case, a failure element for each failing one.
    top = ET.parse(str(junit)).getroot()
    suite = top.find("testsuite")
    assert (top.tag, top.get("tests"), top.get("failures")) == ("testsuites", "5", "4")
    assert (suite.get("name"), suite.get("tests"), suite.get("failures"), suite.get("errors")) == \
        ("failing", "5", "4", "0")
    got = dict((tc.get("name"), tc.find("failure")) for tc in suite.findall("testcase"))
    assert sorted(got) == sorted(FAILURES)
    for name, lines in FAILURES.items():
        if lines:
            assert got[name].get("message") == lines[0] and got[name].text.startswith("\n".join(lines))
        else:
            assert got[name] is None


def test_quiet_select_and_json():
    rc, out, err = run_cli(GOOD, os.path.join(DATA, "failing.toml"), "-q", "-k", "passes")
    assert (rc, out) == (0, "test: 1 case: 1 passed, 0 failed\n")
    rc, out, err = run_cli(GOOD, os.path.join(DATA, "good.toml"), "--json")
    d = json.loads(out)
    assert (rc, d["passed"], d["failed"]) == (0, 4, 0)
    assert d["cases"][1]["plan"]["label"] == "rescue"


def test_json_cases_file(tmp_path):
    """The same table in JSON gives the same results."""
    import tomllib
    with open(os.path.join(DATA, "good.toml"), "rb") as f:
        doc = tomllib.load(f)
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(doc))
    rc, out, err = run_cli(GOOD, str(path))
    assert rc == 0 and out.endswith("4 passed, 0 failed\n"), (out, err)


def test_cases_make_the_plan_plan_makes():
    """Each case's plan is `python -m agent plan --root TREE ... --json`'s, byte for byte."""
    for case in cases.load(os.path.join(DATA, "good.toml")):
        args = []
        for k, v in case.inputs.items():
            args += ["--" + k, v]
        p = subprocess.run([sys.executable, "-m", "agent", "plan", "--root", GOOD, "--json"] + args, cwd=ROOT,
                           stdout=subprocess.PIPE, text=True, check=True)
        got = cases.run_case(GOOD, case).plan
        assert got == json.loads(p.stdout), "test(%r).plan = %r, want plan's %s" % (case.name, got, p.stdout)


def test_golden_plans_of_the_distribution_shaped_trees(tmp_path):
    """tests/testdata/pxelinux/cases.json (the golden plans of test_testdata.py),
    written as one CASES file per tree: every case passes."""
    with open(os.path.join(PXELINUX, "cases.json")) as f:
        golden = json.load(f)
    ident = dict((k.replace("_", "-"), v) for k, v in golden["env"].items() if k != "server")
    by_root = {}
    for i, c in enumerate(golden["cases"]):
        case = {"name": "%s %d %s" % (c["root"], i, c["label"])}
        if c["label"] is not None:
            case["label"] = c["label"]
        if "error" in c:
            case["expect"] = {"error": c["error"]}
        else:
            p = c["plan"]
            if p.get("localboot") is not None:
                case["expect"] = {"config": p["config"], "label": p["label"] or "", "localboot": p["localboot"]}
            else:
                case["expect"] = {"config": p["config"], "label": p["label"] or "", "kernel": p["kernel"],
                                  "initrd": p["initrd"], "cmdline": p["cmdline"]}
        by_root.setdefault(c["root"], []).append(case)
    assert len(by_root) == 4
    for root, table in sorted(by_root.items()):
        path = tmp_path / ("%s.json" % root)
        path.write_text(json.dumps({"defaults": ident, "case": table}))
        results = cases.run(os.path.join(PXELINUX, root), cases.load(str(path)))
        failed = [(r.name, r.failures) for r in results if not r.ok]
        assert failed == [], "test(%s) = %r, want no failures" % (root, failed)


@pytest.mark.parametrize("text,want", [
    ('[[case]]\nname = "a"\nmac = "xx"\nexpect.label = "a"\n', "case 'a': MAC address 'xx'"),
    ('[[case]]\nname = "a"\nkernal = "x"\nexpect.label = "a"\n', "case 'a': unknown key 'kernal'"),
    ('[[case]]\nname = "a"\nexpect.kernal = "x"\n', "case 'a': unknown expectation 'kernal'"),
    ('[[case]]\nname = "a"\n', "case 'a': no expect table"),
    ('[[case]]\nname = "a"\nexpect.label = "a"\n[[case]]\nname = "a"\nexpect.label = "b"\n',
     "case 'a': another case has this name"),
    ('[[case]]\nexpect.error = "x"\nexpect.label = "a"\n', "case 'case 1': expect.error means nothing boots"),
    ('[[case]]\nexpect.initrd = [1]\n', "expect.initrd must be a list of strings"),
    ('[[case]]\nip = 10\nexpect.label = "a"\n', "ip must be a string"),
    ('case = []\n', "no cases"),
    ('[[case]\n', "Expected ']]' at the end of an array declaration (at line 1"),
    ('[tests]\n', "unknown top-level key 'tests'"),
])
def test_bad_cases_file_one_line_exit_2(tmp_path, text, want):
    path = tmp_path / "cases.toml"
    path.write_text(text)
    rc, out, err = run_cli(GOOD, str(path))
    assert rc == 2 and out == "" and err.count("\n") == 1 and want in err, \
        "test(%r) = (%d, %r), want (2, %r)" % (text, rc, err, want)


@pytest.mark.parametrize("args,want", [
    (["/nonexistent", "tests/testdata/lint/good.toml"], "TREE /nonexistent is not a directory"),
    (["tests/testdata/lint/good", "/nonexistent.toml"], "CASES /nonexistent.toml: No such file or directory"),
])
def test_bad_paths_one_line_exit_2(args, want):
    rc, out, err = run_cli(*args)
    assert rc == 2 and err.count("\n") == 1 and want in err, (rc, err)


@pytest.mark.parametrize("cmdline,frag,want", [
    ("BOOT_IMAGE=k quiet", "quiet", True),
    ("BOOT_IMAGE=k quietly", "quiet", False),
    ("BOOT_IMAGE=k a=1 b=2", "a=1 b=2", True),
    ("BOOT_IMAGE=k a=12", "a=1", False),
    ("BOOT_IMAGE=k", "BOOT_IMAGE=k", True),
])
def test_has_fragment(cmdline, frag, want):
    got = cases.has_fragment(cmdline, frag)
    assert got == want, "has_fragment(%r, %r) = %r, want %r" % (cmdline, frag, got, want)


@pytest.mark.slow
@pytest.mark.servers
def test_cases_against_a_live_server(tmp_path):
    """`test --server`: the same table against atftpd serving the same tree (in a private
    network namespace) gives the same plans, every config read over TFTP; a failing table
    still fails; TREE with --server is a usage error."""
    from tests.support.servers import Netns, start_tftp
    ns = Netns("nbcases%d" % os.getpid())
    try:
        start_tftp(ns, "atftpd", GOOD, str(tmp_path))

        def run(*args):
            p = ns.run([sys.executable, "-m", "workstation", "test"] + list(args), cwd=ROOT, timeout=120)
            return p.returncode, p.stdout, p.stderr

        rc, out, err = run(GOOD, os.path.join(DATA, "good.toml"), "--json")
        local = json.loads(out)
        rc, out, err = run("--server", "127.0.0.1", os.path.join(DATA, "good.toml"), "--json")
        live = json.loads(out)
        assert (rc, live["passed"], live["failed"]) == (0, 4, 0), (out, err)
        assert [c["plan"] for c in live["cases"]] == [c["plan"] for c in local["cases"]]
        rc, out, err = run("--server", "127.0.0.1", os.path.join(DATA, "failing.toml"), "-q")
        assert rc == 1 and "failed" in out.splitlines()[-1], (out, err)
        rc, out, err = run(GOOD, GOOD, "--server", "127.0.0.1")
        assert (rc, err) == (2, "s390-netboot: test needs CASES alone with --server "
                                "(see `s390-netboot test --help`)\n"), err
    finally:
        ns.close()


def test_a_case_that_cannot_be_fetched_fails_alone(tmp_path):
    """A case whose config leaves the tree fails with the reason; the other cases still
    run, and the JUnit report parses even with control characters from a config."""
    tree = tmp_path / "tftp"
    (tree / "pxelinux.cfg").mkdir(parents=True)
    (tree / "pxelinux.cfg" / "default").write_text("DEFAULT a\nLABEL a\n KERNEL k\n APPEND x=\x1b[2J\x01\n")
    (tree / "k").write_bytes(b"K")
    table = tmp_path / "cases.toml"
    table.write_text('[[case]]\nname = "escape"\nconfig = "../outside"\nexpect.label = "a"\n\n'
                     '[[case]]\nname = "wants y"\nexpect.kernel = "k"\nexpect.cmdline-has = ["y"]\n\n'
                     '[[case]]\nname = "boots k"\nexpect.kernel = "k"\n')
    junit = tmp_path / "report.xml"
    rc, out, err = run_cli(str(tree), str(table), "--junit", str(junit))
    assert rc == 1 and out.endswith("test: 3 cases: 1 passed, 2 failed\n"), (out, err)
    assert "leaves the root" in out, out
    suite = ET.parse(str(junit)).getroot().find("testsuite")
    assert [tc.get("name") for tc in suite.findall("testcase")] == ["escape", "wants y", "boots k"]
    text = ET.tostring(suite, encoding="unicode")
    assert "\\x1b[2J\\x01" in text, text
    assert sorted(os.listdir(str(tmp_path))) == ["cases.toml", "report.xml", "tftp"]
