"""ENCODE DNase-seq + RNA-seq (the paper's data): download code (pooch) and the bundled TF TPM table."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

__all__ = ["ENCODE_METADATA_URL", "encode", "encode_files", "encode_tf_tpm", "fetch_genome"]

log = logging.getLogger(__name__)

#: ENCODE search behind the paper's data (kimmo1019/DeepCAGE ``data/files.txt``): released human hg19 DNase-seq
#: and polyA+ RNA-seq experiments on primary cells, tissues and cell lines, as a metadata table.
ENCODE_METADATA_URL = (
    "https://www.encodeproject.org/metadata/type%3DExperiment%26status%3Dreleased%26assay_title%3DDNase-seq"
    "%26assay_title%3DpolyA%2Bplus%2BRNA-seq%26replicates.library.biosample.donor.organism.scientific_name"
    "%3DHomo%2Bsapiens%26assembly%3Dhg19%26biosample_ontology.classification%3Dprimary%2Bcell"
    "%26biosample_ontology.classification%3Dtissue%26biosample_ontology.classification%3Dcell%2Bline"
    "%26files.file_type%3Dbam%26files.file_type%3Dtsv%26files.file_type%3Dbed%2BnarrowPeak/metadata.tsv"
)
_FILE_URL = "https://www.encodeproject.org/files/{acc}/@@download/{acc}.{ext}"

#: UCSC reference FASTA downloads (plain gzip; decompressed on download so pyfaidx can index them).
GENOME_URLS = {
    "hg19": "https://hgdownload.soe.ucsc.edu/goldenPath/hg19/bigZips/hg19.fa.gz",
    "hg38": "https://hgdownload.soe.ucsc.edu/goldenPath/hg38/bigZips/hg38.fa.gz",
    "mm10": "https://hgdownload.soe.ucsc.edu/goldenPath/mm10/bigZips/mm10.fa.gz",
    "mm39": "https://hgdownload.soe.ucsc.edu/goldenPath/mm39/bigZips/mm39.fa.gz",
}


def _cache(folder) -> Path:
    from ._registry import cache_dir

    return Path(folder) if folder is not None else cache_dir()


def fetch_genome(name: str, *, cache_dir: str | os.PathLike | None = None):
    """Download a UCSC reference genome once (pooch) and open it as a :class:`deepcage.Genome`.

    Parameters
    ----------
    name
        ``'hg19'``, ``'hg38'``, ``'mm10'`` or ``'mm39'``.
    cache_dir
        Download folder (default: the deepcage cache, ``$DEEPCAGE_CACHE``).

    Examples
    --------
    >>> genome = dc.datasets.fetch_genome("hg38")  # doctest: +SKIP
    """
    import pooch

    from .._genome import Genome

    if name not in GENOME_URLS:
        raise ValueError(
            f"Unknown genome {name!r}; known: {sorted(GENOME_URLS)}. For another assembly pass its FASTA: dc.Genome('path.fa', name=...)."
        )
    path = pooch.retrieve(
        GENOME_URLS[name],
        known_hash=None,
        fname=f"{name}.fa.gz",
        path=_cache(cache_dir),
        processor=pooch.Decompress(name=f"{name}.fa"),
        progressbar=True,
    )
    return Genome(path, name=name)


def encode_tf_tpm(path: str | os.PathLike | None = None) -> AnnData:
    """The paper's TF expression table: 55 ENCODE cell types x TFs, TPM averaged over replicates.

    Several motif columns of the original table belong to the same TF and are identical; they are merged into
    one column per TF (an error is raised if two columns of one TF disagree). Cell ids are kept as
    ``obs_names``; their mapping to cell-type names is unknown (the ids follow an older numbering).

    Parameters
    ----------
    path
        ``encode_tf_tpm.tsv``; default: ``expression/encode_tf_tpm.tsv`` of the example data (the local copy, else
        downloaded from kimmo1019/DeepCAGE, see :func:`deepcage.datasets.fetch`).

    Returns
    -------
    AnnData samples x TFs with ``uns['units'] = 'tpm'``.

    Examples
    --------
    >>> tpm = dc.datasets.encode_tf_tpm()  # doctest: +SKIP
    >>> tpm.shape  # doctest: +SKIP
    (55, 678)
    """
    from ._registry import fetch

    path = Path(path) if path is not None else fetch("expression/encode_tf_tpm.tsv")
    df = pd.read_csv(path, sep="\t", index_col=0)
    df.index = df.index.astype(str)
    df.columns = [c.split(".")[0] for c in df.columns]  # pandas marks repeated headers as 'AR.1', 'AR.2'
    values = df.to_numpy(dtype=np.float64)
    if np.isnan(values).any() or (values < 0).any():
        raise ValueError(f"{path}: NaN or negative TPM values.")
    keep = []
    for tf, idx in pd.Series(range(df.shape[1])).groupby(df.columns.to_numpy()).groups.items():
        cols = values[:, list(idx)]
        if not np.allclose(cols, cols[:, :1]):
            raise ValueError(f"{path}: columns of TF {tf!r} differ; cannot merge them.")
        keep.append(int(min(idx)))
    keep.sort()
    out = AnnData(
        values[:, keep].astype(np.float32),
        obs=pd.DataFrame(index=df.index),
        var=pd.DataFrame(index=df.columns[keep]),
    )
    out.uns["units"] = "tpm"
    return out


def encode_files(
    metadata: str | os.PathLike | pd.DataFrame,
    *,
    assembly: str = "hg19",
    cell_types: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Pick the files DeepCAGE needs from an ENCODE metadata table.

    Keeps released DNase-seq ``peaks`` narrowPeak files and RNA-seq ``gene quantifications`` TSV files of the
    given assembly, for cell types (``Biosample term name``) that have both.

    Parameters
    ----------
    metadata
        ENCODE ``metadata.tsv`` (path or DataFrame), e.g. the one :func:`encode_files` downloads.
    assembly
        Genome assembly of the files.
    cell_types
        Restrict to these biosamples.

    Returns
    -------
    DataFrame with columns ``cell_type``, ``kind`` (``'peaks'`` or ``'rna'``), ``accession``, ``url``.
    """
    meta = (
        metadata if isinstance(metadata, pd.DataFrame) else pd.read_csv(metadata, sep="\t", low_memory=False)
    )
    need = ["File accession", "File format", "Output type", "Assay", "Biosample term name"]
    missing = [c for c in need if c not in meta.columns]
    if missing:
        raise ValueError(f"ENCODE metadata lacks columns {missing}; is this an ENCODE metadata.tsv?")
    asm_col = "File assembly" if "File assembly" in meta.columns else "Assembly"
    m = meta[meta[asm_col].astype(str) == assembly] if asm_col in meta.columns else meta
    if "File Status" in m.columns:
        m = m[m["File Status"].astype(str) == "released"]
    fmt = m["File format"].astype(str)
    peaks = m[
        (m["Assay"] == "DNase-seq")
        & fmt.str.startswith("bed")
        & (m["Output type"].astype(str).str.contains("peaks"))
    ]
    rna = m[
        m["Assay"].astype(str).str.contains("RNA-seq")
        & (fmt == "tsv")
        & (m["Output type"] == "gene quantifications")
    ]
    both = sorted(set(peaks["Biosample term name"]) & set(rna["Biosample term name"]))
    if cell_types is not None:
        unknown = sorted(set(cell_types) - set(both))
        if unknown:
            raise ValueError(
                f"No DNase peaks + RNA gene quantifications for {unknown} in the metadata ({assembly})."
            )
        both = [c for c in both if c in set(cell_types)]
    rows = []
    for kind, table, ext in (("peaks", peaks, "bed.gz"), ("rna", rna, "tsv")):
        for _, r in table[table["Biosample term name"].isin(both)].iterrows():
            acc = r["File accession"]
            rows.append(
                {
                    "cell_type": r["Biosample term name"],
                    "kind": kind,
                    "accession": acc,
                    "url": _FILE_URL.format(acc=acc, ext=ext),
                }
            )
    if not rows:
        raise ValueError(
            f"No cell type has both DNase-seq peaks and RNA-seq gene quantifications ({assembly})."
        )
    return pd.DataFrame(rows).sort_values(["cell_type", "kind", "accession"], ignore_index=True)


def encode(
    *,
    cell_types: Sequence[str] | None = None,
    assembly: str = "hg19",
    metadata: str | os.PathLike | pd.DataFrame | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> dict[str, dict[str, list[Path]]]:
    """Download the ENCODE DNase-seq peaks and RNA-seq gene quantifications of the paper (with pooch).

    Files are cached, so a second call reads from disk. This needs internet access; the pieces that follow
    (:func:`deepcage.pp.binarize_peaks`, :func:`deepcage.io.read_rsem`, :func:`deepcage.pp.tf_expression`)
    work on the downloaded files exactly as on the bundled example data.

    Parameters
    ----------
    cell_types
        Biosample term names (default: all with both assays; the paper used 55).
    assembly
        ``'hg19'`` as in the paper.
    metadata
        An ENCODE metadata table; default: downloaded from the ENCODE portal (the search behind the paper's
        data: released human hg19 DNase-seq and polyA+ RNA-seq experiments).
    cache_dir
        Download folder (default: the deepcage cache, ``$DEEPCAGE_CACHE``).

    Returns
    -------
    ``{'peaks': {cell_type: [paths]}, 'rna': {cell_type: [paths]}}`` (replicates as lists).

    Examples
    --------
    >>> files = dc.datasets.encode(cell_types=["K562", "GM12878"])  # doctest: +SKIP
    >>> bins = dc.pp.bin_genome(dc.datasets.fetch_genome("hg19"))  # doctest: +SKIP
    >>> adata = dc.pp.binarize_peaks(bins, files["peaks"])  # doctest: +SKIP
    """
    import pooch

    cache = _cache(cache_dir) / "encode"
    if metadata is None:
        metadata = pooch.retrieve(
            ENCODE_METADATA_URL, known_hash=None, fname="metadata.tsv", path=cache, progressbar=True
        )
    files = encode_files(metadata, assembly=assembly, cell_types=cell_types)
    out: dict[str, dict[str, list[Path]]] = {"peaks": {}, "rna": {}}
    for r in files.itertuples():
        local = pooch.retrieve(r.url, known_hash=None, fname=Path(r.url).name, path=cache, progressbar=True)
        out[r.kind].setdefault(r.cell_type, []).append(Path(local))
    log.info("ENCODE: %d cell types, %d files in %s", len(out["peaks"]), len(files), cache)
    return out
