"""Performance plots: PR curves, predicted vs observed, metric by locus group, method comparison."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData

from .._keys import BINARY, LOG_NORM, PREDICTION, SPLIT
from .._layers import dense, get_layer, select, truth_layer
from .._utils import get_modality
from ._utils import _DOC_SHOW_SAVE, _finish, _new_ax

__all__ = ["compare", "metric_by_group", "pr_curves", "scatter"]

_METRIC_LABELS = {
    "auprc": "auPR (trapezoid)",
    "average_precision": "average precision",
    "auroc": "auROC",
    "pearson": "Pearson r",
    "psr": "PSR  Σ(y−ŷ)²/Σ(y−ȳ)²",
    "psr_paper": "PSR  Σ(y−ŷ)²/Σȳ²",
}


_AUTO_BASELINES = ("baseline_expression_knn", "baseline_locus_mean")
_BASELINE_STYLES = ("--", "-.", (0, (1, 1)), (0, (5, 1, 1, 1, 1, 1)))


def pr_curves(
    adata: AnnData,
    *,
    key: str = PREDICTION,
    layer: str | None = None,
    samples: str | Sequence[str] = "test",
    loci: str | Sequence[str] = "test",
    baseline: str | Sequence[str] | None = "auto",
    prevalence: bool = True,
    max_samples: int = 12,
    legend: bool = True,
    labels: Mapping[str, str] | None = None,
    ax: plt.Axes | None = None,
    show: bool | None = None,
    save: str | bool | None = None,
):
    """Precision-recall curve of each sample (cell-wise: the sample's loci ranked by the prediction).

    Each sample has its own colour: the prediction as a solid line, baseline predictions on the same loci as
    dashed lines, and the sample's prevalence (the precision of a random ranking, the floor of the curve) as a
    dotted horizontal line.

    Parameters
    ----------
    adata
        Samples x loci AnnData (or MuData) with predictions in ``layers[key]``.
    key
        Prediction layer.
    layer
        Observed 0/1 values (default ``layers['binary']``, else ``X``).
    samples, loci
        Which samples / loci, as in :func:`deepcage.tl.evaluate` (default: the test split).
    baseline
        Layer(s) of baseline predictions drawn as dashed curves (e.g. ``'baseline_locus_mean'``). ``'auto'``:
        ``'baseline_expression_knn'``, else ``'baseline_locus_mean'``, when present (see
        :func:`deepcage.tl.baselines`); ``None``: none.
    prevalence
        Draw each sample's fraction of accessible loci as a dotted line.
    max_samples
        At most this many curves (the first samples selected).
    legend
        Show a legend with each sample's average precision and auPR (trapezoid), the baselines' average
        precision and the prevalence.
    labels
        Names shown for the layers of ``key`` and ``baseline`` in the legend and title, e.g.
        ``{'deepcage_scrna': 'deepcage from pseudobulk'}`` (default: the layer names).
    ax
        Axes to draw on (default: a new figure).
    {show_save}

    Returns
    -------
    The Axes (``None`` when shown). The lines' ``gid`` says what they are: ``'pr'``, ``'baseline'`` or
    ``'prevalence'``.

    Examples
    --------
    >>> dc.tl.baselines(adata)
    >>> dc.pl.pr_curves(adata, key="deepcage", baseline="baseline_locus_mean")
    """
    from matplotlib.lines import Line2D
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve

    ad = get_modality(adata, "atac")
    shown = dict(labels or {})

    def name_of(layer_key: str) -> str:
        return shown.get(layer_key, layer_key)

    if key not in ad.layers:
        raise KeyError(f"No predictions in adata.layers[{key!r}]; run dc.tl.predict first.")
    if baseline is None:
        base_keys: list[str] = []
    elif isinstance(baseline, str) and baseline == "auto":
        base_keys = [k for k in _AUTO_BASELINES if k in ad.layers and k != key][:1]
    else:
        base_keys = [baseline] if isinstance(baseline, str) else list(baseline)
        missing = [b for b in base_keys if b not in ad.layers]
        if missing:
            raise KeyError(
                f"Baseline layer(s) {missing} not in adata.layers ({list(ad.layers)}); run dc.tl.baselines first."
            )
    layer, task = truth_layer(ad, layer, "classification" if layer is None else "auto")
    if task != "classification":
        raise ValueError(f"PR curves need 0/1 observations; layer {layer!r} is continuous.")
    s_idx = select(ad, samples, "obs")[:max_samples]
    l_idx = select(ad, loci, "var")
    y = dense(get_layer(ad, layer), rows=s_idx, cols=l_idx)
    p = dense(ad.layers[key], rows=s_idx, cols=l_idx)
    base = {b: dense(ad.layers[b], rows=s_idx, cols=l_idx) for b in base_keys}
    own_figure = ax is None
    fig, ax = _new_ax(ax, (4.8, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    j = 0
    one_class = []
    for i, name in enumerate(ad.obs_names[s_idx]):
        if y[i].min() == y[i].max():
            one_class.append(str(name))  # a PR curve needs both classes
            continue
        color = colors[j % len(colors)]
        j += 1
        prec, rec, _ = precision_recall_curve(y[i], p[i])
        label = f"{name}: AP {average_precision_score(y[i], p[i]):.3f}, auPR {auc(rec, prec):.3f}"
        (main,) = ax.step(rec, prec, where="post", lw=1.4, color=color, gid="pr")
        for b, style in zip(base_keys, _BASELINE_STYLES):
            bp, br, _ = precision_recall_curve(y[i], base[b][i])
            ax.step(br, bp, where="post", lw=0.9, ls=style, color=color, alpha=0.85, gid="baseline")
            b_name = shown.get(b, b.removeprefix("baseline_"))
            label += f"; {b_name} {average_precision_score(y[i], base[b][i]):.3f}"
        prev = float(y[i].mean())
        if prevalence:
            ax.axhline(prev, ls=":", lw=0.9, color=color, gid="prevalence")
            label += f"; prev. {prev:.3f}"
        main.set_label(label)
    if not any(ln.get_gid() == "pr" for ln in ax.lines):
        raise ValueError("No selected sample has both accessible and inaccessible loci; nothing to plot.")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{name_of(key)}: precision-recall per sample")
    if legend:
        handles, labels = ax.get_legend_handles_labels()
        keep = [(h, lab) for h, lab in zip(handles, labels) if h.get_gid() == "pr"]
        handles, labels = [h for h, _ in keep], [lab for _, lab in keep]
        styles = [Line2D([], [], color="0.2", lw=1.4)]
        names = [f"{name_of(key)} (AP, auPR)"]
        for b, style in zip(base_keys, _BASELINE_STYLES):
            styles.append(Line2D([], [], color="0.2", lw=0.9, ls=style))
            names.append(f"{name_of(b)} (AP)")
        if prevalence:
            styles.append(Line2D([], [], color="0.2", lw=0.9, ls=":"))
            names.append("prevalence (random ranking)")
        # beside the plot in its own figure; inside it (lower left, under the curves) on a given Axes
        place = {"loc": "upper left", "bbox_to_anchor": (1.0, 1.0)} if own_figure else {"loc": "lower left"}
        if one_class:
            handles.append(Line2D([], [], color="none"))
            labels.append(f"no curve (only one class in the loci): {', '.join(one_class)}")
        ax.legend(
            styles + handles,
            names + labels,
            fontsize="small" if own_figure else "x-small",
            frameon=not own_figure,
            framealpha=0.85,
            edgecolor="none",
            **place,
        )
    return _finish(fig, ax, show=show, save=save, name="pr_curves")


def scatter(
    adata: AnnData,
    *,
    key: str = PREDICTION,
    sample: str | None = None,
    layer: str | None = None,
    loci: str | Sequence[str] = "test",
    kind: str = "hexbin",
    gridsize: int = 40,
    ax: plt.Axes | None = None,
    show: bool | None = None,
    save: str | bool | None = None,
):
    """Predicted vs observed accessibility of one sample over loci.

    Parameters
    ----------
    adata
        Samples x loci AnnData (or MuData) with predictions in ``layers[key]``.
    key
        Prediction layer.
    sample
        Sample name (default: the first test sample, else the first sample).
    layer
        Observed values (default ``layers['log_norm']`` when present, else ``layers['binary']`` / ``X``).
    loci
        Which loci, as in :func:`deepcage.tl.evaluate`.
    kind
        ``'hexbin'`` (density, for many loci) or ``'scatter'``.
    gridsize
        Hexagons across (``kind='hexbin'``).
    ax
        Axes to draw on.
    {show_save}

    Returns
    -------
    The Axes (``None`` when shown). The title gives the Pearson r.

    Examples
    --------
    >>> dc.pl.scatter(adata, key="deepcage", sample="CD4", layer="log_norm")
    """
    ad = get_modality(adata, "atac")
    if key not in ad.layers:
        raise KeyError(f"No predictions in adata.layers[{key!r}]; run dc.tl.predict first.")
    if kind not in ("hexbin", "scatter"):
        raise ValueError(f"kind must be 'hexbin' or 'scatter', got {kind!r}.")
    if layer is None:
        layer = LOG_NORM if LOG_NORM in ad.layers else (BINARY if BINARY in ad.layers else "X")
    if sample is None:
        test = np.flatnonzero(ad.obs[SPLIT].astype(str) == "test") if SPLIT in ad.obs else []
        sample = ad.obs_names[test[0] if len(test) else 0]
    s_idx = select(ad, [sample], "obs")
    l_idx = select(ad, loci, "var")
    y = dense(get_layer(ad, layer), rows=s_idx, cols=l_idx)[0]
    p = dense(ad.layers[key], rows=s_idx, cols=l_idx)[0]
    fig, ax = _new_ax(ax, (4, 3.8))
    if kind == "hexbin":
        hb = ax.hexbin(y, p, gridsize=gridsize, bins="log", cmap="viridis", mincnt=1)
        fig.colorbar(hb, ax=ax, label="loci (log10)")
    else:
        ax.scatter(y, p, s=4, alpha=0.4, lw=0, rasterized=len(y) > 5000)
    r = np.corrcoef(y, p)[0, 1] if y.std() > 0 and p.std() > 0 else 0.0
    ax.set_xlabel(f"observed ({layer})")
    ax.set_ylabel(f"predicted ({key})")
    ax.set_title(f"{sample}: r = {r:.3f} ({len(y):,} loci)")
    return _finish(fig, ax, show=show, save=save, name=f"scatter_{sample}")


def metric_by_group(
    data: pd.DataFrame | AnnData,
    *,
    metric: str = "auprc",
    groupby: str = "variability",
    level: str = "locus",
    kind: str = "box",
    key: str | Sequence[str] = PREDICTION,
    ax: plt.Axes | None = None,
    show: bool | None = None,
    save: str | bool | None = None,
    **evaluate_kwargs,
):
    """Distribution of a metric by locus group (variability quartiles, cell range, locus class).

    Parameters
    ----------
    data
        A table from :func:`deepcage.tl.evaluate` (several concatenated tables: one box per method and group),
        or an AnnData, which is evaluated for each ``key`` first.
    metric
        Column to plot (``'auprc'``, ``'average_precision'``, ``'auroc'``, ``'pearson'``, ``'psr'``...).
    groupby
        Column defining the groups: ``'variability'`` (low < Q1 / median / high > Q3), ``'cell_range'``,
        ``'locus_class'``.
    level
        ``'locus'`` (locus-wise metrics, where the groups are defined) or ``'sample'``.
    kind
        ``'box'`` or ``'violin'``.
    key
        Prediction layer(s) evaluated when ``data`` is an AnnData.
    ax
        Axes to draw on.
    {show_save}
    **evaluate_kwargs
        Passed to :func:`deepcage.tl.evaluate` when ``data`` is an AnnData.

    Returns
    -------
    The Axes (``None`` when shown).

    Examples
    --------
    >>> df = dc.tl.evaluate(adata)
    >>> dc.pl.metric_by_group(df, metric="auprc", groupby="variability")
    """
    from ..tl._evaluate import evaluate

    if isinstance(data, pd.DataFrame):
        df = data
    else:
        keys = [key] if isinstance(key, str) else list(key)
        evaluate_kwargs.setdefault("inplace", False)
        df = pd.concat([evaluate(data, key=k, **evaluate_kwargs) for k in keys], ignore_index=True)
    if kind not in ("box", "violin"):
        raise ValueError(f"kind must be 'box' or 'violin', got {kind!r}.")
    for col in (metric, groupby):
        if col not in df.columns:
            raise KeyError(f"Column {col!r} not in the table (columns: {list(df.columns)}).")
    if "level" in df.columns:
        df = df[df["level"].astype(str) == level]
    df = df[df[metric].notna()]
    if df.empty:
        raise ValueError(f"No {level}-level rows with a {metric!r} value to plot.")
    df = df[df[groupby].notna()]
    if df.empty:
        raise ValueError(
            f"No {level}-level row has a {groupby!r} group: 'variability' and 'cell_range' group loci, so they "
            "exist at level='locus' only; at level='sample' use groupby='locus_class'."
        )
    groups = df[groupby]
    cats = (
        [c for c in groups.cat.categories if (groups == c).any()]
        if hasattr(groups, "cat")
        else sorted(groups.unique())
    )
    methods = list(pd.unique(df["key"])) if "key" in df.columns else [None]
    fig, ax = _new_ax(ax, (max(3.5, 1.1 * len(cats) * max(1, len(methods)) + 1), 3.5))
    width = 0.8 / len(methods)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, method in enumerate(methods):
        sub = df if method is None else df[df["key"] == method]
        vals = [sub.loc[sub[groupby] == c, metric].to_numpy() for c in cats]
        keep = [i for i, v in enumerate(vals) if len(v)]
        pos = np.arange(len(cats))[keep] - 0.4 + width * (j + 0.5)
        color = colors[j % len(colors)]
        if kind == "box":
            bp = ax.boxplot(
                [vals[i] for i in keep],
                positions=pos,
                widths=width * 0.85,
                patch_artist=True,
                showfliers=False,
            )
            for b in bp["boxes"]:
                b.set_facecolor(color)
                b.set_alpha(0.7)
        else:
            vp = ax.violinplot([vals[i] for i in keep], positions=pos, widths=width * 0.9, showmedians=True)
            for b in vp["bodies"]:
                b.set_facecolor(color)
        if method is not None and len(methods) > 1:
            ax.plot([], [], color=color, lw=6, label=method)
    ax.set_xticks(np.arange(len(cats)))
    counts = [int((groups == c).sum() / max(1, len(methods))) for c in cats]
    ax.set_xticklabels([f"{c}\n(n={n:,})" for c, n in zip(cats, counts)], fontsize="small")
    ax.set_xlabel(groupby)
    ax.set_ylabel(f"{level}-wise {_METRIC_LABELS.get(metric, metric)}")
    if len(methods) > 1:
        ax.legend(fontsize="x-small", frameon=False)
    return _finish(fig, ax, show=show, save=save, name=f"{metric}_by_{groupby}")


def compare(
    table: pd.DataFrame | AnnData,
    *,
    metric: str = "auprc",
    level: str = "sample",
    classes: Sequence[str] | None = None,
    ax: plt.Axes | None = None,
    show: bool | None = None,
    save: str | bool | None = None,
    **compare_kwargs,
):
    """Bar chart of a mean metric per method, grouped by locus class (the paper's method comparison).

    Parameters
    ----------
    table
        A table from :func:`deepcage.tl.compare`, or an AnnData (then :func:`deepcage.tl.compare` runs first).
    metric
        Metric column.
    level
        ``'sample'`` (cell-wise, the paper's main number) or ``'locus'``.
    classes
        Locus classes to show (default: all in the table, ``'all'`` first).
    ax
        Axes to draw on.
    {show_save}
    **compare_kwargs
        Passed to :func:`deepcage.tl.compare` when ``table`` is an AnnData.

    Returns
    -------
    The Axes (``None`` when shown). Bar heights are written above the bars.

    Examples
    --------
    >>> dc.tl.baselines(adata)
    >>> dc.pl.compare(dc.tl.compare(adata), metric="auprc")
    """
    from ..tl._baselines import compare as tl_compare

    if not isinstance(table, pd.DataFrame):
        table = tl_compare(table, **compare_kwargs)
    if metric not in table.columns:
        raise KeyError(f"Metric {metric!r} not in the table (columns: {list(table.columns)}).")
    t = table[table["level"] == level] if "level" in table.columns else table
    if t.empty:
        raise ValueError(f"No rows with level == {level!r} in the table.")
    classes = list(classes) if classes is not None else list(pd.unique(t["locus_class"]))
    methods = list(pd.unique(t["method"]))
    fig, ax = _new_ax(ax, (max(4, 0.45 * len(methods) * len(classes) + 1.5), 3.5))
    width = 0.8 / len(methods)
    x = np.arange(len(classes))
    for j, method in enumerate(methods):
        sub = t[t["method"] == method].set_index("locus_class")[metric]
        vals = np.array([sub.get(c, np.nan) for c in classes], dtype=float)
        bars = ax.bar(x - 0.4 + width * (j + 0.5), np.nan_to_num(vals), width * 0.95, label=method)
        for b, v in zip(bars, vals):
            if np.isfinite(v):
                ax.annotate(
                    f"{v:.2f}",
                    (b.get_x() + b.get_width() / 2, v),
                    ha="center",
                    va="bottom",
                    fontsize=6,
                    xytext=(0, 1),
                    textcoords="offset points",
                )
    ax.set_xticks(x)
    ax.set_xticklabels(classes)
    ax.set_xlabel("loci")
    ax.set_ylabel(f"mean {level}-wise {_METRIC_LABELS.get(metric, metric)}")
    ax.legend(fontsize="x-small", frameon=False, bbox_to_anchor=(1.0, 1.0), loc="upper left")
    return _finish(fig, ax, show=show, save=save, name=f"compare_{metric}")


for _f in (pr_curves, scatter, metric_by_group, compare):
    _f.__doc__ = _f.__doc__.replace("{show_save}", _DOC_SHOW_SAVE)
