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
