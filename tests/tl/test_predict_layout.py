"""The prediction AnnData: X + layers, obs carried with obs['source'], samples=, the same layout in memory and in
the streamed .h5ad (read by scanpy), dc.tl.predict_genome, clear coordinate errors."""

from __future__ import annotations

import warnings

import anndata
import numpy as np
import pandas as pd
import pytest
import torch

import deepcage as dc

torch.set_num_threads(1)

FAST = {"preset": "small", "hidden": 32, "batch_loci": 64, "progress": False, "lr": 3e-3}


@pytest.fixture(scope="module")
def mdata():
    return dc.datasets.synthetic(n_samples=8, n_loci=400, n_tfs=6, seed=4, rna=True)


@pytest.fixture(scope="module")
def model(mdata):
    return dc.tl.fit(mdata, max_epochs=1, **FAST)


@pytest.fixture
def rna(mdata):
    """The RNA as a pseudobulk would come: obs with cell type, donor and n_cells."""
    rna = mdata["rna"].copy()
    rna.obs_names = [f"new{i}" for i in range(rna.n_obs)]
    rna.obs["cell_type"] = pd.Categorical(["B", "T"] * (rna.n_obs // 2))
    rna.obs["donor"] = "d1"
    rna.obs["n_cells"] = np.arange(rna.n_obs) + 10
    return rna


def test_new_samples_predictions_in_X_and_layer_with_obs_and_source(model, mdata, rna):
    new = dc.tl.predict(model, expr=rna, progress=False)
    assert new.X.dtype == np.float32 and new.X.shape == (rna.n_obs, len(model.loci))
    assert np.shares_memory(new.X, new.layers["deepcage"])  # both spellings, one array
    pd.testing.assert_frame_equal(new.obs[["cell_type", "donor", "n_cells"]], rna.obs, check_names=False)
    assert list(new.obs["source"]) == ["rna_only"] * rna.n_obs
    assert new.uns["deepcage"]["prediction_key"] == "deepcage"
    assert "motif_scores" not in new.varm
    # with the AnnData of measured samples: the training RNA and the held-out RNA are marked as such
    split = mdata["atac"].obs["split"]
    marked = dc.tl.predict(model, mdata["atac"], expr=mdata["rna"], exclude_self=True, progress=False)
    want = np.where(split.loc[marked.obs_names] == "train", "training", "held_out")
    assert list(marked.obs["source"]) == list(want) and set(want) == {"training", "held_out"}
    # named like training samples and predicted as them (exclude_self): 'training'; other names: RNA only
    own = dc.tl.predict(model, expr=mdata["rna"], exclude_self=True, progress=False)
    train = set(model.params["train_samples"])
    assert [s == "training" for s in own.obs["source"]] == [n in train for n in own.obs_names]
    assert set(own.obs["source"][~own.obs_names.isin(train)]) == {"rna_only"}


def test_samples_selects_orders_and_refuses_unknown_names(model, mdata, rna):
    full = dc.tl.predict(model, expr=rna, progress=False)
    two = dc.tl.predict(model, expr=rna, samples=["new3", "new0"], progress=False)
    assert list(two.obs_names) == ["new3", "new0"] and list(two.obs["n_cells"]) == [13, 10]
    np.testing.assert_allclose(two.X, full[["new3", "new0"]].X, atol=1e-6)
    mask = dc.tl.predict(
        model, expr=rna.to_df(), samples=(rna.obs["cell_type"] == "T").to_numpy(), progress=False
    )
    assert list(mask.obs_names) == list(rna.obs_names[rna.obs["cell_type"] == "T"])
    with pytest.raises(KeyError, match=r"samples=: 1 name\(s\) not among the samples.*'nope'"):
        dc.tl.predict(model, expr=rna, samples=["new1", "nope"], progress=False)
    with pytest.raises(ValueError, match="selects none"):
        dc.tl.predict(model, expr=rna, samples=np.zeros(rna.n_obs, dtype=bool), progress=False)
    # in place: only the chosen rows are written; a new layer is NaN elsewhere, an existing one keeps its rows
    ad = mdata["atac"].copy()
    dc.tl.predict(model, ad, samples=["sample3"], progress=False)
    pred = ad.layers["deepcage"]
    assert (
        np.isfinite(pred[ad.obs_names == "sample3"]).all() and np.isnan(pred[ad.obs_names != "sample3"]).all()
    )
    dc.tl.predict(model, ad, progress=False)
    before = ad.layers["deepcage"].copy()
    ad.layers["deepcage"][ad.obs_names == "sample1"] = -1.0
    dc.tl.predict(model, ad, samples=["sample1"], progress=False)
    np.testing.assert_allclose(ad.layers["deepcage"], before, atol=1e-6)


def _layout(a):
    return (
        list(a.obs_names),
        a.obs.to_dict("list"),
        a.var[["chrom", "start", "end"]].astype({"chrom": str}).to_dict("list"),
        sorted(a.obsm),
        sorted(a.varm),
        sorted(a.uns["deepcage"]),
    )


def test_streamed_h5ad_has_the_in_memory_layout_and_opens_with_scanpy(model, mdata, rna, tmp_path):
    import scanpy as sc

    genome = dc.Genome(model.genome["fasta"], name=model.genome["name"])
    bins = dc.pp.bin_genome(genome, chroms=["chr3"], names=False)  # new loci: motifs scanned chunk by chunk
    kw = {"genome": genome, "samples": ["new1", "new2", "new5"], "chunk_size": 97, "progress": False}
    mem = dc.tl.predict(model, expr=rna, loci=bins, **kw)
    path = dc.tl.predict_genome(model, rna, bins, out=tmp_path / "p.h5ad", **kw)
    back = sc.read_h5ad(path)
    assert back.X is not None and not back.obs.empty
    np.testing.assert_array_equal(back.X, mem.X)
    assert _layout(back) == _layout(mem)
    assert list(back.obs["source"]) == ["rna_only"] * 3 and list(back.obs["n_cells"]) == [11, 12, 15]
    np.testing.assert_array_equal(back.obsm["tf_expr"], mem.obsm["tf_expr"])
    assert "deepcage" not in back.layers  # X only in the file: no second copy of a genome-wide matrix
    # motif scores when asked: the same in memory and in the file (scanned per chunk)
    mem_m = dc.tl.predict(model, expr=rna, loci=bins, motif_scores=True, **kw)
    path_m = dc.tl.predict_genome(model, rna, bins, out=tmp_path / "m.h5ad", motif_scores=True, **kw)
    back_m = anndata.read_h5ad(path_m)
    pd.testing.assert_frame_equal(back_m.varm["motif_scores"], mem_m.varm["motif_scores"])
    assert back_m.varm["motif_scores"].shape == (len(bins), len(model.tfs))
    np.testing.assert_array_equal(back_m.X, mem.X)
    with pytest.raises(ValueError, match="motif_scores=True writes varm of an .h5ad"):
        dc.tl.predict_genome(model, rna, bins, out=tmp_path / "t", motif_scores=True, **kw)


def test_predict_genome_of_an_adatas_samples_equals_in_place(model, mdata, tmp_path):
    ad = mdata["atac"].copy()
    dc.tl.predict(model, ad, progress=False)
    path = dc.tl.predict_genome(model, adata=ad, out=tmp_path / "a.h5ad", chunk_size=70, progress=False)
    back = anndata.read_h5ad(path)
    # the same model and inputs; batches of another size may round float32 sums differently (1 ulp)
    np.testing.assert_allclose(back.X, ad.layers["deepcage"], rtol=1e-6, atol=1e-7)
    assert list(back.obs["split"]) == list(ad.obs["split"])
    assert list(back.obs["source"]) == ["training" if s == "train" else "held_out" for s in ad.obs["split"]]
    tracks = dc.tl.predict_genome(
        model, adata=ad, samples=["sample2"], out=tmp_path / "s2.bw", progress=False
    )
    assert [p.name for p in tracks] == ["s2.bw"]


@pytest.mark.parametrize(
    ("start", "message"),
    [
        (["1000", "x", "3000"], r"row 1 \(position 1\) on chr1 has a non-numeric start \('x'\)"),
        ([1000.0, np.nan, 3000.0], r"row 1 \(position 1\) on chr1 has a missing \(NaN\) start"),
        ([1000.0, 2000.5, 3000.0], r"row 1 \(position 1\) on chr1 has a non-integer start \(2000.5\)"),
    ],
)
def test_bad_coordinates_give_the_clear_error_first(model, mdata, start, message):
    loci = pd.DataFrame({"chrom": ["chr1"] * 3, "start": start, "end": [1200, 2200, 3200]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy cast warning before the error
        with pytest.raises(ValueError, match=message):
            dc.tl.predict(model, expr=mdata["rna"].to_df().set_axis([f"n{i}" for i in range(8)]), loci=loci)
