"""Peak files -> binary accessibility per bin (the replicate rule)."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from anndata import AnnData

from .._intervals import known_chrom_sizes, warn_past_contig_end
from .._keys import BINARY, GENOME_KEY
from .._utils import deepcage_uns, genome_record, get_modality, loci_of, locus_names, resolve_genome
from ..io._peaks import check_peak_file
from ._bins import _as_intervals, _canonical_keys, _covered_bp, _merge_by_contig

__all__ = ["binarize_peaks"]

logger = logging.getLogger("deepcage")

PeakSource = str | os.PathLike | pd.DataFrame


def _bins_table(bins) -> tuple[pd.DataFrame, pd.Index]:
    """chrom/start/end of the bins and their names."""
    if isinstance(bins, pd.DataFrame):
        loci = _as_intervals(bins, what="bins")
        names = pd.Index(bins.index.astype(str))
        expected = (
            [f"{c}:{s}-{e}" for c, s, e in loci.iloc[[0, -1]].itertuples(index=False)] if len(loci) else []
        )
        if len(loci) == 0 or list(names[[0, -1]]) != expected:  # not named chr:start-end (e.g. a RangeIndex)
            names = locus_names(loci["chrom"], loci["start"], loci["end"])
    else:
        adata = get_modality(bins, "atac")
        loci = loci_of(adata).reset_index(drop=True)
        names = pd.Index(adata.var_names)
    if len(loci) == 0:
        raise ValueError("bins is empty: nothing to binarize. Check the regions given to dc.pp.bin_genome.")
    if not names.is_unique:
        dup = names[names.duplicated()][0]
        raise ValueError(f"bins contain duplicated loci (e.g. {dup!r}); drop duplicates first.")
    return loci, names


def _describe(src) -> str:
    return str(src) if isinstance(src, str | os.PathLike) else f"<DataFrame of {len(src)} peaks>"


def binarize_peaks(
    bins: pd.DataFrame | AnnData,
    peaks: Mapping[str, PeakSource | Sequence[PeakSource]],
    *,
    genome=None,
    min_overlap: float = 0.5,
    min_replicate_frac: float = 0.5,
    min_samples: int = 1,
    key_added: str = BINARY,
) -> AnnData:
    """Binary accessibility of bins from peak files: the DeepCAGE replicate rule.

    A bin is positive (1) in a sample when at least ``min_replicate_frac`` of that sample's peak files each
    cover at least ``min_overlap`` of the bin's base pairs. Coverage counts the union of a file's peaks, so
    two adjacent peaks that together cover 60 % of a bin count as 60 %. Overlaps are computed per contig
    with sorted interval arithmetic (no loop over bins). Contig names are matched up to the ``chr`` prefix
    (``chr20`` peaks label ``20:...`` bins).

    Parameters
    ----------
    bins
        Loci: the DataFrame from :func:`~deepcage.pp.bin_genome` (``chrom``, ``start``, ``end``), or an
        AnnData / MuData (``'atac'``) whose ``var`` are loci.
    peaks
        Sample name -> one peak file (narrowPeak/BED path, plain or gzip, or a DataFrame with ``chrom``,
        ``start``, ``end``) or a list of them (replicates).
    genome
        A :class:`~deepcage.Genome` or FASTA path(s) to record in ``uns['deepcage']['genome']``. When
        omitted, the genome recorded by :func:`~deepcage.pp.bin_genome` in ``bins.attrs`` is used.
    min_overlap
        Fraction of the bin a file's peaks must cover (0.5 in the paper).
    min_replicate_frac
        Fraction of a sample's files that must cover the bin (0.5: "at least half of the replicates").
    min_samples
        Keep only loci positive in at least this many samples (0 keeps every bin).
    key_added
        Layer for the uint8 0/1 matrix.

    Returns
    -------
    A new AnnData of samples x loci with

    - ``X``: float32 0/1; ``layers[key_added]``: the same as uint8;
    - ``var``: ``chrom``, ``start``, ``end``, ``n_samples_open`` (number of positive samples); ``var_names``
      ``chr:start-end`` (the input ``var_names`` for an AnnData);
    - ``obs``: index = sample names, ``n_peak_files``, ``n_open`` (positive loci per sample);
    - ``uns['deepcage']['params']['binarize_peaks']`` and ``uns['deepcage']['genome']`` when known.

    Raises
    ------
    ValueError
        When no peak contig matches any bin contig (both naming styles are listed), when a sample has no
        peak files, or when no bin is positive.

    Examples
    --------
    >>> bins = dc.pp.bin_genome(genome, regions=dc.pp.sequenced_regions(genome))  # doctest: +SKIP
    >>> adata = dc.pp.binarize_peaks(
    ...     bins, {"HSC": "HSC.narrowPeak.gz", "CD4": ["CD4_r1.bed", "CD4_r2.bed"]}
    ... )  # doctest: +SKIP
    >>> adata.layers["binary"].mean()  # doctest: +SKIP
    """
    _check_peak_args(peaks, min_overlap, min_replicate_frac)
    loci, names = _bins_table(bins)
    geometry = _BinGeometry.of(loci, min_overlap)
    sizes = known_chrom_sizes(genome, bins)
    samples = [str(s) for s in peaks]
    if len(set(samples)) != len(samples):
        raise ValueError(f"Duplicated sample names in peaks: {samples}.")
    binary = np.zeros((len(samples), len(loci)), dtype=np.uint8)
    n_files = np.zeros(len(samples), dtype=np.int64)
    peak_contigs: set[str] = set()
    any_match = False
    sources_rec: dict[str, list[str]] = {}
    for i, (sample, srcs) in enumerate(peaks.items()):
        srcs = _peak_files_of(sample, srcs)
        n_files[i] = len(srcs)
        sources_rec[str(sample)] = [_describe(s) for s in srcs]
        n_cover = np.zeros(len(loci), dtype=np.int32)
        for src in srcs:
            what = f"peaks of {sample!r} ({_describe(src)})"
            table = _read_peaks(src, what)
            # warned here, not in a helper, so that the warning points at the caller of binarize_peaks
            warn_past_contig_end(table, sizes, what)
            peak_contigs.update(pd.unique(table["chrom"]))
            any_match = geometry.add_coverage(n_cover, table) or any_match
        binary[i] = n_cover >= min_replicate_frac * len(srcs) - 1e-9
        if not binary[i].any():
            warnings.warn(
                f"Sample {sample!r}: no bin is open (its peak files {sources_rec[str(sample)]} are empty or cover "
                "no bin by the replicate rule). Check the files and the regions.",
                UserWarning,
                stacklevel=2,
            )
    if not any_match:
        bin_names = sorted(pd.unique(loci["chrom"]))[:10]
        raise ValueError(
            "No contig of the peak files matches a contig of the bins: bins use "
            f"{bin_names}, peaks use {sorted(peak_contigs)[:10]}. Check that both come from the same "
            "assembly (chr1 and 1 are matched automatically; other naming styles need renaming)."
        )

    params = {
        "min_overlap": min_overlap,
        "min_replicate_frac": min_replicate_frac,
        "min_samples": min_samples,
    }
    adata = _labels_anndata(binary, loci, names, samples, n_files, key_added=key_added, **params)
    rec = deepcage_uns(adata)
    rec.setdefault("params", {})["binarize_peaks"] = {
        "min_overlap": float(min_overlap),
        "min_replicate_frac": float(min_replicate_frac),
        "min_samples": int(min_samples),
        "layer": key_added,
        "peaks": sources_rec,
    }
    _record_genome(adata, bins, genome)
    return adata


def _check_peak_args(peaks, min_overlap, min_replicate_frac) -> None:
    if not isinstance(peaks, Mapping) or len(peaks) == 0:
        raise TypeError("peaks must be a non-empty mapping {sample name: peak file(s)}.")
    if not 0 < min_overlap <= 1:
        raise ValueError(f"min_overlap must be in (0, 1], got {min_overlap!r}.")
    if not 0 < min_replicate_frac <= 1:
        raise ValueError(f"min_replicate_frac must be in (0, 1], got {min_replicate_frac!r}.")


class _BinGeometry(NamedTuple):
    """Bin coordinates, the bp of a bin a peak file must cover, and the bin rows of each contig key."""

    start: np.ndarray
    end: np.ndarray
    need: np.ndarray
    contig_rows: dict

    @classmethod
    def of(cls, loci: pd.DataFrame, min_overlap: float) -> _BinGeometry:
        bin_keys = _canonical_keys(loci["chrom"])
        bstart = loci["start"].to_numpy(np.int64)
        bend = loci["end"].to_numpy(np.int64)
        need = min_overlap * (bend - bstart) - 1e-9
        contig_rows = {key: np.flatnonzero(bin_keys == key) for key in pd.unique(bin_keys)}
        return cls(bstart, bend, need, contig_rows)

    def add_coverage(self, n_cover: np.ndarray, table: pd.DataFrame) -> bool:
        """Add 1 to ``n_cover`` of the bins the peaks cover enough; whether a contig of the peaks has bins."""
        runs = _merge_by_contig(table)
        matched = [key for key in runs if key in self.contig_rows]
        for key in matched:
            rows = self.contig_rows[key]
            covered = _covered_bp(runs[key], self.start[rows], self.end[rows])
            n_cover[rows] += covered >= self.need[rows]
        return bool(matched)


def _peak_files_of(sample, srcs) -> list:
    """The peak sources of one sample as a non-empty list."""
    if isinstance(srcs, str | os.PathLike | pd.DataFrame):
        srcs = [srcs]
    srcs = list(srcs)
    if not srcs:
        raise ValueError(f"Sample {sample!r} has no peak files.")
    return srcs


def _read_peaks(src, what: str) -> pd.DataFrame:
    """The intervals of one peak file or DataFrame (a signal track or summits given as peaks are refused)."""
    if isinstance(src, str | os.PathLike) and Path(src).is_file():
        check_peak_file(src)  # a bedGraph signal track or MACS2 summits given as peaks
    return _as_intervals(src, what=what)


def _labels_anndata(
    binary, loci, names, samples, n_files, *, key_added, min_overlap, min_replicate_frac, min_samples
) -> AnnData:
    """Samples x loci AnnData of the bins open in >= ``min_samples`` samples (0/1 in ``X`` and the layer)."""
    n_open = binary.sum(axis=0, dtype=np.int64)
    keep = n_open >= min_samples
    if not keep.any():
        raise ValueError(
            f"No bin is covered by peaks in >= {min_samples} sample(s) (min_overlap={min_overlap}, "
            f"min_replicate_frac={min_replicate_frac}) among {len(loci)} bins: check contig naming / regions "
            "(do the bins cover the genomic ranges of the peaks?)."
        )
    binary = binary[:, keep]
    var = loci.loc[keep].reset_index(drop=True)
    var["n_samples_open"] = n_open[keep]
    var.index = names[keep]
    obs = pd.DataFrame(
        {"n_peak_files": n_files, "n_open": binary.sum(axis=1, dtype=np.int64)}, index=pd.Index(samples)
    )
    adata = AnnData(X=binary.astype(np.float32), obs=obs, var=var)
    adata.layers[key_added] = binary
    logger.info(
        "binarize_peaks: %d samples x %d loci (%d of %d bins positive in >= %d sample(s)); %.2f%% positive.",
        len(samples),
        int(keep.sum()),
        int(keep.sum()),
        len(loci),
        min_samples,
        100 * binary.mean(),
    )
    return adata


def _record_genome(adata: AnnData, bins, genome) -> None:
    """The genome record of the labels: from ``genome``, else from the bins (their attrs or their AnnData)."""
    rec = deepcage_uns(adata)
    if genome is not None:
        resolve_genome(adata, genome)
    elif isinstance(bins, pd.DataFrame) and isinstance(bins.attrs.get("genome"), dict):
        rec[GENOME_KEY] = dict(bins.attrs["genome"])
    elif not isinstance(bins, pd.DataFrame):
        src = genome_record(bins)
        if src:
            rec[GENOME_KEY] = src
