"""deepcage: chromatin accessibility from DNA sequence and TF expression (DeepCAGE) for the scverse.

Typical use::

    import deepcage as dc

    adata = dc.datasets.synthetic()
    model = dc.tl.fit(adata)
    dc.tl.predict(model, adata)
"""

from importlib.metadata import PackageNotFoundError, version

from . import datasets, io, pl, pp, tl
from ._genome import Genome
from .io import read_bed, read_narrowpeak, write_bigwig
from .model import DeepCAGE

try:
    __version__ = version("deepcage")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = [
    "DeepCAGE",
    "Genome",
    "datasets",
    "io",
    "pl",
    "pp",
    "read_bed",
    "read_narrowpeak",
    "tl",
    "write_bigwig",
]
