"""The import graph of the `bench` package: floors, circles and imports that run back up.

    python scripts/import_graph.py [--package-dir bench] [--edges]

Reads every module with `ast` (module-level and function-level imports alike, nothing is executed),
then prints:
  - floors: the longest chain of imports below each module (0 = imports nothing of ours), after
    collapsing circles; the package's height is the number of floors;
  - circles: groups of modules that import each other (strongly connected components);
  - back-up imports: a module importing one of a higher layer, where the layer is the first package
    level (`bench.core`, `bench.codecs`, ...) ranked by `LAYERS` below (only when the tree has them).
Used by tests/test_layers.py and for the before/after figures of the reorganisation.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

# Layer of each subpackage (lower imports nothing from higher).  Siblings share a rank and may not
# import each other either (codecs and metrics are independent).
LAYERS = {
    "bench.core": 0,
    "bench.data": 1,
    "bench.codecs": 2, "bench.metrics": 2,
    "bench.results": 3,
    "bench.sweep": 4, "bench.analysis": 4, "bench.training": 4,
    "bench.report": 5,
    "bench.audit": 6,
    "bench.cli": 7,
    "bench.perf": 8,  # benchmark tools that time the commands themselves; reached from `bench perf` by name
}


def modules(pkg_dir: Path) -> dict[str, Path]:
    out = {}
    root = pkg_dir.parent
    for p in sorted(pkg_dir.rglob("*.py")):
        parts = list(p.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of ours that `name` imports (resolved to the longest known module name)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()

    def resolve(mod: str) -> str | None:
        while mod and mod not in known:
            mod = mod.rpartition(".")[0]
        return mod or None

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                r = resolve(a.name)
                if r:
                    found.add(r)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name if is_pkg else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            for a in node.names:
                r = resolve(f"{mod}.{a.name}") if f"{mod}.{a.name}" in known else resolve(mod)
                if r:
                    found.add(r)
    found.discard(name)
    return found


def graph(pkg_dir: Path) -> dict[str, set[str]]:
    mods = modules(pkg_dir)
    known = set(mods)
    g = {m: imports(m, p, known) for m, p in mods.items()}
    # a package's __init__ is a parent of its modules, not an import edge "up"; keep edges as written
    return g


def circles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def floors(g: dict[str, set[str]]) -> dict[str, int]:
    comp_of = {}
    for i, c in enumerate(circles(g)):
        for m in c:
            comp_of[m] = f"circle{i}"
    node = {m: comp_of.get(m, m) for m in g}
    dag: dict[str, set[str]] = {}
    for m, deps in g.items():
        dag.setdefault(node[m], set()).update(node[d] for d in deps if node[d] != node[m])
    memo: dict[str, int] = {}

    def depth(n):
        if n not in memo:
            memo[n] = 1 + max((depth(d) for d in dag.get(n, ())), default=-1)
        return memo[n]

    return {m: depth(node[m]) for m in g}


def layer(mod: str) -> int | None:
    best = None
    for prefix, rank in LAYERS.items():
        if mod == prefix or mod.startswith(prefix + "."):
            best = rank
    return best


def back_up(g: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from a module to one of a higher layer, or to a sibling package of the same rank."""
    bad = []
    for m, deps in g.items():
        lm = layer(m)
        if lm is None:
            continue
        top_m = ".".join(m.split(".")[:2])
        for d in deps:
            ld = layer(d)
            if ld is None:
                continue
            top_d = ".".join(d.split(".")[:2])
            if ld > lm or (ld == lm and top_d != top_m):
                bad.append((m, d))
    return sorted(bad)


def package_graph(g: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph between first-level subpackages (bench.core, bench.codecs, ...): the layers."""
    def top(m):
        parts = m.split(".")
        return ".".join(parts[:2]) if len(parts) > 1 and parts[1] not in ("__main__",) else m

    out: dict[str, set[str]] = {}
    for m, deps in g.items():
        out.setdefault(top(m), set()).update(top(d) for d in deps if top(d) != top(m))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--package-dir", type=Path, default=Path(__file__).resolve().parents[1] / "bench")
    ap.add_argument("--edges", action="store_true", help="print every import edge")
    args = ap.parse_args(argv)
    g = graph(args.package_dir)
    fl = floors(g)
    n_edges = sum(len(v) for v in g.values())
    print(f"{len(g)} modules, {n_edges} import edges, {max(fl.values()) + 1} floors")
    for f in range(max(fl.values()) + 1):
        print(f"  floor {f}: {', '.join(sorted(m for m, v in fl.items() if v == f))}")
    cs = circles(g)
    print(f"{len(cs)} circle(s)" + "".join(f"\n  {' <-> '.join(c)}" for c in cs))
    pg = package_graph(g)
    if len(pg) < len(g):
        pf = floors(pg)
        print(f"packages: {len(pg)}, {max(pf.values()) + 1} floors, {len(circles(pg))} circle(s) between packages")
        for f in range(max(pf.values()) + 1):
            print(f"  floor {f}: {', '.join(sorted(m for m, v in pf.items() if v == f))}")
    if any(layer(m) is not None for m in g):
        bu = back_up(g)
        print(f"{len(bu)} import(s) running back up or sideways" + "".join(f"\n  {a} -> {b}" for a, b in bu))
    if args.edges:
        for m in sorted(g):
            print(f"{m}: {', '.join(sorted(g[m]))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
