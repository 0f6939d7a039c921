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
SUBPACKAGES = ["io", "pp", "tl", "pl", "model", "datasets"]


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
    unresolved = [line for line in proc.stderr.splitlines() if "reference target not found" in line]
    assert not unresolved, (
        "cross-references to deepcage's objects that do not resolve (nitpicky):\n" + "\n".join(unresolved)
    )
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

    # every tutorial (MyST notebook in tutorials/) is a page, listed on the tutorials index; with an executed
    # notebook (docs/tutorials_executed/) the page is that notebook, with its outputs and figures
    tutorials_html = (out / "tutorials.html").read_text(encoding="utf-8")
    for md in sorted((ROOT / "tutorials").glob("*.md")):
        executed = (DOCS / "tutorials_executed" / f"{md.stem}.ipynb").is_file()
        page = f"{'tutorials_executed' if executed else 'tutorials'}/{md.stem}.html"
        assert (out / page).is_file(), f"tutorial {md.name} has no page"
        assert page in tutorials_html, f"tutorial {md.name} not in the toctree"
        html = (out / page).read_text(encoding="utf-8")
        if executed:
            assert "output" in html and ("<img" in html or "<table" in html or "<pre>" in html), page

    # the citation of the method's paper (GPB 2022, not the 2018 Bioinformatics paper) is on the references page
    references = (out / "references.html").read_text(encoding="utf-8")
    assert "10.1016/j.gpb.2021.08.015" in references and "Genomics Proteomics Bioinformatics" in references


def _docs_conf():
    spec = importlib.util.spec_from_file_location("deepcage_docs_conf", DOCS / "conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    return conf


def test_docs_conf_after_cookiecutter_scverse(monkeypatch):
    """Types in the Parameters lists, nitpicky, intersphinx for the packages deepcage links to (no build)."""
    pytest.importorskip("sphinx")
    monkeypatch.delenv("DEEPCAGE_DOCS_INTERSPHINX", raising=False)
    conf = _docs_conf()
    assert "sphinx_autodoc_typehints" in conf.extensions
    assert conf.extensions.index("sphinx.ext.napoleon") < conf.extensions.index("sphinx_autodoc_typehints")
    assert conf.nitpicky is True
    assert conf.always_document_param_types is True and conf.typehints_document_rtype is True
    for name in ["python", "numpy", "pandas", "anndata", "scanpy", "mudata", "torch", "lightning"]:
        assert name in conf.INTERSPHINX_MAPPING, name
    assert conf.intersphinx_mapping == {}  # offline: no download (a failed one is an unsilenceable warning)
    assert "deepcage.model" in conf.API_MODULES


def test_docs_nitpick_ignores_spare_deepcage(monkeypatch):
    """The offline ignores cover other packages only: a reference to a deepcage object is always checked, with
    no exception (no list of pending references, no pattern for the attribute tables of class pages)."""
    import re

    pytest.importorskip("sphinx")
    monkeypatch.delenv("DEEPCAGE_DOCS_INTERSPHINX", raising=False)
    conf = _docs_conf()
    for target in ["deepcage.tl.fit", "deepcage.DeepCAGE", "deepcage.model.TrainConfig", "fit", "DeepCAGE"]:
        for role in ["py:func", "py:class", "py:meth", "py:attr", "py:data", "py:obj"]:
            hits = [
                (r, t)
                for r, t in conf.nitpick_ignore_regex
                if re.fullmatch(r, role) and re.fullmatch(t, target)
            ]
            assert not hits, f"{role} {target} is ignored by {hits}"
    assert not getattr(conf, "nitpick_ignore", [])
    assert not any(re.fullmatch(t, "deepcage.DeepCAGE.seq_len") for _, t in conf.nitpick_ignore_regex)
    for name in ["numpy.ndarray", "anndata.AnnData", "collections.abc.Sequence", "pysam.VariantFile"]:
        assert any(re.fullmatch(t, name) for _, t in conf.nitpick_ignore_regex), name


def test_docs_class_pages_document_every_attribute():
    """Every attribute a class page lists has an entry: described in the class docstring's ``Attributes``, or
    documented on the page (``autoattribute`` / ``autoproperty``)."""
    conf = _docs_conf()
    pages = conf.attribute_pages()
    assert {"recipe", "hidden", "notes"} <= set(pages["deepcage.model.TrainConfig"])
    assert pages["deepcage.model.TrainConfig"]["uses_reference"] == "autoproperty"
    # described in the docstrings: no second entry
    assert "seq_len" not in pages["deepcage.DeepCAGE"] and "network" not in pages["deepcage.DeepCAGE"]
    assert "chroms" not in pages["deepcage.Genome"] and "width" not in pages["deepcage.io.Motif"]
    assert conf._attributes_section(
        "A.\n\nAttributes\n----------\na, b\n    Text.\nc : int\n    More.\n\nExamples\n--------\n>>> 1\n"
    ) == {"a", "b", "c"}
