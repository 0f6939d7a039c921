from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import deepcage as dc


def _metadata():
    rows = [
        # accession, format, output type, assay, biosample, assembly, status
        ("ENCFF001AAA", "bed narrowPeak", "peaks", "DNase-seq", "K562", "hg19", "released"),
        ("ENCFF002AAA", "bed narrowPeak", "peaks", "DNase-seq", "K562", "hg19", "released"),
        ("ENCFF003AAA", "tsv", "gene quantifications", "polyA plus RNA-seq", "K562", "hg19", "released"),
        ("ENCFF004AAA", "bam", "alignments", "DNase-seq", "K562", "hg19", "released"),
        ("ENCFF005AAA", "bed narrowPeak", "peaks", "DNase-seq", "HepG2", "hg19", "released"),  # no RNA
        ("ENCFF006AAA", "tsv", "gene quantifications", "polyA plus RNA-seq", "GM12878", "hg19", "released"),
        (
            "ENCFF007AAA",
            "bed narrowPeak",
            "peaks",
            "DNase-seq",
            "GM12878",
            "GRCh38",
            "released",
        ),  # other assembly
        ("ENCFF008AAA", "bed narrowPeak", "peaks", "DNase-seq", "K562", "hg19", "revoked"),
    ]
    cols = [
        "File accession",
        "File format",
        "Output type",
        "Assay",
        "Biosample term name",
        "File assembly",
        "File Status",
    ]
    return pd.DataFrame(rows, columns=cols)


def test_encode_files_keeps_cell_types_with_both_assays():
    files = dc.datasets.encode_files(_metadata())
    assert set(files["cell_type"]) == {"K562"}
    assert sorted(files["accession"]) == ["ENCFF001AAA", "ENCFF002AAA", "ENCFF003AAA"]
    url = files.set_index("accession").loc["ENCFF003AAA", "url"]
    assert url == "https://www.encodeproject.org/files/ENCFF003AAA/@@download/ENCFF003AAA.tsv"
    with pytest.raises(ValueError, match="HepG2"):
        dc.datasets.encode_files(_metadata(), cell_types=["HepG2"])
    with pytest.raises(ValueError, match="lacks columns"):
        dc.datasets.encode_files(pd.DataFrame({"a": [1]}))


def test_encode_downloads_through_pooch(monkeypatch, tmp_path):
    import pooch

    calls = []

    def fake_retrieve(url, known_hash, fname, path, progressbar=True, **kw):
        calls.append(url)
        out = Path(path) / fname
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("x")
        return str(out)

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    got = dc.datasets.encode(metadata=_metadata(), cache_dir=tmp_path)
    assert sorted(p.name for p in got["peaks"]["K562"]) == ["ENCFF001AAA.bed.gz", "ENCFF002AAA.bed.gz"]
    assert [p.name for p in got["rna"]["K562"]] == ["ENCFF003AAA.tsv"]
    assert len(calls) == 3 and all(u.startswith("https://www.encodeproject.org/files/") for u in calls)


def test_fetch_genome_unknown_name():
    with pytest.raises(ValueError, match=r"Unknown genome 'hg42'.*dc.Genome"):
        dc.datasets.fetch_genome("hg42")


def test_encode_tf_tpm_merges_identical_columns(shared_data):
    tpm = dc.datasets.encode_tf_tpm(shared_data / "expression" / "encode_tf_tpm.tsv")
    assert tpm.shape == (55, 678)
    assert tpm.var_names.is_unique and "AR" in tpm.var_names and "GATA1" in tpm.var_names
    assert np.isfinite(tpm.X).all() and tpm.uns["units"] == "tpm"


def test_encode_tf_tpm_rejects_conflicting_duplicates(tmp_path):
    path = tmp_path / "tpm.tsv"
    path.write_text("#cell\tAR\tAR\tGATA1\n1\t1.0\t2.0\t3.0\n")
    with pytest.raises(ValueError, match="columns of TF 'AR' differ"):
        dc.datasets.encode_tf_tpm(path)
