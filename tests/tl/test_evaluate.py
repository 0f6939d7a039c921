"""Metrics against scikit-learn / scipy / hand-computed values, and the evaluate() table and slots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from scipy.stats import pearsonr
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

import deepcage as dc
from deepcage.tl._evaluate import binary_metrics, regression_metrics, summarize


def _sk(y, s):
    p, r, _ = precision_recall_curve(y, s)
    return auc(r, p), average_precision_score(y, s), roc_auc_score(y, s)


@pytest.mark.parametrize("decimals", [None, 1])  # None: distinct scores; 1: many ties
def test_binary_metrics_match_sklearn(decimals):
    rng = np.random.default_rng(0)
    y = (rng.random((30, 25)) < 0.3).astype(np.uint8)
    s = rng.random((30, 25)) + 0.3 * y
    if decimals is not None:
        s = s.round(decimals)
    y[0] = 0  # one class only -> undefined
    y[1] = 1
    got = binary_metrics(y, s)
    assert got.loc[[0, 1], ["auprc", "average_precision", "auroc"]].isna().all().all()
    for i in range(2, 30):
        np.testing.assert_allclose(
            got.loc[i, ["auprc", "average_precision", "auroc"]], _sk(y[i], s[i]), atol=1e-12
        )
    assert (got["n"] == 25).all()
    np.testing.assert_array_equal(got["n_pos"], y.sum(axis=1))


def test_binary_metrics_hand_computed():
    # ranking 1, 0, 1, 0: precision 1 at recall .5, 2/3 at recall 1
    got = binary_metrics([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]).iloc[0]
    assert got["average_precision"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # trapezoids: (0,1)->(.5,1) = .5 ; (.5,1)->(.5,.5) = 0 ; (.5,.5)->(1,2/3) = .5*(.5+2/3)/2
    assert got["auprc"] == pytest.approx(0.5 + 0.5 * (0.5 + 2 / 3) / 2)
    assert got["auroc"] == pytest.approx(0.75)
    # all scores tied: one threshold, precision = prevalence
    tied = binary_metrics([1, 0, 0, 0], [0.5] * 4).iloc[0]
    assert tied["average_precision"] == pytest.approx(0.25)
    assert tied["auroc"] == pytest.approx(0.5)


def test_binary_metrics_rejects_bad_input():
    with pytest.raises(ValueError, match="0/1"):
        binary_metrics([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="finite"):
        binary_metrics([0, 1], [np.nan, 0.2])
    with pytest.raises(ValueError, match="shape"):
        binary_metrics([0, 1, 1], [0.1, 0.2])


def test_regression_metrics():
    rng = np.random.default_rng(1)
    y = rng.normal(2, 1, (5, 40))
    p = y + rng.normal(0, 0.5, y.shape)
    got = regression_metrics(y, p)
    for i in range(5):
        assert got.loc[i, "pearson"] == pytest.approx(pearsonr(y[i], p[i])[0])
        rss = ((y[i] - p[i]) ** 2).sum()
        assert got.loc[i, "psr"] == pytest.approx(rss / ((y[i] - y[i].mean()) ** 2).sum())
        assert got.loc[i, "psr_paper"] == pytest.approx(rss / (40 * y[i].mean() ** 2))
    r = regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 4.0]).iloc[0]
    assert r["psr"] == pytest.approx(1 / 2)  # rss 1, sum sq dev 2
    assert r["psr_paper"] == pytest.approx(1 / 12)  # rss 1, 3 * 2^2
    # constant prediction -> r = 0 (no information), constant truth -> undefined (NaN)
    const = regression_metrics([[1.0, 2.0, 3.0], [2.0, 2.0, 2.0]], [[5.0, 5.0, 5.0], [1.0, 2.0, 3.0]])
    assert const.loc[0, "pearson"] == 0.0
    assert const.loc[1].drop("n").isna().all()


def _toy(seed=0, n_obs=8, n_var=60):
    rng = np.random.default_rng(seed)
    y = (rng.random((n_obs, n_var)) < 0.4).astype(np.uint8)
    y[:, 0] = 1  # a locus open everywhere: locus-wise undefined
    y[:, 1] = 0  # closed everywhere
    obs = pd.DataFrame({"split": ["train"] * 5 + ["test"] * 3}, index=[f"s{i}" for i in range(n_obs)])
    starts = np.arange(n_var) * 200
    var = pd.DataFrame(
        {
            "chrom": "chr1",
            "start": starts,
            "end": starts + 200,
            "split": ["train"] * 20 + ["test"] * 40,
            "locus_class": (["known", "novel"] * n_var)[:n_var],
        },
        index=[f"chr1:{s}-{s + 200}" for s in starts],
    )
    adata = AnnData(X=y.astype(np.float32), obs=obs, var=var)
    adata.layers["binary"] = y
    adata.layers["log_norm"] = (y * 2 + rng.gamma(1.0, 0.3, y.shape)).astype(np.float32)
    adata.layers["deepcage"] = np.clip(y * 0.5 + rng.random(y.shape) * 0.7, 0, 1).astype(np.float32)
    return adata


def test_evaluate_classification_table_and_slots():
    adata = _toy()
    df = dc.tl.evaluate(adata)
    assert set(df["level"]) == {"sample", "locus"}
    samples = df[df.level == "sample"]
    # 3 test samples x (all, known, novel)
    assert len(samples) == 9
    assert set(samples["locus_class"]) == {"all", "known", "novel"}
    # cell-wise values equal sklearn on the test loci
    test_loci = adata.var["split"] == "test"
    y = adata.layers["binary"][adata.obs["split"] == "test"][:, test_loci.to_numpy()]
    s = adata.layers["deepcage"][adata.obs["split"] == "test"][:, test_loci.to_numpy()]
    row = samples[(samples.locus_class == "all")].iloc[0]
    assert row["name"] == "s5"
    assert row["auprc"] == pytest.approx(_sk(y[0], s[0])[0])
    assert row["n"] == test_loci.sum()
    # locus rows: test loci that have both classes among the 3 test samples
    loci = df[df.level == "locus"]
    both = (y.sum(0) > 0) & (y.sum(0) < 3)
    assert len(loci) == both.sum()
    assert df.attrs["n_skipped"]["locus/all"] == (~both).sum()
    assert {"n_active", "frac_active", "cell_range", "variability", "variance"} <= set(loci.columns)
    assert set(loci["variability"].astype(str)) == {"low", "median", "high"}  # quartiles of the scored loci
    assert not loci[["auprc", "average_precision", "auroc"]].isna().any().any()
    # slots
    assert adata.obs["deepcage_auprc"].notna().sum() == 3
    assert adata.obs.loc["s5", "deepcage_auprc"] == pytest.approx(row["auprc"])
    assert "deepcage_auroc_novel" in adata.obs
    assert adata.var["deepcage_auprc"].notna().sum() == both.sum()
    rec = adata.uns["deepcage"]["metrics"]["deepcage"]
    assert rec["sample"]["all"]["auprc"] == pytest.approx(
        samples[samples.locus_class == "all"]["auprc"].mean()
    )
    assert rec["locus"]["all"]["n_skipped"] == (~both).sum()
    assert rec["params"]["task"] == "classification"


def test_evaluate_regression_and_options():
    adata = _toy()
    adata.layers["pred_reg"] = adata.layers["log_norm"] + 0.1
    df = dc.tl.evaluate(adata, key="pred_reg", layer="log_norm", samples="all", loci="all", key_added="reg")
    assert df.attrs["task"] == "regression"
    samples = df[(df.level == "sample") & (df.locus_class == "all")]
    assert len(samples) == 8
    np.testing.assert_allclose(samples["pearson"], 1.0)  # shifted prediction: perfect correlation
    assert "reg_psr_paper" in adata.obs and "reg_pearson" in adata.var
    assert "auprc" not in df.columns
    summ = summarize(df)
    assert ("pred_reg", "sample", "known") in summ.index


def test_evaluate_mudata_and_lists():
    mudata = pytest.importorskip("mudata")
    adata = _toy()
    mdata = mudata.MuData({"atac": adata})
    df = dc.tl.evaluate(mdata, samples=["s0", "s1"], loci="all", groups=False, inplace=False)
    assert set(df[df.level == "sample"]["name"]) == {"s0", "s1"}
    assert "cell_range" not in df.columns
    assert "metrics" not in adata.uns.get("deepcage", {})


def test_evaluate_errors():
    adata = _toy()
    with pytest.raises(KeyError, match="dc.tl.predict"):
        dc.tl.evaluate(adata, key="nothing")
    del adata.obs["split"]
    with pytest.raises(KeyError, match="samples='all'"):
        dc.tl.evaluate(adata)
    with pytest.raises(KeyError, match="not found"):
        dc.tl.evaluate(adata, samples=["zzz"])
