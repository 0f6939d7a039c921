"""bin_genome / sequenced_regions: grid, N filter, blacklist, contig naming, real hg19 chr20."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

import deepcage as dc
from deepcage.pp._bins import _covered_bp, _merge_runs

RNG = np.random.default_rng(0)


def _write_fasta(path, contigs: dict[str, str]) -> None:
    with open(path, "w") as fh:
        for name, seq in contigs.items():
            fh.write(f">{name}\n")
            for i in range(0, len(seq), 60):
                fh.write(seq[i : i + 60] + "\n")


def _random_seq(n: int) -> str:
    return "".join(RNG.choice(list("ACGT"), size=n))


@pytest.fixture
def tiny_genome(tmp_path):
    # contig "1": 600 N, 1,800 bases, 400 N, 1,000 bases, 200 N (4,000 bp); contig "2": 1,050 bases
    seq1 = "N" * 600 + _random_seq(1800) + "N" * 400 + _random_seq(1000) + "N" * 200
    seq2 = _random_seq(1050)
    _write_fasta(tmp_path / "tiny.fa", {"1": seq1, "2": seq2})
    return dc.Genome(tmp_path / "tiny.fa", name="tiny"), {"1": seq1, "2": seq2}


def _naive_n_keep(seq: str, starts, bin_size, window, max_n_frac):
    keep = []
    for s in starts:
        ws = s + bin_size // 2 - window // 2
        n = sum(1 for p in range(ws, ws + window) if p < 0 or p >= len(seq) or seq[p] == "N")
        keep.append(n / window <= max_n_frac)
    return np.array(keep)


def test_whole_contig_grid_without_filters(tiny_genome):
    genome, seqs = tiny_genome
    bins = dc.pp.bin_genome(genome, max_n_frac=None)
    # incomplete last bin of contig 2 (1,050 bp) is dropped
    assert len(bins) == 4000 // 200 + 1050 // 200
    assert list(bins.columns) == ["chrom", "start", "end"]
    assert (bins["end"] - bins["start"] == 200).all()
    assert bins.index[0] == "1:0-200" and bins.index[-1] == "2:800-1000"
    assert bins.attrs["n_removed"] == {"n_filter": 0, "blacklist": 0}
    assert bins.attrs["genome"]["name"] == "tiny"


@pytest.mark.parametrize(("window", "max_n_frac"), [(1000, 0.5), (600, 0.2), (None, 0.0)])
def test_n_filter_matches_naive(tiny_genome, window, max_n_frac):
    genome, seqs = tiny_genome
    bins = dc.pp.bin_genome(genome, window=window, max_n_frac=max_n_frac)
    w = 200 if window is None else window
    n_removed = 0
    for chrom, seq in seqs.items():
        starts = np.arange(len(seq) // 200) * 200
        keep = _naive_n_keep(seq, starts, 200, w, max_n_frac)
        n_removed += int((~keep).sum())
        got = bins.loc[bins["chrom"] == chrom, "start"].to_numpy()
        np.testing.assert_array_equal(got, starts[keep])
    assert bins.attrs["n_removed"]["n_filter"] == n_removed > 0


def test_regions_grid_aligned_deduplicated_and_aliased(tiny_genome):
    genome, _ = tiny_genome
    # 'chr1' regions on a FASTA naming the contig '1'; overlapping regions give each bin once
    regions = pd.DataFrame(
        {"chrom": ["chr1", "chr1", "chr2"], "start": [650, 700, 0], "end": [1010, 1200, 1050]}
    )
    bins = dc.pp.bin_genome(genome, regions=regions, max_n_frac=None)
    assert set(bins["chrom"]) == {"1", "2"}
    assert bins.loc[bins["chrom"] == "1", "start"].tolist() == [600, 800, 1000]
    assert bins.loc[bins["chrom"] == "2", "start"].tolist() == [
        0,
        200,
        400,
        600,
        800,
    ]  # 1000-1200 is past the end


def test_regions_from_bed_path(tiny_genome, tmp_path):
    genome, _ = tiny_genome
    bed = tmp_path / "regions.bed"
    bed.write_text("track name=x\n1\t1000\t1400\n")
    bins = dc.pp.bin_genome(genome, regions=bed)
    assert bins.index.tolist() == ["1:1000-1200", "1:1200-1400"]


def test_blacklist_removes_overlapping_not_touching(tiny_genome):
    genome, _ = tiny_genome
    blacklist = pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [1000, 399], "end": [1200, 401]})
    bins = dc.pp.bin_genome(genome, max_n_frac=None, blacklist=blacklist)
    starts1 = bins.loc[bins["chrom"] == "1", "start"].tolist()
    assert 1000 not in starts1 and 800 in starts1 and 1200 in starts1  # touching bins stay
    starts2 = bins.loc[bins["chrom"] == "2", "start"].tolist()
    assert 200 not in starts2 and 400 not in starts2  # 1 bp overlap each
    assert bins.attrs["n_removed"]["blacklist"] == 3


def test_sequenced_regions(tiny_genome):
    genome, _ = tiny_genome
    reg = dc.pp.sequenced_regions(genome, min_length=1000)
    assert reg.values.tolist() == [["1", 600, 2400], ["1", 2800, 3800], ["2", 0, 1050]]
    merged = dc.pp.sequenced_regions(genome, chroms=["chr1"], max_gap=400)
    assert merged.values.tolist() == [["1", 600, 3800]]


def test_interval_helpers_against_naive():
    s = RNG.integers(0, 5000, 300)
    e = s + RNG.integers(0, 300, 300)
    runs = _merge_runs(s, e)
    assert (runs[0][1:] > runs[1][:-1]).all()  # disjoint, sorted, touching merged
    mask = np.zeros(6000, bool)
    for a, b in zip(s, e):
        mask[a:b] = True
    qs = RNG.integers(0, 5500, 200)
    qe = qs + RNG.integers(0, 500, 200)
    expected = [mask[a:b].sum() for a, b in zip(qs, qe)]
    np.testing.assert_array_equal(_covered_bp(runs, qs, qe), expected)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"regions": pd.DataFrame({"chrom": ["chrX"], "start": [0], "end": [10]})}, "not in the genome"),
        ({"chroms": ["7"]}, "not in the genome"),
        ({"bin_size": 0}, "bin_size"),
        ({"max_n_frac": 2}, "max_n_frac"),
        ({"regions": pd.DataFrame({"chrom": ["1"], "begin": [0]})}, "missing"),
    ],
)
def test_bad_input(tiny_genome, kwargs, match):
    genome, _ = tiny_genome
    with pytest.raises(ValueError, match=match):
        dc.pp.bin_genome(genome, **kwargs)


def test_hg19_chr20_whole_contig_fast(hg19_genome, shared_data):
    hg19_genome.codes("chr20")  # decode once (the FASTA read is not what is timed)
    t0 = time.perf_counter()
    bins = dc.pp.bin_genome(hg19_genome, chroms=["chr20"])
    elapsed = time.perf_counter() - t0
    assert elapsed < 2.0
    n_all = 63_025_520 // 200
    assert len(bins) + bins.attrs["n_removed"]["n_filter"] == n_all
    # only ~2.27 Mb of chr20 has bases (hg19 slices + b37 '20' patch)
    assert 10_000 < len(bins) < 12_500
    seq = dc.pp.sequenced_regions(hg19_genome)
    assert seq["chrom"].eq("chr20").all()
    assert int((seq["end"] - seq["start"]).sum()) == 2_265_000
    from_regions = dc.pp.bin_genome(hg19_genome, regions=seq)
    # the N filter keeps only bins near sequence, so both routes give the same bins here
    assert from_regions.index.equals(bins.index)


def test_hg19_blacklist(hg19_genome, shared_data):
    path = shared_data / "annotation" / "hg19-blacklist.v2.bed"
    bins = dc.pp.bin_genome(hg19_genome, chroms=["20"], max_n_frac=None, blacklist=path)
    bl = dc.read_bed(path)
    bl = bl[bl["chrom"] == "chr20"]
    hit = set()
    for s, e in zip(bl["start"], bl["end"]):
        hit.update(range(s // 200, -(-e // 200)))
    hit = {i for i in hit if i < 63_025_520 // 200}
    assert bins.attrs["n_removed"]["blacklist"] == len(hit) > 1000
    kept_idx = set((bins["start"] // 200).tolist())
    assert not kept_idx & hit
