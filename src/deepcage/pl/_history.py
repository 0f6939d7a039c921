"""Training curves from ``model.history``."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from ._utils import _DOC_SHOW_SAVE, _finish

__all__ = ["history"]


def history(
    model,
    *,
    metrics: Sequence[str] | None = None,
    ax: plt.Axes | Sequence[plt.Axes] | None = None,
    show: bool | None = None,
    save: str | bool | None = None,
):
    """Training curves: losses on the left, other validation metrics (e.g. ``val_auprc``) on the right.

    Parameters
    ----------
    model
        A fitted :class:`deepcage.DeepCAGE` (its ``history``), or a DataFrame with one row per epoch: an
        ``epoch`` column or index (else the row number) and columns such as ``train_loss``, ``val_loss``, ``val_auprc``.
    metrics
        Columns to plot (default: every numeric column except ``epoch``/``step``).
    ax
        One Axes or a list of two to draw on (losses, other metrics).
    {show_save}

    Returns
    -------
    List of Axes: ``[losses]`` or ``[losses, metrics]`` (``None`` when shown). A dotted line marks the epoch
    whose weights a model kept: the best epoch of its early-stopping metric (``model.params['monitor']``,
    ``val_auprc`` by default), else of ``val_loss`` (for a history DataFrame).

    Notes
    -----
    ``train_loss`` is the training objective: with the kNN prior it adds the no-label mode's loss to the
    labelled one, and closed-everywhere loci are subsampled and up-weighted. Its level is therefore not
    comparable with ``val_loss`` (the labelled mode on every validation locus); compare their trends.

    Examples
    --------
    >>> model = dc.tl.fit(adata)
    >>> dc.pl.history(model)
    """
    if isinstance(model, pd.DataFrame):
        hist = model
    else:  # history_: objects made like models before the rename
        hist = getattr(model, "history", None)
        hist = getattr(model, "history_", None) if hist is None else hist
    if hist is None:
        raise ValueError("The model has no history; fit it first or pass the history DataFrame.")
    hist = pd.DataFrame(hist)
    if hist.empty:
        raise ValueError("The training history is empty (no completed epoch).")
    if "epoch" in hist.columns:
        x = hist["epoch"].to_numpy()
    elif hist.index.name == "epoch":
        x = hist.index.to_numpy()
    else:
        x = np.arange(len(hist))
    if metrics is None:
        metrics = [
            c for c in hist.columns if c not in ("epoch", "step") and pd.api.types.is_numeric_dtype(hist[c])
        ]
    missing = [m for m in metrics if m not in hist.columns]
    if missing:
        raise KeyError(f"Column(s) {missing} not in the history (columns: {list(hist.columns)}).")
    losses = [m for m in metrics if "loss" in m]
    others = [m for m in metrics if "loss" not in m]
    n_panels = int(bool(losses)) + int(bool(others))
    if n_panels == 0:
        raise ValueError("Nothing to plot: no metric columns.")
    own_figure = ax is None
    if own_figure:
        fig, axes = plt.subplots(
            1, n_panels, figsize=(4.6 * n_panels, 3.4), squeeze=False, layout="constrained"
        )
        axes = list(axes[0])
    else:
        axes = [ax] if isinstance(ax, plt.Axes) else list(ax)
        if len(axes) < n_panels:
            raise ValueError(f"Need {n_panels} Axes (losses and other metrics), got {len(axes)}.")
        fig = axes[0].figure
    panels = [p for p in (losses, others) if p]
    best, best_label = None, None
    monitor = (
        (getattr(model, "params", None) or {}).get("monitor") if not isinstance(model, pd.DataFrame) else None
    )
    monitor = monitor if monitor in hist.columns and hist[monitor].notna().any() else None
    if monitor is None and "val_loss" in hist.columns and hist["val_loss"].notna().any():
        monitor = "val_loss"
    if monitor is not None:
        values = hist[monitor].to_numpy(dtype=float)
        i = int(np.nanargmin(values) if "loss" in monitor else np.nanargmax(values))
        best = x[i]
        best_label = f"best {monitor.replace('_', ' ')} (epoch {best:g})"
    for ax, cols in zip(axes, panels):
        for c in cols:
            y = hist[c].to_numpy(dtype=float)
            ok = np.isfinite(y)
            ax.plot(x[ok], y[ok], marker="o", ms=3, lw=1.3, label=c)
        ax.set_xlabel("epoch")
        if cols is losses:
            ax.set_ylabel("loss")
            ax.set_title("losses", fontsize="medium")
        else:
            ax.set_ylabel(cols[0].replace("_", " ") if len(cols) == 1 else "validation metric")
            ax.set_title("validation metrics", fontsize="medium")
        if best is not None:
            ax.axvline(best, ls=":", color="grey", lw=1, label=best_label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        # a light frame: with several curves no corner is empty, and the text must stay legible over them
        ax.legend(fontsize="small", frameon=True, framealpha=0.8, edgecolor="none", loc="best")
    return _finish(fig, axes[:n_panels], show=show, save=save, name="history")


history.__doc__ = history.__doc__.replace("{show_save}", _DOC_SHOW_SAVE)
