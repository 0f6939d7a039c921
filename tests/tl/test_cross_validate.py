"""dc.tl.cross_validate: folds of cell types, leak-free per fold, tidy results; dc.pl.cross_validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import deepcage as dc

torch.set_num_threads(1)

FAST = {"preset": "small", "hidden": 32, "batch_loci": 64, "lr": 3e-3, "max_epochs": 2}


@pytest.fixture(scope="module")
def mdata():
    return dc.datasets.synthetic(n_samples=9, n_loci=400, n_tfs=6, seed=5, rna=True)


@pytest.fixture(scope="module")
def cv(mdata):
    folds = [["sample1", "sample2"], ["sample3", "sample4", "sample5"], ["sample6"]]
    return dc.tl.cross_validate(
        mdata,
        folds=folds,
        seeds=(0, 1),
        methods=("deepcage", "sequence", "locus_mean", "expression_knn"),
        progress=False,
        **{**FAST, "max_epochs": 4},  # the defaults: kNN prior, delta expression, background subsampling
    )


def test_folds_never_train_on_or_normalise_with_held_out_samples(cv, mdata):
    folds = cv.attrs["folds"]
    assert [f["test"] for f in folds] == [
        ["sample1", "sample2"],
        ["sample3", "sample4", "sample5"],
        ["sample6"],
    ]
    for f in folds:
        assert not set(f["test"]) & set(f["train"])
        assert set(f["train"]) | set(f["test"]) == set(mdata["atac"].obs_names)
        assert sorted(f["tf_reference_samples"]) == sorted(f["train"])
    # every held-out sample is scored only in its own fold
    for f in folds:
        rows = cv[cv["fold"] == f["fold"]]
        assert set(rows["sample"]) == set(f["test"])


def test_locus_classes_are_recomputed_from_each_folds_training_samples(cv, mdata):
    ad = mdata["atac"]
    y = np.asarray(ad.layers["binary"])
    region = ad.var["split"].astype(str).to_numpy() == "test"
    for f in cv.attrs["folds"]:
        train = ad.obs_names.isin(f["train"])
        known = (y[train].sum(axis=0) >= 2) & ~region
        assert f["n_loci"]["known"] == int(known.sum())
        assert f["n_loci"]["all"] == int((~region).sum())
        assert f["n_loci"]["test_region"] == int(region.sum())
    per_fold = pd.DataFrame(cv.attrs["folds"]).set_index("fold")["n_loci"].apply(lambda d: d["known"])
    assert per_fold.nunique() > 1  # the classes follow the fold's training samples


def test_table_is_tidy_and_label_baselines_skip_the_test_region(cv):
    assert list(cv.columns[:5]) == ["fold", "seed", "method", "sample", "locus_class"]
    assert {"n_loci", "n_pos", "average_precision", "auprc", "auroc"} <= set(cv.columns)
    assert set(cv["method"]) == {"deepcage", "sequence", "locus_mean", "expression_knn"}
    assert set(cv["seed"]) == {0, 1}
    region = cv[cv["locus_class"] == "test_region"]
    assert set(region["method"]) == {"deepcage", "sequence"}
    scored = cv.dropna(subset=["average_precision"])
    assert scored["average_precision"].between(0, 1).all() and (scored["n_pos"] > 0).all()
    summary = dc.tl.summarize_cv(cv)
    assert summary.loc["deepcage", ("all", "mean")] == pytest.approx(
        cv.query("method == 'deepcage' and locus_class == 'all'")
        .groupby("seed")["average_precision"]
        .mean()
        .mean()
    )
    assert summary.loc["locus_mean", ("all", "sd")] == 0.0  # closed-form baselines do not vary with the seed


def test_specificity_classes_and_metrics_per_fold(cv, mdata):
    """'variable' / 'rare' from each fold's training labels; differential and locus-wise metrics per row."""
    ad = mdata["atac"]
    y = np.asarray(ad.layers["binary"])
    region = ad.var["split"].astype(str).to_numpy() == "test"
    for f in cv.attrs["folds"]:
        k = y[ad.obs_names.isin(f["train"])].sum(axis=0)
        n = len(f["train"])
        assert f["n_loci"]["variable"] == int(((k >= 1) & (k <= n - 1) & ~region).sum())
        assert f["n_loci"]["rare"] == int(((k <= 1) & ~region).sum())
    assert {"variable", "rare"} <= set(cv["locus_class"])
    assert {"differential", "locus_auroc", "n_varying"} <= set(cv.columns)
    # a fold of one held-out sample has nothing to differ from: NaN there, defined elsewhere
    single = cv[cv["fold"] == 2]
    assert single["differential"].isna().all() and single["locus_auroc"].isna().all()
    multi = cv[cv["fold"] != 2]
    # elsewhere undefined only where the held-out samples agree at every locus of the class
    agree = (multi["n_varying"] == 0).to_numpy()
    np.testing.assert_array_equal(multi["differential"].isna(), agree)
    np.testing.assert_array_equal(multi["locus_auroc"].isna(), agree)
    assert not agree[multi["locus_class"].isin(["all", "variable"]).to_numpy()].any()
    # the locus mean (and the sequence-only network) predict one profile for every held-out sample
    for m in ("locus_mean", "sequence"):
        rows = multi[(multi["method"] == m) & (multi["n_varying"] > 0)]
        np.testing.assert_allclose(rows["differential"], 0.0, atol=1e-6)
        np.testing.assert_allclose(rows["locus_auroc"], 0.5, atol=1e-6)
    # one locus-wise value per fold, seed, method and class
    assert (
        multi.groupby(["fold", "seed", "method", "locus_class"])["locus_auroc"].nunique(dropna=False) == 1
    ).all()
    s = dc.tl.summarize_cv(cv, metric="differential")
    assert s.loc["locus_mean", ("variable", "mean")] == 0.0
    assert s.loc["locus_mean", ("variable", "n_samples")] == 5  # the single-sample fold is skipped
    assert np.isfinite(s.loc["deepcage", ("variable", "mean")])
    with pytest.raises(KeyError, match="older"):
        dc.tl.summarize_cv(cv.drop(columns="differential"), metric="differential")


def test_the_prior_model_beats_rna_similarity_on_held_out_samples(cv):
    summary = dc.tl.summarize_cv(cv)
    # the planted rules (motif x TF) decide locus by locus: the model must do better than averaging
    # the most similar training samples, which only knows whole-sample similarity
    assert summary.loc["deepcage", ("all", "mean")] > summary.loc["expression_knn", ("all", "mean")]
    assert summary.loc["deepcage", ("test_region", "mean")] > summary.loc["sequence", ("test_region", "mean")]


def test_cross_validation_plot(cv):
    ax = dc.pl.cross_validation(cv, show=False)
    assert ax.get_ylabel() == "average precision"
    labels = {t.get_text() for t in ax.get_xticklabels()}
    assert {"all", "known", "test_region"} <= labels


def test_errors(mdata):
    ad = mdata["atac"]
    with pytest.raises(ValueError, match="needs the raw RNA"):
        dc.tl.cross_validate(ad, folds=[["sample1"]])
    with pytest.raises(ValueError, match="not in adata"):
        dc.tl.cross_validate(mdata, folds=[["nope"]])
    with pytest.raises(ValueError, match="more than one fold"):
        dc.tl.cross_validate(mdata, folds=[["sample1"], ["sample1", "sample2"]])
    with pytest.raises(ValueError, match="Unknown method"):
        dc.tl.cross_validate(mdata, folds=[["sample1"]], methods=["magic"])
    with pytest.raises(ValueError, match="at least 3 training"):
        dc.tl.cross_validate(mdata, folds=[list(ad.obs_names[:-2])])


def test_layer_and_keys_travel_to_every_step(mdata):
    """Labels in another layer and other slot names: the same numbers as the default names."""
    ad = mdata["atac"].copy()
    renamed = ad.copy()
    renamed.layers["peaks"] = renamed.layers.pop("binary")
    renamed.varm["ms"] = renamed.varm.pop("motif_scores")
    renamed.obsm["te"] = renamed.obsm.pop("tf_expr")
    renamed.uns["deepcage"]["motif_scan"] = {"ms": renamed.uns["deepcage"]["motif_scan"]["motif_scores"]}
    kw = {
        "folds": [["sample1", "sample2"]],
        "seeds": (0,),
        "methods": ("deepcage", "locus_mean"),
        "progress": False,
    }
    want = dc.tl.cross_validate(ad, rna=mdata["rna"], **kw, **FAST)
    got = dc.tl.cross_validate(
        renamed, rna=mdata["rna"], layer="peaks", motif_key="ms", tf_key="te", **kw, **FAST
    )
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))


def test_returned_predictions_are_the_scored_ones(mdata):
    from sklearn.metrics import average_precision_score

    folds = [["sample2", "sample7"]]
    table, models, preds = dc.tl.cross_validate(
        mdata,
        folds=folds,
        methods=("deepcage", "locus_mean"),
        progress=False,
        return_models=True,
        return_predictions=True,
        **FAST,
    )
    assert set(models) == set(preds) == {(0, 0, "deepcage")}  # closed-form baselines are not returned
    pred = preds[(0, 0, "deepcage")]
    assert pred.dtype == np.float32 and pred.shape == (2, mdata["atac"].n_vars)
    truth = np.asarray(mdata["atac"][table.attrs["folds"][0]["test"]].layers["binary"]) > 0
    rows = table.query("method == 'deepcage' and locus_class == 'all'").set_index("sample")
    test_loci = mdata["atac"].var["split"].astype(str).to_numpy() == "test"
    for i, sample in enumerate(table.attrs["folds"][0]["test"]):
        ap = average_precision_score(truth[i, ~test_loci], pred[i, ~test_loci])
        assert ap == pytest.approx(rows.loc[sample, "average_precision"], abs=1e-6)
    only_preds = dc.tl.cross_validate(
        mdata, folds=folds, methods=("locus_mean",), progress=False, return_predictions=True, **FAST
    )
    assert isinstance(only_preds, tuple) and only_preds[1] == {}
