"""The example data registry (kept at this path for imports; it lives in :mod:`deepcage._data_files`).

``deepcage._data_files`` imports nothing of deepcage, so that ``dc.pp.liftover`` can fetch chain files without
importing ``dc.datasets`` (whose loaders use ``dc.pp``): the dependency goes one way, datasets -> pp -> files.
"""

from __future__ import annotations

from .._data_files import (
    _HEME_RNA_COLUMNS,  # noqa: F401 (imported from here by tests)
    DATA_FILES,
    DATASET_FILES,
    DataFile,
    Source,
    _candidate_folders,  # noqa: F401
    cache_dir,
    chain_file,
    data_dir,
    download,
    fetch,
    registry,
)

__all__ = [
    "DATA_FILES",
    "DATASET_FILES",
    "DataFile",
    "Source",
    "cache_dir",
    "chain_file",
    "data_dir",
    "download",
    "fetch",
    "registry",
]
