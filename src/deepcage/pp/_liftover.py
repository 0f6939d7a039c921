"""Lift intervals or the loci of an AnnData from one genome assembly to another (UCSC chain files, pyliftover)."""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData
from tqdm.auto import tqdm

from .._genome import Genome, canonical_chrom
from .._settings import show_progress
from .._utils import deepcage_uns, genome_record, get_modality, loci_of, locus_names

__all__ = ["DROP_REASONS", "liftover", "same_assembly"]

logger = logging.getLogger("deepcage")

#: Why an interval is not lifted, in the order the checks run.
DROP_REASONS = ("unknown_contig", "unmapped", "contig", "strand", "length", "outside_genome", "duplicate")

# names of one assembly (lowercase): a record saying 'GRCh37' and a chain saying 'hg19' agree
_ALIASES = {
    "hg19": ("hg19", "grch37", "b37", "hs37d5", "grch37-lite"),
    "hg38": ("hg38", "grch38", "hs38", "hs38dh"),
    "mm10": ("mm10", "grcm38"),
    "mm39": ("mm39", "grcm39"),
}
_CANONICAL_ASSEMBLY = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
_CHAIN_NAME = re.compile(
    r"^(?P<source>[A-Za-z0-9_.-]+?)To(?P<target>[A-Z][A-Za-z0-9_.-]*?)(\.over)?\.chain(\.gz)?$"
)


def _assembly_key(name) -> str:
    key = str(name or "").strip().lower()
    return _CANONICAL_ASSEMBLY.get(key, key)


def same_assembly(a, b) -> bool:
    """Whether two assembly names denote the same assembly (``'hg19'`` = ``'GRCh37'``); unknown names never clash."""
    ka, kb = _assembly_key(a), _assembly_key(b)
    return not ka or not kb or ka == kb


def chain_assemblies(chain) -> tuple[str, str]:
    """``(source, target)`` assembly names from a UCSC chain file name (``hg19ToHg38.over.chain.gz``), else ``('', '')``."""
    if not isinstance(chain, str | os.PathLike):
        return "", ""
    m = _CHAIN_NAME.match(Path(chain).name)
    if m is None:
        return "", ""
    target = m["target"]
    return m["source"], target[0].lower() + target[1:]


@functools.lru_cache(maxsize=4)
def _load_chain(path: str, mtime: float, size: int):
    from pyliftover import LiftOver

    try:
        return LiftOver(path)
    except Exception as err:  # pyliftover raises bare Exceptions on malformed chains
        raise ValueError(
            f"{path}: not a readable UCSC chain file ({err}). Download it from "
            "https://hgdownload.soe.ucsc.edu/downloads.html (liftOver files)."
        ) from err


def _open_chain(chain):
    """A pyliftover ``LiftOver`` and a description of the chain (its path, or the registry name it came from)."""
    if hasattr(chain, "convert_coordinate"):
        return chain, f"<{type(chain).__name__}>", ("", "")
    if not isinstance(chain, str | os.PathLike):
        raise TypeError(
            f"chain must be a chain file path, a registry name such as 'hg19ToHg38', or a pyliftover.LiftOver; "
            f"got {type(chain).__name__}."
        )
    path = Path(chain)
    if not path.exists():
        from .._data_files import chain_file

        known = chain_file(str(chain))  # 'hg19ToHg38' -> the UCSC chain (local copy, cache or download)
        if known is None:
            raise FileNotFoundError(
                f"Chain file not found: {path}. Pass the path of a UCSC .over.chain(.gz) file or a name such as "
                "'hg19ToHg38' / 'hg38ToHg19'."
            )
        path = known
    stat = path.stat()
    return _load_chain(str(path), stat.st_mtime, stat.st_size), str(path), chain_assemblies(path)


def _chain_contigs(lo) -> list[str]:
    index = getattr(getattr(lo, "chain_file", None), "chain_index", None)
    return list(index) if isinstance(index, dict) else []


def _chain_name_of(lo, chrom: str, contigs: list[str]) -> str | None:
    """The chain's name for a contig (``20`` -> ``chr20``), or None when the chain does not know it."""
    if contigs:
        if chrom in contigs:
            return chrom
        key = canonical_chrom(chrom)
        for name in contigs:
            if canonical_chrom(name) == key:
                return name
        return None
    for name in (chrom, "chr" + canonical_chrom(chrom), canonical_chrom(chrom)):
        if lo.convert_coordinate(name, 0) is not None:
            return name
    return None


def _best_pair(first, last, old_len: int):
    """The pair of hits (one per end) on one contig and strand whose span is closest to the old length."""
    best, reason = None, "contig"
    for a in first:
        for b in last:
            if a[0] != b[0]:
                continue
            if a[2] != b[2]:
                reason = "strand"
                continue
            lo, hi = (a[1], b[1]) if a[2] == "+" else (b[1], a[1])
            change = abs((hi + 1 - lo) - old_len)
            if best is None or change < best[0]:
                best = (change, a[0], lo, hi + 1, a[2])
    return best, reason


def _lift_arrays(lo, chrom, start, end, summit, *, max_length_change: float, progress: bool) -> dict:
    """Lift every interval; the result holds new coordinates and a drop reason ('' when kept)."""
    n = len(chrom)
    new_chrom = np.empty(n, dtype=object)
    new_start = np.zeros(n, dtype=np.int64)
    new_end = np.zeros(n, dtype=np.int64)
    strand = np.full(n, "+", dtype=object)
    reason = np.full(n, "", dtype=object)
    new_summit = None if summit is None else np.asarray(summit, dtype=np.int64).copy()
    contigs = _chain_contigs(lo)
    names = {c: _chain_name_of(lo, c, contigs) for c in pd.unique(chrom)}
    rows = range(n)
    if show_progress(progress) and n >= 20000:
        rows = tqdm(rows, desc="liftover", unit="interval", mininterval=1.0)
    for i in rows:
        name = names[chrom[i]]
        if name is None:
            reason[i] = "unknown_contig"
            continue
        s, e = int(start[i]), int(end[i])
        old_len = e - s
        first = lo.convert_coordinate(name, s)
        last = first if old_len <= 1 else lo.convert_coordinate(name, e - 1)
        if not first or not last:
            reason[i] = "unmapped"
            continue
        best, why = _best_pair(first, last, max(old_len, 1))
        if best is None:
            reason[i] = why
            continue
        change, c, ns, ne, st = best
        if old_len == 0:  # a point (start == end, e.g. a TSS) stays a point
            ne = ns
        elif change > max_length_change * old_len:
            reason[i] = "length"
            continue
        new_chrom[i], new_start[i], new_end[i], strand[i] = c, ns, ne, st
        if new_summit is not None and new_summit[i] >= 0:
            new_summit[i] = _lift_summit(lo, name, s + int(new_summit[i]), c, ns, ne, st, int(new_summit[i]))
    return {
        "chrom": new_chrom,
        "start": new_start,
        "end": new_end,
        "strand": strand,
        "reason": reason,
        "summit": new_summit,
    }


def _lift_summit(lo, name, position, chrom, start, end, strand, offset) -> int:
    """The summit offset in the lifted interval (the summit is lifted itself; else mirrored/clipped)."""
    for hit in lo.convert_coordinate(name, position) or []:
        if hit[0] == chrom and hit[2] == strand and start <= hit[1] < end:
            return int(hit[1] - start)
    length = max(end - start, 1)
    return int(min(offset, length - 1)) if strand == "+" else int(max(length - 1 - offset, 0))


def _target_record(target_genome, chain_target: str):
    """(Genome or None, genome record) of the target assembly."""
    if target_genome is None:
        return None, {"name": chain_target, "fasta": [], "chrom_sizes": {}}
    if isinstance(target_genome, Genome):
        return target_genome, target_genome.to_dict()
    if isinstance(target_genome, str) and not (
        Path(target_genome).exists() or re.search(r"\.(fa|fasta|fna)(\.gz|\.bgz)?$", target_genome)
    ):
        return None, {"name": target_genome, "fasta": [], "chrom_sizes": {}}
    g = Genome(target_genome, name=chain_target or None)
    return g, g.to_dict()


def _mark_outside(lifted: dict, genome: Genome) -> None:
    reason, chrom, end = lifted["reason"], lifted["chrom"], lifted["end"]
    for c in pd.unique(chrom[reason == ""]):
        rows = np.flatnonzero((reason == "") & (chrom == c))
        if c not in genome:
            reason[rows] = "outside_genome"
            continue
        chrom[rows] = genome.resolve(c)
        reason[rows[end[rows] > genome.chrom_size(c)]] = "outside_genome"


def _mark_duplicates(lifted: dict, chrom, start, end, how: str) -> None:
    """Intervals from different places that land on the same coordinates ('first': all but the first place).

    Rows repeating the same input interval (a narrowPeak file lists one row per summit) are not duplicates.
    """
    kept = np.flatnonzero(lifted["reason"] == "")
    if len(kept) < 2:
        return
    frame = pd.DataFrame(
        {
            "c": lifted["chrom"][kept],
            "s": lifted["start"][kept],
            "e": lifted["end"][kept],
            "source": pd.factorize(pd.Series(locus_names(chrom[kept], start[kept], end[kept])))[0],
        }
    )
    per_target = frame.groupby(["c", "s", "e"], sort=False)["source"]
    n_sources = per_target.transform("nunique").to_numpy()
    collide = n_sources > 1
    if how == "first":
        collide &= frame["source"].to_numpy() != per_target.transform("first").to_numpy()
    lifted["reason"][kept[collide]] = "duplicate"


def _read_intervals(data) -> tuple[pd.DataFrame, str]:
    if isinstance(data, str | os.PathLike):
        from ..io import read_bed, read_narrowpeak

        name = Path(data).name.lower()
        reader = read_narrowpeak if ".narrowpeak" in name else read_bed
        return reader(data), str(data)
    if isinstance(data, pd.DataFrame):
        from ._bins import _as_intervals

        _as_intervals(data, what="intervals")  # names a missing column or an invalid interval
        return data, f"<DataFrame of {len(data)} intervals>"
    raise TypeError(
        "data must be a BED/narrowPeak path, a DataFrame with chrom/start/end, an AnnData or a MuData; "
        f"got {type(data).__name__}."
    )


def _source_name(data, table: pd.DataFrame | None) -> str:
    if table is not None:
        rec = table.attrs.get("genome") if isinstance(table.attrs.get("genome"), dict) else {}
    else:
        rec = genome_record(data)
    return str(rec.get("name") or "")


def _report(
    lifted: dict, n: int, what: str, chain_desc: str, source: str, target: str, options: dict
) -> dict:
    reasons = lifted["reason"]
    dropped = {r: int((reasons == r).sum()) for r in DROP_REASONS}
    kept = reasons == ""
    return {
        "chain": chain_desc,
        "source_genome": source,
        "target_genome": target,
        "n_input": int(n),
        "n_lifted": int(kept.sum()),
        "n_dropped": int(n - kept.sum()),
        "dropped": dropped,
        "n_inverted": int((kept & (lifted["strand"] == "-")).sum()),
        **options,
        "input": what,
    }


def _log(report: dict) -> None:
    reasons = ", ".join(f"{k} {v:,}" for k, v in report["dropped"].items() if v)
    msg = "liftover %s -> %s: %s of %s intervals lifted; dropped %s (%s)."
    args = (
        report["source_genome"] or "?",
        report["target_genome"] or "?",
        f"{report['n_lifted']:,}",
        f"{report['n_input']:,}",
        f"{report['n_dropped']:,}",
        reasons or "none",
    )
    if report["n_dropped"] > 0.5 * max(report["n_input"], 1):
        logger.warning(msg, *args)
    else:
        logger.info(msg, *args)


def liftover(
    data,
    chain,
    *,
    target_genome: Genome | str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    max_length_change: float = 0.05,
    duplicates: str = "drop",
    progress: bool | None = None,
    copy: bool = False,
):
    """Lift intervals, or the loci of an AnnData, from one assembly to another (e.g. hg19 -> hg38).

    Both ends of every interval are converted with :mod:`pyliftover` (UCSC chain files, as ``liftOver``). An
    interval is kept only when both ends land on the same contig and strand and its length changes by at most
    ``max_length_change`` of its old length. Every other interval is dropped, counted by reason and reported:

    ``unknown_contig``
        the chain has no such contig (e.g. ``chrUn_...`` or another species).
    ``unmapped``
        an end falls where the chain has no alignment (deleted or unplaced in the target).
    ``contig`` / ``strand``
        the two ends land on different contigs / strands (a rearrangement).
    ``length``
        the lifted interval is longer or shorter than allowed (an insertion or deletion inside it).
    ``outside_genome``
        the lifted interval is not inside a contig of ``target_genome`` (only checked when a genome is given).
    ``duplicate``
        several intervals land on the same coordinates (see ``duplicates``).

    Intervals lifted onto the reverse strand (inversions) are kept; their ``strand`` column (if any) is flipped
    and they are counted as ``n_inverted``. A narrowPeak summit is lifted with its peak.

    Parameters
    ----------
    data
        A BED or narrowPeak file (plain or gzip), a DataFrame with ``chrom``, ``start``, ``end`` (other columns
        are kept), or an AnnData / MuData (``'atac'``) whose ``var`` are loci.
    chain
        A UCSC chain file (``hg19ToHg38.over.chain.gz``), a :class:`pyliftover.LiftOver`, or the name of a chain
        in the deepcage data registry (``'hg19ToHg38'``, ``'hg38ToHg19'``: the local example copy, the cache, or
        a download from UCSC).
    target_genome
        The target assembly: a :class:`~deepcage.Genome` (or FASTA path(s)) to check that lifted intervals lie
        inside its contigs and to use its contig names, or just its name (``'hg38'``). Default: the name in the
        chain file name (``hg19ToHg38`` -> ``'hg38'``). Written to ``uns['deepcage']['genome']`` of an AnnData.
    max_length_change
        Largest allowed change of an interval's length, as a fraction of its old length (0.05: a 200-bp bin may
        become 190-210 bp).
    duplicates
        Intervals that land on identical coordinates: ``'drop'`` all of them (their data may disagree),
        ``'first'`` keep the first, ``'keep'`` keep all (tables only: an AnnData needs unique locus names).
    progress
        Show a progress bar for large inputs (``None``, the default: per ``dc.settings.verbosity``).
    copy
        AnnData / MuData: return a lifted copy instead of lifting in place.

    Returns
    -------
    For a file or DataFrame, a new DataFrame of the lifted intervals: ``chrom``, ``start``, ``end`` on the target
    assembly, the other columns as given, and ``lifted_from`` (the old ``chr:start-end``). A DataFrame indexed by
    ``chr:start-end`` names (as from :func:`~deepcage.pp.bin_genome`) gets new names. ``df.attrs['liftover']``
    holds the report.

    For an AnnData / MuData: None (or the copy). Loci that cannot be lifted are removed from every slot;
    ``var[['chrom','start','end']]`` and ``var_names`` are rewritten; ``var['lifted_from']`` keeps the old names;
    ``uns['deepcage']['genome']`` becomes the target genome and ``uns['deepcage']['liftover']`` the report
    (input/lifted/dropped counts by reason, chain, assemblies, options). Motif scores and labels travel with
    their loci: the lifted windows hold the same sequence up to the small indels ``max_length_change`` allows.

    Raises
    ------
    ValueError
        When the data's recorded assembly is not the chain's source (``hg38`` data with ``hg19ToHg38``), or when
        no interval maps at all (a chain for another assembly), with the counts by reason.

    Examples
    --------
    >>> peaks38 = dc.pp.liftover("HSC.narrowPeak.gz", "hg19ToHg38.over.chain.gz")  # doctest: +SKIP
    >>> peaks38.attrs["liftover"]["dropped"]  # doctest: +SKIP
    {'unknown_contig': 0, 'unmapped': 3, 'contig': 0, 'strand': 0, 'length': 1, 'outside_genome': 0, 'duplicate': 0}
    >>> dc.pp.liftover(
    ...     adata, "hg19ToHg38", target_genome=dc.Genome("hg38.fa.gz", name="hg38")
    ... )  # doctest: +SKIP
    >>> adata.uns["deepcage"]["liftover"]["n_lifted"]  # doctest: +SKIP
    """
    if duplicates not in ("drop", "first", "keep"):
        raise ValueError(f"duplicates must be 'drop', 'first' or 'keep', got {duplicates!r}.")
    if not 0 <= float(max_length_change):
        raise ValueError(f"max_length_change must be >= 0, got {max_length_change!r}.")
    is_anndata = isinstance(data, AnnData) or type(data).__name__ == "MuData"
    if is_anndata and duplicates == "keep":
        raise ValueError(
            "duplicates='keep' would give an AnnData duplicated locus names; use 'drop' or 'first'."
        )

    if is_anndata:
        table, what = None, "AnnData var"
        adata = get_modality(data, "atac")
        loci = loci_of(adata).reset_index(drop=True)
    else:
        table, what = _read_intervals(data)
        loci = table
    lo, chain_desc, (chain_source, chain_target) = _open_chain(chain)
    source = _source_name(data, table)
    if source and chain_source and not same_assembly(source, chain_source):
        raise ValueError(
            f"The data are on {source!r} but the chain {chain_desc} lifts from {chain_source!r} to "
            f"{chain_target!r}. Use a chain from {source!r} (e.g. '{source}To{chain_target[:1].upper()}"
            f"{chain_target[1:]}'), or check the genome record in uns['deepcage']['genome']."
        )
    genome, record = _target_record(target_genome, chain_target)
    target = record.get("name") or chain_target

    chrom = loci["chrom"].astype(str).to_numpy()
    start = np.asarray(loci["start"], dtype=np.int64)
    end = np.asarray(loci["end"], dtype=np.int64)
    summit = table["summit"].to_numpy() if table is not None and "summit" in table.columns else None
    lifted = _lift_arrays(
        lo, chrom, start, end, summit, max_length_change=float(max_length_change), progress=progress
    )
    if genome is not None:
        _mark_outside(lifted, genome)
    if duplicates != "keep":
        _mark_duplicates(lifted, chrom, start, end, duplicates)
    options = {"max_length_change": float(max_length_change), "duplicates": duplicates}
    report = _report(lifted, len(chrom), what, chain_desc, source or chain_source, target, options)
    _log(report)
    if report["n_lifted"] == 0 and len(chrom):
        shown = ", ".join(list(pd.unique(chrom))[:5])
        known = ", ".join(_chain_contigs(lo)[:5])
        counts = ", ".join(f"{k} {v:,}" for k, v in report["dropped"].items() if v)
        raise ValueError(
            f"No interval of {what} lifts over with the chain {chain_desc} ({counts}). The data use contigs "
            f"{shown}; the chain lifts from {chain_source or 'an unknown assembly'} ({known}, ...). Is this the "
            "chain for the data's assembly?"
        )

    keep = lifted["reason"] == ""
    old_names = locus_names(chrom[keep], start[keep], end[keep])
    new_chrom = lifted["chrom"][keep].astype(str)
    new_start, new_end = lifted["start"][keep], lifted["end"][keep]
    if is_anndata:
        return _apply_to_anndata(data, keep, new_chrom, new_start, new_end, old_names, record, report, copy)
    out = table.loc[keep].copy()
    out["chrom"], out["start"], out["end"] = new_chrom, new_start, new_end
    if "strand" in out.columns:
        flip = {"+": "-", "-": "+"}
        inverted = lifted["strand"][keep] == "-"
        out.loc[inverted, "strand"] = out.loc[inverted, "strand"].map(lambda s: flip.get(s, s))
    if summit is not None:
        out["summit"] = lifted["summit"][keep]
    out["lifted_from"] = np.asarray(old_names)
    named = len(table) > 0 and str(table.index[0]) == f"{chrom[0]}:{start[0]}-{end[0]}"
    out.index = locus_names(new_chrom, new_start, new_end) if named else pd.RangeIndex(len(out))
    out.attrs = {k: v for k, v in table.attrs.items() if k != "genome"}
    out.attrs["genome"] = record
    out.attrs["liftover"] = report
    return out


def _apply_to_anndata(data, keep, chrom, start, end, old_names, record, report, copy):
    if copy:
        data = data.copy()
    adata = get_modality(data, "atac")
    adata._inplace_subset_var(np.flatnonzero(keep))
    _update_mudata(data, adata)  # MuData follows a filter or a renaming, not both at once
    adata.var["chrom"] = chrom
    adata.var["start"] = start
    adata.var["end"] = end
    adata.var["lifted_from"] = np.asarray(old_names)
    adata.var_names = locus_names(chrom, start, end)
    _update_mudata(data, adata)
    rec = deepcage_uns(adata)
    rec["genome"] = record
    rec["liftover"] = report
    return data if copy else None


def _update_mudata(data, adata: AnnData) -> None:
    if data is adata:
        return
    import mudata

    with mudata.set_options(pull_on_update=False):
        data.update()
