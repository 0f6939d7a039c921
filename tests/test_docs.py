"""The documentation builds without warnings (``sphinx-build -W``), offline, and documents the public API."""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SUBPACKAGES = ["io", "pp", "tl", "pl", "datasets"]


def _expected_api_pages() -> list[str]:
    """Page names (``generated/<name>.html``) that the API reference must contain, from the ``__all__`` lists.

    A class exported at the top level (``dc.Genome``, ``dc.DeepCAGE``) is documented there once; every other
    name of a subpackage's ``__all__`` has a page under that subpackage.
    """
    top = importlib.import_module("deepcage")
    top_classes = [getattr(top, n) for n in top.__all__ if inspect.isclass(getattr(top, n))]
    pages = [f"deepcage.{n}" for n in top.__all__ if inspect.isclass(getattr(top, n))]
    for sub in SUBPACKAGES:
        mod = importlib.import_module(f"deepcage.{sub}")
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.ismodule(obj) or (inspect.isclass(obj) and any(obj is c for c in top_classes)):
                continue
            pages.append(f"deepcage.{sub}.{name}")
    return pages


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_nb")
    pytest.importorskip("sphinx_book_theme")
    out = tmp_path / "html"
    env = {k: v for k, v in os.environ.items() if k != "DEEPCAGE_DOCS_INTERSPHINX"}  # no network
    env["MPLBACKEND"] = "agg"
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-b",
        "html",
        "-d",
        str(tmp_path / "doctrees"),
        str(DOCS),
        str(out),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (
        f"sphinx-build failed (exit {proc.returncode}):\n{proc.stderr[-6000:]}\n{proc.stdout[-2000:]}"
    )

    for page in ["index", "installation", "concepts", "api", "tutorials", "changelog", "references"]:
        assert (out / f"{page}.html").is_file(), f"docs page {page}.html was not built"

    missing = [p for p in _expected_api_pages() if not (out / "generated" / f"{p}.html").is_file()]
    assert not missing, f"API pages missing for names in __all__: {missing}"

    # every public name is linked from the API overview page
    api_html = (out / "api.html").read_text(encoding="utf-8")
    unlinked = [p for p in _expected_api_pages() if f"generated/{p}.html" not in api_html]
    assert not unlinked, f"API overview does not link: {unlinked}"

    # every tutorial (MyST notebook in tutorials/) is a page, listed on the tutorials index
    tutorials_html = (out / "tutorials.html").read_text(encoding="utf-8")
    for md in sorted((ROOT / "tutorials").glob("*.md")):
        assert (out / "tutorials" / f"{md.stem}.html").is_file(), f"tutorial {md.name} has no page"
        assert f"tutorials/{md.stem}.html" in tutorials_html, f"tutorial {md.name} not in the toctree"

    # the citation of the method's paper (GPB 2022, not the 2018 Bioinformatics paper) is on the references page
    references = (out / "references.html").read_text(encoding="utf-8")
    assert "10.1016/j.gpb.2021.08.015" in references and "Genomics Proteomics Bioinformatics" in references
