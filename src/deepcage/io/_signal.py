"""Read counts from BAM (pysam) and signal from bigWig (pyBigWig); bigWig writing of predicted tracks."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from .._genome import canonical_chrom
from .._keys import PREDICTION

__all__ = ["count_bam", "read_bigwig", "write_bigwig"]

PathLike = str | os.PathLike

# unmapped (0x4) + secondary (0x100) + QC fail (0x200) + duplicate (0x400) + supplementary (0x800)
DEFAULT_EXCLUDE_FLAGS = 0xF04
_MAX_GAP = 100_000  # a new fetch when the next interval starts this far after the previous ones end
_MAX_SPAN = 5_000_000  # and at most every 5 Mb, to bound memory
_BIGWIG_STATS = ("mean", "mean0", "sum", "max", "min", "coverage")


# --------------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------------


def _intervals(chrom, start, end) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Broadcast ``chrom, start, end`` (scalars or arrays) to 1-D arrays and validate them."""
    chrom_a = np.atleast_1d(np.asarray(chrom, dtype=object))
    start_a = np.atleast_1d(np.asarray(start))
    end_a = np.atleast_1d(np.asarray(end))
    for name, arr in (("start", start_a), ("end", end_a)):
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            as_int = arr.astype(np.int64) if np.issubdtype(arr.dtype, np.number) else None
            if as_int is None or not np.array_equal(as_int, arr):
                raise TypeError(f"{name} must be integers (0-based coordinates), got {arr[:3]!r}.")
    try:
        chrom_a, start_a, end_a = np.broadcast_arrays(
            chrom_a, start_a.astype(np.int64), end_a.astype(np.int64)
        )
    except ValueError:
        raise ValueError(
            f"chrom, start and end have different lengths ({chrom_a.size}, {start_a.size}, {end_a.size})."
        ) from None
    bad = (start_a < 0) | (end_a < start_a)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"Invalid interval {chrom_a[i]}:{start_a[i]}-{end_a[i]} (need 0 <= start <= end).")
    return chrom_a.astype(str), start_a.copy(), end_a.copy()


def _contig_jobs(chroms, starts, ends, resolve) -> list[tuple[str, np.ndarray]]:
    """``(file contig name, interval indices)`` per nearby cluster of intervals, contig by contig."""
    jobs = []
    for c in pd.unique(chroms):
        idx = np.flatnonzero(chroms == c)
        contig = resolve(c)
        for chunk in _chunks(starts[idx], ends[idx]):
            jobs.append((contig, idx[chunk]))
    return jobs


def _chunks(starts: np.ndarray, ends: np.ndarray) -> list[np.ndarray]:
    """Group intervals of one contig into fetch chunks (indices into ``starts``), vectorised.

    A chunk breaks where the next interval starts more than ``_MAX_GAP`` after the running maximum end, or
    enters a new ``_MAX_SPAN`` block; each interval belongs to exactly one chunk.
    """
    if len(starts) == 0:
        return []
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], ends[order]
    run_end = np.maximum.accumulate(e)
    brk = np.zeros(len(s), dtype=bool)
    brk[1:] = (s[1:] - run_end[:-1] > _MAX_GAP) | (s[1:] // _MAX_SPAN != s[:-1] // _MAX_SPAN)
    return np.split(order, np.flatnonzero(brk))


def _contig_resolver(names: Sequence[str], path, kind: str):
    """Map a requested contig name to the file's name (exact, else up to ``chr``/``MT`` aliases)."""
    names = list(names)
    exact = set(names)
    by_key: dict[str, str] = {}
    for n in names:
        by_key.setdefault(canonical_chrom(n), n)

    def resolve(chrom: str) -> str:
        chrom = str(chrom)
        if chrom in exact:
            return chrom
        key = canonical_chrom(chrom)
        if key in by_key:
            return by_key[key]
        shown = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
        raise KeyError(
            f"Contig {chrom!r} is not in {f'{kind} {path}'.strip()}. Its contigs are: {shown}. Contig names were also matched "
            "up to the 'chr' prefix ('chr1' vs '1', 'chrM' vs 'MT'); if none fits, the file is probably from "
            "another assembly."
        )

    return resolve


def _progress(iterable, total: int, desc: str):
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, disable=total < 50, leave=False)


# --------------------------------------------------------------------------------------------------
# BAM
# --------------------------------------------------------------------------------------------------


def count_bam(
    path: PathLike,
    chrom,
    start,
    end,
    *,
    min_mapq: int = 0,
    position: str = "5prime",
    exclude_flags: int = DEFAULT_EXCLUDE_FLAGS,
) -> np.ndarray:
    """Count the reads of an indexed BAM file in each interval, with pysam.

    Each read is counted once, at one position: its **5' end** by default (the first aligned base of a
    forward read, the last aligned base of a reverse read; for ATAC/DNase this is the cut site), or the
    **midpoint** of its aligned span with ``position='midpoint'``. A read is counted in every interval that
    contains that position, so overlapping intervals may share reads; each mate of a pair counts as a read.

    The work is vectorised: one ``fetch`` per cluster of nearby intervals (at most 5 Mb), positions collected
    into an array, then ``np.searchsorted`` gives every interval's count at once.

    Parameters
    ----------
    path
        Coordinate-sorted BAM file with an index (``.bai``/``.csi``) next to it.
    chrom, start, end
        Intervals, 0-based half-open; scalars or equal-length arrays (broadcast). Contig names are matched
        to the BAM header up to the ``chr`` prefix.
    min_mapq
        Skip reads with a lower mapping quality.
    position
        ``'5prime'`` (default) or ``'midpoint'``.
    exclude_flags
        Skip reads with any of these SAM flag bits; default ``0xF04`` (unmapped, secondary, QC-failed,
        duplicate, supplementary), like ``samtools view -F 0xF04``.

    Returns
    -------
    ``(n_intervals,)`` int64 array of read counts.

    Raises
    ------
    FileNotFoundError
        When the BAM does not exist.
    ValueError
        When the BAM has no index (the message says how to build one) or is not a BAM file.
    KeyError
        When a contig is not in the BAM header (its contigs are listed).

    Examples
    --------
    >>> counts = dc.io.count_bam("HSC.bam", "chr20", [0, 200], [200, 400], min_mapq=30)  # doctest: +SKIP
    """
    import pysam

    if position not in ("5prime", "midpoint"):
        raise ValueError(f"position must be '5prime' or 'midpoint', got {position!r}.")
    chroms, starts, ends = _intervals(chrom, start, end)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"BAM file not found: {path}")
    try:
        bam = pysam.AlignmentFile(str(path), "rb")
    except (ValueError, OSError) as err:
        raise ValueError(f"{path}: not a readable BAM file ({err}).") from err
    counts = np.zeros(len(chroms), dtype=np.int64)
    with bam:
        if not bam.has_index():
            raise ValueError(
                f"{path}: the BAM file has no index (.bai/.csi). Build one with 'samtools index {path}' or, in "
                f"Python, pysam.index({str(path)!r}) (the BAM must be coordinate-sorted: samtools sort)."
            )
        resolve = _contig_resolver(bam.references, path, "BAM file")
        jobs = _contig_jobs(chroms, starts, ends, resolve)
        for contig, idx in _progress(jobs, len(jobs), "BAM chunks"):
            lo, hi = int(starts[idx].min()), int(ends[idx].max())
            if hi <= lo:
                continue
            pos = _read_positions(bam, contig, lo, hi, min_mapq, exclude_flags, position)
            counts[idx] = np.searchsorted(pos, ends[idx], side="left") - np.searchsorted(
                pos, starts[idx], side="left"
            )
    return counts


def _read_positions(
    bam, contig: str, lo: int, hi: int, min_mapq: int, exclude: int, position: str
) -> np.ndarray:
    if position == "5prime":
        pos = [
            (r.reference_end - 1) if r.is_reverse else r.reference_start
            for r in bam.fetch(contig, lo, hi)
            if not (r.flag & exclude) and r.mapping_quality >= min_mapq and r.reference_end is not None
        ]
    else:
        pos = [
            (r.reference_start + r.reference_end - 1) // 2
            for r in bam.fetch(contig, lo, hi)
            if not (r.flag & exclude) and r.mapping_quality >= min_mapq and r.reference_end is not None
        ]
    arr = np.asarray(pos, dtype=np.int64)
    arr.sort()
    return arr


# --------------------------------------------------------------------------------------------------
# bigWig reading
# --------------------------------------------------------------------------------------------------


def _open_bigwig(path: Path):
    import pyBigWig

    if not path.exists():
        raise FileNotFoundError(f"bigWig file not found: {path}")
    try:
        bw = pyBigWig.open(str(path))
    except RuntimeError as err:
        bw = None
        cause = err
    else:
        cause = None
    if bw is None or not bw.isBigWig():
        if bw is not None:
            bw.close()
        raise ValueError(f"{path}: not a readable bigWig file ({cause or 'bigBed or other format'}).")
    return bw


def read_bigwig(
    path: PathLike,
    chrom,
    start,
    end,
    *,
    stat: str = "mean",
    missing: float = 0.0,
) -> np.ndarray:
    """Summarise a bigWig signal over intervals, with pyBigWig.

    Vectorised: one ``values`` call per cluster of nearby intervals (at most 5 Mb), then cumulative sums
    (``mean``, ``mean0``, ``sum``, ``coverage``) or ``reduceat`` (``max``, ``min``) per interval.

    Parameters
    ----------
    path
        bigWig file.
    chrom, start, end
        Intervals, 0-based half-open; scalars or equal-length arrays. Contig names are matched to the file
        up to the ``chr`` prefix (``chr20`` finds ``20``). Parts beyond a contig end have no data.
    stat
        ``'mean'`` (mean over the bases that have data, as pyBigWig/UCSC ``mean``), ``'mean0'`` (bases
        without data count as 0, UCSC ``mean0``), ``'sum'``, ``'max'``, ``'min'`` or ``'coverage'``
        (fraction of bases with data).
    missing
        Value for intervals without any data (``mean``, ``sum``, ``max``, ``min``); 0 by default, as bigWig
        tracks leave zero-signal regions out. Pass ``np.nan`` to see them.

    Returns
    -------
    ``(n_intervals,)`` float64 array.

    Raises
    ------
    KeyError
        When a contig is not in the file; the message lists the file's contigs and the naming hint.

    Examples
    --------
    >>> sig = dc.io.read_bigwig("K562.bw", "chr20", [0, 200], [200, 400])  # doctest: +SKIP
    """
    if stat not in _BIGWIG_STATS:
        raise ValueError(f"stat must be one of {_BIGWIG_STATS}, got {stat!r}.")
    chroms, starts, ends = _intervals(chrom, start, end)
    path = Path(path)
    out = np.full(len(chroms), np.nan, dtype=np.float64)
    bw = _open_bigwig(path)
    try:
        sizes = bw.chroms()
        resolve = _contig_resolver(list(sizes), path, "bigWig file")
        jobs = _contig_jobs(chroms, starts, ends, resolve)
        for contig, idx in _progress(jobs, len(jobs), "bigWig chunks"):
            out[idx] = _bigwig_chunk(bw, contig, sizes[contig], starts[idx], ends[idx], stat)
    finally:
        bw.close()
    if stat not in ("mean0", "coverage"):
        out[np.isnan(out)] = missing
    return out


def _bigwig_chunk(bw, contig: str, size: int, s: np.ndarray, e: np.ndarray, stat: str) -> np.ndarray:
    lo = int(s.min())
    hi = int(min(e.max(), size))
    length = (e - s).astype(np.float64)
    if hi > lo:
        vals = np.asarray(bw.values(contig, lo, hi, numpy=True), dtype=np.float64)
    else:
        vals = np.zeros(0, dtype=np.float64)
    a = np.clip(s - lo, 0, len(vals))
    b = np.clip(e - lo, 0, len(vals))
    covered = np.isfinite(vals)
    res = np.full(len(s), np.nan)
    if stat in ("mean", "mean0", "sum", "coverage"):
        cs = np.concatenate([[0.0], np.cumsum(np.where(covered, vals, 0.0))])
        cc = np.concatenate([[0], np.cumsum(covered)])
        total, n = cs[b] - cs[a], cc[b] - cc[a]
        has = n > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            if stat == "mean":
                res[has] = total[has] / n[has]
            elif stat == "sum":
                res[has] = total[has]
            elif stat == "mean0":
                res = np.where(length > 0, total / np.maximum(length, 1), 0.0)
            else:
                res = np.where(length > 0, n / np.maximum(length, 1), 0.0)
        return res
    ufunc = np.fmax if stat == "max" else np.fmin
    nonempty = b > a
    order = np.argsort(a, kind="stable")
    sa, sb = a[order], b[order]
    if np.all(sa[1:] >= sb[:-1]):  # sorted, non-overlapping: one reduceat
        padded = np.append(vals, np.nan)
        red = ufunc.reduceat(padded, np.column_stack([sa, sb]).ravel())[::2]
        res[order] = red
    else:  # overlapping intervals: per-interval reduction
        for i in range(len(a)):
            if b[i] > a[i]:
                seg = vals[a[i] : b[i]]
                res[i] = ufunc.reduce(seg) if np.isfinite(seg).any() else np.nan
    res[~nonempty] = np.nan
    return res


# --------------------------------------------------------------------------------------------------
# bigWig writing
# --------------------------------------------------------------------------------------------------


def _read_chrom_sizes(chrom_sizes, genome, adata) -> dict[str, int]:
    if chrom_sizes is not None:
        if isinstance(chrom_sizes, Mapping):
            return {str(k): int(v) for k, v in chrom_sizes.items()}
        if isinstance(chrom_sizes, pd.Series):
            return {str(k): int(v) for k, v in chrom_sizes.items()}
        path = Path(chrom_sizes)
        from ._peaks import _iter_lines

        sizes = {}
        for lineno, line in _iter_lines(path):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split()
            try:
                sizes[fields[0]] = int(fields[1])
            except (IndexError, ValueError):
                raise ValueError(
                    f"{path}, line {lineno}: expected 'contig<TAB>length' (a .chrom.sizes file), got {line[:80]!r}."
                ) from None
        return sizes
    if genome is not None:
        from .._genome import Genome

        if not isinstance(genome, Genome):
            genome = Genome(genome)
        return dict(genome.chrom_sizes)
    from .._utils import genome_record

    rec = genome_record(adata)
    sizes = rec.get("chrom_sizes")
    if sizes:
        return {str(k): int(v) for k, v in dict(sizes).items()}
    raise ValueError(
        "Contig sizes are needed for a bigWig header: pass chrom_sizes= (dict or .chrom.sizes file) or "
        "genome= (dc.Genome or FASTA path), or record the genome with the preprocessing steps "
        "(adata.uns['deepcage']['genome']['chrom_sizes'])."
    )


def _safe_name(sample: str) -> str:
    return re.sub(r"[^\w.+-]+", "_", str(sample)).strip("_") or "sample"


def write_bigwig(
    adata_or_array,
    path: PathLike,
    *,
    sample: str | int | None = None,
    layer: str | None = PREDICTION,
    chrom_sizes: Mapping[str, int] | PathLike | None = None,
    genome=None,
    loci=None,
) -> Path | list[Path]:
    """Write per-locus values of one sample (e.g. predictions) as a bigWig track.

    Each locus becomes one bedGraph-like interval ``chrom start end value``; intervals are written sorted by
    contig (in ``chrom_sizes`` order) and start. Loci must not overlap (write bins, not sliding windows).

    Parameters
    ----------
    adata_or_array
        Samples x loci AnnData (or MuData: its ``'atac'`` modality), or a 1-D array of per-locus values
        (then ``loci`` gives the intervals).
    path
        Output ``.bw`` file; or, with ``sample=None`` and several samples, a directory (created if missing)
        that receives one ``<sample>.bw`` per sample.
    sample
        Which sample (obs name or integer position). ``None``: the only sample, or all samples into a directory.
    layer
        Layer holding the values (default ``'deepcage'``, the predictions of :func:`deepcage.tl.predict`);
        ``None`` uses ``X``.
    chrom_sizes
        Contig lengths (dict or ``.chrom.sizes`` file). Default: from ``genome``, else from
        ``adata.uns['deepcage']['genome']['chrom_sizes']``.
    genome
        A :class:`~deepcage.Genome` or FASTA path giving the contig lengths.
    loci
        Intervals for an array input: a DataFrame with ``chrom``, ``start``, ``end`` or ``chr:start-end`` names.

    Returns
    -------
    The path written, or the list of paths when writing a directory.

    Raises
    ------
    ValueError
        For overlapping loci, loci beyond a contig end, non-finite values, missing contig sizes, or several
        samples without a directory.

    Examples
    --------
    >>> dc.write_bigwig(adata, "tracks/", layer="deepcage")  # one file per sample  # doctest: +SKIP
    >>> dc.write_bigwig(adata, "CMP.bw", sample="CMP")  # doctest: +SKIP
    """
    from .._layers import get_layer
    from .._utils import get_modality, loci_of, parse_locus_names

    path = Path(path)
    if isinstance(adata_or_array, AnnData) or hasattr(adata_or_array, "mod"):
        adata = get_modality(adata_or_array, "atac")
        intervals = loci_of(adata)
        hint = "Pass layer=None to write X, or run dc.tl.predict first for 'deepcage'."
        matrix = get_layer(adata, layer, hint=hint)
        names = list(adata.obs_names)
    else:
        adata = None
        arr = np.asarray(adata_or_array)
        if loci is None:
            raise ValueError(
                "An array input needs loci= (DataFrame with chrom/start/end or 'chr:start-end' names)."
            )
        if isinstance(loci, pd.DataFrame) and {"chrom", "start", "end"}.issubset(loci.columns):
            intervals = loci[["chrom", "start", "end"]].reset_index(drop=True)
        else:
            intervals = parse_locus_names(loci).reset_index(drop=True)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != len(intervals):
            raise ValueError(
                f"values have shape {np.asarray(adata_or_array).shape} but there are {len(intervals)} loci."
            )
        matrix = arr
        names = [str(i) for i in range(arr.shape[0])]
    if loci is not None and adata is not None:
        raise ValueError("loci= is only for array input; an AnnData brings its own loci.")

    if sample is None:
        if len(names) == 1:
            rows = [(0, path / f"{_safe_name(names[0])}.bw" if path.is_dir() else path)]
        elif path.suffix.lower() in (".bw", ".bigwig"):
            raise ValueError(
                f"{len(names)} samples but {path} is a single file: pass sample= (one of {names[:5]}...) or a "
                "directory path to write one file per sample."
            )
        else:
            path.mkdir(parents=True, exist_ok=True)
            rows = [(i, path / f"{_safe_name(n)}.bw") for i, n in enumerate(names)]
    else:
        if isinstance(sample, int | np.integer) and sample not in names:
            i = int(sample)
            if not -len(names) <= i < len(names):
                raise IndexError(f"sample={sample} out of range for {len(names)} samples.")
            i %= len(names)
        elif str(sample) in names:
            i = names.index(str(sample))
        else:
            raise KeyError(f"Sample {sample!r} not found; samples are {names[:10]}.")
        target = path / f"{_safe_name(names[i])}.bw" if path.is_dir() else path
        rows = [(i, target)]

    sizes = _read_chrom_sizes(chrom_sizes, genome, adata)
    order, chroms, starts, ends = _sorted_track_intervals(intervals, sizes)
    out_paths = []
    for i, target in rows:
        values = matrix[i]
        values = values.toarray().ravel() if hasattr(values, "toarray") else np.asarray(values).ravel()
        values = values.astype(np.float64)[order]
        if not np.isfinite(values).all():
            j = int(np.flatnonzero(~np.isfinite(values))[0])
            raise ValueError(
                f"Sample {names[i]!r} has a non-finite value ({values[j]}) at {chroms[j]}:{starts[j]}-{ends[j]}; "
                "bigWig cannot store it."
            )
        _write_one(target, chroms, starts, ends, values, sizes)
        out_paths.append(target)
    return out_paths if (sample is None and len(rows) > 1) else out_paths[0]


class _Contigs:
    """Per-row contig names stored as codes into the distinct names (a genome-wide track has millions of rows
    and a few dozen contigs): ``contigs[j]`` is the name of row ``j``."""

    def __init__(self, names: list[str], codes: np.ndarray):
        self.names, self.codes = names, codes

    def __getitem__(self, j):
        return self.names[self.codes[j]]

    def __len__(self) -> int:
        return len(self.codes)


def _sorted_track_intervals(intervals: pd.DataFrame, sizes: dict[str, int]):
    resolve = _contig_resolver(list(sizes), "", "the contig sizes")
    codes, uniq = pd.factorize(intervals["chrom"])
    uniq = [str(c) for c in uniq]
    start = intervals["start"].to_numpy(dtype=np.int64)
    end = intervals["end"].to_numpy(dtype=np.int64)
    rank = {c: r for r, c in enumerate(sizes)}
    rank_u = np.array([rank[resolve(c)] for c in uniq], dtype=np.int64)
    size_u = np.array([sizes[resolve(c)] for c in uniq], dtype=np.int64)
    order = np.lexsort((end, start, rank_u[codes])) if len(codes) else np.zeros(0, dtype=np.int64)
    codes, start, end = codes[order], start[order], end[order]
    chrom = _Contigs(uniq, codes)
    lim = size_u[codes]
    past = end > lim
    if past.any():
        j = int(np.flatnonzero(past)[0])
        raise ValueError(
            f"Locus {chrom[j]}:{start[j]}-{end[j]} extends past the end of the contig ({lim[j]:,} bp). "
            "Are the chrom sizes from the same assembly?"
        )
    same = codes[1:] == codes[:-1]
    overlap = same & (start[1:] < end[:-1])
    if overlap.any():
        j = int(np.flatnonzero(overlap)[0])
        raise ValueError(
            f"Loci {chrom[j]}:{start[j]}-{end[j]} and {chrom[j + 1]}:{start[j + 1]}-{end[j + 1]} overlap "
            f"({int(overlap.sum())} overlaps); bigWig intervals must not overlap. Write non-overlapping bins."
        )
    empty = end <= start
    if empty.any():
        j = int(np.flatnonzero(empty)[0])
        raise ValueError(f"Locus {chrom[j]}:{start[j]}-{end[j]} is empty.")
    return order, chrom, start, end


_BIGWIG_BATCH = 1_000_000  # entries per addEntries call: bounded memory for genome-wide tracks


def _write_one(target: Path, chroms: _Contigs, starts, ends, values, sizes) -> None:
    import pyBigWig

    target.parent.mkdir(parents=True, exist_ok=True)
    resolve = _contig_resolver(list(sizes), "", "the contig sizes")
    codes = chroms.codes
    # runs of one contig (rows are sorted by contig), each written in batches
    bounds = np.flatnonzero(np.diff(codes)) + 1 if len(codes) else np.zeros(0, dtype=np.int64)
    firsts = np.concatenate([[0], bounds]).astype(np.int64) if len(codes) else bounds
    lasts = np.concatenate([bounds, [len(codes)]]).astype(np.int64) if len(codes) else bounds
    contigs = [chroms.names[codes[a]] for a in firsts]
    header = [(c, int(sizes[resolve(c)])) for c in contigs]
    as_array = getattr(pyBigWig, "numpy", 0) == 1
    tmp = target.with_name(target.name + ".tmp")
    bw = pyBigWig.open(str(tmp), "w")
    if bw is None:
        raise OSError(f"pyBigWig could not create {tmp}; is the folder writable?")
    try:
        bw.addHeader(header)
        for contig, a, b in zip(contigs, firsts, lasts, strict=True):
            for lo in range(int(a), int(b), _BIGWIG_BATCH):
                hi = min(lo + _BIGWIG_BATCH, int(b))
                s, e, v = starts[lo:hi], ends[lo:hi], np.asarray(values[lo:hi], dtype=np.float64)
                if not as_array:
                    s, e, v = [int(x) for x in s], [int(x) for x in e], [float(x) for x in v]
                bw.addEntries([contig] * (hi - lo), s, ends=e, values=v)
    except BaseException:
        bw.close()
        tmp.unlink(missing_ok=True)
        raise
    bw.close()
    tmp.replace(target)  # written in full, then renamed: no half-written track under the final name
