"""What the trees provisioning systems write decide (tests/testdata/provisioning,
see its README for the template and line each file follows); runs under
CPython and MicroPython.

Each case's "want" is what Syslinux 6.04 boots there (and, for local boot, the
s390 meaning issue 27 gives it); a "today" would be a known-wrong answer of the
agent (there is none left: issue 27 fixed 16 of the 22). A case must give "want", or exactly "today" when it
has one: a new wrong answer fails, and so does a "today" that is no longer
given (then the fix landed: delete that "today").
"""

import json

from agent import plan as planmod
from agent.fetch import LocalFetcher, SchemeFetcher


def _top():
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    return here + "/../testdata/provisioning"


def load_cases():
    with open(_top() + "/cases.json") as f:
        return json.loads(f.read())


def decision(root, env, typed):
    """The agent's decision for a tree, in the cases' vocabulary."""
    local = LocalFetcher(_top() + "/" + root)
    fetcher = SchemeFetcher({"tftp": local, "http": local})
    try:
        d = planmod.make_plan(fetcher, env, typed).as_dict()
    except planmod.PlanError as e:
        return {"error": str(e)}
    return d


def matches(got, want):
    for key in want:
        if key not in got or got[key] != want[key]:
            return False
    return True


def test_provisioning_trees():
    data = load_cases()
    assert len(data["cases"]) >= 20
    wrong = []
    for case in data["cases"]:
        env = dict(data["env"])
        env.update(case.get("env", {}))
        typed = case.get("typed")
        got = decision(case["root"], env, typed)
        call = "plan(%s, typed=%r)" % (case["root"], typed)
        if matches(got, case["want"]):
            assert "today" not in case, "%s = %r, want: issue 27 fixed this case: delete its \"today\"" % (
                call, case["want"])
            continue
        shown = dict((k, got.get(k)) for k in sorted(case["want"]))
        if "error" in got:
            shown = got
        assert "today" in case, "%s = %r, want %r (%s)" % (call, shown, case["want"], case["why"])
        assert matches(got, case["today"]), "%s = %r, want %r, or today's known %r" % (
            call, shown, case["want"], case["today"])
        wrong.append(call)
    # Known-wrong answers ("today"), counted: none since issue 27's fixes
    # (16 of these 22 before them).
    assert len(wrong) == sum(1 for c in data["cases"] if "today" in c)


def test_every_tree_has_a_case():
    import os
    data = load_cases()
    roots = set(c["root"] for c in data["cases"])
    trees = set(n for n in os.listdir(_top()) if n not in ("README.md", "cases.json"))
    assert trees == roots, "trees without a case: %r; cases without a tree: %r" % (
        sorted(trees - roots), sorted(roots - trees))
