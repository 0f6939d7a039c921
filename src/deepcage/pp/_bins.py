"""Fixed-width genomic bins with N-content and blacklist filters (plus vectorised interval helpers)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._genome import Genome, canonical_chrom
from .._utils import locus_names

__all__ = ["bin_genome", "sequenced_regions"]

logger = logging.getLogger("deepcage")


# --------------------------------------------------------------------------------------------------------
# interval helpers (vectorised; shared with _labels and _split)
# --------------------------------------------------------------------------------------------------------


def _canonical_keys(chroms: pd.Series) -> np.ndarray:
    """``canonical_chrom`` of every row, computed once per distinct contig name."""
    codes, uniques = pd.factorize(chroms.astype(str))
    return np.array([canonical_chrom(u) for u in uniques], dtype=object)[codes]


_NON_PRIMARY_RE = re.compile(
    r"(^(chr)?(M|MT|EBV|Un.*)$)|(_random$)|(_alt$)|(_fix$)|(_decoy$)|(^HLA-)|(^(GL|KI|JH|KN|KV|KZ|ML|MU|KQ)\d+(\.\d+)?$)"
    r"|(^hs37d5$)|(^NC_007605)|(^chrUn)|(_(GL|KI|JH|KN|KV|KZ|ML|MU|KQ)\d+v\d+)",
    re.IGNORECASE,
)


def is_primary_contig(name: str) -> bool:
    """False for contigs outside the primary assembly: mitochondrial, unplaced/unlocalized (``_random``,
    ``chrUn``), alternate haplotypes (``_alt``), patches (``_fix``), decoys, EBV, HLA and bare GenBank scaffolds."""
    return not _NON_PRIMARY_RE.search(str(name))


def _as_intervals(obj, *, what: str) -> pd.DataFrame:
    """A BED path or a DataFrame with ``chrom``/``start``/``end`` -> DataFrame (chrom str, start/end int64)."""
    if isinstance(obj, str | os.PathLike):
        from ..io._peaks import read_intervals

        df = read_intervals(obj)
    elif isinstance(obj, pd.DataFrame):
        missing = {"chrom", "start", "end"} - set(obj.columns)
        if missing:
            raise ValueError(
                f"{what} DataFrame needs columns 'chrom', 'start', 'end'; missing {sorted(missing)} "
                f"(it has {list(obj.columns)[:10]})."
            )
        df = obj
    else:
        raise TypeError(
            f"{what} must be a BED file path or a DataFrame with chrom/start/end, got {type(obj).__name__}."
        )
    coords = {}
    for col in ("start", "end"):
        values = pd.to_numeric(df[col], errors="coerce") if df[col].dtype == object else df[col]
        missing = pd.isna(values).to_numpy() | pd.isna(df["chrom"]).to_numpy()
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            raise ValueError(
                f"{what}: row {df.index[i]!r} (position {i}) has a missing or non-numeric value: "
                f"chrom={df['chrom'].iloc[i]}, start={df['start'].iloc[i]}, end={df['end'].iloc[i]}; "
                f"{int(missing.sum())} such rows. Drop or fill them (e.g. df.dropna(subset=['chrom', 'start', "
                "'end'])) first."
            )
        arr = np.asarray(values, dtype=np.float64) if values.dtype.kind == "f" else None
        if arr is not None and (arr % 1 != 0).any():
            i = int(np.flatnonzero(arr % 1 != 0)[0])
            raise ValueError(
                f"{what}: row {df.index[i]!r} (position {i}) has a non-integer {col} {arr[i]}; coordinates are "
                "whole base pairs."
            )
        coords[col] = np.asarray(values, dtype=np.int64)
    out = pd.DataFrame({"chrom": df["chrom"].astype(str).to_numpy(), **coords})
    bad = (out["start"] < 0) | (out["end"] < out["start"])
    if bad.any():
        row = out[bad].iloc[0]
        raise ValueError(
            f"{what}: invalid interval {row['chrom']}:{row['start']}-{row['end']} (need 0 <= start <= end); "
            f"{int(bad.sum())} such rows."
        )
    return out


def _merge_runs(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of intervals on one contig as sorted, disjoint runs (touching intervals are merged)."""
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    if len(starts) == 0:
        return starts, ends
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    new = np.empty(len(starts), dtype=bool)
    new[0] = True
    new[1:] = starts[1:] > reach[:-1]
    first = np.flatnonzero(new)
    last = np.r_[first[1:] - 1, len(starts) - 1]
    return starts[first], reach[last]


def _merge_by_contig(df: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Intervals -> ``{canonical contig: (run starts, run ends)}`` (the union per contig)."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if len(df) == 0:
        return out
    keys = _canonical_keys(df["chrom"])
    starts = df["start"].to_numpy(np.int64)
    ends = df["end"].to_numpy(np.int64)
    for key in pd.unique(keys):
        idx = keys == key
        out[key] = _merge_runs(starts[idx], ends[idx])
    return out


def _covered_bp(runs: tuple[np.ndarray, np.ndarray], qstart, qend) -> np.ndarray:
    """Base pairs of each query ``[qstart, qend)`` covered by sorted disjoint ``runs`` (vectorised)."""
    rs, re = runs
    qstart = np.asarray(qstart, dtype=np.int64)
    qend = np.asarray(qend, dtype=np.int64)
    if len(rs) == 0:
        return np.zeros(len(qstart), dtype=np.int64)
    before = np.concatenate([[0], np.cumsum(re - rs)])  # bp in runs 0..i-1

    def below(x):  # covered bp in [0, x)
        j = np.searchsorted(rs, x, side="right") - 1
        jj = np.maximum(j, 0)
        part = np.clip(x - rs[jj], 0, re[jj] - rs[jj])
        return np.where(j >= 0, before[jj] + part, 0)

    return below(qend) - below(qstart)


def _n_runs(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of N (code 4) in a contig as (starts, ends)."""
    is_n = codes == 4
    if len(is_n) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    change = np.flatnonzero(is_n[1:] != is_n[:-1]) + 1
    bounds = np.concatenate([[0], change, [len(is_n)]]).astype(np.int64)
    starts, ends = bounds[:-1], bounds[1:]
    n_first = bool(is_n[0])
    sel = slice(0, None, 2) if n_first else slice(1, None, 2)
    return starts[sel], ends[sel]


def _as_genome(genome) -> Genome:
    if isinstance(genome, Genome):
        return genome
    if genome is None:
        raise ValueError("A genome is needed: pass a dc.Genome or FASTA path(s).")
    return Genome(genome)


def _resolve_chroms(genome: Genome, chroms, *, what: str) -> dict[str, str]:
    """Map the given contig names to the genome's names; raise listing all unknown names."""
    names = list(dict.fromkeys(map(str, chroms)))
    unknown = [c for c in names if c not in genome]
    if unknown:
        shown = ", ".join(genome.chroms[:10]) + (" ..." if len(genome.chroms) > 10 else "")
        raise ValueError(
            f"{what}: contig(s) {unknown[:10]} are not in the genome {genome.name or ''} (contigs: {shown}). "
            "Check that the intervals and the FASTA are the same assembly."
        )
    return {c: genome.resolve(c) for c in names}


# --------------------------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------------------------


def sequenced_regions(
    genome: Genome | str | os.PathLike | Sequence[str | os.PathLike],
    *,
    chroms: Sequence[str] | None = None,
    min_length: int = 1000,
    max_gap: int = 0,
) -> pd.DataFrame:
    """Stretches of the genome that hold bases (runs of non-``N``).

    Useful for partial references, e.g. the hg19 chr20 example FASTA where only ~2.3 Mb of 63 Mb are
    sequenced: pass the result as ``regions=`` to :func:`bin_genome`.

    Parameters
    ----------
    genome
        A :class:`~deepcage.Genome` or FASTA path(s).
    chroms
        Contigs to scan (default: all contigs of the genome).
    min_length
        Drop stretches shorter than this (after merging across gaps).
    max_gap
        Merge stretches separated by at most this many ``N``.

    Returns
    -------
    DataFrame with ``chrom``, ``start``, ``end`` (0-based half-open, the genome's contig names).

    Examples
    --------
    >>> regions = dc.pp.sequenced_regions(genome, min_length=10_000)  # doctest: +SKIP
    >>> bins = dc.pp.bin_genome(genome, regions=regions)  # doctest: +SKIP
    """
    genome = _as_genome(genome)
    chrom_map = _resolve_chroms(genome, chroms if chroms is not None else genome.chroms, what="chroms")
    parts = []
    for name in dict.fromkeys(chrom_map.values()):
        codes = genome.codes(name)
        ns, ne = _n_runs(codes)
        # complement of the N runs within [0, len)
        bounds_s = np.concatenate([[0], ne])
        bounds_e = np.concatenate([ns, [len(codes)]])
        keep = bounds_e > bounds_s
        s, e = bounds_s[keep], bounds_e[keep]
        if max_gap > 0 and len(s) > 1:
            s, e = _merge_runs(s, e + max_gap)
            e = np.minimum(e - max_gap, len(codes))
        keep = (e - s) >= min_length
        parts.append(pd.DataFrame({"chrom": name, "start": s[keep], "end": e[keep]}))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["chrom", "start", "end"])
    return out.astype({"chrom": str, "start": np.int64, "end": np.int64})


def bin_genome(
    genome: Genome | str | os.PathLike | Sequence[str | os.PathLike],
    *,
    regions: pd.DataFrame | str | os.PathLike | None = None,
    chroms: Sequence[str] | None = None,
    bin_size: int = 200,
    window: int | None = 1000,
    max_n_frac: float | None = 0.5,
    blacklist: pd.DataFrame | str | os.PathLike | None = None,
    names: bool = True,
    contigs: str = "primary",
) -> pd.DataFrame:
    """Fixed-width bins over regions or whole contigs, without N-rich and blacklisted bins.

    By default only the primary assembly is binned (autosomes, X, Y: what ENCODE, ArchR and SnapATAC2 use):
    mitochondrial, unplaced / unlocalized, alternate-haplotype, patch, decoy, EBV and HLA contigs are left out
    (``contigs='all'`` keeps them).

    Bins lie on a genome-wide grid (``start`` a multiple of ``bin_size``, 0-based half-open), so bins from
    different region sets line up. With ``regions``, every grid bin overlapping a region is kept (once, even
    when regions overlap); otherwise contigs are tiled end to end and the incomplete last bin is dropped.

    Parameters
    ----------
    genome
        A :class:`~deepcage.Genome` or FASTA path(s). Bins use the genome's contig names (``chr20`` regions
        on a b37 FASTA with contig ``20`` give ``20:...`` bins).
    regions
        Intervals to tile: a BED path or a DataFrame with ``chrom``, ``start``, ``end``. Overrides ``chroms``.
    chroms
        Contigs to tile whole (default: all contigs of the genome). Ignored when ``regions`` is given.
    bin_size
        Bin width in bp (200 in the DeepCAGE paper).
    window
        Width of the sequence window centred on each bin (1,000 bp in the paper) used for the N filter.
        ``None`` checks the bin itself.
    max_n_frac
        Drop bins whose window has more than this fraction of ``N`` (bases beyond a contig end count as
        ``N``). ``None`` disables the filter.
    blacklist
        Intervals to exclude (e.g. the ENCODE blacklist BED): bins overlapping any of them by >= 1 bp are
        dropped. Contig names are matched up to the ``chr`` prefix.
    names
        Index the bins by their ``chr:start-end`` names. ``False`` keeps a ``RangeIndex``: a genome-wide table
        (15 M bins of hg38) then takes 17 bytes per bin instead of ~200, which is what
        ``dc.tl.predict(model, expr=rna, loci=bins, out=...)`` needs to stream a whole genome in flat memory
        (names are made chunk by chunk where an output needs them).
    contigs
        ``'primary'`` (default): leave out contigs that are not in the primary assembly, recognised by name:
        ``chrM`` / ``MT``, ``*_random``, ``chrUn*``, ``*_alt``, ``*_fix``, ``*_decoy``, ``chrEBV``, ``HLA-*`` and
        GenBank scaffolds (``GL000192.1``, ``KI270728.1``, ``JH...``, ``hs37d5``); the contigs left out are logged and
        listed in ``attrs['excluded_contigs']``. Contigs named in ``chroms`` are always kept. ``'all'``: bin
        every contig (e.g. for mitochondrial accessibility).

    Returns
    -------
    DataFrame indexed by ``chr:start-end`` names (or a ``RangeIndex``, ``names=False``) with columns ``chrom``
    (categorical, the genome's contig order), ``start``, ``end`` (int64). ``df.attrs``
    holds ``n_removed`` (bins removed by ``'n_filter'`` and ``'blacklist'``), ``bin_size``, ``window`` and
    ``genome`` (the genome record). The counts are also logged on the ``deepcage`` logger.

    Examples
    --------
    >>> genome = dc.Genome("hg19.fa.gz", name="hg19")  # doctest: +SKIP
    >>> bins = dc.pp.bin_genome(genome, chroms=["chr20"], blacklist="hg19-blacklist.v2.bed")  # doctest: +SKIP
    >>> bins.attrs["n_removed"]  # doctest: +SKIP
    {'n_filter': 2891, 'blacklist': 21512}
    """
    genome = _as_genome(genome)
    bin_size, window = _check_bin_args(contigs, bin_size, window, max_n_frac)
    # bin starts per contig (genome names), in genome contig order
    if regions is not None:
        per_contig = _region_bin_starts(genome, regions, bin_size)
    else:
        per_contig = _contig_bin_starts(genome, chroms, bin_size)
    excluded: list[str] = []
    if contigs == "primary" and (chroms is None or regions is not None):
        excluded = _drop_non_primary(per_contig)
    order = {c: i for i, c in enumerate(genome.chroms)}
    kept = sorted(per_contig, key=order.__getitem__)
    n_total = int(sum(len(per_contig[c]) for c in kept))
    n_removed_n = 0
    if max_n_frac is not None:
        n_removed_n = _n_filter(
            genome, per_contig, kept, bin_size=bin_size, window=window, max_n_frac=max_n_frac
        )
    n_removed_bl = 0
    if blacklist is not None:
        n_removed_bl = _blacklist_filter(per_contig, kept, blacklist, bin_size=bin_size)

    df = _bin_frame(per_contig, kept, bin_size, names=names)
    df.attrs["n_removed"] = {"n_filter": n_removed_n, "blacklist": n_removed_bl}
    df.attrs["bin_size"] = bin_size
    df.attrs["window"] = window
    df.attrs["excluded_contigs"] = excluded
    df.attrs["genome"] = genome.to_dict()
    logger.info(
        "bin_genome: %d bins of %d bp on %d contig(s); removed %d by the N filter (> %s N in %d bp) and %d by "
        "the blacklist; %d kept.",
        n_total,
        bin_size,
        len(kept),
        n_removed_n,
        max_n_frac,
        window,
        n_removed_bl,
        len(df),
    )
    if len(df) == 0:
        logger.warning("bin_genome: no bins left (all %d removed by the filters).", n_total)
    return df


def _check_bin_args(contigs, bin_size, window, max_n_frac) -> tuple[int, int]:
    """Validate the options of :func:`bin_genome`; the bin size and window width as ints."""
    if contigs not in ("primary", "all"):
        raise ValueError(f"contigs must be 'primary' or 'all', got {contigs!r}.")
    if int(bin_size) <= 0:
        raise ValueError(f"bin_size must be a positive integer, got {bin_size!r}.")
    bin_size = int(bin_size)
    window = bin_size if window is None else int(window)
    if window <= 0:
        raise ValueError(f"window must be a positive integer or None, got {window!r}.")
    if max_n_frac is not None and not 0 <= max_n_frac <= 1:
        raise ValueError(f"max_n_frac must be in [0, 1] or None, got {max_n_frac!r}.")
    return bin_size, window


def _region_bin_starts(genome: Genome, regions, bin_size: int) -> dict[str, np.ndarray]:
    """Starts of the grid bins overlapping ``regions`` (each once), per contig (genome names)."""
    per_contig: dict[str, np.ndarray] = {}
    reg = _as_intervals(regions, what="regions")
    chrom_map = _resolve_chroms(genome, reg["chrom"].unique(), what="regions")
    reg_chrom = reg["chrom"].map(chrom_map).to_numpy()
    for name in dict.fromkeys(chrom_map.values()):
        sel = reg_chrom == name
        size = genome.chrom_size(name)
        s = reg["start"].to_numpy()[sel]
        e = np.minimum(reg["end"].to_numpy()[sel], (size // bin_size) * bin_size)
        first = s // bin_size
        last = -(-e // bin_size)  # ceil: exclusive bin index
        n = np.maximum(last - first, 0)
        if n.sum() == 0:
            continue
        idx = np.repeat(first - np.r_[0, np.cumsum(n)[:-1]], n) + np.arange(n.sum())
        per_contig[name] = np.unique(idx) * bin_size
    return per_contig


def _contig_bin_starts(genome: Genome, chroms, bin_size: int) -> dict[str, np.ndarray]:
    """Starts of the complete bins tiling whole contigs (``chroms``, default all), per contig."""
    chrom_map = _resolve_chroms(genome, chroms if chroms is not None else genome.chroms, what="chroms")
    return {
        name: np.arange(genome.chrom_size(name) // bin_size, dtype=np.int64) * bin_size
        for name in dict.fromkeys(chrom_map.values())
    }


def _drop_non_primary(per_contig: dict[str, np.ndarray]) -> list[str]:
    """Remove (in place) and log the contigs outside the primary assembly; the names removed."""
    excluded = [c for c in per_contig if not is_primary_contig(c)]
    if excluded and len(excluded) == len(per_contig):
        raise ValueError(
            f"bin_genome: every contig to bin is outside the primary assembly ({excluded[:5]}); pass "
            "contigs='all' to bin them, or chroms=[...] to name them."
        )
    for c in excluded:
        del per_contig[c]
    if excluded:
        logger.info(
            "bin_genome: left out %d contig(s) outside the primary assembly (%s%s); contigs='all' keeps them.",
            len(excluded),
            ", ".join(excluded[:5]),
            " ..." if len(excluded) > 5 else "",
        )
    return excluded


def _n_filter(genome: Genome, per_contig, contigs, *, bin_size: int, window: int, max_n_frac: float) -> int:
    """Drop (in place) bins whose centred window is more than ``max_n_frac`` N; the number dropped.

    The N count of each window comes from the N runs (no per-base cumulative array).
    """
    n_removed = 0
    for name in contigs:
        starts = per_contig[name]
        if len(starts) == 0:
            continue
        codes = genome.codes(name)
        size = len(codes)
        ws = starts + bin_size // 2 - window // 2
        we = ws + window
        lo, hi = np.clip(ws, 0, size), np.clip(we, 0, size)
        n_in = _covered_bp(_n_runs(codes), lo, hi)
        n_frac = (n_in + (window - (hi - lo))) / window
        keep = n_frac <= max_n_frac + 1e-12
        n_removed += int((~keep).sum())
        per_contig[name] = starts[keep]
    return n_removed


def _blacklist_filter(per_contig, contigs, blacklist, *, bin_size: int) -> int:
    """Drop (in place) bins overlapping a blacklist interval by >= 1 bp; the number dropped."""
    n_removed = 0
    bl = _merge_by_contig(_as_intervals(blacklist, what="blacklist"))
    for name in contigs:
        runs = bl.get(canonical_chrom(name))
        starts = per_contig[name]
        if runs is None or len(starts) == 0:
            continue
        keep = _covered_bp(runs, starts, starts + bin_size) == 0
        n_removed += int((~keep).sum())
        per_contig[name] = starts[keep]
    return n_removed


def _bin_frame(per_contig, contigs, bin_size: int, *, names: bool) -> pd.DataFrame:
    """The bins as a DataFrame (``chrom`` categorical in ``contigs`` order, ``start``, ``end``)."""
    starts = np.concatenate([per_contig[c] for c in contigs]) if contigs else np.zeros(0, np.int64)
    codes = np.repeat(np.arange(len(contigs)), [len(per_contig[c]) for c in contigs])
    df = pd.DataFrame(
        {
            "chrom": pd.Categorical.from_codes(codes, categories=list(contigs)),
            "start": starts.astype(np.int64),
            "end": (starts + bin_size).astype(np.int64),
        }
    )
    if names:
        df.index = locus_names(df["chrom"], df["start"], df["end"])
    return df
