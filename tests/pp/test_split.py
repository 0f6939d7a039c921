"""split_samples (hold-out, k-fold) and split_loci (known/novel, held-out contigs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import deepcage as dc


def _adata(binary, chrom, start, end, samples=None) -> AnnData:
    binary = np.asarray(binary, dtype=np.uint8)
    var = pd.DataFrame({"chrom": chrom, "start": start, "end": end})
    var.index = dc._utils.locus_names(var["chrom"], var["start"], var["end"])
    obs = pd.DataFrame(index=samples or [f"c{i}" for i in range(binary.shape[0])])
    adata = AnnData(binary.astype(np.float32), obs=obs, var=var)
    adata.layers["binary"] = binary
    return adata


@pytest.fixture
def hand_made():
    # samples: tr0, tr1, tr2 (train) and te0, te1 (test); loci on chr1 (bins, plus one shifted locus)
    #            L0      L1       L2      L3      L4      L5(100-300: overlaps L0)
    binary = [
        [1, 1, 0, 0, 0, 0],  # tr0
        [1, 0, 0, 1, 0, 0],  # tr1
        [0, 0, 0, 0, 0, 0],  # tr2
        [0, 1, 1, 1, 1, 1],  # te0
        [0, 1, 1, 0, 0, 1],  # te1
    ]
    start = [0, 400, 200, 800, 1000, 100]
    end = [s + 200 for s in start]
    return _adata(binary, "chr1", start, end, samples=["tr0", "tr1", "tr2", "te0", "te1"])


def test_known_novel_rules(hand_made):
    dc.pp.split_samples(hand_made, test=["te0", "te1"])
    assert hand_made.obs["split"].tolist() == ["train"] * 3 + ["test"] * 2
    dc.pp.split_loci(hand_made, val_frac=0)
    cls = hand_made.var["locus_class"].tolist()
    # L0: 2 train positives -> known
    # L1: 1 train + 2 test -> novel (does not overlap a known locus)
    # L2: 0 train + 2 test, touches known L0 (200 == 200) but shares no bp -> novel
    # L3: 1 train + 1 test -> other; L4: 1 test -> other
    # L5: 2 test but overlaps known L0 (100-300 vs 0-200) -> other
    assert cls == ["known", "novel", "novel", "other", "other", "other"]
    assert hand_made.var["split"].tolist() == ["train"] * 6
    summary = hand_made.uns["deepcage"]["split"]
    assert summary["locus_class"] == {"known": 1, "novel": 2, "other": 3}
    assert summary["samples"] == {"train": 3, "test": 2}
    assert summary["loci_by_class"]["train"]["novel"] == 2
    # min_positive=1: L1, L3 become known (1 train positive); L2 is novel; L4 overlaps nothing known -> novel
    dc.pp.split_loci(hand_made, min_positive=1, val_frac=0, class_key="cls1")
    assert hand_made.var["cls1"].tolist() == ["known", "known", "novel", "known", "novel", "other"]


def test_without_sample_split_all_train(hand_made, caplog):
    dc.pp.split_loci(hand_made, val_frac=0)
    assert "split_samples" in caplog.text
    assert hand_made.var["locus_class"].tolist() == ["known", "known", "known", "known", "other", "known"]


def _multi_chrom(n_per=50):
    rng = np.random.default_rng(0)
    chrom = np.repeat(["chr1", "chr2", "chr3"], n_per)
    start = np.tile(np.arange(n_per) * 200, 3)
    return _adata(rng.integers(0, 2, (4, 3 * n_per)), chrom, start, start + 200)


def test_held_out_chroms_with_alias():
    adata = _multi_chrom()
    dc.pp.split_loci(adata, test_chroms=["3"], val_chroms="chr2")
    split = adata.var.groupby("chrom", observed=True)["split"].agg(lambda s: set(s))
    assert split.to_dict() == {"chr1": {"train"}, "chr2": {"val"}, "chr3": {"test"}}
    assert adata.uns["deepcage"]["split"]["loci"] == {"train": 50, "val": 50, "test": 50}
    assert list(adata.var["split"].cat.categories) == ["train", "val", "test"]


def test_random_val_fraction_seeded():
    a, b, c = _multi_chrom(), _multi_chrom(), _multi_chrom()
    dc.pp.split_loci(a, val_frac=0.2, test_chroms=["chr3"], seed=1)
    dc.pp.split_loci(b, val_frac=0.2, test_chroms=["chr3"], seed=1)
    dc.pp.split_loci(c, val_frac=0.2, test_chroms=["chr3"], seed=2)
    assert (a.var["split"] == "val").sum() == 20  # 20 % of the 100 non-test loci
    assert not ((a.var["split"] == "val") & (a.var["chrom"] == "chr3")).any()
    assert a.var["split"].equals(b.var["split"])
    assert not a.var["split"].equals(c.var["split"])


def test_kfold_covers_every_sample_once():
    adata = _adata(np.zeros((11, 2)), "chr1", [0, 200], [200, 400])
    tested = []
    for fold in range(5):
        dc.pp.split_samples(adata, n_folds=5, fold=fold, seed=3)
        test = adata.obs_names[adata.obs["split"] == "test"].tolist()
        assert 2 <= len(test) <= 3
        tested += test
    assert sorted(tested) == sorted(adata.obs_names)
    first = dc.pp.split_samples(adata, n_folds=5, fold=0, seed=3, key_added="again", copy=True)
    dc.pp.split_samples(adata, n_folds=5, fold=0, seed=3)
    assert first.obs["again"].tolist() == adata.obs["split"].tolist()
    assert "again" not in adata.obs


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_mudata_split_rna_only_samples_are_test():
    from mudata import MuData

    atac = _adata(np.eye(3), "chr1", [0, 200, 400], [200, 400, 600], samples=["A", "B", "C"])
    rna = AnnData(np.ones((4, 2), np.float32), obs=pd.DataFrame(index=["A", "B", "C", "CMP"]))
    mdata = MuData({"atac": atac, "rna": rna})
    dc.pp.split_samples(mdata, test=["C"])
    assert mdata["atac"].obs["split"].tolist() == ["train", "train", "test"]
    assert mdata["rna"].obs["split"].tolist() == ["train", "train", "test", "test"]
    assert mdata.obs.loc["CMP", "split"] == "test"
    dc.pp.split_loci(mdata, min_positive=1, val_frac=0)
    assert mdata["atac"].var["locus_class"].tolist() == ["known", "known", "novel"]


def test_split_samples_errors(hand_made):
    with pytest.raises(ValueError, match=r"Unknown sample name\(s\) in test: \['HSC'\]"):
        dc.pp.split_samples(hand_made, test=["te0", "HSC"])
    with pytest.raises(ValueError, match="no training sample"):
        dc.pp.split_samples(hand_made, test=list(hand_made.obs_names))
    with pytest.raises(ValueError, match="exactly one"):
        dc.pp.split_samples(hand_made)
    with pytest.raises(ValueError, match="exactly one"):
        dc.pp.split_samples(hand_made, test=["te0"], n_folds=2)
    with pytest.raises(ValueError, match="n_folds"):
        dc.pp.split_samples(hand_made, n_folds=6)
    with pytest.raises(ValueError, match="fold must be"):
        dc.pp.split_samples(hand_made, n_folds=5, fold=5)


def test_split_loci_errors(hand_made):
    with pytest.raises(KeyError, match="binarize_peaks"):
        dc.pp.split_loci(hand_made, layer="counts")
    with pytest.raises(ValueError, match=r"\['chr9'\] have no locus"):
        dc.pp.split_loci(hand_made, test_chroms=["chr9"])
    with pytest.raises(ValueError, match="no training locus"):
        dc.pp.split_loci(hand_made, test_chroms=["chr1"])
    hand_made.obs["split"] = "held"
    with pytest.raises(ValueError, match="'train' or 'test'"):
        dc.pp.split_loci(hand_made)


def test_split_loci_test_regions():
    adata = dc.datasets.synthetic(n_samples=6, n_loci=120, n_tfs=3, seed=1)
    var = adata.var
    a, b = var.iloc[10], var.iloc[11]
    assert a["chrom"] == b["chrom"]
    region = f"{a['chrom']}:{int(a['end']) - 1}-{int(b['start']) + 1}"  # 1 bp of each of the two loci
    dc.pp.split_loci(adata, test_regions=[region], val_frac=0.2, seed=0)
    split = adata.var["split"].astype(str)
    assert list(split.index[split == "test"]) == list(var.index[10:12])
    assert int((split == "val").sum()) == round(0.2 * (len(split) - 2))  # the validation draw excludes them
    assert adata.uns["deepcage"]["split"]["params"]["test_regions"] == [region]
    bed = pd.DataFrame({"chrom": [a["chrom"]], "start": [int(a["start"])], "end": [int(a["end"])]})
    dc.pp.split_loci(adata, test_regions=bed, val_frac=0.0)
    assert list(adata.var.index[adata.var["split"] == "test"]) == [var.index[10]]
    with pytest.raises(ValueError, match="no locus overlaps"):
        dc.pp.split_loci(adata, test_regions=["chrZ:0-100"])


def test_split_key_names_the_sample_split_column(hand_made):
    """split_key= (the obs column of the sample split); sample_key= is its deprecated spelling, as sample_key
    names the donor column of pseudobulk and predict."""
    hand_made.obs["fold"] = ["train"] * 3 + ["test"] * 2
    dc.pp.split_loci(hand_made, val_frac=0, split_key="fold")
    expected = hand_made.var["locus_class"].tolist()
    assert expected == ["known", "novel", "novel", "other", "other", "other"]
    with pytest.warns(FutureWarning, match=r"sample_key= is deprecated.*use split_key="):
        dc.pp.split_loci(hand_made, val_frac=0, sample_key="fold", class_key="old")
    assert hand_made.var["old"].tolist() == expected


def _tiled(n=1000, bin_size=200):
    rng = np.random.default_rng(0)
    start = np.arange(n) * bin_size
    return _adata(rng.random((3, n)) < 0.2, "chr1", start, start + bin_size)


def test_val_block_draws_whole_blocks_outside_the_test_region():
    a = _tiled()
    dc.pp.split_loci(a, val_frac=0.1, val_block=10_000, test_regions=["chr1:0-10000"], seed=3)
    split = a.var["split"].astype(str).to_numpy()
    assert (split == "test").sum() == 50 and (split[:50] == "test").all()
    val = np.flatnonzero(split == "val")
    assert len(val) == 100  # exactly 2 blocks of 50 bins: 10 % of the 950 non-test loci, rounded up to blocks
    blocks = np.unique(val // 50)
    assert len(blocks) == 2 and all((split[b * 50 : (b + 1) * 50] == "val").all() for b in blocks)
    assert a.uns["deepcage"]["split"]["params"]["val_block"] == 10_000
    # a validation locus shares sequence with a training locus only at a block's two ends
    train_centres = a.var["start"].to_numpy()[split == "train"] + 100
    near = [np.abs(train_centres - c).min() < 1000 for c in a.var["start"].to_numpy()[val] + 100]
    assert sum(near) <= 2 * 2 * 5
    b = _tiled()
    dc.pp.split_loci(b, val_frac=0.1, val_block=10_000, test_regions=["chr1:0-10000"], seed=3)
    assert a.var["split"].equals(b.var["split"])


def test_val_block_errors():
    a = _tiled(n=100)
    with pytest.raises(ValueError, match="val_block must be a whole number"):
        dc.pp.split_loci(a, val_block=0)
    with pytest.raises(ValueError, match="val_block must be a whole number"):
        dc.pp.split_loci(a, val_block=2.5)
    with pytest.raises(ValueError, match="use a smaller val_block"):
        dc.pp.split_loci(a, val_frac=0.1, val_block=100_000)  # one block holds every locus
