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
