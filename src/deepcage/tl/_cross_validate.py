"""Cross-validation over cell types (the paper's protocol), leak-free per fold, with the baselines to beat."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData
from tqdm.auto import tqdm

from .._keys import BINARY, LOCUS_CLASS, MOTIF_SCORES, SPLIT, TF_EXPRESSION, UNS_KEY
from .._layers import dense, get_layer, motif_frame
from .._settings import show_progress
from .._utils import get_modality
from ._evaluate import binary_metrics, calibration_metrics, differential_metrics, specificity_classes

__all__ = ["cross_validate", "summarize_cv"]

logger = logging.getLogger("deepcage")

#: Methods that train a network per fold and seed (the others are fit in closed form once per fold).
_NETWORK_METHODS = ("deepcage", "sequence")
#: Label-based baselines need the training samples' labels at a locus: they cannot predict test loci.
_LABEL_METHODS = ("locus_mean", "expression_knn")
METRICS = ("average_precision", "auprc", "auroc")
#: Calibration columns of each row (a probability must be a probability; see calibration_metrics).
CALIBRATION = ("ece", "brier", "mean_pred")
#: How each held-out sample differs from the fold's other held-out samples (NaN in folds of one sample):
#: ``differential`` per sample, ``locus_auroc`` per fold (repeated in its samples' rows).
SPECIFICITY = ("differential", "locus_auroc")


def _rna_of(data, rna):
    if rna is not None:
        return get_modality(rna, "rna") if type(rna).__name__ == "MuData" else rna
    if isinstance(data, AnnData):
        raise ValueError(
            "cross_validate needs the raw RNA (rna=, samples x genes) to refit the TF quantile reference on each "
            "fold's training cells; a precomputed obsm['tf_expr'] was normalised with a reference that may "
            "include the held-out cells. Pass rna=, or a MuData with an 'rna' modality."
        )
    return get_modality(data, "rna")


def _folds(samples: pd.Index, folds, n_folds: int, seed: int) -> list[list[str]]:
    if folds is not None:
        folds = [[f] if isinstance(f, str) else [str(s) for s in f] for f in folds]
        flat = [s for f in folds for s in f]
        unknown = sorted(set(flat) - set(samples))
        if unknown:
            raise ValueError(f"folds name sample(s) not in adata: {unknown}. Samples: {list(samples)}.")
        dup = sorted({s for s in flat if flat.count(s) > 1})
        if dup:
            raise ValueError(f"Sample(s) {dup} are in more than one fold.")
        if any(len(f) == 0 for f in folds):
            raise ValueError("Every fold needs at least one held-out sample.")
        if any(len(f) >= len(samples) - 2 for f in folds):
            raise ValueError("Each fold must leave at least 3 training samples.")
        return folds
    if not 2 <= n_folds <= len(samples):
        raise ValueError(
            f"n_folds must be between 2 and the number of samples ({len(samples)}), got {n_folds}."
        )
    from sklearn.model_selection import KFold

    split = KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(np.arange(len(samples)))
    return [[str(samples[i]) for i in test] for _, test in split]


def _fold_data(
    ad: AnnData, rna, test: list[str], *, tfs, val_frac, min_positive, seed, layer, tf_key
) -> AnnData:
    """The fold's AnnData: sample split, TF reference from its training cells, locus classes from them."""
    from ..pp import split_loci, split_samples, tf_expression

    a = ad.copy()
    split_samples(a, test=test)
    tf_expression(a, rna, tfs=tfs, key_added=tf_key)
    keep_split = SPLIT in a.var
    locus_split = a.var[SPLIT].copy() if keep_split else None
    split_loci(
        a,
        val_frac=0.0 if keep_split else val_frac,
        min_positive=min_positive,
        seed=seed,
        layer=None if layer == "X" else layer,
    )
    if keep_split:  # the locus split is the caller's (test region, validation loci); only the classes change
        a.var[SPLIT] = locus_split
    return a


def _rows(truth: np.ndarray, pred: np.ndarray, classes: dict[str, np.ndarray], base: dict, samples) -> list:
    rows = []
    for name, mask in classes.items():
        if not mask.any():
            continue
        table = binary_metrics(truth[:, mask], pred[:, mask])
        calib = calibration_metrics(truth[:, mask], np.clip(pred[:, mask], 0.0, 1.0))
        diff = differential_metrics(truth[:, mask], pred[:, mask])["differential"].to_numpy()
        # locus-wise: per locus, the held-out samples ranked; defined where they disagree
        per_locus = binary_metrics(truth[:, mask].T, pred[:, mask].T)["auroc"].to_numpy()
        varying = np.isfinite(per_locus)
        locus_auroc = float(per_locus[varying].mean()) if varying.any() else np.nan
        for i, sample in enumerate(samples):
            rec = dict(base, sample=sample, locus_class=name, n_loci=int(mask.sum()))
            rec["n_pos"] = int(table["n_pos"].iloc[i])
            rec.update({m: float(table[m].iloc[i]) for m in METRICS})
            rec.update({m: float(calib[m].iloc[i]) for m in CALIBRATION})
            rec.update(differential=float(diff[i]), locus_auroc=locus_auroc, n_varying=int(varying.sum()))
            rows.append(rec)
    return rows


def cross_validate(
    adata,
    rna=None,
    *,
    folds: Sequence[Sequence[str]] | None = None,
    n_folds: int = 5,
    seeds: Sequence[int] = (0,),
    methods: Sequence[str] = ("deepcage", "locus_mean", "expression_knn"),
    layer: str = BINARY,
    val_frac: float = 0.1,
    min_positive: int = 2,
    baseline_kwargs: dict | None = None,
    progress: bool | None = None,
    return_models: bool = False,
    return_predictions: bool = False,
    **fit_kwargs,
):
    """Cross-validation over cell types: each fold's samples are predicted from their RNA alone.

    The paper's protocol (5-fold CV over cell types), leak-free per fold: for every fold

    1. its samples are held out (``obs['split'] = 'test'``), the others train;
    2. the TF quantile reference is refit on the fold's training samples only (:func:`deepcage.pp.tf_expression`
       from the raw ``rna``), and the known / novel locus classes are recomputed from them
       (:func:`deepcage.pp.split_loci`);
    3. the model (:func:`deepcage.tl.fit` with ``fit_kwargs``) and each baseline are fit on the training samples;
    4. the held-out samples are predicted from their RNA only (:func:`deepcage.tl.predict` with ``expr=``) and
       scored cell-wise (average precision, trapezoid auPR, auROC over the loci of each class).

    The locus split of ``adata`` (``var['split']``) is kept in every fold, so loci with ``var['split'] == 'test'``
    (a held-out region) are novel to every fold; without it, :func:`deepcage.pp.split_loci` draws validation loci.

    Locus classes scored: ``'all'`` (every locus outside the test loci), ``'known'`` / ``'novel'`` (the paper's
    classes, from the fold's training samples, outside the test loci), ``'variable'`` / ``'rare'`` (open in
    some but not all of the fold's training samples / in at most one, outside the test loci; see
    :func:`deepcage.tl.specificity`) and ``'test_region'`` (the test loci). The
    label-based baselines (``'locus_mean'``, ``'expression_knn'``) need labels of the training samples at a
    locus, so they are not scored on ``'test_region'``; compare the model there with ``'sequence'`` (the same
    network without expression) and the positive rate (``n_pos / n_loci``).

    Parameters
    ----------
    adata
        Samples x loci AnnData (or MuData with ``'atac'`` and ``'rna'``) with labels, ``varm['motif_scores']``
        and the genome; ``obs['split']`` is ignored (the folds decide).
    rna
        Raw expression (samples x genes AnnData or DataFrame, counts / TPM / CPM) of every sample; default: the
        MuData's ``'rna'``.
    folds
        Held-out samples of each fold (lists of obs names). Default: ``n_folds`` shuffled folds (seed
        ``seeds[0]``). Grouping related cell types in one fold tests cell types unlike any training one.
    n_folds
        Number of random folds when ``folds`` is None.
    seeds
        Seeds of the trained methods (each fold is trained once per seed); report mean ± sd over seeds.
    methods
        ``'deepcage'`` (the model with ``fit_kwargs``), ``'sequence'`` (the same network without expression, for
        novel loci) and any baseline of :func:`deepcage.tl.baselines` (``'locus_mean'``, ``'expression_knn'``,
        ``'expression'``, ``'motif'``).
    layer
        0/1 labels.
    val_frac, min_positive
        Passed to :func:`deepcage.pp.split_loci` (``val_frac`` only when ``adata`` has no locus split).
    baseline_kwargs
        Extra arguments of :func:`deepcage.tl.baselines`.
    progress
        Progress bar over folds x seeds (``None``, the default: per ``dc.settings.verbosity``).
    return_models
        Also return the fitted models: ``{(fold, seed, method): DeepCAGE}``.
    return_predictions
        Also return the trained methods' predictions of the held-out samples, as scored:
        ``{(fold, seed, method): float32 array (held-out samples x loci)}``, rows in the order of
        ``table.attrs['folds'][fold]['test']``. E.g. average them over seeds for a seed ensemble.
    **fit_kwargs
        Arguments of :func:`deepcage.tl.fit` (e.g. ``preset``, ``max_epochs``, ``prior``).

    Returns
    -------
    Tidy DataFrame with one row per fold, seed, held-out sample, method and locus class: ``fold``, ``seed``,
    ``sample``, ``method``, ``locus_class``, ``n_loci``, ``n_pos``, ``average_precision``, ``auprc``,
    ``auroc``, the calibration of the probabilities: ``ece``, ``brier``, ``mean_pred`` (see
    :func:`deepcage.tl.calibration_table`), and how the held-out samples differ from one another:
    ``differential`` (Spearman r of the predicted against the observed difference of the sample from the
    fold's other held-out samples over the class's loci; 0 for a method that predicts every sample alike) and
    ``locus_auroc`` (per locus, the fold's held-out samples ranked by the prediction, mean auROC over the
    ``n_varying`` loci of the class where they disagree; one value per fold, repeated in its rows; 0.5 for a
    method that predicts every sample alike). Both are NaN in folds that hold out one sample (nothing to
    differ from); :func:`summarize_cv` skips those rows. ``attrs['folds']`` records each fold's training and held-out samples, the samples of its TF
    reference and its locus-class counts. With ``return_models``, ``(table, models)``; with
    ``return_predictions``, ``(table, predictions)``; with both, ``(table, models, predictions)``.
    Summaries: :func:`summarize_cv`; plot: :func:`deepcage.pl.cross_validation`.

    Examples
    --------
    >>> mdata = dc.datasets.synthetic(rna=True)
    >>> cv = dc.tl.cross_validate(mdata, n_folds=3, preset="small", max_epochs=5)  # doctest: +SKIP
    >>> dc.tl.summarize_cv(cv)  # doctest: +SKIP
    >>> dc.pl.cross_validation(cv)  # doctest: +SKIP
    """
    from ._baselines import BASELINES, baselines
    from ._fit import fit
    from ._predict import predict

    ad = get_modality(adata, "atac")
    rna = _rna_of(adata, rna)
    methods = [methods] if isinstance(methods, str) else list(methods)
    unknown = [m for m in methods if m not in _NETWORK_METHODS and m not in BASELINES]
    if unknown:
        raise ValueError(
            f"Unknown method(s) {unknown}; choose from {list(_NETWORK_METHODS) + list(BASELINES)}."
        )
    # the keys fit reads, so the folds, the model and its predictions use the same slots
    motif_key = fit_kwargs.get("motif_key", MOTIF_SCORES)
    tf_key = fit_kwargs.get("tf_key", TF_EXPRESSION)
    motif_frame(ad, motif_key, require_names=False)  # the clear error when missing
    seeds = [int(s) for s in np.atleast_1d(seeds)]
    if not seeds:
        raise ValueError("seeds must hold at least one seed.")
    samples = pd.Index(ad.obs_names.astype(str))
    fold_list = _folds(samples, folds, n_folds, seeds[0])
    tfs = [str(t) for t in ad.varm[motif_key].columns]
    truth_all = dense(get_layer(ad, layer))
    closed_form = [m for m in methods if m not in _NETWORK_METHODS and m != "sequence"]
    trained = [m for m in methods if m in _NETWORK_METHODS]

    rows, info, models, predictions = [], [], {}, {}
    bar = tqdm(
        total=len(fold_list) * len(seeds),
        desc="cross-validation",
        unit="fit",
        disable=not show_progress(progress),
    )
    for f, test in enumerate(fold_list):
        a = _fold_data(
            ad,
            rna,
            test,
            tfs=tfs,
            val_frac=val_frac,
            min_positive=min_positive,
            seed=seeds[0],
            layer=layer,
            tf_key=tf_key,
        )
        is_test = a.obs[SPLIT].astype(str).to_numpy() == "test"
        test_idx = np.flatnonzero(is_test)
        classes = _locus_classes(a, truth_all[~is_test])
        label_classes = {k: v for k, v in classes.items() if k != "test_region"}
        info.append(
            {
                "fold": f,
                "test": list(samples[test_idx]),
                "train": list(samples[~is_test]),
                "tf_reference_samples": list(a.uns[UNS_KEY]["tf_reference"]["train_samples"]),
                "n_loci": {k: int(v.sum()) for k, v in classes.items()},
            }
        )
        truth = truth_all[test_idx]
        if closed_form:
            baselines(a, methods=closed_form, layer=layer, seed=seeds[0], **(baseline_kwargs or {}))
            for m in closed_form:
                pred = np.asarray(a.layers[f"baseline_{m}"], dtype=np.float64)[test_idx]
                use = label_classes if m in _LABEL_METHODS else classes
                for seed in seeds:
                    base = {"fold": f, "seed": seed, "method": m}
                    rows += _rows(truth, pred, use, base, samples[test_idx])
        new_rna = (
            rna[list(samples[test_idx])] if isinstance(rna, AnnData) else rna.loc[list(samples[test_idx])]
        )
        for seed in seeds:
            for m in trained:
                kwargs = dict(fit_kwargs, seed=seed, progress=False, layer=None if layer == "X" else layer)
                if m == "sequence":
                    kwargs.update(use_expression=False, prior=None, delta_expression=False)
                model = fit(a, **kwargs)
                new = predict(
                    model,
                    expr=new_rna,
                    loci=a,
                    motif_key=motif_key,
                    tf_key=tf_key,
                    key_added="cv",
                    progress=False,
                )
                pred = np.asarray(new.layers["cv"], dtype=np.float64)
                rows += _rows(truth, pred, classes, {"fold": f, "seed": seed, "method": m}, samples[test_idx])
                if return_models:
                    models[(f, seed, m)] = model
                if return_predictions:
                    predictions[(f, seed, m)] = pred.astype(np.float32)
            bar.update(1)
    bar.close()
    table = pd.DataFrame(rows)
    table.attrs["folds"] = info
    table.attrs["fit_kwargs"] = {k: repr(v) for k, v in fit_kwargs.items()}
    extras = ([models] if return_models else []) + ([predictions] if return_predictions else [])
    return (table, *extras) if extras else table


def _locus_classes(a: AnnData, train_truth: np.ndarray) -> dict[str, np.ndarray]:
    """The loci of each class of a fold; ``variable`` / ``rare`` from its training samples' labels."""
    test_loci = a.var[SPLIT].astype(str).to_numpy() == "test"
    cls = a.var[LOCUS_CLASS].astype(str).to_numpy()
    spec = specificity_classes(train_truth)
    return {
        "all": ~test_loci,
        "known": ~test_loci & (cls == "known"),
        "novel": ~test_loci & (cls == "novel"),
        "variable": ~test_loci & spec["variable"],
        "rare": ~test_loci & spec["rare"],
        "test_region": test_loci,
    }


def summarize_cv(table: pd.DataFrame, metric: str = "average_precision") -> pd.DataFrame:
    """Mean ± sd over seeds of the mean over held-out samples, per method and locus class.

    Parameters
    ----------
    table
        The result of :func:`cross_validate`.
    metric
        ``'average_precision'``, ``'auprc'``, ``'auroc'``, a calibration column: ``'ece'``, ``'brier'``,
        ``'mean_pred'`` (compare the last with the positive rate, ``n_pos / n_loci``), or ``'differential'``,
        ``'locus_auroc'`` (rows where they are undefined, folds of one held-out sample, are skipped).

    Returns
    -------
    DataFrame indexed by ``method`` with columns ``(locus_class, 'mean' | 'sd' | 'n_samples')``.
    """
    if metric not in METRICS + CALIBRATION + SPECIFICITY:
        raise ValueError(f"metric must be one of {METRICS + CALIBRATION + SPECIFICITY}, got {metric!r}.")
    if metric not in table.columns:
        raise KeyError(f"Column {metric!r} is not in the table (a table from an older cross_validate?).")
    per_seed = (
        table.dropna(subset=[metric])
        .groupby(["method", "locus_class", "seed"])
        .agg(value=(metric, "mean"), n_samples=("sample", "size"))
        .reset_index()
    )
    out = per_seed.groupby(["method", "locus_class"]).agg(
        mean=("value", "mean"), sd=("value", "std"), n_samples=("n_samples", "first")
    )
    out["sd"] = out["sd"].fillna(0.0)
    return out.unstack("locus_class").swaplevel(0, 1, axis=1).sort_index(axis=1)
