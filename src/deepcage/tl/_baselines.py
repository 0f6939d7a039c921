"""Baselines evaluated on the same split as the model, and one comparison table of all methods."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse
from scipy.special import expit

from .._keys import BINARY, MOTIF_SCORES, PREDICTION, SPLIT, TF_EXPRESSION, UNS_KEY
from .._layers import dense as _dense
from .._layers import expr_frame as _expr_frame
from .._layers import get_layer as _get_layer
from .._layers import motif_frame as _motif_frame
from .._layers import select as _select
from .._layers import truth_layer as _truth_layer
from .._utils import deepcage_uns, get_modality
from ._evaluate import evaluate, summarize
from ._knn import DEFAULT_TEMPERATURES, choose_temperature, knn_predict

__all__ = ["BASELINES", "baselines", "compare", "predict_baseline"]

logger = logging.getLogger("deepcage")

#: Baseline methods and what they predict (also written to ``uns['deepcage']['baselines']``).
BASELINES = {
    "locus_mean": "mean observed value of the locus over the training samples (the same for every sample)",
    "expression_knn": "training samples' observed values weighted by softmax(expression correlation / T), "
    "T chosen by leave-one-out over the training samples (each training sample predicted from the others)",
    "expression": "BIRD-like: per-locus ridge regression of the observed value on the samples' TF expression, "
    "fit on the training samples (no sequence, no motifs)",
    "motif": "linear model on motif score x TF expression (the DeepCAGE motif branch without the sequence "
    "trunk), fit on training samples x training loci",
    "sequence": "DeepCAGE fit with the expression branch switched off (use_expression=False): one prediction per "
    "locus, the same for every sample",
}
_DEFAULT_METHODS = ("locus_mean", "expression_knn", "expression", "motif")


def baselines(
    adata: AnnData,
    *,
    methods: Sequence[str] = _DEFAULT_METHODS,
    layer: str | None = None,
    task: str = "auto",
    train_samples: str | Sequence[str] = "train",
    train_loci: str | Sequence[str] = "train",
    tf_key: str = TF_EXPRESSION,
    motif_key: str = MOTIF_SCORES,
    alphas: Sequence[float] = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0),
    max_pairs: int = 200_000,
    chunk_size: int = 20_000,
    knn_expr=None,
    temperatures: Sequence[float] = DEFAULT_TEMPERATURES,
    fit_kwargs: dict | None = None,
    seed: int = 0,
    key_prefix: str = "baseline_",
    copy: bool = False,
) -> AnnData | None:
    """Predictions of simple baselines, fit on the training split, for every sample and locus.

    All baselines are fit only on the training samples (``obs['split'] == 'train'``; the motif baseline also
    only on the training loci), so :func:`deepcage.tl.evaluate` / :func:`deepcage.tl.compare` score them on the
    same held-out samples and loci as the model.

    ``'locus_mean'``
        The mean observed value of each locus over the training samples: a sample-independent prediction (what
        is known about a locus without looking at the new sample). Strong on known loci, useless for telling
        samples apart (locus-wise auROC 0.5, Pearson r 0).
    ``'expression_knn'``
        What RNA similarity alone gives: each sample's prediction is the training samples' observed values
        weighted by ``softmax(r / T)``, ``r`` the Pearson correlation of the two samples' normalised TF
        expression (``obsm[tf_key]``), or of their whole transcriptomes (``log1p`` CPM) with ``knn_expr=``. The
        temperature ``T`` is chosen by leave-one-out over the training samples (each predicted from the others,
        scored by mean average precision or Pearson r on the training loci). A training sample is predicted
        from the other training samples, never from itself. The strongest simple method for new cell types:
        any model must beat it. For new samples with RNA only, use :func:`deepcage.tl.predict_baseline`.
    ``'expression'``
        BIRD-like: for every locus a ridge regression of its observed value (0/1 or signal) on the samples'
        standardised TF expression (``obsm[tf_key]``), fit on the training samples with scikit-learn's
        :class:`~sklearn.linear_model.Ridge`. The penalty is chosen once by efficient leave-one-out CV
        (:class:`~sklearn.linear_model.RidgeCV`) on up to 5,000 loci; the fit runs over loci in chunks of
        ``chunk_size`` targets. For 0/1 labels the output is a linear score (not clipped; metrics use its ranks).
    ``'motif'``
        A linear model on the features ``motif_score[locus, tf] * expression[sample, tf]``, the input of the
        DeepCAGE motif branch, without any sequence model: :class:`~sklearn.linear_model.LogisticRegression`
        (classification, output = probability) or :class:`~sklearn.linear_model.Ridge` (regression) on up to
        ``max_pairs`` random (training sample, training locus) pairs. Predicts new samples and novel loci.
    ``'sequence'``
        :func:`deepcage.tl.fit` with ``use_expression=False`` (keyword arguments from ``fit_kwargs``), then
        :func:`deepcage.tl.predict`. Trains a network: only run when asked.

    Parameters
    ----------
    adata
        Samples x loci AnnData (or MuData: ``'atac'``) with ``obs['split']``, ``var['split']``,
        ``obsm['tf_expr']`` and ``varm['motif_scores']``.
    methods
        Any of ``'locus_mean'``, ``'expression_knn'``, ``'expression'``, ``'motif'``, ``'sequence'``.
    layer, task
        Observed values to fit, as in :func:`deepcage.tl.evaluate` (default ``layers['binary']``).
    train_samples, train_loci
        Training samples / loci: a split name, ``'all'``, names or a boolean mask.
    tf_key, motif_key
        ``obsm`` / ``varm`` keys of TF expression and motif scores (same TF columns).
    alphas
        Ridge penalties tried by the leave-one-out CV of the expression baseline.
    max_pairs
        Training pairs (subsampled) of the motif baseline.
    chunk_size
        Loci per ridge fit in the expression baseline.
    knn_expr
        Whole-transcriptome expression (samples x genes AnnData or DataFrame of counts / TPM, rows for every
        sample of ``adata``) for the similarity of ``'expression_knn'``; default: ``obsm[tf_key]``.
    temperatures
        Temperatures tried by the leave-one-out choice of ``'expression_knn'``.
    fit_kwargs
        Extra arguments of :func:`deepcage.tl.fit` for the sequence baseline (e.g. ``max_epochs``).
    seed
        Random seed (pair subsampling, the sequence model).
    key_prefix
        Layers are written to ``layers[f'{key_prefix}{method}']``.
    copy
        Return a modified copy instead of writing into ``adata``.

    Returns
    -------
    ``None`` (or the copy with ``copy=True``); writes

    * ``layers[f'{key_prefix}{method}']``: float32 samples x loci predictions for every sample and locus;
    * ``uns['deepcage']['baselines'][method]``: description, layer fit, task, training sizes, chosen penalty.

    Examples
    --------
    >>> adata = dc.datasets.synthetic()
    >>> dc.tl.baselines(adata)
    >>> dc.tl.compare(adata, keys=["baseline_locus_mean", "baseline_expression", "baseline_motif"])
    """
    data = adata.copy() if copy else adata
    ad = get_modality(data, "atac")
    methods = [methods] if isinstance(methods, str) else list(methods)
    unknown = [m for m in methods if m not in BASELINES]
    if unknown:
        raise ValueError(f"Unknown baseline(s) {unknown}; choose from {list(BASELINES)}.")
    layer, task = _truth_layer(ad, layer, task)
    s_idx = _select(ad, train_samples, "obs")
    truth = _get_layer(ad, layer)
    rec = deepcage_uns(ad).setdefault("baselines", {})
    for method in methods:
        info = {
            "description": BASELINES[method],
            "layer": layer,
            "task": task,
            "n_train_samples": int(s_idx.size),
        }
        if method == "locus_mean":
            means = np.asarray(truth[s_idx].mean(axis=0), dtype=np.float64).ravel()
            pred = np.broadcast_to(means.astype(np.float32), ad.shape).copy()
        elif method == "expression_knn":
            feats = _similarity_features(ad, tf_key, knn_expr)
            l_idx = _select(ad, train_loci, "var")
            pred, temperature = _knn_baseline(feats, truth, s_idx, l_idx, task, temperatures, seed)
            info.update(
                temperature=temperature,
                similarity=tf_key if knn_expr is None else "transcriptome (log1p CPM)",
            )
        elif method == "expression":
            pred, alpha = _expression_baseline(ad, truth, s_idx, tf_key, alphas, chunk_size)
            info["alpha"] = float(alpha)
        elif method == "motif":
            l_idx = _select(ad, train_loci, "var")
            pred, n_pairs = _motif_baseline(ad, truth, s_idx, l_idx, task, tf_key, motif_key, max_pairs, seed)
            info.update(n_train_loci=int(l_idx.size), n_pairs=int(n_pairs))
        else:  # sequence
            pred = _sequence_baseline(ad, layer, task, fit_kwargs, seed, f"{key_prefix}{method}")
        ad.layers[f"{key_prefix}{method}"] = np.asarray(pred, dtype=np.float32)
        rec[method] = info
        logger.info("baselines: wrote layers[%r]", f"{key_prefix}{method}")
    return data if copy else None


def _tf_tables(adata: AnnData, tf_key: str, motif_key: str | None = None):
    expr = _expr_frame(adata, tf_key, require_names=False)
    if motif_key is None:
        return expr.to_numpy(np.float64), None
    motif = _motif_frame(adata, motif_key, require_names=False)
    if motif.shape[1] != expr.shape[1] or (
        isinstance(adata.varm[motif_key], pd.DataFrame)
        and isinstance(adata.obsm[tf_key], pd.DataFrame)
        and list(map(str, motif.columns)) != list(map(str, expr.columns))
    ):
        raise ValueError(
            f"obsm[{tf_key!r}] and varm[{motif_key!r}] must have the same TF columns in the same order "
            f"({expr.shape[1]} vs {motif.shape[1]} columns)."
        )
    return expr.to_numpy(np.float64), motif.to_numpy(np.float64)


def _similarity_features(adata: AnnData, tf_key: str, knn_expr) -> np.ndarray:
    """Samples x features whose correlations define expression similarity (TF expression or transcriptome)."""
    if knn_expr is None:
        expr, _ = _tf_tables(adata, tf_key)
        return expr
    from ..pp._tf import _check_values, _expression_frame

    df, _, _ = _expression_frame(knn_expr)
    df.index = df.index.astype(str)
    missing = [s for s in adata.obs_names.astype(str) if s not in df.index]
    if missing:
        raise ValueError(
            f"knn_expr has no row for {len(missing)} sample(s) of adata, e.g. {missing[:5]}; its rows must be "
            "named like adata.obs_names."
        )
    df = _check_values(df.loc[list(adata.obs_names.astype(str))], "knn_expr")
    values = df.to_numpy(np.float64)
    return np.log1p(values / values.sum(axis=1, keepdims=True) * 1e6)


def _knn_baseline(feats, truth, s_idx, l_idx, task, temperatures, seed):
    y = _dense(truth, rows=s_idx)
    temperature, _ = choose_temperature(
        feats[s_idx], y[:, l_idx], temperatures=temperatures, task=task, seed=seed
    )
    own = np.full(len(feats), -1, dtype=np.int64)
    own[s_idx] = np.arange(s_idx.size)  # a training sample is predicted from the others
    return knn_predict(feats, feats[s_idx], y, temperature, own), temperature


def _expression_baseline(adata, truth, s_idx, tf_key, alphas, chunk_size):
    from sklearn.linear_model import Ridge, RidgeCV
    from sklearn.preprocessing import StandardScaler

    expr, _ = _tf_tables(adata, tf_key)
    if s_idx.size < 3:
        raise ValueError(f"The expression baseline needs at least 3 training samples, got {s_idx.size}.")
    scaler = StandardScaler().fit(expr[s_idx])
    x_train = scaler.transform(expr[s_idx])
    x_all = scaler.transform(expr)
    n_loci = adata.n_vars
    rng = np.random.default_rng(0)
    probe = np.sort(rng.choice(n_loci, size=min(n_loci, 5000), replace=False))
    y_probe = _dense(truth, rows=s_idx, cols=probe)
    alpha = RidgeCV(alphas=np.asarray(alphas, dtype=np.float64)).fit(x_train, y_probe).alpha_
    pred = np.empty(adata.shape, dtype=np.float32)
    for lo in range(0, n_loci, chunk_size):
        cols = np.arange(lo, min(n_loci, lo + chunk_size))
        y = _dense(truth, rows=s_idx, cols=cols)
        pred[:, cols] = Ridge(alpha=alpha).fit(x_train, y).predict(x_all).reshape(adata.n_obs, -1)
    return pred, alpha


def _motif_baseline(adata, truth, s_idx, l_idx, task, tf_key, motif_key, max_pairs, seed):
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.preprocessing import StandardScaler

    expr, motif = _tf_tables(adata, tf_key, motif_key)
    rng = np.random.default_rng(seed)
    n_pairs = s_idx.size * l_idx.size
    pick = rng.choice(n_pairs, size=min(max_pairs, n_pairs), replace=False)
    si, li = s_idx[pick // l_idx.size], l_idx[pick % l_idx.size]
    feats = motif[li] * expr[si]
    if sparse.issparse(truth):
        y = np.asarray(truth.tocsr()[si, li], dtype=np.float64).ravel()
    else:
        y = np.asarray(truth, dtype=np.float64)[si, li]
    scaler = StandardScaler().fit(feats)
    z = scaler.transform(feats)
    if task == "classification":
        if np.unique(y).size < 2:
            raise ValueError("The motif baseline needs both 0 and 1 labels among the training pairs.")
        lm = LogisticRegression(max_iter=1000).fit(z, y.astype(int))
        w, b = lm.coef_.ravel(), float(lm.intercept_[0])
    else:
        lm = Ridge(alpha=1.0).fit(z, y)
        w, b = np.asarray(lm.coef_).ravel(), float(lm.intercept_)
    # undo the scaling: sum_t w_t (m g - mu_t) / sd_t + b = sum_t (w_t / sd_t) m g + b'
    w_eff = w / scaler.scale_
    b_eff = b - float(np.sum(w * scaler.mean_ / scaler.scale_))
    score = expr @ (motif * w_eff).T + b_eff  # samples x loci
    if task == "classification":
        score = expit(score)
    return score, pick.size


def _sequence_baseline(adata, layer, task, fit_kwargs, seed, key_added):
    from ._fit import fit
    from ._predict import predict

    kwargs = {"seed": seed} | dict(fit_kwargs or {})
    if layer != "X":
        kwargs.setdefault("layer", layer)
    kwargs.setdefault("task", task)
    kwargs.update(use_expression=False, prior=None, delta_expression=False)
    model = fit(adata, **kwargs)
    predict(model, adata, key_added=key_added)
    return np.asarray(adata.layers[key_added], dtype=np.float32)


def compare(
    adata: AnnData | None = None,
    *,
    keys: Sequence[str] | None = None,
    evaluations: Sequence[pd.DataFrame] | None = None,
    layer: str | None = None,
    task: str = "auto",
    samples: str | Sequence[str] = "test",
    loci: str | Sequence[str] = "test",
    level: str | None = None,
) -> pd.DataFrame:
    """One table of mean metrics for the model and the baselines, on the same samples and loci.

    Parameters
    ----------
    adata
        Samples x loci AnnData (or MuData) with the prediction layers.
    keys
        Prediction layers to compare. Default: ``'deepcage'`` (when present) and every ``baseline_*`` layer.
    evaluations
        Instead of ``adata``: tables returned by :func:`deepcage.tl.evaluate` (one per method).
    layer, task, samples, loci
        Passed to :func:`deepcage.tl.evaluate` (the same for every method).
    level
        Keep only ``'sample'`` (cell-wise) or ``'locus'`` (locus-wise) rows.

    Returns
    -------
    DataFrame with one row per ``method`` x ``level`` x ``locus_class`` (``'all'``, ``'known'``,
    ``'novel'``) and the mean of each metric (``auprc``, ``average_precision``, ``auroc`` or ``pearson``,
    ``psr``, ``psr_paper``) over the samples (cell-wise) or loci (locus-wise), ``n`` (rows averaged) and
    ``n_skipped`` (samples / loci where the metric is undefined). Nothing is written to ``adata``.

    Examples
    --------
    >>> dc.tl.baselines(adata)
    >>> table = dc.tl.compare(adata)
    >>> table.query("level == 'sample'").pivot(index="method", columns="locus_class", values="auprc")
    >>> dc.pl.compare(table, metric="auprc")
    """
    if evaluations is None:
        if adata is None:
            raise ValueError(
                "Pass adata (with prediction layers) or evaluations= (tables from dc.tl.evaluate)."
            )
        ad = get_modality(adata, "atac")
        if keys is None:
            keys = ([PREDICTION] if PREDICTION in ad.layers else []) + sorted(
                k for k in ad.layers if str(k).startswith("baseline_")
            )
            if not keys:
                raise KeyError(
                    "No prediction layers found ('deepcage' or 'baseline_*'); run dc.tl.predict / dc.tl.baselines."
                )
        evaluations = [
            evaluate(
                ad, key=k, layer=layer, task=task, samples=samples, loci=loci, groups=False, inplace=False
            )
            for k in keys
        ]
    tables = []
    for ev in evaluations:
        skipped = {tuple(k.split("/")): v for k, v in ev.attrs.get("n_skipped", {}).items()}
        tables.append(summarize(ev, skipped=skipped or None))
    table = pd.concat(tables).reset_index().rename(columns={"key": "method"})
    if level is not None:
        if level not in ("sample", "locus"):
            raise ValueError(f"level must be 'sample', 'locus' or None, got {level!r}.")
        table = table[table["level"] == level].reset_index(drop=True)
    return table


def predict_baseline(
    reference,
    expr,
    *,
    method: str = "expression_knn",
    layer: str | None = None,
    tf_key: str = TF_EXPRESSION,
    temperatures: Sequence[float] = DEFAULT_TEMPERATURES,
    fill_missing: bool = False,
    key_added: str | None = None,
) -> AnnData:
    """A baseline's predictions for **new samples from their RNA alone**, to compare with :func:`predict`.

    Parameters
    ----------
    reference
        Either the training AnnData (samples x loci with labels, ``obsm[tf_key]``, ``obs['split']`` and the TF
        reference written by :func:`deepcage.pp.tf_expression`; its training samples are the reference), or a
        :class:`deepcage.DeepCAGE` fit with ``prior='knn'`` (it stores its training samples' labels,
        expression and kNN temperature, so a saved model is enough; loci without stored labels are left out).
    expr
        New samples' raw expression (samples x genes AnnData or DataFrame; counts, TPM or CPM).
    method
        ``'expression_knn'`` (training samples weighted by TF-expression similarity, see
        :func:`deepcage.tl.baselines`) or ``'locus_mean'``.
    layer
        Labels of the reference AnnData (default ``'binary'`` when present, else ``X``).
    tf_key
        ``obsm`` key of the reference's normalised TF expression.
    temperatures
        Temperatures tried by the leave-one-out choice (AnnData reference; a model keeps its own).
    fill_missing
        TFs missing from ``expr`` count as 0 (with a warning) instead of an error.
    key_added
        Layer of the result; default ``f'baseline_{method}'``.

    Returns
    -------
    AnnData new samples x loci with ``layers[key_added]``, ``obsm[tf_key]`` (the new samples' normalised TF
    expression), ``var[['chrom', 'start', 'end']]`` when known and ``uns['deepcage']['predict_baseline']``.

    Examples
    --------
    >>> mdata = dc.datasets.synthetic(rna=True)
    >>> adata, rna = mdata["atac"], mdata["rna"]
    >>> test = adata.obs_names[adata.obs["split"] == "test"]
    >>> knn = dc.tl.predict_baseline(adata, rna[test])
    >>> knn.layers["baseline_expression_knn"].shape[0] == len(test)
    True
    """
    from ..model._model import DeepCAGE
    from ..pp import apply_tf_reference

    if method not in ("expression_knn", "locus_mean"):
        raise ValueError(f"method={method!r}; predict_baseline offers 'expression_knn' and 'locus_mean'.")
    key_added = key_added or f"baseline_{method}"
    if isinstance(reference, DeepCAGE):
        model = reference
        if model.ref_labels is None:
            raise ValueError(
                "This model stores no training labels (it was fit without prior='knn'); pass the training AnnData "
                "as reference instead."
            )
        labels = model.ref_labels.dropna(axis=0, how="any")
        ref_values = labels.to_numpy(np.float64).T
        ref_expr = model.network.ref_expr.detach().cpu().numpy().astype(np.float64)
        temperature = float(model.network.knn_temperature)
        tf_ref, tfs, var = model.tf_reference, model.tfs, None
        if model.loci is not None:
            var = model.loci.loc[labels.index, ["chrom", "start", "end"]]
        loci_names = labels.index
    else:
        ad = get_modality(reference, "atac")
        layer = layer if layer is not None else (BINARY if BINARY in ad.layers else None)
        s_idx = _select(ad, "train", "obs") if SPLIT in ad.obs else np.arange(ad.n_obs)
        ref_values = _dense(_get_layer(ad, layer), rows=s_idx)
        expr_all, _ = _tf_tables(ad, tf_key)
        ref_expr = expr_all[s_idx]
        tf_ref = deepcage_uns(ad).get("tf_reference")
        tfs = [str(t) for t in pd.DataFrame(ad.obsm[tf_key]).columns]
        temperature = None
        if method == "expression_knn":
            l_idx = _select(ad, "train", "var") if SPLIT in ad.var else np.arange(ad.n_vars)
            task = "classification" if np.isin(ref_values, (0, 1)).all() else "regression"
            temperature, _ = choose_temperature(
                ref_expr, ref_values[:, l_idx], temperatures=temperatures, task=task
            )
        var = ad.var[["chrom", "start", "end"]].copy() if {"chrom", "start", "end"} <= set(ad.var) else None
        loci_names = ad.var_names
    if tf_ref is None:
        raise ValueError(
            "The reference has no TF-expression reference (uns['deepcage']['tf_reference']): run "
            "dc.pp.tf_expression on it first, so new RNA is normalised the same way."
        )
    new = apply_tf_reference(expr, tf_ref, fill_missing=fill_missing)
    new = new[tfs]
    query = new.to_numpy(np.float64)
    if method == "expression_knn":
        pred = knn_predict(query, ref_expr, ref_values, temperature)
    else:
        pred = np.broadcast_to(ref_values.mean(axis=0), (len(query), ref_values.shape[1])).astype(np.float32)
    out = AnnData(
        obs=pd.DataFrame(index=new.index.astype(str)),
        var=var.set_axis(pd.Index(loci_names).astype(str))
        if var is not None
        else pd.DataFrame(index=loci_names),
    )
    out.layers[key_added] = np.ascontiguousarray(pred, dtype=np.float32)
    out.obsm[tf_key] = new.set_axis(out.obs_names)
    out.uns[UNS_KEY] = {
        "predict_baseline": {
            "method": method,
            "temperature": temperature,
            "n_reference_samples": int(ref_values.shape[0]),
            "description": BASELINES[method],
        }
    }
    return out
