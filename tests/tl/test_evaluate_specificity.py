"""Specificity metrics: variable / rare loci, the differential metric, locus-wise metrics, dc.tl.specificity."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from scipy.stats import spearmanr

import deepcage as dc
from deepcage.tl._evaluate import binary_metrics, differential_metrics, specificity_classes


def test_specificity_classes_known_answer():
    # loci open in 3, 1, 0 and 2 of 3 reference samples
    ref = [[1, 1, 0, 1], [1, 0, 0, 1], [1, 0, 0, 0]]
    masks = specificity_classes(ref)
    assert masks["variable"].tolist() == [False, True, False, True]  # 1 .. n-1
    assert masks["rare"].tolist() == [False, True, True, False]  # <= 1, closed everywhere included
    one = specificity_classes([[1, 0]])  # a single reference sample: nothing can vary
    assert not one["variable"].any() and one["rare"].all()
    with pytest.raises(ValueError, match="0/1"):
        specificity_classes([[0.5, 1.0]])


def test_differential_perfect_and_one_profile_predictors():
    rng = np.random.default_rng(0)
    y = (rng.random((4, 50)) < 0.4).astype(float)
    # a perfect predictor, and any increasing affine map of it, gives r = 1 (float noise does not break ties)
    for pred in (y, 0.8 * y + 0.1, 3.0 * y - 7.0):
        got = differential_metrics(y, pred)
        np.testing.assert_array_equal(got["differential"], 1.0)
        assert (got["n"] == 50).all()
    # one profile for every sample (the locus mean, a sequence-only model): no difference predicted, r = 0
    locus_mean = np.tile(rng.random(50), (4, 1))
    np.testing.assert_array_equal(differential_metrics(y, locus_mean)["differential"], 0.0)
    # inverted differences: r = -1
    np.testing.assert_array_equal(differential_metrics(y, 1 - y)["differential"], -1.0)


def test_differential_equals_spearman_of_differences():
    rng = np.random.default_rng(1)
    y = (rng.random((3, 40)) < 0.5).astype(float)
    p = rng.random((3, 40)) + 0.3 * y
    got = differential_metrics(y, p)["differential"].to_numpy()
    for k in range(3):
        others = [j for j in range(3) if j != k]
        want = spearmanr(p[k] - p[others].mean(0), y[k] - y[others].mean(0))[0]
        assert got[k] == pytest.approx(want, abs=1e-12)


def test_differential_undefined_cases_are_nan_not_errors():
    # one sample: nothing to differ from
    assert np.isnan(differential_metrics([[1, 0, 1]], [[0.9, 0.1, 0.8]])["differential"]).all()
    # samples that agree at every locus: the observed difference is constant
    same = [[1, 0, 1, 0], [1, 0, 1, 0]]
    assert np.isnan(
        differential_metrics(same, [[0.9, 0.1, 0.8, 0.2], [0.1, 0.2, 0.3, 0.4]])["differential"]
    ).all()
    # constant truth wins over a constant prediction (undefined, not 0)
    assert np.isnan(differential_metrics(same, [[0.5] * 4] * 2)["differential"]).all()
    with pytest.raises(ValueError, match="shape"):
        differential_metrics([[1, 0]], [[0.5, 0.5, 0.5]])
    with pytest.raises(ValueError, match="finite"):
        differential_metrics([[1, 0], [0, 1]], [[np.nan, 0.5], [0.5, 0.5]])


def _adata(n_train=5, n_test=3, n_loci=80, seed=0):
    """Labels, a perfect prediction and the locus mean of the training samples."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n_train + n_test, n_loci)) < 0.35).astype(float)
    y[:, 0] = 1.0  # open everywhere: not variable, not rare
    y[:, 1] = 0.0  # closed everywhere: rare
    ad = AnnData(y.copy())
    ad.obs_names = [f"s{i}" for i in range(ad.n_obs)]
    ad.var_names = [f"chr1:{200 * i}-{200 * i + 200}" for i in range(n_loci)]
    ad.layers["binary"] = y.copy()
    ad.obs["split"] = ["train"] * n_train + ["test"] * n_test
    ad.var["locus_class"] = np.where(y[:n_train].sum(0) >= 2, "known", "novel")
    ad.layers["deepcage"] = 0.8 * y + 0.1
    ad.layers["baseline_locus_mean"] = np.tile(y[:n_train].mean(0), (ad.n_obs, 1))
    return ad


def test_evaluate_specificity_rows_and_slots():
    ad = _adata()
    plain = dc.tl.evaluate(ad, loci="all", inplace=False)
    assert "differential" not in plain.columns and set(plain["locus_class"]) == {"all", "known", "novel"}
    df = dc.tl.evaluate(ad, key="baseline_locus_mean", loci="all", specificity=True)
    masks = specificity_classes(ad.layers["binary"][:5])
    assert df.attrs["n_loci"]["variable"] == masks["variable"].sum()
    assert df.attrs["n_loci"]["rare"] == masks["rare"].sum() and df.attrs["n_reference"] == 5
    test = ad.layers["binary"][5:]
    pred = ad.layers["baseline_locus_mean"][5:]
    for cls in ("variable", "rare"):
        rows = df[(df["level"] == "sample") & (df["locus_class"] == cls)].set_index("name")
        want = binary_metrics(test[:, masks[cls]], pred[:, masks[cls]])["average_precision"].to_numpy()
        np.testing.assert_allclose(rows.loc[["s5", "s6", "s7"], "average_precision"], want)
        np.testing.assert_allclose(
            ad.obs.loc[["s5", "s6", "s7"], f"baseline_locus_mean_average_precision_{cls}"], want
        )
        assert (rows["differential"] == 0.0).all()  # one profile for all held-out samples
        assert {"ece", "brier", "mean_pred", "pos_rate"} <= set(rows.columns)  # calibration per class
    summary = df.attrs["summary"]["sample"]
    assert summary["variable"]["differential"] == 0.0
    assert list(summary) == ["all", "known", "novel", "variable", "rare"]
    locus = df[df["level"] == "locus"]
    opened = pd.Series(ad.layers["binary"][:5].sum(0), index=ad.var_names)
    np.testing.assert_array_equal(locus["n_reference_open"], opened[locus["name"]].to_numpy())
    assert (locus["auroc"] == 0.5).all()  # the locus-wise metric of one profile for all samples
    assert ad.uns["deepcage"]["metrics"]["baseline_locus_mean"]["params"]["specificity"] is True


def test_evaluate_differential_with_one_sample_is_counted_and_logged(caplog):
    ad = _adata()
    with caplog.at_level(logging.WARNING, logger="deepcage"):
        df = dc.tl.evaluate(ad, samples=["s5"], loci="all", specificity=True, inplace=False)
    assert "at least 2 evaluated samples" in caplog.text
    assert df.attrs["n_skipped"]["differential/all"] == 1
    assert "differential" not in df.attrs["summary"]["sample"]["all"]  # left out, not NaN
    tab = dc.tl.specificity(ad, samples=["s5"], loci="all")
    assert not tab["value"].isna().any()
    assert "differential" not in set(tab["metric"])
    assert not (tab["level"] == "locus").any()  # one sample: no locus-wise metric is defined


def test_specificity_table_perfect_and_locus_mean():
    ad = _adata()
    tab = dc.tl.specificity(ad, loci="all")
    assert list(tab.columns) == ["key", "level", "loci", "metric", "value", "n", "n_skipped"]
    assert set(tab["key"]) == {"deepcage", "baseline_locus_mean"}
    assert not tab["value"].isna().any()
    assert tab.attrs["n_reference"] == 5
    t = tab.set_index(["key", "level", "loci", "metric"])["value"]
    for cls in ("all", "known", "novel", "variable", "rare"):
        assert t["deepcage", "sample", cls, "average_precision"] == 1.0
        assert t["deepcage", "sample", cls, "differential"] == 1.0
        assert t["baseline_locus_mean", "sample", cls, "differential"] == 0.0
    for cls in ("all", "variable", "rare"):
        assert t["deepcage", "locus", cls, "auroc"] == 1.0
        assert t["baseline_locus_mean", "locus", cls, "auroc"] == 0.5
    # the locus-wise metric covers the loci where the held-out samples disagree; the others are counted
    y = ad.layers["binary"][5:]
    varying = (y.min(0) != y.max(0)).sum()
    row = tab.query("key == 'deepcage' and level == 'locus' and loci == 'all' and metric == 'auroc'").iloc[0]
    assert row["n"] == varying and row["n_skipped"] == ad.n_vars - varying
    # calibration per class: the locus mean is calibrated on average over all loci, not on the rare ones
    assert {"ece", "brier"} <= set(tab.query("loci == 'rare'")["metric"])
    pivot = tab.query("level == 'sample' and metric == 'average_precision'").pivot(
        index="key", columns="loci", values="value"
    )
    assert pivot.loc["baseline_locus_mean", "variable"] < pivot.loc["deepcage", "variable"]


def test_specificity_errors():
    ad = _adata()
    with pytest.raises(KeyError, match="No prediction layers"):
        dc.tl.specificity(AnnData(np.zeros((3, 4))))
    ad.obs["split"] = "test"
    with pytest.raises(ValueError, match="split"):
        dc.tl.specificity(ad, loci="all")  # no training samples to define the classes
    signal = _adata()
    signal.layers["binary"] = signal.layers["binary"] * 2.5
    signal.X = signal.layers["binary"]
    with pytest.raises(ValueError, match="0/1"):
        dc.tl.evaluate(signal, loci="all", task="regression", layer="binary", specificity=True)


def test_specificity_regression_task_uses_binary_reference():
    """Regression: the classes come from layers['binary']; the differential metric works on the signal."""
    ad = _adata()
    rng = np.random.default_rng(3)
    ad.layers["log_norm"] = ad.layers["binary"] * 2 + rng.random(ad.shape) * 0.1
    ad.layers["deepcage"] = ad.layers["log_norm"].copy()
    df = dc.tl.evaluate(ad, loci="all", task="regression", specificity=True, inplace=False)
    s = df.attrs["summary"]["sample"]
    assert s["variable"]["pearson"] == pytest.approx(1.0) and s["variable"]["differential"] == pytest.approx(
        1.0
    )
    tab = dc.tl.specificity(ad, keys="deepcage", loci="all", task="regression")
    assert {"pearson", "differential"} <= set(tab["metric"]) and not tab["value"].isna().any()


def test_specificity_on_mudata_and_frame_is_tidy():
    md = pytest.importorskip("mudata")
    ad = _adata()
    mdata = md.MuData({"atac": ad})
    tab = dc.tl.specificity(mdata, keys=["deepcage"], loci="all")
    assert isinstance(tab, pd.DataFrame) and set(tab["key"]) == {"deepcage"}
