"""The README's Python code runs as printed (like the tutorials, ``tests/test_tutorials.py``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
BLOCKS = _BLOCK.findall(README.read_text())


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 2


@pytest.mark.slow
@pytest.mark.parametrize("i", range(len(BLOCKS)), ids=[f"block{i + 1}" for i in range(len(BLOCKS))])
def test_readme_block_runs(i, tmp_path, monkeypatch, shared_data):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEEPCAGE_SHARED_DATA", str(shared_data))
    namespace: dict = {"__name__": "__main__"}
    try:
        exec(compile(BLOCKS[i], f"README.md[python block {i + 1}]", "exec"), namespace)
    finally:
        plt.close("all")
    adata = namespace.get("adata")
    if adata is not None and "split" in adata.var:
        counts = adata.var["split"].astype(str).value_counts()
        assert counts.get("test", 0) > 0 and counts.get("val", 0) > 0, (
            counts
        )  # leaves test and validation loci
