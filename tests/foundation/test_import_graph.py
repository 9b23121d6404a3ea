"""mmkit's import graph, read from the source with :mod:`ast` (nothing is imported).

Two rules, both counting every import statement wherever it stands (module level, inside a
function, under ``if TYPE_CHECKING``), because a deferred import is still a dependency:

* **Test helpers stay out of the product**: no module outside ``mmkit.testing`` imports
  ``mmkit.testing`` (tests and plugin authors use it; the audit uses ``mmkit.audit.harness``).
* **No cycles between packages**: the nodes are mmkit's top-level subpackages and modules
  (``mmkit.backtest``, ``mmkit.errors``, ...), with the venues (``mmkit.venues.sim``,
  ``.hyperliquid``, ``.emulator``), the audit harness (``mmkit.audit.harness``) and the
  invariant contract that plugins implement (``mmkit.audit.invariant``, typed in
  ``mmkit.hookspecs``) as nodes of their own. An edge A -> B means some module of A imports
  some module of B. A cycle means the two packages cannot be understood, tested or moved
  apart.

A failure lists every offending import with its file and line. The last tests run the same
functions on a small synthetic tree that breaks both rules, to show they are caught.
"""

from __future__ import annotations

import ast
import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

SRC = Path(__file__).resolve().parents[2] / "src"
ROOT = "mmkit"
TESTING = "mmkit.testing"

#: packages whose listed subpackages are graph nodes of their own
SPLIT: Mapping[str, frozenset[str]] = {
    "mmkit.venues": frozenset({"sim", "hyperliquid", "emulator"}),
    "mmkit.audit": frozenset({"harness", "invariant"}),
}


@dataclass(frozen=True)
class Import:
    """One imported module: ``importer`` (dotted) imports ``target`` (dotted) at ``line`` of
    ``path``; ``text`` is the statement as written (first line)."""

    importer: str
    target: str
    path: Path
    line: int
    text: str

    def where(self, base: Path) -> str:
        try:
            rel = self.path.relative_to(base)
        except ValueError:
            rel = self.path
        return f"{rel}:{self.line}: {self.text}"


def module_name(path: Path, src: Path) -> str:
    """``src/mmkit/a/b.py`` -> ``mmkit.a.b``; a package's ``__init__.py`` -> the package."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(importer: str, is_package: bool, level: int, module: str | None) -> str:
    """The absolute module of a ``from`` import (``level`` leading dots)."""
    if level == 0:
        return module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]  # a module's relative imports start from its package
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def imports_of(path: Path, src: Path, known: frozenset[str]) -> Iterator[Import]:
    """Every mmkit module the file at ``path`` imports. ``from P import x`` imports the
    module ``P.x`` when that is a module of the tree (``known``), else ``P``."""
    importer = module_name(path, src)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text, filename=str(path))
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(importer, path.name == "__init__.py", node.level, node.module)
            for a in node.names:
                sub = f"{base}.{a.name}"
                targets.append(sub if sub in known else base)
        else:
            continue
        stmt = lines[node.lineno - 1].strip()
        for t in dict.fromkeys(targets):  # once per module, in order
            if t == ROOT or t.startswith(ROOT + "."):
                yield Import(importer, t, path, node.lineno, stmt)


def all_imports(src: Path) -> list[Import]:
    """The imports of every module under ``src/mmkit``."""
    files = sorted((src / ROOT).rglob("*.py"))
    known = frozenset(module_name(f, src) for f in files)
    return [imp for f in files for imp in imports_of(f, src, known)]


def node_of(module: str) -> str:
    """The graph node of a dotted module name (see the module docstring)."""
    parts = module.split(".")
    if len(parts) < 2:
        return module
    node = ".".join(parts[:2])
    subs = SPLIT.get(node, frozenset())
    if len(parts) > 2 and parts[2] in subs:
        return ".".join(parts[:3])
    return node


def _in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def imports_of_testing(imports: Iterable[Import]) -> list[Import]:
    """Imports of ``mmkit.testing`` by modules outside it."""
    return [
        i
        for i in imports
        if _in_package(i.target, TESTING) and not _in_package(i.importer, TESTING)
    ]


def package_edges(imports: Iterable[Import]) -> dict[tuple[str, str], list[Import]]:
    """Node -> node edges (self-edges dropped), each with the imports that make it."""
    edges: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for i in imports:
        a, b = node_of(i.importer), node_of(i.target)
        if a != b:
            edges[a, b].append(i)
    return dict(edges)


def strongly_connected(edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The graph's strongly connected components of more than one node (Tarjan,
    iterative), each sorted, the list sorted."""
    succ: dict[str, list[str]] = defaultdict(list)
    nodes: set[str] = set()
    for a, b in edges:
        succ[a].append(b)
        nodes |= {a, b}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            recurse = False
            children = sorted(succ[v])
            while i < len(children):
                w = children[i]
                i += 1
                if w not in index:
                    work.append((v, i))
                    work.append((w, 0))
                    recurse = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if recurse:
                continue
            if low[v] == index[v]:
                comp: list[str] = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return sorted(out)


def _shortest_path(succ: Mapping[str, Iterable[str]], start: str, goal: str) -> list[str]:
    """Breadth-first path ``start .. goal`` (inclusive); [] when there is none."""
    prev: dict[str, str] = {}
    frontier = [start]
    seen = {start}
    while frontier:
        nxt: list[str] = []
        for v in frontier:
            for w in sorted(succ.get(v, ())):
                if w in seen:
                    continue
                seen.add(w)
                prev[w] = v
                if w == goal:
                    path = [w]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return path[::-1]
                nxt.append(w)
        frontier = nxt
    return []


def cycles(edges: Mapping[tuple[str, str], list[Import]]) -> list[list[str]]:
    """One shortest cycle through every edge that lies on a cycle, as node lists
    ``[a, b, ..., a]``, without rotations of the same cycle."""
    succ: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        succ[a].add(b)
    seen: set[tuple[str, ...]] = set()
    out: list[list[str]] = []
    for comp in strongly_connected(edges):
        members = set(comp)
        inner = {v: {w for w in succ[v] if w in members} for v in comp}
        for a in comp:
            for b in sorted(inner[a]):
                back = _shortest_path(inner, b, a)
                if not back:
                    continue
                cyc = [a, *back]
                ring = cyc[:-1]
                k = ring.index(min(ring))
                key = tuple(ring[k:] + ring[:k])
                if key not in seen:
                    seen.add(key)
                    out.append([*key, key[0]])
    return out


def describe_cycle(
    cyc: list[str], edges: Mapping[tuple[str, str], list[Import]], base: Path
) -> str:
    """A cycle with the import lines behind each of its edges (at most 3 per edge)."""
    rows = [" -> ".join(cyc)]
    for a, b in itertools.pairwise(cyc):
        imps = edges[a, b]
        rows.append(f"  {a} -> {b} ({len(imps)} import(s)):")
        rows += [f"    {i.where(base)}" for i in imps[:3]]
        if len(imps) > 3:
            rows.append(f"    ... and {len(imps) - 3} more")
    return "\n".join(rows)


def report(src: Path) -> tuple[list[str], list[str]]:
    """(testing-import problems, cycle descriptions) of the tree under ``src``."""
    imports = all_imports(src)
    bad = [i.where(src) for i in imports_of_testing(imports)]
    edges = package_edges(imports)
    return bad, [describe_cycle(c, edges, src) for c in cycles(edges)]


# --------------------------------------------------------------------------------------------
# the rules, on mmkit


def test_nothing_outside_mmkit_testing_imports_it() -> None:
    bad, _ = report(SRC)
    assert not bad, (
        "mmkit.testing is for tests and plugin authors; product code imports it here "
        "(move what it needs into the product, e.g. mmkit.audit.harness):\n" + "\n".join(bad)
    )


def test_no_import_cycles_between_packages() -> None:
    _, found = report(SRC)
    assert not found, f"{len(found)} import cycle(s) between mmkit packages:\n\n" + "\n\n".join(
        found
    )


def test_the_graph_sees_mmkit() -> None:
    """Guards against a vacuous pass (wrong path, parser finding nothing)."""
    imports = all_imports(SRC)
    edges = package_edges(imports)
    assert len(imports) > 500
    assert ("mmkit.backtest", "mmkit.venues.sim") in edges
    assert any(i.importer == "mmkit.cli.main" for i in imports)


# --------------------------------------------------------------------------------------------
# the functions themselves, on a synthetic tree that breaks both rules


def _tree(tmp_path: Path, files: Mapping[str, str]) -> Path:
    src = tmp_path / "src"
    for rel, body in files.items():
        p = src / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(body)
    for d in {p.parent for p in src.rglob("*.py")}:  # every directory a package
        while d != src:
            (d / "__init__.py").touch()
            d = d.parent
    return src


BROKEN = {
    "mmkit/testing/fake.py": "X = 1\n",
    # a function-level import of a test helper, through a relative import
    "mmkit/audit/checks.py": "def f():\n    from ..testing import fake\n    return fake.X\n",
    # backtest -> calibrate at module level, calibrate -> backtest inside a function
    "mmkit/backtest/run.py": "from mmkit.calibrate.fit import fit\n",
    "mmkit/calibrate/fit.py": "def fit():\n    import mmkit.backtest.run\n",
    # venues.sim -> venues.hyperliquid -> venues.sim: a cycle between split nodes
    "mmkit/venues/sim/a.py": "from mmkit.venues.hyperliquid import b\n",
    "mmkit/venues/hyperliquid/b.py": "from mmkit.venues.sim.a import *\n",
    # inside one node: not a cycle
    "mmkit/core/x.py": "from . import y\n",
    "mmkit/core/y.py": "from .x import *\n",
}


def test_a_broken_tree_reports_the_testing_import_and_both_cycles(tmp_path: Path) -> None:
    src = _tree(tmp_path, BROKEN)
    bad, found = report(src)
    assert bad == ["mmkit/audit/checks.py:2: from ..testing import fake"]
    heads = sorted(c.splitlines()[0] for c in found)
    assert heads == [
        "mmkit.backtest -> mmkit.calibrate -> mmkit.backtest",
        "mmkit.venues.hyperliquid -> mmkit.venues.sim -> mmkit.venues.hyperliquid",
    ]
    text = "\n".join(found)
    assert "mmkit/calibrate/fit.py:2: import mmkit.backtest.run" in text  # the lines shown
    assert "mmkit.core" not in text


def test_a_clean_tree_reports_nothing(tmp_path: Path) -> None:
    clean = {k: v for k, v in BROKEN.items() if k not in ("mmkit/audit/checks.py",)}
    clean["mmkit/calibrate/fit.py"] = "def fit():\n    return 1\n"
    clean["mmkit/venues/hyperliquid/b.py"] = "from mmkit.core import x\n"
    src = _tree(tmp_path, clean)
    assert report(src) == ([], [])


def test_strongly_connected_components() -> None:
    edges = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "e"), ("e", "d"), ("f", "a")]
    assert strongly_connected(edges) == [["a", "b", "c"], ["d", "e"]]
    assert strongly_connected([("a", "b"), ("b", "c")]) == []


def _reach(edges: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    """Brute-force transitive closure (nodes reachable in one or more steps)."""
    out: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        out[a].add(b)
    changed = True
    while changed:
        changed = False
        for a in list(out):
            more = set().union(*(out[b] for b in out[a])) - out[a]
            if more:
                out[a] |= more
                changed = True
    return out


_graphs = st.lists(st.tuples(st.sampled_from("abcdef"), st.sampled_from("abcdef")), max_size=14)


@settings(max_examples=300, deadline=None)
@given(_graphs)
def test_components_and_cycles_match_brute_force_reachability(pairs: list[tuple[str, str]]) -> None:
    """Two nodes share a component exactly when each reaches the other; every reported
    cycle follows real edges, and every edge on some cycle is on a reported one."""
    edges = [(a, b) for a, b in pairs if a != b]
    reach = _reach(edges)
    comps = strongly_connected(edges)
    comp_of = {v: tuple(c) for c in comps for v in c}
    nodes = {v for e in edges for v in e}
    for u in nodes:
        for v in nodes - {u}:
            mutual = v in reach[u] and u in reach[v]
            assert mutual == (u in comp_of and comp_of.get(u) == comp_of.get(v)), (u, v)
    fake: dict[tuple[str, str], list[Import]] = {e: [] for e in edges}
    found = cycles(fake)
    on_cycle = {(a, b) for a, b in edges if a in reach[b]}
    covered = {e for c in found for e in itertools.pairwise(c)}
    assert covered <= set(edges)
    assert covered == on_cycle
    assert all(c[0] == c[-1] and len(set(c)) == len(c) - 1 for c in found)


def test_node_of() -> None:
    assert node_of("mmkit.venues.sim._kernels_book") == "mmkit.venues.sim"
    assert node_of("mmkit.venues.components") == "mmkit.venues"
    assert node_of("mmkit.venues") == "mmkit.venues"
    assert node_of("mmkit.audit.harness.fake") == "mmkit.audit.harness"
    assert node_of("mmkit.audit.runner") == "mmkit.audit"
    assert node_of("mmkit.audit.invariant") == "mmkit.audit.invariant"
    assert node_of("mmkit.audit.invariants.gates") == "mmkit.audit"
    assert node_of("mmkit.errors") == "mmkit.errors"
    assert node_of("mmkit") == "mmkit"
