"""Baselines fit on the training split, and the comparison table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import deepcage as dc


def _planted(seed=0, n_obs=16, n_var=300, n_tfs=5):
    """Locus i is open in sample k when a TF with a motif in i is expressed in k (plus noise)."""
    rng = np.random.default_rng(seed)
    tfs = [f"TF{i}" for i in range(n_tfs)]
    motif = (rng.random((n_var, n_tfs)) < 0.25) * rng.uniform(5, 10, (n_var, n_tfs))
    expr = (rng.random((n_obs, n_tfs)) < 0.5) * rng.uniform(2, 4, (n_obs, n_tfs))
    drive = expr @ motif.T
    y = ((drive > 0) ^ (rng.random(drive.shape) < 0.03)).astype(np.uint8)
    obs = pd.DataFrame({"split": ["train"] * 12 + ["test"] * 4}, index=[f"s{i}" for i in range(n_obs)])
    starts = np.arange(n_var) * 200
    var = pd.DataFrame(
        {"split": ["train"] * 200 + ["test"] * 100, "locus_class": "known"},
        index=[f"chr1:{s}-{s + 200}" for s in starts],
    )
    adata = AnnData(X=y.astype(np.float32), obs=obs, var=var)
    adata.layers["binary"] = y
    adata.layers["log_norm"] = np.log1p(drive + rng.gamma(1.0, 0.5, drive.shape)).astype(np.float32)
    adata.obsm["tf_expr"] = pd.DataFrame(expr, index=adata.obs_names, columns=tfs)
    adata.varm["motif_scores"] = pd.DataFrame(motif, index=adata.var_names, columns=tfs)
    return adata


def test_locus_mean_and_expression_baselines():
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    adata = _planted()
    dc.tl.baselines(adata, methods=("locus_mean", "expression"), chunk_size=64)
    train = (adata.obs["split"] == "train").to_numpy()
    lm = adata.layers["baseline_locus_mean"]
    assert lm.shape == adata.shape and lm.dtype == np.float32
    np.testing.assert_allclose(lm[0], adata.layers["binary"][train].mean(0), rtol=1e-6)
    assert (lm == lm[0]).all()  # the same prediction for every sample
    # the expression baseline is sklearn's Ridge per locus with the recorded penalty
    alpha = adata.uns["deepcage"]["baselines"]["expression"]["alpha"]
    x = adata.obsm["tf_expr"].to_numpy()
    sc = StandardScaler().fit(x[train])
    ref = (
        Ridge(alpha=alpha)
        .fit(sc.transform(x[train]), adata.layers["binary"][train][:, 7])
        .predict(sc.transform(x))
    )
    np.testing.assert_allclose(adata.layers["baseline_expression"][:, 7], ref, rtol=1e-4, atol=1e-5)
    # it tells samples apart: locus-wise auROC well above chance, unlike the locus mean
    table = dc.tl.compare(adata, level="locus")
    by = table.set_index(["method", "locus_class"])["auroc"]
    assert by[("baseline_expression", "all")] > 0.75
    assert by[("baseline_locus_mean", "all")] == pytest.approx(0.5)


def test_motif_baseline_learns_planted_rule():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    adata = _planted()
    dc.tl.baselines(adata, methods="motif", max_pairs=1000, seed=1)
    pred = adata.layers["baseline_motif"]
    assert ((pred >= 0) & (pred <= 1)).all() and pred.std() > 0.1
    info = adata.uns["deepcage"]["baselines"]["motif"]
    assert info["n_pairs"] == 1000 and info["n_train_loci"] == 200
    table = dc.tl.compare(adata, keys=["baseline_motif"])
    cell = table[(table.level == "sample") & (table.locus_class == "all")].iloc[0]
    assert cell["auroc"] > 0.9
    # the vectorised prediction equals the pipeline's predict_proba on the pair features
    rng = np.random.default_rng(1)
    s_idx = np.flatnonzero(adata.obs["split"] == "train")
    l_idx = np.arange(200)
    pick = rng.choice(s_idx.size * l_idx.size, size=1000, replace=False)
    si, li = s_idx[pick // 200], l_idx[pick % 200]
    x, m = adata.obsm["tf_expr"].to_numpy(), adata.varm["motif_scores"].to_numpy()
    sc = StandardScaler().fit(m[li] * x[si])
    lr = LogisticRegression(max_iter=1000).fit(sc.transform(m[li] * x[si]), adata.layers["binary"][si, li])
    k, i = 14, 250
    assert pred[k, i] == pytest.approx(lr.predict_proba(sc.transform((m[i] * x[k])[None]))[0, 1], rel=1e-4)


def test_regression_baselines_and_copy():
    adata = _planted()
    out = dc.tl.baselines(adata, layer="log_norm", copy=True, key_prefix="b_")
    assert "b_expression" in out.layers and "b_expression" not in adata.layers
    assert out.uns["deepcage"]["baselines"]["motif"]["task"] == "regression"
    table = dc.tl.compare(out, keys=["b_locus_mean", "b_expression", "b_motif"], layer="log_norm")
    assert {"pearson", "psr", "psr_paper"} <= set(table.columns)
    assert set(table["method"]) == {"b_locus_mean", "b_expression", "b_motif"}
    cell = table[(table.level == "sample") & (table.locus_class == "all")].set_index("method")
    assert cell.loc["b_motif", "pearson"] > 0.5


def test_compare_default_keys_and_evaluations():
    adata = _planted()
    dc.tl.baselines(adata, methods=("locus_mean", "expression"))
    adata.layers["deepcage"] = adata.layers["binary"] * 0.8 + 0.1  # a perfect "model"
    table = dc.tl.compare(adata)
    assert list(pd.unique(table["method"])) == ["deepcage", "baseline_expression", "baseline_locus_mean"]
    best = table[(table.level == "sample") & (table.locus_class == "all")].set_index("method")["auprc"]
    assert best["deepcage"] == pytest.approx(1.0)
    evs = [dc.tl.evaluate(adata, key=k, inplace=False) for k in ("deepcage", "baseline_locus_mean")]
    t2 = dc.tl.compare(evaluations=evs)
    assert set(t2["method"]) == {"deepcage", "baseline_locus_mean"}
    assert "n_skipped" in t2.columns


def test_sequence_baseline_calls_fit_without_expression(monkeypatch):
    import deepcage.tl._fit as fit_mod
    import deepcage.tl._predict as predict_mod

    calls = {}

    def fake_fit(adata, **kwargs):
        calls.update(kwargs)
        return "model"

    def fake_predict(model, adata, *, key_added):
        adata.layers[key_added] = np.full(adata.shape, 0.5, np.float32)

    monkeypatch.setattr(fit_mod, "fit", fake_fit)
    monkeypatch.setattr(predict_mod, "predict", fake_predict)
    adata = _planted()
    dc.tl.baselines(adata, methods=["sequence"], fit_kwargs={"max_epochs": 2})
    assert calls["use_expression"] is False and calls["max_epochs"] == 2
    assert "baseline_sequence" in adata.layers


def test_baseline_errors():
    adata = _planted()
    with pytest.raises(ValueError, match="Unknown baseline"):
        dc.tl.baselines(adata, methods=["bird2"])
    del adata.obsm["tf_expr"]
    with pytest.raises(KeyError, match="tf_expression"):
        dc.tl.baselines(adata, methods=["expression"])
    with pytest.raises(KeyError, match="dc.tl.baselines"):
        dc.tl.compare(adata)


def _clustered(seed=0, n_types=3, per_type=5, n_var=400):
    """Samples of a few cell types: same-type samples share expression and most open loci."""
    rng = np.random.default_rng(seed)
    n_obs = n_types * per_type
    kind = np.repeat(np.arange(n_types), per_type)
    centres = rng.gamma(2.0, 2.0, (n_types, 30))
    expr = centres[kind] * rng.lognormal(0, 0.1, (n_obs, 30))
    open_in = rng.random((n_types, n_var)) < 0.2
    y = (open_in[kind] ^ (rng.random((n_obs, n_var)) < 0.05)).astype(np.uint8)
    names = [f"s{i}" for i in range(n_obs)]
    split = np.where(np.arange(n_obs) % per_type == 0, "test", "train")
    adata = AnnData(X=y.astype(np.float32), obs=pd.DataFrame({"split": split}, index=names))
    adata.layers["binary"] = y
    adata.var["split"] = "train"
    rna = pd.DataFrame(expr * 100, index=names, columns=[f"G{i}" for i in range(30)])
    dc.pp.tf_expression(adata, rna, tfs=list(rna.columns), units="tpm")
    return adata, rna


def test_expression_knn_follows_similar_training_samples():
    adata, rna = _clustered()
    dc.tl.baselines(adata, methods=["expression_knn", "locus_mean"])
    rec = adata.uns["deepcage"]["baselines"]["expression_knn"]
    assert rec["temperature"] in dc.tl._knn.DEFAULT_TEMPERATURES
    table = dc.tl.compare(adata, loci="all").query("level == 'sample' and locus_class == 'all'")
    ap = table.set_index("method")["average_precision"]
    # same-type training samples predict a held-out sample far better than the mean over all types
    assert ap["baseline_expression_knn"] > ap["baseline_locus_mean"] + 0.2
    # a training sample is predicted from the OTHER training samples: not a copy of its own labels
    train = np.flatnonzero(adata.obs["split"] == "train")
    pred = adata.layers["baseline_expression_knn"][train]
    assert not np.allclose(pred, adata.layers["binary"][train], atol=0.05)
    # with the whole transcriptome as similarity: the same ranking of types
    dc.tl.baselines(adata, methods=["expression_knn"], knn_expr=rna, key_prefix="tx_")
    assert adata.uns["deepcage"]["baselines"]["expression_knn"]["similarity"].startswith("transcriptome")
    with pytest.raises(ValueError, match="knn_expr has no row"):
        dc.tl.baselines(adata, methods=["expression_knn"], knn_expr=rna.iloc[:3])


def test_predict_baseline_for_rna_only_samples_equals_the_in_adata_baseline():
    adata, rna = _clustered(seed=1)
    dc.tl.baselines(adata, methods=["expression_knn", "locus_mean"])
    test = adata.obs_names[adata.obs["split"] == "test"]
    for method in ("expression_knn", "locus_mean"):
        new = dc.tl.predict_baseline(adata, rna.loc[test], method=method)
        assert list(new.obs_names) == list(test)
        np.testing.assert_allclose(
            new.layers[f"baseline_{method}"], adata[test].layers[f"baseline_{method}"], rtol=1e-5, atol=1e-6
        )
    with pytest.raises(ValueError, match="predict_baseline offers"):
        dc.tl.predict_baseline(adata, rna, method="motif")
    bare = adata.copy()
    del bare.uns["deepcage"]["tf_reference"]
    with pytest.raises(ValueError, match="no TF-expression reference"):
        dc.tl.predict_baseline(bare, rna)


def test_choose_temperature_needs_three_references():
    from deepcage.tl._knn import choose_temperature

    with pytest.raises(ValueError, match="at least 3"):
        choose_temperature(np.ones((2, 4)), np.ones((2, 10)))
