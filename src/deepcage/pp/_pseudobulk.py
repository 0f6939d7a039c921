"""Pseudobulk: cells x genes -> samples x genes by summing counts per group."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .._utils import get_modality

__all__ = ["pseudobulk"]

logger = logging.getLogger("deepcage")


def pseudobulk(
    adata,
    groupby: str,
    *,
    layer: str | None = None,
    min_cells: int = 10,
    sample_key: str | None = None,
) -> AnnData:
    """Sum raw counts of cells per group (cell type), giving samples x genes for :func:`tf_expression`.

    Pseudobulk profiles let a model trained on bulk data predict accessibility from scRNA-seq: each cell
    type (or cell type x donor with ``sample_key``) becomes one sample.

    Parameters
    ----------
    adata
        Cells x genes AnnData with raw counts (dense or sparse), or a MuData (its ``'rna'`` modality).
    groupby
        ``obs`` column with the group (e.g. cell type) of each cell.
    layer
        Layer with the raw counts (default ``X``).
    min_cells
        Groups with fewer cells are dropped, with a warning naming them.
    sample_key
        Optional ``obs`` column (e.g. donor): one pseudobulk per group x sample, named ``group_sample``.

    Returns
    -------
    A new AnnData of pseudobulk samples x genes with

    - ``X``: summed counts (float64, dense);
    - ``obs``: ``groupby`` (and ``sample_key``) values, ``n_cells``;
    - ``var``: a copy of the input ``var``;
    - ``uns['units'] = 'counts'`` and ``uns['pseudobulk']`` (``groupby``, ``sample_key``, ``min_cells``,
      ``dropped`` groups).

    Raises
    ------
    KeyError
        When ``groupby``, ``sample_key`` or ``layer`` is missing.
    ValueError
        When counts are negative or every group has fewer than ``min_cells`` cells.

    Examples
    --------
    >>> bulk = dc.pp.pseudobulk(cells, "cell_type", min_cells=20)  # doctest: +SKIP
    >>> dc.pp.tf_expression(bulk, tfs=model.tfs)  # doctest: +SKIP
    """
    adata = get_modality(adata, "rna")
    keys = [groupby] + ([sample_key] if sample_key is not None else [])
    for key in keys:
        if key not in adata.obs:
            raise KeyError(f"obs[{key!r}] not found (obs columns: {list(adata.obs.columns)[:20]}).")
    if layer is None:
        X = adata.X
    elif layer in adata.layers:
        X = adata.layers[layer]
    else:
        raise KeyError(f"Layer {layer!r} not found (layers: {list(adata.layers)}).")
    if X is None:
        raise ValueError("adata.X is empty: pass layer= with the raw counts.")
    values = X.data if sparse.issparse(X) else np.asarray(X).ravel()
    if values.size:
        if values.min() < 0:
            raise ValueError(
                f"{'X' if layer is None else f'layers[{layer!r}]'} has negative values: pseudobulk needs raw counts."
            )
        if not np.all(np.mod(values[:1_000_000], 1) == 0):
            warnings.warn(
                "The matrix has non-integer values: pseudobulk expects raw counts (pass layer='counts' if the "
                "raw counts are in a layer).",
                UserWarning,
                stacklevel=2,
            )

    labels = adata.obs[keys].copy()
    missing = labels.isna().any(axis=1).to_numpy()
    if missing.any():
        warnings.warn(
            f"{int(missing.sum())} cell(s) have no {' / '.join(keys)} value and are left out.",
            UserWarning,
            stacklevel=2,
        )
    labels = labels.astype(str)
    if sample_key is None:
        group_of = labels[groupby].to_numpy()
    else:
        group_of = (labels[groupby] + "_" + labels[sample_key]).to_numpy()
    cols = np.flatnonzero(~missing)
    rows, names = pd.factorize(group_of[cols], sort=True)
    names = np.asarray(names, dtype=object)
    indicator = sparse.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(len(names), adata.n_obs), dtype=np.float64
    )
    n_cells = np.asarray(indicator.sum(axis=1)).ravel().astype(np.int64)
    keep = n_cells >= min_cells
    dropped = {str(n): int(c) for n, c in zip(names[~keep], n_cells[~keep])}
    if not keep.any():
        raise ValueError(
            f"Every group has fewer than min_cells={min_cells} cells ({dropped}). Lower min_cells or group more coarsely."
        )
    if dropped:
        warnings.warn(
            f"Dropped {len(dropped)} group(s) with fewer than {min_cells} cells: "
            + ", ".join(f"{n} ({c})" for n, c in dropped.items()),
            UserWarning,
            stacklevel=2,
        )
    indicator = indicator[keep]
    summed = indicator @ (X if sparse.issparse(X) else np.asarray(X, dtype=np.float64))
    summed = summed.toarray() if sparse.issparse(summed) else np.asarray(summed)
    _, first_pos = np.unique(rows, return_index=True)
    first = cols[first_pos][keep]
    obs = pd.DataFrame(
        {key: adata.obs[key].to_numpy()[first] for key in keys}, index=pd.Index(names[keep].astype(str))
    )
    obs["n_cells"] = n_cells[keep]
    out = AnnData(X=np.asarray(summed, dtype=np.float64), obs=obs, var=adata.var.copy())
    out.uns["units"] = "counts"
    out.uns["pseudobulk"] = {
        "groupby": groupby,
        "sample_key": sample_key or "",
        "min_cells": int(min_cells),
        "dropped": dropped,
    }
    logger.info("pseudobulk: %d cells -> %d pseudobulk samples.", adata.n_obs, int(keep.sum()))
    return out
