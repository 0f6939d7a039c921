"""Read counts per bin and depth normalisation."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from tqdm.auto import tqdm

from .._keys import LOG_NORM
from .._layers import get_layer
from .._utils import deepcage_uns, get_modality, loci_of

__all__ = ["bam_library_size", "count_reads", "normalize_depth"]

logger = logging.getLogger("deepcage")


def bam_library_size(bam: str | os.PathLike) -> int:
    """Total mapped reads of a BAM from its index statistics (the paper's library size ``N_k``).

    Raises
    ------
    FileNotFoundError
        When the BAM is missing.
    ValueError
        When the BAM has no index (create it with ``samtools index`` or ``pysam.index``).
    """
    import pysam

    path = str(bam)
    if not Path(path).exists():
        raise FileNotFoundError(f"BAM file not found: {path}")
    try:
        with pysam.AlignmentFile(path, "rb") as fh:
            return int(sum(s.mapped for s in fh.get_index_statistics()))
    except ValueError as err:
        raise ValueError(
            f"{path}: cannot read index statistics ({err}). Index the BAM first: "
            f"'samtools index {path}' or pysam.index({path!r})."
        ) from err


def count_reads(
    data,
    bams: Mapping[str, str | os.PathLike | Sequence[str | os.PathLike]],
    *,
    min_mapq: int = 0,
    layer: str = "counts",
    copy: bool = False,
):
    """Read counts per locus and library size per sample from BAM files.

    Counting is done by :func:`deepcage.io.count_bam` (pysam). Several BAMs of one sample (replicates,
    lanes) are summed, for the counts and for the library size.

    Parameters
    ----------
    data
        AnnData of samples x loci, or MuData (its ``'atac'`` modality is used).
    bams
        Sample name -> indexed BAM path or list of paths. Every sample of ``data`` needs an entry and every
        entry must be a sample of ``data``.
    min_mapq
        Minimum mapping quality of a counted read (the library size from the index counts all mapped reads).
    layer
        Layer for the counts.
    copy
        Return a modified copy instead of writing in place.

    Returns
    -------
    ``None``, or the copy when ``copy=True``. Writes

    - ``layers[layer]``: float32 read counts (samples x loci);
    - ``obs['n_reads']``: total mapped reads of each sample's BAM(s) from the index statistics (``N_k``; all
      mapped records, as ``samtools idxstats`` reports them, whereas the per-locus counts of
      :func:`~deepcage.io.count_bam` skip duplicates, secondary and low-MAPQ reads);
    - ``uns['deepcage']['params']['count_reads']``.

    Examples
    --------
    >>> dc.pp.count_reads(adata, {"HSC": "HSC.bam", "CD4": ["CD4_r1.bam", "CD4_r2.bam"]})  # doctest: +SKIP
    >>> dc.pp.normalize_depth(adata)  # doctest: +SKIP
    """
    from ..io import count_bam

    if copy:
        data = data.copy()
    adata = get_modality(data, "atac")
    if not isinstance(bams, Mapping):
        raise TypeError("bams must be a mapping {sample name: BAM path or list of paths}.")
    samples = list(map(str, adata.obs_names))
    missing = [s for s in samples if s not in bams]
    extra = [str(s) for s in bams if str(s) not in set(samples)]
    if missing or extra:
        raise ValueError(
            f"bams must have one entry per sample: missing {missing[:10]}, unknown {extra[:10]} "
            f"(samples are {samples[:10]}{' ...' if len(samples) > 10 else ''})."
        )
    loci = loci_of(adata)
    chrom = loci["chrom"].to_numpy()
    start = loci["start"].to_numpy(np.int64)
    end = loci["end"].to_numpy(np.int64)
    counts = np.zeros(adata.shape, dtype=np.float32)
    n_reads = np.zeros(len(samples), dtype=np.int64)
    files: dict[str, list[str]] = {}
    for i, sample in enumerate(tqdm(samples, desc="count_reads", unit="sample", disable=len(samples) < 2)):
        paths = bams[sample]
        paths = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
        if not paths:
            raise ValueError(f"Sample {sample!r} has no BAM files.")
        files[sample] = [str(p) for p in paths]
        for path in paths:
            n_reads[i] += bam_library_size(path)
            counts[i] += np.asarray(count_bam(path, chrom, start, end, min_mapq=min_mapq), dtype=np.float32)
    adata.layers[layer] = counts
    adata.obs["n_reads"] = n_reads
    deepcage_uns(adata).setdefault("params", {})["count_reads"] = {
        "min_mapq": int(min_mapq),
        "layer": layer,
        "bams": files,
    }
    return data if copy else None


def normalize_depth(
    data,
    *,
    layer: str = "counts",
    key_added: str = LOG_NORM,
    library_size: str | Sequence[float] | np.ndarray | None = "n_reads",
    target_size: float | None = None,
    copy: bool = False,
):
    """Depth-normalised signal: ``log1p(counts x N_min / N_k)`` (the DeepCAGE regression target).

    Each sample ``k`` is scaled to the smallest library ``N_min`` (or to ``target_size``), then ``log1p``.

    Parameters
    ----------
    data
        AnnData of samples x loci, or MuData (its ``'atac'`` modality is used).
    layer
        Layer with the raw counts.
    key_added
        Layer for the result.
    library_size
        Library sizes ``N_k``: an ``obs`` column name (default ``'n_reads'`` from
        :func:`~deepcage.pp.count_reads`), an array with one value per sample, or ``None`` for the sum of
        ``layer`` over loci.
    target_size
        Library size to scale to. Default: the smallest library of ``data``. Pass the value stored in
        ``uns['deepcage']['params']['normalize_depth']['target_size']`` of the training data to put new
        samples on the same scale.
    copy
        Return a modified copy instead of writing in place.

    Returns
    -------
    ``None``, or the copy when ``copy=True``. Writes ``layers[key_added]`` (float32, same sparsity as
    ``layer``) and ``uns['deepcage']['params']['normalize_depth']`` (``target_size``, ``library_size``).

    Examples
    --------
    >>> dc.pp.normalize_depth(adata)  # doctest: +SKIP
    >>> adata.layers["log_norm"]  # doctest: +SKIP
    """
    if copy:
        data = data.copy()
    adata = get_modality(data, "atac")
    counts = get_layer(adata, layer, hint="Run dc.pp.count_reads first or pass layer=.")
    if isinstance(library_size, str):
        if library_size not in adata.obs:
            raise KeyError(
                f"obs[{library_size!r}] not found: run dc.pp.count_reads, pass library sizes as an array, "
                "or library_size=None to use the sum of counts."
            )
        sizes = adata.obs[library_size].to_numpy(np.float64)
        size_src = library_size
    elif library_size is None:
        sizes = np.asarray(counts.sum(axis=1), dtype=np.float64).ravel()
        size_src = f"sum of layers[{layer!r}]"
    else:
        sizes = np.asarray(pd.Series(library_size).to_numpy(), dtype=np.float64).ravel()
        size_src = "array"
        if len(sizes) != adata.n_obs:
            raise ValueError(f"library_size has {len(sizes)} values for {adata.n_obs} samples.")
    bad = ~np.isfinite(sizes) | (sizes <= 0)
    if bad.any():
        names = list(adata.obs_names[bad][:10])
        raise ValueError(
            f"Library size must be a positive number; samples {names} have {sizes[bad][:10].tolist()}."
        )
    target = float(sizes.min()) if target_size is None else float(target_size)
    if not target > 0:
        raise ValueError(f"target_size must be positive, got {target_size!r}.")
    scale = target / sizes
    if sparse.issparse(counts):
        if counts.data.size and counts.data.min() < 0:
            raise ValueError(f"layers[{layer!r}] has negative values: expected raw read counts.")
        out = sparse.csr_matrix(sparse.diags(scale) @ counts, dtype=np.float32)
        out.data = np.log1p(out.data)
    else:
        counts = np.asarray(counts, dtype=np.float64)
        if counts.size and counts.min() < 0:
            raise ValueError(f"layers[{layer!r}] has negative values: expected raw read counts.")
        out = np.log1p(counts * scale[:, None]).astype(np.float32)
    adata.layers[key_added] = out
    deepcage_uns(adata).setdefault("params", {})["normalize_depth"] = {
        "layer": layer,
        "key_added": key_added,
        "library_size": size_src,
        "target_size": target,
    }
    return data if copy else None
