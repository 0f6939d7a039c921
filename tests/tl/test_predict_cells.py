"""dc.tl.predict(model, cells, groupby=...): real 10x PBMC cells, pseudobulk inside, a MuData back."""

from __future__ import annotations

import anndata
import mudata
import numpy as np
import pytest
import torch

import deepcage as dc

torch.set_num_threads(1)

FAST = {"preset": "small", "hidden": 32, "batch_loci": 64, "progress": False, "lr": 3e-3}
BLOOD_TFS = ["SPI1", "PAX5", "TBX21", "CEBPB", "TCF7", "GATA3"]  # genes of the PBMC table


@pytest.fixture(scope="module")
def blood_model():
    """A small model of the synthetic dataset whose 6 TFs carry the names of blood-cell TFs, so that real PBMC
    RNA can be normalised with its reference (the loci are the model's stored ones: no genome needed)."""
    mdata = dc.datasets.synthetic(n_samples=8, n_loci=400, n_tfs=6, seed=4, rna=True)
    names = dict(zip([f"TF{i}" for i in range(1, 7)], BLOOD_TFS, strict=True))
    atac, rna = mdata["atac"].copy(), mdata["rna"].copy()
    atac.obsm["tf_expr"] = atac.obsm["tf_expr"].rename(columns=names)
    atac.varm["motif_scores"] = atac.varm["motif_scores"].rename(columns=names)
    rec = atac.uns["deepcage"]
    rec["tfs"] = [names[t] for t in rec["tfs"]]
    rec["tf_reference"]["tfs"] = [names[t] for t in rec["tf_reference"]["tfs"]]
    del rec["motif_scan"], atac.uns["synthetic"]
    rna.var_names = [names.get(g, g) for g in rna.var_names]
    return dc.tl.fit(atac, max_epochs=1, **FAST)


@pytest.fixture(scope="module")
def pbmc(shared_data):
    return anndata.read_h5ad(shared_data / "pbmc-scrna" / "pbmc.h5ad")


def test_single_cells_to_a_mudata_of_clusters(blood_model, pbmc):
    got = dc.tl.predict(blood_model, pbmc, groupby="cell_type", progress=False)
    assert isinstance(got, mudata.MuData) and set(got.mod) == {"rna", "atac"}
    bulk = dc.pp.pseudobulk(pbmc, "cell_type")
    rna, atac = got["rna"], got["atac"]
    # 'rna': the pseudobulk of the cells (all 8 cell types have >= 10 cells)
    assert list(rna.obs_names) == list(bulk.obs_names) == sorted(pbmc.obs["cell_type"].unique())
    np.testing.assert_array_equal(rna.X, bulk.X)
    assert rna.obs.loc["CD4_T", "n_cells"] == 1180 and rna.obs.loc["Platelet", "n_cells"] == 14
    # 'atac': the same predictions as predicting the pseudobulk's RNA, in X and layers['deepcage']
    same = dc.tl.predict(blood_model, expr=bulk, progress=False)
    np.testing.assert_array_equal(atac.X, same.X)
    np.testing.assert_array_equal(atac.layers["deepcage"], atac.X)
    assert atac.shape == (8, len(blood_model.loci)) and list(atac.obs_names) == list(rna.obs_names)
    assert (atac.obs["cell_type"] == rna.obs["cell_type"]).all()
    assert (atac.obs["n_cells"] == rna.obs["n_cells"]).all()
    assert set(atac.obs["source"]) == {"rna_only"}
    assert list(got.obs["n_cells"]) == list(rna.obs["n_cells"])
    assert atac.uns["deepcage"]["predict"]["deepcage"]["groupby"] == "cell_type"
    # clusters differ: the model reads their expression
    assert np.abs(atac.X - atac.X.mean(axis=0)).max() > 1e-3


def test_counts_from_a_layer_or_raw_min_cells_and_samples(blood_model, pbmc):
    want = dc.tl.predict(blood_model, pbmc, groupby="cell_type", progress=False)["atac"]
    import scanpy as sc

    logged = pbmc.copy()
    logged.layers["counts"] = logged.X.copy()
    logged.raw = logged  # counts in .raw, log values in X, as after a scanpy workflow
    sc.pp.normalize_total(logged)
    sc.pp.log1p(logged)
    from_raw = dc.tl.predict(blood_model, logged, groupby="cell_type", progress=False)["atac"]
    np.testing.assert_array_equal(from_raw.X, want.X)
    from_layer = dc.tl.predict(blood_model, logged, groupby="cell_type", layer="counts", progress=False)[
        "atac"
    ]
    np.testing.assert_array_equal(from_layer.X, want.X)
    with pytest.warns(UserWarning, match=r"Dropped 2 group\(s\).*DC \(32\).*Platelet \(14\)"):
        big = dc.tl.predict(blood_model, pbmc, groupby="cell_type", min_cells=50, progress=False)
    assert "DC" not in big["atac"].obs_names and big["atac"].n_obs == 6
    two = dc.tl.predict(blood_model, pbmc, groupby="cell_type", samples=["NK", "B"], progress=False)
    assert list(two["atac"].obs_names) == ["NK", "B"]
    np.testing.assert_allclose(two["atac"].X, want[["NK", "B"]].X, atol=1e-6)  # batches of 2, not 8 samples
    assert list(two["rna"].obs_names) == ["NK", "B"]
