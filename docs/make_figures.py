"""Make the figures shown in the README and the docs from the real blood-cell data (``shared/data``).

Run from the repository root: ``python docs/make_figures.py`` (about 5 minutes on 2 CPU cores). Writes PNG files
to ``docs/_static/``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import deepcage as dc
from deepcage._demo import hold_out_region

OUT = Path(__file__).parent / "_static"


def main() -> None:
    for name in ("lightning", "lightning.pytorch"):
        logging.getLogger(name).setLevel(logging.WARNING)
    OUT.mkdir(exist_ok=True)
    data = dc.datasets.shared_data_dir()
    mdata = dc.datasets.heme(data, mudata=True)
    adata, rna = mdata["atac"], mdata["rna"]
    # heme's own test region has no open CD8 locus: hold out the region chosen by rule, as `deepcage demo --real`
    hold_out_region(adata, list(adata.obs_names[adata.obs["split"] == "test"]), min_open=50)
    model = dc.tl.fit(adata, preset="small", hidden=256, max_epochs=10, seed=0)
    dc.tl.predict(model, adata)
    dc.tl.baselines(adata, methods=("locus_mean", "expression_knn"))
    # the label baselines know the training cell types' labels at every locus, the model only at the loci it
    # was given labels for: compare them there (held-out cell types at the train / val loci), as the demo does
    labelled = list(adata.var_names[adata.var["split"].astype(str) != "test"])
    names = {"baseline_expression_knn": "expression_knn", "baseline_locus_mean": "locus mean"}

    dc.pl.history(model, save=OUT / "history.png", show=False)
    dc.pl.pr_curves(
        adata,
        loci=labelled,
        baseline=["baseline_expression_knn", "baseline_locus_mean"],
        labels=names,
        save=OUT / "pr_curves.png",
        show=False,
    )
    # held-out cell types at loci with training labels (split train/val) and at held-out loci (test)
    dc.pl.calibration(adata, loci="all", groupby="split", save=OUT / "calibration.png", show=False)
    dc.pl.compare(adata, loci=labelled, metric="average_precision", save=OUT / "compare.png", show=False)
    dc.pl.scatter(adata, sample="GMP-B", loci=labelled, save=OUT / "scatter.png", show=False)
    # locus-wise (in which cell types is a locus open?) over all 10 cell types, each predicted with itself left
    # out of the kNN prior, at the validation loci: two held-out cell types are too few to rank per locus
    val = list(adata.var_names[adata.var["split"].astype(str) == "val"])
    dc.pl.metric_by_group(
        adata,
        metric="auroc",
        groupby="cell_range",
        key="deepcage",
        samples="all",
        loci=val,
        save=OUT / "metric_by_group.png",
        show=False,
    )
    dc.pl.track(
        adata,
        region="chr20:10,600,000-10,700,000",
        samples=["HSC", "GMP-B", "CD8", "pDC"],
        keys=("binary", "deepcage", "baseline_locus_mean"),
        save=OUT / "track.png",
        show=False,
    )
    ranking = dc.tl.gis(
        model, adata, "GMP-B", center="JAG1", tss=data / "annotation" / "refGene_hg19_TSS.bed"
    )
    dc.pl.gis(ranking, n_top=15, save=OUT / "gis.png", show=False)
    heatmap_figure(model, rna, data)
    filters = dc.tl.filter_motifs(
        model, adata, database=data / "motifs" / "JASPAR2024_consensus.meme", n_loci=1000
    )
    dc.pl.filter_logos(filters, n=6, save=OUT / "filter_logos.png", show=False)
    print(dc.tl.compare(adata, level="sample", loci=labelled).to_string())


def heatmap_figure(model, rna, data) -> None:
    """Predicted accessibility of all 12 blood populations from their RNA (CMP and MEP have no ATAC)."""
    new = dc.tl.predict(
        model, expr=rna, exclude_self=True, progress=False
    )  # training cell types: not from themselves
    dc.pl.heatmap(
        new,
        n_top=40,
        cluster="both",
        tss=data / "annotation" / "refGene_hg19_TSS.bed",
        title="predicted from RNA: 12 blood populations x the 40 most variable loci",
        save=OUT / "heatmap.png",
        show=False,
    )


if __name__ == "__main__":
    main()
