"""Genome-browser-style tracks of observed vs predicted accessibility over a region."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
from anndata import AnnData

from .._keys import BINARY, LOG_NORM
from .._layers import dense, get_layer, select
from .._utils import deepcage_uns, get_modality, loci_of
from ._utils import _DOC_SHOW_SAVE, _finish

__all__ = ["track"]

_REGION = re.compile(r"^\s*(?P<chrom>[^:\s]+):(?P<start>[\d,_]+)-(?P<end>[\d,_]+)\s*$")


def _parse_region(region: str) -> tuple[str, int, int]:
    m = _REGION.match(str(region))
    if m is None:
        raise ValueError(f"Region {region!r} is not of the form 'chr20:10,000,000-10,200,000'.")
    start, end = (int(m[g].replace(",", "").replace("_", "")) for g in ("start", "end"))
    if end <= start:
        raise ValueError(f"Region {region!r} ends before it starts.")
    return m["chrom"], start, end


_OBSERVED = ("binary", "log_norm", "X", "counts", "raw", "norm", "cpm", "signal")


def _is_prediction(ad: AnnData, key: str) -> bool:
    """Prediction layers: ``'deepcage'``, ``baseline_*``, ``deepcage_*`` or any layer recorded by predict."""
    key = str(key)
    if key in _OBSERVED:
        return False
    rec = deepcage_uns(ad, create=False)
    recorded = set(rec.get("predict", {}) or {}) | set(rec.get("metrics", {}) or {})
    if rec.get("prediction_key"):
        recorded.add(str(rec["prediction_key"]))
    return key == "deepcage" or key.startswith(("deepcage_", "baseline_", "pred")) or key in recorded


def _coordinate_axis(ax, start: int, end: int, chrom: str) -> None:
    """Ticks in Mb with as many decimals as the tick step needs (10.62 Mb, 10.615 Mb ...)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

    ticks = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(start, end)
    ticks = ticks[(ticks >= start) & (ticks <= end)]
    step = float(np.min(np.diff(ticks))) if len(ticks) > 1 else float(end - start)
    decimals = max(0, int(np.ceil(-np.log10(step / 1e6) - 1e-9)))
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x / 1e6:,.{decimals}f}"))
    span = end - start
    size = f"{span / 1e6:g} Mb" if span >= 1_000_000 else f"{span / 1e3:g} kb"
    ax.set_xlabel(f"{chrom} position (Mb); {chrom}:{start:,}-{end:,}, {size}")


def track(
    adata: AnnData,
    *,
    region: str,
    samples: str | Sequence[str] = "test",
    keys: Sequence[str] | None = None,
    max_samples: int = 6,
    axes: Sequence[plt.Axes] | None = None,
    show: bool | None = None,
    save: str | bool | None = None,
) -> list[plt.Axes] | None:
    """Observed and predicted accessibility along a region, one row per sample (like a genome browser).

    Observed layers are drawn as grey bars, one per bin (left axis), predictions (``'deepcage'``, ``baseline_*``
    and layers written by :func:`deepcage.tl.predict`) as lines on a labelled right axis, whatever the order of
    ``keys``. Coordinates are in Mb.

    Parameters
    ----------
    adata
        Samples x loci AnnData (or MuData) with ``var[['chrom','start','end']]`` (or ``chr:start-end`` names).
    region
        ``'chr20:10,000,000-10,200,000'`` (commas allowed, 0-based half-open like the locus names). Contig
        names must match ``var['chrom']``.
    samples
        Samples to show: ``'test'``, ``'train'``, ``'all'`` or names (at most ``max_samples`` rows).
    keys
        Layers to draw (observed and predictions, in any order). Default: ``'log_norm'`` (else ``'binary'``) and every
        present of ``'deepcage'`` and ``baseline_*``.
    max_samples
        Row limit.
    axes
        Axes to draw on, one per sample.
    {show_save}

    Returns
    -------
    List of the Axes (one per sample; ``None`` when shown).

    Examples
    --------
    >>> dc.pl.track(adata, region="chr20:10,000,000-10,200,000", samples=["CD4", "CD8", "HSC"])
    """
    ad = get_modality(adata, "atac")
    chrom, start, end = _parse_region(region)
    loci = loci_of(ad)
    inside = _loci_in_region(loci, chrom, start, end, region)
    keys = _default_keys(ad) if keys is None else list(keys)
    s_idx = select(ad, samples, "obs")[:max_samples]
    starts = loci["start"].to_numpy()[inside]
    ends = loci["end"].to_numpy()[inside]
    xs, take = _step_coords(starts, ends)
    values = {k: dense(get_layer(ad, k), rows=s_idx, cols=inside) for k in keys}
    fig, axes = _track_axes(axes, len(s_idx))
    scale = _TrackScale.of(ad, keys, values)
    for row, (ax, name) in enumerate(zip(axes, ad.obs_names[s_idx])):
        # observed layers as grey bars (left axis), predictions as lines (right axis), whatever the order of keys
        if scale.obs_keys:
            bar_key = scale.obs_keys[0]
            ax.bar(
                starts,
                values[bar_key][row],
                width=ends - starts,
                align="edge",
                color="0.65",
                edgecolor="0.65",  # an edge keeps a 200-bp bar visible (>= 1 px) in a 1-Mb window
                lw=0.5,
                label=f"observed ({bar_key})",
            )
        for k in scale.obs_keys[1:]:
            ax.plot(xs, _steps(values[k][row], take), color="0.3", ls="--", lw=0.9, label=f"observed ({k})")
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize="small")
        ax.set_xlim(start, end)
        ax.set_ylim(scale.obs_lo, scale.obs_top * 1.05)
        ax.spines[["top", "right"]].set_visible(False)
        if not scale.obs_keys:
            ax.set_yticks([])
        target = _draw_predictions(ax, xs, take, {k: values[k][row] for k in scale.pred_keys}, scale)
        if row == 0:
            _track_legend(ax, target, ncol=len(keys))
        ax.tick_params(labelsize="x-small")
    last = axes[len(s_idx) - 1]
    _coordinate_axis(last, start, end, chrom)
    last.tick_params(axis="x", labelsize="small")
    return _finish(fig, axes[: len(s_idx)], show=show, save=save, name=f"track_{chrom}_{start}_{end}")


def _loci_in_region(loci, chrom: str, start: int, end: int, region: str) -> np.ndarray:
    """Indices of the loci overlapping the region, by start; raises naming the contigs when there are none."""
    inside = np.flatnonzero(
        (loci["chrom"].to_numpy() == chrom)
        & (loci["end"].to_numpy() > start)
        & (loci["start"].to_numpy() < end)
    )
    if inside.size == 0:
        contigs = sorted(loci["chrom"].unique())[:10]
        raise ValueError(f"No loci in {region!r} (loci are on {contigs}).")
    return inside[np.argsort(loci["start"].to_numpy()[inside], kind="stable")]


def _default_keys(ad: AnnData) -> list[str]:
    """``'log_norm'`` (else ``'binary'``, else ``'X'``), then ``'deepcage'`` and the ``baseline_*`` layers."""
    observed = LOG_NORM if LOG_NORM in ad.layers else (BINARY if BINARY in ad.layers else "X")
    preds = [k for k in ad.layers if k == "deepcage"] + sorted(
        k for k in ad.layers if str(k).startswith("baseline_")
    )
    return [observed, *preds]


def _step_coords(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x of a step line over the bins, broken (NaN) where consecutive bins are not adjacent, and the bin of each x."""
    gap = np.append(starts[1:] > ends[:-1], False)
    xs, take = [], []
    for i in range(len(starts)):
        xs += [starts[i], ends[i]]
        take += [i, i]
        if gap[i]:
            xs.append(np.nan)
            take.append(-1)
    return np.asarray(xs, dtype=float), np.asarray(take)


def _narrow_run_starts(xs: np.ndarray, min_width: float) -> list[int]:
    """Indices into the x of :func:`_step_coords` of the bin starts of every run of adjacent bins narrower than
    ``min_width`` (there a step line is a dot or less, so the bins get markers)."""
    bounds = np.r_[-1, np.flatnonzero(np.isnan(xs)), len(xs)]
    out: list[int] = []
    for a, b in zip(bounds[:-1] + 1, bounds[1:]):
        if b > a and xs[b - 1] - xs[a] < min_width:
            out.extend(range(a, b, 2))
    return out


def _steps(v: np.ndarray, take: np.ndarray) -> np.ndarray:
    """Values of the bins at the x of :func:`_step_coords` (NaN at the breaks)."""
    out = v[np.maximum(take, 0)].astype(float)
    out[take < 0] = np.nan
    return out


def _track_axes(axes, n: int) -> tuple:
    """The figure and ``n`` Axes to draw on: new ones, or the given ones (at least ``n``)."""
    if axes is None:
        fig, grid = plt.subplots(n, 1, figsize=(8, 1.25 * n + 0.6), sharex=True, squeeze=False)
        return fig, list(grid[:, 0])
    axes = list(axes)
    if len(axes) < n:
        raise ValueError(f"Need {n} Axes (one per sample), got {len(axes)}.")
    return axes[0].figure, axes


class _TrackScale(NamedTuple):
    """Observed / prediction keys and their y ranges, the same in every row so samples can be compared."""

    obs_keys: list
    pred_keys: list
    obs_lo: float
    obs_top: float
    pred_lo: float
    pred_hi: float
    pred_label: str

    @classmethod
    def of(cls, ad: AnnData, keys: list, values: dict) -> _TrackScale:
        obs_keys = [k for k in keys if not _is_prediction(ad, k)]
        pred_keys = [k for k in keys if _is_prediction(ad, k)]
        obs_top = (float(max(values[k].max() for k in obs_keys)) or 1.0) if obs_keys else 1.0
        obs_lo = min(0.0, min((float(values[k].min()) for k in obs_keys), default=0.0))
        pred_vals = [values[k] for k in pred_keys]
        pred_lo = min(0.0, min((float(v.min()) for v in pred_vals), default=0.0))
        pred_hi = max((float(v.max()) for v in pred_vals), default=1.0) or 1.0
        pred_label = "predicted"
        if pred_vals and pred_lo >= 0 and pred_hi <= 1:
            pred_label = "predicted\nprobability"
            pred_hi = 1.0
        return cls(obs_keys, pred_keys, obs_lo, obs_top, pred_lo, pred_hi, pred_label)


def _draw_predictions(ax, xs, take, rows: dict, scale: _TrackScale):
    """Prediction lines of one sample (on a right axis when observed bars are drawn); the Axes drawn on."""
    if not scale.pred_keys:
        return ax
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    target = ax.twinx() if scale.obs_keys else ax
    # isolated loci (sparse loci such as a union of peaks) give step segments too short to see: mark them
    lo, hi = ax.get_xlim()
    marks = _narrow_run_starts(xs, 0.01 * (hi - lo))
    style = {"marker": "o", "ms": 2.5, "markevery": marks} if marks else {}
    for j, k in enumerate(scale.pred_keys):
        target.plot(xs, _steps(rows[k], take), color=colors[j % len(colors)], lw=1.1, label=k, **style)
    target.set_ylim(scale.pred_lo, scale.pred_hi * 1.05)
    target.tick_params(labelsize="x-small")
    target.spines[["top"]].set_visible(False)
    if target is not ax:
        target.set_ylabel(scale.pred_label, fontsize="x-small", rotation=90, labelpad=2)
    return target


def _track_legend(ax, target, *, ncol: int) -> None:
    """One legend above the first row for the bars and lines of both axes."""
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = target.get_legend_handles_labels() if target is not ax else ([], [])
    ax.legend(
        h1 + h2, l1 + l2, fontsize="small", frameon=False, ncol=ncol, loc="lower left", bbox_to_anchor=(0, 1)
    )


track.__doc__ = track.__doc__.replace("{show_save}", _DOC_SHOW_SAVE)
