"""Golden plans for the distribution-shaped configs in tests/testdata/pxelinux
(runs under CPython and MicroPython)."""

import json

from agent import plan as planmod
from agent.fetch import LocalFetcher, SchemeFetcher


def _testdata_dir():
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    return here + "/../testdata/pxelinux"


def test_golden_plans():
    top = _testdata_dir()
    with open(top + "/cases.json") as f:
        data = json.loads(f.read())
    assert len(data["cases"]) >= 12
    for case in data["cases"]:
        local = LocalFetcher(top + "/" + case["root"])
        fetcher = SchemeFetcher({"tftp": local, "http": local})
        call = "plan(%s, label=%r)" % (case["root"], case["label"])
        try:
            got = planmod.make_plan(fetcher, dict(data["env"]), case["label"]).as_dict()
        except planmod.PlanError as e:
            assert "error" in case, "%s failed: %s" % (call, e)
            assert str(e) == case["error"], "%s = error %r, want %r" % (call, str(e), case["error"])
            continue
        assert "plan" in case, "%s = %r, want error %r" % (call, got, case.get("error"))
        for key in sorted(case["plan"]):
            assert got[key] == case["plan"][key], "%s[%r] = %r, want %r" % (call, key, got[key], case["plan"][key])
        assert sorted(got) == sorted(case["plan"])
