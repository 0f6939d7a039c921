"""Readers for expression tables: ENCODE/RSEM gene TSV and gene x sample count tables."""

from __future__ import annotations

import gzip
import os
import re
import warnings
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from ._peaks import _iter_lines, _open_text

__all__ = ["read_expression_table", "read_rsem"]

PathLike = str | os.PathLike

# RSEM column -> units recorded in uns['units']
_RSEM_UNITS = {
    "tpm": "tpm",
    "fpkm": "fpkm",
    "expected_count": "counts",
    "posterior_mean_count": "counts",
    "pme_tpm": "tpm",
    "pme_fpkm": "fpkm",
    "numreads": "counts",  # salmon
    "est_counts": "counts",  # kallisto
}
_VERSION_RE = re.compile(r"\.\d+(_PAR_Y)?$")
_ORIENTS = ("genes_by_samples", "samples_by_genes")
#: What :func:`merge_duplicate_genes` does with a gene name occurring more than once (the ``duplicates=`` of
#: ``read_expression_table``, ``read_rsem``, ``dc.pp.tf_expression`` and ``dc.pp.apply_tf_reference``).
DUPLICATES = ("auto", "sum", "first", "raise")
_STEM_SUFFIXES = (
    ".gz",
    ".bz2",
    ".tsv",
    ".txt",
    ".csv",
    ".results",
    ".genes",
    ".gene",
    ".sf",
    ".quant",
    ".abundance",
)
# file names that quantifiers give every sample (the sample is the folder: salmon/HSC_rep1/quant.sf)
_GENERIC_STEMS = {"quant", "quant.genes", "abundance", "counts", "featurecounts", "readspergene.out"}

# one-sample quantification files: format -> (id column, length column, annotation columns); detected by header
_QUANT_FORMATS = {
    "RSEM": ("gene_id", "length", ("gene_id", "transcript_id(s)")),
    "salmon": ("name", "length", ("name",)),
    "kallisto": ("target_id", "length", ("target_id",)),
}
_FEATURECOUNTS_HEADER = ["geneid", "chr", "start", "end", "strand", "length"]
_TRANSCRIPT_ID_RE = re.compile(r"^(ENS[A-Z]*T\d|NM_|NR_|XM_|XR_)")


def _strip_version(ids) -> np.ndarray:
    """``ENSG00000000003.14`` -> ``ENSG00000000003`` (also drops GENCODE's ``_PAR_Y`` tag)."""
    return np.array([_VERSION_RE.sub("", str(i)) for i in ids], dtype=object)


# --------------------------------------------------------------------------------------------------
# low-level table reading with line numbers
# --------------------------------------------------------------------------------------------------


class _RawTable:
    """A delimited text table read as strings: header, body (DataFrame of str), file line numbers."""

    def __init__(self, path: Path, header: list[str], body: pd.DataFrame, linenos: np.ndarray, sep: str):
        self.path = path
        self.sep = sep
        self.header = header
        self.body = body
        self.linenos = linenos


def _guess_sep(path: Path, header_line: str, sep: str | None) -> str:
    if sep is not None:
        return sep
    if "\t" in header_line:
        return "\t"
    if "," in header_line:
        return ","
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return ","
    raise ValueError(
        f"{path}, line 1: found no tab or comma in the header line {header_line[:80]!r}. Expected a gene column "
        "and at least one sample column separated by tabs (TSV) or commas (CSV); pass sep= otherwise."
    )


def _read_raw(path: PathLike, *, sep: str | None = None) -> _RawTable:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Expression table not found: {path}")
    _refuse_non_tables(path)
    first: list[str] = []
    skip = 0  # leading '#' lines of a featureCounts file ('# Program:featureCounts v2.0.3; Command: ...')
    for lineno, line in _iter_lines(path):  # also validates gzip / text
        if not first and line.startswith("#") and ("featureCounts" in line or lineno == skip + 1 == 1):
            skip = lineno
            continue
        if line.strip():
            first.append(line)
        if len(first) == 2:
            break
    if skip and not (first and first[0].lower().startswith("geneid")):
        # a '#' line that is not featureCounts' comment: read the file as it is
        skip = 0
        first = []
        for _, line in _iter_lines(path):
            if line.strip():
                first.append(line)
            if len(first) == 2:
                break
    if not first:
        raise ValueError(f"{path}: the file is empty; expected a header line and one line per gene.")
    sep = _guess_sep(path, first[0], sep)
    header = [h.strip().strip('"') for h in first[0].split(sep)]
    n_fields = len(first[1].split(sep)) if len(first) > 1 else len(header)
    if n_fields == len(header) + 1:  # R write.table style: no name for the row-name column
        header = [""] + header
    if len(header) < 2:
        raise ValueError(
            f"{path}, line 1: expected a gene column and at least one sample column, found 1 column "
            f"(separator {sep!r})."
        )
    try:
        with _open_text(path) as fh:
            for _ in range(skip + 1):
                fh.readline()
            body = pd.read_csv(
                fh,
                sep=sep,
                header=None,
                names=range(len(header)),
                dtype=str,
                keep_default_na=False,
                skip_blank_lines=False,
                engine="c" if len(sep) == 1 else "python",
            )
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise ValueError(
            f"{path}: the gzip stream is truncated or corrupt ({err}). Re-download or re-compress the file."
        ) from err
    except pd.errors.ParserError as err:
        raise ValueError(
            f"{path}: malformed table ({err}); the header has {len(header)} fields and every line must have "
            "the same number."
        ) from err
    if len(header) > 2 and header[-1] == "" and (body[len(header) - 1].fillna("") == "").all():
        # a trailing separator on every line (common in spreadsheet exports): an empty column, not a sample
        body = body.drop(columns=len(header) - 1)
        header = header[:-1]
    linenos = np.arange(2 + skip, len(body) + 2 + skip)
    blank = body.isna().all(axis=1) | (body.fillna("") == "").all(axis=1)
    if blank.any():
        body = body.loc[~blank.to_numpy()]
        linenos = linenos[~blank.to_numpy()]
    body = body.reset_index(drop=True)
    if body.empty:
        raise ValueError(f"{path}: the table has a header but no data lines.")
    labels = body[0]
    bad = labels.isna() | (labels.str.strip() == "")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"{path}, line {linenos[i]}: the first column (the row name) is empty.")
    raw = _RawTable(path, header, body, linenos, sep)
    _refuse_known_outputs(raw)
    return raw


def _refuse_non_tables(path: Path) -> None:
    """Name the files users give as an expression table that are not one: a 10x matrix folder, HDF5 (10x ``.h5``,
    ``.h5ad``, ``.loom``) and Excel workbooks."""
    if path.is_dir():
        names = {p.name for p in path.iterdir()}
        if names & {"matrix.mtx", "matrix.mtx.gz"}:
            raise ValueError(
                f"{path}: a 10x Genomics matrix folder (single cells), not an expression table. Read it with "
                "scanpy (sc.read_10x_mtx), group the cells into samples with dc.pp.pseudobulk, and pass that."
            )
        raise ValueError(f"{path} is a folder; pass the expression table file inside it.")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\x89HDF"):
        raise ValueError(
            f"{path}: an HDF5 file (a 10x .h5, .h5ad or .loom), not a text table. Read it with scanpy "
            "(sc.read_10x_h5 / anndata.read_h5ad), make a pseudobulk of the cells (dc.pp.pseudobulk) and pass that."
        )
    if head.startswith(b"PK\x03\x04"):
        raise ValueError(
            f"{path}: a zip archive or an Excel workbook (.xlsx), not a text table. Save the sheet as "
            "tab-separated text (or read it with pandas.read_excel and pass the DataFrame's values as a TSV)."
        )


def _refuse_known_outputs(raw: _RawTable) -> None:
    """Name header-less quantifier outputs that would otherwise be read with a gene line as the header."""
    labels = [raw.header[0], *raw.body[0].head(6).tolist(), *raw.body[0].tail(6).tolist()]
    if any(str(x).startswith("N_unmapped") for x in labels[:5]) and len(raw.header) == 4:
        raise ValueError(
            f"{raw.path}: STAR ReadsPerGene.out.tab (N_unmapped, N_multimapping, ... then gene counts in 3 columns: "
            "unstranded, forward, reverse), not a gene x sample table. Pick the column of your library's "
            "strandedness, e.g. pandas.read_csv(path, sep='\\t', header=None, skiprows=4, index_col=0)[[1]], "
            "name it after the sample, and pass the table; or use featureCounts / RSEM / salmon output."
        )
    if any(str(x).startswith(("__no_feature", "__ambiguous", "__alignment_not_unique")) for x in labels):
        raise ValueError(
            f"{raw.path}: htseq-count output (no header; '__no_feature' / '__ambiguous' summary lines), not a gene "
            "x sample table: its first gene line would be read as the header. Drop the '__' lines, add a header "
            "line 'gene<TAB>SAMPLE_NAME' (or join several samples into one table), and pass that."
        )
    if raw.header[0].lower() == "status" and str(raw.body[0].iat[0]).startswith("Assigned"):
        raise ValueError(
            f"{raw.path}: a featureCounts .summary file (Assigned / Unassigned_* read counts), not gene counts. "
            "Pass the counts file that featureCounts wrote next to it (the same name without .summary)."
        )


def _n_fields(raw: _RawTable, lineno: int) -> int:
    """Number of fields on line ``lineno`` of the file (error path only)."""
    for n, line in _iter_lines(raw.path):
        if n == lineno:
            return len(line.split(raw.sep)) if len(raw.sep) == 1 else len(re.split(raw.sep, line.strip()))
    return 0


def _numeric_block(
    raw: _RawTable,
    cols: Sequence[int],
    *,
    row_kind: str,
    col_kind: str,
    col_names: Sequence[str] | None = None,
    row_col: int = 0,
) -> np.ndarray:
    """Parse columns ``cols`` of ``raw`` as finite non-negative floats; a bad cell raises naming it."""
    col_names = list(col_names) if col_names is not None else [raw.header[c] for c in cols]
    block = raw.body[list(cols)]
    values = block.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        text = block.iat[i, j]
        row = raw.body[row_col].iat[i]
        if text is None or (isinstance(text, float) and np.isnan(text)):
            what = "is missing (the line has too few fields; is the file truncated?)"
        elif str(text).strip() == "" and _n_fields(raw, raw.linenos[i]) < len(raw.header):
            what = (
                f"is missing: the line has {_n_fields(raw, raw.linenos[i])} fields, the header {len(raw.header)} "
                "(is the file truncated?)"
            )
        elif str(text).strip() == "":
            what = "is empty"
        elif str(text).strip().lower() in {"na", "nan", "n/a", "null", "none", "-nan"}:
            what = f"is NaN ({text!r})"
        elif np.isinf(values[i, j]):
            what = f"is infinite ({text!r})"
        elif values[i, j] < 0:
            what = f"is negative ({text!r})"
        else:
            what = f"is not a number ({text!r})"
        n_bad = int(bad.sum())
        more = f" ({n_bad} bad values in total)" if n_bad > 1 else ""
        raise ValueError(
            f"{raw.path}, line {raw.linenos[i]}: the value for {row_kind} {row!r}, {col_kind} {col_names[j]!r} "
            f"{what}{more}. Expression values must be finite and >= 0; fix or remove that entry."
        )
    return values


# --------------------------------------------------------------------------------------------------
# gene id -> symbol mapping and duplicates
# --------------------------------------------------------------------------------------------------


def _load_gene_names(gene_names) -> dict[str, str]:
    """A gene id -> symbol dict (keys without version suffix) from a dict, Series, DataFrame or file."""
    if gene_names is None:
        return {}
    if isinstance(gene_names, Mapping):
        items = gene_names.items()
    elif isinstance(gene_names, pd.Series):
        items = gene_names.items()
    elif isinstance(gene_names, pd.DataFrame):
        if gene_names.shape[1] < 2:
            raise ValueError("gene_names DataFrame needs two columns: gene id and symbol.")
        items = zip(gene_names.iloc[:, 0], gene_names.iloc[:, 1])
    elif isinstance(gene_names, str | os.PathLike):
        raw = _read_raw(gene_names)
        if raw.body.shape[1] < 2:
            raise ValueError(f"{gene_names}: a gene id -> symbol table needs two columns (id, symbol).")
        # the header line is kept as a (harmless) mapping entry: it only matters for a gene called like it
        items = [(raw.header[0], raw.header[1])] + list(zip(raw.body[0], raw.body[1]))
    else:
        raise TypeError(
            f"gene_names must be a dict, Series, DataFrame or a path to a 2-column file, got {type(gene_names).__name__}."
        )
    out: dict[str, str] = {}
    for key, sym in items:
        if sym is None or (isinstance(sym, float) and np.isnan(sym)) or str(sym).strip() == "":
            continue
        out[_VERSION_RE.sub("", str(key))] = str(sym).strip()
    if not out:
        raise ValueError("gene_names is empty: no gene id -> symbol pairs found.")
    return out


def _map_symbols(
    ids: np.ndarray, mapping: dict[str, str], unmapped: str, source
) -> tuple[np.ndarray, np.ndarray]:
    """Map ids to symbols. Returns (new labels, keep mask)."""
    if not mapping:
        return ids.astype(object), np.ones(len(ids), dtype=bool)
    stripped = _strip_version(ids)
    symbols = np.array([mapping.get(s) for s in stripped], dtype=object)
    missing = np.array([s is None for s in symbols])
    keep = np.ones(len(ids), dtype=bool)
    if missing.any():
        n = int(missing.sum())
        ex = ", ".join(map(str, ids[missing][:5]))
        if unmapped == "raise":
            raise KeyError(
                f"{source}: {n} of {len(ids)} gene ids have no symbol in gene_names (e.g. {ex}). "
                "Pass unmapped='keep' or 'drop'."
            )
        if unmapped == "drop":
            warnings.warn(
                f"{source}: dropped {n} of {len(ids)} gene ids without a symbol in gene_names (e.g. {ex}).",
                stacklevel=3,
            )
            keep = ~missing
        elif unmapped == "keep":
            warnings.warn(
                f"{source}: {n} of {len(ids)} gene ids have no symbol in gene_names (e.g. {ex}); "
                "they keep their id. Pass unmapped='drop' to remove them.",
                stacklevel=3,
            )
            symbols[missing] = ids[missing]
        else:
            raise ValueError(f"unmapped must be 'keep', 'drop' or 'raise', got {unmapped!r}.")
    return symbols, keep


def merge_duplicate_genes(
    X: np.ndarray,
    genes: np.ndarray,
    how: str,
    source,
    extra: dict[str, np.ndarray] | None = None,
    *,
    stacklevel: int = 3,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Merge duplicated gene columns of ``X`` (samples x genes): deepcage's one duplicate-gene policy.

    ``how`` is one of :data:`DUPLICATES`: ``'auto'`` keeps one copy of copies identical in every sample and
    sums the others, ``'sum'`` sums all, ``'first'`` keeps the first, ``'raise'`` refuses. A warning (naming
    ``source``) says how many genes and what was done. ``extra`` per-gene arrays take the max of the copies.
    Returns the merged ``X``, the unique genes (first-occurrence order) and ``extra``.
    """
    if how not in DUPLICATES:
        raise ValueError(f"duplicates must be one of {DUPLICATES}, got {how!r}.")
    extra = dict(extra or {})
    index = pd.Index(genes)
    dup = index.duplicated(keep=False)
    if not dup.any():
        return X, np.asarray(genes, dtype=object), extra
    names = pd.unique(index[dup])
    ex = ", ".join(map(str, names[:5])) + (" ..." if len(names) > 5 else "")
    if how == "raise":
        raise ValueError(
            f"{source}: {len(names)} gene names occur more than once (e.g. {ex}). Pass duplicates='sum', "
            "'first' or 'auto'."
        )
    codes, uniques = pd.factorize(index)
    first_pos = np.unique(codes, return_index=True)[1]  # first occurrence of each gene, in code order
    out = X[:, first_pos].copy()
    out_extra = {k: np.asarray(v)[first_pos].copy() for k, v in extra.items()}
    n_summed = n_identical = 0
    dup_pos = np.flatnonzero(dup)
    groups = pd.Series(dup_pos).groupby(codes[dup_pos]).agg(list)
    for code, positions in groups.items():
        block = X[:, positions]
        identical = bool((block == block[:, :1]).all())
        if how == "first" or (how == "auto" and identical):
            n_identical += 1
            continue
        out[:, code] = block.sum(axis=1)
        for k, v in extra.items():
            if np.issubdtype(np.asarray(v).dtype, np.number):
                out_extra[k][code] = np.nanmax(np.asarray(v)[positions])
        n_summed += 1
    if how == "first":
        action = f"kept the first of each ({n_identical} genes)"
    else:
        parts = []
        if n_summed:
            parts.append(f"summed the values of {n_summed}")
        if n_identical:
            parts.append(f"kept one copy of {n_identical} whose copies are identical")
        action = " and ".join(parts)
    warnings.warn(
        f"{source}: {len(names)} gene name{'s occur' if len(names) > 1 else ' occurs'} more than once "
        f"(e.g. {ex}); {action}. "
        "Pass duplicates='sum', 'first' or 'raise' to choose.",
        stacklevel=stacklevel,
    )
    return out, np.asarray(uniques, dtype=object), out_extra


# --------------------------------------------------------------------------------------------------
# RSEM
# --------------------------------------------------------------------------------------------------


def _quant_format(header: Sequence[str]) -> str | None:
    """The one-sample quantifier whose output has this header: ``'RSEM'``, ``'salmon'`` (``quant.sf``:
    Name, Length, EffectiveLength, TPM, NumReads), ``'kallisto'`` (``abundance.tsv``: target_id, length,
    eff_length, est_counts, tpm), or None."""
    cols = [h.lower() for h in header]
    if "gene_id" in cols and bool(set(cols) & {"expected_count", "tpm", "fpkm", "transcript_id(s)"}):
        return "RSEM"
    if cols[:3] == ["name", "length", "effectivelength"] and "tpm" in cols:
        return "salmon"
    if cols[:3] == ["target_id", "length", "eff_length"] and "tpm" in cols:
        return "kallisto"
    return None


def _is_rsem_header(header: Sequence[str]) -> bool:
    return _quant_format(header) is not None


def _is_featurecounts_header(header: Sequence[str]) -> bool:
    return [h.lower() for h in header[:6]] == _FEATURECOUNTS_HEADER and len(header) > 6


def _rsem_columns(raw: _RawTable, column: str) -> tuple[int, int, int | None]:
    lower = [h.lower() for h in raw.header]
    fmt = _quant_format(raw.header)
    if fmt is None:
        raise ValueError(
            f"{raw.path}: not an RSEM, salmon (quant.sf) or kallisto (abundance.tsv) quantification file: its "
            f"header ({', '.join(raw.header[:8])}) has none of their id columns (gene_id, Name, target_id). "
            "Use dc.io.read_expression_table for gene x sample tables."
        )
    id_name, length_name, annotation = _QUANT_FORMATS[fmt]
    if column.lower() not in lower:
        numeric = [h for h in raw.header if h.lower() not in annotation]
        counts = {"RSEM": "expected_count", "salmon": "NumReads", "kallisto": "est_counts"}[fmt]
        raise KeyError(
            f"{raw.path}: no column {column!r} in this {fmt} file; available: {', '.join(numeric)} "
            f"(column='TPM' for TPM, column={counts!r} for read counts)."
        )
    length = lower.index(length_name) if length_name in lower else None
    return lower.index(id_name), lower.index(column.lower()), length


def _read_rsem_arrays(path: PathLike, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    raw = _read_raw(path, sep="\t")
    id_col, col, length_col = _rsem_columns(raw, column)
    ids = raw.body[id_col].str.strip().to_numpy(dtype=object)
    values = _numeric_block(raw, [col], row_kind="gene", col_kind="column", row_col=id_col)[:, 0]
    length = None
    if length_col is not None:
        length = _numeric_block(raw, [length_col], row_kind="gene", col_kind="column", row_col=id_col)[:, 0]
    dup = pd.Index(ids).duplicated()
    if dup.any():
        raise ValueError(
            f"{path}: id {ids[dup][0]!r} occurs more than once; quantification files have one line per gene "
            "or transcript."
        )
    return ids, values, length


def _units_for_column(column: str) -> str:
    return _RSEM_UNITS.get(column.lower(), column.lower())


def read_rsem(
    path: PathLike,
    *,
    column: str = "TPM",
    gene_names=None,
    unmapped: str = "keep",
    duplicates: str = "sum",
) -> pd.Series:
    """Read one ENCODE/RSEM gene quantification file (``*.genes.results`` / ENCODE ``.tsv``).

    The file has a header with ``gene_id``, ``transcript_id(s)``, ``length``, ``effective_length``,
    ``expected_count``, ``TPM``, ``FPKM`` (and possibly more) columns, one line per gene.

    Parameters
    ----------
    path
        RSEM file, plain or gzip.
    column
        Which quantification to return (case-insensitive): ``'TPM'`` (default), ``'FPKM'``,
        ``'expected_count'``, ...
    gene_names
        Optional gene id -> symbol mapping: a dict, a Series, a 2-column DataFrame or a path to a 2-column
        TSV/CSV file (id, symbol). Ids are matched without their version suffix (``ENSG00000000003.14``
        matches ``ENSG00000000003``). ``None`` keeps the file's gene ids.
    unmapped
        Ids without a symbol: ``'keep'`` (keep the id, with a warning), ``'drop'`` (with a warning) or
        ``'raise'``.
    duplicates
        Several ids mapping to the same symbol: ``'sum'`` (default; TPM/counts of one gene's loci add up),
        ``'first'``, ``'auto'`` (identical copies kept once, others summed) or ``'raise'``. A warning says
        how many symbols were merged.

    Returns
    -------
    Series indexed by gene id (or symbol), named after ``column``, float64, with ``attrs['units']``
    (``'tpm'``, ``'counts'``, ``'fpkm'``) and ``attrs['path']``.

    Raises
    ------
    ValueError
        Naming the file, line and gene of a NaN, negative or non-numeric value; a missing ``gene_id``
        column; a truncated gzip file.
    KeyError
        When ``column`` is not in the file (the available columns are listed).

    Examples
    --------
    >>> tpm = dc.io.read_rsem("ENCFF123ABC.tsv", gene_names="gencode_id_to_symbol.tsv")  # doctest: +SKIP
    >>> tpm["GATA1"]  # doctest: +SKIP
    """
    ids, values, _ = _read_rsem_arrays(path, column)
    mapping = _load_gene_names(gene_names)
    labels, keep = _map_symbols(ids, mapping, unmapped, path)
    X, genes, _ = merge_duplicate_genes(values[keep][None, :], labels[keep], duplicates, path)
    out = pd.Series(X[0], index=pd.Index(genes.astype(str), name="gene"), name=column)
    out.attrs["units"] = _units_for_column(column)
    out.attrs["path"] = str(path)
    return out


# --------------------------------------------------------------------------------------------------
# gene x sample tables and several RSEM files
# --------------------------------------------------------------------------------------------------


def _sample_stem(path: Path) -> str:
    """Sample name from a file name (``ENCFF1.tsv`` -> ``ENCFF1``); for the names quantifiers give every sample
    (``quant.sf``, ``abundance.tsv``) the folder's name (``salmon/HSC_rep1/quant.sf`` -> ``HSC_rep1``)."""
    stem = _strip_suffixes(path.name)
    if stem.lower() in _GENERIC_STEMS and path.resolve().parent.name:
        return path.resolve().parent.name
    return stem


def _strip_suffixes(name: str) -> str:
    changed = True
    while changed:
        changed = False
        for suf in _STEM_SUFFIXES:
            if name.lower().endswith(suf) and len(name) > len(suf):
                name = name[: -len(suf)]
                changed = True
    return name


def guess_units(values) -> str:
    """``'counts'`` when every value is an integer, else ``'tpm'``: deepcage's one guess of expression units.

    The test is exact, not :func:`numpy.allclose`: float32 and float64 hold integers exactly (up to 2**24 and
    2**53), so counts read from a text table, an .h5ad or a float32 matrix always pass it, while a tolerance
    relative to the value (``allclose``'s ``rtol=1e-5``) would call large TPMs given to a few decimals counts
    (12345.06 is within 0.12 of an integer) and renormalise them as counts (by gene length when it is known).
    """
    values = np.asarray(values)
    return "counts" if np.all(values == np.round(values)) else "tpm"


def _check_samples(X: np.ndarray, samples: np.ndarray, source) -> None:
    zero = ~(X > 0).any(axis=1)
    if zero.any():
        names = ", ".join(map(str, samples[zero][:5]))
        raise ValueError(
            f"{source}: sample(s) {names} have zero expression for every gene ({int(zero.sum())} such samples). "
            "Check the column/file (an empty or failed library?) and remove it."
        )
    dup = pd.Index(samples).duplicated()
    if dup.any():
        raise ValueError(
            f"{source}: sample name {samples[dup][0]!r} occurs more than once; sample names must be unique."
        )


_EXCEL_DATE_RE = re.compile(
    r"^(\d{1,2}-(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)|(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)-\d{1,2})$",
    re.IGNORECASE,
)


def _warn_excel_dates(genes: np.ndarray, source) -> None:
    """Excel turns symbols such as MARCH1, SEPT2 or DEC1 (= BHLHE40, a TF) into dates ('1-Mar'); say so."""
    dates = [g for g in map(str, genes) if _EXCEL_DATE_RE.match(g)]
    if dates:
        warnings.warn(
            f"{source}: {len(dates)} gene name(s) look like dates made by Excel (e.g. {dates[:5]}): the original "
            "symbols (MARCH1, SEPT2, DEC1 ...) are lost. Re-export the table without opening it in Excel, or read "
            "it with gene ids and gene_names=.",
            UserWarning,
            stacklevel=4,
        )


def _finish(
    X: np.ndarray,
    samples,
    genes,
    *,
    units: str,
    source,
    duplicates: str,
    var_extra: dict | None = None,
    obs_extra: dict | None = None,
) -> AnnData:
    samples = np.asarray(samples, dtype=object).astype(str)
    _warn_excel_dates(np.asarray(genes, dtype=object), source)
    X, genes, var_extra = merge_duplicate_genes(
        X, np.asarray(genes, dtype=object), duplicates, source, var_extra
    )
    _check_samples(X, samples, source)
    var = pd.DataFrame(index=pd.Index(np.asarray(genes).astype(str)))
    for key, val in (var_extra or {}).items():
        var[key] = val
    obs = pd.DataFrame(index=pd.Index(samples))
    for key, val in (obs_extra or {}).items():
        obs[key] = val
    adata = AnnData(X=X.astype(np.float32), obs=obs, var=var)
    adata.uns["units"] = units
    return adata


def read_expression_table(
    path_or_paths: PathLike | Sequence[PathLike] | Mapping[str, PathLike],
    *,
    orient: str = "genes_by_samples",
    sep: str | None = None,
    sample_names: Sequence[str] | None = None,
    column: str = "TPM",
    gene_names=None,
    unmapped: str = "keep",
    duplicates: str = "auto",
    units: str = "auto",
) -> AnnData:
    """Read expression into a samples x genes AnnData: a gene x sample table, or several RSEM files.

    Three inputs are understood:

    - one delimited table (TSV, CSV, plain or gzip) whose first column holds gene names and whose other
      columns are samples (``orient='genes_by_samples'``, e.g. ``rna_counts.tsv``), or the transpose with one
      line per sample and genes as columns (``orient='samples_by_genes'``, e.g. ``encode_tf_tpm.tsv``);
    - one RSEM gene quantification file (detected from its ``gene_id`` header): a single sample;
    - several RSEM files, one per sample: a list of paths (sample names from ``sample_names`` or the file
      stems, ``ENCFF1.tsv`` -> ``ENCFF1``) or a dict ``{sample: path}``. All files must list the same genes.

    Parameters
    ----------
    path_or_paths
        A table, an RSEM file, or several RSEM files (list or ``{sample: path}`` dict).
    orient
        ``'genes_by_samples'`` (default) or ``'samples_by_genes'``; for tables only.
    sep
        Field separator; by default a tab, or a comma when the header line has no tab.
    sample_names
        Names for the RSEM files of a list, in order (default: the file stems).
    column
        RSEM column to read (``'TPM'``, ``'expected_count'``, ``'FPKM'``); RSEM input only.
    gene_names
        Optional gene id -> symbol mapping (dict, Series, 2-column DataFrame or 2-column file); ids are matched
        without version suffix. See :func:`read_rsem`.
    unmapped
        Ids without a symbol in ``gene_names``: ``'keep'``, ``'drop'`` or ``'raise'``.
    duplicates
        Genes (symbols) occurring more than once. ``'auto'`` (default): copies with identical values in every
        sample are kept once (the same measurement repeated, as in ``encode_tf_tpm.tsv``), other copies are
        summed (several loci of one symbol); ``'sum'``; ``'first'``; ``'raise'``. A warning names how many.
    units
        Recorded in ``uns['units']``. ``'auto'``: from the RSEM column (TPM -> ``'tpm'``, expected_count ->
        ``'counts'``, FPKM -> ``'fpkm'``); for tables ``'counts'`` when every value is an integer, else
        ``'tpm'`` (pass ``units='fpkm'``, ``'cpm'``, ... when that guess is wrong).

    Returns
    -------
    AnnData of samples x genes with

    - ``X``: the raw values as float32 (no normalisation);
    - ``uns['units']``: ``'counts'``, ``'tpm'``, ...;
    - ``var['length']``: gene length from RSEM's ``length`` column (mean over samples; the longest copy for
      merged duplicates), RSEM input only;
    - ``var['gene_ids']``: the ``;``-joined original ids when ``gene_names`` mapped ids to symbols;
    - ``obs['file']``: source file per sample (RSEM input).

    Raises
    ------
    ValueError
        Naming the file, line, gene and sample of a NaN, negative, missing or non-numeric value; naming
        samples whose values are all zero; RSEM files with different genes; malformed or truncated files.

    Examples
    --------
    >>> rna = dc.io.read_expression_table("rna_counts.tsv")  # doctest: +SKIP
    >>> rna.uns["units"]  # doctest: +SKIP
    'counts'
    >>> tpm = dc.io.read_expression_table({"K562": "ENCFF1.tsv", "HepG2": "ENCFF2.tsv"})  # doctest: +SKIP
    """
    if orient not in _ORIENTS:
        raise ValueError(f"orient must be one of {_ORIENTS}, got {orient!r}.")
    if isinstance(path_or_paths, Mapping):
        return _read_rsem_many(
            list(path_or_paths.values()),
            list(path_or_paths.keys()),
            column=column,
            gene_names=gene_names,
            unmapped=unmapped,
            duplicates=duplicates,
            units=units,
        )
    if not isinstance(path_or_paths, str | os.PathLike):
        paths = [Path(p) for p in path_or_paths]
        if not paths:
            raise ValueError("read_expression_table got an empty list of files.")
        if sample_names is None:
            sample_names = [_sample_stem(p) for p in paths]
        elif len(sample_names) != len(paths):
            raise ValueError(f"{len(sample_names)} sample_names for {len(paths)} files.")
        return _read_rsem_many(
            paths,
            list(sample_names),
            column=column,
            gene_names=gene_names,
            unmapped=unmapped,
            duplicates=duplicates,
            units=units,
        )

    path = Path(path_or_paths)
    raw = _read_raw(path, sep=sep)
    if _is_rsem_header(raw.header):
        name = sample_names[0] if sample_names is not None else _sample_stem(path)
        return _read_rsem_many(
            [path],
            [name],
            column=column,
            gene_names=gene_names,
            unmapped=unmapped,
            duplicates=duplicates,
            units=units,
        )

    if _is_featurecounts_header(raw.header):
        return _read_featurecounts(
            raw, gene_names=gene_names, unmapped=unmapped, duplicates=duplicates, units=units
        )

    cols = list(range(1, len(raw.header)))
    row_labels = raw.body[0].str.strip().to_numpy(dtype=object)
    col_labels = np.array(raw.header[1:], dtype=object)
    if orient == "genes_by_samples":
        values = _numeric_block(raw, cols, row_kind="gene", col_kind="sample")
        X, samples, genes = values.T, col_labels, row_labels
    else:
        values = _numeric_block(raw, cols, row_kind="sample", col_kind="gene")
        X, samples, genes = values, row_labels, col_labels
    if pd.Index(samples).duplicated().any():
        raise ValueError(
            f"{path}: sample name {pd.Index(samples)[pd.Index(samples).duplicated()][0]!r} occurs more than once."
            + (
                " Is the table samples x genes? Pass orient='samples_by_genes'."
                if orient == "genes_by_samples"
                else ""
            )
        )
    mapping = _load_gene_names(gene_names)
    var_extra = {}
    if mapping:
        symbols, keep = _map_symbols(genes, mapping, unmapped, path)
        var_extra["gene_ids"] = genes[keep]
        X, genes = X[:, keep], symbols[keep]
    var_extra = _join_ids(var_extra, genes)
    units = guess_units(X) if units == "auto" else units
    return _finish(X, samples, genes, units=units, source=path, duplicates=duplicates, var_extra=var_extra)


def _join_ids(var_extra: dict, genes: np.ndarray) -> dict:
    """Turn per-column ``gene_ids`` into ``;``-joined ids per (future) unique gene, aligned to ``genes``."""
    if "gene_ids" not in var_extra:
        return var_extra
    ids = pd.Series(var_extra["gene_ids"]).astype(str)
    joined = ids.groupby(pd.Index(genes).astype(str).to_numpy()).agg(";".join)
    var_extra = dict(var_extra)
    var_extra["gene_ids"] = joined.reindex(pd.Index(genes).astype(str)).to_numpy(dtype=object)
    return var_extra


def _read_rsem_many(
    paths: Sequence[PathLike],
    names: Sequence[str],
    *,
    column: str,
    gene_names,
    unmapped: str,
    duplicates: str,
    units: str,
) -> AnnData:
    paths = [Path(p) for p in paths]
    ids0: np.ndarray | None = None
    rows, lengths = [], []
    try:
        from tqdm.auto import tqdm

        it = tqdm(paths, desc="RSEM files", disable=len(paths) < 20)
    except ImportError:  # pragma: no cover
        it = paths
    for path in it:
        ids, values, length = _read_rsem_arrays(path, column)
        if ids0 is None:
            ids0 = ids
        elif not np.array_equal(ids, ids0):
            a, b = pd.Index(ids0), pd.Index(ids)
            if len(a) == len(b) and set(a) == set(b):
                order = b.get_indexer(a)
                values = values[order]
                length = length[order] if length is not None else None
            else:
                only_a, only_b = a.difference(b), b.difference(a)
                raise ValueError(
                    f"{path}: its genes differ from those of {paths[0]} ({len(only_b)} ids only here, e.g. "
                    f"{list(only_b[:3])}; {len(only_a)} missing, e.g. {list(only_a[:3])}). RSEM files of one table "
                    "must come from the same annotation."
                )
        rows.append(values)
        lengths.append(length)
    X = np.vstack(rows)
    var_extra: dict[str, np.ndarray] = {}
    if all(length is not None for length in lengths):
        var_extra["length"] = np.mean(np.vstack(lengths), axis=0)
    genes = ids0
    mapping = _load_gene_names(gene_names)
    source0 = paths[0] if len(paths) == 1 else f"{paths[0]} (and {len(paths) - 1} more)"
    if not mapping and len(genes) and all("|" in str(g) for g in genes[:100]):
        # salmon/kallisto on a GENCODE transcriptome: 'ENST...|ENSG...|...|DDX11L2-202|DDX11L2|1657|lncRNA|'
        fields = [str(g).split("|") for g in genes]
        if all(len(f) >= 6 and f[5] for f in fields):
            mapping = {str(g): f[5] for g, f in zip(genes, fields, strict=True)}
            genes = np.array([str(g) for g in genes], dtype=object)
            if duplicates == "auto":
                duplicates = "sum"  # a gene's transcripts add up (TPM and counts)
    elif not mapping and len(genes):
        tx = np.array([bool(_TRANSCRIPT_ID_RE.match(str(g))) for g in genes[:1000]])
        if tx.mean() > 0.5:
            warnings.warn(
                f"{source0}: the ids are transcripts (e.g. {genes[0]!r}), not genes: TFs are matched by gene "
                "symbol, so pass gene_names= a transcript id -> gene symbol table (e.g. tx2gene from the GTF; the "
                "transcripts of a gene are summed), or quantify genes (salmon -g / tximport).",
                UserWarning,
                stacklevel=3,
            )
    if mapping:
        symbols, keep = _map_symbols(genes, mapping, unmapped, paths[0] if len(paths) == 1 else "RSEM files")
        var_extra = {k: v[keep] for k, v in var_extra.items()}
        var_extra["gene_ids"] = genes[keep]
        X, genes = X[:, keep], symbols[keep]
    var_extra = _join_ids(var_extra, genes)
    source = paths[0] if len(paths) == 1 else f"quantification files ({paths[0]}, ...)"
    units = _units_for_column(column) if units == "auto" else units
    return _finish(
        X,
        names,
        genes,
        units=units,
        source=source,
        duplicates=duplicates,
        var_extra=var_extra,
        obs_extra={"file": [str(p) for p in paths]},
    )


_BAM_SUFFIXES = (
    ".bam",
    ".sam",
    ".cram",
    "Aligned.sortedByCoord.out",
    "Aligned.out",
    ".sorted",
    ".markdup",
    "_sorted",
)


def _featurecounts_sample(column: str) -> str:
    """``/data/bam/HSC_rep1.Aligned.sortedByCoord.out.bam`` -> ``HSC_rep1``."""
    name = column.replace("\\", "/").rsplit("/", 1)[-1]
    changed = True
    while changed:
        changed = False
        for suf in _BAM_SUFFIXES:
            if name.endswith(suf) and len(name) > len(suf):
                name = name[: -len(suf)].rstrip("._")
                changed = True
    return name


def _read_featurecounts(raw: _RawTable, *, gene_names, unmapped: str, duplicates: str, units: str) -> AnnData:
    """featureCounts output: Geneid, Chr, Start, End, Strand, Length (annotation), then one count column per BAM."""
    cols = list(range(6, len(raw.header)))
    samples = np.array([_featurecounts_sample(raw.header[c]) for c in cols], dtype=object)
    if pd.Index(samples).duplicated().any():  # two BAMs of the same name in different folders
        samples = np.array([raw.header[c] for c in cols], dtype=object)
    X = _numeric_block(raw, cols, row_kind="gene", col_kind="sample").T
    genes = raw.body[0].str.strip().to_numpy(dtype=object)
    length = _numeric_block(raw, [5], row_kind="gene", col_kind="column")[:, 0]
    var_extra: dict = {"length": length}
    mapping = _load_gene_names(gene_names)
    if mapping:
        symbols, keep = _map_symbols(genes, mapping, unmapped, raw.path)
        var_extra = {"length": length[keep], "gene_ids": genes[keep]}
        X, genes = X[:, keep], symbols[keep]
    var_extra = _join_ids(var_extra, genes)
    return _finish(
        X,
        samples,
        genes,
        units="counts" if units == "auto" else units,
        source=raw.path,
        duplicates=duplicates,
        var_extra=var_extra,
    )
