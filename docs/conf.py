"""Sphinx configuration for the deepcage documentation.

Build locally (works offline)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

Cross-links into the Python, numpy, pandas, anndata, ... docs (intersphinx) need the network, so the
inventories are only downloaded when the environment variable ``DEEPCAGE_DOCS_INTERSPHINX=1`` is set (the
docs CI job does this). Without it the build makes no network request and passes with ``-W``.

The build is nitpicky (every cross-reference must resolve). Offline, references to other packages' objects
cannot be resolved and are ignored (``nitpick_ignore_regex``); references to deepcage's own objects are
always checked. Parameter and return types come from the annotations (``sphinx_autodoc_typehints``).

The API reference is generated from each subpackage's ``__all__``: the ``autosummary-all`` directive used
in ``api.md`` lists ``__all__`` at build time, and a ``builder-inited`` hook writes the autosummary stub
pages for exactly those names into ``docs/generated/``. A function added to ``dc.pp.__all__`` therefore
appears in the docs without editing any page here.
"""

from __future__ import annotations

import functools
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
    "sphinx_autodoc_typehints",  # after napoleon, as in cookiecutter-scverse: types in the Parameters lists
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
# The pages show the executed notebooks (outputs and figures) that ``docs/execute_tutorials.py`` wrote from the
# tutorials (the suite checks they hold the tutorials' code); a tutorial without one is shown as code only.
EXECUTED = Path(__file__).parent / "tutorials_executed"
_executed = {p.stem for p in EXECUTED.glob("*.ipynb")}
exclude_patterns += [f"tutorials/{stem}.md" for stem in _tutorial_md & _executed]
exclude_patterns += [f"tutorials_executed/{stem}.ipynb" for stem in _executed - _tutorial_md]  # stale ones

# Every cross-reference must resolve (cookiecutter-scverse sets this too). References to other packages'
# objects are ignored when their inventories are not loaded (offline, see ``nitpick_ignore_regex`` below).
nitpicky = True
HAS_TUTORIALS = bool(_tutorial_md) or any(TUTORIALS.glob("*.ipynb"))

# -- Autodoc / autosummary / napoleon ----------------------------------------

autosummary_generate = True
autosummary_imported_members = False
autosummary_ignore_module_all = False
autodoc_member_order = "bysource"
autodoc_default_options = {"show-inheritance": False}
autoclass_content = "class"
autosummary_context: dict = {}  # ``attribute_pages`` is filled in by generate_api_stubs

# -- sphinx-autodoc-typehints (as cookiecutter-scverse) ----------------------
# The annotations are shown in the Parameters lists (``name (type) – text``, the default in braces), not in
# the signatures; the return annotation becomes a "Return type" field. cookiecutter-scverse's template sets
# ``typehints_defaults = "braces"`` and keeps the extension's defaults for the rest; they are spelled out here.
typehints_defaults = "braces"
typehints_document_rtype = True
always_document_param_types = True  # also parameters without an entry in the docstring (``**kwargs``)
typehints_use_signature = False
typehints_use_signature_return = False

#: Where other packages document the classes that their private modules define (``pandas.core.frame.DataFrame``
#: is documented as ``pandas.DataFrame``): module prefix -> public module, for the links of the annotations.
PUBLIC_MODULES = {
    "pandas.core": "pandas",
    "anndata._core": "anndata",
    "mudata._core": "mudata",
    "matplotlib.axes._axes": "matplotlib.axes",
    "scipy.sparse._csr": "scipy.sparse",
    "torch.nn.modules": "torch.nn",
    "lightning.pytorch.trainer.trainer": "lightning.pytorch",
}


def typehints_fixup_module_name(module: str) -> str:
    """Public module of an annotation's class (see :data:`PUBLIC_MODULES`)."""
    for prefix, public in PUBLIC_MODULES.items():
        if module == prefix or module.startswith(prefix + "."):
            return public
    return module


@functools.cache
def _public_deepcage_names() -> dict[int, str]:
    """``id(object)`` -> the name it is documented under (``deepcage.DeepCAGE``, ``deepcage.model.DeepCAGENet``)."""
    out: dict[int, str] = {}
    for modname in API_MODULES:
        for name in api_names(modname):
            out.setdefault(id(getattr(importlib.import_module(modname), name)), f"{modname}.{name}")
    return out


def typehints_formatter(annotation, config) -> str | None:
    """deepcage's classes link to their page in the API reference, never to a private module.

    A class not in the API reference (e.g. a result type defined in a private module) is shown as code.
    """
    if not inspect.isclass(annotation) or not annotation.__module__.startswith("deepcage"):
        return None
    public = _public_deepcage_names().get(id(annotation))
    return f":py:class:`~{public}`" if public else f"``{annotation.__qualname__}``"


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

# -- Intersphinx and nitpicky ------------------------------------------------

#: The packages whose objects deepcage's docs link to. The inventories are downloaded only when
#: ``DEEPCAGE_DOCS_INTERSPHINX=1`` (the docs CI job): a failed download is a warning of its own that
#: ``suppress_warnings`` cannot silence, so an offline build with the mapping switched on could never pass ``-W``.
INTERSPHINX_MAPPING: dict[str, tuple[str, str | None]] = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable/", None),
    "pandas": ("https://pandas.pydata.org/pandas-docs/stable/", None),
    "anndata": ("https://anndata.readthedocs.io/en/stable/", None),
    "mudata": ("https://mudata.readthedocs.io/en/latest/", None),
    "scanpy": ("https://scanpy.readthedocs.io/en/stable/", None),
    "torch": ("https://docs.pytorch.org/docs/stable/", None),
    "lightning": ("https://lightning.ai/docs/pytorch/stable/", None),
    "scipy": ("https://docs.scipy.org/doc/scipy/", None),
    "sklearn": ("https://scikit-learn.org/stable/", None),
    "matplotlib": ("https://matplotlib.org/stable/", None),
}
INTERSPHINX = os.environ.get("DEEPCAGE_DOCS_INTERSPHINX", "") not in ("", "0", "false", "no")
intersphinx_mapping = INTERSPHINX_MAPPING if INTERSPHINX else {}
intersphinx_timeout = 10

#: Top-level modules of the objects each inventory documents (the standard library for ``python``).
_INVENTORY_MODULES = {
    "python": r"builtins|collections|concurrent|contextlib|dataclasses|datetime|enum|io|logging|os|pathlib|re"
    r"|types|typing|typing_extensions|warnings",
    **{name: name for name in INTERSPHINX_MAPPING if name != "python"},
}
#: References that stay unresolved even online: packages without an intersphinx inventory.
nitpick_ignore_regex = [
    (r"py:.*", rf"({pkg})(\..*)?") for pkg in ("pysam", "pyliftover", "pyjaspar", "memelite")
]
if not INTERSPHINX:
    # Offline no inventory is loaded, so every reference to another package's object (numpy.ndarray,
    # anndata.AnnData, collections.abc.Sequence ...) would be a nitpicky warning; they are checked online.
    # References to deepcage's own objects are checked in both builds.
    nitpick_ignore_regex += [(r"py:.*", rf"({mods})(\..*)?") for mods in _INVENTORY_MODULES.values()]

# functions as configuration values (the typehints hooks above) cannot be cached between builds: harmless
suppress_warnings = ["config.cache"]

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
API_MODULES = [
    "deepcage",
    "deepcage.io",
    "deepcage.pp",
    "deepcage.tl",
    "deepcage.pl",
    "deepcage.model",
    "deepcage.datasets",
]
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


class ClassAutosummary(Autosummary):
    """``autosummary`` whose summary lines resolve references to sibling members (``:meth:`save```).

    In a class page the tables of attributes and methods stand outside the class directive, so a summary
    line written relative to its class (as docstrings are) would not resolve there.
    """

    def get_table(self, items):
        parents = {real.rpartition(".")[0] for _, _, _, real in items}
        parent = parents.pop() if len(parents) == 1 else ""
        module, _, cls = parent.rpartition(".")
        ctx = self.env.ref_context
        if not (cls[:1].isupper() and module == ctx.get("py:module")) or ctx.get("py:class"):
            return super().get_table(items)
        outer = ctx.get("py:class", ...)
        ctx["py:class"] = cls
        try:
            return super().get_table(items)
        finally:
            if outer is ...:
                ctx.pop("py:class", None)
            else:
                ctx["py:class"] = outer


class AutosummaryAll(ClassAutosummary):
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
        self._modname = modname
        return super().run()

    def get_table(self, items):
        """The table, with the summary lines' references resolved in ``modname`` (as on the objects' pages).

        A summary such as "... for :func:`tf_expression`" is written relative to its own module; the entries
        are still named relative to ``deepcage`` (``pp.tf_expression``).
        """
        ctx = self.env.ref_context
        outer = ctx.get("py:module")
        ctx["py:module"] = self._modname
        try:
            return super().get_table(items)
        finally:
            if outer is None:
                ctx.pop("py:module", None)
            else:
                ctx["py:module"] = outer


def _attributes_section(doc: str) -> set[str]:
    """Names described in a (numpy-style) docstring's ``Attributes`` section (``a, b`` lines give both)."""
    lines = doc.splitlines()
    names: set[str] = set()
    for i, line in enumerate(lines[:-1]):
        if line.strip() != "Attributes" or set(lines[i + 1].strip()) != {"-"}:
            continue
        body = lines[i + 2 :]
        for j, entry in enumerate(body):
            if j + 1 < len(body) and body[j + 1].strip() and set(body[j + 1].strip()) == {"-"}:
                break  # the title of the next section
            if entry and not entry[0].isspace():
                names.update(n.strip() for n in entry.split(":")[0].split(","))
    return names


def attribute_pages() -> dict[str, dict[str, str]]:
    """For each class of the API reference: its attributes that its docstring's ``Attributes`` section does not
    describe, with the directive that documents them on the class page (``autoproperty`` / ``autoattribute``).

    The class page lists every attribute (``docs/_templates/autosummary/class.rst``); those described in the
    class docstring already have an entry to link to, the others (dataclass fields, properties with their own
    docstring) get one from these directives.
    """
    out: dict[str, dict[str, str]] = {}
    for modname in API_MODULES:
        mod = importlib.import_module(modname)
        for name in api_names(modname):
            cls = getattr(mod, name)
            if not inspect.isclass(cls) or not cls.__module__.startswith("deepcage"):
                continue
            documented = _attributes_section(inspect.getdoc(cls) or "")
            members = {}
            for attr in dir(cls):
                if attr.startswith("_") or attr in documented:
                    continue
                static = inspect.getattr_static(cls, attr, None)
                if isinstance(static, property):
                    members[attr] = "autoproperty"
                elif not callable(static) and not isinstance(static, classmethod | staticmethod):
                    members[attr] = "autoattribute"
            for field in getattr(cls, "__dataclass_fields__", {}):
                if field not in documented and not field.startswith("_"):
                    members.setdefault(field, "autoattribute")
            out[f"{modname}.{name}"] = members
    return out


def generate_api_stubs(app) -> None:
    """Write autosummary stub pages for every name shown by ``autosummary-all`` (before reading)."""
    from sphinx.ext.autosummary.generate import generate_autosummary_docs

    app.config.autosummary_context["attribute_pages"] = attribute_pages()

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
    """The toctree of ``tutorials.md``: each tutorial once, as its executed notebook when there is one.

    Before the first tutorial exists the (empty) toctree becomes a note: an empty glob is a build warning.
    """
    if docname != "tutorials":
        return
    text = source[0]
    start = text.find("```{toctree}")
    if start < 0:
        return
    end = text.find("```", start + 3)
    if not HAS_TUTORIALS:
        source[0] = text[:start] + "*No tutorial has been added yet.*" + text[end + 3 :]
        return
    entries = [
        f"tutorials_executed/{stem}" if stem in _executed else f"tutorials/{stem}"
        for stem in sorted(_tutorial_md)
    ]
    toctree = "```{toctree}\n:maxdepth: 1\n\n" + "\n".join(entries) + "\n"
    source[0] = text[:start] + toctree + text[end:]


_TORCH_MEMBERS: set[str] = set()


def _torch_module_members() -> set[str]:
    import torch

    return set(dir(torch.nn.Module)) | set(getattr(torch.nn.Module, "__annotations__", {}))


def skip_inherited_members(app, what, name, obj, skip, options):
    """Leave ``torch.nn.Module``'s own members (``add_module``, ``training`` ...) out of the class pages."""
    if skip or name.startswith("_"):
        return None
    if name in _TORCH_MEMBERS and not str(getattr(obj, "__module__", "") or "").startswith("deepcage"):
        return True
    return None


def data_docstring(app, what, name, obj, options, lines) -> None:
    """A constant re-exported by a package (``dc.model.RECIPES``) keeps the ``#:`` comment of its definition.

    autodoc looks for the comment only in the module named in the docs, and else shows the docstring of the
    value's type (``dict``'s), which is not about the constant.
    """
    if what != "data" or not name.startswith("deepcage."):
        return
    from sphinx.pycode import ModuleAnalyzer

    leaf = name.rpartition(".")[2]
    type_doc = inspect.getdoc(type(obj)) or ""
    for modname, mod in sorted(sys.modules.items()):
        if not modname.startswith("deepcage.") or getattr(mod, leaf, None) is not obj:
            continue
        try:
            doc = ModuleAnalyzer.for_module(modname).find_attr_docs().get(("", leaf))
        except Exception:  # no source for this module: try the next one
            continue
        if doc:
            lines[:] = list(doc)
            return
    if "\n".join(lines).strip() == type_doc.strip():
        lines[:] = []


def setup(app):
    global _TORCH_MEMBERS
    _TORCH_MEMBERS = _torch_module_members()
    app.add_directive("autosummary", ClassAutosummary, override=True)
    app.add_directive("autosummary-all", AutosummaryAll)
    app.connect("autodoc-skip-member", skip_inherited_members)
    app.connect("autodoc-process-docstring", data_docstring)
    app.connect("source-read", tutorials_placeholder)
    app.connect("builder-inited", generate_api_stubs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
