#!/usr/bin/env python3
"""Fails on any import cycle inside rtvi_edge (between modules, and between layers),
and on an import that points up the layer order.

A layer is a subpackage (`rtvi_edge.pipeline`) or a top-level module
(`rtvi_edge.daemon`). Every import counts, lazy and TYPE_CHECKING ones too: a
cycle hidden in a function is still a cycle. The layers and their order are in
docs/architecture.md; a layer missing from `RANK` is only checked for cycles.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "rtvi_edge"

# A layer imports nothing of a higher rank (equal ranks: one way only, the cycle check).
RANK = {
    "errors": 0,
    "config": 1,
    "events": 1,
    "logs": 1,
    "systemd": 1,
    "text_limits": 1,
    "varint": 1,
    "memory": 2,
    "models": 2,
    "engines": 3,
    "audio": 3,
    "tools": 3,
    "pipeline": 4,
    "services": 5,
    "rtvi": 6,
    "mqtt": 6,
    "wyoming_server": 6,
    "homeassistant": 6,
    "assembly": 7,
    "local_control": 7,
    "daemon": 8,
    "chat": 8,
    "cli": 9,
    "__main__": 10,
}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".") if is_pkg else name.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join([*pkg, base] if base else pkg)
            # `from pkg import mod` imports the module pkg.mod when there is one
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith(PACKAGE + "."):
                out.add(target)
    return out


def layer(module: str) -> str:
    return ".".join(module.split(".")[:2])


def against_the_order(layers: dict[str, set[str]]) -> list[str]:
    out = []
    for source, targets in sorted(layers.items()):
        a = RANK.get(source.removeprefix(PACKAGE + "."))
        for target in sorted(targets):
            b = RANK.get(target.removeprefix(PACKAGE + "."))
            if a is not None and b is not None and b > a:
                out.append(f"import against the layer order: {source} -> {target}")
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def edges_within(graph: dict[str, set[str]], nodes: Iterable[str]) -> list[str]:
    members = set(nodes)
    return [f"{a} -> {b}" for a in sorted(members) for b in sorted(graph[a] & members)]


def main(root: Path = ROOT) -> int:
    files = {module_name(p, root): p for p in (root / PACKAGE).rglob("*.py")}
    known = set(files)
    modules = {name: imports_of(path, name, known) for name, path in files.items()}
    layers: dict[str, set[str]] = {}
    for name, targets in modules.items():
        deps = layers.setdefault(layer(name), set())
        deps.update(layer(t) for t in targets if layer(t) != layer(name))
    problems = against_the_order(layers)
    for kind, graph in (("module", modules), ("layer", layers)):
        for component in cycles(graph):
            problems.append(f"{kind} import cycle: " + "; ".join(edges_within(graph, component)))
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("see docs/architecture.md for the dependency rule", file=sys.stderr)
        return 1
    print(f"no import cycles, layers in order ({len(modules)} modules, {len(layers)} layers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
