"""binarize_peaks: the replicate rule on hand-made intervals, aliasing, errors, and the real heme peaks."""

from __future__ import annotations

import gzip
import time

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import deepcage as dc


def _bins(n: int, chrom: str = "chr1", size: int = 200) -> pd.DataFrame:
    start = np.arange(n, dtype=np.int64) * size
    return pd.DataFrame({"chrom": chrom, "start": start, "end": start + size})


def _peaks(*intervals, chrom: str = "chr1") -> pd.DataFrame:
    return pd.DataFrame(
        {"chrom": chrom, "start": [a for a, _ in intervals], "end": [b for _, b in intervals]}
    )


FAR = (100_000, 100_500)  # a peak away from every bin: a file that covers nothing of interest


def _row(adata: AnnData, sample: str) -> np.ndarray:
    return adata.layers["binary"][adata.obs_names.get_loc(sample)]


def test_replicate_rule_hand_made():
    bins = _bins(8)  # 0-200, 200-400, ..., 1400-1600
    full0 = _peaks((0, 200))
    peaks = {
        "two_of_three": [full0, full0, _peaks(FAR)],
        "one_of_three": [full0, _peaks(FAR), _peaks(FAR)],
        "one_of_two": [full0, _peaks(FAR)],
        "exactly_half": _peaks((0, 100)),
        "just_below_half": _peaks((0, 99)),
        # two adjacent peaks covering 60 % of bin 1 together (30 % each)
        "adjacent_union": _peaks((200, 260), (260, 320)),
        # overlapping peaks: union 90 bp = 45 % (a naive sum would give 75 %)
        "overlap_not_double_counted": _peaks((400, 480), (420, 490)),
        # one peak over bins 3..5 fully and 50 % of bin 6
        "spanning": _peaks((600, 1300)),
    }
    adata = dc.pp.binarize_peaks(_bins(8), peaks, min_samples=0)
    assert adata.shape == (len(peaks), len(bins))
    assert list(adata.obs_names) == list(peaks)
    assert _row(adata, "two_of_three").tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
    assert _row(adata, "one_of_three").sum() == 0
    assert _row(adata, "one_of_two").tolist()[0] == 1  # "at least half" of 2 files
    assert _row(adata, "exactly_half")[0] == 1
    assert _row(adata, "just_below_half")[0] == 0
    assert _row(adata, "adjacent_union").tolist() == [0, 1, 0, 0, 0, 0, 0, 0]
    assert _row(adata, "overlap_not_double_counted").sum() == 0
    assert _row(adata, "spanning").tolist() == [0, 0, 0, 1, 1, 1, 1, 0]
    # layout
    assert adata.layers["binary"].dtype == np.uint8
    assert adata.X.dtype == np.float32
    np.testing.assert_array_equal(adata.X, adata.layers["binary"])
    assert adata.var_names[0] == "chr1:0-200"
    np.testing.assert_array_equal(adata.var["n_samples_open"], adata.layers["binary"].sum(0))
    assert adata.obs.loc["two_of_three", "n_peak_files"] == 3
    assert adata.uns["deepcage"]["params"]["binarize_peaks"]["min_overlap"] == 0.5


def test_thresholds_are_parameters():
    peaks = {"a": [_peaks((0, 120)), _peaks(FAR), _peaks(FAR)]}
    strict = dc.pp.binarize_peaks(_bins(2), peaks, min_samples=0, min_overlap=0.7)
    assert strict.layers["binary"].sum() == 0
    loose = dc.pp.binarize_peaks(_bins(2), peaks, min_samples=0, min_replicate_frac=1 / 3, key_added="lab")
    assert loose.layers["lab"][0].tolist() == [1, 0]


def test_matches_naive_loop_on_random_intervals():
    rng = np.random.default_rng(1)
    bins = _bins(300)
    files = []
    for _ in range(3):
        s = np.sort(rng.integers(0, 60_000, 80))
        files.append(pd.DataFrame({"chrom": "chr1", "start": s, "end": s + rng.integers(20, 600, 80)}))
    adata = dc.pp.binarize_peaks(bins, {"x": files}, min_samples=0)
    expected = []
    for b0, b1 in zip(bins["start"], bins["end"]):
        n_ok = 0
        for f in files:
            mask = np.zeros(b1 - b0, bool)
            for p0, p1 in zip(f["start"], f["end"]):
                lo, hi = max(p0, b0), min(p1, b1)
                if hi > lo:
                    mask[lo - b0 : hi - b0] = True
            n_ok += mask.sum() >= 0.5 * (b1 - b0)
        expected.append(int(n_ok >= 1.5))
    np.testing.assert_array_equal(adata.layers["binary"][0], expected)
    assert 0 < sum(expected) < 300


def test_min_samples_union():
    peaks = {"a": _peaks((0, 200), (200, 400)), "b": _peaks((200, 400), (400, 600)), "c": _peaks((200, 400))}
    one = dc.pp.binarize_peaks(_bins(5), peaks)
    assert one.var_names.tolist() == ["chr1:0-200", "chr1:200-400", "chr1:400-600"]
    assert one.var["n_samples_open"].tolist() == [1, 3, 1]
    two = dc.pp.binarize_peaks(_bins(5), peaks, min_samples=2)
    assert two.var_names.tolist() == ["chr1:200-400"]
    assert two.obs["n_open"].tolist() == [1, 1, 1]


def test_contig_aliasing_and_files(tmp_path):
    # b37-style bins ('20') labelled from UCSC-style files ('chr20'), plain BED and gzip narrowPeak
    bed = tmp_path / "a.bed"
    bed.write_text("chr20\t0\t150\nchr20\t1000\t1200\n")
    np_gz = tmp_path / "b.narrowPeak.gz"
    with gzip.open(np_gz, "wt") as fh:
        fh.write("chr20\t190\t420\tp1\t10\t.\t5.0\t3.0\t2.0\t100\n")
    adata = dc.pp.binarize_peaks(_bins(6, chrom="20"), {"A": bed, "B": str(np_gz)})
    assert adata.var_names.tolist() == ["20:0-200", "20:200-400", "20:1000-1200"]
    assert adata.layers["binary"].tolist() == [[1, 0, 1], [0, 1, 0]]
    assert adata.uns["deepcage"]["params"]["binarize_peaks"]["peaks"]["A"] == [str(bed)]


def test_anndata_bins_and_genome_record(tmp_path):
    var = _bins(3)
    var.index = dc._utils.locus_names(var["chrom"], var["start"], var["end"])
    template = AnnData(np.zeros((1, 3), np.float32), var=var)
    adata = dc.pp.binarize_peaks(template, {"s": _peaks((0, 400))})
    assert adata.var_names.tolist() == ["chr1:0-200", "chr1:200-400"]
    # the genome recorded by bin_genome travels with the bins
    fa = tmp_path / "g.fa"
    fa.write_text(">chr1\n" + "ACGT" * 150 + "\n")
    bins = dc.pp.bin_genome(dc.Genome(fa, name="toy"), window=200)
    labelled = dc.pp.binarize_peaks(bins, {"s": _peaks((0, 400))})
    assert labelled.uns["deepcage"]["genome"]["name"] == "toy"
    explicit = dc.pp.binarize_peaks(bins, {"s": _peaks((0, 400))}, genome=dc.Genome(fa, name="toy2"))
    assert explicit.uns["deepcage"]["genome"]["name"] == "toy2"


def test_error_contig_mismatch_names_both_styles():
    with pytest.raises(ValueError, match=r"bins use \['NC_000020'\].*peaks use \['chr20'\]"):
        dc.pp.binarize_peaks(_bins(3, chrom="NC_000020"), {"a": _peaks((0, 200), chrom="chr20")})


def test_error_empty_result():
    with pytest.raises(ValueError, match="No bin is covered by peaks"):
        dc.pp.binarize_peaks(_bins(3), {"a": _peaks(FAR)})


def test_error_bad_inputs(tmp_path):
    with pytest.raises(TypeError, match="mapping"):
        dc.pp.binarize_peaks(_bins(3), [_peaks((0, 200))])
    with pytest.raises(ValueError, match="no peak files"):
        dc.pp.binarize_peaks(_bins(3), {"a": []})
    with pytest.raises(FileNotFoundError, match="missing.bed"):
        dc.pp.binarize_peaks(_bins(3), {"a": tmp_path / "missing.bed"})
    bad = tmp_path / "bad.bed"
    bad.write_text("chr1\t0\t100\nchr1\tten\t200\n")
    with pytest.raises(ValueError, match="line 2"):
        dc.pp.binarize_peaks(_bins(3), {"a": bad})


def test_heme_chr20_real_run(hg19_genome, shared_data):
    peak_dir = shared_data / "heme-hg19" / "peaks"
    files = sorted(peak_dir.glob("*.narrowPeak.gz"))
    assert len(files) == 12
    peaks = {f.name.split(".")[0]: f for f in files}
    bins = dc.pp.bin_genome(
        hg19_genome,
        regions=dc.pp.sequenced_regions(hg19_genome),
        blacklist=shared_data / "annotation" / "hg19-blacklist.v2.bed",
    )
    t0 = time.perf_counter()
    all_bins = dc.pp.binarize_peaks(bins, peaks, min_samples=0)
    assert time.perf_counter() - t0 < 5
    assert all_bins.shape == (12, len(bins))
    rate = all_bins.layers["binary"].mean()
    assert 0.01 < rate < 0.10  # ATAC peaks cover a few % of 200-bp bins
    assert (all_bins.obs["n_open"] > 100).all()
    # spot-check one sample against a direct overlap computation on the read narrowPeak file
    hsc = dc.read_narrowpeak(peaks["HSC"])
    rng = np.random.default_rng(0)
    pos = np.flatnonzero(all_bins.layers["binary"][all_bins.obs_names.get_loc("HSC")])
    check = np.r_[rng.choice(pos, 20, replace=False), rng.choice(len(bins), 20, replace=False)]
    for j in check:
        b0, b1 = int(all_bins.var["start"].iloc[j]), int(all_bins.var["end"].iloc[j])
        mask = np.zeros(b1 - b0, bool)
        hit = hsc[(hsc["end"] > b0) & (hsc["start"] < b1)]
        for p0, p1 in zip(hit["start"], hit["end"]):
            mask[max(p0, b0) - b0 : min(p1, b1) - b0] = True
        assert all_bins.layers["binary"][all_bins.obs_names.get_loc("HSC"), j] == int(mask.mean() >= 0.5)
    union = dc.pp.binarize_peaks(bins, peaks, genome=hg19_genome)
    assert union.n_vars == int((all_bins.var["n_samples_open"] >= 1).sum())
    assert union.uns["deepcage"]["genome"]["name"] == "hg19"
