import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import deepcage as dc
from deepcage._demo import choose_test_region, score_table
from deepcage.cli import main


def _toy(open_mask: np.ndarray, starts=None) -> AnnData:
    """Samples x loci with the given 0/1 labels, 200-bp bins from ``starts`` (default: one run from 0)."""
    n_obs, n_var = open_mask.shape
    starts = np.arange(n_var) * 200 if starts is None else np.asarray(starts)
    var = pd.DataFrame(
        {"chrom": "chr1", "start": starts, "end": starts + 200}, index=[f"chr1:{s}-{s + 200}" for s in starts]
    )
    obs = pd.DataFrame(
        {"split": ["train"] * (n_obs - 2) + ["test"] * 2}, index=[f"c{i}" for i in range(n_obs)]
    )
    ad = AnnData(X=open_mask.astype(np.float32), obs=obs, var=var)
    ad.layers["binary"] = open_mask.astype(np.uint8)
    return ad


def test_choose_test_region_takes_the_first_window_with_enough_open_loci_per_sample():
    y = np.zeros((4, 1000), dtype=np.uint8)
    y[2, 300:360] = 1  # c2: 60 open loci in bins 300-359
    y[3, 320:400] = 1  # c3: 80 open loci in bins 320-399
    ad = _toy(y)
    region, n_open = choose_test_region(ad, ["c2", "c3"], min_open=50, frac=0.1, stride=10)
    # 100-bin windows start every 10 bins: the first holding >= 50 of each is bins 270-369 (not the best, 300-399)
    assert region == ("chr1", 270 * 200, 370 * 200)
    assert n_open == {"c2": 60, "c3": 50}


def test_choose_test_region_grows_the_window_and_never_spans_a_gap():
    y = np.zeros((4, 1000), dtype=np.uint8)
    y[2:, 0:1000:4] = 1  # every 4th bin open in both held-out samples: 25 per 100 bins
    starts = np.r_[np.arange(500) * 200, 1_000_000 + np.arange(500) * 200]  # two runs of 500 bins
    ad = _toy(y, starts)
    region, n_open = choose_test_region(ad, ["c2", "c3"], min_open=50, frac=0.1)
    assert region[2] - region[1] >= 200 * 200 and min(n_open.values()) >= 50  # 10 % was too small
    assert region[2] <= 500 * 200  # inside the first run
    with pytest.raises(ValueError, match="No run of adjacent loci"):
        choose_test_region(ad, ["c2", "c3"], min_open=200)


def test_score_table_names_the_samples_it_cannot_score():
    rng = np.random.default_rng(0)
    y = (rng.random((5, 200)) < 0.3).astype(np.uint8)
    y[4] = 0  # the second held-out sample has no open locus
    ad = _toy(y)
    ad.var["split"] = "test"
    ad.layers["deepcage"] = np.clip(0.6 * y + 0.4 * rng.random(y.shape), 0, 1).astype(np.float32)
    ad.layers["baseline_sequence"] = np.full(y.shape, 0.3, dtype=np.float32)
    table, notes = score_table(ad, ["deepcage", "sequence_only"], samples="test", loci="test")
    assert list(table["method"]) == ["deepcage", "sequence_only"]
    assert {"AP", "ECE", "Brier", "AP c3", "AP c4"} <= set(table.columns)
    assert table["AP c4"].isna().all() and table["AP c3"].notna().all()
    assert notes == ["c4 not scored: no open locus among these 200 loci (average precision undefined)"]
    assert table.loc[0, "AP"] > table.loc[1, "AP"]  # informative predictions rank better than a constant


@pytest.mark.slow
def test_demo_command_prints_both_fair_comparisons_and_writes_figure_and_model(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--epochs", "3", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "(a) Held-out samples x loci with training labels" in printed
    assert "(b) Held-out samples x held-out loci" in printed
    a, b = printed.split("(b) Held-out samples")
    # (a): the model against the label-based baselines; (b): against the sequence-only model only
    for method in ("deepcage", "expression_knn", "locus_mean"):
        assert f"  {method} " in a
    assert "sequence_only" in b and "  locus_mean " not in b and "  expression_knn " not in b
    assert "ECE" in a and "Brier" in b and "NOTE" not in printed
    assert "Top TFs by gene importance score" in printed
    figure = tmp_path / "demo" / "demo.png"
    assert figure.stat().st_size > 10_000
    model = dc.DeepCAGE.load(tmp_path / "demo" / "model")
    assert model.tfs == [f"TF{i}" for i in range(1, 9)]
