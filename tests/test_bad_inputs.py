"""Bad-input corpus: every kind of broken or awkward input, end to end through the public API.

Each case builds tiny files in ``tmp_path`` and checks that deepcage either accepts the input as documented
or stops with a clear, specific exception (type + a message naming the file / line / value and what to do),
raised by deepcage itself rather than a library deep below it, or a documented warning; never a hang or a
NaN in the outputs. Unit tests of the individual readers live in ``tests/io`` and ``tests/pp``; this file
exercises the same failure modes through ``dc.io``, ``dc.pp``, ``dc.Genome`` and ``dc.tl``.

Cases marked ``xfail(strict=True)`` document a poor error that is still to be fixed (the reason names the
fix); once fixed they XPASS and fail, so the marker must then be removed.
"""

from __future__ import annotations

import gzip
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import deepcage as dc

PKG_DIR = Path(dc.__file__).resolve().parent


# ------------------------------------------------------------------------------------------------ helpers
def _raised_by_deepcage(excinfo) -> bool:
    """The exception was raised deliberately by deepcage code (its last frame is in the package)."""
    return Path(str(excinfo.traceback[-1].path)).resolve().is_relative_to(PKG_DIR)


def _write(path: Path, lines: list[str], *, gz: bool = False, newline_at_end: bool = True) -> Path:
    text = "\n".join(lines) + ("\n" if newline_at_end else "")
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def _np_line(chrom: str, start: int, end: int, i: int = 0) -> str:
    """A valid 10-column narrowPeak line."""
    return f"{chrom}\t{start}\t{end}\tpeak{i}\t100\t.\t5.0\t10.0\t8.0\t{(end - start) // 2}"


def _bins(n: int = 5, chrom: str = "chr20", size: int = 200) -> pd.DataFrame:
    start = np.arange(n, dtype=np.int64) * size
    return pd.DataFrame({"chrom": chrom, "start": start, "end": start + size})


def _fasta(path: Path, contigs: dict[str, str], width: int = 60) -> Path:
    with open(path, "w") as fh:
        for name, seq in contigs.items():
            fh.write(f">{name}\n")
            for i in range(0, len(seq), width):
                fh.write(seq[i : i + width] + "\n")
    return path


def _bgzip_fasta(path: Path, contigs: dict[str, str], width: int = 60) -> Path:
    from Bio import bgzf

    with bgzf.BgzfWriter(str(path), "wb") as fh:
        for name, seq in contigs.items():
            fh.write(f">{name}\n" + "\n".join(seq[i : i + width] for i in range(0, len(seq), width)) + "\n")
    return path


def _random_seq(n: int, seed: int = 0) -> str:
    return "".join(np.random.default_rng(seed).choice(list("ACGT"), n))


# ------------------------------------------------------------------------------------------------ peaks
def test_narrowpeak_with_wrong_column_count_names_file_and_line(tmp_path):
    f = _write(tmp_path / "cd4.narrowPeak", [_np_line("chr20", 0, 300), "chr20\t400\t700\tpeak1\t100\t."])
    with pytest.raises(ValueError, match=r"cd4\.narrowPeak, line 2: expected exactly 10 .* got 6") as exc:
        dc.read_narrowpeak(f)
    assert _raised_by_deepcage(exc)
    # binarize_peaks needs only chrom/start/end (BED3+), so the same file still labels bins
    ad = dc.pp.binarize_peaks(_bins(), {"CD4": f}, min_samples=0)
    assert ad.layers["binary"][0].tolist() == [1, 1, 1, 1, 0]  # >= 50 % of each of the first four bins


def test_truncated_narrowpeak_names_file_line_and_truncation(tmp_path):
    lines = [_np_line("chr20", 0, 300, 0), _np_line("chr20", 400, 700, 1), "chr20\t900"]
    f = _write(tmp_path / "hsc.narrowPeak", lines, newline_at_end=False)  # download cut mid-line
    for call in (lambda: dc.read_narrowpeak(f), lambda: dc.pp.binarize_peaks(_bins(), {"HSC": f})):
        with pytest.raises(ValueError, match=r"hsc\.narrowPeak, line 3: .*got 2.*truncated") as exc:
            call()
        assert _raised_by_deepcage(exc)


def test_truncated_gzip_narrowpeak(tmp_path):
    full = _write(
        tmp_path / "full.narrowPeak.gz",
        [_np_line("chr20", i * 1000, i * 1000 + 300, i) for i in range(3000)],
        gz=True,
    )
    cut = tmp_path / "cut.narrowPeak.gz"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(
        ValueError, match=r"cut\.narrowPeak\.gz: the gzip stream is truncated or corrupt after line \d+"
    ) as exc:
        dc.pp.binarize_peaks(_bins(), {"HSC": cut})
    assert _raised_by_deepcage(exc)


def test_peak_with_end_before_start_names_line(tmp_path):
    f = _write(tmp_path / "p.bed", ["chr20\t0\t300", "chr20\t700\t400"])
    with pytest.raises(ValueError, match=r"p\.bed, line 2: invalid interval chr20:700-400"):
        dc.pp.binarize_peaks(_bins(), {"a": f})


def test_bed_with_header_lines_is_accepted(tmp_path):
    body = ["chr20\t0\t300", "chr20\t600\t800"]
    plain = _write(tmp_path / "plain.bed", body)
    headed = _write(
        tmp_path / "headed.bed",
        [
            'track name="peaks" description="CD4"',
            "browser position chr20:1-1000",
            "# comment",
            "chrom\tstart\tend",
        ]
        + body,
    )
    a = dc.pp.binarize_peaks(_bins(), {"x": plain}, min_samples=0).layers["binary"]
    b = dc.pp.binarize_peaks(_bins(), {"x": headed}, min_samples=0).layers["binary"]
    np.testing.assert_array_equal(a, b)
    assert a[0].tolist() == [1, 1, 0, 1, 0]


def test_header_line_in_the_middle_is_an_error_naming_the_line(tmp_path):
    f = _write(tmp_path / "mid.bed", ["chr20\t0\t300", "chrom\tstart\tend", "chr20\t600\t800"])
    with pytest.raises(ValueError, match=r"mid\.bed, line 2: start/end must be integers.*prefix it with '#'"):
        dc.pp.binarize_peaks(_bins(), {"a": f})


def test_gz_suffix_on_a_plain_text_peak_file(tmp_path):
    f = _write(tmp_path / "peaks.bed.gz", ["chr20\t0\t300"])  # not compressed
    with pytest.raises(
        ValueError, match=r"peaks\.bed\.gz: has a \.gz suffix but is not gzip-compressed"
    ) as exc:
        dc.pp.binarize_peaks(_bins(), {"a": f})
    assert _raised_by_deepcage(exc)


def test_gz_suffix_on_a_plain_text_blacklist(tmp_path):
    genome = dc.Genome(_fasta(tmp_path / "g.fa", {"chr1": _random_seq(2000)}))
    bl = _write(tmp_path / "blacklist.bed.gz", ["chr1\t0\t100"])
    with pytest.raises(ValueError, match=r"blacklist\.bed\.gz: has a \.gz suffix but is not gzip"):
        dc.pp.bin_genome(genome, blacklist=bl)


def test_binary_file_given_as_peaks(tmp_path):
    f = tmp_path / "peaks.bed"
    f.write_bytes(bytes(range(128, 256)) * 4)
    with pytest.raises(ValueError, match=r"peaks\.bed, line 1: not a text file"):
        dc.pp.binarize_peaks(_bins(), {"a": f})


def test_peaks_overlapping_no_bin(tmp_path):
    far = _write(tmp_path / "far.bed", ["chr20\t50000\t50300"])
    with pytest.raises(ValueError, match=r"No bin is covered by peaks in >= 1 sample.*among 5 bins") as exc:
        dc.pp.binarize_peaks(_bins(), {"a": far})
    assert _raised_by_deepcage(exc)
    # keeping every bin (min_samples=0) is allowed: an all-zero row, no NaN
    ad = dc.pp.binarize_peaks(_bins(), {"a": far}, min_samples=0)
    assert ad.layers["binary"].sum() == 0 and np.isfinite(ad.X).all()


def test_empty_peak_file_alone(tmp_path):
    empty = _write(tmp_path / "empty.narrowPeak", [], newline_at_end=False)
    with pytest.raises(ValueError, match="No contig of the peak files matches"):
        dc.pp.binarize_peaks(_bins(), {"a": empty})


def test_sample_without_any_positive_bin_warns(tmp_path):
    empty = _write(tmp_path / "empty.narrowPeak", [], newline_at_end=False)
    ok = _write(tmp_path / "ok.bed", ["chr20\t0\t400"])
    with pytest.warns(UserWarning, match="empty"):
        ad = dc.pp.binarize_peaks(_bins(), {"a": empty, "b": ok}, min_samples=0)
    assert ad.layers["binary"][0].sum() == 0


# ------------------------------------------------------------------------------------------------ FASTA
def test_fasta_lowercase_is_sequence_and_iupac_is_n(tmp_path):
    seq = "acgtNNRYKMSWacgtACGT" + "ACGT" * 45  # soft-masked bases, N, IUPAC codes
    genome = dc.Genome(_fasta(tmp_path / "g.fa", {"chr1": seq}), name="toy")
    assert genome.fetch("chr1", 0, 20) == "ACGTNNNNNNNNACGTACGT"
    codes = genome.windows(["chr1"], [10], 20)
    onehot = dc.pp.one_hot(codes)
    assert onehot.shape == (1, 4, 20)
    assert onehot[0, :, :4].argmax(axis=0).tolist() == [0, 1, 2, 3]  # lowercase a c g t
    assert onehot[0, :, :4].sum() == 4
    assert onehot[0, :, 4:12].sum() == 0  # N and IUPAC -> all-zero columns
    # the N filter of bin_genome counts IUPAC codes as N too
    bins = dc.pp.bin_genome(genome, bin_size=10, window=10, max_n_frac=0.5)
    assert "chr1:0-10" not in bins.index and "chr1:10-20" in bins.index


def test_truncated_bgzip_fasta_without_index(tmp_path):
    full = _bgzip_fasta(tmp_path / "full.fa.gz", {"chr1": _random_seq(200_000)})
    cut = tmp_path / "cut.fa.gz"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"cut\.fa\.gz.*(truncated|corrupt)"):
        dc.Genome(cut)


def _stale_index_genome(tmp_path):
    path = _bgzip_fasta(tmp_path / "g.fa.gz", {"chr1": _random_seq(200_000)})
    dc.Genome(path)  # builds .fai/.gzi from the complete file
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # then the FASTA is truncated (e.g. an interrupted re-download)
    return dc.Genome(path)


@pytest.mark.filterwarnings("ignore:.*is older than FASTA file:RuntimeWarning")
def test_truncated_bgzip_fasta_with_stale_index(tmp_path):
    genome = _stale_index_genome(tmp_path)
    with pytest.raises(ValueError, match=r"g\.fa\.gz.*(truncated|corrupt)"):
        genome.fetch("chr1", 199_000, 199_010)


def test_gz_suffix_on_a_plain_text_fasta(tmp_path):
    f = _fasta(tmp_path / "genome.fa.gz", {"chr1": _random_seq(300)})
    with pytest.raises(ValueError, match="not gzip-compressed"):
        dc.Genome(f)


def test_plain_gzip_fasta_points_to_bgzip(tmp_path):
    with gzip.open(tmp_path / "g.fa.gz", "wt") as fh:
        fh.write(">chr1\n" + _random_seq(300) + "\n")
    with pytest.raises(ValueError, match=r"g\.fa\.gz: compressed with plain gzip.*bgzip") as exc:
        dc.Genome(tmp_path / "g.fa.gz")
    assert _raised_by_deepcage(exc)


def test_fasta_without_header_line(tmp_path):
    f = tmp_path / "nohdr.fa"
    f.write_text("ACGTACGT\nACGT\n")
    with pytest.raises(ValueError, match=r"nohdr\.fa: not a readable FASTA file.*'>' header"):
        dc.Genome(f)


# ------------------------------------------------------------------------------------------------ contig names
def test_chr_prefix_aliases_work_end_to_end(tmp_path):
    genome = dc.Genome(_fasta(tmp_path / "b37.fa", {"20": _random_seq(3000)}), name="b37")  # no 'chr'
    assert genome.fetch("chr20", 0, 10) == genome.fetch("20", 0, 10)
    regions = _write(tmp_path / "regions.bed", ["chr20\t0\t1000"])
    bins = dc.pp.bin_genome(genome, regions=regions, max_n_frac=None)
    assert bins["chrom"].unique().tolist() == ["20"]  # the genome's names
    peaks = _write(tmp_path / "p.narrowPeak", [_np_line("chr20", 0, 300)])
    ad = dc.pp.binarize_peaks(bins, {"s": peaks}, min_samples=0)
    assert ad.layers["binary"][0].tolist() == [1, 1, 0, 0, 0]
    assert ad.var_names[0] == "20:0-200"


def test_unmatched_contig_lists_both_naming_styles(tmp_path):
    peaks = _write(tmp_path / "p.bed", ["scaffold_7\t0\t300"])
    with pytest.raises(ValueError, match=r"bins use \['20'\], peaks use \['scaffold_7'\]") as exc:
        dc.pp.binarize_peaks(_bins(chrom="20"), {"s": peaks})
    assert _raised_by_deepcage(exc)
    genome = dc.Genome(_fasta(tmp_path / "g.fa", {"20": _random_seq(1000)}))
    with pytest.raises(KeyError, match=r"Contig 'chrX' is not in genome.*Available contigs: 20"):
        genome.fetch("chrX", 0, 10)
    with pytest.raises(ValueError, match=r"contig\(s\) \['chrX'\] are not in the genome.*contigs: 20"):
        dc.pp.bin_genome(genome, regions=pd.DataFrame({"chrom": ["chrX"], "start": [0], "end": [100]}))


# ------------------------------------------------------------------------------------------------ contig ends
def test_loci_past_contig_end_are_n_padded(tmp_path):
    genome = dc.Genome(_fasta(tmp_path / "g.fa", {"chr1": _random_seq(1000)}))
    codes = genome.windows(["chr1", "chr1"], [990, 5], 40)  # 20 bp past the end / 15 bp before 0
    assert (codes[0, 30:] == 4).all() and (codes[0, :30] < 4).all()
    assert (codes[1, :15] == 4).all() and (codes[1, 15:] < 4).all()
    assert dc.pp.one_hot(codes)[0, :, 30:].sum() == 0
    assert genome.fetch("chr1", 995, 1005) == genome.fetch("chr1", 995, 1000) + "NNNNN"


def test_bigwig_of_loci_past_contig_end_errors(tmp_path):
    with pytest.raises(
        ValueError, match=r"chr1:900-1100 extends past the end of the contig \(1,000 bp\)"
    ) as exc:
        dc.write_bigwig(
            np.array([0.5, 0.7]),
            tmp_path / "x.bw",
            loci=["chr1:0-200", "chr1:900-1100"],
            chrom_sizes={"chr1": 1000},
        )
    assert _raised_by_deepcage(exc)
    assert not (tmp_path / "x.bw").exists()


# ------------------------------------------------------------------------------------------------ expression
@pytest.fixture
def atac():
    import anndata

    ad = anndata.AnnData(np.zeros((3, 2), dtype=np.float32))
    ad.obs_names = ["s1", "s2", "s3"]
    return ad


def _expr_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "TF1": [5.0, 20.0, 1.0],
            "TF2": [50.0, 2.0, 9.0],
            "TF3": [3.0, 3.0, 40.0],
            "GAPDH": [900.0, 800.0, 700.0],
        },
        index=["s1", "s2", "s3"],
    )


def test_duplicated_genes_are_summed_with_a_warning(tmp_path, atac):
    table = _expr_table()
    dup = pd.concat([table, pd.DataFrame({"TF1": [1.0, 2.0, 3.0]}, index=table.index)], axis=1)  # TF1 twice
    summed = table.copy()
    summed["TF1"] += [1.0, 2.0, 3.0]
    ref = atac.copy()
    dc.pp.tf_expression(ref, summed, tfs=["TF1", "TF2", "TF3"], units="tpm")
    # a DataFrame straight into tf_expression
    with pytest.warns(
        UserWarning,
        match=r"expression: 1 gene name occurs more than once \(e.g. TF1\); summed the values of 1",
    ):
        dc.pp.tf_expression(atac, dup, tfs=["TF1", "TF2", "TF3"], units="tpm")
    np.testing.assert_allclose(atac.obsm["tf_expr"].to_numpy(), ref.obsm["tf_expr"].to_numpy())
    # a genes x samples file read by dc.io.read_expression_table
    f = tmp_path / "expr.tsv"
    dup.T.to_csv(f, sep="\t", index_label="gene")
    with pytest.warns(UserWarning, match="TF1"):
        rna = dc.io.read_expression_table(f, units="tpm")
    assert list(rna.var_names).count("TF1") == 1
    np.testing.assert_allclose(rna[:, "TF1"].X.ravel(), summed["TF1"].to_numpy())
    dc.pp.tf_expression(atac, rna, tfs=["TF1", "TF2", "TF3"])
    np.testing.assert_allclose(atac.obsm["tf_expr"].to_numpy(), ref.obsm["tf_expr"].to_numpy())


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (np.nan, r"NaN value.*gene 'TF2' in sample 's2'"),
        (-3.0, r"negative value.*gene 'TF2' in sample 's2'"),
        (
            np.inf,
            r"infinite value.*gene 'TF2' in sample 's2'",
        ),  # once spread inf into the other samples' rows
    ],
)
def test_nan_or_negative_expression_names_gene_and_sample(atac, value, match):
    bad = _expr_table()
    bad.loc["s2", "TF2"] = value
    with pytest.raises(ValueError, match=match) as exc:
        dc.pp.tf_expression(atac, bad, tfs=["TF1", "TF2", "TF3"])
    assert _raised_by_deepcage(exc)
    assert "tf_expr" not in atac.obsm


def test_all_zero_expression_sample(atac):
    bad = _expr_table()
    bad.loc["s3"] = 0.0
    with pytest.raises(ValueError, match=r"sample\(s\) \['s3'\] have zero expression for every gene"):
        dc.pp.tf_expression(atac, bad, tfs=["TF1", "TF2", "TF3"])


def test_sample_missing_from_the_expression_table(atac):
    with pytest.raises(ValueError, match=r"1 sample\(s\) have no expression: \['s3'\]"):
        dc.pp.tf_expression(atac, _expr_table().drop(index="s3"), tfs=["TF1", "TF2", "TF3"])


def test_tfs_missing_from_the_expression_table(atac):
    table = _expr_table().drop(columns="TF3")
    with pytest.raises(ValueError, match=r"1 of 3 TFs are missing.*\['TF3'\].*fill_missing=True"):
        dc.pp.tf_expression(atac, table, tfs=["TF1", "TF2", "TF3"])
    with pytest.warns(UserWarning, match=r"\['TF3'\].*treated as not expressed"):
        dc.pp.tf_expression(atac, table, tfs=["TF1", "TF2", "TF3"], fill_missing=True)
    assert np.isfinite(atac.obsm["tf_expr"].to_numpy()).all()


def test_sample_with_no_tf_expression_gives_finite_values(atac):
    table = _expr_table()
    table.loc["s2", ["TF1", "TF2", "TF3"]] = 0.0  # only non-TF genes expressed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dc.pp.tf_expression(atac, table, tfs=["TF1", "TF2", "TF3"])
    values = atac.obsm["tf_expr"].to_numpy()
    assert np.isfinite(values).all()
    assert np.ptp(values[1]) == 0  # all TFs tied: every TF gets the mean reference quantile


def test_sample_with_no_tf_expression_warns(atac):
    table = _expr_table()
    table.loc["s2", ["TF1", "TF2", "TF3"]] = 0.0
    with pytest.warns(UserWarning, match="s2"):
        dc.pp.tf_expression(atac, table, tfs=["TF1", "TF2", "TF3"])


# ------------------------------------------------------------------------------------------------ model
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model on a tiny synthetic dataset (seconds on a CPU), saved to disk."""
    root = tmp_path_factory.mktemp("bad_inputs_model")
    mdata = dc.datasets.synthetic(
        n_samples=4, n_loci=60, n_tfs=3, n_test_samples=1, rna=True, path=root / "synthetic.fa"
    )
    atac = mdata["atac"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = dc.tl.fit(
            atac,
            preset="small",
            hidden=8,
            max_epochs=1,
            progress=False,
            accelerator="cpu",
            motifs=dc.datasets.synthetic_motifs(atac),
        )
    model.save(root / "model")
    return {"mdata": mdata, "model": model, "path": root / "model", "fasta": root / "synthetic.fa"}


def test_prediction_with_tfs_not_in_the_model(trained):
    ad = trained["mdata"]["atac"].copy()
    renamed = {"TF3": "FOXA1"}
    ad.varm["motif_scores"] = ad.varm["motif_scores"].rename(columns=renamed)
    ad.obsm["tf_expr"] = ad.obsm["tf_expr"].rename(columns=renamed)
    with pytest.raises(
        ValueError, match=r"do not match the model's 3 TFs: 1 missing \['TF3'\], 1 extra \['FOXA1'\]"
    ) as exc:
        dc.tl.predict(trained["model"], ad, progress=False)
    assert _raised_by_deepcage(exc)
    assert "deepcage" not in ad.layers


def test_prediction_from_rna_missing_a_model_tf(trained):
    rna = trained["mdata"]["rna"]
    table = pd.DataFrame(np.array(rna.X, dtype=float), index=rna.obs_names, columns=rna.var_names).drop(
        columns="TF2"
    )
    with pytest.raises(ValueError, match=r"TFs are missing from the expression table: \['TF2'\]"):
        dc.tl.predict(trained["model"], expr=table, progress=False)
    with pytest.warns(UserWarning, match="TF2"):
        new = dc.tl.predict(trained["model"], expr=table, fill_missing=True, progress=False)
    assert np.isfinite(new.layers["deepcage"]).all()


def test_prediction_from_rna_with_nan(trained):
    rna = trained["mdata"]["rna"]
    table = pd.DataFrame(np.array(rna.X, dtype=float), index=rna.obs_names, columns=rna.var_names)
    table.iloc[0, 0] = np.nan
    with pytest.raises(
        ValueError, match=rf"NaN value.*gene {table.columns[0]!r} in sample {table.index[0]!r}"
    ):
        dc.tl.predict(trained["model"], expr=table, progress=False)


def test_nan_motif_scores_are_refused(trained):
    ad = trained["mdata"]["atac"].copy()
    ms = ad.varm["motif_scores"].copy()
    ms.iloc[4, 1] = np.nan
    ad.varm["motif_scores"] = ms
    with pytest.raises(ValueError, match=rf"NaN/infinite value.*row {ad.var_names[4]!r}, column 'TF2'"):
        dc.tl.predict(trained["model"], ad, progress=False)


def test_saved_model_from_another_genome(trained):
    model = dc.DeepCAGE.load(trained["path"])
    ad = trained["mdata"]["atac"].copy()
    ad.uns["deepcage"] = dict(ad.uns["deepcage"], genome={"name": "hg38", "fasta": []})
    with pytest.raises(ValueError, match=r"trained on genome 'synthetic' but adata uses 'hg38'.*lift") as exc:
        dc.tl.predict(model, ad, progress=False)
    assert _raised_by_deepcage(exc)
    other = dc.Genome(trained["fasta"], name="hg38")
    with pytest.raises(ValueError, match=r"trained on genome 'synthetic' but genome= uses 'hg38'"):
        dc.tl.predict(
            model, expr=trained["mdata"]["rna"], loci=["chr1:50000-50200"], genome=other, progress=False
        )


@pytest.mark.parametrize(
    ("locus", "match"),
    [
        (
            "past_end",
            r"1 locus/loci extend past the end of their contig, e\.g\. chr1:\d+-\d+ \(contig length",
        ),
        ("end_before_start", r"end <= start or start < 0, e\.g\. chr1:1200-1000"),
        ("empty", r"end <= start or start < 0, e\.g\. chr1:1000-1000"),
        ("other_contig", r"contig\(s\) \['chrUn_gl000220'\] that the model's genome does not have"),
    ],
)
def test_new_loci_outside_the_genome_are_refused(trained, locus, match):
    """Once predicted silently (a locus past the end was scored on pure N: 0.39)."""
    model = dc.DeepCAGE.load(trained["path"])
    size = model.genome["chrom_sizes"]["chr1"]
    bad = {
        "past_end": f"chr1:{size - 100}-{size + 100}",
        "end_before_start": "chr1:1200-1000",
        "empty": "chr1:1000-1000",
        "other_contig": "chrUn_gl000220:100-300",
    }[locus]
    genome = dc.Genome(trained["fasta"], name="synthetic")
    with pytest.raises(ValueError, match=match) as exc:
        dc.tl.predict(
            model, expr=trained["mdata"]["rna"], loci=["chr1:0-200", bad], genome=genome, progress=False
        )
    assert _raised_by_deepcage(exc)


def test_fasta_of_another_build_with_the_same_contig_names(trained, tmp_path):
    """Same contig names, other lengths (e.g. hg38 given to an hg19 model): once accepted silently."""
    model = dc.DeepCAGE.load(trained["path"])
    other = _fasta(tmp_path / "other_build.fa", {"chr1": _random_seq(5000), "chr2": _random_seq(5000)})
    loci = ["chr1:1000-1200"]
    for genome in (other, dc.Genome(other, name="synthetic")):  # with or without name=
        with pytest.raises(
            ValueError,
            match=r"other_build\.fa: contig 'chr1' is 5,000 bp but [\d,]+ bp in the genome the model was trained on",
        ) as exc:
            dc.tl.predict(model, expr=trained["mdata"]["rna"], loci=loci, genome=genome, progress=False)
        assert _raised_by_deepcage(exc)
    model.genome["fasta"] = [str(other)]  # the model's recorded FASTA replaced by another build
    with pytest.raises(ValueError, match=r"contig 'chr1' is 5,000 bp"):
        dc.tl.predict(model, expr=trained["mdata"]["rna"], loci=loci, progress=False)


def test_peaks_past_the_contig_end_warn(tmp_path):
    genome = dc.Genome(_fasta(tmp_path / "g.fa", {"chr20": _random_seq(2000)}), name="toy")
    bins = dc.pp.bin_genome(genome, max_n_frac=None)
    peaks = _write(
        tmp_path / "hg38_peaks.bed", ["chr20\t0\t300", "chr20\t1900\t2500"]
    )  # the 2nd ends past 2,000
    with pytest.warns(
        UserWarning,
        match=r"hg38_peaks\.bed.*1 interval\(s\) extend past the end.*chr20:1900-2500 \(contig length 2,000 bp\).*another assembly",
    ):
        dc.pp.binarize_peaks(bins, {"a": peaks}, min_samples=0)


def test_prediction_from_rna_with_inf(trained):
    rna = trained["mdata"]["rna"]
    table = pd.DataFrame(np.array(rna.X, dtype=float), index=rna.obs_names, columns=rna.var_names)
    table.iloc[1, 2] = np.inf
    with pytest.raises(
        ValueError, match=rf"infinite value.*gene {table.columns[2]!r} in sample {table.index[1]!r}"
    ):
        dc.tl.predict(trained["model"], expr=table, progress=False)


def test_duplicated_samples_in_new_expression(trained):
    rna = trained["mdata"]["rna"]
    table = pd.DataFrame(np.array(rna.X, dtype=float), index=rna.obs_names, columns=rna.var_names)
    table = pd.concat([table, table.iloc[[0]]])
    with pytest.raises(
        ValueError, match=rf"1 duplicated sample name\(s\) in the expression, e\.g\. \[{table.index[0]!r}\]"
    ):
        dc.tl.predict(trained["model"], expr=table, progress=False)


def test_one_bigwig_name_for_several_samples_is_refused_before_predicting(trained, tmp_path, monkeypatch):
    model = trained["model"]
    monkeypatch.setattr(
        type(model), "predict_arrays", lambda *a, **k: pytest.fail("predicted before checking out=")
    )
    with pytest.raises(
        ValueError, match=r"out\.bw' names one bigWig file, but there are \d+ samples.*folder"
    ):
        dc.tl.predict(model, expr=trained["mdata"]["rna"], out=tmp_path / "out.bw", progress=False)
    assert not (tmp_path / "out.bw").exists()  # once created as a directory


@pytest.mark.parametrize("name", ["nodir/sub/out.h5ad", "nodir/out.bw"])
def test_output_in_a_missing_folder_is_refused_before_predicting(trained, tmp_path, monkeypatch, name):
    model = trained["model"]
    monkeypatch.setattr(
        type(model), "predict_arrays", lambda *a, **k: pytest.fail("predicted before checking out=")
    )
    rna = trained["mdata"]["rna"][:1]
    with pytest.raises(FileNotFoundError, match=r"the folder '.*nodir.*' does not exist"):
        dc.tl.predict(model, expr=rna, out=tmp_path / name, progress=False)


# ------------------------------------------------------------------------------------------------ model folders
@pytest.fixture
def model_copy(trained, tmp_path):
    import shutil

    return Path(shutil.copytree(trained["path"], tmp_path / "model"))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (
            "truncate_weights",
            r"weights\.pt: damaged model file \([\d,]+ bytes instead of [\d,]+: a truncated",
        ),
        ("truncate_json", r"model\.json: damaged model file \([\d,]+ bytes instead"),
        ("remove_loci", r"loci\.csv\.gz: missing from the model folder"),
        ("flip_a_byte", r"loci_codes\.npy: damaged model file \(its content changed"),
    ],
)
def test_damaged_model_folder_names_the_file(model_copy, damage, match):
    if damage == "truncate_weights":
        _truncate(model_copy / "weights.pt")
    elif damage == "truncate_json":
        _truncate(model_copy / "model.json")
    elif damage == "remove_loci":
        (model_copy / "loci.csv.gz").unlink()
    else:
        f = model_copy / "loci_codes.npy"
        data = bytearray(f.read_bytes())
        data[-1] ^= 1
        f.write_bytes(bytes(data))
    with pytest.raises((ValueError, FileNotFoundError), match=match) as exc:
        dc.DeepCAGE.load(model_copy)
    assert _raised_by_deepcage(exc)


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        ("truncate_weights", r"weights\.pt: damaged model file \(the weights cannot be read"),
        ("truncate_json", r"model\.json: damaged model file \(not valid JSON"),
        ("remove_loci", r"loci\.csv\.gz: missing, but loci_codes\.npy needs it"),
    ],
)
def test_damaged_model_folder_without_manifest(model_copy, damage, match):
    """A folder saved before manifests existed (or copied without it) still gets a clear error."""
    (model_copy / "manifest.json").unlink()
    if damage == "truncate_weights":
        _truncate(model_copy / "weights.pt")
    elif damage == "truncate_json":
        _truncate(model_copy / "model.json")
    else:
        (model_copy / "loci.csv.gz").unlink()
    with pytest.raises((ValueError, FileNotFoundError), match=match) as exc:
        dc.DeepCAGE.load(model_copy)
    assert _raised_by_deepcage(exc)


def test_model_path_that_is_not_a_model(tmp_path, model_copy):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(NotADirectoryError, match=r"notes\.txt is a file; a saved model is a folder"):
        dc.DeepCAGE.load(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        FileNotFoundError, match=r"empty is not a saved DeepCAGE model: model\.json is missing"
    ):
        dc.DeepCAGE.load(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match=r"nothere: model folder not found"):
        dc.DeepCAGE.load(tmp_path / "nothere")


def test_saved_model_folder_is_readable_by_others(trained, tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        path = trained["model"].save(tmp_path / "shared_model")
    finally:
        os.umask(old)
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o755, oct(mode)  # was 0o700 (tempfile.mkdtemp): unreadable by colleagues
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o644 for f in path.iterdir())
    assert dc.DeepCAGE.load(path).tfs == trained["model"].tfs


# ------------------------------------------------------------------------------------------------ variants
_VCF = [
    "##fileformat=VCFv4.2",
    "##contig=<ID=chr1>",
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
]


@pytest.mark.parametrize("compression", ["plain", "gzip", "bgzip"])
def test_vcf_plain_gzip_or_bgzip_give_the_same_effects(trained, tmp_path, compression):
    genome = dc.Genome(trained["fasta"], name="synthetic")
    pos = 3000
    ref = genome.fetch("chr1", pos - 1, pos)
    alt = "A" if ref != "A" else "C"
    lines = [*_VCF, f"chr1\t{pos}\tv1\t{ref}\t{alt}\t.\t.\t."]
    table = pd.DataFrame({"chrom": ["chr1"], "pos": [pos], "ref": [ref], "alt": [alt], "id": ["v1"]})
    expected = dc.tl.variant_effect(trained["model"], table, genome=genome)
    if compression == "bgzip":
        from Bio import bgzf

        path = tmp_path / "v.vcf.gz"
        with bgzf.BgzfWriter(str(path), "wb") as fh:
            fh.write("\n".join(lines) + "\n")
    else:
        path = _write(
            tmp_path / ("v.vcf.gz" if compression == "gzip" else "v.vcf"), lines, gz=compression == "gzip"
        )
    got = dc.tl.variant_effect(
        trained["model"], path, genome=genome
    )  # plain gzip: once pysam's "seek not implemented"
    pd.testing.assert_frame_equal(got, expected)


def test_a_table_given_as_vcf_names_the_file(trained, tmp_path):
    f = _write(tmp_path / "variants.vcf", ["chrom\tpos\tref\talt", "chr1\t3000\tA\tG"])
    with pytest.raises(ValueError, match=r"variants\.vcf: not a readable VCF/BCF file.*DataFrame") as exc:
        dc.tl.variant_effect(trained["model"], f, genome=dc.Genome(trained["fasta"]))
    assert _raised_by_deepcage(exc)


def test_prediction_for_loci_given_as_a_dataframe(trained):
    # a DataFrame has a .mod() method: it must not be mistaken for a MuData (this once raised a deep TypeError)
    model = trained["model"]
    loci = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [1000, 1200], "end": [1200, 1400]})
    genome = dc.Genome(trained["fasta"], name="synthetic")
    new = dc.tl.predict(model, expr=trained["mdata"]["rna"], loci=loci, genome=genome, progress=False)
    assert list(new.var_names) == ["chr1:1000-1200", "chr1:1200-1400"]


# ------------------------------------------------------------------------------------------------ training data
def _tiny_training_data():
    return dc.datasets.synthetic(n_samples=4, n_loci=60, n_tfs=3, n_test_samples=1, seed=3)


def test_duplicated_sample_names_are_refused_by_fit():
    ad = _tiny_training_data()
    ad.obs_names = ["a", "b", "a", "c"]
    with pytest.raises(
        ValueError, match=r"1 duplicated sample names \(obs_names\), e\.g\. \['a'\].*unique"
    ) as exc:
        dc.tl.fit(ad, preset="small", hidden=8, max_epochs=1, progress=False)
    assert _raised_by_deepcage(exc)


def test_duplicated_locus_names_are_refused_by_fit():
    ad = _tiny_training_data()
    names = list(ad.var_names)
    names[5] = names[4]
    ad.var_names = names
    with pytest.raises(ValueError, match=r"duplicated locus names \(var_names\)"):
        dc.tl.fit(ad, preset="small", hidden=8, max_epochs=1, progress=False)


def test_fit_with_zero_epochs_is_a_clear_error():
    with pytest.raises(ValueError, match=r"max_epochs=0: train for at least one epoch"):
        dc.tl.fit(_tiny_training_data(), preset="small", max_epochs=0, progress=False)


# ------------------------------------------------------------------------------------------------ command line
def _cli(args: list[str], capsys) -> tuple[int, str]:
    """Run ``deepcage ARGS`` in-process; every error is one line on stderr, without a traceback."""
    from deepcage.cli import main

    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    if code != 0:  # warnings before the error are lines of their own ('deepcage CMD: warning: ...')
        lines = [line for line in err.splitlines() if line.strip() and ": warning: " not in line]
        assert len(lines) == 1, err
        assert "Traceback" not in err
    return code, err


@pytest.fixture
def rna_tsv(trained, tmp_path):
    """The RNA of the tiny dataset as a genes x samples TSV (the layout of RSEM/featureCounts tables)."""
    rna = trained["mdata"]["rna"]
    table = pd.DataFrame(np.array(rna.X, dtype=float), index=rna.obs_names, columns=rna.var_names)
    path = tmp_path / "rna.tsv"
    table.T.to_csv(path, sep="\t", index_label="gene")
    return path


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda d: _write(d / "data.csv", ["sample,TF1", "a,1"]),
            r"data\.csv is a text file \(it starts with 'sample,TF1'\); expected an AnnData",
        ),
        (lambda d: _write(d / "data.h5ad", ["not really hdf5"]), r"data\.h5ad is a text file"),
        (lambda d: d, r"input .* is a folder; expected a file"),
        (
            lambda d: _write(d / "data.h5ad.gz", ["x"], gz=True),
            r"data\.h5ad\.gz is gzip-compressed: decompress it first",
        ),
        (lambda d: _write(d / "empty.h5ad", [], newline_at_end=False), r"empty\.h5ad is empty \(0 bytes\)"),
        (lambda d: d / "missing.h5ad", r"missing\.h5ad: file not found"),
    ],
    ids=["csv", "text_named_h5ad", "folder", "gzipped_h5ad", "empty_file", "missing_file"],
)
def test_cli_fit_on_a_file_that_is_not_anndata(tmp_path, capsys, make, match):
    """Once a 26-line h5py traceback."""
    data = make(tmp_path)
    code, err = _cli(["fit", data, tmp_path / "model"], capsys)
    assert code == 1
    assert re.search(match, err), err
    assert not (tmp_path / "model").exists()


def test_cli_fit_on_a_damaged_h5ad(trained, tmp_path, capsys):
    path = tmp_path / "data.h5ad"
    trained["mdata"]["atac"].write_h5ad(path)
    _truncate(path)
    code, err = _cli(["fit", path, tmp_path / "model"], capsys)
    assert code == 1 and re.search(r"data\.h5ad: not a readable AnnData/MuData file", err), err


def test_cli_fit_on_an_h5ad_without_the_deepcage_layout(tmp_path, capsys):
    import anndata

    path = tmp_path / "counts.h5ad"
    anndata.AnnData(np.ones((3, 4), dtype=np.float32)).write_h5ad(path)
    code, err = _cli(["fit", path, tmp_path / "model"], capsys)
    assert code == 1
    assert re.search(r"counts\.h5ad has no varm\['motif_scores'\].*deepcage prepare", err), err


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (
            ["fit", "DATA", "MODEL", "--max-epochs", "0"],
            r"--max-epochs: expected a positive integer, got '0'",
        ),  # once a FileNotFoundError on last.ckpt
        (["fit", "DATA"], r"required: model_dir"),
        (["fit", "DATA", "MODEL", "--preset", "huge"], r"invalid choice: 'huge'"),
        (["fit", "DATA", "MODEL", "--pos-weight", "lots"], r"--pos-weight must be a number or 'balanced'"),
        (["fit", "DATA", "EXISTING"], r"EXISTING.* exists; pass --overwrite"),
        (["predict", "MODEL", "OUT.h5ad"], r"one of the arguments --data --expr is required"),
        (["predict", "MODEL", "OUT.h5ad", "--data", "DATA", "--expr", "RNA"], r"not allowed with argument"),
        (["predict", "MODEL", "OUT.h5ad", "--data", "DATA", "--loci", "L.bed"], r"--loci goes with --expr"),
        (
            ["prepare", "out.txt", "--peaks", "p.bed", "--rna", "r", "--genome", "g", "--motifs", "m"],
            r"out\.txt must end in \.h5ad or \.h5mu",
        ),
        (["frobnicate"], r"invalid choice: 'frobnicate'"),
    ],
    ids=[
        "zero_epochs",
        "missing_argument",
        "bad_choice",
        "bad_pos_weight",
        "existing_output",
        "no_input",
        "two_inputs",
        "loci_without_expr",
        "bad_suffix",
        "unknown_command",
    ],
)
def test_cli_usage_errors_exit_2(tmp_path, capsys, args, match):
    (tmp_path / "EXISTING").mkdir()
    (tmp_path / "DATA").write_text("x")
    args = [str(tmp_path / a) if a in ("DATA", "MODEL", "EXISTING", "OUT.h5ad") else a for a in args]
    code, err = _cli(args, capsys)
    assert code == 2, err
    assert re.search(match, err), err


def test_cli_debug_shows_the_traceback(tmp_path):
    from deepcage.cli import main

    with pytest.raises(FileNotFoundError, match="file not found"):
        main(["fit", str(tmp_path / "missing.h5ad"), str(tmp_path / "m"), "--debug"])
    with pytest.raises(FileNotFoundError):
        main(["--debug", "fit", str(tmp_path / "missing.h5ad"), str(tmp_path / "m")])


def test_cli_one_bigwig_name_for_several_samples(trained, rna_tsv, tmp_path, capsys):
    """Once created a *directory* named out.bw."""
    code, err = _cli(
        ["predict", trained["path"], tmp_path / "out.bw", "--expr", rna_tsv, "--no-progress"], capsys
    )
    assert code == 1 and "names one bigWig file, but there are 4 samples" in err, err
    assert not (tmp_path / "out.bw").exists()


def test_cli_output_in_a_missing_folder_fails_before_predicting(
    trained, rna_tsv, tmp_path, capsys, monkeypatch
):
    """Once ran every prediction, then failed to create the file."""
    monkeypatch.setattr(
        dc.DeepCAGE, "load", lambda *a, **k: pytest.fail("loaded the model before checking OUT")
    )
    code, err = _cli(
        ["predict", trained["path"], tmp_path / "nodir" / "sub" / "out.h5ad", "--expr", rna_tsv], capsys
    )
    assert code == 1 and re.search(r"the folder .*nodir/sub does not exist; create it first", err), err


def test_cli_damaged_model_folder(model_copy, rna_tsv, tmp_path, capsys):
    _truncate(model_copy / "weights.pt")
    code, err = _cli(["predict", model_copy, tmp_path / "p.h5ad", "--expr", rna_tsv, "--no-progress"], capsys)
    assert code == 1 and re.search(r"weights\.pt: damaged model file", err), err


def test_cli_predict_reads_expression_like_python(trained, rna_tsv, tmp_path, capsys):
    """--expr goes through dc.io.read_expression_table: genes x samples by default, same numbers as in Python."""
    code, _ = _cli(
        ["predict", trained["path"], tmp_path / "p.h5ad", "--expr", rna_tsv, "--no-progress"], capsys
    )
    assert code == 0
    import anndata

    got = anndata.read_h5ad(tmp_path / "p.h5ad")
    want = dc.tl.predict(trained["model"], expr=dc.io.read_expression_table(rna_tsv), progress=False)
    np.testing.assert_allclose(got.layers["deepcage"], want.layers["deepcage"], atol=1e-6)
    # the same table transposed needs --orient; without it the error says the table looks transposed
    flipped = tmp_path / "rna_samples_by_genes.tsv"
    pd.read_csv(rna_tsv, sep="\t", index_col=0).T.to_csv(flipped, sep="\t", index_label="sample")
    code, err = _cli(["predict", trained["path"], tmp_path / "q.h5ad", "--expr", flipped], capsys)
    assert code == 1 and "the table is transposed" in err, err
    code, _ = _cli(
        [
            "predict",
            trained["path"],
            tmp_path / "q.h5ad",
            "--expr",
            flipped,
            "--orient",
            "samples_by_genes",
            "--no-progress",
        ],
        capsys,
    )
    assert code == 0
    np.testing.assert_allclose(
        anndata.read_h5ad(tmp_path / "q.h5ad").layers["deepcage"], got.layers["deepcage"], atol=1e-6
    )


def test_cli_warnings_are_one_line(trained, tmp_path):
    import subprocess
    import sys

    rna = trained["mdata"]["rna"]
    table = pd.DataFrame(np.array(rna.X, dtype=float), index=rna.obs_names, columns=rna.var_names).T
    table = pd.concat(
        [table, table.iloc[[5]] * 2]
    )  # a gene listed twice with different values: summed, warned
    path = tmp_path / "dup.tsv"
    table.to_csv(path, sep="\t", index_label="gene")
    args = [
        "predict",
        trained["path"],
        tmp_path / "p.h5ad",
        "--expr",
        path,
        "--no-progress",
        "--threads",
        "1",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "deepcage.cli", *map(str, args)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    warning_lines = [line for line in proc.stderr.splitlines() if "warning" in line.lower()]
    assert warning_lines, proc.stderr
    assert all(line.startswith("deepcage predict: warning: ") for line in warning_lines), proc.stderr
    assert "dup.tsv" in warning_lines[0]


# ------------------------------------------------------------------------------------------------ prepare
@pytest.fixture
def prepare_inputs(tmp_path):
    """Tiny real-looking inputs for 'deepcage prepare': a genome, peaks of 3 samples, an RNA table, motifs."""
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 6000))
    genome = _fasta(tmp_path / "genome.fa", {"chr1": seq})
    peaks = {
        "A": ["chr1\t0\t1000", "chr1\t2000\t2600"],
        "B": ["chr1\t0\t400", "chr1\t3000\t3800"],
        "C": ["chr1\t600\t1400", "chr1\t4000\t5000"],
    }
    files = {
        s: _write(tmp_path / f"{s}.narrowPeak", [f"{row}\tp\t1\t.\t1\t1\t1\t50" for row in lines])
        for s, lines in peaks.items()
    }
    genes = ["TF1", "TF2", "ACTB", *[f"G{i}" for i in range(20)]]
    counts = pd.DataFrame(
        rng.integers(1, 500, (len(genes), 4)), index=genes, columns=["A", "B", "C", "RNAONLY"]
    )
    rna = tmp_path / "rna.tsv"
    counts.to_csv(rna, sep="\t", index_label="gene")
    motifs = tmp_path / "motifs.meme"
    motifs.write_text(
        "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n"
        "MOTIF m1 TF1\nletter-probability matrix: alength= 4 w= 3\n0.97 0.01 0.01 0.01\n0.01 0.97 0.01 0.01\n0.01 0.01 0.97 0.01\n\n"
        "MOTIF m2 TF2\nletter-probability matrix: alength= 4 w= 3\n0.01 0.01 0.01 0.97\n0.01 0.01 0.97 0.01\n0.97 0.01 0.01 0.01\n"
    )
    return {"dir": tmp_path, "genome": genome, "peaks": files, "rna": rna, "motifs": motifs, "counts": counts}


def _prepare(inp, out, *extra):
    return [
        "prepare",
        out,
        "--rna",
        inp["rna"],
        "--genome",
        inp["genome"],
        "--motifs",
        inp["motifs"],
        "--no-progress",
        "--val-frac",
        "0",
        *extra,
    ]


def test_cli_prepare_from_peak_files_and_a_sample_sheet_agree(prepare_inputs, capsys):
    import anndata

    inp, d = prepare_inputs, prepare_inputs["dir"]
    code, err = _cli(_prepare(inp, d / "a.h5ad", "--peaks", *inp["peaks"].values()), capsys)
    assert code == 0, err
    # a sample sheet written on Windows (CRLF, BOM), relative paths, a comment line
    sheet = d / "sheet.csv"
    sheet.write_bytes(
        "\ufeffsample,peaks\r\n# replicates would share a sample name\r\nA,A.narrowPeak\r\nB,B.narrowPeak\r\nC,C.narrowPeak\r\n".encode()
    )
    code, err = _cli(_prepare(inp, d / "b.h5ad", "--sample-sheet", sheet), capsys)
    assert code == 0, err
    a, b = anndata.read_h5ad(d / "a.h5ad"), anndata.read_h5ad(d / "b.h5ad")
    assert list(a.obs_names) == ["A", "B", "C"] == list(b.obs_names)
    np.testing.assert_array_equal(a.layers["binary"], b.layers["binary"])
    assert list(a.varm["motif_scores"].columns) == ["TF1", "TF2"]
    assert np.isfinite(a.obsm["tf_expr"].to_numpy()).all()


@pytest.mark.parametrize(
    ("case", "code", "match"),
    [
        (
            "sheet_wrong_path",
            1,
            r"sheet\.tsv, line 3: peak file .*B_typo\.narrowPeak not found \(relative paths are relative to the sheet\)",
        ),
        (
            "sheet_wrong_columns",
            1,
            r"sheet\.tsv needs the columns 'sample' and 'peaks'.*it has \['name', 'file_path'\]",
        ),
        ("same_sample_twice", 2, r"both give sample name 'A'.*--sample-sheet"),
        (
            "sample_without_rna",
            1,
            r"1 sample\(s\) with peaks have no column in the RNA table .*rna\.tsv: \['D'\]",
        ),
        ("test_without_peaks", 2, r"--test names sample\(s\) without peak files \['RNAONLY'\]"),
        ("missing_fasta", 1, r"genome FASTA .*hg38\.fa: file not found"),
        (
            "gene_ids",
            1,
            r"No TF of the motif database .* is a gene of the RNA table .*ENSG00000000001.*--gene-names",
        ),
    ],
)
def test_cli_prepare_errors(prepare_inputs, capsys, case, code, match):
    inp, d = prepare_inputs, prepare_inputs["dir"]
    peaks = ["--peaks", *inp["peaks"].values()]
    args = _prepare(inp, d / "out.h5ad", *peaks)
    if case.startswith("sheet"):
        header = "sample\tpeaks" if case == "sheet_wrong_path" else "name\tfile_path"
        _write(d / "sheet.tsv", [header, "A\tA.narrowPeak", "B\tB_typo.narrowPeak"])
        args = _prepare(inp, d / "out.h5ad", "--sample-sheet", d / "sheet.tsv")
    elif case == "same_sample_twice":
        other = d / "other"
        other.mkdir()
        args += [_write(other / "A.bed", ["chr1\t0\t100"])]
    elif case == "sample_without_rna":
        args += [_write(d / "D.bed", ["chr1\t0\t900"])]
    elif case == "test_without_peaks":
        args += ["--test", "RNAONLY"]
    elif case == "missing_fasta":
        args[args.index("--genome") + 1] = d / "hg38.fa"
    elif case == "gene_ids":
        counts = inp["counts"].copy()
        counts.index = [f"ENSG{i:011d}" for i in range(1, len(counts) + 1)]
        counts.to_csv(inp["rna"], sep="\t", index_label="gene_id")
    got, err = _cli(args, capsys)
    assert got == code, err
    assert re.search(match, err), err
    assert not (d / "out.h5ad").exists()


# ------------------------------------------------------------------------------------------------ real users' files
def test_bed_with_windows_line_endings_and_bom_labels_like_unix(tmp_path):
    unix = _write(tmp_path / "unix.bed", ["chr20\t0\t300", "chr20\t600\t800"])
    windows = tmp_path / "windows.bed"
    windows.write_bytes("\ufeffchr20\t0\t300\r\nchr20\t600\t800\r\n".encode())
    a = dc.pp.binarize_peaks(_bins(), {"x": unix}, min_samples=0).layers["binary"]
    b = dc.pp.binarize_peaks(_bins(), {"x": windows}, min_samples=0).layers["binary"]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("sep", "name"), [(" ", "spaces"), (",", "commas")])
def test_bed_separated_by_spaces_or_commas_says_so(tmp_path, sep, name):
    f = _write(tmp_path / "peaks.bed", [sep.join(["chr20", "0", "300"])])
    with pytest.raises(ValueError, match=rf"peaks\.bed, line 1: .*separated by {name}, not tabs"):
        dc.pp.binarize_peaks(_bins(), {"a": f})


@pytest.mark.parametrize(
    ("kind", "match"),
    [
        ("bz2", "compressed with bzip2"),
        ("zip", r"a zip archive \(or an Excel \.xlsx workbook\)"),
        ("xz", "compressed with xz"),
    ],
)
def test_peaks_compressed_other_than_gzip_are_named(tmp_path, kind, match):
    import bz2
    import lzma
    import zipfile

    text = b"chr20\t0\t300\n"
    f = tmp_path / f"peaks.bed.{kind}"
    if kind == "bz2":
        f.write_bytes(bz2.compress(text))
    elif kind == "xz":
        f.write_bytes(lzma.compress(text))
    else:
        with zipfile.ZipFile(f, "w") as z:
            z.writestr("peaks.bed", text)
    with pytest.raises(ValueError, match=rf"peaks\.bed\.{kind}: {match}") as exc:
        dc.pp.binarize_peaks(_bins(), {"a": f})
    assert _raised_by_deepcage(exc)


def test_peaks_plain_gzip_and_bgzip_label_alike(tmp_path):
    from Bio import bgzf

    lines = ["chr20\t0\t300", "chr20\t600\t800"]
    plain = _write(tmp_path / "p.bed", lines)
    gz = _write(tmp_path / "p.bed.gz", lines, gz=True)
    bgz = tmp_path / "p.bgz.bed.gz"
    with bgzf.BgzfWriter(str(bgz), "wb") as fh:
        fh.write("\n".join(lines) + "\n")
    labels = [
        dc.pp.binarize_peaks(_bins(), {"x": f}, min_samples=0).layers["binary"] for f in (plain, gz, bgz)
    ]
    np.testing.assert_array_equal(labels[0], labels[1])
    np.testing.assert_array_equal(labels[0], labels[2])


def test_unsorted_peaks_with_mixed_contig_naming_label_like_sorted(tmp_path):
    tidy = _write(tmp_path / "tidy.bed", ["chr20\t0\t300", "chr20\t600\t800"])
    messy = _write(tmp_path / "messy.bed", ["20\t600\t800", "chr20\t0\t300"])  # unsorted, 'chr20' and '20'
    a = dc.pp.binarize_peaks(_bins(), {"x": tidy}, min_samples=0).layers["binary"]
    b = dc.pp.binarize_peaks(_bins(), {"x": messy}, min_samples=0).layers["binary"]
    np.testing.assert_array_equal(a, b)


def test_blacklist_with_other_contig_naming_still_applies(tmp_path):
    genome = dc.Genome(_fasta(tmp_path / "g.fa", {"chr1": _random_seq(2000)}))
    bl = _write(tmp_path / "blacklist.bed", ["1\t0\t400"])  # Ensembl naming against a UCSC FASTA
    bins = dc.pp.bin_genome(genome, bin_size=200, max_n_frac=None, blacklist=bl)
    assert bins["start"].min() >= 400


def test_fasta_with_windows_line_endings_and_long_headers(tmp_path):
    seq = _random_seq(1000)
    f = tmp_path / "win.fa"
    f.write_bytes(
        (
            ">chr1 AC:CM000663.2 Homo sapiens chromosome 1\r\n"
            + "\r\n".join(seq[i : i + 60] for i in range(0, 1000, 60))
            + "\r\n"
        ).encode()
    )
    genome = dc.Genome(f)
    assert genome.chrom_sizes == {"chr1": 1000}
    assert genome.fetch("chr1", 55, 125) == seq[55:125]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (">chr1\nACGT\n>chr1\nACGT\n", r"Duplicate key.*A contig name occurs twice"),
        (">chr1\nACGTACGT\nACG\nACGTACGT\n", r"unequal lengths.*rewrap"),
        ("", r"starts with a '>' header line"),
    ],
    ids=["duplicated_contig", "ragged_lines", "empty"],
)
def test_broken_fasta_gets_the_right_hint(tmp_path, content, match):
    """The pyfaidx reason used to be followed by 'check that it starts with a > header line' whatever it was."""
    f = tmp_path / "g.fa"
    f.write_text(content)
    with pytest.raises(ValueError, match=rf"g\.fa: not a readable FASTA file.*{match}"):
        dc.Genome(f)


def test_expression_from_excel_with_date_genes_warns(tmp_path):
    f = _write(tmp_path / "expr.tsv", ["gene\tA\tB", "1-Mar\t1\t2", "2-Sep\t3\t4", "GATA1\t5\t6"])
    with pytest.warns(
        UserWarning, match=r"expr\.tsv: 2 gene name\(s\) look like dates made by Excel.*'1-Mar'"
    ):
        dc.io.read_expression_table(f)


def test_expression_with_trailing_tabs_from_a_spreadsheet(tmp_path):
    f = _write(tmp_path / "expr.tsv", ["gene\tA\tB\t", "GATA1\t1\t2\t", "SPI1\t3\t4\t"])
    rna = dc.io.read_expression_table(f)
    assert list(rna.obs_names) == ["A", "B"] and rna.shape == (2, 2)


def test_expression_written_by_r_with_quotes_and_no_corner_name(tmp_path):
    f = _write(tmp_path / "expr.csv", ['"A","B"', '"GATA1",1,2', '"SPI1",3,4'])
    rna = dc.io.read_expression_table(f)
    assert list(rna.obs_names) == ["A", "B"] and list(rna.var_names) == ["GATA1", "SPI1"]


def test_expression_with_numeric_sample_names_matches_numeric_obs(atac):
    table = _expr_table()
    table.index = ["1", "2", "3"]
    atac.obs_names = ["1", "2", "3"]
    dc.pp.tf_expression(atac, table, tfs=["TF1", "TF2", "TF3"])
    assert list(atac.obsm["tf_expr"].index) == ["1", "2", "3"]


def test_fpkm_gives_the_same_tf_expression_as_tpm(atac):
    tpm = _expr_table()
    tpm = tpm.div(tpm.sum(axis=1), axis=0) * 1e6
    fpkm = tpm * np.array([[0.5], [3.0], [1.7]])  # FPKM is TPM times a per-sample factor
    a, b = atac.copy(), atac.copy()
    dc.pp.tf_expression(a, tpm, tfs=["TF1", "TF2", "TF3"], units="tpm")
    dc.pp.tf_expression(b, fpkm, tfs=["TF1", "TF2", "TF3"], units="fpkm")  # once refused
    np.testing.assert_allclose(a.obsm["tf_expr"].to_numpy(), b.obsm["tf_expr"].to_numpy())


def test_log_transformed_expression_warns(atac):
    rng = np.random.default_rng(0)
    genes = ["TF1", "TF2", "TF3", *[f"G{i}" for i in range(200)]]
    logged = pd.DataFrame(rng.uniform(0, 14, (3, len(genes))), index=["s1", "s2", "s3"], columns=genes)
    with pytest.warns(UserWarning, match=r"no gene exceeds 14\.0 in any sample, as in log-transformed data"):
        dc.pp.tf_expression(atac, logged, tfs=["TF1", "TF2", "TF3"])


def test_mouse_symbols_against_human_tfs_are_explained(atac):
    table = _expr_table().rename(columns={"TF1": "Tf1", "TF2": "Tf2"})
    with pytest.raises(ValueError, match=r"2 of them differ only in letter case \(e\.g\. 'TF1' vs 'Tf1'\)"):
        dc.pp.tf_expression(atac, table, tfs=["TF1", "TF2", "TF3"])


def test_sample_names_that_need_safe_file_names(trained, tmp_path):
    rna = trained["mdata"]["rna"][:2].copy()
    rna.obs_names = ["CD4 T/cells", "B:naive"]
    paths = dc.tl.predict(trained["model"], expr=rna, out=tmp_path / "tracks", progress=False)
    assert len(paths) == 2 and all(p.parent == tmp_path / "tracks" and p.exists() for p in paths)
    assert all("/" not in p.name and " " not in p.name for p in paths)


def test_data_whose_recorded_fasta_moved(tmp_path, capsys):
    """An .h5ad prepared on another machine: the FASTA path it records does not exist here."""
    ad = dc.datasets.synthetic(n_samples=4, n_loci=60, n_tfs=3, n_test_samples=1, path=tmp_path / "g.fa")
    ad.uns["deepcage"]["genome"] = dict(ad.uns["deepcage"]["genome"], fasta=["/data/old_server/hg38.fa"])
    with pytest.raises(
        FileNotFoundError, match=r"/data/old_server/hg38\.fa, which does not exist here.*--genome"
    ):
        dc.tl.fit(ad, preset="small", hidden=8, max_epochs=1, progress=False)
    path = tmp_path / "data.h5ad"
    ad.write_h5ad(path)
    code, err = _cli(["fit", path, tmp_path / "model", "--no-progress"], capsys)
    assert code == 1 and "hg38.fa, which does not exist here" in err, err
    code, _ = _cli(
        [
            "fit",
            path,
            tmp_path / "model",
            "--genome",
            tmp_path / "g.fa",
            "--preset",
            "small",
            "--max-epochs",
            "1",
            "--hidden",
            "8",
            "--no-progress",
        ],
        capsys,
    )
    assert code == 0


# ------------------------------------------------------------------------------------------------ issue 22: files that
# look like what users really have
# --- interval files that are not peaks
def _bedgraph_lines(track: bool) -> list[str]:
    lines = ["track type=bedGraph name=HSC_treat_pileup"] if track else []
    edges = [0, 150, 320, 600, 800, 1000]
    values = [0, 2.5, 0, 7.0, 0]
    lines += [f"chr20\t{a}\t{b}\t{v}" for a, b, v in zip(edges[:-1], edges[1:], values, strict=True)]
    return lines


@pytest.mark.parametrize("track", [True, False], ids=["track-line", "no-track-line"])
def test_bedgraph_given_as_peaks_is_named_a_signal_track(tmp_path, track):
    path = _write(tmp_path / "HSC_treat_pileup.bdg", _bedgraph_lines(track))
    with pytest.raises(ValueError, match="bedGraph signal track, not peaks") as err:
        dc.pp.binarize_peaks(_bins(), {"HSC": path})
    assert str(path) in str(err.value) and "narrowPeak" in str(err.value)


def test_macs2_summits_given_as_peaks_point_to_the_narrowpeak(tmp_path):
    path = _write(
        tmp_path / "HSC_summits.bed",
        [f"chr20\t{s}\t{s + 1}\tpeak{i}\t8.1" for i, s in enumerate((99, 420, 777))],
    )
    with pytest.raises(ValueError, match="summits") as err:
        dc.pp.binarize_peaks(_bins(), {"HSC": path})
    assert str(path) in str(err.value) and "_peaks.narrowPeak" in str(err.value)


def test_bed4_peaks_with_a_score_column_are_still_peaks(tmp_path):
    path = _write(tmp_path / "peaks.bed", ["chr20\t0\t200\t5", "chr20\t400\t600\t0", "chr20\t800\t1000\t3"])
    ad = dc.pp.binarize_peaks(_bins(), {"HSC": path}, min_samples=0)
    assert ad.X.ravel().tolist() == [1, 0, 1, 0, 1]


# --- missing values in coordinates
def test_nan_start_in_a_peak_dataframe_names_the_row():
    peaks = pd.DataFrame(
        {"chrom": ["chr20", "chr20"], "start": [0, np.nan], "end": [200, 600]}, index=["p1", "p2"]
    )
    with pytest.raises(ValueError, match=r"row 'p2'.*missing") as err:
        dc.pp.binarize_peaks(_bins(), {"HSC": peaks})
    assert "-9223372036854775808" not in str(err.value)


def test_nan_start_in_bin_genome_regions_names_the_row(tmp_path):
    fa = _fasta(tmp_path / "g.fa", {"chr20": "ACGT" * 300})
    regions = pd.DataFrame({"chrom": ["chr20", None], "start": [0, 10], "end": [800, 900]})
    with pytest.raises(ValueError, match=r"row 1 .*missing"):
        dc.pp.bin_genome(dc.Genome(fa), regions=regions)


def test_nan_start_reaching_check_loci_is_named_not_printed_as_int_min():
    from deepcage._intervals import check_loci

    with np.errstate(invalid="ignore"):
        start = np.asarray([np.nan]).astype(np.int64)  # what df["start"].to_numpy(np.int64) makes of a NaN
    table = pd.DataFrame({"chrom": ["chr20"], "start": start, "end": [600]})
    with pytest.raises(ValueError, match=r"missing \(NaN\) start") as err:
        check_loci(table, what="loci=")
    assert "-9223372036854775808" not in str(err.value)


# --- quantifier outputs given as expression tables (detected by their header, not their name)
_GENCODE_TX = "ENST0000000{i}.1|ENSG0{g}.1|-|-|{sym}-20{i}|{sym}|1000|protein_coding|"


def test_salmon_quant_sf_is_one_sample_not_four(tmp_path):
    folder = tmp_path / "salmon" / "HSC_rep1"
    folder.mkdir(parents=True)
    lines = ["Name\tLength\tEffectiveLength\tTPM\tNumReads"]
    for i, (sym, tpm, reads) in enumerate((("GATA1", 10.5, 100), ("GATA1", 4.5, 30), ("SPI1", 85.0, 200))):
        lines.append(f"{_GENCODE_TX.format(i=i, g=sym, sym=sym)}\t1000\t800\t{tpm}\t{reads}")
    path = _write(folder / "quant.sf", lines)
    with pytest.warns(UserWarning, match="GATA1"):  # two transcripts of GATA1 summed
        tpm = dc.io.read_expression_table(path)
    assert tpm.obs_names.tolist() == ["HSC_rep1"]  # the salmon output folder, not 'quant'
    assert tpm.var_names.tolist() == ["GATA1", "SPI1"]
    np.testing.assert_allclose(tpm.X, [[15.0, 85.0]])
    assert tpm.uns["units"] == "tpm"
    with pytest.warns(UserWarning, match="GATA1"):
        reads = dc.io.read_expression_table(path, column="NumReads")
    np.testing.assert_allclose(reads.X, [[130.0, 200.0]])
    assert reads.uns["units"] == "counts"


def test_salmon_gene_level_quant_reads_the_tpm_column(tmp_path):
    path = _write(
        tmp_path / "HSC.quant.genes.sf",
        ["Name\tLength\tEffectiveLength\tTPM\tNumReads", "GATA1\t1200\t1000\t20\t80", "SPI1\t900\t700\t5\t9"],
    )
    ad = dc.io.read_expression_table(path)
    assert ad.obs_names.tolist() == ["HSC"] and ad.var_names.tolist() == ["GATA1", "SPI1"]
    np.testing.assert_allclose(ad.X, [[20.0, 5.0]])
    np.testing.assert_allclose(ad.var["length"], [1200, 900])


def test_kallisto_abundance_reads_tpm_and_says_transcripts_need_genes(tmp_path):
    folder = tmp_path / "CD4"
    folder.mkdir()
    path = _write(
        folder / "abundance.tsv",
        [
            "target_id\tlength\teff_length\test_counts\ttpm",
            "ENST00000000001.1\t1000\t800\t100\t10.5",
            "ENST00000000003.1\t500\t300\t200\t89.5",
        ],
    )
    with pytest.warns(UserWarning, match="ids are transcripts.*gene_names="):
        ad = dc.io.read_expression_table(path)
    assert ad.obs_names.tolist() == ["CD4"]
    np.testing.assert_allclose(ad.X, [[10.5, 89.5]])
    ad = dc.io.read_expression_table(
        path, column="est_counts", gene_names={"ENST00000000001": "GATA1", "ENST00000000003": "SPI1"}
    )
    assert ad.var_names.tolist() == ["GATA1", "SPI1"] and ad.uns["units"] == "counts"
    np.testing.assert_allclose(ad.X, [[100.0, 200.0]])


def test_kallisto_wrong_column_names_the_format_and_the_choices(tmp_path):
    path = _write(
        tmp_path / "abundance.tsv", ["target_id\tlength\teff_length\test_counts\ttpm", "GATA1\t1\t1\t2\t3"]
    )
    with pytest.raises(KeyError, match=r"kallisto file; available: .*est_counts.*column='est_counts'"):
        dc.io.read_expression_table(path, column="NumReads")


def test_featurecounts_output_reads_count_columns_only(tmp_path):
    path = _write(
        tmp_path / "counts.txt",
        [
            '# Program:featureCounts v2.0.3; Command:"featureCounts" "-a" "genes.gtf" "-o" "counts.txt" "a/HSC.bam"',
            "Geneid\tChr\tStart\tEnd\tStrand\tLength\tbam/HSC.bam\tbam/CD4.Aligned.sortedByCoord.out.bam",
            "GATA1\tchrX;chrX\t100;300\t200;400\t+;+\t200\t15\t0",
            "SPI1\tchr11\t50\t150\t-\t100\t3\t40",
        ],
    )
    ad = dc.io.read_expression_table(path)
    assert ad.obs_names.tolist() == ["HSC", "CD4"]  # never Chr/Start/End/Strand/Length
    assert ad.var_names.tolist() == ["GATA1", "SPI1"]
    np.testing.assert_allclose(ad.X, [[15, 3], [0, 40]])
    assert ad.uns["units"] == "counts"
    np.testing.assert_allclose(ad.var["length"], [200, 100])


def test_featurecounts_bad_count_names_its_line(tmp_path):
    path = _write(
        tmp_path / "counts.txt",
        [
            "# Program:featureCounts v2.0.3",
            "Geneid\tChr\tStart\tEnd\tStrand\tLength\tHSC.bam",
            "GATA1\tchrX\t1\t9\t+\t8\tNA",
        ],
    )
    with pytest.raises(ValueError, match=r"line 3: .*'GATA1'.*'HSC.bam'"):
        dc.io.read_expression_table(path)


def test_rsem_genes_results_names_the_sample_from_the_file(tmp_path):
    path = _write(
        tmp_path / "K562_rep2.genes.results",
        [
            "gene_id\ttranscript_id(s)\tlength\teffective_length\texpected_count\tTPM\tFPKM",
            "GATA1\tT1,T2\t1500\t1300\t400\t33.0\t20.0",
            "SPI1\tT3\t900\t700\t2\t0.5\t0.3",
        ],
    )
    ad = dc.io.read_expression_table(path)
    assert ad.obs_names.tolist() == ["K562_rep2"] and ad.var_names.tolist() == ["GATA1", "SPI1"]
    np.testing.assert_allclose(ad.X, [[33.0, 0.5]])


# --- text encodings
def test_utf16_expression_table_from_excel_reads_like_utf8(tmp_path):
    text = "gene\tHSC\tCD4\r\nGATA1\t10\t0\r\nSPI1\t3\t40\r\n"
    (tmp_path / "utf16.txt").write_bytes(
        text.encode("utf-16")
    )  # with its byte-order mark, as Excel writes it
    (tmp_path / "utf8.txt").write_text(text)
    a = dc.io.read_expression_table(tmp_path / "utf16.txt")
    b = dc.io.read_expression_table(tmp_path / "utf8.txt")
    assert a.obs_names.tolist() == b.obs_names.tolist() == ["HSC", "CD4"]
    assert a.var_names.tolist() == ["GATA1", "SPI1"]
    np.testing.assert_array_equal(a.X, b.X)


def test_utf16_peak_bed_labels_like_utf8(tmp_path):
    text = "chr20\t0\t200\nchr20\t400\t600\n"
    (tmp_path / "p16.bed").write_bytes(text.encode("utf-16"))
    ad = dc.pp.binarize_peaks(_bins(), {"HSC": tmp_path / "p16.bed"}, min_samples=0)
    assert ad.X.ravel().tolist() == [1, 0, 1, 0, 0]


# --- FASTA indexes and several FASTA files
def test_fai_from_another_fasta_is_rebuilt_not_trusted(tmp_path):
    fa = _fasta(tmp_path / "g.fa", {"chr20": "ACGT" * 50, "chr21": "GGCC" * 40})
    other = _fasta(tmp_path / "other.fa", {"chr20": "T" * 130})
    dc.Genome(other)  # builds other.fa.fai
    (tmp_path / "g.fa.fai").write_bytes((tmp_path / "other.fa.fai").read_bytes())
    with pytest.warns(UserWarning, match=r"g\.fa\.fai did not match .*g\.fa.*rebuilt"):
        g = dc.Genome(fa)
    assert g.chrom_sizes == {"chr20": 200, "chr21": 160}  # chr21 does not vanish
    assert g.fetch("chr21", 0, 8) == "GGCCGGCC"


def test_fasta_edited_after_indexing_gives_the_new_bases(tmp_path):
    fa = _fasta(tmp_path / "g.fa", {"chr20": "ACGT" * 50})
    dc.Genome(fa)
    _fasta(fa, {"chr20": "TTTT" * 70})  # edited: longer contig, same name
    with pytest.warns(UserWarning, match="rebuilt"):
        g = dc.Genome(fa)
    assert g.chrom_size("chr20") == 280 and g.fetch("chr20", 270, 280) == "T" * 10


def test_matching_fai_is_used_silently(tmp_path):
    fa = _fasta(
        tmp_path / "g.fa", {"chr20 some long description " + "x" * 300: "ACGT" * 50, "chr21": "GC" * 33}
    )
    dc.Genome(fa)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = dc.Genome(fa)
    assert g.chrom_sizes == {"chr20": 200, "chr21": 66}


def test_two_fastas_with_different_bases_for_one_contig_name_both(tmp_path):
    a = _fasta(tmp_path / "a.fa", {"chr20": "ACGT" * 25})
    b = _fasta(tmp_path / "b.fa", {"chr20": "ACGA" * 25})
    g = dc.Genome([a, b])
    with pytest.raises(ValueError, match="chr20") as err:
        g.fetch("chr20", 0, 10)
    assert str(a) in str(err.value) and str(b) in str(err.value) and "chr20:4" in str(err.value)


def test_two_fastas_with_identical_copies_of_a_contig_are_fine(tmp_path):
    a = _fasta(tmp_path / "a.fa", {"chr20": "ACGT" * 25})
    b = _fasta(tmp_path / "b.fa", {"chr20": "ACGT" * 25, "chr21": "GGGG" * 5})
    g = dc.Genome([a, b])
    assert g.fetch("chr20", 0, 8) == "ACGTACGT" and g.chrom_size("chr21") == 20


# --- motif files detected by content
_ARNT_COUNTS = [
    [4, 19, 0, 0, 0, 0],
    [16, 0, 20, 0, 0, 0],
    [0, 1, 0, 20, 0, 20],
    [0, 0, 0, 0, 20, 0],
]  # A C G T


def _arnt_expected() -> np.ndarray:
    counts = np.array(_ARNT_COUNTS, dtype=float).T  # positions x bases
    return counts / counts.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("header", [True, False], ids=["with-header", "bare"])
@pytest.mark.parametrize("suffix", [".pfm", ".motif", ".txt"])
def test_jaspar_pfm_rows_are_bases_not_positions(tmp_path, header, suffix):
    lines = ([">MA0004.1 Arnt"] if header else []) + ["  ".join(map(str, r)) for r in _ARNT_COUNTS]
    path = _write(tmp_path / f"MA0004.1{suffix}", lines)
    (motif,) = dc.io.read_motifs(path)
    assert motif.pwm.shape == (6, 4)  # 6 positions, never transposed to 4 positions
    np.testing.assert_allclose(motif.pwm, _arnt_expected())
    assert motif.name == "MA0004.1" and (motif.tf == "Arnt" if header else True)


def test_jaspar_bracket_format_reads_by_base_letter(tmp_path):
    rows = dict(zip("ACGT", _ARNT_COUNTS, strict=True))
    lines = [">MA0004.1\tArnt"] + [
        f"{b}  [ {' '.join(f'{v:3d}' for v in rows[b])} ]" for b in "TGCA"
    ]  # any order
    lines += [">MA0006.1\tAhr::Arnt", "A [ 0 0 0 0 0 0 ]", "C [ 3 0 23 0 0 0 ]", "G [ 0 23 0 23 0 24 ]",
              "T [ 21 1 1 1 24 0 ]"]  # fmt: skip
    motifs = dc.io.read_motifs(_write(tmp_path / "two.jaspar", lines))
    assert [m.name for m in motifs] == ["MA0004.1", "MA0006.1"]
    assert [m.tf for m in motifs] == ["Arnt", "Ahr::Arnt"]
    np.testing.assert_allclose(motifs[0].pwm, _arnt_expected())


def test_multi_motif_jaspar_pfm_file(tmp_path):
    lines = [">MA0004.1 Arnt", *("\t".join(map(str, r)) for r in _ARNT_COUNTS)]
    lines += [">MA0035.4 GATA1", "1 0 9", "8 0 0", "0 9 0", "0 0 0"]
    motifs = dc.io.read_motifs(_write(tmp_path / "JASPAR2024_CORE_non-redundant_pfms_jaspar.txt", lines))
    assert [m.tf for m in motifs] == ["Arnt", "GATA1"] and motifs[1].pwm.shape == (3, 4)


def test_jaspar_pfm_with_a_missing_row_names_the_motif(tmp_path):
    lines = [
        ">MA0004.1 Arnt",
        "4 19 0",
        "16 0 20",
        "0 1 0",
        ">MA0035.4 GATA1",
        "1 0 9",
        "8 0 0",
        "0 9 0",
        "0 0 0",
    ]
    with pytest.raises(ValueError, match=r"line 1: .*'MA0004.1' .*3 count rows"):
        dc.io.read_motifs(_write(tmp_path / "bad.txt", lines))


def test_homer_motif_of_width_4_stays_homer(tmp_path):
    lines = [">GATA\tGATA1(Zf)/K562-GATA1-ChIP-Seq/Homer\t5.0", "0.0 0.0 1.0 0.0", "1.0 0.0 0.0 0.0",
             "0.0 0.0 0.0 1.0", "0.97 0.01 0.01 0.01"]  # fmt: skip
    (motif,) = dc.io.read_motifs(_write(tmp_path / "gata.motif", lines))
    assert motif.tf == "GATA1" and motif.pwm[0].argmax() == 2 and motif.pwm[1].argmax() == 0


def test_transfac_motif_file_is_named(tmp_path):
    lines = [
        "AC  MA0004.1",
        "XX",
        "ID  Arnt",
        "P0      A      C      G      T",
        "01      4     16      0      0",
    ]
    with pytest.raises(ValueError, match="TRANSFAC.*transfac2meme"):
        dc.io.read_motifs(_write(tmp_path / "arnt.transfac", lines))


# --- non-primary contigs in bin_genome
_UCSC_EXTRA = ["chrM", "chr1_KI270706v1_random", "chrUn_GL000220v1", "chr6_GL000250v2_alt", "chrEBV",
               "chr1_KN196472v1_fix", "chrUn_JTFH01000001v1_decoy", "HLA-A*01:01:01:01"]  # fmt: skip


def test_bin_genome_bins_the_primary_assembly_by_default(tmp_path):
    contigs = {"chr20": "ACGT" * 100, "chrX": "ACGT" * 100, **{c: "ACGT" * 100 for c in _UCSC_EXTRA}}
    genome = dc.Genome(_fasta(tmp_path / "hg38.fa", contigs))
    bins = dc.pp.bin_genome(genome, max_n_frac=None)
    assert set(bins["chrom"]) == {"chr20", "chrX"}
    assert bins.attrs["excluded_contigs"] == _UCSC_EXTRA
    everything = dc.pp.bin_genome(genome, max_n_frac=None, contigs="all")
    assert set(everything["chrom"]) == set(contigs)
    named = dc.pp.bin_genome(genome, max_n_frac=None, chroms=["chrM"])  # named contigs are always kept
    assert set(named["chrom"]) == {"chrM"}


def test_bin_genome_regions_on_chrM_are_left_out_by_default(tmp_path):
    genome = dc.Genome(_fasta(tmp_path / "g.fa", {"chr20": "ACGT" * 100, "chrM": "ACGT" * 100}))
    regions = pd.DataFrame({"chrom": ["chr20", "chrM"], "start": [0, 0], "end": [400, 400]})
    assert set(dc.pp.bin_genome(genome, regions=regions, max_n_frac=None)["chrom"]) == {"chr20"}
    assert set(dc.pp.bin_genome(genome, regions=regions, max_n_frac=None, contigs="all")["chrom"]) == {
        "chr20",
        "chrM",
    }


def test_bin_genome_on_only_non_primary_contigs_says_how_to_keep_them(tmp_path):
    genome = dc.Genome(_fasta(tmp_path / "chrM.fa", {"chrM": "ACGT" * 100}))
    with pytest.raises(ValueError, match="contigs='all'"):
        dc.pp.bin_genome(genome)


# --- other files users give as an expression table
def test_star_reads_per_gene_is_named_with_the_strandedness_choice(tmp_path):
    lines = ["N_unmapped\t10\t10\t10", "N_multimapping\t5\t5\t5", "N_noFeature\t3\t40\t2", "N_ambiguous\t1\t0\t0",
             "GATA1\t20\t0\t20", "SPI1\t7\t7\t0"]  # fmt: skip
    with pytest.raises(ValueError, match="STAR ReadsPerGene.*strandedness") as err:
        dc.io.read_expression_table(_write(tmp_path / "HSC.ReadsPerGene.out.tab", lines))
    assert "HSC.ReadsPerGene.out.tab" in str(err.value)


def test_htseq_count_output_is_named_not_read_with_a_gene_as_header(tmp_path):
    lines = ["GATA1\t20", "SPI1\t7", "__no_feature\t100", "__ambiguous\t3", "__alignment_not_unique\t9"]
    with pytest.raises(ValueError, match="htseq-count.*header line"):
        dc.io.read_expression_table(_write(tmp_path / "HSC.counts", lines))


def test_featurecounts_summary_points_to_the_counts_file(tmp_path):
    lines = ["Status\tHSC.bam", "Assigned\t1000", "Unassigned_Unmapped\t5", "Unassigned_NoFeatures\t300"]
    with pytest.raises(ValueError, match=r"featureCounts \.summary"):
        dc.io.read_expression_table(_write(tmp_path / "counts.txt.summary", lines))


def test_10x_h5_and_matrix_folder_point_to_scanpy_and_pseudobulk(tmp_path):
    h5 = tmp_path / "filtered_feature_bc_matrix.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(ValueError, match="HDF5.*pseudobulk"):
        dc.io.read_expression_table(h5)
    folder = tmp_path / "filtered_feature_bc_matrix"
    folder.mkdir()
    (folder / "matrix.mtx.gz").write_bytes(
        gzip.compress(b"%%MatrixMarket matrix coordinate integer general\n")
    )
    with pytest.raises(ValueError, match="10x Genomics matrix folder.*read_10x_mtx"):
        dc.io.read_expression_table(folder)


def test_excel_workbook_given_as_expression_says_save_as_text(tmp_path):
    xlsx = tmp_path / "rna.xlsx"
    xlsx.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(ValueError, match="Excel workbook.*tab-separated"):
        dc.io.read_expression_table(xlsx)


# --- more encodings and compressions of the same kinds
def test_gzipped_bedgraph_given_as_peaks_is_named(tmp_path):
    path = _write(tmp_path / "HSC.bdg.gz", _bedgraph_lines(track=False), gz=True)
    with pytest.raises(ValueError, match="bedGraph"):
        dc.pp.binarize_peaks(_bins(), {"HSC": path})


def test_utf16_jaspar_pfm_reads_like_utf8(tmp_path):
    text = ">MA0004.1 Arnt\n" + "\n".join(" ".join(map(str, r)) for r in _ARNT_COUNTS) + "\n"
    (tmp_path / "arnt.pfm").write_bytes(text.encode("utf-16"))
    (motif,) = dc.io.read_motifs(tmp_path / "arnt.pfm")
    np.testing.assert_allclose(motif.pwm, _arnt_expected())


def test_gzipped_salmon_quant_reads_like_plain(tmp_path):
    lines = [
        "Name\tLength\tEffectiveLength\tTPM\tNumReads",
        "GATA1\t1200\t1000\t20\t80",
        "SPI1\t900\t700\t5\t9",
    ]
    folder = tmp_path / "CD4_rep1"
    folder.mkdir()
    ad = dc.io.read_expression_table(_write(folder / "quant.sf.gz", lines, gz=True))
    assert ad.obs_names.tolist() == ["CD4_rep1"]
    np.testing.assert_allclose(ad.X, [[20.0, 5.0]])


def test_nan_end_in_bins_dataframe_names_the_row(tmp_path):
    bins = _bins()
    bins["end"] = bins["end"].astype(float)
    bins.loc[3, "end"] = np.nan
    with pytest.raises(ValueError, match=r"row 3 .*missing"):
        dc.pp.binarize_peaks(bins, {"HSC": pd.DataFrame({"chrom": ["chr20"], "start": [0], "end": [200]})})


# --- coordinates that are not whole numbers
def test_fractional_peak_coordinates_name_the_row():
    peaks = pd.DataFrame({"chrom": ["chr20", "chr20"], "start": [0.0, 100.5], "end": [200.0, 400.0]})
    with pytest.raises(ValueError, match=r"row 1 .*non-integer start 100.5"):
        dc.pp.binarize_peaks(_bins(), {"HSC": peaks})


def test_text_coordinates_with_thousands_separators_name_the_row():
    peaks = pd.DataFrame({"chrom": ["chr20"], "start": ["1,000"], "end": ["1,200"]})
    with pytest.raises(ValueError, match=r"row 0 .*non-numeric.*start=1,000"):
        dc.pp.binarize_peaks(_bins(), {"HSC": peaks})


# --- several quantifier files, motif files with other names, broken JASPAR files
def test_several_salmon_folders_are_named_after_their_folders(tmp_path):
    paths = []
    for sample, tpm in (("HSC_rep1", 20), ("CD4_rep1", 3)):
        (tmp_path / sample).mkdir()
        lines = [
            "Name\tLength\tEffectiveLength\tTPM\tNumReads",
            f"GATA1\t1200\t1000\t{tpm}\t80",
            "SPI1\t900\t700\t5\t9",
        ]
        paths.append(_write(tmp_path / sample / "quant.sf", lines))
    ad = dc.io.read_expression_table(paths)
    assert ad.obs_names.tolist() == ["HSC_rep1", "CD4_rep1"]
    np.testing.assert_allclose(ad[:, "GATA1"].X.ravel(), [20, 3])


def test_homer_file_named_txt_is_read_as_homer(tmp_path):
    lines = [">AGATAA\tGATA1(Zf)/K562-GATA1-ChIP-Seq/Homer\t6.0", *(["0.9 0.03 0.03 0.04"] * 6)]
    (motif,) = dc.io.read_motifs(_write(tmp_path / "known1.txt", lines))
    assert motif.tf == "GATA1" and motif.pwm.shape == (6, 4)


def test_jaspar_bracket_file_missing_a_base_names_it(tmp_path):
    lines = [">MA0004.1\tArnt", "A [ 4 19 0 ]", "C [ 16 0 20 ]", "G [ 0 1 0 ]", "G [ 0 0 0 ]"]
    with pytest.raises(ValueError, match=r"'MA0004.1'.*bases \['A', 'C', 'G', 'G'\]"):
        dc.io.read_motifs(_write(tmp_path / "arnt.jaspar", lines))


def test_empty_motif_file_says_so(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        dc.io.read_motifs(_write(tmp_path / "MA0004.1.pfm", ["# nothing here"]))


# --- a bgzip FASTA changed after indexing
def test_bgzip_fasta_newer_than_its_index_gives_the_samtools_command(tmp_path):
    import os

    pysam = pytest.importorskip("pysam")
    plain = _fasta(tmp_path / "g.fa", {"chr20": "ACGT" * 100})
    gz = tmp_path / "g.fa.gz"
    pysam.tabix_compress(str(plain), str(gz))
    dc.Genome(gz)  # builds the index
    fai = Path(str(gz) + ".fai")
    os.utime(fai, (fai.stat().st_mtime - 100, fai.stat().st_mtime - 100))
    with pytest.raises(ValueError, match=r"older than .*g\.fa\.gz.*samtools faidx"):
        dc.Genome(gz)


def test_predict_on_loci_with_a_nan_start_names_the_row(trained):
    """The issue's case: a NaN start used to print as chr20:-9223372036854775808-600."""
    model = dc.DeepCAGE.load(trained["path"])
    loci = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [0, np.nan], "end": [200, 600]})
    genome = dc.Genome(trained["fasta"], name="synthetic")
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", RuntimeWarning
        )  # numpy's cast warning, raised before deepcage's check
        with pytest.raises(ValueError, match=r"position 1\) on chr1 has a missing \(NaN\) start") as err:
            dc.tl.predict(model, expr=trained["mdata"]["rna"], loci=loci, genome=genome, progress=False)
    assert "-9223372036854775808" not in str(err.value)


# ------------------------------------------------------------------------------------------------ issue 22, the rest:
# device and environment errors, interrupts, folder outputs, single cells, wrong-cause messages
# --- device options and devices (exit 2, one line that says what to do; before any data is read)
@pytest.mark.parametrize(
    ("options", "match"),
    [
        (["--devices", "0"], r"--devices 0: .*Give a positive number of CPU processes"),
        (["--devices", "abc"], r"--devices abc: .*Give "),
        (["--strategy", "foo"], r"--strategy foo: .*Use auto, ddp or ddp_spawn\."),
        (["--precision", "17"], r"--precision 17: Precision '17' is invalid.*Leave it out for the default"),
        (["--accelerator", "foo"], r"--accelerator foo: .*Use cpu, gpu, mps or auto\."),
    ],
    ids=["devices_0", "devices_text", "strategy", "precision", "accelerator"],
)
def test_cli_bad_trainer_options_are_usage_errors(tmp_path, capsys, monkeypatch, options, match):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(
        "deepcage.cli.read_data", lambda *a, **k: pytest.fail("read the data before the options")
    )
    data = _write(tmp_path / "data.h5ad", ["x"])
    code, err = _cli(["fit", data, tmp_path / "model", *options], capsys)
    assert code == 2, err
    assert re.search(match, err), err
    assert "raised inside a library" not in err and not (tmp_path / "model.checkpoints").exists()


@pytest.mark.parametrize("command", ["fit", "predict"])
def test_cli_gpu_accelerator_without_a_gpu_says_so(tmp_path, capsys, monkeypatch, command):
    """Once 'MisconfigurationException: No supported gpu backend found! (raised inside a library ...)', exit 1."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    data = _write(tmp_path / "data.h5ad", ["x"])
    args = (
        ["fit", data, tmp_path / "model"] if command == "fit" else ["predict", tmp_path, tmp_path / "p.h5ad"]
    )
    args += ["--accelerator", "gpu"] + (["--data", data, "--devices", "1"] if command == "predict" else [])
    code, err = _cli(args, capsys)
    assert code == 2, err
    assert "--accelerator gpu: no GPU is available on this machine" in err, err
    assert "Use --accelerator cpu" in err


def test_lightning_misconfiguration_inside_a_command_is_a_usage_error(capsys, monkeypatch):
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    from deepcage import cli

    def boom(args):
        raise MisconfigurationException(
            "`Trainer(devices=0)` value is not a valid input\n using cpu accelerator."
        )

    monkeypatch.setitem(cli._COMMANDS, "demo", boom)
    code, err = _cli(["demo"], capsys)
    assert code == 2 and "`Trainer(devices=0)` value is not a valid input using cpu accelerator." in err, err


def test_load_on_cuda_without_a_gpu_says_so_not_damaged(trained, monkeypatch):
    """Once reported as 'damaged model file' (torch's deserialisation error)."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match=r"map_location='cuda'\): this machine has no CUDA GPU") as err:
        dc.DeepCAGE.load(trained["path"], map_location="cuda")
    assert "damaged" not in str(err.value) and "map_location='cpu' (the default)" in str(err.value)
    with pytest.raises(ValueError, match=r"map_location='gpu0' is not a device"):
        dc.DeepCAGE.load(trained["path"], map_location="gpu0")
    model = dc.DeepCAGE.load(trained["path"], map_location=torch.device("cpu"))
    assert next(model.network.parameters()).device.type == "cpu"


# --- outputs that are folders: --overwrite replaces what the command writes, nothing else
def test_cli_fit_overwrite_refuses_a_folder_that_is_not_a_model(trained, tmp_path, capsys):
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("my work")
    data = tmp_path / "data.h5ad"
    trained["mdata"]["atac"].write_h5ad(data)
    code, err = _cli(["fit", data, project, "--overwrite"], capsys)
    assert code == 2 and re.search(r"project exists and is not a deepcage model folder.*notes\.txt", err), err
    assert (project / "notes.txt").read_text() == "my work"


def test_cli_predict_overwrite_replaces_a_track_folder_but_never_a_model(trained, rna_tsv, tmp_path, capsys):
    tracks = tmp_path / "tracks"
    tracks.mkdir()
    (tracks / "old_sample.bw").write_bytes(b"old track")
    args = ["predict", trained["path"], tracks, "--expr", rna_tsv, "--no-progress"]
    code, err = _cli(args, capsys)
    assert code == 2 and "tracks exists; pass --overwrite to replace it" in err, err
    code, err = _cli([*args, "--overwrite"], capsys)
    assert code == 0, err
    names = sorted(p.name for p in tracks.iterdir())
    assert "old_sample.bw" not in names and len(names) == 4 and all(n.endswith(".bw") for n in names), names
    assert not any(p.name.startswith(".tracks") for p in tmp_path.iterdir())  # no partial folder left
    # the model folder itself, or a folder with other files, is never replaced by tracks
    for folder, match in ((trained["path"], "holds a saved deepcage model"), (tmp_path, "other than bigWig")):
        code, err = _cli(["predict", trained["path"], folder, "--expr", rna_tsv, "--overwrite"], capsys)
        assert code == 2 and match in err, err
    assert (trained["path"] / "manifest.json").is_file()


# --- single cells where samples are expected
def _cells_table(n_cells: int = 300, seed: int = 0) -> pd.DataFrame:
    """scRNA-like counts: 10x barcodes as names, mostly zeros, a few hundred genes."""
    rng = np.random.default_rng(seed)
    barcodes = ["".join(rng.choice(list("ACGT"), 16)) + "-1" for _ in range(n_cells)]
    genes = ["TF1", "TF2", "TF3"] + [f"G{i}" for i in range(197)]
    values = rng.poisson(0.15, size=(n_cells, len(genes))).astype(float)
    values[:, -1] += 1  # no cell without counts
    return pd.DataFrame(values, index=barcodes, columns=genes)


def test_single_cells_given_as_samples_warn_once_and_point_to_pseudobulk(trained):
    """Once a 3,492-character warning listing 237 barcodes (the cells without TF counts)."""
    cells = _cells_table()
    with pytest.warns(UserWarning) as record:
        dc.pp.apply_tf_reference(cells, trained["model"].tf_reference)
    ours = [w for w in record if "pseudobulk" in str(w.message) or "express none" in str(w.message)]
    assert len(ours) == 1, [str(w.message) for w in ours]
    msg = str(ours[0].message)
    assert "300 samples look like single cells (named like cell barcodes" in msg
    assert "dc.pp.pseudobulk(cells, groupby='cell_type')" in msg and len(msg) < 600


def test_many_cells_named_plainly_are_recognised_by_their_zeros():
    table = _cells_table(n_cells=250).set_axis([f"cell{i}" for i in range(250)], axis=0)
    with pytest.warns(UserWarning, match=r"250 samples look like single cells \(\d+ % of their values are 0"):
        dc.pp.apply_tf_reference(table, {"tfs": ["TF1", "TF2", "TF3"], "quantiles": np.arange(3.0)})


def test_bulk_samples_do_not_warn_about_single_cells(atac):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dc.pp.tf_expression(atac, _expr_table(), tfs=["TF1", "TF2", "TF3"])


def test_many_silent_samples_are_listed_in_short():
    rng = np.random.default_rng(1)
    table = pd.DataFrame(
        rng.integers(1, 50, size=(40, 4)).astype(float),
        index=[f"s{i}" for i in range(40)],
        columns=list("ABCD"),
    )
    table["TF1"] = table["TF2"] = 0.0  # 40 bulk samples without TF counts: named in short
    with pytest.warns(UserWarning, match=r"express none of the 2 TFs") as record:
        dc.pp.apply_tf_reference(table, {"tfs": ["TF1", "TF2"], "quantiles": np.arange(2.0)})
    silent = next(str(w.message) for w in record if "express none" in str(w.message))
    assert "... (40 in all)" in silent and "s39" not in silent


def test_pbmc_cells_given_to_predict_warn_once(trained, shared_data):
    """The real 10x PBMC cells as 'new samples': one warning that points to pseudobulk."""
    import anndata

    cells = anndata.read_h5ad(shared_data / "pbmc-scrna" / "pbmc.h5ad")[:300].copy()
    cells = cells[:, [g for g in cells.var_names if not g.startswith("TF")]].copy()
    for i, tf in enumerate(trained["model"].tfs):  # the synthetic model's TFs, taken from three real genes
        cells.var_names = [tf if g == ("GATA1", "SPI1", "CEBPB")[i] else g for g in cells.var_names]
    with pytest.warns(UserWarning) as record:
        dc.pp.apply_tf_reference(cells, trained["model"].tf_reference)
    ours = [
        str(w.message) for w in record if "single cells" in str(w.message) or "express none" in str(w.message)
    ]
    assert len(ours) == 1 and "dc.pp.pseudobulk" in ours[0], ours


# --- messages that pointed to the wrong cause
def test_versioned_ensembl_ids_say_map_them_not_fill_missing():
    ids = [f"ENSG{i:011d}.{i % 20 + 1}" for i in range(30)]  # a small table: once "pass fill_missing=True"
    table = pd.DataFrame(np.arange(90.0).reshape(3, 30) + 1, index=["s1", "s2", "s3"], columns=ids)
    ref = {"tfs": ["GATA1", "SPI1", "CEBPA"], "quantiles": np.arange(3.0)}
    with pytest.raises(
        ValueError, match=r"genes are ids \(e\.g\. 'ENSG00000000000\.1', with version suffixes\)"
    ) as err:
        dc.pp.apply_tf_reference(table, ref)
    assert "fill_missing=True to treat" not in str(err.value) and "gene_names=" in str(err.value)
    with pytest.raises(ValueError, match=r"fill_missing=True would set every TF to 0"):
        dc.pp.apply_tf_reference(table, ref, fill_missing=True)


def test_most_tfs_missing_does_not_suggest_fill_missing():
    table = pd.DataFrame([[1.0, 2.0, 3.0]], index=["s1"], columns=["TF1", "OTHER", "GENE"])
    ref = {"tfs": ["TF1", "TF2", "TF3", "TF4"], "quantiles": np.arange(4.0)}
    with pytest.raises(ValueError, match=r"Most TFs are missing, so fill_missing=True would give them all 0"):
        dc.pp.apply_tf_reference(table, ref)


def test_vcf_position_past_the_contig_end_is_not_a_reference_mismatch(trained, tmp_path):
    genome = dc.Genome(trained["fasta"], name="synthetic")
    size = genome.chrom_size("chr1")
    f = _write(tmp_path / "v.vcf", [*_VCF, f"chr1\t{size + 5000}\tfar\tA\tG\t.\t.\t."])
    with pytest.raises(
        ValueError, match=rf"lies outside contig 'chr1': position {size + 5000:,}.*{size:,} bp"
    ) as err:
        dc.tl.variant_effect(trained["model"], f, genome=genome)
    assert "mismatch" not in str(err.value) and "another assembly" in str(err.value)


def test_atac_h5ad_given_as_expression(trained, tmp_path, capsys):
    atac = trained["mdata"]["atac"]
    with pytest.raises(ValueError, match=r"holds accessibility, not RNA: its 60 var are genomic loci"):
        dc.pp.apply_tf_reference(atac, trained["model"].tf_reference)
    path = tmp_path / "atac.h5ad"
    atac.write_h5ad(path)
    code, err = _cli(["predict", trained["path"], tmp_path / "p.h5ad", "--expr", path], capsys)
    assert code == 1 and "atac.h5ad holds accessibility, not RNA" in err and f"--data {path}" in err, err


def test_jaspar_tax_group_lists_the_valid_values():
    with pytest.raises(
        ValueError,
        match=r"tax_group='vertebrate' is not a JASPAR tax_group.*'vertebrates'.*Did you mean 'vertebrates'\?",
    ):
        dc.io.read_motifs("jaspar", tax_group="vertebrate")
    with pytest.raises(ValueError, match=r"collection='core' is not a JASPAR collection.*'CORE'"):
        dc.io.read_jaspar(collection="core")


def test_motif_scores_with_no_tfs_says_what_to_pass(trained):
    adata = trained["mdata"]["atac"].copy()
    motifs = dc.datasets.synthetic_motifs(adata)
    with pytest.raises(ValueError, match=r"tfs=\[\] selects no TF to score\. Pass tfs=None for every TF"):
        dc.pp.motif_scores(adata, motifs, genome=trained["fasta"], tfs=[], progress=False)
    one = dc.pp.motif_scores(adata, motifs, genome=trained["fasta"], tfs="TF1", progress=False, copy=True)
    assert list(one.varm["motif_scores"].columns) == ["TF1"]  # a single name, not its letters


def test_plain_fasta_without_index_in_a_read_only_folder(tmp_path, monkeypatch):
    import pyfaidx

    fasta = _fasta(tmp_path / "ro.fa", {"chr1": _random_seq(300)})

    def read_only(self, *a, **k):
        raise PermissionError(13, "Permission denied", self.indexname)

    monkeypatch.setattr(pyfaidx.Faidx, "_open_fai", read_only)
    with pytest.raises(ValueError, match=r"ro\.fa has no index.*not writable.*samtools faidx") as err:
        dc.Genome(fasta).fetch("chr1", 0, 10)
    assert "rebuild=False" not in str(err.value)
