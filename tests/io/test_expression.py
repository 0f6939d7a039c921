"""Expression readers: RSEM files, gene x sample tables, and their bad-input corpus."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

import deepcage as dc

RSEM_HEADER = [
    "gene_id",
    "transcript_id(s)",
    "length",
    "effective_length",
    "expected_count",
    "TPM",
    "FPKM",
]


def _rsem(path, rows):
    df = pd.DataFrame(rows, columns=RSEM_HEADER)
    df.to_csv(path, sep="\t", index=False)
    return path


def _rsem_rows(tpm, counts, lengths=(1000, 500, 2000, 2000)):
    ids = ["ENSG00000001.14", "ENSG00000002.3", "ENSG00000003.7", "ENSG00000003.7_PAR_Y"]
    return [
        (i, f"T{k}", length, length - 100, c, t, t * 0.8)
        for k, (i, length, c, t) in enumerate(zip(ids, lengths, counts, tpm))
    ]


SYMBOLS = {"ENSG00000001": "GATA1", "ENSG00000002": "TAL1", "ENSG00000003": "SPI1"}


# ----------------------------------------------------------------------------------------------- real data


def test_rna_counts_real(shared_data):
    with pytest.warns(UserWarning, match=r"91 gene names occur more than once"):
        rna = dc.io.read_expression_table(shared_data / "heme-hg19" / "rna_counts.tsv")
    assert rna.n_obs == 12
    assert {"CMP", "MEP", "HSC", "pDC"} <= set(rna.obs_names)
    assert rna.var_names.is_unique
    assert rna.uns["units"] == "counts"
    assert rna.X.dtype == np.float32
    # raw counts kept: the library sizes equal the column sums of the file
    raw = pd.read_csv(shared_data / "heme-hg19" / "rna_counts.tsv", sep="\t", index_col=0)
    np.testing.assert_allclose(rna.X.sum(axis=1), raw.sum(axis=0).to_numpy(), rtol=1e-6)
    dup = raw.index[raw.index.duplicated()][0]
    np.testing.assert_allclose(rna[:, dup].X.ravel(), raw.loc[[dup]].sum(axis=0).to_numpy())


def test_encode_tf_tpm_real(shared_data):
    with pytest.warns(UserWarning, match=r"86 gene names .*kept one copy of 86 whose copies are identical"):
        tpm = dc.io.read_expression_table(
            shared_data / "expression" / "encode_tf_tpm.tsv", orient="samples_by_genes"
        )
    assert tpm.shape == (55, 678)
    assert tpm.uns["units"] == "tpm"
    raw = pd.read_csv(shared_data / "expression" / "encode_tf_tpm.tsv", sep="\t", index_col=0)
    # identical duplicated columns are kept once, not tripled
    np.testing.assert_allclose(tpm[:, "AR"].X.ravel(), raw["AR"].to_numpy(), rtol=1e-6)
    assert tpm.obs_names[0] == "1"


# ----------------------------------------------------------------------------------------------- RSEM


def test_read_rsem_ids_and_symbols(tmp_path):
    path = _rsem(tmp_path / "ENCFF1.tsv", _rsem_rows([10.5, 0.0, 3.0, 1.0], [100, 0, 50, 5]))
    tpm = dc.io.read_rsem(path)
    assert tpm.index.tolist()[0] == "ENSG00000001.14"
    assert tpm.attrs["units"] == "tpm"
    with pytest.warns(UserWarning, match="SPI1"):
        counts = dc.io.read_rsem(path, column="expected_count", gene_names=SYMBOLS)
    assert counts.attrs["units"] == "counts"
    # version suffixes matched; the PAR_Y copy of SPI1 is summed into it (with a warning)
    assert counts.to_dict() == {"GATA1": 100.0, "TAL1": 0.0, "SPI1": 55.0}


def test_read_rsem_duplicate_symbols_warn(tmp_path):
    path = _rsem(tmp_path / "s.tsv", _rsem_rows([1.0, 2.0, 3.0, 4.0], [1, 2, 3, 4]))
    with pytest.warns(UserWarning, match=r"1 gene name occurs more than once .*SPI1.*summed"):
        tpm = dc.io.read_rsem(path, gene_names=SYMBOLS)
    assert tpm["SPI1"] == 7.0


def test_read_rsem_mapping_file_and_unmapped(tmp_path):
    path = _rsem(tmp_path / "s.tsv", _rsem_rows([1.0, 2.0, 3.0, 0.0], [1, 2, 3, 0]))
    mapping = tmp_path / "map.tsv"
    mapping.write_text("gene_id\tsymbol\nENSG00000001.9\tGATA1\n")  # other version: still matches
    with pytest.warns(UserWarning, match=r"3 of 4 gene ids have no symbol"):
        tpm = dc.io.read_rsem(path, gene_names=mapping)
    assert tpm["GATA1"] == 1.0 and "ENSG00000002.3" in tpm.index
    with pytest.warns(UserWarning, match="dropped 3"):
        assert dc.io.read_rsem(path, gene_names=mapping, unmapped="drop").index.tolist() == ["GATA1"]
    with pytest.raises(KeyError, match="no symbol"):
        dc.io.read_rsem(path, gene_names=mapping, unmapped="raise")


def test_read_rsem_missing_column(tmp_path):
    path = _rsem(tmp_path / "s.tsv", _rsem_rows([1.0, 2.0, 3.0, 0.0], [1, 2, 3, 0]))
    with pytest.raises(KeyError, match=r"no column 'TMP'.*available: length, effective_length"):
        dc.io.read_rsem(path, column="TMP")


def test_several_rsem_files(tmp_path):
    a = _rsem(tmp_path / "K562.genes.results", _rsem_rows([10.0, 0.0, 3.0, 0.0], [100, 0, 50, 0]))
    rows_b = _rsem_rows([20.0, 1.0, 0.0, 0.0], [80, 10, 0, 0], lengths=(1200, 500, 2000, 2000))
    b = _rsem(tmp_path / "HepG2.genes.results", rows_b[::-1])  # other gene order: realigned
    with pytest.warns(UserWarning, match=r"1 gene name occurs more than once \(e.g. SPI1\); summed"):
        adata = dc.io.read_expression_table([a, b], gene_names=SYMBOLS)
    assert adata.obs_names.tolist() == ["K562", "HepG2"]
    assert adata.var_names.tolist() == ["GATA1", "TAL1", "SPI1"]
    assert adata.uns["units"] == "tpm"
    np.testing.assert_allclose(adata.X, [[10, 0, 3], [20, 1, 0]])
    assert adata.var.loc["GATA1", "length"] == 1100.0  # mean over samples
    assert adata.var.loc["SPI1", "gene_ids"] == "ENSG00000003.7;ENSG00000003.7_PAR_Y"
    assert adata.obs["file"].str.endswith(".genes.results").all()
    named = dc.io.read_expression_table({"x": a, "y": b}, column="expected_count")
    assert named.obs_names.tolist() == ["x", "y"] and named.uns["units"] == "counts"
    assert named.n_vars == 4


def test_rsem_files_with_different_genes(tmp_path):
    a = _rsem(tmp_path / "a.tsv", _rsem_rows([1.0, 2.0, 3.0, 0.0], [1, 2, 3, 0]))
    b = _rsem(tmp_path / "b.tsv", _rsem_rows([1.0, 2.0, 3.0, 0.0], [1, 2, 3, 0])[:3])
    with pytest.raises(ValueError, match=r"b\.tsv: its genes differ from those of .*a\.tsv"):
        dc.io.read_expression_table([a, b])


# ----------------------------------------------------------------------------------------------- tables


def test_table_round_trip_csv_and_gz(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        rng.integers(0, 100, size=(6, 3)), index=[f"G{i}" for i in range(6)], columns=["s1", "s2", "s3"]
    )
    df.index.name = "gene"
    df.to_csv(tmp_path / "t.csv")
    df.to_csv(tmp_path / "t.tsv.gz", sep="\t")
    for name in ("t.csv", "t.tsv.gz"):
        adata = dc.io.read_expression_table(tmp_path / name)
        assert adata.obs_names.tolist() == ["s1", "s2", "s3"]
        np.testing.assert_array_equal(adata.X, df.T.to_numpy())
        assert adata.uns["units"] == "counts"
    # R write.table style: the header has no name for the gene column
    (tmp_path / "r.tsv").write_text("s1\ts2\nG1\t1.5\t2\nG2\t0\t3\n")
    r = dc.io.read_expression_table(tmp_path / "r.tsv")
    assert r.var_names.tolist() == ["G1", "G2"] and r.uns["units"] == "tpm"
    assert dc.io.read_expression_table(tmp_path / "r.tsv", units="fpkm").uns["units"] == "fpkm"


def test_table_gene_names_mapping(tmp_path):
    (tmp_path / "ids.tsv").write_text("id\tA\tB\nENSG00000001.2\t1\t2\nENSG00000002.1\t3\t4\n")
    adata = dc.io.read_expression_table(tmp_path / "ids.tsv", gene_names=SYMBOLS)
    assert adata.var_names.tolist() == ["GATA1", "TAL1"]
    assert adata.var["gene_ids"].tolist() == ["ENSG00000001.2", "ENSG00000002.1"]


def test_duplicated_genes_summed_with_warning(tmp_path):
    (tmp_path / "dup.tsv").write_text("gene\tA\tB\nG1\t1\t2\nG2\t3\t4\nG1\t10\t20\nG3\t0\t1\nG3\t0\t1\n")
    with pytest.warns(
        UserWarning, match=r"2 gene names occur more than once.*summed the values of 1.*kept one copy of 1"
    ):
        adata = dc.io.read_expression_table(tmp_path / "dup.tsv")
    assert adata.var_names.tolist() == ["G1", "G2", "G3"]
    np.testing.assert_array_equal(adata[:, "G1"].X.ravel(), [11, 22])
    np.testing.assert_array_equal(adata[:, "G3"].X.ravel(), [0, 1])
    with pytest.warns(UserWarning, match="summed the values of 2"):
        summed = dc.io.read_expression_table(tmp_path / "dup.tsv", duplicates="sum")
    np.testing.assert_array_equal(summed[:, "G3"].X.ravel(), [0, 2])
    with pytest.raises(ValueError, match="occur more than once"):
        dc.io.read_expression_table(tmp_path / "dup.tsv", duplicates="raise")


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("nan", r"is NaN"),
        ("NA", r"is NaN"),
        ("-3", r"is negative"),
        ("abc", r"is not a number"),
        ("", r"is empty"),
    ],
)
def test_bad_expression_values(tmp_path, value, what):
    path = tmp_path / "bad.tsv"
    path.write_text(f"gene\tHSC\tCMP\nGATA1\t1\t2\nTAL1\t3\t{value}\n")
    with pytest.raises(
        ValueError, match=rf"bad\.tsv, line 3: the value for gene 'TAL1', sample 'CMP' {what}"
    ):
        dc.io.read_expression_table(path)


def test_bad_value_samples_by_genes_and_rsem(tmp_path):
    path = tmp_path / "sbg.tsv"
    path.write_text("#cell\tGATA1\tTAL1\n1\t0.5\t2\n2\t-1\t3\n")
    with pytest.raises(
        ValueError, match=r"sbg\.tsv, line 3: the value for sample '2', gene 'GATA1' is negative"
    ):
        dc.io.read_expression_table(path, orient="samples_by_genes")
    rows = _rsem_rows([1.0, np.nan, 3.0, 0.0], [1, 2, 3, 0])
    rsem = _rsem(tmp_path / "r.tsv", rows)
    with pytest.raises(
        ValueError, match=r"r\.tsv, line 3: the value for gene 'ENSG00000002.3', column 'TPM' is"
    ):
        dc.io.read_rsem(rsem)


def test_short_line_and_all_zero_sample(tmp_path):
    path = tmp_path / "short.tsv"
    path.write_text("gene\tA\tB\nG1\t1\t2\nG2\t3\n")
    with pytest.raises(
        ValueError, match=r"short\.tsv, line 3: .*'G2', sample 'B' is missing: the line has 2 fields"
    ):
        dc.io.read_expression_table(path)
    path = tmp_path / "zero.tsv"
    path.write_text("gene\tA\tB\nG1\t1\t0\nG2\t3\t0\n")
    with pytest.raises(ValueError, match=r"zero\.tsv: sample\(s\) B have zero expression for every gene"):
        dc.io.read_expression_table(path)


def test_expression_gz_errors(tmp_path):
    text = "gene\tA\tB\n" + "".join(f"G{i}\t{i}\t{i + 1}\n" for i in range(2000))
    fake = tmp_path / "fake.tsv.gz"
    fake.write_text(text)
    with pytest.raises(ValueError, match=r"fake\.tsv\.gz: has a \.gz suffix but is not gzip"):
        dc.io.read_expression_table(fake)
    data = gzip.compress(text.encode())
    cut = tmp_path / "cut.tsv.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.tsv\.gz: the gzip stream is truncated"):
        dc.io.read_expression_table(cut)


def test_duplicated_sample_names(tmp_path):
    path = tmp_path / "s.tsv"
    path.write_text("gene\tA\tA\nG1\t1\t2\n")
    with pytest.raises(ValueError, match="sample name 'A' occurs more than once"):
        dc.io.read_expression_table(path)
