"""Pseudobulk: cells x genes -> samples x genes by summing counts per group."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .._layers import get_layer
from .._utils import get_modality

__all__ = ["pseudobulk"]

logger = logging.getLogger("deepcage")


def _sample(X) -> np.ndarray:
    values = X.data if sparse.issparse(X) else np.asarray(X).ravel()
    return values[:1_000_000]


def _integers(X) -> bool:
    values = _sample(X)
    return bool(np.all(np.mod(values, 1) == 0))


def _max(X) -> float:
    values = _sample(X)
    return float(values.max()) if values.size else 0.0


def _count_matrix(adata: AnnData, layer: str | None, use_raw: bool | None):
    """The matrix to sum (``X``, ``layers[layer]`` or ``raw.X``), its ``var`` and its name; warns on non-counts."""
    raw = adata.raw
    if use_raw and raw is None:
        raise ValueError(
            "use_raw=True, but adata.raw is None: pass layer= with the raw counts, or leave use_raw."
        )
    var = adata.var
    where = "X"
    if use_raw:
        X, var, where = raw.X, raw.var, "adata.raw.X"
    else:
        X = get_layer(adata, layer, hint="Pseudobulk sums raw counts.")
        where = "X" if layer in (None, "X") else f"layers[{layer!r}]"
    if use_raw is None and layer is None and raw is not None and not _integers(X) and _integers(raw.X):
        warnings.warn(
            f"X holds non-integer values (at most {_max(X):.3g}: log-normalised?) and adata.raw holds integer "
            f"counts: summing adata.raw.X ({raw.n_vars:,} genes), the raw counts a pseudobulk needs. Pass "
            "use_raw=False to sum X instead.",
            UserWarning,
            stacklevel=3,
        )
        X, var, where = raw.X, raw.var, "adata.raw.X"
    values = X.data if sparse.issparse(X) else np.asarray(X).ravel()
    if values.size:
        if values.min() < 0:
            raise ValueError(f"{where} has negative values: pseudobulk needs raw counts.")
        if not _integers(X):
            counts = [k for k in adata.layers if _integers(adata.layers[k])]
            hint = (
                f"pass layer={counts[0]!r}, which holds integer counts"
                if counts
                else "pass layer= with the raw counts (e.g. layer='counts')"
            )
            logged = f" (at most {_max(X):.3g}: log-normalised?)" if _max(X) < 50 else ""
            warnings.warn(
                f"{where} has non-integer values{logged}: pseudobulk sums raw counts, and a sum of normalised or "
                f"log values is not a pseudobulk; {hint}.",
                UserWarning,
                stacklevel=3,
            )
    return X, var, where


def _groups(adata: AnnData, keys: list[str], min_cells: int):
    """The groups x cells 0/1 indicator of the groups kept, their names, first cells and sizes.

    Returns ``(indicator, names, first, n_cells, dropped)`` of the groups with at least ``min_cells`` cells:
    ``first`` is the first cell of each, ``dropped`` names the other groups with their cell counts.
    """
    groupby, sample_key = keys[0], (keys[1] if len(keys) > 1 else None)
    labels = adata.obs[keys].copy()
    missing = labels.isna().any(axis=1).to_numpy()
    if missing.any():
        warnings.warn(
            f"{int(missing.sum())} cell(s) have no {' / '.join(keys)} value and are left out.",
            UserWarning,
            stacklevel=3,
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
            stacklevel=3,
        )
    _, first_pos = np.unique(rows, return_index=True)
    return indicator[keep], names[keep], cols[first_pos][keep], n_cells[keep], dropped


def pseudobulk(
    adata,
    groupby: str,
    *,
    layer: str | None = None,
    min_cells: int = 10,
    sample_key: str | None = None,
    use_raw: bool | None = None,
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
    use_raw
        Sum ``adata.raw`` (scanpy keeps the raw counts there before ``normalize_total``/``log1p``). Default
        (None): ``adata.raw`` when ``X`` holds non-integer values (log-normalised) and ``adata.raw`` holds
        integer counts, with a warning saying so; ``False`` sums ``X`` (or ``layer``) whatever it holds.

    Returns
    -------
    A new AnnData of pseudobulk samples x genes with

    - ``X``: summed counts (float64, dense);
    - ``obs``: ``groupby`` (and ``sample_key``) values, ``n_cells``;
    - ``var``: a copy of the input ``var`` (of ``adata.raw.var`` when the raw counts are summed);
    - ``uns['units'] = 'counts'`` and ``uns['pseudobulk']`` (``groupby``, ``sample_key``, ``min_cells``,
      ``dropped`` groups, ``source``: the matrix summed).

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
    if use_raw and layer is not None:
        raise ValueError(f"Pass layer={layer!r} or use_raw=True, not both: they name two count matrices.")
    X, var, where = _count_matrix(adata, layer, use_raw)
    indicator, names, first, n_cells, dropped = _groups(adata, keys, min_cells)
    summed = indicator @ (X if sparse.issparse(X) else np.asarray(X, dtype=np.float64))
    summed = summed.toarray() if sparse.issparse(summed) else np.asarray(summed)
    obs = pd.DataFrame(
        {key: adata.obs[key].to_numpy()[first] for key in keys}, index=pd.Index(names.astype(str))
    )
    obs["n_cells"] = n_cells
    out = AnnData(X=np.asarray(summed, dtype=np.float64), obs=obs, var=var.copy())
    out.uns["units"] = "counts"
    out.uns["pseudobulk"] = {
        "groupby": groupby,
        "sample_key": sample_key or "",
        "min_cells": int(min_cells),
        "dropped": dropped,
        "source": where,
    }
    logger.info("pseudobulk: %d cells -> %d pseudobulk samples.", adata.n_obs, len(names))
    return out
