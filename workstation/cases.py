"""`s390-netboot test TREE CASES`: a table of machines and what each must boot.

CASES is a TOML file (or JSON with the same structure)::

    [defaults]                    # optional: keys every case starts from
    bootfile = "s390x/pxelinux.0"

    [[case]]
    name = "the build farm boots the installer"
    mac = "52:54:00:12:34:56"     # identity: mac ip uuid netmask gateway
    ip = "192.0.2.10"             #   server-ip bootfile opt209 opt210
    label = "rescue"              # optional: typed at the boot: prompt
    expect.config = "s390x/pxelinux.cfg/01-52-54-00-12-34-56"
    expect.label = "rescue"       # "" for a kernel that names no label
    expect.kernel = "s390x/images/linux"
    expect.initrd = ["s390x/images/initrd.gz"]
    expect.cmdline = "..."        # the whole command line, or fragments:
    expect.cmdline-has = ["rescue/enable=true"]
    expect.cmdline-lacks = ["quiet"]
    expect.error = "no config found"   # instead: nothing boots, and why
    expect.localboot = "0"        # instead: boots the installed system (LOCALBOOT's
                                  #   argument, chain.c32's, or "empty config")

(JSON: {"defaults": {...}, "case": [{..., "expect": {...}}]}.) Names are as
`plan` prints them: TFTP paths from the server root, or URLs. Each case runs
exactly what `plan --root TREE` runs (agent.plan.make_plan over
agent.fetch.LocalFetcher).
"""

import json
import os
import time

from agent import plan as planmod
from agent.fetch import FetchError

INPUT_KEYS = ("mac", "ip", "uuid", "netmask", "gateway", "server-ip", "bootfile", "opt209", "opt210",
              "label", "config")
EXPECT_KEYS = ("config", "label", "kernel", "initrd", "cmdline", "cmdline-has", "cmdline-lacks", "error",
               "localboot")
LIST_KEYS = ("initrd", "cmdline-has", "cmdline-lacks")


class CaseError(Exception):
    """The CASES file cannot be used: one line naming the file and case."""


class Case:
    def __init__(self, name, inputs, expect, own=None):
        self.name = name
        self.inputs = inputs      # INPUT_KEYS -> str
        self.expect = expect      # EXPECT_KEYS -> str or list
        self.own = own if own is not None else list(inputs)  # the keys the case sets, not [defaults]

    def call(self):
        """The case's own inputs as plan(key='value', ...), for failure lines."""
        return "plan(%s)" % ", ".join("%s=%r" % (k, self.inputs[k]) for k in INPUT_KEYS if k in self.own)


class Result:
    def __init__(self, case):
        self.case = case
        self.name = case.name
        self.failures = []        # lines: plan(...).field = got, want expected
        self.plan = None          # plan --json's object, when a plan was made
        self.error = None         # PlanError's message, when none was
        self.seconds = 0.0

    @property
    def ok(self):
        return not self.failures


def _key(k):
    return k.replace("_", "-")


def _toml():
    """tomllib (3.11+) or tomli, the package it came from (pyproject installs
    it on older Pythons)."""
    try:
        import tomllib
    except ImportError:
        import tomli as tomllib
    return tomllib


def load(path):
    """The cases of a TOML or JSON file; raises CaseError."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CaseError("CASES %s: %s" % (path, e.strerror or e))
    try:
        if path.endswith(".json"):
            doc = json.loads(data.decode("utf-8"))
        else:
            doc = _toml().loads(data.decode("utf-8"))
    except (ValueError, UnicodeError) as e:
        raise CaseError("CASES %s: %s" % (path, e))
    return from_doc(doc, path)


def from_doc(doc, path="CASES"):
    if not isinstance(doc, dict):
        raise CaseError("%s: want a table with [[case]] entries" % path)
    unknown = set(doc) - {"defaults", "case", "cases"}
    if unknown:
        raise CaseError("%s: unknown top-level key %r (want defaults and case)" % (path, sorted(unknown)[0]))
    defaults = doc.get("defaults", {})
    entries = doc.get("case", doc.get("cases", []))
    if not isinstance(entries, list) or not entries:
        raise CaseError("%s: no cases (want [[case]] tables)" % path)
    out, names = [], set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise CaseError("%s: case %d is not a table" % (path, i + 1))
        name = str(entry.get("name") or "case %d" % (i + 1))
        where = "%s: case %r" % (path, name)
        if name in names:
            raise CaseError("%s: another case has this name" % where)
        names.add(name)
        inputs = {}
        for k, v in list(defaults.items()) + list(entry.items()):
            k = _key(k)
            if k in ("name", "expect"):
                continue
            if k not in INPUT_KEYS:
                raise CaseError("%s: unknown key %r (known: %s, expect)" % (where, k, ", ".join(INPUT_KEYS)))
            if not isinstance(v, str):
                raise CaseError("%s: %s must be a string" % (where, k))
            inputs[k] = v
        expect = {}
        for k, v in (entry.get("expect") or {}).items():
            k = _key(k)
            if k not in EXPECT_KEYS:
                raise CaseError("%s: unknown expectation %r (known: %s)" % (where, k, ", ".join(EXPECT_KEYS)))
            if k in LIST_KEYS:
                if isinstance(v, str):
                    v = [v]
                if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                    raise CaseError("%s: expect.%s must be a list of strings" % (where, k))
            elif not isinstance(v, str):
                raise CaseError("%s: expect.%s must be a string" % (where, k))
            expect[k] = v
        if not expect:
            raise CaseError("%s: no expect table: nothing to check" % where)
        if "error" in expect and len(expect) > 1:
            raise CaseError("%s: expect.error means nothing boots; it cannot go with other expectations" % where)
        try:
            planmod.identity_env(inputs)
        except planmod.OptionError as e:
            raise CaseError("%s: %s" % (where, e))
        own = [_key(k) for k in entry if _key(k) in INPUT_KEYS]
        out.append(Case(name, inputs, expect, own))
    return out


def run_case(source, case):
    """The Result of one case: `plan` with its inputs, compared. source is
    {"root": TREE} or {"server": HOST[:PORT]}: the machine is set up as
    `plan` sets it up (agent.plan.environment)."""
    r = Result(case)
    start = time.monotonic()
    source = {"root": source} if isinstance(source, str) else source
    try:
        fetcher, env = planmod.environment(dict(case.inputs, **source))
        p = planmod.make_plan(fetcher, env, case.inputs.get("label"), case.inputs.get("config"))
        r.plan = p.as_dict()
    except (planmod.PlanError, planmod.OptionError) as e:
        r.error = str(e)
    except (FetchError, OSError, ValueError) as e:
        # A server that does not answer, a name that leaves the tree: this case
        # fails with the reason, the others still run and are reported.
        r.error = "%s: %s" % (type(e).__name__, e) if not isinstance(e, FetchError) else str(e)
    r.seconds = time.monotonic() - start
    call = case.call()
    want = case.expect
    if r.plan is None:
        if "error" not in want:
            r.failures.append("%s failed: %s, want a plan" % (call, r.error))
        elif want["error"] not in r.error:
            r.failures.append("%s failed: %r, want an error with %r" % (call, r.error, want["error"]))
        return r
    if "error" in want:
        r.failures.append("%s boots %s (%s), want an error with %r"
                          % (call, r.plan["label"] or r.plan["kernel"], r.plan["kernel"], want["error"]))
        return r
    got = dict(r.plan, label=r.plan["label"] or "")
    got.setdefault("localboot", None)
    if "localboot" in want and got["localboot"] is None:
        r.failures.append("%s boots %s, want a local boot (%r)" % (call, got["kernel"], want["localboot"]))
        return r
    if got["localboot"] is not None and "localboot" not in want and ("kernel" in want or "cmdline" in want):
        r.failures.append("%s boots the installed system (local boot %r), want kernel %r"
                          % (call, got["localboot"], want.get("kernel")))
        return r
    for k in ("config", "label", "kernel", "initrd", "cmdline", "localboot"):
        if k in want and got[k] != want[k]:
            r.failures.append("%s.%s = %r, want %r" % (call, k, got[k], want[k]))
    for frag in want.get("cmdline-has", []):
        if not has_fragment(got["cmdline"], frag):
            r.failures.append("%s.cmdline = %r, want it to contain %r" % (call, got["cmdline"], frag))
    for frag in want.get("cmdline-lacks", []):
        if has_fragment(got["cmdline"], frag):
            r.failures.append("%s.cmdline = %r, want it without %r" % (call, got["cmdline"], frag))
    return r


def has_fragment(cmdline, frag):
    """Whether frag appears in cmdline as whole words ('quiet' is not in 'quietly')."""
    padded = " %s " % cmdline
    return (" %s " % frag.strip()) in padded


def run(source, cases):
    return [run_case(source, c) for c in cases]


def report(results, quiet=False):
    lines = []
    for r in results:
        if r.ok:
            if not quiet:
                lines.append("ok    %s" % r.name)
            continue
        lines.append("FAIL  %s" % r.name)
        lines += ["      " + f for f in r.failures]
    failed = sum(1 for r in results if not r.ok)
    lines.append("test: %d case%s: %d passed, %d failed"
                 % (len(results), "" if len(results) == 1 else "s", len(results) - failed, failed))
    return "\n".join(lines) + "\n"


def as_dict(results):
    return {"cases": [{"name": r.name, "ok": r.ok, "failures": r.failures, "plan": r.plan, "error": r.error}
                      for r in results],
            "passed": sum(1 for r in results if r.ok), "failed": sum(1 for r in results if not r.ok)}


def junit(results, suite):
    """JUnit XML (the form Jenkins, GitLab and GitHub test reporters read) as text."""
    import xml.etree.ElementTree as ET
    failed = sum(1 for r in results if not r.ok)
    total = "%.3f" % sum(r.seconds for r in results)
    top = ET.Element("testsuites", name="s390-netboot test", tests=str(len(results)), failures=str(failed),
                     errors="0", time=total)
    ts = ET.SubElement(top, "testsuite", name=suite, tests=str(len(results)), failures=str(failed),
                       errors="0", skipped="0", time=total)
    for r in results:
        tc = ET.SubElement(ts, "testcase", classname=suite, name=xml_text(r.name), time="%.3f" % r.seconds)
        if not r.ok:
            f = ET.SubElement(tc, "failure", message=xml_text(r.failures[0]), type="mismatch")
            f.text = xml_text("\n".join(r.failures + ["", "plan: %s" % (json.dumps(r.plan, sort_keys=True)
                                                                        if r.plan else r.error)]))
    ET.indent(top)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(top, encoding="unicode") + "\n"


def xml_text(text):
    """text with the characters XML 1.0 cannot carry (control characters from a
    config, lone surrogates) written as \\xNN: the report still parses."""
    out = []
    for c in text:
        o = ord(c)
        if (o < 0x20 and c not in "\t\n\r") or 0xD800 <= o <= 0xDFFF or o in (0xFFFE, 0xFFFF):
            out.append("\\x%02x" % o if o < 0x100 else "\\u%04x" % o)
        else:
            out.append(c)
    return "".join(out)


def write_junit(path, results, cases_path):
    """The report, written whole or not at all (a temporary file, then a rename)."""
    suite = os.path.splitext(os.path.basename(cases_path))[0]
    text = junit(results, suite)
    tmp = "%s.tmp%d" % (path, os.getpid())
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
