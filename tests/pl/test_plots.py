"""Each plot renders to a file, returns its Axes, and draws what it should."""

from __future__ import annotations

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import deepcage as dc
from deepcage.io import Motif


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture
def adata():
    rng = np.random.default_rng(0)
    n_obs, n_var = 8, 400
    y = (rng.random((n_obs, n_var)) < 0.3).astype(np.uint8)
    starts = 10_000_000 + np.arange(n_var) * 200
    var = pd.DataFrame(
        {
            "chrom": "chr20",
            "start": starts,
            "end": starts + 200,
            "split": ["train"] * 200 + ["test"] * 200,
            "locus_class": (["known", "known", "novel"] * n_var)[:n_var],
        },
        index=[f"chr20:{s}-{s + 200}" for s in starts],
    )
    obs = pd.DataFrame({"split": ["train"] * 5 + ["test"] * 3}, index=[f"cell{i}" for i in range(n_obs)])
    ad = AnnData(X=y.astype(np.float32), obs=obs, var=var)
    ad.layers["binary"] = y
    ad.layers["log_norm"] = (2 * y + rng.gamma(1.0, 0.4, y.shape)).astype(np.float32)
    ad.layers["deepcage"] = np.clip(0.5 * y + 0.6 * rng.random(y.shape), 0, 1).astype(np.float32)
    ad.layers["baseline_locus_mean"] = np.broadcast_to(y[:5].mean(0), y.shape).astype(np.float32)
    return ad


def _ok(path):
    assert path.exists() and path.stat().st_size > 1000


def test_pr_curves(adata, tmp_path):
    ax = dc.pl.pr_curves(adata, key="deepcage", save=tmp_path / "pr.png")
    _ok(tmp_path / "pr.png")
    assert isinstance(ax, plt.Axes)
    gids = [ln.get_gid() for ln in ax.lines]
    # per test sample: the curve, the locus-mean baseline (picked by baseline='auto') and the prevalence
    assert gids.count("pr") == 3 and gids.count("baseline") == 3 and gids.count("prevalence") == 3
    test = (adata.obs["split"] == "test").to_numpy()
    loci = (adata.var["split"] == "test").to_numpy()
    prev = adata.layers["binary"][test][:, loci].mean(axis=1)
    np.testing.assert_allclose(
        sorted(ln.get_ydata()[0] for ln in ax.lines if ln.get_gid() == "prevalence"), sorted(prev)
    )
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[:3] == ["deepcage (AP, auPR)", "baseline_locus_mean (AP)", "prevalence (random ranking)"]
    assert texts[3].startswith("cell5: AP ") and "auPR" in texts[3] and f"prev. {prev[0]:.3f}" in texts[3]
    # a baseline curve equals sklearn's PR curve of the baseline layer
    from sklearn.metrics import precision_recall_curve

    bp, br, _ = precision_recall_curve(
        adata.layers["binary"][test][0, loci], adata.layers["baseline_locus_mean"][test][0, loci]
    )
    first_base = next(ln for ln in ax.lines if ln.get_gid() == "baseline")
    np.testing.assert_allclose(first_base.get_ydata(), bp)
    # no baseline, no prevalence: the plain curves
    ax2 = dc.pl.pr_curves(adata, baseline=None, prevalence=False)
    assert [ln.get_gid() for ln in ax2.lines] == ["pr"] * 3
    # display names for the layers, in the legend and the title
    names = {"deepcage": "model from pseudobulk", "baseline_locus_mean": "locus mean"}
    ax4 = dc.pl.pr_curves(adata, key="deepcage", labels=names)
    texts = [t.get_text() for t in ax4.get_legend().get_texts()]
    assert (
        texts[:2] == ["model from pseudobulk (AP, auPR)", "locus mean (AP)"] and "; locus mean " in texts[3]
    )
    assert ax4.get_title().startswith("model from pseudobulk:")
    with pytest.raises(KeyError, match="dc.tl.baselines"):
        dc.pl.pr_curves(adata, baseline="baseline_nothing")
    # a sample with no accessible locus gets no curve, and the legend says so
    adata.layers["binary"][7] = 0
    ax3 = dc.pl.pr_curves(adata)
    assert [ln.get_gid() for ln in ax3.lines].count("pr") == 2
    assert ax3.get_legend().get_texts()[-1].get_text().endswith("only one class in the loci): cell7")


def test_scatter_kinds(adata, tmp_path):
    ax = dc.pl.scatter(adata, key="deepcage", sample="cell6", kind="hexbin", save=tmp_path / "hex.pdf")
    _ok(tmp_path / "hex.pdf")
    assert ax.collections and "r =" in ax.get_title()
    ax = dc.pl.scatter(
        adata, key="deepcage", layer="binary", kind="scatter", loci="all", save=tmp_path / "sc"
    )
    _ok(tmp_path / "sc.png")
    assert ax.collections[0].get_offsets().shape[0] == adata.n_vars
    assert ax.get_title().startswith("cell5")  # first test sample by default


def test_metric_by_group(adata, tmp_path):
    df = pd.concat([dc.tl.evaluate(adata, key=k, inplace=False) for k in ("deepcage", "baseline_locus_mean")])
    ax = dc.pl.metric_by_group(df, metric="auprc", groupby="variability", save=tmp_path / "box.png")
    _ok(tmp_path / "box.png")
    # locus groups exist at the locus level only: a clear error, not matplotlib's
    with pytest.raises(ValueError, match="level='locus' only"):
        dc.pl.metric_by_group(df, metric="auprc", groupby="cell_range", level="sample")
    n_groups = df[df.level == "locus"]["variability"].nunique()
    assert len(ax.patches) == 2 * n_groups  # one box per method and group
    ax = dc.pl.metric_by_group(
        adata, metric="auroc", groupby="locus_class", kind="violin", save=tmp_path / "v.png"
    )
    _ok(tmp_path / "v.png")
    assert [t.get_text().split("\n")[0] for t in ax.get_xticklabels()] == ["known", "novel"]
    with pytest.raises(KeyError, match="not in the table"):
        dc.pl.metric_by_group(df, metric="nope")


def test_compare_bars(adata, tmp_path):
    table = dc.tl.compare(adata)
    ax = dc.pl.compare(table, metric="auprc", save=tmp_path / "cmp.png")
    _ok(tmp_path / "cmp.png")
    assert len(ax.patches) == 2 * 3  # 2 methods x (all, known, novel)
    ax2 = dc.pl.compare(adata, metric="auroc", level="locus", classes=["all"])
    assert len(ax2.patches) == 2


def test_gis_bars(adata, tmp_path):
    df = pd.DataFrame({"tf": [f"TF{i}" for i in range(30)], "gis": np.linspace(1, 0, 30)})
    ax = dc.pl.gis(df, n_top=10, highlight=["TF0"], save=tmp_path / "gis.png")
    _ok(tmp_path / "gis.png")
    assert len(ax.patches) == 10
    assert ax.get_yticklabels()[-1].get_text() == "TF0"  # highest on top
    adata.uns["gis"] = {
        "tf": df["tf"].to_numpy(),
        "gis": df["gis"].to_numpy(),
        "params": {"sample": "cell5", "center": "X", "window": 1000},
    }
    ax = dc.pl.gis(adata, n_top=5)
    assert len(ax.patches) == 5 and "cell5" in ax.get_title()


def test_gis_small_scores_rescaled_and_titled():
    # real GIS values are ~1e-3: ticks must stay short (a power of ten moves into the axis label)
    df = pd.DataFrame({"tf": [f"TF{i}" for i in range(20)], "gis": np.linspace(2.4e-3, 1e-4, 20)})
    df.attrs["params"] = {
        "sample": "GMP-B",
        "center": "JAG1",
        "chrom": "chr20",
        "position": 10_637_000,
        "window": 100_000,
        "n_loci": 1000,
        "resolved_by": "tss",
        "method": "abs_gradient",
    }
    ax = dc.pl.gis(df, n_top=15)
    ax.figure.canvas.draw()
    assert "×10⁻³" in ax.get_xlabel()
    np.testing.assert_allclose(max(p.get_width() for p in ax.patches), 2.4)
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert 2 <= len(ticks) <= 7 and max(len(t) for t in ticks) <= 4
    title = ax.get_title()
    assert "GMP-B" in title and "JAG1 (chr20:10,637,000) ±100 kb" in title and "1,000 loci" in title
    assert dc.pl.gis(df, title="custom").get_title() == "custom"


def test_filter_logos(tmp_path):
    from deepcage.tl._filters import FilterMotifs

    rng = np.random.default_rng(0)
    motifs = [
        Motif(f"filter{i}", rng.dirichlet(np.ones(4) * 0.3, size=15), meta={"filter": i}) for i in range(5)
    ]
    table = pd.DataFrame(
        {
            "influence": [0.1, 0.5, 0.3, 0.0, 0.2],
            "best_tf": ["GATA1", "SPI1", "", "CTCF", "JUN"],
            "evalue": [1e-4, 1e-3, 5.0, 1e-6, 0.5],
            "matched": [True, True, False, True, False],
        },
        index=[m.name for m in motifs],
    )
    res = FilterMotifs(table, motifs, pd.DataFrame())
    axes = dc.pl.filter_logos(res, n=4, save=tmp_path / "logos.png")
    _ok(tmp_path / "logos.png")
    assert len(axes) == 4
    assert axes[0].get_title().startswith("filter1\nSPI1")  # highest influence first; the match on line 2
    axes = dc.pl.filter_logos(res, filters=[3], kind="probability")
    assert len(axes) == 1 and "CTCF" in axes[0].get_title()


def test_history(tmp_path):
    hist = pd.DataFrame(
        {
            "epoch": range(5),
            "train_loss": [0.7, 0.5, 0.4, 0.35, 0.33],
            "val_loss": [0.72, 0.6, 0.5, 0.52, 0.55],
            "val_auprc": [0.3, 0.4, 0.5, 0.5, 0.49],
        }
    )
    axes = dc.pl.history(hist, save=tmp_path / "hist.png")
    _ok(tmp_path / "hist.png")
    assert len(axes) == 2
    assert len([ln for ln in axes[0].lines if ln.get_label() in ("train_loss", "val_loss")]) == 2
    assert axes[0].lines[-1].get_xdata()[0] == 2  # best val_loss marked
    # labels do not collide: the right panel's y label lies right of everything drawn for the left panel
    fig = axes[0].figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert axes[1].yaxis.label.get_window_extent(renderer).x0 > axes[0].get_tightbbox(renderer).x1
    assert axes[1].get_ylabel() == "val auprc" and axes[0].get_ylabel() == "loss"
    assert any("best val loss (epoch 2)" in t.get_text() for t in axes[0].get_legend().get_texts())
    model = type("M", (), {"history_": hist[["epoch", "train_loss"]]})()
    assert len(dc.pl.history(model)) == 1
    # a model's line marks the epoch its early stopping kept (its monitor), not the lowest val_loss
    later = hist.assign(val_auprc=[0.3, 0.4, 0.45, 0.5, 0.49])  # best val_auprc at epoch 3, val_loss at 2
    model = type("M", (), {"history": later, "params": {"monitor": "val_auprc"}})()
    axes = dc.pl.history(model)
    assert axes[0].lines[-1].get_xdata()[0] == 3 and axes[1].lines[-1].get_xdata()[0] == 3
    assert any("best val auprc (epoch 3)" in t.get_text() for t in axes[1].get_legend().get_texts())


def test_track(adata, tmp_path):
    axes = dc.pl.track(
        adata, region="chr20:10,010,000-10,030,000", samples=["cell5", "cell6"], save=tmp_path / "t.png"
    )
    _ok(tmp_path / "t.png")
    assert len(axes) == 2
    twin_lines = [ln for a in axes[0].figure.axes for ln in a.lines]
    assert len(twin_lines) == 2 * 2  # deepcage + baseline per sample
    # coordinates in Mb, a labelled right axis
    last = axes[-1]
    last.figure.canvas.draw()
    labels = [t.get_text() for t in last.get_xticklabels() if t.get_text()]
    assert labels and all(lab.startswith("10.0") for lab in labels)  # 10,010,000 bp -> "10.010"
    assert "(Mb)" in last.get_xlabel() and "chr20:10,010,000-10,030,000" in last.get_xlabel()
    twins = [a for a in axes[0].figure.axes if a not in axes]
    assert twins and all(t.get_ylabel() == "predicted\nprobability" for t in twins)
    # predictions passed first are still lines, the observed layer still grey bars
    axes2 = dc.pl.track(
        adata, region="chr20:10,010,000-10,030,000", samples=["cell5"], keys=["deepcage", "binary"]
    )
    ax0 = axes2[0]
    assert len(ax0.patches) == 100 and {p.get_label() for p in ax0.containers} == {"observed (binary)"}
    twin = next(a for a in ax0.figure.axes if a is not ax0)
    assert [ln.get_label() for ln in twin.lines] == ["deepcage"]
    legend = [t.get_text() for t in ax0.get_legend().get_texts()]
    assert legend == ["observed (binary)", "deepcage"]
    with pytest.raises(ValueError, match="No loci"):
        dc.pl.track(adata, region="chr1:1-1000")
    with pytest.raises(ValueError, match="form"):
        dc.pl.track(adata, region="chr20-1000")


def test_show_true_returns_none(adata, monkeypatch):
    monkeypatch.setattr(plt, "show", lambda: None)
    assert dc.pl.pr_curves(adata, show=True) is None


def test_history_epoch_index_and_given_axes():
    hist = pd.DataFrame(
        {"train_loss": [0.7, 0.5, 0.4], "val_loss": [0.6, 0.5, 0.55]}, index=pd.Index([0, 1, 2], name="epoch")
    )
    fig, ax = plt.subplots()
    axes = dc.pl.history(hist, ax=ax)
    assert axes == [ax]
    assert list(ax.lines[0].get_xdata()) == [0, 1, 2]
    assert ax.lines[-1].get_xdata()[0] == 1  # best val_loss


def test_save_true_writes_to_figures(adata, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ax = dc.pl.compare(adata, metric="average_precision", save=True)
    assert isinstance(ax, plt.Axes)
    _ok(tmp_path / "figures" / "compare_average_precision.png")


def test_calibration(adata, tmp_path):
    ax = dc.pl.calibration(adata, groupby="locus_class", save=tmp_path / "cal.png")
    _ok(tmp_path / "cal.png")
    assert isinstance(ax, plt.Axes)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[0] == "perfectly calibrated" and len(texts) == 3  # diagonal + known + novel
    tab = dc.tl.calibration_table(adata, groupby="locus_class")
    for cls, text in zip(["known", "novel"], texts[1:]):
        assert text.startswith(f"{cls}: ECE {tab.attrs['ece'][cls]:.3f}")
        # the curve goes through the table's filled bins
        line = next(ln for ln in ax.lines if ln.get_label() == text)
        sub = tab[(tab.locus_class == cls) & (tab.n > 0)]
        np.testing.assert_allclose(line.get_xdata(), sub["mean_pred"])
        np.testing.assert_allclose(line.get_ydata(), sub["frac_pos"])
    diag = ax.lines[0]
    np.testing.assert_allclose(diag.get_xdata(), [0, 1])
    np.testing.assert_allclose(diag.get_ydata(), [0, 1])
    # the histogram panel below, sharing the x axis, and a table as input
    assert len(ax.figure.axes) == 2 and ax.figure.axes[-1].get_xlabel() == "mean predicted probability"
    ax2 = dc.pl.calibration(tab, hist=False)
    assert len(ax2.figure.axes) == 1 and len(ax2.get_legend().get_texts()) == 3
    # regression: mean observed signal against mean prediction
    ax3 = dc.pl.calibration(adata, key="deepcage", layer="log_norm", hist=False)
    assert ax3.get_ylabel() == "mean observed signal"
