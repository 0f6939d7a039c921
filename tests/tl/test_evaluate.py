"""Metrics against scikit-learn / scipy / hand-computed values, and the evaluate() table and slots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from scipy.stats import pearsonr
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

import deepcage as dc
from deepcage.tl._evaluate import binary_metrics, calibration_metrics, regression_metrics, summarize


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


# --------------------------------------------------------------------------------------------------------------
# calibration
# --------------------------------------------------------------------------------------------------------------
def test_calibration_metrics_hand_computed():
    # constant 0.5 with 10% positives: one bin, |0.5 - 0.1| = 0.4; Brier = 0.25 for every entry
    y = np.zeros(100, np.uint8)
    y[:10] = 1
    got = calibration_metrics(y, np.full(100, 0.5)).iloc[0]
    assert got["ece"] == pytest.approx(0.4)
    assert got["brier"] == pytest.approx(0.25)
    assert got["mean_pred"] == pytest.approx(0.5) and got["pos_rate"] == pytest.approx(0.1)
    # perfectly calibrated by construction: 1 of 20 positive at p=0.05, 19 of 20 at p=0.95
    y2 = np.r_[np.ones(1), np.zeros(19), np.ones(19), np.zeros(1)]
    p2 = np.r_[np.full(20, 0.05), np.full(20, 0.95)]
    got2 = calibration_metrics(y2, p2).iloc[0]
    assert got2["ece"] == pytest.approx(0.0, abs=1e-12)
    assert got2["brier"] == pytest.approx((0.95**2 + 19 * 0.05**2) / 20)
    # two bins: p=0.2 (2 of 4 positive) and p=0.7 (4 of 4): ECE = 4/8*|0.2-0.5| + 4/8*|0.7-1| = 0.3
    got3 = calibration_metrics([1, 1, 0, 0, 1, 1, 1, 1], [0.2] * 4 + [0.7] * 4).iloc[0]
    assert got3["ece"] == pytest.approx(0.3)
    # bin edges are right-closed as sklearn's: 0.1 is in the first of 10 bins together with 0.05
    got4 = calibration_metrics([0, 1], [0.05, 0.1]).iloc[0]
    assert got4["ece"] == pytest.approx(abs(0.075 - 0.5))


def test_calibration_metrics_match_sklearn_and_large_sample():
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    rng = np.random.default_rng(3)
    p = rng.random((6, 4000))
    y = (rng.random(p.shape) < p).astype(np.uint8)  # calibrated: P(y=1 | p) = p
    got = calibration_metrics(y, p)
    for i in range(6):
        frac, mean = calibration_curve(y[i], p[i], n_bins=10, strategy="uniform")
        # sklearn drops empty bins; weights are the bin counts
        counts = np.bincount(np.searchsorted(np.linspace(0, 1, 11)[1:-1], p[i]), minlength=10)
        counts = counts[counts > 0]
        assert got.loc[i, "ece"] == pytest.approx(np.sum(counts * np.abs(frac - mean)) / counts.sum())
        assert got.loc[i, "brier"] == pytest.approx(brier_score_loss(y[i], p[i]))
    assert (got["ece"] < 0.04).all()  # calibrated -> small ECE
    # the same predictions pushed towards 0/1 are over-confident
    sharp = np.clip((p - 0.5) * 3 + 0.5, 0, 1)
    assert (calibration_metrics(y, sharp)["ece"] > 0.1).all()
    # single-class rows are defined (unlike the ranking metrics)
    assert calibration_metrics([[0, 0, 0]], [[0.1, 0.2, 0.3]]).loc[0, "ece"] == pytest.approx(0.2)


def test_calibration_metrics_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        calibration_metrics([0, 1], [-0.5, 2.0])
    with pytest.raises(ValueError, match="0/1"):
        calibration_metrics([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="n_bins"):
        calibration_metrics([0, 1], [0.1, 0.2], n_bins=0)


def test_evaluate_calibration_columns():
    adata = _toy()
    df = dc.tl.evaluate(adata)
    samples = df[(df.level == "sample") & (df.locus_class == "all")]
    test_s = (adata.obs["split"] == "test").to_numpy()
    test_l = (adata.var["split"] == "test").to_numpy()
    y = adata.layers["binary"][test_s][:, test_l]
    p = adata.layers["deepcage"][test_s][:, test_l].astype(np.float64)
    ref = calibration_metrics(y, p)
    for col in ("ece", "brier", "mean_pred", "pos_rate"):
        np.testing.assert_allclose(samples[col].to_numpy(), ref[col].to_numpy())
        assert adata.obs.loc["s5", f"deepcage_{col}"] == pytest.approx(ref.loc[0, col])
    np.testing.assert_allclose(samples["pos_rate"], y.mean(axis=1))
    assert "deepcage_ece_known" in adata.obs and "deepcage_brier" in adata.var
    assert df.attrs["summary"]["sample"]["all"]["ece"] == pytest.approx(ref["ece"].mean())
    # constant 0.5 predictions: Brier 0.25 everywhere, ECE = |0.5 - pos_rate|
    adata.layers["half"] = np.full(adata.shape, 0.5, np.float32)
    half = dc.tl.evaluate(adata, key="half", inplace=False)
    hs = half[(half.level == "sample") & (half.locus_class == "all")]
    np.testing.assert_allclose(hs["brier"], 0.25)
    np.testing.assert_allclose(hs["ece"], np.abs(0.5 - y.mean(axis=1)))
    # scores that are not probabilities: ranking metrics kept, calibration NaN
    adata.layers["logit"] = (adata.layers["deepcage"] * 10 - 5).astype(np.float32)
    lg = dc.tl.evaluate(adata, key="logit", inplace=False)
    assert lg["ece"].isna().all() and lg["auprc"].notna().all()
    # regression: predicted and observed means
    adata.layers["pred_reg"] = adata.layers["log_norm"] + 0.1
    reg = dc.tl.evaluate(adata, key="pred_reg", layer="log_norm", inplace=False)
    rs = reg[(reg.level == "sample") & (reg.locus_class == "all")]
    np.testing.assert_allclose(rs["mean_pred"] - rs["mean_obs"], 0.1, atol=1e-5)
    assert "ece" not in reg.columns


def test_calibration_table():
    adata = _toy()
    tab = dc.tl.calibration_table(adata, samples="all", loci="all")
    assert list(tab.columns) == ["bin", "bin_lower", "bin_upper", "mean_pred", "frac_pos", "n"]
    assert len(tab) == 10 and tab["n"].sum() == adata.n_obs * adata.n_vars
    y = adata.layers["binary"].astype(np.float64).ravel()
    p = adata.layers["deepcage"].astype(np.float64).ravel()
    b = np.searchsorted(np.linspace(0, 1, 11)[1:-1], p)
    for _, row in tab[tab.n > 0].iterrows():
        sel = b == row["bin"]
        assert row["n"] == sel.sum()
        assert row["mean_pred"] == pytest.approx(p[sel].mean())
        assert row["frac_pos"] == pytest.approx(y[sel].mean())
    assert tab.attrs["ece"]["all"] == pytest.approx(calibration_metrics(y, p).loc[0, "ece"])
    assert tab.attrs["brier"]["all"] == pytest.approx(np.mean((p - y) ** 2))
    # grouped by a var column: one block of bins per group, each with its own ECE
    adata.var["labelled"] = adata.var["split"] == "train"
    adata.layers["deepcage"][:, adata.var["labelled"].to_numpy()] = 0.5  # one mode predicts a constant
    g = dc.tl.calibration_table(adata, samples="all", loci="all", groupby="labelled", n_bins=5)
    assert set(g["labelled"]) == {False, True} and len(g) == 10
    lab = adata.var["labelled"].to_numpy()
    pos = adata.layers["binary"][:, lab].mean()
    assert g.attrs["ece"][True] == pytest.approx(abs(0.5 - pos))
    assert g[g.labelled & (g.n > 0)]["bin"].tolist() == [2]  # 0.5 is in the middle of 5 bins
    # grouped by an obs column
    adata.obs["ct"] = ["a", "b"] * 4
    assert set(dc.tl.calibration_table(adata, loci="all", groupby="ct")["ct"]) == {"b", "a"} & set(
        adata.obs.loc[adata.obs.split == "test", "ct"]
    )
    # regression: bins over the range of the predictions, observed means per bin
    adata.layers["pred_reg"] = adata.layers["log_norm"] + 0.1
    r = dc.tl.calibration_table(adata, key="pred_reg", layer="log_norm", loci="all")
    assert "mean_obs" in r.columns and r.attrs["task"] == "regression"
    filled = r[r.n > 0]
    np.testing.assert_allclose(filled["mean_pred"] - filled["mean_obs"], 0.1, atol=1e-5)
    # errors
    with pytest.raises(KeyError, match="dc.tl.predict"):
        dc.tl.calibration_table(adata, key="nothing")
    with pytest.raises(KeyError, match="groupby"):
        dc.tl.calibration_table(adata, groupby="zzz")
    adata.layers["logit"] = adata.layers["deepcage"] * 10 - 5
    with pytest.raises(ValueError, match="probabilities"):
        dc.tl.calibration_table(adata, key="logit")
