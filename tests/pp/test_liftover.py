"""dc.pp.liftover: every drop reason on a hand-made chain, AnnData/MuData in place, real hg19 -> hg38 sequence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import deepcage as dc
from deepcage._utils import make_mudata, parse_locus_names

# Source assembly 'asmA' (contigs chrA 10 kb, chrB 2 kb) -> target 'asmB' (chr1, chr2, 10 kb each).
#   chain 1: chrA 0-5000 -> chr1, with 100 bp inserted in the target after 1,000 and 50 bp of chrA
#            (3,000-3,050) deleted from it;
#   chain 2: chrA 5000-6000 -> chr2 0-1000;
#   chain 3: chrA 6000-7000 -> chr2, reverse strand (an inversion: chr2 7,000-8,000);
#   chain 4: chrB 0-1000 -> chr1 0-1000 (the same target as chrA 0-1000: a collapsed duplication).
CHAIN = """\
chain 1000 chrA 10000 + 0 5000 chr1 10000 + 0 5050 1
1000\t0\t100
2000\t50\t0
1950

chain 900 chrA 10000 + 5000 6000 chr2 10000 + 0 1000 2
1000

chain 800 chrA 10000 + 6000 7000 chr2 10000 - 2000 3000 3
1000

chain 700 chrB 2000 + 0 1000 chr1 10000 + 0 1000 4
1000

"""

# interval -> why it is dropped ('' = lifted), with duplicates="drop"
CASES = {
    ("chrA", 100, 300): "duplicate",  # chrB:100-300 lands on the same chr1:100-300
    ("chrB", 100, 300): "duplicate",
    ("chrA", 400, 600): "",
    ("chrA", 900, 1100): "length",  # spans the 100-bp insertion: 300 bp in the target
    ("chrA", 2990, 3010): "unmapped",  # its last base is in the deleted 3,000-3,050
    ("chrA", 7500, 7600): "unmapped",  # no chain covers it
    ("chrA", 4900, 5100): "contig",  # chain 1 (chr1) and chain 2 (chr2)
    ("chrA", 5900, 6100): "strand",  # chain 2 (+) and chain 3 (-), both on chr2
    ("chrA", 6200, 6400): "",  # inside the inversion: kept, reverse strand
    ("chrZ", 0, 100): "unknown_contig",
}


@pytest.fixture
def chain(tmp_path):
    path = tmp_path / "asmAToAsmB.over.chain"
    path.write_text(CHAIN)
    return path


def _table() -> pd.DataFrame:
    rows = list(CASES)
    return pd.DataFrame(
        {
            "chrom": [r[0] for r in rows],
            "start": [r[1] for r in rows],
            "end": [r[2] for r in rows],
            "strand": "+",
            "summit": 50,
        }
    )


def test_every_drop_reason_is_counted_and_kept_intervals_are_right(chain):
    out = dc.pp.liftover(_table(), chain, progress=False)
    report = out.attrs["liftover"]
    expected = pd.Series([r for r in CASES.values() if r]).value_counts().to_dict()
    assert {k: v for k, v in report["dropped"].items() if v} == expected
    assert set(report["dropped"]) == set(dc.pp._liftover.DROP_REASONS)
    assert report["n_input"] == len(CASES) and report["n_lifted"] == 2 and report["n_inverted"] == 1
    assert (report["source_genome"], report["target_genome"]) == ("asmA", "asmB")

    got = out.set_index("lifted_from")
    assert got.loc["chrA:400-600", ["chrom", "start", "end", "strand", "summit"]].tolist() == [
        "chr1",
        400,
        600,
        "+",
        50,
    ]
    # chrA 6,000 -> chr2 7,999 and chrA 6,999 -> chr2 7,000 (reverse strand)
    inv = got.loc["chrA:6200-6400"]
    assert (inv["chrom"], inv["start"], inv["end"], inv["strand"]) == ("chr2", 7600, 7800, "-")
    assert inv["summit"] == 149  # the summit at chrA 6,250 -> chr2 7,749, now 149 bp from the new start
    assert out.attrs["genome"]["name"] == "asmB"


def test_length_tolerance_and_duplicate_policies(chain):
    tolerant = dc.pp.liftover(_table(), chain, max_length_change=0.6, progress=False)
    assert "chrA:900-1100" in set(tolerant["lifted_from"])
    assert tolerant.attrs["liftover"]["dropped"]["length"] == 0

    first = dc.pp.liftover(_table(), chain, duplicates="first", progress=False)
    assert "chrA:100-300" in set(first["lifted_from"]) and "chrB:100-300" not in set(first["lifted_from"])
    assert first.attrs["liftover"]["dropped"]["duplicate"] == 1
    keep = dc.pp.liftover(_table(), chain, duplicates="keep", progress=False)
    assert {"chrA:100-300", "chrB:100-300"} <= set(keep["lifted_from"])

    # a narrowPeak file lists one row per summit: repeated rows of one peak are not duplicates
    repeated = pd.concat([_table().iloc[[2]]] * 3, ignore_index=True)
    assert len(dc.pp.liftover(repeated, chain, progress=False)) == 3


def test_outside_the_target_genome(chain, tmp_path):
    fasta = tmp_path / "asmB.fa"
    fasta.write_text(">chr1\n" + "ACGT" * 2500 + "\n")  # chr2 is not in this genome
    genome = dc.Genome(fasta, name="asmB")
    out = dc.pp.liftover(_table(), chain, target_genome=genome, progress=False)
    assert out.attrs["liftover"]["dropped"]["outside_genome"] == 1  # the inverted interval on chr2
    assert list(out["lifted_from"]) == ["chrA:400-600"]
    assert out.attrs["genome"]["fasta"] == [str(fasta)]


def _adata() -> AnnData:
    rows = list(CASES)
    names = [f"{c}:{s}-{e}" for c, s, e in rows]
    var = pd.DataFrame(
        {"chrom": [r[0] for r in rows], "start": [r[1] for r in rows], "end": [r[2] for r in rows]}
    )
    var.index = names
    adata = AnnData(np.arange(2 * len(rows), dtype=np.float32).reshape(2, -1), var=var)
    adata.obs_names = ["s1", "s2"]
    adata.layers["binary"] = (adata.X > 5).astype(np.uint8)
    adata.varm["motif_scores"] = pd.DataFrame({"TF1": np.arange(len(rows), dtype=float)}, index=names)
    adata.uns["deepcage"] = {"genome": {"name": "asmA", "fasta": [], "chrom_sizes": {}}}
    return adata


def test_anndata_in_place_and_copy(chain):
    adata = _adata()
    x_before = pd.DataFrame(adata.X, columns=adata.var_names)
    lifted = dc.pp.liftover(adata, chain, copy=True, progress=False)
    assert adata.n_vars == len(CASES)  # copy=True leaves the input alone
    assert dc.pp.liftover(adata, chain, progress=False) is None
    for a in (adata, lifted):
        assert list(a.var_names) == ["chr1:400-600", "chr2:7600-7800"]
        assert list(a.var["lifted_from"]) == ["chrA:400-600", "chrA:6200-6400"]
        assert a.var[["start", "end"]].to_numpy().tolist() == [[400, 600], [7600, 7800]]
        np.testing.assert_array_equal(a.X, x_before[list(a.var["lifted_from"])].to_numpy())
        assert list(a.varm["motif_scores"].index) == list(a.var_names)
        assert a.varm["motif_scores"]["TF1"].tolist() == [2.0, 8.0]  # rows travel with their loci
        rec = a.uns["deepcage"]
        assert rec["genome"]["name"] == "asmB"
        assert rec["liftover"]["n_lifted"] == 2 and rec["liftover"]["dropped"]["duplicate"] == 2
    with pytest.raises(ValueError, match="duplicated locus names"):
        dc.pp.liftover(_adata(), chain, duplicates="keep")


def test_mudata_lifts_the_atac_modality(chain):
    atac = _adata()
    rna = AnnData(np.ones((2, 3), dtype=np.float32))
    rna.obs_names = atac.obs_names
    mdata = make_mudata({"atac": atac, "rna": rna})
    dc.pp.liftover(mdata, chain, progress=False)
    assert mdata["atac"].n_vars == 2 and mdata.n_vars == 2 + 3
    assert mdata["atac"].uns["deepcage"]["genome"]["name"] == "asmB"


def test_wrong_assembly_is_a_clear_error(chain):
    adata = _adata()
    adata.uns["deepcage"]["genome"]["name"] = "asmC"
    with pytest.raises(ValueError, match=r"data are on 'asmC' but the chain .* lifts from 'asmA'"):
        dc.pp.liftover(adata, chain)
    # nothing maps: chr20 loci with a chain for another assembly
    loci = pd.DataFrame({"chrom": ["chr20", "chr20"], "start": [0, 500], "end": [200, 700]})
    with pytest.raises(ValueError, match=r"No interval .* lifts over .*unknown_contig 2.*chr20.*chrA"):
        dc.pp.liftover(loci, chain)
    with pytest.raises(FileNotFoundError, match="Chain file not found"):
        dc.pp.liftover(loci, "no/such.chain")


# ----------------------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def hg38_genome(shared_data):
    return dc.Genome(shared_data / "genome" / "hg38_chr20_chr21_1-10Mb.fa.gz", name="hg38")


def test_lifted_hg19_bins_carry_the_same_sequence_on_hg38(shared_data, hg19_genome, hg38_genome):
    chain = shared_data / "annotation" / "hg19ToHg38.over.chain.gz"
    bins = dc.pp.bin_genome(
        hg19_genome, chroms=["chr20"]
    )  # 11,325 bins; the first 1 Mb lies in the hg38 file
    out = dc.pp.liftover(bins, chain, target_genome=hg38_genome, progress=False)
    report = out.attrs["liftover"]
    assert report["n_input"] == 11_325
    # the 9.995-11.095 and 59.8-60.0 Mb slices land beyond the 10 Mb of the hg38 file; nothing else is lost
    assert report["n_lifted"] == 4_700 and report["dropped"]["outside_genome"] == 6_625
    assert report["n_dropped"] == report["dropped"]["outside_genome"]
    assert out.index[0] == "chr20:79359-79559" and out["lifted_from"].iloc[0] == "chr20:60000-60200"

    src = parse_locus_names(out["lifted_from"])
    old = hg19_genome.windows(src["chrom"], (src["start"] + src["end"]) // 2, 1000)
    new = hg38_genome.windows(out["chrom"], (out["start"] + out["end"]) // 2, 1000)
    mismatches = (old != new).sum(axis=1)
    same_length = (out["end"] - out["start"]).to_numpy() == 200
    # GRCh38 changed a handful of single bases and two small indels here; every other 1-kb window is identical
    assert (mismatches == 0).mean() > 0.99
    fetch = lambda g, t: np.stack([g.fetch_codes(c, a, b) for c, a, b in t.itertuples(index=False)])  # noqa: E731
    diff = (
        fetch(hg19_genome, src[same_length])
        != fetch(hg38_genome, out.loc[same_length, ["chrom", "start", "end"]])
    ).sum(axis=1)
    assert (diff == 0).sum() >= 4_690 and diff.max() <= 1  # identical bins, or one corrected base

    # the spot check: 200 random lifted windows (0.7 % of all differ; with this seed 3 of the 200 do, near
    # GRCh38's corrections), and the check has power: the same windows one base off differ in most of their bases
    pick = np.random.default_rng(0).choice(len(out), 200, replace=False)
    assert (mismatches[pick] == 0).sum() >= 197
    shifted = hg38_genome.windows(
        out["chrom"].iloc[pick], (out["start"] + out["end"]).iloc[pick] // 2 + 1, 1000
    )
    assert ((old[pick] != shifted).sum(axis=1) > 100).all()


def test_narrowpeak_file_lifts_with_its_summits(shared_data, hg19_genome, hg38_genome):
    chain = shared_data / "annotation" / "hg19ToHg38.over.chain.gz"
    path = shared_data / "heme-hg19" / "peaks" / "CD8.narrowPeak.gz"
    peaks = dc.pp.liftover(path, chain, progress=False)
    raw = dc.read_narrowpeak(path)
    assert peaks.attrs["liftover"]["n_input"] == len(raw) == 2_662
    assert peaks.attrs["liftover"]["n_lifted"] == len(peaks) == 2_662  # chr20 lifts cleanly
    assert list(peaks.columns[:10]) == list(raw.columns)
    assert (peaks["summit"] < peaks["end"] - peaks["start"]).all()
    assert (
        peaks["lifted_from"] == raw["chrom"] + ":" + raw["start"].astype(str) + "-" + raw["end"].astype(str)
    ).all()
    # peaks in the first Mb (sequence in both files): the 21 bp around each summit are the same bases
    near = np.flatnonzero((raw["end"] < 1_000_000).to_numpy())
    assert len(near) > 20
    for i in near:
        at = raw["start"].iloc[i] + raw["summit"].iloc[i]
        to = peaks["start"].iloc[i] + peaks["summit"].iloc[i]
        assert hg38_genome.fetch("chr20", to - 10, to + 11) == hg19_genome.fetch("chr20", at - 10, at + 11)
