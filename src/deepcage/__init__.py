"""deepcage: chromatin accessibility from DNA sequence and TF expression (DeepCAGE) for the scverse.

Typical use::

    import deepcage as dc

    adata = dc.datasets.synthetic()
    model = dc.tl.fit(adata)
    dc.tl.predict(model, adata)

Submodules and the top-level names are imported on first use (as in CREsted and pertpy), so that
``import deepcage`` and the command line answer at once; torch, lightning, scanpy and matplotlib load only
when a function needs them.
"""

from __future__ import annotations

import importlib
import importlib.util
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from ._settings import settings

try:
    __version__ = version("deepcage")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

if TYPE_CHECKING:  # for type checkers and IDEs; at run time these load lazily through __getattr__
    from . import datasets, io, pl, pp, tl
    from ._genome import Genome
    from .io import read_bed, read_narrowpeak, write_bigwig
    from .model import DeepCAGE

_SUBMODULES = {"datasets", "io", "model", "pl", "pp", "tl"}
_NAMES = {
    "DeepCAGE": ".model",
    "Genome": "._genome",
    "read_bed": ".io",
    "read_narrowpeak": ".io",
    "write_bigwig": ".io",
}

__all__ = [
    "DeepCAGE",
    "Genome",
    "datasets",
    "io",
    "pl",
    "pp",
    "read_bed",
    "read_narrowpeak",
    "settings",
    "tl",
    "write_bigwig",
]


def __getattr__(name: str):
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name], __name__), name)
    elif name in _SUBMODULES or (
        not name.startswith("__") and importlib.util.find_spec(f"{__name__}.{name}") is not None
    ):
        value = importlib.import_module(f".{name}", __name__)  # also private ones, as after an eager import
    else:
        raise AttributeError(f"module 'deepcage' has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    """The public names (and ``__version__``), not the module's own imports (``importlib``, ``TYPE_CHECKING``,
    ``annotations``, ...): what tab completion on ``dc.`` offers."""
    return sorted({*__all__, "__version__", "model"})
