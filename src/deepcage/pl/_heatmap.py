"""Heatmap of predicted accessibility: samples (or groups of samples) x the most variable or chosen loci."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData

from .._keys import PREDICTION
from .._layers import dense, get_layer, select
from .._utils import get_modality
from ._utils import _DOC_SHOW_SAVE, _finish

__all__ = ["heatmap"]

_CLUSTER = {False: (), None: (), "samples": ("samples",), "loci": ("loci",), "both": ("samples", "loci")}
_CLUSTER[True] = _CLUSTER["both"]


def _values(ad: AnnData, layer: str | None) -> tuple[object, str]:
    """The prediction matrix and its name: ``layers[layer]``, ``X`` for ``'X'``; default ``'deepcage'`` else ``X``."""
    if layer is None:
        if PREDICTION in ad.layers:
            return ad.layers[PREDICTION], PREDICTION
        if ad.X is None:
            raise ValueError(
                "No predictions: adata has no layers['deepcage'] and X is empty. Run dc.tl.predict, or pass layer=."
            )
        return ad.X, "X"
    hint = (
        "Predictions are in layers['deepcage'] after dc.tl.predict(model, adata), in X of the AnnData it returns "
        "for new samples."
    )
    return get_layer(ad, layer, hint=hint), layer


def _order(mat: np.ndarray, metric: str) -> np.ndarray:
    """Leaf order of an average-linkage clustering of the rows (optimal leaf ordering)."""
    if mat.shape[0] < 3:
        return np.arange(mat.shape[0])
    from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
    from scipy.spatial.distance import pdist

    x = mat
    if metric == "correlation":
        flat = x.std(axis=1) == 0  # correlation is undefined for constant rows: jitter them apart
        if flat.any():
            x = x.copy()
            x[flat] += np.linspace(0, 1e-9, x.shape[1])
    dist = np.nan_to_num(pdist(x, metric=metric), nan=1.0)
    link = linkage(dist, method="average")
    return leaves_list(optimal_leaf_ordering(link, dist))


def _nearest_genes(var: pd.DataFrame, tss, max_distance: int) -> list[str | None]:
    """``GENE +1.2 kb`` for each locus: the nearest TSS within ``max_distance`` (``None`` when there is none)."""
    from ..tl._gis import _norm_chrom, _read_tss

    table = _read_tss(tss)
    table = table.assign(_c=table["chrom"].map(_norm_chrom), _p=table["start"].astype(np.int64))
    by_chrom = {c: g.sort_values("_p") for c, g in table.groupby("_c")}
    out: list[str | None] = []
    for chrom, start, end in zip(var["chrom"].astype(str), var["start"], var["end"]):
        g = by_chrom.get(_norm_chrom(chrom))
        if g is None:
            out.append(None)
            continue
        mid = (int(start) + int(end)) // 2
        pos = g["_p"].to_numpy()
        i = int(np.searchsorted(pos, mid))
        cand = [j for j in (i - 1, i) if 0 <= j < len(pos)]
        j = min(cand, key=lambda j: abs(pos[j] - mid))
        d = mid - int(pos[j])
        if abs(d) > max_distance:
            out.append(None)
        else:
            out.append(f"{g['symbol'].iloc[j]} {d / 1e3:+.1f} kb")
    return out


def _locus_labels(
    ad: AnnData, l_idx: np.ndarray, var_labels: str | None, tss, max_distance: int
) -> list[str]:
    names = [str(n) for n in ad.var_names[l_idx]]
    if var_labels is not None:
        if var_labels not in ad.var.columns:
            raise KeyError(
                f"var_labels={var_labels!r} is not a column of adata.var ({list(ad.var.columns)})."
            )
        return [str(v) for v in ad.var[var_labels].to_numpy()[l_idx]]
    if {"chrom", "start", "end"} <= set(ad.var.columns):
        var = ad.var.iloc[l_idx]
        names = [f"{c}:{int(s):,}" for c, s in zip(var["chrom"].astype(str), var["start"])]
        if tss is not None:
            genes = _nearest_genes(var, tss, max_distance)
            names = [f"{g} ({n})" if g else n for g, n in zip(genes, names)]
    return names


def heatmap(
    adata: AnnData,
    loci: str | Sequence[str] | np.ndarray | None = None,
    *,
    layer: str | None = None,
    groupby: str | None = None,
    samples: str | Sequence[str] | np.ndarray = "all",
    n_top: int = 50,
    cluster: bool | str = "loci",
    metric: str = "euclidean",
    standard_scale: str | None = None,
    swap_axes: bool = False,
    var_labels: str | None = None,
    tss=None,
    max_distance: int = 100_000,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar_title: str | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    ax: plt.Axes | None = None,
    show: bool | None = None,
    save: str | bool | None = None,
):
    """Predicted accessibility across many samples: samples (or groups) x loci, like ``sc.pl.matrixplot``.

    Rows are the samples of a prediction AnnData (for instance the one :func:`deepcage.tl.predict` returns for
    new samples, or a pseudobulk's clusters), or the mean over the samples of each group of ``obs[groupby]``;
    columns are the ``n_top`` loci whose prediction varies most across those rows (variance), or the loci given.
    Rows and columns can be reordered by hierarchical clustering (average linkage, optimal leaf order).

    Parameters
    ----------
    adata
        Samples x loci AnnData (or MuData: its ``'atac'`` modality) with predictions.
    loci
        Loci to show: names, a boolean mask, integer positions or a split name (``'test'``); default: the
        ``n_top`` most variable loci across the rows.
    layer
        Where the predictions are: a layer name, or ``'X'``. Default: ``layers['deepcage']`` when present (what
        :func:`deepcage.tl.predict` writes into an AnnData), else ``X`` (an AnnData of new samples returned by
        :func:`deepcage.tl.predict` holds them there).
    groupby
        An ``obs`` column: one row per group (its mean prediction), labelled ``group (n=samples)``, in the order
        of the categories.
    samples
        Samples to use: ``'all'``, a split name (``'test'``), names or a boolean mask.
    n_top
        Number of most variable loci shown when ``loci`` is not given.
    cluster
        Reorder by hierarchical clustering: ``'loci'`` (default), ``'samples'`` (rows: samples or groups),
        ``'both'`` / ``True``, or ``False`` (rows in ``adata`` / category order, loci in genome order).
    metric
        Distance of the clustering (any :func:`scipy.spatial.distance.pdist` metric, e.g. ``'correlation'``).
    standard_scale
        ``'var'`` (each locus scaled to 0-1 over the rows) or ``'obs'`` (each row scaled to 0-1), as in scanpy;
        default: the probabilities as they are, on a 0-1 colour scale.
    swap_axes
        Loci as rows and samples as columns.
    var_labels
        A ``var`` column to label the loci with (default: ``chrom:start`` with thousands separators, or the locus
        names).
    tss
        A TSS table (BED: chrom, start, end, id, symbol[, strand], e.g. ``refGene_hg19_TSS.bed``, or a DataFrame
        with ``chrom``, ``start``, ``symbol``): loci are labelled with the nearest gene and the distance to its TSS.
    max_distance
        Only genes whose TSS is within this many bp of the locus centre label it.
    cmap, vmin, vmax
        Colour map and its limits (default 0-1 for probabilities or scaled values, else the data range).
    colorbar_title
        Colour bar label (default ``'predicted P(open)'``, with the scaling when ``standard_scale`` is set).
    title
        Title (default: what the rows and columns are).
    figsize
        Figure size when ``ax`` is not given (default: grows with the number of rows and columns).
    ax
        Axes to draw the heatmap on (the colour bar takes space from it).
    {show_save}

    Returns
    -------
    The Axes of the heatmap (``None`` when shown). The image is ``ax.images[0]`` (rows x columns as drawn), the
    tick labels name the rows and columns, and ``ax.figure.axes[-1]`` is the colour bar.

    Examples
    --------
    >>> new = dc.tl.predict(model, expr=pseudobulk)  # doctest: +SKIP
    >>> dc.pl.heatmap(new, groupby="cell_type", n_top=40, cluster="both")  # doctest: +SKIP
    >>> dc.pl.heatmap(
    ...     adata, ["chr20:10600000-10600200", "chr20:10650000-10650200"], layer="deepcage"
    ... )  # doctest: +SKIP
    """
    ad = get_modality(adata, "atac")
    if cluster not in _CLUSTER:
        raise ValueError(f"cluster must be 'loci', 'samples', 'both', True or False, got {cluster!r}.")
    if standard_scale not in (None, "var", "obs"):
        raise ValueError(f"standard_scale must be None, 'var' or 'obs', got {standard_scale!r}.")
    if int(n_top) < 1:
        raise ValueError(f"n_top must be at least 1, got {n_top!r}.")
    mat, name = _values(ad, layer)
    s_idx = select(ad, samples, "obs")
    if s_idx.size == 0:
        raise ValueError("No samples selected.")
    values = dense(mat, rows=s_idx)
    if groupby is not None:
        if groupby not in ad.obs.columns:
            raise KeyError(f"groupby={groupby!r} is not a column of adata.obs ({list(ad.obs.columns)}).")
        col = ad.obs[groupby].iloc[s_idx]
        cats = (
            [c for c in col.cat.categories if (col == c).any()]
            if hasattr(col, "cat")
            else sorted(col.unique())
        )
        codes = col.to_numpy()
        values = np.vstack([values[codes == c].mean(axis=0) for c in cats])
        row_labels = [f"{c} (n={int((codes == c).sum())})" for c in cats]
    else:
        row_labels = [str(n) for n in ad.obs_names[s_idx]]

    if loci is None:
        var = np.nanvar(values, axis=0)
        l_idx = np.sort(np.argsort(-var, kind="stable")[: int(n_top)])
        what_cols = f"{l_idx.size} most variable loci"
    else:
        l_idx = select(ad, loci, "var")
        what_cols = f"{l_idx.size} loci"
    if l_idx.size == 0:
        raise ValueError("No loci selected.")
    values = values[:, l_idx]
    col_labels = _locus_labels(ad, l_idx, var_labels, tss, max_distance)

    if standard_scale is not None:
        axis = 0 if standard_scale == "var" else 1
        lo = values.min(axis=axis, keepdims=True)
        span = values.max(axis=axis, keepdims=True) - lo
        values = (values - lo) / np.where(span > 0, span, 1.0)
    todo = _CLUSTER[cluster]
    r_ord = _order(values, metric) if "samples" in todo else np.arange(values.shape[0])
    c_ord = _order(values.T, metric) if "loci" in todo else np.arange(values.shape[1])
    values = values[np.ix_(r_ord, c_ord)]
    row_labels = [row_labels[i] for i in r_ord]
    col_labels = [col_labels[i] for i in c_ord]
    n_groups = values.shape[0]
    what_rows = f"{n_groups} groups of {groupby}" if groupby is not None else f"{n_groups} samples"
    if swap_axes:
        values, row_labels, col_labels = values.T, col_labels, row_labels

    is_prob = np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1
    if vmin is None and vmax is None and (is_prob or standard_scale is not None):
        vmin, vmax = 0.0, 1.0
    if colorbar_title is None:
        colorbar_title = "predicted P(open)" if name != "X" or is_prob else "predicted value"
        if standard_scale is not None:
            colorbar_title += f"\n(scaled 0-1 per {'locus' if standard_scale == 'var' else 'row'})"

    n_rows, n_cols = values.shape
    if ax is None:
        size = figsize or (
            min(22.0, max(4.5, 0.16 * n_cols + 3.0)),
            min(18.0, max(2.5, 0.2 * n_rows + 2.2)),
        )
        fig, ax = plt.subplots(figsize=size)
    else:
        fig = ax.figure
    im = ax.imshow(values, aspect="auto", interpolation="nearest", cmap=cmap, vmin=vmin, vmax=vmax)
    fontsize = 7 if max(n_rows, n_cols) > 30 else 8
    for axis, labels, n in (("y", row_labels, n_rows), ("x", col_labels, n_cols)):
        step = max(1, int(np.ceil(n / 80)))  # at most 80 labels on an axis: every step-th one beyond that
        ticks = np.arange(0, n, step)
        if axis == "y":
            ax.set_yticks(ticks)
            ax.set_yticklabels([labels[i] for i in ticks], fontsize=fontsize)
        else:
            ax.set_xticks(ticks)
            ax.set_xticklabels([labels[i] for i in ticks], fontsize=fontsize, rotation=90)
    ax.tick_params(length=2, pad=1)
    sample_axis = groupby if groupby is not None else "samples"
    ax.set_xlabel(sample_axis if swap_axes else "loci")
    ax.set_ylabel("loci" if swap_axes else sample_axis)
    if title is None:
        title = f"{name}: {what_rows} x {what_cols}"
        if todo:
            title += f" (clustered: {' and '.join(todo)})"
    ax.set_title(title, fontsize="medium")
    cbar = fig.colorbar(im, ax=ax, fraction=0.04 if n_cols > 20 else 0.08, pad=0.02)
    cbar.set_label(colorbar_title)
    return _finish(fig, ax, show=show, save=save, name="heatmap")


heatmap.__doc__ = heatmap.__doc__.replace("{show_save}", _DOC_SHOW_SAVE)
