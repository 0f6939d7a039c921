"""Checks of genomic intervals (loci, peaks) against each other's coordinates and the genome's contig sizes."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ._genome import canonical_chrom

__all__ = ["check_loci", "known_chrom_sizes", "warn_past_contig_end"]


def _sizes_by_key(chrom_sizes) -> dict[str, int]:
    return {canonical_chrom(c): int(n) for c, n in dict(chrom_sizes or {}).items()}


def _row_keys(chroms: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Per row, the index of its contig among the distinct names, and their ``canonical_chrom`` keys (computed
    once per distinct name: genome-wide tables have millions of rows and a few dozen contigs). A categorical
    column gives its own codes (one byte per row)."""
    if isinstance(chroms.dtype, pd.CategoricalDtype) and not chroms.isna().any():
        return np.asarray(chroms.cat.codes), [canonical_chrom(str(u)) for u in chroms.cat.categories]
    codes, uniques = pd.factorize(chroms)
    return codes, [canonical_chrom(str(u)) for u in uniques]


def _example(table: pd.DataFrame, mask: np.ndarray, sizes: dict[str, int] | None = None) -> str:
    i = int(np.flatnonzero(mask)[0])
    row = table.iloc[i]
    text = f"{row['chrom']}:{int(row['start'])}-{int(row['end'])}"
    if sizes:
        size = sizes.get(canonical_chrom(row["chrom"]))
        if size is not None:
            text += f" (contig length {size:,} bp)"
    return text


def check_loci(table: pd.DataFrame, *, chrom_sizes=None, what: str = "the loci") -> None:
    """Raise for loci that cannot be predicted: ``end <= start``, ``start < 0``, or, when ``chrom_sizes`` is known,
    a contig the genome lacks or an end past the contig's end (whose sequence would be all N)."""
    for col in ("chrom", "start", "end"):
        missing = pd.isna(table[col]).to_numpy()
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            row = table.iloc[i]
            raise ValueError(
                f"{what}: row {table.index[i]!r} (position {i}) has a missing {col}: chrom={row['chrom']}, "
                f"start={row['start']}, end={row['end']}; {int(missing.sum())} such rows. Drop or fill them "
                "(e.g. df.dropna(subset=['chrom', 'start', 'end'])) first."
            )
    start = table["start"].to_numpy(np.int64)
    end = table["end"].to_numpy(np.int64)
    nan_int = np.iinfo(np.int64).min  # what numpy makes of a NaN cast to int64
    lost = (start == nan_int) | (end == nan_int)
    if lost.any():
        i = int(np.flatnonzero(lost)[0])
        raise ValueError(
            f"{what}: row {table.index[i]!r} (position {i}) on {table['chrom'].iloc[i]} has a missing (NaN) start "
            f"or end; {int(lost.sum())} such rows. Drop or fill them (e.g. df.dropna(subset=['chrom', 'start', "
            "'end'])) first."
        )
    bad = (end <= start) | (start < 0)
    if bad.any():
        raise ValueError(
            f"{what}: {int(bad.sum())} locus/loci with end <= start or start < 0, e.g. {_example(table, bad)}. "
            "Loci are 0-based half-open intervals chrom:start-end with start < end."
        )
    sizes = _sizes_by_key(chrom_sizes)
    if not sizes:
        return
    codes, keys = _row_keys(table["chrom"])
    known = np.array([k in sizes for k in keys], dtype=bool)[codes]
    if not known.all():
        missing = sorted({str(c) for c in table["chrom"].to_numpy()[~known]})
        raise ValueError(
            f"{what}: {int((~known).sum())} locus/loci on contig(s) {missing[:10]} that the model's genome does not "
            f"have (its contigs: {list(chrom_sizes)[:10]}{' ...' if len(sizes) > 10 else ''}). Are the loci from "
            "another assembly?"
        )
    size = np.array([sizes[k] for k in keys], dtype=np.int64)[codes]
    past = end > size
    if past.any():
        raise ValueError(
            f"{what}: {int(past.sum())} locus/loci extend past the end of their contig, e.g. "
            f"{_example(table, past, sizes)}; their sequence would be all N. Are they from another assembly? "
            "Drop or clip them."
        )


def warn_past_contig_end(table: pd.DataFrame, chrom_sizes, what: str) -> None:
    """Warn when intervals on a known contig end past it: usually peaks called on another assembly."""
    sizes = _sizes_by_key(chrom_sizes)
    if not sizes or table.empty:
        return
    codes, keys = _row_keys(table["chrom"])
    size = np.array([sizes.get(k, np.iinfo(np.int64).max) for k in keys], dtype=np.int64)[codes]
    past = table["end"].to_numpy(np.int64) > size
    if past.any():
        warnings.warn(
            f"{what}: {int(past.sum())} interval(s) extend past the end of their contig in the genome, e.g. "
            f"{_example(table, past, sizes)}. Were they called on another assembly?",
            UserWarning,
            stacklevel=3,
        )


def known_chrom_sizes(genome=None, bins=None) -> dict | None:
    """Contig sizes at hand without opening a FASTA: a :class:`~deepcage.Genome`'s, or those recorded with the
    bins (``attrs['genome']`` of :func:`deepcage.pp.bin_genome`'s table, ``uns['deepcage']['genome']``)."""
    from ._genome import Genome

    if isinstance(genome, Genome):
        return genome.chrom_sizes
    if isinstance(bins, pd.DataFrame):
        rec = bins.attrs.get("genome")
    else:
        from ._utils import genome_record

        try:
            rec = genome_record(bins)
        except (TypeError, KeyError):
            rec = None
    return (rec or {}).get("chrom_sizes") if isinstance(rec, dict) else None
