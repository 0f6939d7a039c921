"""Sphinx configuration for the deepcage documentation.

Build locally (works offline)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

Cross-links into the Python, numpy, pandas, anndata, ... docs (intersphinx) need the network, so they are
only switched on when the environment variable ``DEEPCAGE_DOCS_INTERSPHINX=1`` is set (the docs CI job
does this). Without it the build makes no network request and passes with ``-W``.

The API reference is generated from each subpackage's ``__all__``: the ``autosummary-all`` directive used
in ``api.md`` lists ``__all__`` at build time, and a ``builder-inited`` hook writes the autosummary stub
pages for exactly those names into ``docs/generated/``. A function added to ``dc.pp.__all__`` therefore
appears in the docs without editing any page here.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import tempfile
from datetime import date
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.ext.autosummary import Autosummary

HERE = Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))  # build from a plain checkout too (normally deepcage is installed)

import deepcage  # noqa: E402

# -- Project information -----------------------------------------------------

project = "deepcage"
author = "deepcage developers"
copyright = f"{date.today().year}, {author}"
version = deepcage.__version__
release = version

# -- General configuration ---------------------------------------------------

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "sphinx.ext.mathjax",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
master_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    "**.ipynb_checkpoints",
    "**/jupyter_execute",
    "**/_build",
]

# Tutorials live in the repository's ``tutorials/`` folder (``docs/tutorials`` is a symlink to it) and are
# MyST-markdown notebooks. If a run of the tutorials leaves an ``.ipynb`` next to its ``.md``, only the
# ``.md`` is a source (otherwise Sphinx sees two files for one document).
TUTORIALS = ROOT / "tutorials"
_tutorial_md = {p.stem for p in TUTORIALS.glob("*.md")}  # (empty when the folder does not exist)
exclude_patterns += [f"tutorials/{p.name}" for p in TUTORIALS.glob("*.ipynb") if p.stem in _tutorial_md]

nitpicky = False  # numpy-style type names ("array-like", "AnnData or MuData") are not all resolvable
HAS_TUTORIALS = bool(_tutorial_md) or any(TUTORIALS.glob("*.ipynb"))

# -- Autodoc / autosummary / napoleon ----------------------------------------

autosummary_generate = True
autosummary_imported_members = False
autosummary_ignore_module_all = False
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"show-inheritance": False}
autoclass_content = "class"

napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_include_init_with_doc = False
napoleon_use_rtype = True
napoleon_use_param = True
# "Returns" as a generic section: its content is kept as written. The docstrings here describe in prose
# which slots a function writes; napoleon's numpy parser would turn every prose line into a separate
# "return value" (and break inline literals that span two lines). ``type`` + indented description still
# renders well (as a definition list).
napoleon_custom_sections = ["Returns"]

# -- MyST / myst-nb ----------------------------------------------------------

myst_enable_extensions = [
    "amsmath",
    "colon_fence",
    "deflist",
    "dollarmath",
    "html_image",
    "substitution",
    "tasklist",
]
myst_heading_anchors = 3
nb_execution_mode = "off"  # tutorials are executed by the test suite, not by the docs build
nb_merge_streams = True

# -- Intersphinx (network; opt-in) -------------------------------------------

intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
if os.environ.get("DEEPCAGE_DOCS_INTERSPHINX", "") not in ("", "0", "false", "no"):
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable/", None),
        "pandas": ("https://pandas.pydata.org/pandas-docs/stable/", None),
        "anndata": ("https://anndata.readthedocs.io/en/stable/", None),
        "mudata": ("https://mudata.readthedocs.io/en/latest/", None),
        "scanpy": ("https://scanpy.readthedocs.io/en/stable/", None),
        "torch": ("https://docs.pytorch.org/docs/stable/", None),
        "lightning": ("https://lightning.ai/docs/pytorch/stable/", None),
    }
intersphinx_timeout = 10

# -- HTML output -------------------------------------------------------------

html_theme = "sphinx_book_theme"
html_title = "deepcage"
html_theme_options = {
    "repository_url": "https://github.com/deepcage/deepcage",
    "use_repository_button": True,
    "path_to_docs": "docs/",
    "navigation_with_keys": False,
}
html_show_sourcelink = False

# -- API reference generated from ``__all__`` --------------------------------

#: Sections of the API page, in order. Classes re-exported at the top level (``dc.Genome``,
#: ``dc.DeepCAGE``) are documented once, under ``deepcage``; top-level shortcuts to subpackage functions
#: (``dc.read_narrowpeak`` is ``dc.io.read_narrowpeak``) are documented under their subpackage.
API_MODULES = ["deepcage", "deepcage.io", "deepcage.pp", "deepcage.tl", "deepcage.pl", "deepcage.datasets"]
API_OUTPUT = "generated"


def _exported(modname: str) -> list[tuple[str, object]]:
    mod = importlib.import_module(modname)
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n in dir(mod) if not n.startswith("_")]
    return [(n, getattr(mod, n)) for n in names if not inspect.ismodule(getattr(mod, n, None))]


def api_names(modname: str) -> list[str]:
    """Names from ``modname.__all__`` to document in its section (each object exactly once)."""
    top = dict(_exported("deepcage"))
    if modname == "deepcage":
        in_subpackages = {id(obj) for sub in API_MODULES[1:] for _, obj in _exported(sub)}
        return [n for n, obj in top.items() if inspect.isclass(obj) or id(obj) not in in_subpackages]
    return [
        n
        for n, obj in _exported(modname)
        if not (inspect.isclass(obj) and any(obj is other for other in top.values()))
    ]


class AutosummaryAll(Autosummary):
    """``autosummary`` of the ``__all__`` of the module given as argument (see :func:`api_names`).

    Entries are written relative to ``deepcage`` (``pp.bin_genome``), like scanpy's API page. Use it inside an
    ``{eval-rst}`` block: autosummary builds its table as reStructuredText, which MyST would read as Markdown.
    """

    required_arguments = 1
    optional_arguments = 0
    has_content = False
    option_spec = dict(Autosummary.option_spec)

    def run(self) -> list[nodes.Node]:
        modname = self.arguments[0]
        names = api_names(modname)
        if not names:
            para = nodes.paragraph()
            para += nodes.emphasis(text=f"Nothing is exported from {modname} yet.")
            return [para]
        prefix = modname.removeprefix("deepcage").lstrip(".")
        entries = [f"{prefix}.{n}" if prefix else n for n in names]
        self.content = StringList(entries, source=f"__all__ of {modname}")
        self.arguments = []
        self.options.setdefault("toctree", API_OUTPUT)
        self.options.setdefault("nosignatures", True)
        return super().run()


def generate_api_stubs(app) -> None:
    """Write autosummary stub pages for every name shown by ``autosummary-all`` (before reading)."""
    from sphinx.ext.autosummary.generate import generate_autosummary_docs

    out = Path(app.srcdir) / API_OUTPUT
    lines = [".. autosummary::", f"   :toctree: {out}", ""]
    lines += [f"   {mod}.{name}" for mod in API_MODULES for name in api_names(mod)]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "api_stubs.rst"
        src.write_text("\n".join(lines) + "\n", encoding="utf-8")
        written = generate_autosummary_docs(
            [str(src)],
            output_dir=out,
            suffix=".rst",
            app=app,
            imported_members=False,
            overwrite=True,
        )
    # A name removed from ``__all__`` must not leave an orphaned page behind (an orphan is a build warning).
    keep = {Path(f).resolve() for f in written}
    for stale in out.glob("*.rst"):
        if stale.resolve() not in keep:
            stale.unlink(missing_ok=True)


def tutorials_placeholder(app, docname: str, source: list[str]) -> None:
    """Before the first tutorial exists, replace the (empty) glob toctree of ``tutorials.md`` by a note.

    An empty glob is a build warning; as soon as one ``tutorials/*.md`` exists the toctree is used as is.
    """
    if docname != "tutorials" or HAS_TUTORIALS:
        return
    text = source[0]
    start = text.find("```{toctree}")
    if start >= 0:
        end = text.find("```", start + 3)
        text = text[:start] + "*No tutorial has been added yet.*" + text[end + 3 :]
    source[0] = text


def setup(app):
    app.add_directive("autosummary-all", AutosummaryAll)
    app.connect("source-read", tutorials_placeholder)
    app.connect("builder-inited", generate_api_stubs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
