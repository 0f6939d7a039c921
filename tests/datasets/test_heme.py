import numpy as np
import pytest

import deepcage as dc


@pytest.mark.slow
def test_heme_builds_the_full_layout_and_caches_it(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPCAGE_CACHE", str(tmp_path))
    adata = dc.datasets.heme(shared_data, progress=False)
    assert adata.shape == (10, 11_325)  # every sequenced, non-blacklisted 200-bp bin of chr20
    assert list(adata.obs_names) == list(dc.datasets._heme.HEME_CELL_TYPES)
    assert set(adata.obs_names[adata.obs["split"] == "test"]) == {"CD8", "GMP-B"}
    assert 0.02 < adata.layers["binary"].mean() < 0.06
    assert set(adata.var["split"]) == {"train", "val", "test"}
    test_loci = adata.var[adata.var["split"] == "test"]
    assert (test_loci["start"] >= 59_700_000).all()
    assert 0.05 < (adata.var["split"] == "val").mean() < 0.15
    tfs = list(adata.varm["motif_scores"].columns)
    assert tfs == list(adata.obsm["tf_expr"].columns) and len(tfs) > 300
    assert {"GATA1", "SPI1", "CEBPA"} <= set(tfs)
    assert np.isfinite(adata.varm["motif_scores"].to_numpy()).all()
    assert adata.uns["deepcage"]["tf_reference"]["train_samples"] == list(
        adata.obs_names[adata.obs["split"] == "train"]
    )
    assert adata.uns["deepcage"]["genome"]["name"] == "hg19"

    cached = list(tmp_path.glob("heme_*.h5ad"))
    assert len(cached) == 1
    mdata = dc.datasets.heme(shared_data, mudata=True, progress=False)
    np.testing.assert_array_equal(mdata["atac"].layers["binary"], adata.layers["binary"])
    assert {"CMP", "MEP"} <= set(mdata["rna"].obs_names)  # RNA-only populations to predict


def _layout(adata):
    rec = adata.uns["deepcage"]
    return (
        list(adata.obs.columns),
        list(adata.var.columns),
        sorted(adata.obsm),
        sorted(adata.varm),
        sorted(adata.layers),
        sorted(rec),
        sorted(rec["dataset"])
        if "liftover" not in rec["dataset"]
        else sorted(set(rec["dataset"]) - {"liftover"}),
    )


@pytest.mark.slow
def test_heme_hg38_has_four_times_the_loci_and_the_same_layout(
    shared_data, tiny_motifs, tmp_path, monkeypatch
):
    monkeypatch.setenv("DEEPCAGE_CACHE", str(tmp_path))
    adata = dc.datasets.heme(shared_data, genome="hg38", motifs=tiny_motifs, progress=False)
    hg19 = dc.datasets.heme(shared_data, motifs=tiny_motifs, progress=False)
    assert adata.shape == (10, 49_660)  # every sequenced, non-blacklisted 200-bp bin of hg38 chr20:0-10 Mb
    assert adata.shape[1] > 4 * hg19.shape[1]
    assert _layout(adata) == _layout(hg19)
    assert list(adata.obs_names) == list(hg19.obs_names)
    assert (adata.obs["split"] == hg19.obs["split"]).all()
    assert adata.uns["deepcage"]["genome"]["name"] == "hg38"
    assert adata.var_names[0].startswith("chr20:") and (adata.var["end"] <= 10_000_000).all()
    assert list(adata.varm["motif_scores"].columns) == list(hg19.varm["motif_scores"].columns)
    np.testing.assert_allclose(adata.obsm["tf_expr"].to_numpy(), hg19.obsm["tf_expr"].to_numpy())

    # the test region (first Mb, ~9 % of the loci) holds open loci of every held-out cell type
    test = (adata.var["split"] == "test").to_numpy()
    assert (adata.var.loc[test, "end"] <= 1_000_000).all() and 0.08 < test.mean() < 0.11
    assert 0.08 < (adata.var["split"] == "val").mean() < 0.1
    for cell in ("CD8", "GMP-B"):
        assert adata[cell, test].layers["binary"].sum() > 100
    assert set(adata.var["locus_class"]) == set(hg19.var["locus_class"])
    assert 0.02 < adata.layers["binary"].mean() < 0.06

    # every peak of chr20 lifts to hg38 (the chain maps this chromosome cleanly)
    lifted = adata.uns["deepcage"]["dataset"]["liftover"]
    assert set(lifted) == set(adata.obs_names)
    assert all(r["n_lifted"] == r["n_input"] > 2_000 for r in lifted.values())

    # cached under its own key, next to the hg19 build
    assert len(list(tmp_path.glob("heme_*.h5ad"))) == 2
    again = dc.datasets.heme(shared_data, genome="hg38", motifs=tiny_motifs, progress=False)
    np.testing.assert_array_equal(again.layers["binary"], adata.layers["binary"])
    with pytest.raises(ValueError, match="genome must be one of"):
        dc.datasets.heme(shared_data, genome="mm10")
