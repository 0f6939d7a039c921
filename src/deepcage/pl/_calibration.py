"""Reliability (calibration) curves: observed frequency of accessibility against the predicted probability."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData

from .._keys import PREDICTION
from ._utils import _DOC_SHOW_SAVE, _finish, _new_ax

__all__ = ["calibration"]


def calibration(
    adata: AnnData | pd.DataFrame,
    *,
    key: str = PREDICTION,
    layer: str | None = None,
    groupby: str | None = None,
    samples: str | Sequence[str] = "test",
    loci: str | Sequence[str] = "test",
    n_bins: int = 10,
    hist: bool = True,
    ax: plt.Axes | None = None,
    show: bool | None = None,
    save: str | bool | None = None,
):
    """Reliability curves: fraction of accessible loci against the mean predicted probability, per bin.

    The selected samples x loci are pooled and binned by their prediction (:func:`deepcage.tl.calibration_table`).
    A calibrated model lies on the diagonal; points below it are over-confident (predicted more often than
    observed). Marker areas are proportional to the number of values in the bin, the legend gives each group's
    expected calibration error (ECE) and size, and a histogram of the predictions is drawn under the curves.
    For continuous observations (``task='regression'`` in the table) the mean observed signal is plotted
    against the mean prediction instead, and the legend gives the difference of the means.

    Parameters
    ----------
    adata
        Samples x loci AnnData (or MuData) with predictions in ``layers[key]``, or a table from
        :func:`deepcage.tl.calibration_table` (then ``key``, ``layer``, ``samples``, ``loci`` and ``n_bins`` are
        ignored and ``groupby`` must match the table's).
    key
        Prediction layer.
    layer
        Observed values (default ``layers['binary']``, else ``X``).
    groupby
        A column of ``var`` (e.g. ``'locus_class'``, or whether a locus had training labels) or ``obs``: one curve
        per group.
    samples, loci
        Which samples / loci, as in :func:`deepcage.tl.evaluate` (default: the test split).
    n_bins
        Number of equal-width bins over ``[0, 1]``.
    hist
        Draw the distribution of the predictions (per group, fraction of values per bin) in a panel below.
    ax
        Axes to draw on (default: a new figure). With ``hist=True`` the histogram panel is split off its bottom.
    {show_save}

    Returns
    -------
    The Axes of the reliability curves (``None`` when shown); the histogram panel is ``ax.figure.axes[-1]``.

    Examples
    --------
    >>> dc.pl.calibration(adata, groupby="locus_class")
    """
    from ..tl._evaluate import calibration_table

    if isinstance(adata, pd.DataFrame):
        tab = adata
        groupby = tab.attrs.get("groupby", groupby)
    else:
        tab = calibration_table(
            adata, key=key, layer=layer, samples=samples, loci=loci, groupby=groupby, n_bins=n_bins
        )
        key = tab.attrs.get("key", key)
    task = tab.attrs.get("task", "classification" if "frac_pos" in tab.columns else "regression")
    obs_col = "frac_pos" if task == "classification" else "mean_obs"
    for col in ("bin", "bin_lower", "bin_upper", "mean_pred", obs_col, "n"):
        if col not in tab.columns:
            raise KeyError(f"Column {col!r} not in the calibration table (columns: {list(tab.columns)}).")
    if groupby is not None and groupby not in tab.columns:
        raise KeyError(f"groupby={groupby!r} is not a column of the calibration table.")
    groups = list(pd.unique(tab[groupby])) if groupby is not None else [None]

    fig, ax = _new_ax(ax, (4.8, 5.2 if hist else 4.2))
    hax = None
    if hist:
        from mpl_toolkits.axes_grid1 import make_axes_locatable

        hax = make_axes_locatable(ax).append_axes("bottom", size="28%", pad=0.12, sharex=ax)
    lo, hi = float(tab["bin_lower"].min()), float(tab["bin_upper"].max())
    ax.plot([lo, hi], [lo, hi], ls="--", color="0.5", lw=1, label="perfectly calibrated", zorder=1)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    total = max(int(tab["n"].sum()), 1)
    for j, g in enumerate(groups):
        sub = tab if g is None else tab[tab[groupby] == g]
        sub = sub.sort_values("bin")
        filled = sub[sub["n"] > 0]
        n_g = int(sub["n"].sum())
        color = colors[j % len(colors)]
        name = "all" if g is None else f"{groupby} = {g}" if isinstance(g, (bool, np.bool_)) else str(g)
        if task == "classification":
            ece = np.abs(filled["mean_pred"] - filled[obs_col]).mul(filled["n"]).sum() / max(n_g, 1)
            label = f"{name}: ECE {ece:.3f} (n={n_g:,})"
        else:
            diff = (filled["mean_pred"] * filled["n"]).sum() / max(n_g, 1) - (
                filled[obs_col] * filled["n"]
            ).sum() / max(n_g, 1)
            label = f"{name}: mean pred − obs {diff:+.3g} (n={n_g:,})"
        ax.plot(filled["mean_pred"], filled[obs_col], "-", color=color, lw=1.4, label=label, zorder=2)
        sizes = 8 + 250 * np.sqrt(filled["n"].to_numpy() / total)
        ax.scatter(
            filled["mean_pred"], filled[obs_col], s=sizes, color=color, alpha=0.6, edgecolor="white", zorder=3
        )
        if hax is not None:
            frac = sub["n"].to_numpy() / max(n_g, 1)
            edges = np.r_[sub["bin_lower"].to_numpy(), sub["bin_upper"].to_numpy()[-1]]
            hax.stairs(
                frac, edges, color=color, lw=1.2, fill=len(groups) == 1, alpha=0.5 if len(groups) == 1 else 1
            )
    ax.set_xlim(lo, hi)
    if task == "classification":
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("observed fraction accessible")
    else:
        ax.set_ylabel("mean observed signal")
    ax.set_aspect("auto")
    ax.set_title(f"{key}: calibration ({tab.attrs.get('n_bins', len(tab['bin'].unique()))} bins)")
    ax.legend(fontsize="small", frameon=True, framealpha=0.85, edgecolor="none", loc="best")
    xlabel = "mean predicted probability" if task == "classification" else "mean prediction"
    if hax is not None:
        ax.tick_params(labelbottom=False)
        hax.set_xlabel(xlabel)
        hax.set_ylabel("fraction of\npredictions", fontsize="small")
        hax.set_yscale("log")
        hax.set_xlim(lo, hi)
    else:
        ax.set_xlabel(xlabel)
    return _finish(fig, ax, show=show, save=save, name=f"calibration_{key}")


calibration.__doc__ = calibration.__doc__.replace("{show_save}", _DOC_SHOW_SAVE)
