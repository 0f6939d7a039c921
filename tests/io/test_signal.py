"""BAM read counting (pysam) and bigWig read/write (pyBigWig) on tiny files built in tmp_path."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pyBigWig
import pysam
import pytest

import deepcage as dc

READ_LEN = 50
CONTIGS = {"chr1": 200_000, "chr2": 60_000}


def _make_reads(seed=0, n=3000):
    rng = np.random.default_rng(seed)
    contig = rng.integers(0, 2, n)
    start = rng.integers(0, 50_000, n)
    reverse = rng.integers(0, 2, n).astype(bool)
    mapq = rng.integers(0, 61, n)
    flag = np.where(reverse, 16, 0)
    flag[rng.random(n) < 0.05] |= 0x400  # some duplicates
    # a few reads far away on chr1 (a second fetch cluster)
    n_far = min(100, n // 10)
    start[:n_far] = rng.integers(150_000, 150_500, n_far)
    contig[:n_far] = 0
    return pd.DataFrame({"contig": contig, "start": start, "reverse": reverse, "mapq": mapq, "flag": flag})


def _write_bam(path, reads, *, index=True):
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": c, "LN": n} for c, n in CONTIGS.items()]}
    reads = reads.sort_values(["contig", "start"])
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for k, r in enumerate(reads.itertuples()):
            a = pysam.AlignedSegment()
            a.query_name = f"r{k}"
            a.query_sequence = "A" * READ_LEN
            a.flag = int(r.flag)
            a.reference_id = int(r.contig)
            a.reference_start = int(r.start)
            a.mapping_quality = int(r.mapq)
            a.cigar = ((0, READ_LEN),)
            a.query_qualities = pysam.qualitystring_to_array("I" * READ_LEN)
            out.write(a)
    if index:
        pysam.index(str(path))
    return path


@pytest.fixture(scope="module")
def bam(tmp_path_factory):
    reads = _make_reads()
    path = _write_bam(tmp_path_factory.mktemp("bam") / "reads.bam", reads)
    return path, reads


def _naive(reads, contig, starts, ends, *, min_mapq=0, position="5prime", exclude=0xF04):
    keep = (reads["contig"] == contig) & (reads["mapq"] >= min_mapq) & ((reads["flag"] & exclude) == 0)
    r = reads[keep]
    if position == "5prime":
        pos = np.where(r["reverse"], r["start"] + READ_LEN - 1, r["start"])
    else:
        pos = (2 * r["start"] + READ_LEN - 1) // 2
    pos = np.asarray(pos)
    return np.array([((pos >= s) & (pos < e)).sum() for s, e in zip(starts, ends)])


def test_count_bam_matches_naive(bam):
    path, reads = bam
    starts = np.r_[np.arange(0, 50_000, 200), 150_000, 150_200]
    ends = starts + 200
    counts = dc.io.count_bam(path, "chr1", starts, ends)
    assert counts.dtype == np.int64 and counts.shape == starts.shape
    np.testing.assert_array_equal(counts, _naive(reads, 0, starts, ends))
    assert counts[-2:].sum() > 0  # the far cluster was fetched too
    q30 = dc.io.count_bam(path, "chr1", starts, ends, min_mapq=30)
    np.testing.assert_array_equal(q30, _naive(reads, 0, starts, ends, min_mapq=30))
    assert q30.sum() < counts.sum()
    with_dups = dc.io.count_bam(path, "chr1", starts, ends, exclude_flags=0)
    np.testing.assert_array_equal(with_dups, _naive(reads, 0, starts, ends, exclude=0))


def test_count_bam_midpoint_overlaps_and_alias(bam):
    path, reads = bam
    starts = np.array([0, 100, 1000, 0])
    ends = np.array([1000, 1100, 30_000, 60_000])  # overlapping intervals each count their reads
    mid = dc.io.count_bam(path, ["2"] * 4, starts, ends, position="midpoint")  # '2' -> 'chr2'
    np.testing.assert_array_equal(mid, _naive(reads, 1, starts, ends, position="midpoint"))
    assert mid[3] == ((reads["contig"] == 1) & ((reads["flag"] & 0xF04) == 0)).sum()
    scalar = dc.io.count_bam(path, "chr2", 0, 60_000, position="midpoint")
    assert scalar.tolist() == [mid[3]]


def test_count_bam_missing_index(tmp_path):
    path = _write_bam(tmp_path / "noindex.bam", _make_reads(n=50), index=False)
    with pytest.raises(
        ValueError, match=r"noindex\.bam: the BAM file has no index.*samtools index.*pysam\.index"
    ):
        dc.io.count_bam(path, "chr1", 0, 100)


def test_count_bam_unknown_contig(bam):
    path, _ = bam
    with pytest.raises(
        KeyError, match=r"Contig 'chrX' is not in BAM file .*Its contigs are: chr1, chr2.*'chr1' vs '1'"
    ):
        dc.io.count_bam(path, "chrX", 0, 100)
    with pytest.raises(ValueError, match="need 0 <= start <= end"):
        dc.io.count_bam(path, "chr1", 100, 50)


def _loci_adata():
    chrom = np.array(["chr2"] * 4 + ["chr1"] * 5)
    start = np.r_[np.arange(4) * 200, np.arange(5) * 200 + 1000]
    end = start + 200
    names = [f"{c}:{s}-{e}" for c, s, e in zip(chrom, start, end)]
    rng = np.random.default_rng(1)
    X = rng.random((3, 9)).astype(np.float32)
    adata = ad.AnnData(
        X=(X > 0.5).astype(np.float32),
        obs=pd.DataFrame(index=["HSC", "CMP", "MEP/x"]),
        var=pd.DataFrame({"chrom": chrom, "start": start, "end": end}, index=names),
    )
    adata.layers["deepcage"] = X
    adata.uns["deepcage"] = {"genome": {"name": "toy", "chrom_sizes": {"1": 5000, "2": 3000}}}
    return adata


def test_bigwig_round_trip(tmp_path):
    adata = _loci_adata()
    out = dc.write_bigwig(adata, tmp_path / "cmp.bw", sample="CMP")
    assert out == tmp_path / "cmp.bw"
    with pyBigWig.open(str(out)) as bw:
        # loci names 'chr1' kept; sizes found through the '1' alias; contigs in chrom_sizes order
        assert bw.chroms() == {"chr1": 5000, "chr2": 3000}
        assert len(bw.intervals("chr1")) == 5
    loci = adata.var
    values = dc.io.read_bigwig(out, loci["chrom"], loci["start"], loci["end"])
    np.testing.assert_allclose(values, adata.layers["deepcage"][1], rtol=1e-6)
    # aliases on reading, and stats over several bins
    max2 = dc.io.read_bigwig(out, "2", 0, 800, stat="max")
    np.testing.assert_allclose(max2, adata.layers["deepcage"][1, :4].max(), rtol=1e-6)
    mean0 = dc.io.read_bigwig(out, "chr1", 1000, 3000, stat="mean0")
    np.testing.assert_allclose(mean0, adata.layers["deepcage"][1, 4:].sum() * 200 / 2000, rtol=1e-6)
    cov = dc.io.read_bigwig(out, "chr1", [0, 1000], [2000, 1200], stat="coverage")
    np.testing.assert_allclose(cov, [0.5, 1.0])
    # no data: 'missing' (0 by default, NaN on request)
    assert dc.io.read_bigwig(out, "chr1", 4000, 4500).tolist() == [0.0]
    assert np.isnan(dc.io.read_bigwig(out, "chr1", 4000, 4500, missing=np.nan)).all()


def test_bigwig_stats_agree_with_pybigwig(tmp_path):
    adata = _loci_adata()
    out = dc.write_bigwig(adata, tmp_path / "hsc.bw", sample=0, layer="deepcage")
    starts = np.array([900, 1000, 1050, 1100, 0, 2500])
    ends = np.array([1300, 1200, 1450, 1200, 5000, 4000])  # overlapping, partially covered
    with pyBigWig.open(str(out)) as bw:
        for stat in ("mean", "max", "min", "sum"):
            ours = dc.io.read_bigwig(out, "chr1", starts, ends, stat=stat, missing=np.nan)
            ref = [bw.stats("chr1", int(s), int(e), type=stat, exact=True)[0] for s, e in zip(starts, ends)]
            ref = np.array([np.nan if r is None else r for r in ref])
            np.testing.assert_allclose(ours, ref, rtol=1e-5, equal_nan=True, err_msg=stat)


def test_write_bigwig_directory_and_array(tmp_path, hg19_genome):
    adata = _loci_adata()
    paths = dc.write_bigwig(adata, tmp_path / "tracks", chrom_sizes={"chr1": 5000, "chr2": 3000})
    assert sorted(p.name for p in paths) == ["CMP.bw", "HSC.bw", "MEP_x.bw"]
    for i, p in enumerate(paths):
        got = dc.io.read_bigwig(p, adata.var["chrom"], adata.var["start"], adata.var["end"])
        np.testing.assert_allclose(got, adata.layers["deepcage"][i], rtol=1e-6)
    # a MuData gives its 'atac' modality
    import mudata

    with mudata.set_options(pull_on_update=False):
        mdata = mudata.MuData({"atac": adata[:1].copy()})
    single = dc.write_bigwig(mdata, tmp_path / "tracks")  # one sample + a directory -> <dir>/<sample>.bw
    assert single == tmp_path / "tracks" / "HSC.bw"
    # array input with locus names; sizes from a Genome ('20' in the FASTA, 'chr20' in the loci)
    loci = ["chr20:10000000-10000200", "chr20:10000200-10000400"]
    out = dc.write_bigwig(
        np.array([1.5, 2.5]), tmp_path / "arr.bw", loci=loci, layer=None, genome=hg19_genome
    )
    with pyBigWig.open(str(out)) as bw:
        assert bw.chroms() == {"chr20": 63_025_520}
    np.testing.assert_allclose(dc.io.read_bigwig(out, "chr20", [10_000_000], [10_000_400]), [2.0])


def test_write_bigwig_errors(tmp_path):
    adata = _loci_adata()
    with pytest.raises(ValueError, match=r"3 samples but .*one\.bw is a single file: pass sample="):
        dc.write_bigwig(adata, tmp_path / "one.bw")
    with pytest.raises(KeyError, match="Layer 'pred' not found"):
        dc.write_bigwig(adata, tmp_path / "x.bw", sample="HSC", layer="pred")
    del adata.uns["deepcage"]
    with pytest.raises(ValueError, match="Contig sizes are needed"):
        dc.write_bigwig(adata, tmp_path / "x.bw", sample="HSC")
    with pytest.raises(ValueError, match="extends past the end of the contig"):
        dc.write_bigwig(adata, tmp_path / "x.bw", sample="HSC", chrom_sizes={"chr1": 1500, "chr2": 3000})
    loci = ["chr1:0-200", "chr1:100-300"]
    with pytest.raises(ValueError, match="overlap"):
        dc.write_bigwig(np.ones(2), tmp_path / "o.bw", loci=loci, chrom_sizes={"chr1": 1000})
    with pytest.raises(ValueError, match="non-finite"):
        dc.write_bigwig(
            np.array([1.0, np.nan]), tmp_path / "n.bw", loci=["chr1:0-1", "chr1:1-2"], chrom_sizes={"chr1": 9}
        )


def test_read_bigwig_unknown_contig(tmp_path):
    path = tmp_path / "b37.bw"
    with pyBigWig.open(str(path), "w") as bw:
        bw.addHeader([("20", 1000), ("21", 500)])
        bw.addEntries(["20"], [0], ends=[100], values=[1.0])
    assert dc.io.read_bigwig(path, "chr20", 0, 100).tolist() == [1.0]  # chr20 -> 20
    with pytest.raises(
        KeyError, match=r"Contig 'chr22' is not in bigWig file .*contigs are: 20, 21.*'chr1' vs '1'"
    ):
        dc.io.read_bigwig(path, "chr22", 0, 100)
