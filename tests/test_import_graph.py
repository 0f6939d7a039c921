"""No import circle in the package: module-level and function-level imports are both edges (read with ast)."""

from __future__ import annotations

import ast
from pathlib import Path

import deepcage

ROOT = Path(deepcage.__file__).parent


def _modules() -> dict[str, tuple[Path, bool]]:
    mods = {}
    for p in ROOT.rglob("*.py"):
        parts = list(p.relative_to(ROOT.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        mods[".".join(parts[:-1] if is_pkg else parts)] = (p, is_pkg)
    return mods


def _edges(mods) -> dict[str, set[str]]:
    edges = {m: set() for m in mods}
    for m, (path, is_pkg) in mods.items():
        tree = ast.parse(path.read_text())
        skip = {  # `if TYPE_CHECKING:` blocks do not run
            id(x)
            for n in ast.walk(tree)
            if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
            for b in n.body
            for x in ast.walk(b)
        }
        base = m.split(".") if is_pkg else m.split(".")[:-1]
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                up = base[: len(base) - node.level + 1] if node.level else []
                t = ".".join(up + [node.module]) if node.module else ".".join(up)
                targets = [f"{t}.{a.name}" if f"{t}.{a.name}" in mods else t for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != m:
                    edges[m].add(t)
    return edges


def _circles(edges) -> list[list[str]]:
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while (w := stack.pop()) != v:
                on.discard(w)
                comp.append(w)
            on.discard(v)
            if comp:
                out.append(sorted([v, *comp]))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_the_prediction_layers_import_one_way():
    edges = _edges(_modules())
    below = {
        "deepcage.tl._predict": {
            "_predict_genome",
            "_predict_inputs",
            "_predict_layout",
            "_predict_lifted",
            "_predict_run",
        },
        "deepcage.tl._predict_genome": {"_predict_inputs", "_predict_layout", "_predict_run"},
        "deepcage.tl._predict_lifted": {"_predict_inputs"},
        "deepcage.tl._predict_layout": {"_predict_inputs"},
        "deepcage.tl._predict_run": {"_predict_inputs", "_predict_ddp"},
        "deepcage.tl._predict_ddp": {"_predict_inputs"},
        "deepcage.tl._predict_inputs": set(),
    }
    for module, allowed in below.items():
        got = {e.rpartition(".")[2] for e in edges[module] if e.startswith("deepcage.tl._predict")}
        assert got == allowed, module
    # the example-data registry imports nothing of deepcage: pp.liftover can fetch chains without datasets
    assert edges["deepcage._data_files"] == set()
    assert not any(e.startswith("deepcage.datasets") for e in edges["deepcage.pp._liftover"])


def test_no_import_circle_in_the_package():
    assert _circles(_edges(_modules())) == []
