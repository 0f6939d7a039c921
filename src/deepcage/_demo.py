"""``deepcage demo``: train, predict held-out samples from RNA alone, compare with fair baselines, rank TFs, plot.

The evaluation asks two questions separately, because they have different fair baselines:

(a) **held-out samples, loci with training labels**: a new cell type on loci whose accessibility in the training
    cell types is known (to the model and to the baselines): deepcage vs ``expression_knn`` vs the locus mean;
(b) **held-out samples, held-out loci** (never trained on, no labels at all): deepcage vs the sequence-only model
    (the same network without the expression branch). The locus mean and ``expression_knn`` would read labels at
    these loci that neither model is given, so they are left out.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ._keys import BINARY, PREDICTION, SPLIT, UNS_KEY

__all__ = ["choose_test_region", "hold_out_region", "run_demo", "score_table"]

#: Method names of the demo's tables -> prediction layers.
_LAYERS = {
    "deepcage": "deepcage",
    "expression_knn": "baseline_expression_knn",
    "locus_mean": "baseline_locus_mean",
    "sequence_only": "baseline_sequence",
}


def _say(msg: str) -> None:
    print(msg, flush=True)


def choose_test_region(
    adata,
    samples: Sequence[str],
    *,
    min_open: int = 50,
    frac: float = 0.1,
    stride: int = 50,
    layer: str = BINARY,
) -> tuple[tuple[str, int, int], dict[str, int]]:
    """A held-out region of contiguous loci in which every held-out sample has at least ``min_open`` open loci.

    The rule, so that the test region is reproducible and not hand-picked: windows of ``ceil(frac * n_loci)``
    adjacent bins (within one run of sequence: a window never spans a gap of the reference), starting every
    ``stride`` bins in genome order from the start of each run; the **first** window in which each of ``samples``
    has ``>= min_open`` accessible loci. If no window of that size qualifies, the size grows by 1 % of the loci
    at a time, up to half of them. Windows start at the edge of a run, so the first qualifying one often shares
    sequence with training loci on one side only.

    Parameters
    ----------
    adata
        Samples x loci AnnData with ``var[['chrom', 'start', 'end']]`` and 0/1 labels in ``layers[layer]``.
    samples
        The held-out samples that must each have ``min_open`` open loci in the region.
    min_open
        Minimum number of open test loci per held-out sample.
    frac
        Size of the region as a fraction of the loci (the usual ~10 % test split).
    stride
        Candidate windows start every ``stride`` bins.
    layer
        Layer with the 0/1 labels.

    Returns
    -------
    ``((chrom, start, end), {sample: open loci in the region})``.

    Examples
    --------
    >>> adata = dc.datasets.heme()  # doctest: +SKIP
    >>> choose_test_region(adata, ["CD8", "GMP-B"])  # doctest: +SKIP
    (('chr20', 60000, 286600), {'CD8': 61, 'GMP-B': 127})
    """
    from ._layers import dense, get_layer

    var = adata.var
    chrom = var["chrom"].astype(str).to_numpy()
    start = var["start"].to_numpy(np.int64)
    end = var["end"].to_numpy(np.int64)
    order = np.lexsort((start, chrom))
    chrom, start, end = chrom[order], start[order], end[order]
    rows = [adata.obs_names.get_loc(s) for s in samples]
    labels = dense(get_layer(adata, layer), rows=rows)[:, order] > 0.5
    counts = np.concatenate([np.zeros((len(rows), 1), np.int64), np.cumsum(labels, axis=1)], axis=1)
    new_run = np.r_[True, (chrom[1:] != chrom[:-1]) | (start[1:] != end[:-1])]
    run_starts = np.flatnonzero(new_run)
    run_ends = np.r_[run_starts[1:], len(order)]
    n_loci = len(order)
    size = int(np.ceil(frac * n_loci))
    while size <= n_loci // 2:
        for lo, hi in zip(run_starts, run_ends):
            for a in range(lo, hi - size + 1, stride):
                n_open = counts[:, a + size] - counts[:, a]
                if (n_open >= min_open).all():
                    region = (str(chrom[a]), int(start[a]), int(end[a + size - 1]))
                    return region, {str(s): int(n) for s, n in zip(samples, n_open)}
        size += int(np.ceil(0.01 * n_loci))
    raise ValueError(
        f"No run of adjacent loci up to half of the {n_loci:,} loci holds {min_open} open loci for each of "
        f"{list(samples)}; lower min_open or hold out other samples."
    )


def hold_out_region(adata, samples: Sequence[str], *, min_open: int = 50, seed: int = 0):
    """Re-split the loci of ``adata`` in place: the region of :func:`choose_test_region` is the test split.

    The validation loci are redrawn (a seeded 10 % of the other loci, :func:`deepcage.pp.split_loci`), and
    ``uns['deepcage']['dataset']['test_region']`` records the region. Returns what :func:`choose_test_region`
    returns.
    """
    from . import pp

    region, n_open = choose_test_region(adata, samples, min_open=min_open)
    pp.split_loci(adata, val_frac=0.1, seed=seed, test_regions=["{}:{}-{}".format(*region)])
    adata.uns[UNS_KEY].setdefault("dataset", {})["test_region"] = "{}:{}-{}".format(*region)
    return region, n_open


def score_table(
    adata,
    methods: Sequence[str],
    *,
    samples: str | Sequence[str] = "test",
    loci="test",
    layer: str | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Mean cell-wise average precision and calibration of several prediction layers on the same samples x loci.

    Parameters
    ----------
    adata
        Samples x loci AnnData with the prediction layers of ``methods`` (see ``_LAYERS``).
    methods
        Method names (``'deepcage'``, ``'expression_knn'``, ``'locus_mean'``, ``'sequence_only'``).
    samples, loci
        Selection, as in :func:`deepcage.tl.evaluate`.
    layer
        Observed 0/1 values (default ``layers['binary']``).

    Returns
    -------
    The table (one row per method: ``AP``, ``auROC``, ``ECE``, ``Brier`` and ``mean P`` averaged over the scored
    samples, then the AP of each sample) and a list of notes: the samples that could not be scored (no open or
    no closed locus in the selection) and why, so that no sample is left out without a word.
    """
    from . import tl

    rows, notes = [], []
    per_sample = None
    for method in methods:
        ev = tl.evaluate(
            adata, key=_LAYERS[method], layer=layer, samples=samples, loci=loci, groups=False, inplace=False
        )
        ev = ev[(ev["level"] == "sample") & (ev["locus_class"] == "all")].set_index("name")
        if per_sample is None:
            from ._layers import dense, get_layer, select, truth_layer

            lay, _ = truth_layer(adata, layer, "classification")
            s_idx, l_idx = select(adata, samples, "obs"), select(adata, loci, "var")
            y = dense(get_layer(adata, lay), rows=s_idx, cols=l_idx)
            per_sample = {str(n): int(y[i].sum()) for i, n in enumerate(adata.obs_names[s_idx])}
            for name, n_pos in per_sample.items():
                if name not in ev.index:
                    why = "no open locus" if n_pos == 0 else "no closed locus"
                    notes.append(
                        f"{name} not scored: {why} among these {l_idx.size:,} loci (average precision undefined)"
                    )
        row = {
            "method": method,
            "AP": ev["average_precision"].mean(),
            "auROC": ev["auroc"].mean(),
            "ECE": ev["ece"].mean(),
            "Brier": ev["brier"].mean(),
            "mean P": ev["mean_pred"].mean(),
        }
        for name in per_sample:
            row[f"AP {name}"] = ev["average_precision"].get(name, np.nan)
        rows.append(row)
    return pd.DataFrame(rows), notes


def _print_table(title: str, explanation: str, table: pd.DataFrame, sizes: str, notes: list[str]) -> None:
    _say("")
    _say(title)
    _say(f"  {explanation}")
    _say(f"  {sizes}")
    for line in table.to_string(index=False, float_format=lambda x: f"{x:.3f}").splitlines():
        _say(f"  {line}")
    for note in notes:
        _say(f"  NOTE: {note}")


def _sizes(adata, test: list[str], loci: np.ndarray) -> str:
    y = np.asarray(adata[test][:, loci].layers[BINARY])
    per = ", ".join(f"{s} {int(n):,}" for s, n in zip(test, y.sum(axis=1)))
    return f"{int(loci.sum()):,} loci; open loci per held-out sample: {per} (prevalence {y.mean():.3f})"


def _load(dc, real: bool, data, seed: int, max_epochs: int | None, progress: bool) -> dict:
    """Step 1: the dataset, its held-out samples and loci, and the training options."""
    region = None
    if real:
        _say(
            "Building the blood-cell dataset (hg19 chr20: peaks -> labels, HOCOMOCO v11 motif scores, RNA) ..."
        )
        mdata = dc.datasets.heme(data, mudata=True, progress=progress)
        epochs = max_epochs or 10
        options = {"hidden": 256, "monitor": "val_loss"}  # few, sparse validation positives: stop on the loss
    else:
        _say(
            "Generating the synthetic dataset (planted rule: open if a site of an expressed TF is present) ..."
        )
        mdata = dc.datasets.synthetic(rna=True, seed=seed)
        epochs = max_epochs or 25
        options = {}
    adata, rna = mdata["atac"], mdata["rna"]
    test = list(adata.obs_names[adata.obs[SPLIT] == "test"])
    if real:
        # the dataset's own test region has too few open loci in the held-out cell types: choose one by rule
        region, n_open = hold_out_region(adata, test, min_open=50)
        counts = ", ".join(f"{s} {n}" for s, n in n_open.items())
        _say(
            "  held-out region {}:{:,}-{:,}: the first window of 10 % of the loci in which every held-out cell "
            "type has >= 50 open loci ({})".format(*region, counts)
        )
    heldout = (adata.var[SPLIT] == "test").to_numpy()
    _say(
        f"  {adata.n_obs} samples x {adata.n_vars:,} loci, {len(adata.uns['deepcage']['tfs'])} TFs; "
        f"held out: samples {test}, {int(heldout.sum()):,} test loci; "
        f"{100 * float(np.mean(adata.layers['binary'])):.1f} % open"
    )
    return {
        "adata": adata,
        "rna": rna,
        "test": test,
        "heldout": heldout,
        "region": region,
        "epochs": epochs,
        "options": options,
    }


def _train_and_predict(dc, run: dict, seed: int, progress: bool):
    """Steps 2-3: DeepCAGE and the sequence-only baseline; the held-out samples predicted from RNA alone."""
    adata, rna, test, epochs = run["adata"], run["rna"], run["test"], run["epochs"]
    _say(f"Training DeepCAGE (small preset, up to {epochs} epochs, CPU works) ...")
    fit_kwargs = {"preset": "small", "max_epochs": epochs, "progress": progress, **run["options"]}
    model = dc.tl.fit(adata, seed=seed, **fit_kwargs)
    _say(f"  {model}")
    _say(
        f"Training the sequence-only baseline (the same network without expression, up to {epochs} epochs) ..."
    )
    # what dc.tl.baselines(methods=("sequence",)) does, with the demo's progress setting for the prediction too
    sequence_only = dc.tl.fit(
        adata, seed=seed, use_expression=False, prior=None, delta_expression=False, **fit_kwargs
    )
    dc.tl.predict(sequence_only, adata, key_added="baseline_sequence", progress=progress)

    _say("Predicting the held-out samples from their RNA alone ...")
    from_rna = dc.tl.predict(model, expr=rna[test], progress=progress)
    dc.tl.predict(model, adata, progress=progress)
    same = np.allclose(from_rna.layers[PREDICTION], adata[test].layers[PREDICTION], atol=1e-5)
    _say(f"  predictions from RNA alone match in-AnnData predictions: {same}")
    rna_only = [s for s in rna.obs_names if s not in adata.obs_names]
    if rna_only:
        new = dc.tl.predict(model, expr=rna[rna_only], progress=progress)
        frac = {s: f"{100 * float(np.mean(new[s].layers['deepcage'] > 0.5)):.1f} %" for s in new.obs_names}
        _say(f"  samples with RNA but no ATAC, predicted open fraction: {frac}")
    return model


def _score_both_questions(
    dc, run: dict, seed: int
) -> tuple[pd.DataFrame, list[str], pd.DataFrame, list[str]]:
    """Step 4: the tables of questions (a) and (b), printed."""
    adata, test, heldout = run["adata"], run["test"], run["heldout"]
    dc.tl.baselines(adata, methods=("locus_mean", "expression_knn"), seed=seed)
    labelled = ~heldout  # training + validation loci: the model holds the training samples' labels there
    table_a, notes_a = score_table(
        adata, ("deepcage", "expression_knn", "locus_mean"), samples=test, loci=labelled
    )
    _print_table(
        "(a) Held-out samples x loci with training labels (a new cell type on known loci)",
        "Every method knows these loci's labels in the training samples; locus_mean = their average, "
        "expression_knn = weighted by TF-expression similarity; deepcage reads the RNA and the sequence too.",
        table_a,
        _sizes(adata, test, labelled),
        notes_a,
    )
    table_b, notes_b = score_table(adata, ("deepcage", "sequence_only"), samples=test, loci=heldout)
    _print_table(
        "(b) Held-out samples x held-out loci (never trained on, no labels)",
        "Only sequence (and RNA) can predict here; sequence_only = the same network without the expression branch "
        "(so also without the motif scores, which enter through it). "
        "locus_mean and expression_knn need labels at these loci and are not shown.",
        table_b,
        _sizes(adata, test, heldout),
        notes_b,
    )
    _say(
        "  AP: mean cell-wise average precision (higher is better); ECE / Brier: calibration (lower is better)."
    )
    return table_a, notes_a, table_b, notes_b


def _rank_tfs(dc, model, run: dict, real: bool, data, progress: bool) -> tuple[pd.DataFrame, str | None]:
    """Step 5: the GIS ranking in the first held-out sample, and the planted TF (synthetic data only)."""
    adata, test, heldout = run["adata"], run["test"], run["heldout"]
    sample = test[0]
    k = list(adata.obs_names).index(sample)
    planted = None
    if real:
        center, window = "JAG1", 100_000
        tss = dc.datasets.fetch("annotation/refGene_hg19_TSS.bed", path=data)
    else:
        # a held-out locus with a single planted site, of a TF this sample expresses: that TF should lead
        truth = adata.uns["synthetic"]
        sites, on = np.asarray(truth["sites"]), np.asarray(truth["tf_on"])[k]
        single = (sites.sum(axis=1) == 1) & (sites[:, on].sum(axis=1) == 1) & heldout
        locus = int(np.flatnonzero(single)[0])
        center, window, tss = adata.var_names[locus], 100, None
        planted = truth["tfs"][int(np.flatnonzero(sites[locus])[0])]
    ranking = dc.tl.gis(model, adata, sample, center=center, window=window, tss=tss, progress=progress)
    _say("")
    _say(f"Top TFs by gene importance score in {sample} around {center}:")
    _say(ranking.head(5).to_string(index=False))
    if not real:
        rank = int(ranking.set_index("tf").loc[planted, "rank"])
        _say(
            f"  (the locus holds one planted site, of {planted}, which {sample} expresses: ranked {rank} of {len(ranking)})"
        )
    return ranking, planted


def _figure(dc, run: dict, ranking: pd.DataFrame, planted: str | None, path: Path) -> Path:
    """Step 6: ``demo.png`` (PR curves of (a) and (b), calibration, TF ranking)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    adata, test, heldout = run["adata"], run["test"], run["heldout"]
    labelled = ~heldout
    fig, axes = plt.subplots(2, 2, figsize=(14, 10.5))
    ax = dc.pl.pr_curves(
        adata,
        samples=test,
        loci=labelled,
        baseline=["baseline_expression_knn", "baseline_locus_mean"],
        ax=axes[0, 0],
        show=False,
    )
    ax.set_title("(a) held-out samples x loci with training labels")
    ax = dc.pl.pr_curves(
        adata, samples=test, loci=heldout, baseline="baseline_sequence", ax=axes[0, 1], show=False
    )
    ax.set_title("(b) held-out samples x held-out loci")
    adata.var["loci"] = np.where(heldout, "held-out loci", "loci with training labels")
    ax = dc.pl.calibration(adata, samples=test, loci="all", groupby="loci", ax=axes[1, 0], show=False)
    ax.set_title(f"deepcage calibration on the held-out samples ({', '.join(test)})")
    fig.axes[-1].yaxis.set_minor_formatter(NullFormatter())  # the histogram panel: no crowded minor labels
    del adata.var["loci"]
    dc.pl.gis(ranking, n_top=10, highlight=None if planted is None else [planted], ax=axes[1, 1], show=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_demo(
    outdir: str | os.PathLike = "deepcage_demo",
    *,
    real: bool = False,
    data: str | os.PathLike | None = None,
    max_epochs: int | None = None,
    seed: int = 0,
    progress: bool | None = None,
) -> dict:
    """Run deepcage end to end and write a figure.

    1. Load data: the synthetic planted-rule dataset (default) or the real blood-cell data (``real=True``, hg19
       chr20; the held-out region is chosen by :func:`choose_test_region` so that every held-out cell type has
       at least 50 open test loci).
    2. Train a small DeepCAGE model on the training samples and loci (:func:`deepcage.tl.fit`), and the same
       network without its expression branch (the sequence-only baseline, ``use_expression=False``).
    3. Predict the held-out samples **from their RNA alone** (:func:`deepcage.tl.predict` with ``expr=``).
    4. Score two questions separately (:func:`score_table`): (a) held-out samples on loci with training labels,
       against the locus mean and ``expression_knn``; (b) held-out samples on held-out loci, against the
       sequence-only model. Average precision and calibration (ECE, Brier) side by side.
    5. Rank the TFs that drive a region in one held-out sample (:func:`deepcage.tl.gis`).
    6. Save ``demo.png`` (PR curves of (a) and (b), calibration, TF ranking) and the model in ``outdir``.

    Parameters
    ----------
    outdir
        Output folder.
    real
        Use the blood-cell data from ``shared/data`` instead of the synthetic dataset.
    data
        The ``shared/data`` folder (``real=True`` only).
    max_epochs
        Training epochs of each model (default: 25 synthetic, 10 real).
    seed
        Random seed.
    progress
        Show progress bars (``None``, the default: per ``dc.settings.verbosity``).

    Returns
    -------
    dict with the two tables (``'labelled_loci'``, ``'heldout_loci'``) and their notes, the held-out region,
    the GIS ranking, the paths written and the elapsed time.
    """
    import matplotlib

    matplotlib.use("Agg")
    import deepcage as dc

    # Lightning's console lines follow dc.settings.verbosity inside fit/predict: no global logger change here
    t0 = time.perf_counter()
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)

    run = _load(dc, real, data, seed, max_epochs, progress)
    model = _train_and_predict(dc, run, seed, progress)
    table_a, notes_a, table_b, notes_b = _score_both_questions(dc, run, seed)
    ranking, planted = _rank_tfs(dc, model, run, real, data, progress)
    figure = _figure(dc, run, ranking, planted, out / "demo.png")
    model_dir = model.save(out / "model", overwrite=True)
    elapsed = time.perf_counter() - t0
    _say(f"Wrote {figure} and {model_dir} in {elapsed:.0f} s.")
    return {
        "labelled_loci": table_a,
        "heldout_loci": table_b,
        "notes": notes_a + notes_b,
        "test_region": run["region"],
        "gis": ranking,
        "figure": figure,
        "model": model_dir,
        "seconds": elapsed,
    }
