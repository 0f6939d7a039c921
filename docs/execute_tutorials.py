"""Execute the tutorials (``tutorials/*.md``) and write them with their outputs and figures as notebooks.

The docs show ``docs/tutorials_executed/<name>.ipynb``: the tutorials need the example data folder and minutes of
CPU, so the docs build does not run them; these notebooks are made here and committed, and the test suite checks
that their code is the tutorials' code (``tests/test_tutorials.py``). Each tutorial runs as the suite runs it: its
code cells in order in one namespace, in a scratch directory; printed text, the value of a cell's last expression
and every open matplotlib figure become the cell's outputs. Run from the repository root after editing a tutorial::

    DEEPCAGE_SHARED_DATA=../shared/data python docs/execute_tutorials.py [01_quickstart ...]
"""

from __future__ import annotations

import ast
import base64
import contextlib
import io
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
OUT = ROOT / "docs" / "tutorials_executed"
_FRONT = re.compile(r"\A---\n.*?\n---\n", re.S)
_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)


def split_cells(text: str) -> list[tuple[str, str]]:
    """``(kind, source)`` of a MyST notebook: markdown between the code cells, and the code cells."""
    text = _FRONT.sub("", text, count=1)
    cells, pos = [], 0
    for m in _CELL.finditer(text):
        md = text[pos : m.start()].strip("\n")
        if md.strip():
            cells.append(("markdown", md))
        cells.append(("code", m.group(1).rstrip("\n")))
        pos = m.end()
    tail = text[pos:].strip("\n")
    if tail.strip():
        cells.append(("markdown", tail))
    return cells


def _figures() -> list[dict]:
    import matplotlib.pyplot as plt

    outs = []
    for num in plt.get_fignums():
        buf = io.BytesIO()
        plt.figure(num).savefig(buf, format="png", dpi=80, bbox_inches="tight")
        png = base64.b64encode(buf.getvalue()).decode()
        outs.append(nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}))
    plt.close("all")
    return outs


def _display(value) -> dict | None:
    if value is None:
        return None
    data = {"text/plain": repr(value)}
    html = getattr(value, "_repr_html_", None)
    if callable(html):
        with contextlib.suppress(Exception):
            rendered = html()
            if rendered:
                data["text/html"] = rendered
    return nbformat.v4.new_output("execute_result", data=data, execution_count=None)


def run_cell(source: str, namespace: dict, name: str) -> list[dict]:
    """Execute one code cell; its outputs in notebook form."""
    tree = ast.parse(source, filename=name)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    stdout, stderr = io.StringIO(), io.StringIO()
    value = None
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        exec(compile(tree, name, "exec"), namespace)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), name, "eval"), namespace)
    outs = []
    if stdout.getvalue():
        outs.append(nbformat.v4.new_output("stream", name="stdout", text=stdout.getvalue()))
    result = _display(value)
    if result is not None:
        outs.append(result)
    return outs + _figures()


def execute(path: Path) -> nbformat.NotebookNode:
    import matplotlib

    matplotlib.use("Agg")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["deepcage"] = {"source": f"tutorials/{path.name}", "made_by": "docs/execute_tutorials.py"}
    namespace: dict = {"__name__": "__main__"}
    count = 0
    for kind, source in split_cells(path.read_text()):
        if kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
            continue
        count += 1
        cell = nbformat.v4.new_code_cell(source, execution_count=count)
        cell.outputs = run_cell(source, namespace, f"{path.name}[cell {count}]")
        for out in cell.outputs:
            if out.get("output_type") == "execute_result":
                out["execution_count"] = count
        nb.cells.append(cell)
    return nb


def main(names: list[str]) -> None:
    paths = sorted(TUTORIALS.glob("*.md"))
    if names:
        paths = [p for p in paths if p.stem in names]
    OUT.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MPLBACKEND", "agg")
    for path in paths:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            cwd = Path.cwd()
            os.chdir(tmp)
            try:
                nb = execute(path)
            finally:
                os.chdir(cwd)
        target = OUT / f"{path.stem}.ipynb"
        nbformat.write(nb, target)
        print(f"{path.name}: {time.perf_counter() - t0:.0f} s -> {target.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
