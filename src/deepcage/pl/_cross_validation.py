"""Cross-validation over cell types: the model next to the baselines, per locus class."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ._performance import _METRIC_LABELS
from ._utils import _DOC_SHOW_SAVE, _finish, _new_ax

__all__ = ["cross_validation"]

_ORDER = ("deepcage", "expression_knn", "locus_mean", "sequence", "expression", "motif")


def cross_validation(
    table: pd.DataFrame,
    *,
    metric: str = "average_precision",
    classes: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
    ax: plt.Axes | None = None,
    show: bool | None = None,
    save: str | bool | None = None,
):
    """Per locus class and method: every held-out sample's score (dots) and the mean ± sd over seeds (bar).

    Parameters
    ----------
    table
        The result of :func:`deepcage.tl.cross_validate`.
    metric
        ``'average_precision'``, ``'auprc'`` or ``'auroc'``.
    classes
        Locus classes to show (default: those in the table, ``'all'`` first).
    methods
        Methods to show, in this order (default: the model first, then the baselines).
    ax
        Axes to draw on.
    {show_save}

    Returns
    -------
    The Axes (``None`` when shown).

    Examples
    --------
    >>> cv = dc.tl.cross_validate(mdata, n_folds=5, preset="small")  # doctest: +SKIP
    >>> dc.pl.cross_validation(cv)  # doctest: +SKIP
    """
    from ..tl._cross_validate import summarize_cv

    if metric not in table.columns:
        raise KeyError(f"Metric {metric!r} not in the table (columns: {list(table.columns)}).")
    t = table.dropna(subset=[metric])
    if t.empty:
        raise ValueError("The table has no scored rows (every held-out sample lacks positives?).")
    present = list(pd.unique(t["method"]))
    methods = (
        list(methods)
        if methods is not None
        else [m for m in _ORDER if m in present] + [m for m in present if m not in _ORDER]
    )
    known_order = ("all", "known", "novel", "variable", "rare", "test_region")
    found = list(pd.unique(t["locus_class"]))
    classes = (
        list(classes)
        if classes is not None
        else [c for c in known_order if c in found] + [c for c in found if c not in known_order]
    )
    summary = summarize_cv(t, metric)
    fig, ax = _new_ax(ax, (max(4.5, 0.5 * len(methods) * len(classes) + 1.5), 3.5))
    width = 0.8 / len(methods)
    x = np.arange(len(classes))
    rng = np.random.default_rng(0)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, method in enumerate(methods):
        colour = colours[j % len(colours)]
        pos = x - 0.4 + width * (j + 0.5)
        means = [
            summary.loc[method, (c, "mean")] if (c, "mean") in summary.columns else np.nan for c in classes
        ]
        sds = [summary.loc[method, (c, "sd")] if (c, "sd") in summary.columns else np.nan for c in classes]
        ax.bar(
            pos,
            np.nan_to_num(means),
            width * 0.9,
            yerr=np.nan_to_num(sds),
            color=colour,
            alpha=0.45,
            label=method,
            capsize=2,
        )
        for i, c in enumerate(classes):
            vals = t[(t["method"] == method) & (t["locus_class"] == c)].groupby("sample")[metric].mean()
            ax.scatter(
                pos[i] + rng.uniform(-width / 4, width / 4, len(vals)), vals, s=6, color=colour, zorder=3
            )
    ax.set_xticks(x)
    ax.set_xticklabels(classes)
    ax.set_xlabel("loci")
    ax.set_ylabel(_METRIC_LABELS.get(metric, metric))
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, frameon=False, ncol=min(3, len(methods)))
    ax.set_title("held-out cell types (mean ± sd over seeds)", fontsize=9)
    return _finish(fig, ax, show=show, save=save, name="cross_validation")


cross_validation.__doc__ = cross_validation.__doc__.replace("{show_save}", _DOC_SHOW_SAVE)
