"""Every tutorial runs top to bottom, unedited, as a user would run it (MyST notebooks in ``tutorials/``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).resolve().parents[1] / "tutorials").glob("*.md"))
_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.S | re.M)


def code_cells(path: Path) -> list[str]:
    return _CELL.findall(path.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs(path, tmp_path, monkeypatch, shared_data):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEEPCAGE_SHARED_DATA", str(shared_data))
    cells = code_cells(path)
    assert cells, f"{path.name} has no code cells"
    namespace: dict = {"__name__": "__main__"}
    for i, cell in enumerate(cells, start=1):
        try:
            exec(compile(cell, f"{path.name}[cell {i}]", "exec"), namespace)
        except Exception as err:  # pragma: no cover - the message is what matters
            raise AssertionError(f"{path.name}, code cell {i} failed: {err!r}\n---\n{cell}") from err
        finally:
            plt.close("all")


EXECUTED = Path(__file__).resolve().parents[1] / "docs" / "tutorials_executed"


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_executed_notebook_holds_the_tutorials_code(path):
    """The docs show docs/tutorials_executed/<name>.ipynb (outputs and figures): its code must be the tutorial's."""
    nbformat = pytest.importorskip("nbformat")
    executed = EXECUTED / f"{path.stem}.ipynb"
    redo = f"run `python docs/execute_tutorials.py {path.stem}` (with DEEPCAGE_SHARED_DATA set) and commit it"
    assert executed.is_file(), f"{executed.name} is missing: {redo}"
    nb = nbformat.read(executed, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert code == [c.rstrip("\n") for c in code_cells(path)], f"{executed.name} is stale: {redo}"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for paragraph in _CELL.sub("", path.read_text()).split("\n\n")[1:]:  # [0]: the front matter
        assert paragraph.strip() in text, (
            f"{executed.name} lacks the tutorial's text {paragraph[:60]!r}: {redo}"
        )
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert outputs and not [o for o in outputs if o.output_type == "error"]
