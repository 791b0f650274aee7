"""The agent's layers (issue #22): read from the code's own imports, agent/
and workstation/ have no import cycle, counting imports inside functions,
and the agent never imports the workstation or the packager."""

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def imports(package):
    """{module: set of modules of agent/ and workstation/ it imports anywhere}."""
    graph = {}
    for name in sorted(os.listdir(os.path.join(ROOT, package))):
        if not name.endswith(".py"):
            continue
        mod = "%s.%s" % (package, name[:-3])
        with open(os.path.join(ROOT, package, name)) as f:
            tree = ast.parse(f.read(), name)
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                deps.add(node.module)
                # from agent import search: the module agent.search
                deps.update("%s.%s" % (node.module, a.name) for a in node.names)
        graph[mod] = set(d for d in deps if d.split(".")[0] in ("agent", "workstation", "packager")
                         and d != mod)
    return graph


def cycles(graph):
    """Every cycle of modules, as a list of names, found by depth-first search."""
    found, state = [], {}

    def visit(node, path):
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if dep not in graph:
                continue
            if state.get(dep) == 1:
                found.append(path[path.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[node] = 2
    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_cycles():
    graph = imports("agent")
    graph.update(imports("workstation"))
    assert len(graph) > 15, sorted(graph)
    got = cycles(graph)
    assert got == [], "import cycles: %s" % "; ".join(" -> ".join(c) for c in got)


def test_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_agent_imports_only_the_agent():
    for mod, deps in imports("agent").items():
        outside = sorted(d for d in deps if not d.startswith("agent"))
        assert outside == [], "%s imports %s: the agent stands alone in the image" % (mod, outside)


# The layers, bottom up (docs/STYLE: each module imports only from below it).
# sig_openssl (CPython's signature check, called from compat) imports no agent module.
LAYERS = ["inet", "sig_openssl", "compat", "text", "search", "pxeconfig", "cmdline", "localboot", "menu", "fetch",
          "tftp", "http", "verify", "s390kernel", "machine", "lease", "plan", "dhcp", "dhcp6", "console", "boot", "cli"]


def test_agent_modules_import_only_from_below():
    graph = imports("agent")
    rank = dict((m, i) for i, m in enumerate(LAYERS))
    bad = []
    for mod, deps in graph.items():
        short = mod.split(".", 1)[1]
        if short not in rank:
            continue
        for d in deps:
            ds = d.split(".", 1)[1] if "." in d else ""
            if ds in rank and rank[ds] >= rank[short]:
                bad.append("%s imports %s" % (short, ds))
    assert bad == [], "imports from the same layer or above: %s" % ", ".join(sorted(bad))


def test_every_agent_module_has_a_layer():
    # A new module finds its room in LAYERS (STYLE.md's table) or earns a row there.
    graph = imports("agent")
    rest = sorted(m.split(".", 1)[1] for m in graph
                  if m.split(".", 1)[1] not in LAYERS + ["__init__", "__main__", "manifest"])
    assert rest == [], "agent modules without a layer in LAYERS: %s" % rest
