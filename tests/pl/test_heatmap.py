"""dc.pl.heatmap draws samples (or groups) x loci of predictions, with the labels, order and colour bar it says."""

from __future__ import annotations

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import deepcage as dc


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture
def pred():
    """12 samples in 3 clusters x 100 loci; loci 0-9 differ between the clusters, the rest barely vary."""
    rng = np.random.default_rng(0)
    n_obs, n_var = 12, 100
    cluster = np.repeat(["B", "NK", "Mono"], 4)
    p = 0.3 + 0.01 * rng.random((n_obs, n_var))
    for j, c in enumerate(["B", "NK", "Mono"]):
        p[cluster == c, 3 * j : 3 * j + 4] = 0.9  # loci 0-3 open in B, 3-6 in NK, 6-9 in Mono
    starts = 10_000_000 + np.arange(n_var) * 200
    var = pd.DataFrame(
        {"chrom": "chr20", "start": starts, "end": starts + 200},
        index=[f"chr20:{s}-{s + 200}" for s in starts],
    )
    obs = pd.DataFrame(
        {
            "cluster": pd.Categorical(cluster, categories=["B", "NK", "Mono"]),
            "split": ["train"] * 8 + ["test"] * 4,
        },
        index=[f"s{i}" for i in range(n_obs)],
    )
    ad = AnnData(X=p.astype(np.float32), obs=obs, var=var)
    ad.layers["deepcage"] = ad.X.copy()
    return ad


def _image(ax) -> np.ndarray:
    return np.asarray(ax.images[0].get_array())


def _labels(ticks) -> list[str]:
    return [t.get_text() for t in ticks]


def test_samples_by_most_variable_loci(pred, tmp_path):
    ax = dc.pl.heatmap(pred, n_top=10, cluster=False, save=tmp_path / "h.png")
    assert (tmp_path / "h.png").stat().st_size > 1000
    assert _image(ax).shape == (12, 10)
    assert _labels(ax.get_yticklabels()) == list(pred.obs_names)
    # the ten loci that vary across the clusters, in genome order, labelled chrom:start
    shown = _labels(ax.get_xticklabels())
    assert shown == [f"chr20:{10_000_000 + 200 * j:,}" for j in range(10)]
    np.testing.assert_allclose(_image(ax), pred.layers["deepcage"][:, :10], rtol=1e-6)
    cbar = ax.figure.axes[-1]
    assert cbar.get_ylabel() == "predicted P(open)"
    assert cbar.get_ylim() == (0.0, 1.0)


def test_groupby_averages_each_group_in_category_order(pred):
    ax = dc.pl.heatmap(pred, n_top=10, groupby="cluster", cluster=False)
    img = _image(ax)
    assert img.shape == (3, 10)
    assert _labels(ax.get_yticklabels()) == ["B (n=4)", "NK (n=4)", "Mono (n=4)"]
    np.testing.assert_allclose(img[0], pred.X[:4, :10].mean(axis=0), rtol=1e-6)
    assert ax.get_ylabel() == "cluster"


def test_given_loci_a_layer_and_swapped_axes(pred):
    pred.layers["other"] = 1 - pred.X
    loci = list(pred.var_names[[50, 5, 60]])
    ax = dc.pl.heatmap(pred, loci, layer="other", cluster=False, swap_axes=True, var_labels=None)
    img = _image(ax)
    assert img.shape == (3, 12)  # loci as rows now
    np.testing.assert_allclose(img, (1 - pred.X)[:, [50, 5, 60]].T, rtol=1e-6)  # in the order given
    assert len(ax.get_xticklabels()) == 12
    assert ax.get_title().startswith("other: 12 samples x 3 loci")


def test_clustering_puts_similar_rows_and_loci_together(pred):
    order = np.random.default_rng(1).permutation(pred.n_obs)
    shuffled = pred[order].copy()
    ax = dc.pl.heatmap(shuffled, n_top=10, cluster="both")
    rows = _labels(ax.get_yticklabels())
    assert sorted(rows) == sorted(pred.obs_names)
    clusters = [str(pred.obs.loc[r, "cluster"]) for r in rows]
    # each cluster's samples are contiguous after clustering
    runs = [c for i, c in enumerate(clusters) if i == 0 or c != clusters[i - 1]]
    assert sorted(runs) == ["B", "Mono", "NK"]
    assert "clustered: samples and loci" in ax.get_title()


def test_standard_scale_and_samples_and_tss_labels(pred):
    tss = pd.DataFrame({"chrom": ["chr20"], "start": [10_000_500], "symbol": ["GENE1"]})
    samples = ["s0", "s4", "s8", "s9"]  # B, NK, Mono, Mono
    ax = dc.pl.heatmap(
        pred, n_top=10, samples=samples, standard_scale="var", tss=tss, max_distance=1_000, cluster=False
    )
    img = _image(ax)
    assert img.shape == (4, 10)
    assert np.allclose(img.min(axis=0), 0) and np.allclose(img.max(axis=0)[img.max(axis=0) > 0], 1)
    labels = _labels(ax.get_xticklabels())
    assert labels[0] == "GENE1 -0.4 kb (chr20:10,000,000)"  # bin centre 10,000,100: 400 bp before the TSS
    assert (
        labels[-1] == "chr20:10,001,800"
    )  # locus 9, centre 1.4 kb from the TSS (> max_distance): coordinates only
    assert "scaled 0-1 per locus" in ax.figure.axes[-1].get_ylabel()


def test_many_loci_thin_out_tick_labels(pred):
    ax = dc.pl.heatmap(pred, loci="all", cluster=False)
    assert _image(ax).shape == (12, 100)
    assert 40 <= len(ax.get_xticklabels()) <= 80


def test_on_a_given_ax(pred):
    fig, ax = plt.subplots()
    out = dc.pl.heatmap(pred, n_top=5, ax=ax, show=False)
    assert out is ax
    assert len(fig.axes) == 2  # the heatmap and its colour bar


def test_errors(pred):
    with pytest.raises(KeyError, match="Layer 'nope' not found"):
        dc.pl.heatmap(pred, layer="nope")
    with pytest.raises(KeyError, match="groupby='donor'"):
        dc.pl.heatmap(pred, groupby="donor")
    with pytest.raises(KeyError, match="not found"):
        dc.pl.heatmap(pred, ["chr1:1-2"])
    with pytest.raises(ValueError, match="cluster must be"):
        dc.pl.heatmap(pred, cluster="rows")
    with pytest.raises(ValueError, match="standard_scale"):
        dc.pl.heatmap(pred, standard_scale="group")
    with pytest.raises(ValueError, match="n_top"):
        dc.pl.heatmap(pred, n_top=0)
    empty = AnnData(obs=pred.obs, var=pred.var)
    with pytest.raises(ValueError, match="No predictions"):
        dc.pl.heatmap(empty)
