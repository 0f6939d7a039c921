"""The one place that reads values out of an AnnData (after scanpy's ``sc.get._get_obs_rep``).

- :func:`select`: samples/loci chosen by split, names or mask;
- :func:`get_layer`, :func:`dense`: ``X`` or a layer, optionally as a dense array;
- :func:`default_layer`, :func:`truth_layer`: which layer holds the targets of a task;
- :func:`expr_frame`, :func:`motif_frame`: the TF-expression (``obsm``) and motif-score (``varm``) tables.

Shared by preprocessing, the tools (fit, predict, evaluate, baselines, filters) and the plots; the error
messages name what is missing and what writes it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from ._keys import BINARY, LOG_NORM

__all__ = ["default_layer", "dense", "expr_frame", "get_layer", "motif_frame", "select", "truth_layer"]


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


def get_layer(adata: AnnData, layer: str | None, *, hint: str = ""):
    """``adata.layers[layer]``, or ``adata.X`` for ``None`` / ``'X'``.

    Raises a ``KeyError`` naming the layers there are when ``layer`` is missing, a ``ValueError`` when ``X`` is
    asked for and empty; ``hint`` (a sentence: what writes the layer, which one to pass) ends both messages.
    """
    end = f" {hint}" if hint else ""
    if layer is None or layer == "X":
        if adata.X is None:
            raise ValueError(f"adata.X is empty; pass layer= naming the layer that holds the values.{end}")
        return adata.X
    if layer not in adata.layers:
        raise KeyError(f"Layer {layer!r} not found in adata.layers (available: {list(adata.layers)}).{end}")
    return adata.layers[layer]


def default_layer(adata: AnnData, task: str) -> str | None:
    """The layer a task's targets are read from when none is given: ``'binary'`` (else ``X``, ``None``) for
    classification, ``'log_norm'`` for regression."""
    if task != "regression":
        return BINARY if BINARY in adata.layers else None
    if LOG_NORM not in adata.layers:
        raise KeyError(
            "task='regression' without layer= uses layers['log_norm'], which is missing: run "
            "dc.pp.normalize_depth, or pass layer= naming the continuous signal."
        )
    return LOG_NORM


def truth_layer(adata: AnnData, layer: str | None, task: str) -> tuple[str, str]:
    """Resolve (layer name, task) of the observed values."""
    if task not in ("auto", "classification", "regression"):
        raise ValueError(f"task must be 'auto', 'classification' or 'regression', got {task!r}.")
    if layer is None:
        return default_layer(adata, task) or "X", "regression" if task == "regression" else "classification"
    if task == "auto":
        mat = get_layer(adata, layer)
        vals = mat.data if sparse.issparse(mat) else np.asarray(mat)
        task = "classification" if np.isin(vals, (0, 1)).all() else "regression"
    return layer, task


def _frame(adata: AnnData, slot: str, key: str, hint: str, require_names: bool) -> pd.DataFrame:
    mapping = getattr(adata, slot)
    if key not in mapping:
        raise KeyError(f"No adata.{slot}[{key!r}] ({slot} keys: {list(mapping)}). {hint}")
    obj = mapping[key]
    if isinstance(obj, pd.DataFrame):
        return obj
    arr = np.asarray(obj)
    if not require_names:
        return pd.DataFrame(arr, index=adata.obs_names if slot == "obsm" else adata.var_names)
    raise TypeError(
        f"{slot}[{key!r}] is a {type(obj).__name__} of shape {arr.shape} without TF names; deepcage needs a "
        "DataFrame with TF symbols as columns (as written by dc.pp.tf_expression / dc.pp.motif_scores)."
    )


def expr_frame(adata: AnnData, tf_key: str, *, require_names: bool = True) -> pd.DataFrame:
    """``obsm[tf_key]`` as a samples x TFs DataFrame (clear error when missing).

    An array without TF names is refused, or with ``require_names=False`` given integer columns.
    """
    hint = "Add normalised TF expression with dc.pp.tf_expression(adata, rna) first."
    return _frame(adata, "obsm", tf_key, hint, require_names)


def motif_frame(adata: AnnData, motif_key: str, *, require_names: bool = True) -> pd.DataFrame:
    """``varm[motif_key]`` as a loci x TFs DataFrame (clear error when missing; arrays as in :func:`expr_frame`)."""
    hint = "Score the loci with dc.pp.motif_scores(adata, motifs) first."
    return _frame(adata, "varm", motif_key, hint, require_names)
