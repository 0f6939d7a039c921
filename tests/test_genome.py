import numpy as np
import pytest

import deepcage as dc


def test_fetch_pads_with_n_and_aliases(tmp_path, write_fasta):
    fa = tmp_path / "g.fa"
    write_fasta(fa, {"1": "ACGTacgtNN" * 3, "MT": "ACGT"})
    g = dc.Genome(fa, name="toy")
    assert g.chrom_sizes == {"1": 30, "MT": 4}
    assert g.resolve("chr1") == "1" and g.resolve("chrM") == "MT"
    assert g.fetch("chr1", 0, 4) == "ACGT"
    assert g.fetch("1", 4, 8) == "ACGT"  # soft-masked bases are sequence
    assert g.fetch("1", 28, 33) == "NNNNN"
    assert g.fetch("1", -2, 2) == "NNAC"
    with pytest.raises(KeyError, match="chr2.*Available contigs"):
        g.fetch("chr2", 0, 1)


def test_windows_match_fetch(tmp_path, write_fasta):
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 500))
    fa = tmp_path / "g.fa"
    write_fasta(fa, {"chr1": seq})
    g = dc.Genome(fa)
    centers = np.array([0, 100, 499])
    w = g.windows(["chr1"] * 3, centers, 20)
    for row, c in zip(w, centers):
        assert "".join("ACGTN"[x] for x in row) == g.fetch("chr1", c - 10, c + 10)


def test_patchwork_fills_n_gaps(tmp_path, write_fasta):
    a, b = tmp_path / "a.fa", tmp_path / "b.fa"
    write_fasta(a, {"chr1": "ACGT" + "N" * 6})
    write_fasta(b, {"1": "NNNN" + "GGCCTT"})
    g = dc.Genome([a, b])
    assert g.fetch("1", 0, 10) == "ACGTGGCCTT"


def test_length_mismatch_between_files(tmp_path, write_fasta):
    a, b = tmp_path / "a.fa", tmp_path / "b.fa"
    write_fasta(a, {"chr1": "ACGT"})
    write_fasta(b, {"1": "ACGTA"})
    with pytest.raises(ValueError, match="not the same assembly"):
        dc.Genome([a, b])


def test_plain_gzip_fasta_is_rejected_with_hint(tmp_path):
    import gzip

    path = tmp_path / "g.fa.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(">chr1\nACGT\n")
    with pytest.raises(ValueError, match="bgzip"):
        dc.Genome(path)


def test_real_hg19_b37_patchwork(hg19_genome):
    g = hg19_genome
    assert g.chrom_sizes == {"chr20": 63_025_520}
    # b37 names the contig '20': its bases fill 60,000-1,000,000; the hg19 file fills 9.995-11.095 Mb
    assert g.fetch("chr20", 500_000, 500_010).count("N") == 0
    assert g.fetch("20", 10_000_000, 10_000_010).count("N") == 0
    assert set(g.fetch("chr20", 2_000_000, 2_000_100)) == {"N"}
    assert int((g.codes("chr20") != 4).sum()) == 2_265_000


def test_genome_record_survives_h5ad_roundtrip(tmp_path, write_fasta):
    import anndata

    from deepcage._utils import resolve_genome

    fa = tmp_path / "g.fa"
    write_fasta(fa, {"chr1": "ACGT" * 50})
    adata = anndata.AnnData(np.zeros((1, 1), np.float32))
    resolve_genome(adata, dc.Genome(fa, name="toy"))
    adata.write_h5ad(tmp_path / "a.h5ad")
    back = anndata.read_h5ad(tmp_path / "a.h5ad")  # lists come back as numpy arrays
    g = resolve_genome(back)
    assert g.name == "toy" and g.fetch("chr1", 0, 4) == "ACGT"
