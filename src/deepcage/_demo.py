"""``deepcage demo``: train, predict held-out samples from RNA alone, compare with the locus mean, rank TFs, plot."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

__all__ = ["run_demo"]


def _say(msg: str) -> None:
    print(msg, flush=True)


def run_demo(
    outdir: str | os.PathLike = "deepcage_demo",
    *,
    real: bool = False,
    data: str | os.PathLike | None = None,
    max_epochs: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Run deepcage end to end and write a figure.

    1. Load data: the synthetic planted-rule dataset (default) or the real blood-cell data (``real=True``).
    2. Train a small DeepCAGE model on the training samples and loci (:func:`deepcage.tl.fit`).
    3. Predict the held-out samples **from their RNA alone** (:func:`deepcage.tl.predict` with ``expr=``).
    4. Compare with the locus-mean baseline on held-out samples x held-out loci (:func:`deepcage.tl.compare`).
    5. Rank the TFs that drive a region in one held-out sample (:func:`deepcage.tl.gis`).
    6. Save ``demo.png`` (PR curves, method comparison, TF ranking) and the model in ``outdir``.

    Parameters
    ----------
    outdir
        Output folder.
    real
        Use the blood-cell data from ``shared/data`` instead of the synthetic dataset.
    data
        The ``shared/data`` folder (``real=True`` only).
    max_epochs
        Training epochs (default: 25 synthetic, 10 real).
    seed
        Random seed.
    progress
        Show progress bars.

    Returns
    -------
    dict with the comparison table, the GIS ranking, the paths written and the elapsed time.
    """
    import matplotlib

    matplotlib.use("Agg")
    import logging

    import matplotlib.pyplot as plt

    import deepcage as dc

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    t0 = time.perf_counter()
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)

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
    test = list(adata.obs_names[adata.obs["split"] == "test"])
    _say(
        f"  {adata.n_obs} samples x {adata.n_vars:,} loci, {len(adata.uns['deepcage']['tfs'])} TFs; "
        f"held out: samples {test}, {int((adata.var['split'] == 'test').sum()):,} test loci; "
        f"{100 * float(np.mean(adata.layers['binary'])):.1f} % open"
    )

    _say(f"Training DeepCAGE (small preset, up to {epochs} epochs, CPU works) ...")
    model = dc.tl.fit(adata, preset="small", max_epochs=epochs, seed=seed, progress_bar=progress, **options)
    _say(f"  {model}")

    _say("Predicting the held-out samples from their RNA alone ...")
    from_rna = dc.tl.predict(model, expr=rna[test])
    dc.tl.predict(model, adata)
    same = np.allclose(from_rna.layers["deepcage"], adata[test].layers["deepcage"], atol=1e-5)
    _say(f"  predictions from RNA alone match in-AnnData predictions: {same}")
    rna_only = [s for s in rna.obs_names if s not in adata.obs_names]
    if rna_only:
        new = dc.tl.predict(model, expr=rna[rna_only])
        frac = {s: f"{100 * float(np.mean(new[s].layers['deepcage'] > 0.5)):.1f} %" for s in new.obs_names}
        _say(f"  samples with RNA but no ATAC, predicted open fraction: {frac}")

    dc.tl.baselines(adata, methods=("locus_mean",))
    table = dc.tl.compare(adata, keys=("deepcage", "baseline_locus_mean"), level="sample")
    cols = [c for c in ("method", "locus_class", "auprc", "average_precision", "auroc", "n") if c in table]
    _say(
        "Held-out samples x held-out loci (cell-wise means; positive rate "
        f"{float(np.mean(adata[test][:, adata.var['split'] == 'test'].layers['binary'])):.3f}):"
    )
    _say(table[cols].to_string(index=False, float_format=lambda x: f"{x:.3f}"))

    sample = test[0]
    k = list(adata.obs_names).index(sample)
    if real:
        center, window = "JAG1", 100_000
        tss = dc.datasets.fetch("annotation/refGene_hg19_TSS.bed", path=data)
    else:
        # a held-out locus with a single planted site, of a TF this sample expresses: that TF should lead
        truth = adata.uns["synthetic"]
        sites, on = np.asarray(truth["sites"]), np.asarray(truth["tf_on"])[k]
        single = (
            (sites.sum(axis=1) == 1)
            & (sites[:, on].sum(axis=1) == 1)
            & (adata.var["split"] == "test").to_numpy()
        )
        locus = int(np.flatnonzero(single)[0])
        center, window, tss = adata.var_names[locus], 100, None
        planted = truth["tfs"][int(np.flatnonzero(sites[locus])[0])]
    ranking = dc.tl.gis(model, adata, sample, center=center, window=window, tss=tss, progress=progress)
    _say(f"Top TFs by gene importance score in {sample} around {center}:")
    _say(ranking.head(5).to_string(index=False))
    if not real:
        rank = int(ranking.set_index("tf").loc[planted, "rank"])
        _say(
            f"  (the locus holds one planted site, of {planted}, which {sample} expresses: ranked {rank} of {len(ranking)})"
        )
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    dc.pl.pr_curves(adata, key="deepcage", ax=axes[0], show=False)
    dc.pl.compare(adata, keys=("deepcage", "baseline_locus_mean"), ax=axes[1], show=False)
    dc.pl.gis(ranking, n_top=10, ax=axes[2], show=False)
    fig.tight_layout()
    figure = out / "demo.png"
    fig.savefig(figure, dpi=120)
    plt.close(fig)
    model_dir = model.save(out / "model", overwrite=True)
    elapsed = time.perf_counter() - t0
    _say(f"Wrote {figure} and {model_dir} in {elapsed:.0f} s.")
    return {"compare": table, "gis": ranking, "figure": figure, "model": model_dir, "seconds": elapsed}
