"""Reading values out of an AnnData: samples/loci chosen by split, names or mask, and layers as dense arrays.

Shared by the tools (evaluate, baselines, filters) and the plots.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

__all__ = ["dense", "get_layer", "select", "truth_layer"]


def select(adata: AnnData, which, axis: str) -> np.ndarray:
    """Integer indices of the samples (axis='obs') or loci (axis='var') chosen by ``which``."""
    frame = adata.obs if axis == "obs" else adata.var
    names = adata.obs_names if axis == "obs" else adata.var_names
    what = "samples" if axis == "obs" else "loci"
    if isinstance(which, str):
        if which == "all":
            return np.arange(len(names))
        if "split" not in frame.columns:
            raise KeyError(
                f"{what}={which!r} needs adata.{axis}['split'], which is missing. Split the data first "
                f"(dc.pp.split_{'samples' if axis == 'obs' else 'loci'}) or pass {what}='all' or a list of names."
            )
        idx = np.flatnonzero(frame["split"].astype(str).to_numpy() == which)
        if idx.size == 0:
            raise ValueError(
                f"No {what} have adata.{axis}['split'] == {which!r} (values: "
                f"{sorted(frame['split'].astype(str).unique())}). Pass {what}='all' or a list of names."
            )
        return idx
    arr = np.asarray(which)
    if arr.dtype == bool:
        if arr.shape != (len(names),):
            raise ValueError(f"Boolean {what} mask has length {arr.size}, expected {len(names)}.")
        return np.flatnonzero(arr)
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64)
    idx = names.get_indexer(pd.Index(arr.astype(str)))
    if (idx < 0).any():
        missing = arr[idx < 0]
        raise KeyError(f"{len(missing)} {what} not found in adata, e.g. {list(missing[:3])}.")
    return idx


def dense(mat, rows=None, cols=None) -> np.ndarray:
    """Rows/columns of a dense or sparse matrix as a dense float64 array."""
    if rows is not None:
        mat = mat[rows]
    if cols is not None:
        mat = mat[:, cols]
    if sparse.issparse(mat):
        mat = mat.toarray()
    return np.asarray(mat, dtype=np.float64)


def get_layer(adata: AnnData, layer: str | None):
    """``adata.layers[layer]``, or ``adata.X`` for ``None`` / ``'X'`` (clear errors when missing)."""
    if layer is None or layer == "X":
        if adata.X is None:
            raise ValueError("adata.X is empty; pass layer= naming the layer that holds the values.")
        return adata.X
    if layer not in adata.layers:
        raise KeyError(f"Layer {layer!r} not found in adata.layers (available: {list(adata.layers)}).")
    return adata.layers[layer]


def truth_layer(adata: AnnData, layer: str | None, task: str) -> tuple[str, str]:
    """Resolve (layer name, task) of the observed values."""
    if task not in ("auto", "classification", "regression"):
        raise ValueError(f"task must be 'auto', 'classification' or 'regression', got {task!r}.")
    if layer is None:
        if task == "regression":
            if "log_norm" not in adata.layers:
                raise KeyError(
                    "task='regression' without layer= uses layers['log_norm'], which is missing. "
                    "Pass layer= naming the continuous signal."
                )
            return "log_norm", "regression"
        return ("binary" if "binary" in adata.layers else "X"), "classification"
    if task == "auto":
        mat = get_layer(adata, layer)
        vals = mat.data if sparse.issparse(mat) else np.asarray(mat)
        task = "classification" if np.isin(vals, (0, 1)).all() else "regression"
    return layer, task
