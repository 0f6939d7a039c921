"""Cell-wise and locus-wise metrics of predictions (auPR, average precision, auROC, calibration, Pearson r, PSR),
and the specificity metrics (variable / rare loci, differential accessibility between held-out samples)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy.stats import rankdata

from .._keys import PREDICTION
from .._layers import dense, get_layer, select, truth_layer
from .._utils import deepcage_uns, get_modality

__all__ = [
    "binary_metrics",
    "calibration_metrics",
    "calibration_table",
    "differential_metrics",
    "evaluate",
    "regression_metrics",
    "specificity",
    "specificity_classes",
    "summarize",
]

logger = logging.getLogger("deepcage")

CLASSIFICATION_METRICS = ("auprc", "average_precision", "auroc")
REGRESSION_METRICS = ("pearson", "psr", "psr_paper")
CALIBRATION_METRICS = ("ece", "brier", "mean_pred", "pos_rate")  # classification, beside the ranking metrics
REGRESSION_CALIBRATION = ("mean_pred", "mean_obs")  # regression: agreement of predicted and observed means
_CHUNK = 500_000  # matrix entries processed at once by the vectorised metrics (~10 float64 temporaries each)
_RANGE_BINS = (0.0, 0.25, 0.5, 0.75, 1.0)
_RANGE_LABELS = ("0", "(0,25%]", "(25,50%]", "(50,75%]", "(75,100%]")
_VAR_LABELS = ("low", "median", "high")
#: Locus classes defined by the reference (training) samples' labels (see specificity_classes).
SPECIFICITY_CLASSES = ("variable", "rare")
#: Per-sample metrics of how a sample differs from the other evaluated samples (see differential_metrics).
SPECIFICITY_METRICS = ("differential",)
#: Differences smaller than this (relative to the largest absolute value) are float noise: treated as 0.
_DIFF_RTOL = 1e-6


# --------------------------------------------------------------------------------------------------------------
# metrics on the rows of a matrix (vectorised; equal to scikit-learn row by row, see the tests)
# --------------------------------------------------------------------------------------------------------------
def _row_chunks(m: int, n: int):
    step = max(1, _CHUNK // max(n, 1))
    for lo in range(0, m, step):
        yield slice(lo, min(m, lo + step))


def _finite_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Observed and predicted values as finite float64 2-D arrays of one shape (rows: samples or loci)."""
    y = np.atleast_2d(np.asarray(y_true, dtype=np.float64))
    p = np.atleast_2d(np.asarray(y_pred, dtype=np.float64))
    if y.shape != p.shape:
        raise ValueError(f"y_true has shape {y.shape} but y_pred has shape {p.shape}.")
    if not (np.isfinite(y).all() and np.isfinite(p).all()):
        raise ValueError("y_true or y_pred holds NaN or infinite values; both must be finite.")
    return y, p


def _labels_and_scores(y_true, y_score, score_name: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    """0/1 labels and finite float64 scores as 2-D arrays of one shape (rows: samples or loci)."""
    y = np.atleast_2d(np.asarray(y_true))
    s = np.atleast_2d(np.asarray(y_score, dtype=np.float64))
    if y.shape != s.shape:
        raise ValueError(f"y_true has shape {y.shape} but {score_name} has shape {s.shape}.")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError(f"y_true must hold only 0/1 labels for {what}.")
    if not np.isfinite(s).all():
        raise ValueError(f"{score_name} holds NaN or infinite values; predictions must be finite.")
    return y, s


def binary_metrics(y_true, y_score) -> pd.DataFrame:
    """auPR (trapezoid and average precision) and auROC of each row of a matrix.

    Row ``i`` gives the same numbers as scikit-learn on ``(y_true[i], y_score[i])``:
    ``auc(*precision_recall_curve(...)[1::-1])`` (the trapezoid area under the PR curve, as the DeepCAGE
    paper's code computed it), ``average_precision_score`` and ``roc_auc_score``, ties included. It is
    vectorised, so metrics over 10^5 loci with a few samples each take a fraction of a second.

    Parameters
    ----------
    y_true
        ``(m, n)`` or ``(n,)`` 0/1 labels.
    y_score
        Scores of the same shape (probabilities, logits, any monotone score).

    Returns
    -------
    DataFrame with one row per input row: ``auprc``, ``average_precision``, ``auroc``, ``n``, ``n_pos``.
    Rows with only one class have NaN metrics (they are undefined); :func:`evaluate` drops and counts them.

    Examples
    --------
    >>> from deepcage.tl._evaluate import binary_metrics
    >>> binary_metrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]).round(3)
       auprc  average_precision  auroc  n  n_pos
    0  0.792              0.833   0.75  4      2
    """
    y, s = _labels_and_scores(y_true, y_score, "y_score", "classification metrics")
    m, n = y.shape
    out = np.full((m, 3), np.nan)
    n_pos = y.sum(axis=1).astype(np.int64)
    cols = np.arange(n)
    for sl in _row_chunks(m, n):
        yy = y[sl].astype(np.float64)
        ss = s[sl]
        pos = yy.sum(axis=1)
        neg = n - pos
        ok = (pos > 0) & (neg > 0)
        if not ok.any():
            continue
        yy, ss, pos, neg = yy[ok], ss[ok], pos[ok], neg[ok]
        order = np.argsort(-ss, axis=1, kind="mergesort")
        s_sorted = np.take_along_axis(ss, order, axis=1)
        y_sorted = np.take_along_axis(yy, order, axis=1)
        tps = np.cumsum(y_sorted, axis=1)
        fps = np.cumsum(1.0 - y_sorted, axis=1)
        # thresholds are the distinct scores: within a run of tied scores every position takes the counts at
        # the end of the run, so repeated points add zero area (as scikit-learn's distinct thresholds do)
        last = np.ones_like(s_sorted, dtype=bool)
        last[:, :-1] = s_sorted[:, :-1] != s_sorted[:, 1:]
        idx = np.where(last, cols[None, :], n)
        nxt = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1]
        tps = np.take_along_axis(tps, nxt, axis=1)
        fps = np.take_along_axis(fps, nxt, axis=1)
        precision = tps / (tps + fps)
        recall = tps / pos[:, None]
        d_recall = np.diff(recall, axis=1, prepend=0.0)
        prev_precision = np.concatenate([np.ones((len(pos), 1)), precision[:, :-1]], axis=1)
        res = np.empty((len(pos), 3))
        res[:, 0] = np.sum(d_recall * (precision + prev_precision) / 2.0, axis=1)
        res[:, 1] = np.sum(d_recall * precision, axis=1)
        ranks = rankdata(ss, axis=1)  # average ranks for ties = Mann-Whitney U = sklearn's roc_auc_score
        res[:, 2] = ((ranks * yy).sum(axis=1) - pos * (pos + 1) / 2.0) / (pos * neg)
        block = out[sl]
        block[ok] = res
        out[sl] = block
    df = pd.DataFrame(out, columns=list(CLASSIFICATION_METRICS))
    df["n"] = n
    df["n_pos"] = n_pos
    return df


def regression_metrics(y_true, y_pred) -> pd.DataFrame:
    """Pearson r and the two readings of the paper's PSR for each row of a matrix.

    * ``pearson``: Pearson correlation (equal to :func:`scipy.stats.pearsonr`). A constant prediction carries
      no information about the ordering and is reported as ``r = 0`` (instead of undefined).
    * ``psr``: ``sum((y - y_hat)^2) / sum((y - mean(y))^2)``, the residual sum of squares relative to the
      variance (``1 - R^2``); 0 is perfect, 1 is as good as predicting the mean.
    * ``psr_paper``: ``sum((y - y_hat)^2) / sum(mean(y)^2)`` = ``... / (n * mean(y)^2)``: the formula as
      printed in the DeepCAGE paper, taken literally with ``y_bar`` the mean of ``y``.

    Parameters
    ----------
    y_true
        ``(m, n)`` or ``(n,)`` observed values.
    y_pred
        Predictions of the same shape.

    Returns
    -------
    DataFrame with one row per input row: ``pearson``, ``psr``, ``psr_paper``, ``n``. Rows where ``y_true``
    is constant (or has mean 0) have NaN metrics (undefined); :func:`evaluate` drops and counts them.

    Examples
    --------
    >>> from deepcage.tl._evaluate import regression_metrics
    >>> regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 4.0]).round(3)
       pearson  psr  psr_paper  n
    0    0.982  0.5      0.083  3
    """
    y, p = _finite_pair(y_true, y_pred)
    m, n = y.shape
    out = np.full((m, 3), np.nan)
    for sl in _row_chunks(m, n):
        yy, pp = y[sl], p[sl]
        ym = yy.mean(axis=1, keepdims=True)
        yc = yy - ym
        pc = pp - pp.mean(axis=1, keepdims=True)
        syy = (yc**2).sum(axis=1)
        spp = (pc**2).sum(axis=1)
        rss = ((yy - pp) ** 2).sum(axis=1)
        ok = syy > 0
        # a constant prediction: r := 0
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(spp > 0, (yc * pc).sum(axis=1) / np.sqrt(syy * spp), 0.0)
            psr = rss / syy
            denom = n * ym[:, 0] ** 2
            psr_paper = rss / denom
        res = np.column_stack([np.clip(r, -1.0, 1.0), psr, psr_paper])
        res[~(ok & (denom > 0))] = np.nan
        out[sl] = res
    df = pd.DataFrame(out, columns=list(REGRESSION_METRICS))
    df["n"] = n
    return df


def _bin_ids(p: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin of each probability among ``n_bins`` equal-width bins over [0, 1] (scikit-learn's ``calibration_curve``
    convention: right-closed bins, 0 in the first bin)."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.searchsorted(edges[1:-1], p, side="left")


def _check_n_bins(n_bins) -> int:
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}.")
    return int(n_bins)


def calibration_metrics(y_true, y_prob, *, n_bins: int = 10) -> pd.DataFrame:
    """Calibration of predicted probabilities in each row of a matrix: ECE, Brier score, mean prediction, positive rate.

    * ``ece``: expected calibration error, ``sum_b n_b / n * |mean(p in b) - mean(y in b)|`` over ``n_bins``
      equal-width bins of ``[0, 1]`` (empty bins contribute nothing). 0 is perfectly calibrated. Bins are
      right-closed as in :func:`sklearn.calibration.calibration_curve` (0.1 falls in the first of 10 bins).
    * ``brier``: ``mean((p - y)^2)`` (:func:`sklearn.metrics.brier_score_loss`).
    * ``mean_pred``, ``pos_rate``: mean probability and fraction of positives; calibrated predictions have
      ``mean_pred ≈ pos_rate``.

    Unlike the ranking metrics these are defined for rows with a single class.

    Parameters
    ----------
    y_true
        ``(m, n)`` or ``(n,)`` 0/1 labels.
    y_prob
        Probabilities in ``[0, 1]`` of the same shape.
    n_bins
        Number of equal-width bins for the ECE.

    Returns
    -------
    DataFrame with one row per input row: ``ece``, ``brier``, ``mean_pred``, ``pos_rate``, ``n``.

    Examples
    --------
    >>> from deepcage.tl._evaluate import calibration_metrics
    >>> calibration_metrics([0, 0, 0, 1], [0.5, 0.5, 0.5, 0.5]).round(3)
        ece  brier  mean_pred  pos_rate  n
    0  0.25   0.25        0.5      0.25  4
    """
    n_bins = _check_n_bins(n_bins)
    y, p = _labels_and_scores(y_true, y_prob, "y_prob", "calibration metrics")
    if p.size and (p.min() < 0 or p.max() > 1):
        raise ValueError(
            f"y_prob must be probabilities in [0, 1] for calibration metrics (range {p.min():.3g} to {p.max():.3g})."
        )
    m, n = y.shape
    out = np.full((m, 4), np.nan)
    for sl in _row_chunks(m, n):
        yy = y[sl].astype(np.float64)
        pp = p[sl]
        k = yy.shape[0]
        if n == 0:
            continue
        flat = (np.arange(k)[:, None] * n_bins + _bin_ids(pp, n_bins)).ravel()
        sp = np.bincount(flat, weights=pp.ravel(), minlength=k * n_bins).reshape(k, n_bins)
        sy = np.bincount(flat, weights=yy.ravel(), minlength=k * n_bins).reshape(k, n_bins)
        # n_b / n * |sp/n_b - sy/n_b| = |sp - sy| / n
        out[sl, 0] = np.abs(sp - sy).sum(axis=1) / n
        out[sl, 1] = ((pp - yy) ** 2).mean(axis=1)
        out[sl, 2] = pp.mean(axis=1)
        out[sl, 3] = yy.mean(axis=1)
    df = pd.DataFrame(out, columns=list(CALIBRATION_METRICS))
    df["n"] = n
    return df


def _mean_agreement(y_true, y_pred) -> pd.DataFrame:
    y = np.atleast_2d(np.asarray(y_true, dtype=np.float64))
    p = np.atleast_2d(np.asarray(y_pred, dtype=np.float64))
    return pd.DataFrame({"mean_pred": p.mean(axis=1), "mean_obs": y.mean(axis=1)})


def specificity_classes(reference) -> dict[str, np.ndarray]:
    """Loci on which the reference (training) samples disagree, from their 0/1 labels.

    * ``variable``: open in at least one and not in all reference samples (``1 ≤ k ≤ n − 1`` of ``n``);
    * ``rare``: open in at most one reference sample (``k ≤ 1``, the loci closed in all of them included).

    The two overlap (a locus open in exactly one reference sample is both). On the other loci the reference
    samples agree, so any method that averages them (the locus mean, ``expression_knn``) is already right or
    wrong for every new sample alike; AP over all loci is dominated by those, AP on these classes is not.

    Parameters
    ----------
    reference
        ``(n_samples, n_loci)`` 0/1 labels of the reference samples (in a cell-type hold-out: the training
        cell types). With a single reference sample no locus is ``variable``.

    Returns
    -------
    ``{'variable': mask, 'rare': mask}``: boolean arrays over the loci.

    Examples
    --------
    >>> from deepcage.tl._evaluate import specificity_classes
    >>> masks = specificity_classes([[1, 1, 0, 0], [1, 0, 0, 1], [1, 0, 0, 0]])
    >>> masks["variable"].tolist(), masks["rare"].tolist()
    ([False, True, False, True], [False, True, True, True])
    """
    y = np.atleast_2d(np.asarray(reference))
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError("reference must hold only 0/1 labels to define variable / rare loci.")
    n = y.shape[0]
    k = y.sum(axis=0)
    return {"variable": (k >= 1) & (k <= n - 1), "rare": k <= 1}


def _denoise(d: np.ndarray, scale: float) -> np.ndarray:
    """Differences rounded to ``_DIFF_RTOL`` of ``scale``: float noise (``x - mean(x, x)`` is not exactly 0, and
    equal differences computed from different sums are not exactly equal) must not break ties in the ranks."""
    scale = scale if scale > 0 else 1.0
    return np.round(d / (scale * _DIFF_RTOL)) * (scale * _DIFF_RTOL)


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Pearson r of ``a`` (observed) and ``b`` (predicted): 0 where ``b`` is constant, NaN where ``a`` is."""
    ac = a - a.mean(axis=1, keepdims=True)
    bc = b - b.mean(axis=1, keepdims=True)
    saa = (ac**2).sum(axis=1)
    sbb = (bc**2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(sbb > 0, (ac * bc).sum(axis=1) / np.sqrt(saa * sbb), 0.0)
    r = np.clip(r, -1.0, 1.0)
    r[~(saa > 0)] = np.nan
    return r


def differential_metrics(y_true, y_pred) -> pd.DataFrame:
    """How well each sample's difference from the other samples is predicted (Spearman r), row by row.

    For sample (row) ``k`` of ``m``: ``d_k = y_k − mean_{j≠k} y_j`` observed and ``d̂_k = ŷ_k − mean_{j≠k} ŷ_j``
    predicted, over the loci (columns); ``differential`` is the Spearman correlation of ``d̂_k`` and ``d_k``
    (ties: average ranks). It asks whether a method knows *where* this sample differs from the others, which a
    method that predicts the same profile for every sample cannot.

    * A predicted difference that is constant (e.g. the locus mean or a sequence-only model, which give every
      sample the same prediction) carries no information and scores ``r = 0``.
    * An observed difference that is constant (the samples agree at every locus), fewer than 2 samples or
      fewer than 2 loci leave ``r`` undefined: NaN in that row, which :func:`evaluate` counts and logs.
    * Differences are rounded to ``1e-6`` times the largest absolute value (float32 predictions carry ~1e-7 of
      relative noise), so float noise neither breaks
      ties nor makes a constant difference non-constant.

    Parameters
    ----------
    y_true
        ``(m, n)`` observed values of ``m`` samples at ``n`` loci (0/1 labels or a signal).
    y_pred
        Predictions of the same shape.

    Returns
    -------
    DataFrame with one row per sample: ``differential`` and ``n`` (loci).

    Examples
    --------
    >>> from deepcage.tl._evaluate import differential_metrics
    >>> y = [[1, 0, 1, 0], [0, 1, 1, 0], [0, 0, 1, 1]]
    >>> differential_metrics(y, y)["differential"].tolist()  # a perfect predictor
    [1.0, 1.0, 1.0]
    >>> differential_metrics(y, [[0.2, 0.4, 0.9, 0.1]] * 3)["differential"].tolist()  # one profile for all
    [0.0, 0.0, 0.0]
    """
    y, p = _finite_pair(y_true, y_pred)
    m, n = y.shape
    out = np.full(m, np.nan)
    if m >= 2 and n >= 2:
        dy = _denoise(y - (y.sum(axis=0) - y) / (m - 1), float(np.abs(y).max()))
        dp = _denoise(p - (p.sum(axis=0) - p) / (m - 1), float(np.abs(p).max()))
        out = _pearson_rows(rankdata(dy, axis=1), rankdata(dp, axis=1))
    return pd.DataFrame({"differential": out, "n": n})


# --------------------------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------------------------
def _selection(adata, key, layer, task, samples, loci):
    """The AnnData, truth layer, task and the selected samples / loci of an evaluation (clear errors)."""
    adata = get_modality(adata, "atac")
    if key not in adata.layers:
        raise KeyError(
            f"No predictions in adata.layers[{key!r}] (layers: {list(adata.layers)}). "
            "Run dc.tl.predict(model, adata) or dc.tl.baselines(adata) first."
        )
    layer, task = truth_layer(adata, layer, task)
    s_idx = select(adata, samples, "obs")
    l_idx = select(adata, loci, "var")
    if s_idx.size == 0 or l_idx.size == 0:
        raise ValueError(f"Nothing to evaluate: {s_idx.size} samples x {l_idx.size} loci selected.")
    return adata, layer, task, s_idx, l_idx


def evaluate(
    adata: AnnData,
    *,
    key: str = PREDICTION,
    layer: str | None = None,
    task: str = "auto",
    samples: str | Sequence[str] = "test",
    loci: str | Sequence[str] = "test",
    groups: bool = True,
    signal_layer: str | None = None,
    specificity: bool = False,
    reference: str | Sequence[str] = "train",
    key_added: str | None = None,
    inplace: bool = True,
) -> pd.DataFrame:
    """Cell-wise (per sample) and locus-wise metrics of predictions against observed accessibility.

    The paper's evaluation: for each held-out sample, how well are the accessible loci ranked
    (**cell-wise**), and for each locus, how well are the samples in which it is accessible ranked
    (**locus-wise**). Both are computed for all loci and separately for ``known`` and ``novel`` loci
    (``var['locus_class']``). Locus-wise metrics are only defined where both classes occur among the
    evaluated samples (classification) or the signal varies (regression); other loci are skipped and
    counted (``n_skipped`` in the summary, and a log message).

    The trapezoid auPR (the paper's number) interpolates linearly between PR points and is optimistic for tied
    predictions: a constant prediction scores ``(1 + prevalence) / 2`` (e.g. the locus-mean baseline's
    locus-wise auPR of 0.75 at prevalence 0.5). Average precision does not interpolate; both are reported.

    Parameters
    ----------
    adata
        Samples x loci AnnData (or MuData: the ``'atac'`` modality) with predictions in ``layers[key]``.
    key
        Layer holding the predictions (``'deepcage'`` from :func:`deepcage.tl.predict`, or a baseline such as
        ``'baseline_locus_mean'``).
    layer
        Observed values. ``None``: ``layers['binary']`` (else ``X``) for classification, ``layers['log_norm']``
        for ``task='regression'``. A layer name such as ``'log_norm'`` evaluates that signal.
    task
        ``'classification'`` (auPR, average precision, auROC), ``'regression'`` (Pearson r, PSR) or ``'auto'``
        (classification when the observed values are all 0/1).
    samples
        Samples to evaluate: ``'test'`` (``obs['split'] == 'test'``, the held-out cell types), ``'train'``,
        ``'all'``, a list of names or a boolean mask.
    loci
        Loci to evaluate: ``'test'`` (``var['split'] == 'test'``), ``'val'``, ``'train'``, ``'all'``, names or mask.
    groups
        Add locus descriptors to the locus-wise rows: cell range and variability groups (see Returns).
    signal_layer
        Signal whose variance across samples defines the variability groups. Default ``'log_norm'`` when present,
        else the observed layer.
    specificity
        Also measure what AP over all loci hides (see :func:`specificity` for a summary across methods):

        * sample rows for two more locus classes defined by the ``reference`` samples' 0/1 labels:
          ``'variable'`` (open in some but not all reference samples) and ``'rare'`` (open in at most one),
          with every ranking and calibration metric;
        * a ``differential`` column on every sample row: Spearman r between the predicted and observed
          difference of the sample from the mean of the *other evaluated* samples, over the row's loci; 0 for
          a prediction that is the same for every sample, NaN (counted in
          ``attrs['n_skipped']['differential/<class>']`` and logged) with fewer than 2 evaluated samples or
          where they agree at every locus;
        * ``n_reference_open`` on locus rows: in how many reference samples the locus is open.
    reference
        The samples whose labels define ``'variable'`` / ``'rare'`` (with ``specificity=True``): ``'train'``
        (the training cell types, the default), names or a boolean mask. Labels: ``layers['binary']`` (else the
        observed layer, which must then be 0/1).
    key_added
        Prefix of the columns written to ``obs``/``var`` and key in ``uns['deepcage']['metrics']``
        (default: ``key``).
    inplace
        Write the per-sample / per-locus metrics and the summary into ``adata``.

    Returns
    -------
    A tidy DataFrame, one row per evaluated sample (``level == 'sample'``) per locus class and one row per
    evaluated locus (``level == 'locus'``), with columns

    ``key``
        The evaluated predictions (so tables of several methods can be concatenated).
    ``level``, ``name``
        ``'sample'`` (cell-wise metric over loci; ``name`` is the sample) or ``'locus'`` (locus-wise metric over
        samples; ``name`` is the locus).
    ``locus_class``
        The loci covered by the row: ``'all'`` and each class of ``var['locus_class']`` (``'known'``, ``'novel'``,
        ``'other'``, see :func:`deepcage.pp.split_loci`) for sample rows (one row for each), plus ``'variable'``
        and ``'rare'`` with ``specificity=True``; the class of the locus for locus rows. Without
        ``var['locus_class']`` every row is ``'all'``.
    ``n``, ``n_pos``
        Number of values the metric was computed over and of positives (classification).
    metrics
        Classification: ``auprc`` (trapezoid area under the PR curve, as the paper's code),
        ``average_precision``, ``auroc``. Regression: ``pearson``, ``psr`` (``Σ(y−ŷ)²/Σ(y−ȳ)²``) and
        ``psr_paper`` (``Σ(y−ŷ)²/Σȳ²`` as printed in the paper, ``ȳ`` the mean); a constant prediction has
        ``pearson = 0``.
    calibration
        Classification: ``ece`` (expected calibration error over 10 equal-width probability bins, weighted by
        the bin counts), ``brier`` (mean squared error of the probability against the 0/1 label), ``mean_pred``
        (mean probability) and ``pos_rate`` (fraction of positives); for the reliability bins see
        :func:`calibration_table`. NaN when the predictions are not in ``[0, 1]``.
        Regression: ``mean_pred`` and ``mean_obs``, the means of the predicted and observed values.
    ``differential`` (sample rows, ``specificity=True``)
        Spearman r of the predicted against the observed difference of the sample from the other evaluated
        samples over the row's loci; NaN where undefined.
    ``n_reference_open`` (locus rows, ``specificity=True``)
        Number of ``reference`` samples in which the locus is open (variable: ``1 … n − 1``; rare: ``≤ 1``).
    ``n_active``, ``frac_active``, ``cell_range``, ``variance``, ``variability`` (locus rows, ``groups=True``)
        Number / fraction of **all** samples of ``adata`` in which the locus is accessible (``layers['binary']``
        or the observed 0/1 values), that fraction binned (``'0'``, ``'(0,25%]'`` ... ``'(75,100%]'``), the variance of the
        signal across all samples, and its quartile group: ``'low'`` (< Q1), ``'median'`` (Q1-Q3),
        ``'high'`` (> Q3), quartiles over the loci that have a locus-wise metric.

    ``df.attrs['summary']`` holds the mean metrics as a nested dict
    ``{level: {locus_class: {metric: mean, 'n': rows, 'n_skipped': rows}}}`` (the table form:
    :func:`deepcage.tl.compare`), ``df.attrs['n_skipped']`` the skipped rows per ``'level/locus_class'``.
    With ``inplace=True`` it also writes

    * ``obs[f'{key_added}_{metric}']`` (all evaluated loci) and ``obs[f'{key_added}_{metric}_{locus_class}']``:
      cell-wise metrics; NaN for samples not evaluated;
    * ``var[f'{key_added}_{metric}']``: locus-wise metrics; NaN for loci not evaluated or skipped;
    * ``uns['deepcage']['metrics'][key_added]``: the summary dict plus the parameters (``'params'``).

    Examples
    --------
    >>> adata = dc.datasets.synthetic()
    >>> model = dc.tl.fit(adata)
    >>> dc.tl.predict(model, adata)
    >>> df = dc.tl.evaluate(adata)
    >>> df.attrs["summary"]["sample"]["known"]["auprc"]  # mean cell-wise auPR on known loci
    >>> df[df.level == "locus"].groupby("variability")["auprc"].mean()
    >>> spec = dc.tl.evaluate(adata, specificity=True, inplace=False)
    >>> spec.attrs["summary"]["sample"]["variable"][
    ...     "average_precision"
    ... ]  # loci the training cells disagree on
    >>> spec.attrs["summary"]["sample"]["variable"]["differential"]  # where each held-out sample differs
    """
    adata, layer, task, s_idx, l_idx = _selection(adata, key, layer, task, samples, loci)
    truth_all, truth, pred = _read_truth_and_predictions(adata, key, layer, task, s_idx, l_idx)
    ms = _metric_set(task, pred, key)
    lclass = _locus_classes(adata, l_idx)
    classes = _class_order(lclass)
    masks = {cls: np.ones(lclass.size, bool) if cls == "all" else lclass == cls for cls in classes}
    n_ref_open = None
    if specificity:
        ref_labels = _reference_labels(adata, reference, layer, task, l_idx)
        n_ref_open = ref_labels.sum(axis=0).astype(np.int64)
        for cls, mask in specificity_classes(ref_labels).items():
            if mask.any():
                masks[cls] = mask
            else:
                logger.info("evaluate(%s): no %s loci among the %d evaluated.", key, cls, l_idx.size)
    skipped: dict[tuple[str, str], int] = {}
    sample_df = _sample_table(
        truth, pred, adata.obs_names[s_idx].to_numpy(), masks, ms, skipped, differential=specificity, key=key
    )
    locus_df = pd.concat([ms.metrics(truth.T, pred.T), ms.calibration(truth.T, pred.T)], axis=1)
    locus_df.insert(0, "name", adata.var_names[l_idx].to_numpy())
    locus_df.insert(1, "locus_class", lclass)
    if n_ref_open is not None:
        locus_df["n_reference_open"] = n_ref_open
    if groups:
        _add_locus_groups(adata, locus_df, truth_all, layer, task, l_idx, signal_layer, ms)
    locus_df = _drop_unscored_loci(locus_df, lclass, classes, ms, skipped, key, task, s_idx.size)
    sample_classes = list(masks)

    df = pd.concat([sample_df, locus_df], ignore_index=True)
    df.insert(0, "key", key)
    df["level"] = pd.Categorical(df["level"], categories=["sample", "locus"])
    summary = summarize(df, skipped=skipped)
    df.attrs["summary"] = _summary_dict(summary)
    df.attrs["n_skipped"] = {f"{lv}/{c}": v for (lv, c), v in skipped.items()}
    df.attrs["task"] = task
    df.attrs["specificity"] = bool(specificity)
    df.attrs["n_loci"] = {cls: int(mask.sum()) for cls, mask in masks.items()}
    df.attrs["n_samples"] = int(s_idx.size)
    if n_ref_open is not None:
        df.attrs["n_reference"] = int(ref_labels.shape[0])

    if inplace:
        params = {
            "key": key,
            "layer": layer,
            "task": task,
            "samples": samples if isinstance(samples, str) else "custom",
            "loci": loci if isinstance(loci, str) else "custom",
            "n_samples": int(s_idx.size),
            "n_loci": int(l_idx.size),
            "specificity": bool(specificity),
        }
        if specificity:
            params["reference"] = reference if isinstance(reference, str) else "custom"
        _write_metrics(
            adata, sample_df, locus_df, sample_classes, ms, summary, prefix=key_added or key, params=params
        )
    return df


def specificity(
    adata: AnnData,
    *,
    keys: str | Sequence[str] | None = None,
    layer: str | None = None,
    task: str = "auto",
    samples: str | Sequence[str] = "test",
    loci: str | Sequence[str] = "test",
    reference: str | Sequence[str] = "train",
) -> pd.DataFrame:
    """What average precision over all loci hides: metrics on the loci where cell types differ, per method.

    Most loci are open or closed in every cell type alike, so a method that averages the training cell types
    scores well on them without knowing anything about the new one. This table measures the rest, for every
    prediction layer at once (the model and the baselines, as :func:`deepcage.tl.compare`):

    * **variable / rare loci** (``loci='variable'``, ``'rare'``): cell-wise metrics on the loci open in some
      but not all ``reference`` (training) samples, and on those open in at most one. The locus mean is weak
      there by construction; the question is whether a method beats ``expression_knn``.
    * **differential** (``metric='differential'``): per evaluated sample, the Spearman r between its
      predicted and observed difference from the mean of the other evaluated samples; 0 for any method that
      predicts one profile for all samples (locus mean, sequence-only).
    * **locus-wise** (``level='locus'``): per locus, how well the evaluated samples in which it is open are
      ranked (e.g. ``auroc``), averaged over the loci where they disagree (others are undefined and counted
      in ``n_skipped``); 0.5 for one profile for all samples.
    * **calibration** per class (``ece``, ``brier``, ``mean_pred``, ``pos_rate``): are the probabilities
      right on these loci, not only on average.

    Parameters
    ----------
    adata
        Samples x loci AnnData (or MuData: the ``'atac'`` modality) with the prediction layers.
    keys
        Prediction layers. Default: ``'deepcage'`` (when present) and every ``baseline_*`` layer.
    layer, task, samples, loci
        As in :func:`evaluate` (the same for every method).
    reference
        Samples whose 0/1 labels define the variable / rare loci (default ``'train'``, the training samples).

    Returns
    -------
    Tidy DataFrame, one row per ``key`` x ``level`` x ``loci`` x ``metric``: ``value`` (mean over the samples
    for ``level='sample'``, over the loci for ``level='locus'``), ``n`` (samples or loci averaged) and
    ``n_skipped`` (samples or loci where the metric is undefined, e.g. every sample when only one is evaluated
    for ``differential``). ``loci``: ``'all'``, the classes of ``var['locus_class']``, ``'variable'``,
    ``'rare'``. Undefined metrics are left out (never NaN values); ``attrs['n_reference']`` holds the number of
    reference samples. Nothing is written to ``adata``.

    Examples
    --------
    >>> dc.tl.predict(model, adata)
    >>> dc.tl.baselines(adata, methods=["locus_mean", "expression_knn"])
    >>> tab = dc.tl.specificity(adata)
    >>> tab.query("level == 'sample' and metric == 'average_precision'").pivot(
    ...     index="key", columns="loci", values="value"
    ... )  # all / known / novel / variable / rare
    >>> tab.query("metric == 'differential' and loci == 'variable'")
    """
    ad = get_modality(adata, "atac")
    if keys is None:
        keys = (["deepcage"] if "deepcage" in ad.layers else []) + sorted(
            k for k in ad.layers if str(k).startswith("baseline_")
        )
        if not keys:
            raise KeyError(
                "No prediction layers found ('deepcage' or 'baseline_*'); run dc.tl.predict / dc.tl.baselines."
            )
    keys = [keys] if isinstance(keys, str) else list(keys)
    rows = []
    n_ref = None
    for key in keys:
        df = evaluate(
            ad,
            key=key,
            layer=layer,
            task=task,
            samples=samples,
            loci=loci,
            groups=False,
            specificity=True,
            reference=reference,
            inplace=False,
        )
        n_ref = df.attrs["n_reference"]
        n_samples = df.attrs["n_samples"]
        n_loci = df.attrs["n_loci"]
        metrics = [
            c
            for c in dict.fromkeys(
                (
                    *CLASSIFICATION_METRICS,
                    *REGRESSION_METRICS,
                    *CALIBRATION_METRICS,
                    *REGRESSION_CALIBRATION,
                    *SPECIFICITY_METRICS,
                )
            )
            if c in df.columns
        ]
        sample = df[df["level"] == "sample"]
        for cls in n_loci:
            sub = sample[sample["locus_class"] == cls]
            for met in metrics:
                vals = sub[met].dropna()
                if vals.empty:
                    logger.info("specificity(%s): %s undefined for every sample on %s loci.", key, met, cls)
                    continue
                rows.append((key, "sample", cls, met, float(vals.mean()), len(vals), n_samples - len(vals)))
        locus = df[df["level"] == "locus"]
        k = locus["n_reference_open"].to_numpy()
        lmasks = {"all": np.ones(len(locus), bool)}
        lmasks.update(
            {
                c: (locus["locus_class"] == c).to_numpy()
                for c in n_loci
                if c not in ("all", *SPECIFICITY_CLASSES)
            }
        )
        lmasks["variable"] = (k >= 1) & (k <= n_ref - 1)
        lmasks["rare"] = k <= 1
        ranking = [m for m in (*CLASSIFICATION_METRICS, *REGRESSION_METRICS) if m in locus.columns]
        for cls, mask in lmasks.items():
            if cls not in n_loci or not mask.any():
                logger.info("specificity(%s): no %s locus has a locus-wise metric.", key, cls)
                continue
            for met in ranking:
                vals = locus.loc[mask, met].dropna()
                rows.append(
                    (key, "locus", cls, met, float(vals.mean()), len(vals), int(n_loci[cls] - len(vals)))
                )
    out = pd.DataFrame(rows, columns=["key", "level", "loci", "metric", "value", "n", "n_skipped"])
    out.attrs["n_reference"] = n_ref
    return out


class _MetricSet(NamedTuple):
    """The metrics of one task: row-wise metric and calibration functions and their column names."""

    metrics: Callable[[np.ndarray, np.ndarray], pd.DataFrame]
    calibration: Callable[[np.ndarray, np.ndarray], pd.DataFrame]
    names: tuple[str, ...]
    calib_names: tuple[str, ...]

    def unscored(self, df: pd.DataFrame) -> np.ndarray:
        """Rows of a metric table where a metric is undefined (NaN)."""
        return df[list(self.names)].isna().any(axis=1).to_numpy()


def _read_truth_and_predictions(adata, key, layer, task, s_idx, l_idx):
    """Observed values (all samples and the selected ones) and predictions of the selected samples x loci."""
    truth_all = dense(get_layer(adata, layer), cols=l_idx)  # all samples x selected loci (for groups)
    truth = truth_all[s_idx]
    pred = dense(adata.layers[key], rows=s_idx, cols=l_idx)
    if task == "classification" and not np.isin(truth, (0, 1)).all():
        raise ValueError(f"Observed layer {layer!r} is not 0/1; use task='regression' or a binary layer.")
    return truth_all, truth, pred


def _metric_set(task: str, pred: np.ndarray, key: str) -> _MetricSet:
    """The metric functions of ``task``; calibration is NaN for classification scores outside ``[0, 1]``."""
    classification = task == "classification"
    calib_names = CALIBRATION_METRICS if classification else REGRESSION_CALIBRATION
    is_prob = bool(pred.size) and np.isfinite(pred).all() and pred.min() >= 0 and pred.max() <= 1
    if classification and not is_prob:
        logger.info(
            "evaluate(%s): predictions are not probabilities in [0, 1]; calibration metrics are NaN.", key
        )

    def calib_fn(y, p):
        if task == "regression":
            return _mean_agreement(y, p)
        if not is_prob:
            return pd.DataFrame(np.nan, index=range(np.atleast_2d(y).shape[0]), columns=list(calib_names))
        return calibration_metrics(y, p).drop(columns="n")

    return _MetricSet(
        metrics=binary_metrics if classification else regression_metrics,
        calibration=calib_fn,
        names=CLASSIFICATION_METRICS if classification else REGRESSION_METRICS,
        calib_names=calib_names,
    )


def _locus_classes(adata: AnnData, l_idx: np.ndarray) -> np.ndarray:
    """``var['locus_class']`` of the selected loci as strings (``'all'`` without that column)."""
    if "locus_class" in adata.var.columns:
        return adata.var["locus_class"].astype(str).to_numpy()[l_idx]
    return np.full(l_idx.size, "all", dtype=object)


def _class_order(lclass: np.ndarray) -> list[str]:
    """``'all'``, then ``known``/``novel``/``other`` when present, then any other class (sorted)."""
    present = pd.unique(lclass)
    classes = ["all"] + [c for c in ("known", "novel", "other") if c in present]
    classes += sorted(c for c in present if c not in classes)
    return classes


def _reference_labels(adata, reference, layer, task, l_idx) -> np.ndarray:
    """0/1 labels of the reference samples at the selected loci (``layers['binary']``, else the observed layer)."""
    r_idx = select(adata, reference, "obs")
    if r_idx.size == 0:
        raise ValueError("specificity=True needs reference samples (reference= selects none).")
    name = "binary" if "binary" in adata.layers else layer
    y = dense(get_layer(adata, name), rows=r_idx, cols=l_idx)
    if not np.isin(y, (0, 1)).all():
        raise ValueError(
            f"specificity=True defines variable / rare loci from 0/1 labels, but layer {name!r} is not 0/1 "
            "(add layers['binary'])."
        )
    return y


def _sample_table(
    truth, pred, sample_names, masks: dict, ms: _MetricSet, skipped: dict, *, differential=False, key=""
) -> pd.DataFrame:
    """Cell-wise rows (one per sample and locus class); counts the unscored rows in ``skipped``."""
    frames = []
    for cls, cols in masks.items():
        m = ms.metrics(truth[:, cols], pred[:, cols])
        m = pd.concat([m, ms.calibration(truth[:, cols], pred[:, cols])], axis=1)
        if differential:
            d = differential_metrics(truth[:, cols], pred[:, cols])["differential"].to_numpy()
            m["differential"] = d
            n_bad = int(np.isnan(d).sum())
            skipped[("differential", cls)] = n_bad
            if n_bad:
                logger.warning(
                    "evaluate(%s): differential undefined (NaN) for %d of %d samples on %s loci: %s.",
                    key,
                    n_bad,
                    len(d),
                    cls,
                    "it needs at least 2 evaluated samples"
                    if len(d) < 2
                    else "their observed difference from the other samples is constant",
                )
        m.insert(0, "name", sample_names)
        m.insert(0, "locus_class", cls)
        bad = ms.unscored(m)
        skipped[("sample", cls)] = int(bad.sum())
        frames.append(m[~bad])
    sample_df = pd.concat(frames, ignore_index=True)
    sample_df.insert(0, "level", "sample")
    return sample_df


def _add_locus_groups(adata, locus_df, truth_all, layer, task, l_idx, signal_layer, ms: _MetricSet) -> None:
    """Add the cell range and variability descriptors to the locus-wise rows (in place)."""
    if task == "classification":
        active = truth_all > 0.5
    elif "binary" in adata.layers:
        active = dense(adata.layers["binary"], cols=l_idx) > 0.5
    else:
        active = truth_all > 0
    n_active = active.sum(axis=0)
    frac = n_active / adata.n_obs
    locus_df["n_active"] = n_active.astype(np.int64)
    locus_df["frac_active"] = frac
    rng_cat = np.where(n_active == 0, 0, np.searchsorted(_RANGE_BINS[1:], frac, side="left") + 1)
    locus_df["cell_range"] = pd.Categorical.from_codes(np.clip(rng_cat, 0, 4), categories=list(_RANGE_LABELS))
    sig_name = signal_layer or ("log_norm" if "log_norm" in adata.layers else layer)
    signal = truth_all if sig_name == layer else dense(get_layer(adata, sig_name), cols=l_idx)
    var = signal.var(axis=0)
    # quartiles over the loci that get a locus-wise metric (skipped loci are mostly invariant ones)
    scored = ~ms.unscored(locus_df)
    q1, q3 = np.quantile(var[scored] if scored.any() else var, [0.25, 0.75])
    vcode = np.where(var < q1, 0, np.where(var > q3, 2, 1))
    locus_df["variance"] = var
    locus_df["variability"] = pd.Categorical.from_codes(vcode, categories=list(_VAR_LABELS))


def _drop_unscored_loci(
    locus_df, lclass, classes, ms: _MetricSet, skipped, key, task, n_samples
) -> pd.DataFrame:
    """The locus-wise rows with a defined metric; counts (in ``skipped``) and logs the others."""
    bad = ms.unscored(locus_df)
    for cls in classes:
        in_cls = np.ones(len(bad), bool) if cls == "all" else lclass == cls
        skipped[("locus", cls)] = int((bad & in_cls).sum())
    if bad.any():
        logger.info(
            "evaluate(%s): %d of %d loci skipped for locus-wise metrics (%s across the %d evaluated samples).",
            key,
            int(bad.sum()),
            len(bad),
            "only one class" if task == "classification" else "constant signal",
            n_samples,
        )
    locus_df = locus_df[~bad].reset_index(drop=True)
    locus_df.insert(0, "level", "locus")
    return locus_df


def _write_metrics(
    adata, sample_df, locus_df, classes, ms: _MetricSet, summary, *, prefix: str, params: dict
) -> None:
    """Per-sample metrics to ``obs``, per-locus metrics to ``var``, the summary to ``uns['deepcage']['metrics']``."""
    extra = [c for c in SPECIFICITY_METRICS if c in sample_df.columns]
    for cls in classes:
        sub = sample_df[sample_df["locus_class"] == cls].set_index("name")
        suffix = "" if cls == "all" else f"_{cls}"
        for met in (*ms.names, *ms.calib_names, *extra):
            adata.obs[f"{prefix}_{met}{suffix}"] = sub[met].reindex(adata.obs_names).to_numpy()
    loc = locus_df.set_index("name")
    for met in (*ms.names, *ms.calib_names):
        adata.var[f"{prefix}_{met}"] = loc[met].reindex(adata.var_names).to_numpy()
    rec = deepcage_uns(adata).setdefault("metrics", {})
    rec[prefix] = _summary_dict(summary) | {"params": params}


def calibration_table(
    adata: AnnData,
    *,
    key: str = PREDICTION,
    layer: str | None = None,
    task: str = "auto",
    samples: str | Sequence[str] = "test",
    loci: str | Sequence[str] = "test",
    groupby: str | None = None,
    n_bins: int = 10,
) -> pd.DataFrame:
    """Reliability table of predictions: observed frequency of accessibility in bins of predicted probability.

    All selected samples x loci are pooled. For classification the predictions are binned into ``n_bins``
    equal-width bins over ``[0, 1]`` (right-closed, as :func:`sklearn.calibration.calibration_curve`); in a
    calibrated model ``frac_pos ≈ mean_pred`` in every bin. For regression the bins span the range of the
    predictions and the table reports the mean observed signal per bin (``mean_obs`` against ``mean_pred``).

    Parameters
    ----------
    adata
        Samples x loci AnnData (or MuData: the ``'atac'`` modality) with predictions in ``layers[key]``.
    key
        Layer holding the predictions.
    layer
        Observed values (default as in :func:`deepcage.tl.evaluate`: ``'binary'`` for classification,
        ``'log_norm'`` for regression).
    task
        ``'classification'``, ``'regression'`` or ``'auto'`` (classification when the observed values are 0/1).
    samples
        Samples pooled: ``'test'``, ``'train'``, ``'all'``, names or a boolean mask.
    loci
        Loci pooled: ``'test'``, ``'val'``, ``'train'``, ``'all'``, names or a boolean mask.
    groupby
        A column of ``var`` (e.g. ``'locus_class'``, or a column saying whether a locus had training labels) or
        of ``obs`` (e.g. ``'cell_type'``): one set of bins per group, to compare prediction modes. ``None``: one
        group, ``'all'``.
    n_bins
        Number of bins.

    Returns
    -------
    Tidy DataFrame with one row per group and bin (empty bins included, with ``n == 0`` and NaN means):
    ``group`` (only with ``groupby``: named after the column), ``bin`` (0 ... ``n_bins - 1``), ``bin_lower``,
    ``bin_upper``, ``mean_pred``, ``frac_pos`` (classification) or ``mean_obs`` (regression) and ``n``.

    ``df.attrs`` holds ``'key'``, ``'task'``, ``'groupby'``, ``'n_bins'`` and per group (``{group: value}``): for
    classification ``'ece'``, ``'brier'``, ``'mean_pred'`` and ``'pos_rate'``; for regression ``'mean_pred'``
    and ``'mean_obs'``. The ECE is ``sum(n * |mean_pred - frac_pos|) / sum(n)`` over the bins of a group.

    Examples
    --------
    >>> tab = dc.tl.calibration_table(adata, groupby="locus_class")
    >>> tab.attrs["ece"]  # {'known': ..., 'novel': ...}
    >>> dc.pl.calibration(adata, groupby="locus_class")
    """
    n_bins = _check_n_bins(n_bins)
    adata, layer, task, s_idx, l_idx = _selection(adata, key, layer, task, samples, loci)
    truth = dense(get_layer(adata, layer), rows=s_idx, cols=l_idx)
    pred = dense(adata.layers[key], rows=s_idx, cols=l_idx)
    if not np.isfinite(pred).all():
        raise ValueError(f"adata.layers[{key!r}] holds NaN or infinite values; predictions must be finite.")
    if task == "classification":
        if not np.isin(truth, (0, 1)).all():
            raise ValueError(f"Observed layer {layer!r} is not 0/1; use task='regression' or a binary layer.")
        if pred.min() < 0 or pred.max() > 1:
            raise ValueError(
                f"adata.layers[{key!r}] is not in [0, 1] (range {pred.min():.3g} to {pred.max():.3g}); "
                "calibration needs probabilities (or use task='regression')."
            )
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        lo, hi = float(pred.min()), float(pred.max())
        if hi <= lo:
            hi = lo + 1.0
        edges = np.linspace(lo, hi, n_bins + 1)

    if groupby is None:
        labels = np.full(truth.shape, "all", dtype=object)
        gnames = ["all"]
    elif groupby in adata.var.columns or groupby in adata.obs.columns:
        on_var = groupby in adata.var.columns
        vals, gnames = _group_labels(
            adata.var[groupby] if on_var else adata.obs[groupby], l_idx if on_var else s_idx
        )
        labels = np.broadcast_to(vals[None, :] if on_var else vals[:, None], truth.shape)
    else:
        raise KeyError(
            f"groupby={groupby!r} is neither a column of adata.var ({list(adata.var.columns)}) "
            f"nor of adata.obs ({list(adata.obs.columns)})."
        )

    obs_col = "frac_pos" if task == "classification" else "mean_obs"
    rows = []
    stats: dict[str, dict] = {}
    for g in gnames:
        mask = labels == g
        p = pred[mask]
        y = truth[mask]
        b = np.clip(np.searchsorted(edges[1:-1], p, side="left"), 0, n_bins - 1)
        cnt = np.bincount(b, minlength=n_bins)
        sp = np.bincount(b, weights=p, minlength=n_bins)
        sy = np.bincount(b, weights=y, minlength=n_bins)
        with np.errstate(invalid="ignore", divide="ignore"):
            mp = np.where(cnt > 0, sp / cnt, np.nan)
            my = np.where(cnt > 0, sy / cnt, np.nan)
        for i in range(n_bins):
            rows.append((g, i, edges[i], edges[i + 1], mp[i], my[i], int(cnt[i])))
        if task == "classification":
            stats.setdefault("ece", {})[g] = float(np.abs(sp - sy).sum() / max(p.size, 1))
            stats.setdefault("brier", {})[g] = float(((p - y) ** 2).mean()) if p.size else np.nan
            stats.setdefault("mean_pred", {})[g] = float(p.mean()) if p.size else np.nan
            stats.setdefault("pos_rate", {})[g] = float(y.mean()) if p.size else np.nan
        else:
            stats.setdefault("mean_pred", {})[g] = float(p.mean()) if p.size else np.nan
            stats.setdefault("mean_obs", {})[g] = float(y.mean()) if p.size else np.nan
    df = pd.DataFrame(rows, columns=["group", "bin", "bin_lower", "bin_upper", "mean_pred", obs_col, "n"])
    if groupby is None:
        df = df.drop(columns="group")
    else:
        df = df.rename(columns={"group": groupby})
    df.attrs.update({"task": task, "groupby": groupby, "n_bins": n_bins, "key": key, **stats})
    return df


def _group_labels(col: pd.Series, idx: np.ndarray) -> tuple[np.ndarray, list]:
    """Group label of each selected row of a column (missing values as ``'NA'``) and the groups in order."""
    vals = col.to_numpy(dtype=object)[idx].copy()
    na = pd.isna(vals)
    vals[na] = "NA"
    present = set(vals[~na])
    if isinstance(col.dtype, pd.CategoricalDtype):
        order = [c for c in col.cat.categories if c in present]
    else:
        try:
            order = sorted(present)
        except TypeError:
            order = sorted(present, key=str)
    return vals, order + (["NA"] if na.any() else [])


def summarize(df: pd.DataFrame, *, skipped: dict | None = None) -> pd.DataFrame:
    """Mean metrics of an :func:`evaluate` table per ``key``, ``level`` and ``locus_class``.

    Locus rows are summarised for their own class and also pooled as ``'all'``.

    Returns
    -------
    DataFrame indexed by (``key``, ``level``, ``locus_class``) with the mean of each metric, the number of rows
    averaged (``n``) and, when known, the number of skipped rows (``n_skipped``).
    """
    metrics = [
        c
        for c in dict.fromkeys(
            (
                *CLASSIFICATION_METRICS,
                *REGRESSION_METRICS,
                *CALIBRATION_METRICS,
                *REGRESSION_CALIBRATION,
                *SPECIFICITY_METRICS,
            )
        )
        if c in df.columns
    ]
    df = df.copy()
    if "key" not in df.columns:
        df["key"] = "prediction"
    loc = df[df["level"] == "locus"]
    pooled = loc.assign(locus_class="all")
    parts = [df[df["level"] == "sample"], pooled]
    if (loc["locus_class"] != "all").any():
        parts.append(loc)
    full = pd.concat(parts, ignore_index=True)
    full["level"] = full["level"].astype(str)
    full["locus_class"] = full["locus_class"].astype(str)
    grp = full.groupby(["key", "level", "locus_class"], sort=False)
    out = grp[metrics].mean()
    out["n"] = grp.size()
    if skipped is not None:
        out["n_skipped"] = [int(skipped.get((lv, c), 0)) for _, lv, c in out.index]
    order = {"sample": 0, "locus": 1}
    corder = {"all": 0, "known": 1, "novel": 2, "other": 3, "variable": 4, "rare": 5}
    out = out.iloc[
        sorted(
            range(len(out)),
            key=lambda i: (
                out.index[i][0],
                order.get(out.index[i][1], 9),
                corder.get(out.index[i][2], 9),
            ),
        )
    ]
    return out


def _summary_dict(summary: pd.DataFrame) -> dict:
    rec: dict = {}
    for (_, level, cls), row in summary.iterrows():
        vals = {k: (int(v) if k in ("n", "n_skipped") else float(v)) for k, v in row.items() if pd.notna(v)}
        rec.setdefault(level, {})[cls] = vals
    return rec
