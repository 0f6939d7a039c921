"""Readers for BED-like interval files: BED3+, narrowPeak (plain or gzip)."""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from .._utils import is_gzip

__all__ = ["NARROWPEAK_COLUMNS", "check_peak_file", "read_bed", "read_intervals", "read_narrowpeak"]

NARROWPEAK_COLUMNS = [
    "chrom",
    "start",
    "end",
    "name",
    "score",
    "strand",
    "signal",
    "pvalue",
    "qvalue",
    "summit",
]
_HEADER_PREFIXES = ("#", "track", "browser")
_COLUMN_HEADER_STARTS = {"start", "chromstart", "chrom_start", "begin", "chromStart"}


def _text_encoding(path: Path) -> str:
    """``'utf-16'`` for a file with a UTF-16 byte-order mark (Excel's "Unicode text"), else ``'utf-8-sig'`` (UTF-8,
    with or without the mark Windows editors add)."""
    with open(path, "rb") as fh:
        head = fh.read(2)
    return "utf-16" if head in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"


def _open_text(path: Path):
    """Open a plain or gzip text file; a ``.gz`` suffix on a file that is not gzip is an error.

    UTF-16 text (Excel's "Save as Unicode text") is decoded as such, detected by its byte-order mark."""
    if is_gzip(path):
        return gzip.open(path, "rt")
    return open(path, encoding=_text_encoding(path))


def _iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, line without newline)`` of a plain or gzip text file.

    A truncated or corrupt gzip stream, or a binary file, raises a ``ValueError`` naming the file and the
    last good line (errors raised by the caller's parsing code pass through unchanged).
    """
    path = Path(path)
    with _open_text(path) as fh:
        lineno = 0
        while True:
            try:
                line = fh.readline()
            except (EOFError, gzip.BadGzipFile, zlib.error) as err:
                raise ValueError(
                    f"{path}: the gzip stream is truncated or corrupt after line {lineno} ({err}). "
                    "Re-download or re-compress the file."
                ) from err
            except UnicodeDecodeError as err:
                raise ValueError(
                    f"{path}, line {lineno + 1}: not a text file ({err}). Check that the path points to the "
                    "right file."
                ) from err
            if not line:
                return
            lineno += 1
            yield lineno, line.rstrip("\r\n")


def _few_fields_hint(line: str, too_few: bool) -> str:
    if not too_few:
        return ""
    for sep, name in ((",", "commas"), (" ", "spaces")):
        if len(line.split(sep)) >= 3:
            return f" (this line is separated by {name}, not tabs: convert the file to tab-separated BED)"
    return " (is the file truncated?)"


def _read_bed_rows(
    path: Path, min_columns: int, max_columns: int | None = None
) -> tuple[list[list[str]], list[int]]:
    rows: list[list[str]] = []
    linenos: list[int] = []
    for lineno, line in _iter_lines(path):
        if not line.strip() or line.startswith(_HEADER_PREFIXES):
            continue
        fields = line.split("\t")
        if len(fields) < min_columns or (max_columns is not None and len(fields) > max_columns):
            want = (
                f"exactly {min_columns}"
                if max_columns == min_columns
                else f"at least {min_columns}"
                if max_columns is None
                else f"{min_columns} to {max_columns}"
            )
            raise ValueError(
                f"{path}, line {lineno}: expected {want} tab-separated fields, got {len(fields)}: "
                f"{line[:80]!r}. BED lines are 'chrom<TAB>start<TAB>end[...]'"
                + _few_fields_hint(line, len(fields) < min_columns)
                + "."
            )
        try:
            start, end = int(fields[1]), int(fields[2])
        except ValueError:
            if not rows and fields[1].strip().lower() in {s.lower() for s in _COLUMN_HEADER_STARTS}:
                continue  # a column-name header line without '#'
            raise ValueError(
                f"{path}, line {lineno}: start/end must be integers, got {fields[1]!r} and {fields[2]!r}. "
                "If this is a header line, prefix it with '#'."
            ) from None
        if start < 0 or end < start:
            raise ValueError(
                f"{path}, line {lineno}: invalid interval {fields[0]}:{start}-{end} (need 0 <= start <= end)."
            )
        rows.append(fields)
        linenos.append(lineno)
    return rows, linenos


def read_bed(
    path: str | os.PathLike, *, min_columns: int = 3, columns: list[str] | None = None
) -> pd.DataFrame:
    """Read a BED file (plain or gzip; ``track``/``browser``/``#`` header lines are skipped).

    A first line of column names (``chrom  start  end ...``) without ``#`` is skipped too.

    Parameters
    ----------
    path
        BED file; extra columns beyond ``chrom, start, end`` are kept as ``col4, col5, ...`` unless
        ``columns`` names them.
    min_columns
        Lines with fewer tab-separated fields are an error.
    columns
        Names for the first columns (e.g. the ten narrowPeak columns of :func:`read_narrowpeak`).

    Returns
    -------
    DataFrame with at least ``chrom`` (str), ``start``, ``end`` (int64, 0-based half-open).

    Raises
    ------
    ValueError
        Naming the file and line number of a malformed line (too few fields, non-integer or negative
        coordinates, ``end < start``), a ``.gz`` file that is not gzip, or a truncated gzip file.

    Examples
    --------
    >>> bl = dc.io.read_bed("hg19-blacklist.v2.bed")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"BED file not found: {path}")
    fast = _read_clean_bed(path, min_columns, columns)
    if fast is not None:
        return fast
    rows, _ = _read_bed_rows(path, min_columns)
    return _bed_frame(rows, columns)


def _read_clean_bed(path: Path, min_columns: int, columns: list[str] | None) -> pd.DataFrame | None:
    """pandas' C parser for the common case: no header lines, same number of fields everywhere, valid
    coordinates. Anything else returns None, and the line-by-line reader finds and reports the problem."""
    gz = is_gzip(path)
    try:
        df = pd.read_csv(
            path,
            sep="\t",
            header=None,
            dtype=str,
            na_filter=False,
            compression="gzip" if gz else None,
        )
    except Exception:  # any parse problem: the slow path reports it with a line number
        return None
    if df.shape[0] == 0 or df.shape[1] < min_columns:
        return None
    first = str(df.iat[0, 0])
    if first.startswith(_HEADER_PREFIXES) or not first.strip():
        return None
    start = pd.to_numeric(df[1], errors="coerce")
    end = pd.to_numeric(df[2], errors="coerce")
    bad = start.isna() | end.isna() | (start < 0) | (end < start) | (start % 1 != 0) | (end % 1 != 0)
    if bad.any() or df[0].str.startswith(_HEADER_PREFIXES).any():
        return None
    width = df.shape[1]
    names = list(columns or [])[:width]
    names += [f"col{i + 1}" for i in range(len(names), width)]
    names[:3] = ["chrom", "start", "end"]
    df.columns = names
    df["start"] = start.astype(np.int64)
    df["end"] = end.astype(np.int64)
    return df


_MAX_DIGITS = 18  # int64 holds any 18-digit number


def _parse_bed3(raw: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``chrom`` (object array), ``start``, ``end`` (int64) of every line of tab-separated BED text.

    Vectorised over the bytes (numpy): line ends and tabs are located once, the two coordinates are read as
    digit runs, and contig names are decoded once per run of equal names. Returns None as soon as a line is not
    plain ``chrom<TAB>start<TAB>end[...]`` with ``0 <= start <= end`` (a header, a comment, an empty or
    non-digit field): the caller then reads the file line by line, which skips headers and reports errors.
    """
    if raw.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte-order mark (files saved by Windows editors)
        raw = raw[3:]
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n")
        if b"\r" in raw:
            return None
    if not raw.endswith(b"\n"):
        raw += b"\n"
    buf = np.frombuffer(raw, dtype=np.uint8)
    eol = np.flatnonzero(buf == 10)
    sol = np.concatenate([[0], eol[:-1] + 1])
    keep = eol > sol  # blank lines are skipped
    sol, eol = sol[keep], eol[keep]
    if len(sol) == 0 or (buf[sol] == 35).any():  # '#' comment or header
        return None
    tabs = np.concatenate([np.flatnonzero(buf == 9), [len(buf)] * 3])
    k = np.searchsorted(tabs, sol)
    t1, t2, t3 = tabs[k], tabs[k + 1], np.minimum(tabs[k + 2], eol)
    if not ((t1 > sol) & (t2 < eol) & (t2 > t1 + 1) & (t3 > t2 + 1)).all():
        return None  # fewer than 3 fields, or an empty one
    values = []
    for a, b in ((t1 + 1, t2), (t2 + 1, t3)):
        if (b - a).max() > _MAX_DIGITS:
            return None
        v = np.zeros(len(a), dtype=np.int64)
        for d in range(int((b - a).max())):
            pos = b - 1 - d
            inside = pos >= a
            digit = buf[np.where(inside, pos, a)].astype(np.int64) - 48
            if ((digit < 0) | (digit > 9)).any():
                return None
            v += np.where(inside, digit, 0) * 10**d
        values.append(v)
    starts, ends = values
    if (ends < starts).any():
        return None
    # contig names: a new run wherever a line's name differs from the previous line's (byte by byte)
    length = t1 - sol
    new = np.ones(len(sol), dtype=bool)
    new[1:] = length[1:] != length[:-1]
    last = len(buf) - 1
    for d in range(int(length.max())):
        same = ~new[1:] & (d < length[1:])
        new[1:] |= same & (buf[np.minimum(sol[1:] + d, last)] != buf[np.minimum(sol[:-1] + d, last)])
    first = np.flatnonzero(new)
    try:
        run_names = [raw[a:b].decode() for a, b in zip(sol[first], t1[first], strict=True)]
    except UnicodeDecodeError:
        return None
    distinct, code = np.unique(np.array(run_names, dtype=object), return_inverse=True)
    return distinct[code][np.cumsum(new) - 1], starts, ends


def read_intervals(path: str | os.PathLike) -> pd.DataFrame:
    """``chrom``, ``start``, ``end`` of a BED/narrowPeak file (plain or gzip), for interval arithmetic.

    A vectorised parse of the decompressed bytes: for many small peak files the fixed cost of a
    table reader dominates. Files with header or comment lines, or any malformed line, go through
    :func:`read_bed`, which skips headers and reports errors with the line number.
    """
    path = Path(path)
    gz = is_gzip(path)
    try:
        raw = path.read_bytes()
        if gz:
            raw = gzip.decompress(raw)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError):
        raw = None  # read_bed names the file and the last good line
    parsed = _parse_bed3(raw) if raw is not None else None
    if parsed is not None:
        chrom, starts, ends = parsed
        return pd.DataFrame({"chrom": chrom, "start": starts, "end": ends}, copy=False)
    return read_bed(path)[["chrom", "start", "end"]]


def _bed_frame(rows: list[list[str]], columns: list[str] | None) -> pd.DataFrame:
    width = max((len(r) for r in rows), default=3)
    names = list(columns or [])[:width]
    names += [f"col{i + 1}" for i in range(len(names), width)]
    names[:3] = ["chrom", "start", "end"]
    rows = [r + [""] * (width - len(r)) for r in rows]
    df = pd.DataFrame(rows, columns=names)
    df["chrom"] = df["chrom"].astype(str)
    df["start"] = df["start"].astype(np.int64)
    df["end"] = df["end"].astype(np.int64)
    return df


def read_narrowpeak(path: str | os.PathLike) -> pd.DataFrame:
    """Read an ENCODE/MACS2 narrowPeak file (10 columns, plain or gzip).

    Parameters
    ----------
    path
        narrowPeak file (``.narrowPeak`` or ``.narrowPeak.gz``); ``track``/``browser``/``#`` lines are skipped.

    Returns
    -------
    DataFrame with columns ``chrom``, ``start``, ``end``, ``name``, ``score``, ``strand``, ``signal``,
    ``pvalue``, ``qvalue``, ``summit``; ``signal``, ``pvalue``, ``qvalue`` float, ``summit`` int.

    Raises
    ------
    ValueError
        Naming the file and line of a line without exactly 10 fields, a non-integer coordinate or a
        non-numeric score/signal/p/q/summit value; or a truncated / fake gzip file.

    Examples
    --------
    >>> peaks = dc.io.read_narrowpeak("HSC.narrowPeak.gz")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"narrowPeak file not found: {path}")
    rows, linenos = _read_bed_rows(path, 10, 10)
    df = _bed_frame(rows, NARROWPEAK_COLUMNS)
    if df.shape[1] != 10:  # empty file
        df = df.reindex(columns=NARROWPEAK_COLUMNS)
    for col, dtype in (
        ("score", np.float64),
        ("signal", np.float64),
        ("pvalue", np.float64),
        ("qvalue", np.float64),
        ("summit", np.int64),
    ):
        try:
            df[col] = df[col].astype(dtype)
        except (ValueError, TypeError):
            values = pd.to_numeric(df[col], errors="coerce")
            bad = values.isna().to_numpy()
            if dtype is np.int64:
                bad |= ~np.isclose(values.fillna(0).to_numpy(), np.round(values.fillna(0).to_numpy()))
            i = int(bad.argmax())
            raise ValueError(
                f"{path}, line {linenos[i]}: narrowPeak column {NARROWPEAK_COLUMNS.index(col) + 1} ({col!r}) "
                f"must be {'an integer' if dtype is np.int64 else 'numeric'}, got {df[col].iloc[i]!r}."
            ) from None
        if dtype is np.float64 and not np.isfinite(df[col].to_numpy()).all():
            i = int((~np.isfinite(df[col].to_numpy())).argmax())
            raise ValueError(
                f"{path}, line {linenos[i]}: narrowPeak column {NARROWPEAK_COLUMNS.index(col) + 1} ({col!r}) "
                f"is {rows[i][NARROWPEAK_COLUMNS.index(col)]!r}; use -1 for a missing value as ENCODE does."
            )
    return df


_SNIFF_LINES = 2000


def check_peak_file(path: str | os.PathLike) -> None:
    """Raise when a file given as peaks is another kind of interval file: a bedGraph signal track or MACS2 summits.

    Detected by content (the first lines), not by the file name:

    - **bedGraph**: a ``track type=bedGraph`` line, or exactly 4 columns with a numeric 4th one where intervals
      tile the contig end to end (each starts where the previous ended) and some carry the value 0;
    - **summits**: every interval is 1 bp long (MACS2 ``*_summits.bed``).
    """
    path = Path(path)
    rows: list[list[str]] = []
    try:
        for lineno, line in _iter_lines(path):
            if lineno == 1 and line.startswith("\ufeff"):
                line = line[1:]
            low = line.lower()
            if low.startswith("track") and "type=bedgraph" in low.replace(" ", ""):
                raise ValueError(
                    f"{path}: this is a bedGraph signal track, not peaks (line {lineno}: {line[:60]!r}): its "
                    "intervals tile the genome with a signal value each, so every bin would be labelled open. "
                    "Pass the peak calls (MACS2 *_peaks.narrowPeak or a BED of peaks) instead; to label bins by "
                    "signal, call peaks on the track first (e.g. 'macs2 bdgpeakcall')."
                )
            if not line.strip() or line.startswith(_HEADER_PREFIXES):
                continue
            rows.append(line.split("\t"))
            if len(rows) >= _SNIFF_LINES:
                break
    except ValueError as err:
        if "bedGraph" in str(err):
            raise
        return  # the reader proper reports damaged files
    if not rows:
        return
    try:
        start = np.array([int(r[1]) for r in rows], dtype=np.int64)
        end = np.array([int(r[2]) for r in rows], dtype=np.int64)
    except (ValueError, IndexError):
        return
    chrom = np.array([r[0] for r in rows], dtype=object)
    width = end - start
    if len(rows) >= 2 and (width == 1).all():
        raise ValueError(
            f"{path}: every interval is 1 bp long: this looks like a MACS2 summits file (*_summits.bed), "
            "not peaks; it would cover almost no bin. Pass the matching *_peaks.narrowPeak file instead (or "
            "widen the summits first, e.g. 'bedtools slop -b 100')."
        )
    if len(rows) >= 3 and all(len(r) == 4 for r in rows):
        try:
            value = np.array([float(r[3]) for r in rows])
        except ValueError:
            return
        same = chrom[1:] == chrom[:-1]
        tiles = same & (start[1:] == end[:-1])
        if same.any() and tiles.sum() >= 0.9 * same.sum() and (value == 0).any():
            raise ValueError(
                f"{path}: this looks like a bedGraph signal track, not peaks: 4 columns with a numeric value, "
                f"intervals tiling the contig end to end and zero-valued ones (line 1: {chrom[0]}\t{start[0]}\t"
                f"{end[0]}\t{rows[0][3]}). Every bin would be labelled open. Pass the peak calls (MACS2 "
                "*_peaks.narrowPeak or a BED of peaks) instead; to label bins by signal, call peaks on the "
                "track first (e.g. 'macs2 bdgpeakcall')."
            )
