"""Readers for BED-like interval files: BED3+, narrowPeak (plain or gzip)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["NARROWPEAK_COLUMNS", "read_bed", "read_narrowpeak"]

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


def _open_text(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if path.suffix == ".gz" and magic != b"\x1f\x8b":
        raise ValueError(
            f"{path}: has a .gz suffix but is not gzip-compressed. Rename it without '.gz' or compress it."
        )
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt")
    return open(path)


def read_bed(
    path: str | os.PathLike, *, min_columns: int = 3, columns: list[str] | None = None
) -> pd.DataFrame:
    """Read a BED file (plain or gzip; ``track``/``browser``/``#`` header lines are skipped).

    Parameters
    ----------
    path
        BED file; extra columns beyond ``chrom, start, end`` are kept as ``col4, col5, ...`` unless
        ``columns`` names them.
    min_columns
        Lines with fewer tab-separated fields are an error.
    columns
        Names for the first columns (e.g. :data:`NARROWPEAK_COLUMNS`).

    Returns
    -------
    DataFrame with at least ``chrom`` (str), ``start``, ``end`` (int64, 0-based half-open).

    Raises
    ------
    ValueError
        Naming the file and line number of a malformed line (too few fields, non-integer or negative
        coordinates, ``end < start``) or a truncated gzip file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"BED file not found: {path}")
    rows: list[list[str]] = []
    try:
        with _open_text(path) as fh:
            for lineno, line in enumerate(fh, start=1):
                line = line.rstrip("\r\n")
                if not line.strip() or line.startswith(_HEADER_PREFIXES):
                    continue
                fields = line.split("\t")
                if len(fields) < min_columns:
                    raise ValueError(
                        f"{path}, line {lineno}: expected at least {min_columns} tab-separated fields, got "
                        f"{len(fields)}: {line[:80]!r}. BED lines are 'chrom<TAB>start<TAB>end[...]'."
                    )
                try:
                    start, end = int(fields[1]), int(fields[2])
                except ValueError:
                    raise ValueError(
                        f"{path}, line {lineno}: start/end must be integers, got {fields[1]!r} and {fields[2]!r}. "
                        "If this is a header line, prefix it with '#'."
                    ) from None
                if start < 0 or end < start:
                    raise ValueError(
                        f"{path}, line {lineno}: invalid interval {fields[0]}:{start}-{end} (need 0 <= start <= end)."
                    )
                rows.append(fields)
    except (EOFError, gzip.BadGzipFile, OSError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise ValueError(
            f"{path}: the gzip stream is truncated or corrupt ({err}). Re-download or re-compress the file."
        ) from err
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

    Returns
    -------
    DataFrame with columns :data:`NARROWPEAK_COLUMNS`; ``signal``, ``pvalue``, ``qvalue`` float, ``summit`` int.

    Examples
    --------
    >>> peaks = dc.io.read_narrowpeak("HSC.narrowPeak.gz")  # doctest: +SKIP
    """
    df = read_bed(path, min_columns=10, columns=NARROWPEAK_COLUMNS)
    if df.shape[1] != 10:
        raise ValueError(
            f"{path}: narrowPeak has exactly 10 columns, found {df.shape[1]}. Use dc.io.read_bed for other BED files."
        )
    for col, dtype in (
        ("score", np.float64),
        ("signal", np.float64),
        ("pvalue", np.float64),
        ("qvalue", np.float64),
        ("summit", np.int64),
    ):
        try:
            df[col] = df[col].astype(dtype)
        except ValueError:
            bad = pd.to_numeric(df[col], errors="coerce").isna().to_numpy().argmax()
            raise ValueError(
                f"{path}: narrowPeak column {col!r} must be numeric; got {df[col].iloc[bad]!r} in data row {bad + 1}."
            ) from None
    return df
