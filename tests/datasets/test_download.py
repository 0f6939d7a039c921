"""The download path of the example data, offline: a local HTTP server (or file://) plays the public origins.

The origin files are rebuilt from ``shared/data`` the way they are published (whole-genome peak files, the
16-population RNA table, whole UCSC chromosomes as plain gzip with soft-masked bases, gzipped blacklists), so
the registry's makers are tested on what they will meet, and their output must equal the example copies.
"""

from __future__ import annotations

import gzip
import http.server
import shutil
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

import deepcage as dc
from deepcage.datasets._registry import _HEME_RNA_COLUMNS, DATA_FILES

_ORIGIN_RNA = (*_HEME_RNA_COLUMNS[:9], "NK", "CD4", "CD8", "B", "pDC", "Mono", "Ery")  # as published


def _write_chromosome(path: Path, name: str, codes: np.ndarray) -> None:
    """A UCSC-style chromosome file: plain gzip, 50 bases a line, repeats soft-masked (lowercase)."""
    seq = bytearray(np.frombuffer(b"ACGTN", dtype=np.uint8)[codes].tobytes())
    seq[100_000:150_000] = seq[100_000:150_000].lower()
    lines = b"\n".join(bytes(seq[i : i + 50]) for i in range(0, len(seq), 50))
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(b">" + name.encode() + b"\n" + lines + b"\n")


def _make_origin(shared: Path, folder: Path) -> None:
    """Every registry download, rebuilt from the example copies as its origin publishes it."""
    folder.mkdir(parents=True, exist_ok=True)
    hg19 = dc.Genome([shared / "genome/hg19_chr20_slices.fa.gz", shared / "genome/b37_20_1-1Mb.fa.gz"])
    hg38 = dc.Genome(shared / "genome/hg38_chr20_chr21_1-10Mb.fa.gz")
    for entry in DATA_FILES.values():
        local = shared / entry.path
        for source in entry.sources:
            out = folder / source.fname
            if out.exists():
                continue
            if source.fname.startswith("ucsc-hg19-chr20"):
                _write_chromosome(out, "chr20", hg19.codes("chr20"))
            elif source.fname.startswith("ucsc-hg38-chr"):
                chrom = source.fname.split("-")[2].split(".")[0]
                _write_chromosome(out, chrom, hg38.codes(chrom))
            elif entry.path.startswith("heme-hg19/peaks/"):  # published for the whole genome
                with gzip.open(local, "rb") as fh:
                    body = fh.read()
                with gzip.open(out, "wb") as fh:
                    fh.write(b"chr1\t100\t400\tp1\t10\t.\t2.0\t3.0\t1.0\t50\n" + body)
                    fh.write(b"chr21\t100\t400\tp2\t10\t.\t2.0\t3.0\t1.0\t50\n")
            elif entry.path == "heme-hg19/rna_counts.tsv":  # published with 16 populations
                rows = [line.split("\t") for line in local.read_text().splitlines()]
                with open(out, "w") as fh:
                    for row in rows:
                        by_name = dict(zip(("Genes", *_HEME_RNA_COLUMNS), row))
                        fh.write("\t".join([row[0]] + [by_name.get(c, "7") for c in _ORIGIN_RNA]) + "\n")
            elif source.url.endswith(".bed.gz"):  # blacklists are published gzipped
                with open(local, "rb") as src, gzip.open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            elif local.exists():
                shutil.copyfile(local, out)


@pytest.fixture(scope="module")
def origin(shared_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("origin")
    _make_origin(shared_data, folder)
    return folder


@pytest.fixture(scope="module")
def server(origin):
    """``http://127.0.0.1:<port>`` serving the origin folder, in a thread; closed after the module."""
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(origin))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def away(tmp_path, monkeypatch):
    """A user outside the repository: no shared/data above the cwd, an empty cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEEPCAGE_SHARED_DATA", raising=False)
    monkeypatch.setenv("DEEPCAGE_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.slow
def test_heme_downloads_over_http_and_builds_the_same_dataset(
    shared_data, server, away, monkeypatch, tiny_motifs
):
    monkeypatch.setenv("DEEPCAGE_DATA_MIRROR", server)
    d = dc.datasets.download("heme", progress=False)
    assert d == dc.datasets.data_dir() == away / "cache" / "data"
    for name in dc.datasets._registry.DATASET_FILES["heme"]:
        made, local = d / name, shared_data / name
        if name.endswith(".narrowPeak.gz"):
            assert gzip.open(made).read() == gzip.open(local).read(), name  # chr20 lines only, as published
        elif not name.startswith("genome/"):
            assert made.read_bytes() == local.read_bytes(), name
    # the sliced references rebuilt from whole (soft-masked) chromosomes: the same contigs, lengths and bases
    for name in ("genome/hg19_chr20_slices.fa.gz", "genome/b37_20_1-1Mb.fa.gz"):
        made, local = dc.Genome(d / name), dc.Genome(shared_data / name)
        assert made.chrom_sizes == local.chrom_sizes
        for chrom in made.chroms:
            np.testing.assert_array_equal(made.codes(chrom), local.codes(chrom))
    assert dc.datasets.shared_data_dir() == d  # tutorials that read files from the folder find it

    got = dc.datasets.heme(motifs=tiny_motifs, cache=False, progress=False)
    want = dc.datasets.heme(shared_data, motifs=tiny_motifs, cache=False, progress=False)
    assert got.shape == want.shape == (10, 11_325)
    assert (got.var_names == want.var_names).all()
    np.testing.assert_array_equal(got.layers["binary"], want.layers["binary"])
    np.testing.assert_allclose(got.varm["motif_scores"].to_numpy(), want.varm["motif_scores"].to_numpy())
    np.testing.assert_allclose(got.obsm["tf_expr"].to_numpy(), want.obsm["tf_expr"].to_numpy())
    assert (got.var["split"] == want.var["split"]).all()


def test_hg38_reference_is_rebuilt_from_ucsc_chromosomes(shared_data, server, away, monkeypatch):
    monkeypatch.setenv("DEEPCAGE_DATA_MIRROR", server)
    path = dc.datasets.fetch("genome/hg38_chr20_chr21_1-10Mb.fa.gz", progress=False)
    made, local = dc.Genome(path), dc.Genome(shared_data / "genome/hg38_chr20_chr21_1-10Mb.fa.gz")
    assert made.chrom_sizes == local.chrom_sizes == {"chr20": 10_000_000, "chr21": 10_000_000}
    for chrom in ("chr20", "chr21"):
        np.testing.assert_array_equal(made.codes(chrom), local.codes(chrom))


def test_pinned_hashes_and_file_mirror(shared_data, origin, away, monkeypatch, tmp_path):
    name = "expression/encode_tf_tpm.tsv"
    assert DATA_FILES[name].identical and DATA_FILES[name].sources[0].sha256
    monkeypatch.setenv("DEEPCAGE_DATA_MIRROR", origin.as_uri())  # file://
    tpm = dc.datasets.encode_tf_tpm()  # fetched, hash checked
    assert tpm.shape == (55, 678)
    assert (dc.datasets.data_dir() / name).read_bytes() == (shared_data / name).read_bytes()

    # a changed file at the origin is refused, whatever the transport
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / DATA_FILES[name].sources[0].fname).write_text("#cell\tAR\n1\t2.0\n")
    monkeypatch.setenv("DEEPCAGE_CACHE", str(tmp_path / "cache2"))
    monkeypatch.setenv("DEEPCAGE_DATA_MIRROR", bad.as_uri())
    with pytest.raises(FileNotFoundError, match="sha256"):
        dc.datasets.fetch(name, progress=False)


def test_without_network_the_error_says_which_file_and_where_to_put_it(away, monkeypatch):
    monkeypatch.setenv("DEEPCAGE_DATA_MIRROR", "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(FileNotFoundError) as err:
        dc.datasets.fetch("heme-hg19/rna_counts.tsv", progress=False)
    msg = str(err.value)
    assert "'heme-hg19/rna_counts.tsv'" in msg
    assert "16populations_RNAcounts.txt" in msg  # the public URL to get by hand
    assert str(away / "cache" / "downloads" / "bloodtraits-16populations_RNAcounts.txt") in msg
    assert str(away / "cache" / "data" / "heme-hg19" / "rna_counts.tsv") in msg
    with pytest.raises(FileNotFoundError, match="could not be downloaded"):
        dc.datasets.heme(progress=False)
    with pytest.raises(KeyError, match="not an example data file"):
        dc.datasets.fetch("heme-hg19/nothing.tsv")


def test_the_local_copy_comes_first(shared_data, away, monkeypatch):
    monkeypatch.setenv("DEEPCAGE_DATA_MIRROR", "http://127.0.0.1:9")  # a download would fail
    assert (
        dc.datasets.fetch("heme-hg19/rna_counts.tsv", path=shared_data)
        == shared_data / "heme-hg19/rna_counts.tsv"
    )
    monkeypatch.setenv("DEEPCAGE_SHARED_DATA", str(shared_data))
    assert dc.datasets.download("tutorials") == shared_data
    assert dc.datasets.fetch("annotation/hg19ToHg38.over.chain.gz").parent == shared_data / "annotation"


def test_registry_lists_every_file_with_its_source():
    reg = dc.datasets.registry()
    assert set(reg.index) == set(DATA_FILES)
    assert reg["url"].str.startswith("https://").all()
    pinned = reg[reg["identical"]]
    assert len(pinned) == 4 and (pinned["sha256"].str.len() == 64).all()
    assert (reg.loc[~reg["identical"], "note"].str.len() > 0).all()  # each unpinned file says why
    for files in dc.datasets._registry.DATASET_FILES.values():
        assert set(files) <= set(DATA_FILES)
