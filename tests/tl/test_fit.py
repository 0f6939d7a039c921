"""dc.tl.fit: training on the synthetic planted-rule data (CPU, small preset)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import average_precision_score

import deepcage as dc

torch.set_num_threads(1)

FAST = {"preset": "small", "hidden": 32, "batch_loci": 64, "progress": False, "lr": 3e-3}


@pytest.fixture(scope="module")
def adata():
    return dc.datasets.synthetic(n_samples=8, n_loci=500, n_tfs=6, seed=3)


@pytest.fixture(scope="module")
def model(adata):
    return dc.tl.fit(adata, max_epochs=2, **FAST)


def _test_auprc(model, adata):
    s = np.flatnonzero(adata.obs["split"] == "test")
    loci = np.flatnonzero(adata.var["split"] == "test")
    pred = model.predict_arrays(
        model.loci_codes[loci],
        adata.varm["motif_scores"].to_numpy()[loci],
        adata.obsm["tf_expr"].to_numpy()[s],
    )
    truth = adata.layers["binary"][s][:, loci].T
    return average_precision_score(truth.ravel(), pred.ravel()), truth.mean()


def test_fit_returns_a_complete_model(model, adata):
    assert isinstance(model, dc.DeepCAGE)
    assert model.tfs == list(adata.varm["motif_scores"].columns)
    assert model.task == "classification"
    assert model.genome["name"] == "synthetic"
    assert model.tf_reference["tfs"] == model.tfs
    assert len(model.loci) == adata.n_vars and {"chrom", "start", "end", "split"} <= set(model.loci.columns)
    assert model.loci_codes.shape == (adata.n_vars, 1000) and model.loci_codes.dtype == np.uint8
    # the default network has the kNN prior: the validation loci are also scored in its no-label mode
    assert list(model.history.columns) == [
        "train_loss",
        "val_loss",
        "val_auprc",
        "val_auprc_novel",
        "val_auprc_both",
    ]
    np.testing.assert_allclose(
        model.history["val_auprc_both"], (model.history["val_auprc"] + model.history["val_auprc_novel"]) / 2
    )
    assert list(model.history.index) == [0, 1]
    assert np.isfinite(model.history.to_numpy()).all()
    assert model.params["train_samples"] == list(adata.obs_names[adata.obs["split"] == "train"])
    assert model.sample_expr.shape == (adata.n_obs, len(model.tfs))
    assert not model.network.training


@pytest.mark.slow
def test_model_learns_planted_rule_and_beats_expression_ablation():
    adata = dc.datasets.synthetic(seed=0)  # 12 samples (2 held out) x 2000 loci, 8 TFs
    kw = FAST | {"hidden": 64, "batch_loci": 32, "max_epochs": 8, "patience": 4}
    full = dc.tl.fit(adata, **kw)
    ablated = dc.tl.fit(adata, use_expression=False, **kw)
    ap_full, rate = _test_auprc(full, adata)
    ap_seq, _ = _test_auprc(ablated, adata)
    # held-out samples x held-out loci: never seen in training or early stopping
    assert ap_full > rate + 0.2
    assert ap_full > ap_seq + 0.15


def test_same_seed_gives_bit_identical_predictions(adata):
    kw = FAST | {"max_epochs": 1, "limit_train_batches": 3, "seed": 7}
    a = dc.tl.fit(adata, **kw)
    b = dc.tl.fit(adata, **kw)
    m = adata.varm["motif_scores"].to_numpy()[:50]
    e = adata.obsm["tf_expr"].to_numpy()
    pa = a.predict_arrays(a.loci_codes[:50], m, e)
    pb = b.predict_arrays(b.loci_codes[:50], m, e)
    np.testing.assert_array_equal(pa, pb)
    c = dc.tl.fit(adata, **(kw | {"seed": 8}))
    assert not np.array_equal(pa, c.predict_arrays(c.loci_codes[:50], m, e))


def test_resume_from_checkpoint_continues(adata, tmp_path):
    first = dc.tl.fit(adata, max_epochs=1, checkpoint_dir=tmp_path, **FAST)
    assert (tmp_path / "last.ckpt").is_file()
    resumed = dc.tl.fit(
        adata, max_epochs=2, resume_from=tmp_path / "last.ckpt", checkpoint_dir=tmp_path / "2", **FAST
    )
    assert list(resumed.history.index) == [0, 1]
    # epoch 0 comes from the checkpoint, not from a new run
    np.testing.assert_allclose(resumed.history.loc[0].to_numpy(), first.history.loc[0].to_numpy())


def test_best_weights_are_restored(adata):
    model = dc.tl.fit(adata, max_epochs=3, **FAST)
    hist = model.history
    assert model.params["best_epoch"] == int(hist["val_auprc"].idxmax())


def test_regression_and_mudata(tmp_path):
    mdata = dc.datasets.synthetic(n_samples=6, n_loci=300, n_tfs=4, seed=5, rna=True)
    model = dc.tl.fit(mdata, task="regression", max_epochs=1, **FAST)
    assert model.task == "regression"
    assert {"train_loss", "val_loss", "val_pearson"} <= set(model.history.columns)
    assert model.params["layer"] == "log_norm"
    assert model.params["monitor"] == "val_loss"


def test_balanced_pos_weight(adata):
    model = dc.tl.fit(adata, max_epochs=1, pos_weight="balanced", limit_train_batches=2, **FAST)
    train = adata.layers["binary"][adata.obs["split"] == "train"][:, adata.var["split"] == "train"]
    assert model.params["pos_weight"] == pytest.approx((train.size - train.sum()) / train.sum())


def test_missing_splits(adata):
    bad = adata.copy()
    del bad.var["split"]
    with pytest.raises(ValueError, match="split_loci"):
        dc.tl.fit(bad, max_epochs=1, **FAST)
    no_obs = adata.copy()
    del no_obs.obs["split"]
    with pytest.warns(UserWarning, match="split_samples"):
        model = dc.tl.fit(no_obs, max_epochs=1, limit_train_batches=1, **FAST)
    assert len(model.params["train_samples"]) == adata.n_obs


def test_bad_inputs(adata):
    nan = adata.copy()
    nan.obsm["tf_expr"].iloc[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        dc.tl.fit(nan, max_epochs=1, **FAST)
    renamed = adata.copy()
    renamed.obsm["tf_expr"] = renamed.obsm["tf_expr"].rename(columns={"TF1": "FOO"})
    with pytest.raises(ValueError, match=r"missing \['TF1'\].*extra \['FOO'\]"):
        dc.tl.fit(renamed, max_epochs=1, **FAST)
    with pytest.raises(ValueError, match="0/1"):
        dc.tl.fit(adata, layer="log_norm", max_epochs=1, **FAST)
    no_motif = adata.copy()
    del no_motif.varm["motif_scores"]
    with pytest.raises(KeyError, match="motif_scores"):
        dc.tl.fit(no_motif, **FAST)


@pytest.mark.slow
def test_ddp_two_cpu_processes(adata):
    model = dc.tl.fit(
        adata, max_epochs=1, accelerator="cpu", devices=2, strategy="ddp_spawn", limit_train_batches=2, **FAST
    )
    assert isinstance(model, dc.DeepCAGE)
    assert len(model.history) == 1 and np.isfinite(model.history["val_auprc"]).all()
    pred = model.predict_arrays(
        model.loci_codes[:5], adata.varm["motif_scores"].to_numpy()[:5], adata.obsm["tf_expr"].to_numpy()
    )
    assert np.isfinite(pred).all()


def test_fit_and_predict_after_h5ad_round_trip(adata, tmp_path):
    """uns['deepcage']['genome']['fasta'] comes back from .h5ad as an array: still usable."""
    import anndata

    adata.write_h5ad(tmp_path / "a.h5ad")
    back = anndata.read_h5ad(tmp_path / "a.h5ad")
    model = dc.tl.fit(back, max_epochs=1, limit_train_batches=1, store_loci=False, **FAST)
    assert model.loci_codes is None and model.genome["name"] == "synthetic"
    dc.tl.predict(model, back, progress=False)  # sequences read from the FASTA recorded in back.uns
    assert np.isfinite(back.layers["deepcage"]).all()


# ---------------------------------------------------------------------------------------- reference prior
@pytest.fixture(scope="module")
def prior_model(adata):
    return dc.tl.fit(
        adata,
        max_epochs=2,
        prior="knn",
        delta_expression=True,
        linear_expression=True,
        expression_l2=0.01,
        background_fraction=0.5,
        **FAST,
    )


def test_prior_model_stores_the_training_labels_of_labelled_loci(prior_model, adata):
    train = list(adata.obs_names[adata.obs["split"] == "train"])
    labels = prior_model.ref_labels
    assert list(labels.columns) == train and list(labels.index) == list(adata.var_names)
    test_loci = (adata.var["split"] == "test").to_numpy()
    assert labels[test_loci].isna().all().all()  # held-out loci: nobody's labels are kept
    np.testing.assert_array_equal(
        labels[~test_loci].to_numpy(), adata[train].layers["binary"][:, ~test_loci].T
    )
    assert prior_model.params["knn_temperature"] in dc.tl._knn.DEFAULT_TEMPERATURES
    assert prior_model.params["prior"] == "knn" and prior_model.params["background_fraction"] == 0.5


def test_a_training_sample_never_sees_its_own_labels(prior_model, adata):
    train = np.flatnonzero(adata.obs["split"] == "train")
    loci = np.flatnonzero(adata.var["split"] == "train")[:50]
    names = adata.var_names[loci]
    args = (
        prior_model.loci_codes[loci],
        adata.varm["motif_scores"].to_numpy()[loci],
        adata.obsm["tf_expr"].to_numpy()[train[:1]],
    )
    own = adata.obs_names[train[0]]
    before = prior_model.predict_arrays(*args, loci=names, samples=[own])
    kept = prior_model.ref_labels.copy()
    try:
        prior_model.ref_labels[own] = 1 - prior_model.ref_labels[own]
        after = prior_model.predict_arrays(*args, loci=names, samples=[own])
        as_new = prior_model.predict_arrays(*args, loci=names, samples=["new sample"])
    finally:
        prior_model.ref_labels = kept
    np.testing.assert_allclose(after, before, atol=1e-6)
    assert not np.allclose(as_new, before, atol=1e-4)  # a new sample reads every training sample's labels


def test_prior_model_round_trip_and_new_rna(prior_model, adata, tmp_path):
    path = prior_model.save(tmp_path / "m")
    loaded = dc.DeepCAGE.load(path)
    pd.testing.assert_frame_equal(loaded.ref_labels, prior_model.ref_labels)
    a, b = adata.copy(), adata.copy()
    dc.tl.predict(prior_model, a, progress=False)
    dc.tl.predict(loaded, b, progress=False)
    np.testing.assert_allclose(a.layers["deepcage"], b.layers["deepcage"], atol=1e-6)
    rna = dc.datasets.synthetic(n_samples=8, n_loci=500, n_tfs=6, seed=3, rna=True)["rna"]
    knn = dc.tl.predict_baseline(loaded, rna)  # a saved model is a reference too: labelled loci only
    assert knn.n_vars == int((adata.var["split"] != "test").sum()) and knn.n_obs == rna.n_obs


def test_background_subsampler_draws_a_fresh_fraction_each_epoch():
    import torch

    from deepcage.model._data import BackgroundSubsampler

    background = np.zeros(100, dtype=bool)
    background[20:] = True
    sampler = BackgroundSubsampler(background, 0.25, torch.Generator().manual_seed(0))
    epochs = [list(sampler) for _ in range(2)]
    for idx in epochs:
        assert len(idx) == len(sampler) == 20 + 20 and len(set(idx)) == len(idx)
        assert set(range(20)) <= set(idx)  # every foreground locus, every epoch
    assert set(epochs[0][20:]) != set(epochs[1][20:]) or set(epochs[0]) != set(epochs[1])
    with pytest.raises(ValueError, match="background_fraction"):
        dc.tl.fit(dc.datasets.synthetic(n_samples=6, n_loci=100, seed=1), background_fraction=0, **FAST)


@pytest.mark.parametrize("kw", [{"use_expression": False}, {"recipe": "paper"}])
def test_models_without_the_prior_start_at_the_training_mean(adata, kw):
    """Early stopping may keep an early epoch: it must not predict ~0.4 where a fifth of the pairs are open."""
    model = dc.tl.fit(adata, **(FAST | {"max_epochs": 1, "limit_train_batches": 1}), **kw)
    s = np.flatnonzero(adata.obs["split"] == "train")
    tr = np.flatnonzero(adata.var["split"] == "train")
    pred = model.predict_arrays(
        model.loci_codes[tr], adata.varm["motif_scores"].to_numpy()[tr], adata.obsm["tf_expr"].to_numpy()[s]
    )
    prevalence = adata.layers["binary"][s][:, tr].mean()
    assert abs(pred.mean() - prevalence) < 0.25 * prevalence, (pred.mean(), prevalence)


def test_no_label_monitor_falls_back_without_the_prior(adata):
    kw = FAST | {"max_epochs": 2, "limit_train_batches": 2, "monitor": "val_auprc_both"}
    model = dc.tl.fit(adata, **kw)
    assert model.params["monitor"] == "val_auprc_both" and "val_auprc_novel" in model.history
    seq = dc.tl.fit(adata, use_expression=False, **kw)  # one mode only: its own AUPRC decides
    assert seq.params["monitor"] == "val_auprc"
    assert any("val_auprc used" in n for n in seq.params["notes"])
