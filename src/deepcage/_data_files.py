"""Where the example data come from: one registry of public URLs (and hashes), a local-first fetcher (pooch).

A leaf module (it imports nothing of deepcage), so that ``dc.pp.liftover`` can fetch a named chain file and
``dc.datasets`` can build datasets with ``dc.pp`` without an import circle; ``deepcage.datasets._registry``
re-exports it.

The example data folder (``shared/data`` in the repository, or the download folder in the deepcage cache) has
one layout; every file in it is listed here with the public file(s) it is made from and how. A file is taken
from a local copy of the folder when there is one, else from the cache, else downloaded and made once.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DATA_FILES",
    "DATASET_FILES",
    "DataFile",
    "Source",
    "data_dir",
    "download",
    "fetch",
    "registry",
]

log = logging.getLogger(__name__)

_BLOODTRAITS = "https://raw.githubusercontent.com/caleblareau/singlecell_bloodtraits/{commit}/{path}"
_DEEPCAGE = "https://raw.githubusercontent.com/kimmo1019/DeepCAGE/{commit}/{path}"
_GRELU = "https://raw.githubusercontent.com/Genentech/gReLU/{commit}/src/grelu/resources/{path}"
_BLACKLIST = "https://raw.githubusercontent.com/Boyle-Lab/Blacklist/d0527cdea356bf57d30535b48783804ca8d21031/lists/{name}"
_UCSC = "https://hgdownload.soe.ucsc.edu/goldenPath/{path}"


@dataclass(frozen=True)
class Source:
    """A public file as published: its URL, a file name in the download folder and (when pinned) its sha256."""

    fname: str
    url: str
    sha256: str | None = None


@dataclass(frozen=True)
class DataFile:
    """One file of the example data folder: the public file(s) it is made from, and how.

    ``identical`` says whether the example copy in ``shared/data`` is byte-identical to the download (then the
    download is pinned by its sha256); ``note`` says what differs otherwise.
    """

    path: str
    sources: tuple[Source, ...]
    make: Callable[[Sequence[Path], Path], None] | None = None  # None: the download itself
    identical: bool = False
    note: str = ""
    origin: str = ""


# ------------------------------------------------------------------------------------------------ makers
def _gunzip(raw: Sequence[Path], out: Path) -> None:
    with gzip.open(raw[0], "rb") as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


def _keep_contigs(contigs: Iterable[str]):
    prefixes = tuple(f"{c}\t".encode() for c in contigs)

    def make(raw: Sequence[Path], out: Path) -> None:
        with gzip.open(raw[0], "rb") as src, gzip.GzipFile(out, "wb", mtime=0) as dst:
            for line in src:
                if line.startswith(prefixes):
                    dst.write(line)

    return make


def _keep_columns(columns: Sequence[str]):
    """Keep the first column (gene) and the named columns of a tab-separated table, byte for byte."""

    def make(raw: Sequence[Path], out: Path) -> None:
        with open(raw[0], "rb") as src, open(out, "wb") as dst:
            header = src.readline().rstrip(b"\r\n").split(b"\t")
            names = [h.decode() for h in header]
            missing = [c for c in columns if c not in names]
            if missing:
                raise ValueError(f"{raw[0]}: columns {missing} not found (it has {names}).")
            idx = [0] + [names.index(c) for c in columns]
            dst.write(b"\t".join(header[i] for i in idx) + b"\n")
            for line in src:
                fields = line.rstrip(b"\r\n").split(b"\t")
                dst.write(b"\t".join(fields[i] for i in idx) + b"\n")

    return make


def _read_fasta_contig(path: Path) -> tuple[str, bytes]:
    """The single contig of a (plain or gzip) FASTA file, uppercase (UCSC soft-masking dropped)."""
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    header, _, body = data.partition(b"\n")
    if not header.startswith(b">") or b">" in body:
        raise ValueError(f"{path}: expected a FASTA file with exactly one contig.")
    return header[1:].split()[0].decode(), body.replace(b"\n", b"").replace(b"\r", b"").upper()


def _fasta_slice(
    contigs: Sequence[tuple[str, int, int | None, Sequence[tuple[int, int]] | None]], width: int
):
    """Write bgzip FASTA contigs from single-contig downloads: ``(name, source index, length, keep)``.

    ``length`` truncates the contig (None keeps its length); ``keep`` lists the stretches whose bases are kept,
    everything else becomes N (None keeps all). This rebuilds the sliced references of the example data from
    whole UCSC chromosomes, base for base.
    """

    def make(raw: Sequence[Path], out: Path) -> None:
        from Bio import bgzf

        with bgzf.BgzfWriter(str(out), "wb") as dst:
            for name, i, length, keep in contigs:
                _, seq = _read_fasta_contig(raw[i])
                seq = seq[:length] if length is not None else seq
                if keep is not None:
                    masked = bytearray(b"N" * len(seq))
                    for lo, hi in keep:
                        masked[lo:hi] = seq[lo:hi]
                    seq = bytes(masked)
                text = b">" + name.encode() + b"\n"
                text += b"\n".join(seq[j : j + width] for j in range(0, len(seq), width)) + b"\n"
                for j in range(0, len(text), 1 << 16):  # BgzfWriter copies its whole buffer per block
                    dst.write(text[j : j + (1 << 16)])

    return make


# ------------------------------------------------------------------------------------------------ registry
#: Peak files of the blood-cell example: the cell type -> (commit, file name) in caleblareau/singlecell_bloodtraits.
_HEME_PEAKS = {
    "HSC": ("d39605213f0ec1609dedfbf64ac7a859a6a29bf9", "data/bulk/ATAC/narrowpeaks/HSC_peaks.narrowPeak.gz"),
    "MPP": ("1da2a246b6f1ad13e8bfcbd424080f8ea5917c86", "data/for_LR/narrowpeaks/MPP_peaks.narrowPeak.gz"),
    "LMPP": ("1da2a246b6f1ad13e8bfcbd424080f8ea5917c86", "data/for_LR/narrowpeaks/LMPP_peaks.narrowPeak.gz"),
    "CLP": ("d39605213f0ec1609dedfbf64ac7a859a6a29bf9", "data/bulk/ATAC/narrowpeaks/CLP_peaks.narrowPeak.gz"),
    "GMP-A": (
        "b0c248151a0fb6c6652e5a5582498aa4dc8e908d",
        "data/bulk/ATAC/narrowpeaks/GMP-A_peaks.narrowPeak.gz",
    ),
    "GMP-B": (
        "b0c248151a0fb6c6652e5a5582498aa4dc8e908d",
        "data/bulk/ATAC/narrowpeaks/GMP-B_peaks.narrowPeak.gz",
    ),
    "GMP-C": (
        "b0c248151a0fb6c6652e5a5582498aa4dc8e908d",
        "data/bulk/ATAC/narrowpeaks/GMP-C_peaks.narrowPeak.gz",
    ),
    "CD4": ("1da2a246b6f1ad13e8bfcbd424080f8ea5917c86", "data/for_LR/narrowpeaks/CD4_peaks.narrowPeak.gz"),
    "CD8": ("d39605213f0ec1609dedfbf64ac7a859a6a29bf9", "data/bulk/ATAC/narrowpeaks/CD8_peaks.narrowPeak.gz"),
    "pDC": ("1da2a246b6f1ad13e8bfcbd424080f8ea5917c86", "data/for_LR/narrowpeaks/pDC_peaks.narrowPeak.gz"),
    "Mega": (
        "d39605213f0ec1609dedfbf64ac7a859a6a29bf9",
        "data/bulk/ATAC/narrowpeaks/MEGA_peaks.narrowPeak.gz",
    ),
    "mDC": ("d39605213f0ec1609dedfbf64ac7a859a6a29bf9", "data/bulk/ATAC/narrowpeaks/mDC_peaks.narrowPeak.gz"),
}
#: RNA populations kept in the example table (the origin has 16: also NK, B, Mono, Ery).
_HEME_RNA_COLUMNS = (
    "HSC",
    "MPP",
    "LMPP",
    "CLP",
    "GMP-A",
    "GMP-B",
    "GMP-C",
    "CMP",
    "MEP",
    "CD4",
    "CD8",
    "pDC",
)
_BLOODTRAITS_NOTE = "Ulirsch, Lareau et al. 2019 (Corces et al. 2016, GEO GSE74912/GSE74246); no licence file"


def _ucsc_chromosome(assembly: str, chrom: str) -> Source:
    return Source(
        f"ucsc-{assembly}-{chrom}.fa.gz", _UCSC.format(path=f"{assembly}/chromosomes/{chrom}.fa.gz")
    )


def _blacklist(assembly: str) -> DataFile:
    name = f"{assembly}-blacklist.v2.bed"
    return DataFile(
        f"annotation/{name}",
        (Source(f"boyle-{name}.gz", _BLACKLIST.format(name=f"{name}.gz")),),
        make=_gunzip,
        note="decompressed",
        origin="ENCODE blacklist v2, Amemiya et al. 2019 (Boyle-Lab/Blacklist)",
    )


def _chain(source: str, target: str, note: str) -> DataFile:
    name = f"{source}To{target[0].upper()}{target[1:]}.over.chain.gz"
    return DataFile(
        f"annotation/{name}",
        (Source(f"ucsc-{name}", _UCSC.format(path=f"{source}/liftOver/{name}")),),
        note=note,
        origin="UCSC liftOver chains",
    )


def _entries() -> list[DataFile]:
    out = []
    for cell, (commit, path) in _HEME_PEAKS.items():
        out.append(
            DataFile(
                f"heme-hg19/peaks/{cell}.narrowPeak.gz",
                (Source(f"bloodtraits-{Path(path).name}", _BLOODTRAITS.format(commit=commit, path=path)),),
                make=_keep_contigs(["chr20"]),
                note="chr20 lines only (the published file covers the whole genome)",
                origin=_BLOODTRAITS_NOTE,
            )
        )
    hg19_chr20 = _ucsc_chromosome("hg19", "chr20")
    out += [
        DataFile(
            "heme-hg19/rna_counts.tsv",
            (
                Source(
                    "bloodtraits-16populations_RNAcounts.txt",
                    _BLOODTRAITS.format(
                        commit="95bd44befbf6cd813bf6b08280ff8b6073023f53",
                        path="data/bulk/RNA/16populations_RNAcounts.txt",
                    ),
                ),
            ),
            make=_keep_columns(_HEME_RNA_COLUMNS),
            note="12 of the 16 populations (NK, B, Mono and Ery left out)",
            origin=_BLOODTRAITS_NOTE,
        ),
        DataFile(
            "genome/hg19_chr20_slices.fa.gz",
            (hg19_chr20,),
            make=_fasta_slice([("chr20", 0, None, [(9_995_000, 11_095_000), (59_776_000, 60_001_000)])], 50),
            note="UCSC hg19 chr20, bases kept only in 9,995,000-11,095,000 and 59,776,000-60,001,000 (bgzip)",
            origin="UCSC hg19 (GRCh37); the example copy: google/deepvariant test data (BSD-3-Clause)",
        ),
        DataFile(
            "genome/b37_20_1-1Mb.fa.gz",
            (hg19_chr20,),
            make=_fasta_slice([("20", 0, None, [(0, 1_000_000)])], 60),
            note="UCSC hg19 chr20 renamed '20' (b37 naming), bases kept only in the first 1 Mb (bgzip)",
            origin="UCSC hg19 (GRCh37); the example copy: google/deepvariant test data (BSD-3-Clause)",
        ),
        DataFile(
            "genome/hg38_chr20_chr21_1-10Mb.fa.gz",
            (_ucsc_chromosome("hg38", "chr20"), _ucsc_chromosome("hg38", "chr21")),
            make=_fasta_slice([("chr20", 0, 10_000_000, None), ("chr21", 1, 10_000_000, None)], 60),
            note="UCSC hg38 chr20 and chr21, each cut to its first 10 Mb (bgzip)",
            origin="UCSC hg38 (GRCh38); the example copy: google/deepvariant test data (BSD-3-Clause)",
        ),
        _blacklist("hg19"),
        _blacklist("hg38"),
        _chain(
            "hg19",
            "hg38",
            note="the example copy is re-compressed (same chains, other gzip bytes): not pinned",
        ),
        _chain("hg38", "hg19", note="not in the example data folder (download only)"),
        DataFile(
            "annotation/refGene_hg19_TSS.bed",
            (
                Source(
                    "bloodtraits-refGene_hg19_TSS.bed",
                    _BLOODTRAITS.format(
                        commit="b2e5d1fef3147285fd5bf2633fde43b55b940617",
                        path="data/bulk/RNA/refGene_hg19_TSS.bed",
                    ),
                    "ee9da75d951261e5f5ee6d4d800c74f670115c58182cbc8457a1f430c887e675",
                ),
            ),
            identical=True,
            origin="RefSeq hg19 TSS via caleblareau/singlecell_bloodtraits",
        ),
        DataFile(
            "motifs/HOCOMOCOv11_core_HUMAN_mono_homer_format_0.001.motif",
            (
                Source(
                    "hocomoco11-HOCOMOCOv11_core_HUMAN_mono_homer_format_0.001.motif",
                    "https://hocomoco11.autosome.org/final_bundle/hocomoco11/core/HUMAN/mono/"
                    "HOCOMOCOv11_core_HUMAN_mono_homer_format_0.001.motif",
                ),
            ),
            note="from the HOCOMOCO v11 bundle; not compared byte for byte with the example copy, so not pinned",
            origin="HOCOMOCO v11 (Kulakovskiy et al. 2018), as used by kimmo1019/DeepCAGE",
        ),
        DataFile(
            "motifs/HOCOMOCOv11_HUMAN_mono_motifs_core.tsv",
            (
                Source(
                    "deepcage-HUMAN_mono_motifs_core.tsv",
                    _DEEPCAGE.format(
                        commit="4f61880c3a032c1bf7da94ec2be8b52772a1c520",
                        path="data/motif_db/HOCOMOCO/HUMAN_mono_motifs_core.tsv",
                    ),
                    "d3d1a03993969f4ca8d009c1760aa0cafe09ab16070e12d09e9cdd764a263ec5",
                ),
            ),
            identical=True,
            origin="HOCOMOCO v11 motif table via kimmo1019/DeepCAGE (MIT)",
        ),
        DataFile(
            "motifs/HOCOMOCOv12_core.meme",
            (
                Source(
                    "grelu-H12CORE_meme_format.meme",
                    _GRELU.format(
                        commit="efd30819a894c10d7dfda2a111f85825240d52c9",
                        path="meme/H12CORE_meme_format.meme",
                    ),
                ),
            ),
            note="the example copy lacks the final blank line of the published file, so the download is not pinned",
            origin="HOCOMOCO v12 via Genentech/gReLU resources (MIT)",
        ),
        DataFile(
            "motifs/JASPAR2024_consensus.meme",
            (
                Source(
                    "grelu-jaspar_2024_consensus.meme",
                    _GRELU.format(
                        commit="44af047f31ce6d74132c82cefdf5c4fb245cfc07",
                        path="meme/jaspar_2024_consensus.meme",
                    ),
                ),
            ),
            note="the example copy lacks the final blank line of the published file, so the download is not pinned",
            origin="JASPAR 2024 (CC BY 4.0) clustered motifs via Genentech/gReLU resources",
        ),
        DataFile(
            "expression/encode_tf_tpm.tsv",
            (
                Source(
                    "deepcage-tf_gexp_matrix.txt",
                    _DEEPCAGE.format(
                        commit="4f61880c3a032c1bf7da94ec2be8b52772a1c520",
                        path="data/processed_RNA_DNase/tf_gexp_matrix.txt",
                    ),
                    "c52bd87af1437c845be6a34f18397f4ef9e0dd026fd8232cd2acd9d66bb2e870",
                ),
            ),
            identical=True,
            origin="kimmo1019/DeepCAGE (MIT)",
        ),
        DataFile(
            "expression/encode_cells.txt",
            (
                Source(
                    "deepcage-cells.txt",
                    _DEEPCAGE.format(
                        commit="030bf557405e289c2dde9ea24e2c5c25a94f3c96", path="data/cells.txt"
                    ),
                    "cb989ecf30f8a7f1eb1befdaa172e06671fe49231ec27354dcad1cc59391d13b",
                ),
            ),
            identical=True,
            origin="kimmo1019/DeepCAGE (MIT)",
        ),
    ]
    return out


#: Every file of the example data folder, by its path in the folder.
DATA_FILES: dict[str, DataFile] = {f.path: f for f in _entries()}

_MOTIF_FILES = [
    "motifs/HOCOMOCOv11_core_HUMAN_mono_homer_format_0.001.motif",
    "motifs/HOCOMOCOv11_HUMAN_mono_motifs_core.tsv",
]
_HEME_COMMON = [f"heme-hg19/peaks/{c}.narrowPeak.gz" for c in _HEME_PEAKS] + ["heme-hg19/rna_counts.tsv"]
#: The files each dataset (or tutorial) needs; ``dc.datasets.download(name)`` fetches them.
DATASET_FILES: dict[str, list[str]] = {
    "heme": _HEME_COMMON
    + [
        "genome/hg19_chr20_slices.fa.gz",
        "genome/b37_20_1-1Mb.fa.gz",
        "annotation/hg19-blacklist.v2.bed",
        *_MOTIF_FILES,
    ],
    "heme-hg38": _HEME_COMMON
    + [
        "genome/hg38_chr20_chr21_1-10Mb.fa.gz",
        "annotation/hg38-blacklist.v2.bed",
        "annotation/hg19ToHg38.over.chain.gz",
        *_MOTIF_FILES,
    ],
    "encode": ["expression/encode_tf_tpm.tsv", "expression/encode_cells.txt", *_MOTIF_FILES],
}
# the blood-cell tutorial also ranks TFs around a gene (TSS table) and matches filters to JASPAR
DATASET_FILES["tutorials"] = list(
    dict.fromkeys(
        DATASET_FILES["heme"]
        + DATASET_FILES["encode"]
        + ["annotation/refGene_hg19_TSS.bed", "motifs/JASPAR2024_consensus.meme"]
    )
)
DATASET_FILES["all"] = list(DATA_FILES)


def registry():
    """The data registry as a table: each file of the example data folder, its public source(s) and hashes.

    Returns
    -------
    DataFrame indexed by the file's path in the data folder, with ``url`` (several URLs joined by spaces),
    ``sha256`` (of the download, when pinned), ``identical`` (the example copy is the published file byte for
    byte), ``note`` (how the file is made from the download) and ``origin`` (who published it, licence).

    Examples
    --------
    >>> dc.datasets.registry().loc["expression/encode_tf_tpm.tsv", "url"]
    'https://raw.githubusercontent.com/kimmo1019/DeepCAGE/4f61880c3a032c1bf7da94ec2be8b52772a1c520/data/processed_RNA_DNase/tf_gexp_matrix.txt'
    """
    import pandas as pd

    rows = {
        f.path: {
            "url": " ".join(s.url for s in f.sources),
            "sha256": " ".join(s.sha256 or "-" for s in f.sources),
            "identical": f.identical,
            "note": f.note,
            "origin": f.origin,
        }
        for f in DATA_FILES.values()
    }
    return pd.DataFrame.from_dict(rows, orient="index")


# ------------------------------------------------------------------------------------------------ fetching
def cache_dir() -> Path:
    """The deepcage cache folder: ``$DEEPCAGE_CACHE`` or the user cache (pooch's ``os_cache('deepcage')``)."""
    import pooch

    return Path(os.environ.get("DEEPCAGE_CACHE", pooch.os_cache("deepcage")))


def data_dir() -> Path:
    """The download folder: the example data folder's layout inside the deepcage cache (``<cache>/data``)."""
    return cache_dir() / "data"


def _candidate_folders(path: str | os.PathLike | None = None) -> list[Path]:
    """Where a local example data folder may be: ``path``, ``$DEEPCAGE_SHARED_DATA``, ``shared/data`` above the cwd."""
    candidates = []
    if path is not None:
        candidates.append(Path(path))
    if os.environ.get("DEEPCAGE_SHARED_DATA"):
        candidates.append(Path(os.environ["DEEPCAGE_SHARED_DATA"]))
    here = Path.cwd().resolve()
    candidates += [parent / "shared" / "data" for parent in (here, *here.parents)]
    return candidates


def _local_folders(path) -> list[Path]:
    return [p for p in _candidate_folders(path) if p.is_dir()]


def _url(source: Source) -> str:
    mirror = os.environ.get("DEEPCAGE_DATA_MIRROR")
    return f"{mirror.rstrip('/')}/{source.fname}" if mirror else source.url


def _show_progress(progress: bool | None) -> bool:
    """``progress``, ``None`` following ``dc.settings.verbosity`` (looked up, not imported: this registry imports
    nothing of deepcage, so that pp.liftover can fetch chains without the rest)."""
    if progress is not None:
        return bool(progress)
    settings = sys.modules.get("deepcage._settings")
    return settings is None or settings.show_progress(None)


def _retrieve(source: Source, entry: DataFile, progress: bool) -> Path:
    """The raw download of ``source`` in ``<cache>/downloads`` (pooch: resumes nothing, verifies the hash)."""
    import pooch

    folder = cache_dir() / "downloads"
    url = _url(source)
    try:
        if url.startswith("file://"):  # a local mirror (pooch speaks http, https, ftp and doi only)
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / source.fname
            if not target.exists():
                shutil.copyfile(url[len("file://") :], target)
            if source.sha256 and pooch.file_hash(str(target)) != source.sha256:
                target.unlink()
                raise ValueError(f"sha256 of {url} is not the registry's {source.sha256}")
            return target
        return Path(
            pooch.retrieve(
                url,
                known_hash=f"sha256:{source.sha256}" if source.sha256 else None,
                fname=source.fname,
                path=folder,
                progressbar=_show_progress(progress),
            )
        )
    except Exception as err:
        made = data_dir() / entry.path
        raise FileNotFoundError(
            f"The example data file {entry.path!r} is not here and could not be downloaded from {url} "
            f"({type(err).__name__}: {_short(err)}). Without internet: download {source.url} elsewhere and put it at "
            f"{folder / source.fname}, or put the finished file at {made} (or a copy of the whole example data "
            "folder at $DEEPCAGE_SHARED_DATA). See the 'Datasets' page of the documentation."
        ) from err


def _short(err: Exception) -> str:
    """The innermost reason of a network error (``Name or service not known``), not requests' whole chain."""
    while err.__cause__ is not None or err.__context__ is not None:
        err = err.__cause__ or err.__context__
    text = str(err)
    return text if len(text) < 200 else text[:200] + "..."


def fetch(
    name: str,
    *,
    path: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> Path:
    """Path of one file of the example data: the local copy when there is one, else the cache, else a download.

    The file is looked for, in order, in ``path``, in ``$DEEPCAGE_SHARED_DATA``, in a ``shared/data`` folder
    above the working directory, and in the download folder (:func:`data_dir`). When it is nowhere, its public
    source(s) are downloaded with pooch (progress bar, sha256 check where pinned) into ``<cache>/downloads``
    and the file is made from them once (e.g. chr20 lines of a peak file, a sliced chromosome as bgzip FASTA).

    Set ``$DEEPCAGE_DATA_MIRROR`` to an ``http(s)://`` or ``file://`` folder that holds the downloads under
    their registry file names to fetch from a mirror instead of the public origins.

    Parameters
    ----------
    name
        The file's path in the example data folder, e.g. ``'heme-hg19/rna_counts.tsv'`` (see :func:`registry`).
    path
        A local example data folder to look in first.
    progress
        Show download progress bars (``None``, the default: per ``dc.settings.verbosity``).

    Returns
    -------
    The local path of the file.

    Raises
    ------
    FileNotFoundError
        When the file is not local and cannot be downloaded (no network), naming the file, its URL and where to
        put it by hand.

    Examples
    --------
    >>> rna = dc.io.read_expression_table(dc.datasets.fetch("heme-hg19/rna_counts.tsv"))  # doctest: +SKIP
    """
    for folder in _local_folders(path):
        if (folder / name).is_file():
            return folder / name
    made = data_dir() / name
    if made.is_file():
        return made
    if name not in DATA_FILES:
        raise KeyError(f"{name!r} is not an example data file. Known files: {', '.join(sorted(DATA_FILES))}.")
    entry = DATA_FILES[name]
    raw = [_retrieve(s, entry, progress) for s in entry.sources]
    made.parent.mkdir(parents=True, exist_ok=True)
    tmp = made.with_name(f".{made.name}.tmp{os.getpid()}")
    try:
        if entry.make is None:
            shutil.copyfile(raw[0], tmp)
        else:
            log.info("Making %s from %s", name, ", ".join(map(str, raw)))
            entry.make(raw, tmp)
        tmp.replace(made)  # atomic: a half-made file is never taken for a finished one
    finally:
        tmp.unlink(missing_ok=True)
    if made.name.endswith((".fa.gz", ".fa")):
        import pysam

        pysam.faidx(str(made))  # .fai (+ .gzi): htslib indexes a chromosome in a second, pyfaidx in minutes
    return made


def download(
    *names: str,
    path: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> Path:
    """Make sure the files of a dataset (or single files) are available, and return the folder that holds them.

    Parameters
    ----------
    names
        Dataset names (``'heme'``, ``'heme-hg38'``, ``'encode'``, ``'tutorials'``: everything the tutorials read,
        ``'all'``) and/or file paths of the example data folder (see :func:`registry`). Default: ``'tutorials'``.
    path
        A local example data folder to use when it holds every file.
    progress
        Show download progress bars (``None``, the default: per ``dc.settings.verbosity``).

    Returns
    -------
    A local example data folder holding every requested file: the local copy (``shared/data``) when it is
    complete, else the download folder :func:`data_dir` (files missing there are fetched; files only found in a
    partial local copy are copied over). Use it like ``shared/data``: ``d / "heme-hg19/rna_counts.tsv"``.

    Examples
    --------
    >>> d = dc.datasets.download("heme")  # doctest: +SKIP
    >>> genome = dc.Genome(
    ...     [d / "genome/hg19_chr20_slices.fa.gz", d / "genome/b37_20_1-1Mb.fa.gz"], name="hg19"
    ... )  # doctest: +SKIP
    """
    files: list[str] = []
    for name in names or ("tutorials",):
        if name in DATASET_FILES:
            files += DATASET_FILES[name]
        elif name in DATA_FILES:
            files.append(name)
        else:
            raise KeyError(
                f"Unknown dataset or file {name!r}. Datasets: {sorted(DATASET_FILES)}; files: dc.datasets.registry()."
            )
    files = list(dict.fromkeys(files))
    for folder in _local_folders(path):
        if all((folder / f).is_file() for f in files):
            return folder
    target = data_dir()
    for f in files:
        got = fetch(f, path=path, progress=progress)
        if got != target / f:
            (target / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(got, target / f)
    return target


def chain_file(name: str) -> Path | None:
    """The chain file for a name such as ``'hg19ToHg38'`` (fetched like every example file), else None."""
    key = f"annotation/{name.removesuffix('.gz').removesuffix('.over.chain')}.over.chain.gz"
    return fetch(key) if key in DATA_FILES else None
