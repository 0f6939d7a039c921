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
    model = dc.tl.fit(adata, preset="small", hidden=256, monitor="val_loss", max_epochs=10, seed=0)
    dc.tl.predict(model, adata)
    dc.tl.baselines(adata, methods=("locus_mean", "expression", "motif"))

    dc.pl.history(model, save=OUT / "history.png", show=False)
    dc.pl.pr_curves(adata, save=OUT / "pr_curves.png", show=False)
    # held-out cell types at loci with training labels (split train/val) and at held-out loci (test)
    dc.pl.calibration(adata, loci="all", groupby="split", save=OUT / "calibration.png", show=False)
    dc.pl.compare(adata, save=OUT / "compare.png", show=False)
    dc.pl.scatter(adata, sample="GMP-B", save=OUT / "scatter.png", show=False)
    dc.pl.metric_by_group(
        adata, metric="auprc", groupby="cell_range", loci="all", save=OUT / "metric_by_group.png", show=False
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
    print(dc.tl.compare(adata, level="sample").to_string())


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
