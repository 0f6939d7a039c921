"""TF expression: TPM/CPM -> log1p -> quantile normalisation against a reference fit on training samples."""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from anndata import AnnData

from .._keys import MOTIF_SCORES, SPLIT, TF_EXPRESSION
from .._utils import deepcage_uns, get_modality
from ..io._expression import guess_units, merge_duplicate_genes

__all__ = ["apply_tf_reference", "tf_expression"]

log = logging.getLogger(__name__)

_UNITS = ("counts", "tpm", "cpm", "fpkm", "rpkm")


_GENE_ID_RE = re.compile(r"^(ENS[A-Z]*G\d+|\d+)(\.\d+)?(_PAR_Y)?$")
_BARCODE_RE = re.compile(r"[ACGT]{10,}")
_LOCUS_RE = re.compile(r"^[^:\s]+[:_]\d+[-_]\d+$")


def loci_instead_of_genes(adata) -> str | None:
    """A var name of ``adata`` when its var are genomic loci (``chr1:100-300``, as in accessibility data), i.e.
    not the genes expected of expression; None otherwise. (Gene annotations may carry chrom/start/end columns,
    so the names decide.)"""
    if getattr(adata, "var_names", None) is None or adata.n_vars == 0:
        return None
    names = [str(v) for v in adata.var_names[:1000]]
    if sum(bool(_LOCUS_RE.match(n)) for n in names) > len(names) / 2:
        return names[0]
    return None


def _refuse_loci(adata, what: str = "expression") -> None:
    example = loci_instead_of_genes(adata)
    if example is not None:
        raise ValueError(
            f"{what}: the AnnData holds accessibility, not RNA: its {adata.n_vars:,} var are genomic loci (e.g. "
            f"{example!r}), not genes. Give the RNA of the samples (samples x genes: an expression table, or the "
            "'rna' modality of a MuData); a prepared .h5ad's own samples are predicted with dc.tl.predict(model, "
            "adata) ('deepcage predict --data')."
        )


def _expression_frame(expr) -> tuple[pd.DataFrame, str | None, pd.Series | None]:
    """Samples x genes DataFrame of raw values, the units recorded with it, and gene lengths if known."""
    if isinstance(expr, pd.DataFrame):
        return expr.copy(), expr.attrs.get("units"), None
    adata = get_modality(expr, "rna")
    _refuse_loci(adata)
    X = adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)
    df = pd.DataFrame(X, index=adata.obs_names.astype(str), columns=adata.var_names.astype(str))
    lengths = adata.var["length"] if "length" in adata.var else None
    return df, adata.uns.get("units"), lengths


def _check_values(df: pd.DataFrame, what: str) -> pd.DataFrame:
    try:
        values = df.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what}: expression values must be numeric ({err}).") from None
    for bad, label, hint in (
        (np.isnan(values), "NaN", "Fill or drop those genes before calling deepcage"),
        (np.isinf(values), "infinite", "Fix the table (an overflow, or 'Inf' written by a ratio or log)"),
        (values < 0, "negative", "Expression must be raw counts, TPM or CPM (not log-ratios or z-scores)"),
    ):
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ValueError(
                f"{what}: {int(bad.sum())} {label} value(s), e.g. gene {df.columns[j]!r} in sample {df.index[i]!r} "
                f"({values[i, j]}). {hint}."
            )
    zero = values.sum(axis=1) == 0
    if zero.any():
        raise ValueError(f"{what}: sample(s) {list(df.index[zero])} have zero expression for every gene.")
    return pd.DataFrame(values, index=df.index, columns=df.columns)


def _merge_duplicate_genes(df: pd.DataFrame, how: str, what: str) -> pd.DataFrame:
    """Gene symbols occurring more than once, merged as ``dc.io.read_expression_table`` merges them."""
    if not df.columns.duplicated().any():
        return df
    # stacklevel: the warning points at the caller of tf_expression / apply_tf_reference
    values, genes, _ = merge_duplicate_genes(
        df.to_numpy(), df.columns.to_numpy(object), how, what, stacklevel=5
    )
    return pd.DataFrame(values, index=df.index, columns=pd.Index(genes))


def _units(df: pd.DataFrame, units: str | None) -> str:
    """``units`` checked, or guessed from the values when None (``io._expression.guess_units``)."""
    if units is not None:
        units = units.lower()
        if units not in _UNITS:
            raise ValueError(f"units={units!r}; expected one of {_UNITS}.")
        return units
    return guess_units(df.to_numpy())


def _to_per_million(df: pd.DataFrame, units: str, lengths: pd.Series | None) -> pd.DataFrame:
    """Raw counts -> TPM (gene lengths known) or CPM; FPKM/RPKM -> TPM (rescaled to sum to 1e6 per sample, the
    same ranks); TPM/CPM pass through. Library size uses all genes."""
    if units in ("fpkm", "rpkm"):
        return df.div(df.sum(axis=1), axis=0) * 1e6
    if units != "counts":
        return df
    if lengths is not None:
        rate = df / lengths.reindex(df.columns).to_numpy(dtype=np.float64)[None, :]
        return rate.div(rate.sum(axis=1), axis=0) * 1e6
    return df.div(df.sum(axis=1), axis=0) * 1e6


def _missing_tfs_hint(df: pd.DataFrame, missing: list[str], n_tfs: int) -> str:
    """Why TFs may be missing: other letter case (mouse vs human symbols), gene ids, a transposed table."""
    upper = {str(c).upper(): str(c) for c in df.columns}
    case = [(t, upper[t.upper()]) for t in missing if t.upper() in upper]
    if case:
        return (
            f" {len(case)} of them differ only in letter case (e.g. {case[0][0]!r} vs {case[0][1]!r}): motifs of "
            "one species with expression of another? Map the symbols (orthologs) first."
        )
    index = {str(i) for i in df.index}
    if sum(t in index for t in missing) > len(missing) / 2:
        return " They are in the sample names instead: the table is transposed (use the other orientation)."
    cols = [str(c) for c in df.columns[:1000]]
    ids = [c for c in cols if _GENE_ID_RE.match(c)]
    if ids and len(ids) >= len(cols) / 2:
        versioned = any("." in c for c in ids)
        return (
            f" The genes are ids (e.g. {ids[0]!r}{', with version suffixes' if versioned else ''}), not symbols: "
            "map them to symbols with read_expression_table(..., gene_names=<id -> symbol table>) (--gene-names "
            "on the command line); version suffixes such as '.12' are ignored when matching."
        )
    if len(missing) > 0.5 * n_tfs:
        return (
            " Most TFs are missing, so fill_missing=True would give them all 0 and the predictions no expression "
            "information: check that the table's genes are gene symbols of the motifs' species."
        )
    return " Check gene symbols (aliases, Ensembl ids) or pass fill_missing=True to treat them as 0."


def _select_tfs(df: pd.DataFrame, tfs: Sequence[str], fill_missing: bool, what: str) -> pd.DataFrame:
    missing = [tf for tf in tfs if tf not in df.columns]
    if missing:
        msg = (
            f"{what}: {len(missing)} of {len(tfs)} TFs are missing from the expression table: "
            f"{missing[:20]}{' ...' if len(missing) > 20 else ''}."
        )
        if not fill_missing:
            raise ValueError(msg + _missing_tfs_hint(df, missing, len(tfs)))
        if len(missing) == len(tfs):
            hint = _missing_tfs_hint(df, missing, len(tfs))
            raise ValueError(
                msg
                + " fill_missing=True would set every TF to 0, so the predictions would carry no expression "
                "information." + ("" if hint.startswith(" Most TFs") else hint)
            )
        warnings.warn(msg + " They are treated as not expressed (0).", UserWarning, stacklevel=3)
    return df.reindex(columns=list(tfs), fill_value=0.0)


def _fit_quantiles(logx: np.ndarray) -> np.ndarray:
    """Reference distribution: the mean over samples of each sample's sorted values."""
    return np.sort(logx, axis=1).mean(axis=0)


def _apply_quantiles(logx: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Replace each value by the reference value of its rank; tied values get the mean over their ranks."""
    n = logx.shape[1]
    if len(quantiles) != n:
        raise ValueError(f"Reference has {len(quantiles)} quantiles but the expression has {n} TFs.")
    csum = np.concatenate([[0.0], np.cumsum(quantiles)])
    out = np.empty_like(logx, dtype=np.float64)
    for i, row in enumerate(logx):
        order = np.argsort(row, kind="stable")
        sorted_row = row[order]
        # tie groups in the sorted row: [first, last) positions
        starts = np.flatnonzero(np.r_[True, sorted_row[1:] != sorted_row[:-1]])
        ends = np.r_[starts[1:], n]
        group_mean = (csum[ends] - csum[starts]) / (ends - starts)
        values = np.repeat(group_mean, ends - starts)
        out[i, order] = values
    return out


def _warn_if_logged(df: pd.DataFrame, units: str, what: str) -> None:
    """A log2(TPM + 1) table passes every check but would be logged twice: warn when no gene reaches 30."""
    if units == "counts" or df.shape[1] < 100:
        return
    top = df.max(axis=1)
    if (top < 30).all():
        warnings.warn(
            f"{what}: no gene exceeds {float(top.max()):.1f} in any sample, as in log-transformed data (log2(TPM+1) "
            "...). deepcage expects raw TPM/CPM/counts and applies log1p itself; undo the log (2**x - 1) first.",
            UserWarning,
            stacklevel=4,
        )


def _single_cells(df: pd.DataFrame) -> str | None:
    """Why the samples x genes table ``df`` looks like single cells (barcodes as names, or >= 200 profiles
    that are mostly zeros), or None: deepcage expects one profile per sample or cell type."""
    if len(df) < 100:
        return None
    names = [str(s) for s in df.index[:1000]]
    barcodes = [s for s in names if _BARCODE_RE.search(s)]
    if len(barcodes) > len(names) / 2:
        return f"named like cell barcodes, e.g. {barcodes[0]!r}"
    zeros = float((df.to_numpy()[:1000] == 0).mean())
    if len(df) >= 200 and zeros > 0.8:
        return f"{100 * zeros:.0f} % of their values are 0, as in single-cell counts"
    return None


def _names(index, n: int = 10) -> str:
    shown = [str(s) for s in index[:n]]
    return f"{shown}{f' ... ({len(index):,} in all)' if len(index) > n else ''}"


def _normalised(
    df: pd.DataFrame, lengths, units, tfs, fill_missing, what, duplicates
) -> tuple[pd.DataFrame, str]:
    df = _merge_duplicate_genes(_check_values(df, what), duplicates, what)
    cells = _single_cells(df)
    units = _units(df, units)
    if cells is None:
        _warn_if_logged(df, units, what)
    per_million = _to_per_million(df, units, lengths)
    selected = _select_tfs(per_million, tfs, fill_missing, what)
    silent = selected.index[(selected.to_numpy() == 0).all(axis=1)]
    if cells is not None:  # one warning, not one naming every barcode
        none = f" ({len(silent):,} of them express none of the {len(tfs)} TFs)" if len(silent) else ""
        warnings.warn(
            f"{what}: the {len(df):,} samples look like single cells ({cells}){none}. deepcage expects one "
            "expression profile per sample or cell type (bulk RNA or pseudobulk): sum the cells of each cell type "
            "first, e.g. dc.pp.pseudobulk(cells, groupby='cell_type').",
            UserWarning,
            stacklevel=3,
        )
    elif len(silent):
        warnings.warn(
            f"{what}: sample(s) {_names(silent)} express none of the {len(tfs)} TFs; after quantile normalisation "
            "all their TFs tie at the mean reference value, so predictions for them carry no TF information.",
            UserWarning,
            stacklevel=3,
        )
    return np.log1p(selected), units


def tf_expression(
    data,
    expr=None,
    *,
    tfs: Sequence[str] | None = None,
    units: str | None = None,
    train: Sequence[str] | None = None,
    fill_missing: bool = False,
    duplicates: Literal["auto", "sum", "first", "raise"] = "sum",
    key_added: str = TF_EXPRESSION,
    copy: bool = False,
) -> AnnData | None:
    """Add normalised TF expression to each sample: TPM/CPM -> ``log1p`` -> quantile normalisation over TFs.

    Within each sample the TF values are replaced by a reference distribution at their ranks (DeepCAGE's
    normalisation). The reference is the mean sorted profile of the **training samples only**; it is stored in
    ``uns['deepcage']['tf_reference']`` and reused for test and new samples (:func:`apply_tf_reference`), so
    held-out samples never leak into it.

    Parameters
    ----------
    data
        Samples x loci AnnData, or a MuData whose ``'rna'`` modality is used when ``expr`` is None.
    expr
        Samples x genes expression: AnnData (``uns['units']`` read when present) or DataFrame. Sample names
        must include every ``data.obs_names``. Raw counts become TPM when ``var['length']`` is known, else CPM.
    tfs
        TF symbols, in model input order. Default: the columns of ``varm['motif_scores']``.
    units
        ``'counts'``, ``'tpm'``, ``'cpm'``, ``'fpkm'`` or ``'rpkm'`` (FPKM/RPKM are rescaled to TPM); guessed when None
        (integers -> counts).
    train
        Samples that define the reference. Default: ``obs['split'] == 'train'`` when that column exists,
        else all samples.
    fill_missing
        TFs absent from the expression table raise an error listing them; with ``True`` they are set to 0.
    duplicates
        Gene symbols occurring more than once, merged with a warning as in
        :func:`deepcage.io.read_expression_table`: ``'sum'`` (default) adds the copies up, ``'auto'`` keeps one
        copy of copies identical in every sample and sums the others, ``'first'`` keeps the first, ``'raise'``.
    key_added
        Key in ``obsm``.
    copy
        Return a modified copy instead of writing in place.

    Returns
    -------
    None, or a copy when ``copy=True``. Writes

    - ``obsm[key_added]``: DataFrame samples x TFs of normalised ``log1p`` expression;
    - ``uns['deepcage']['tf_reference']``: ``{'tfs', 'quantiles', 'units', 'train_samples'}``;
    - ``uns['deepcage']['tfs']``: the TF order.

    Examples
    --------
    >>> mdata = dc.datasets.synthetic(rna=True)
    >>> dc.pp.tf_expression(mdata)
    >>> mdata["atac"].obsm["tf_expr"].shape
    (12, 8)
    """
    if copy:
        data = data.copy()
    adata = get_modality(data, "atac")
    if expr is None:
        if isinstance(data, AnnData):
            raise ValueError(
                "Pass expr= (samples x genes AnnData or DataFrame), or a MuData with an 'rna' modality."
            )
        expr = get_modality(data, "rna")
    if tfs is None:
        if MOTIF_SCORES not in adata.varm:
            raise ValueError(
                "Pass tfs=, or run dc.pp.motif_scores first so the TF list comes from the motif database."
            )
        tfs = list(adata.varm[MOTIF_SCORES].columns)
    tfs = [str(t) for t in tfs]
    if len(set(tfs)) != len(tfs):
        raise ValueError("tfs contains duplicated names.")

    df, recorded_units, lengths = _expression_frame(expr)
    df.index = df.index.astype(str)
    missing = [s for s in adata.obs_names if s not in df.index]
    if missing:
        raise ValueError(
            f"{len(missing)} sample(s) have no expression: {missing[:10]}. Expression samples are {list(df.index[:10])}"
            f"{' ...' if len(df.index) > 10 else ''}; sample names must match obs_names."
        )
    df = df.loc[list(adata.obs_names)]
    logx, units = _normalised(
        df, lengths, units or recorded_units, tfs, fill_missing, "expression", duplicates
    )

    if train is None:
        if SPLIT in adata.obs:
            train = list(adata.obs_names[adata.obs[SPLIT].astype(str) == "train"])
        else:
            train = list(adata.obs_names)
            log.info("No obs['split']: the TF quantile reference is fit on all %d samples.", len(train))
    train = [str(s) for s in train]
    unknown = [s for s in train if s not in logx.index]
    if unknown or not train:
        raise ValueError(f"train samples must be a non-empty subset of obs_names; unknown: {unknown[:10]}.")
    quantiles = _fit_quantiles(logx.loc[train].to_numpy())

    adata.obsm[key_added] = pd.DataFrame(
        _apply_quantiles(logx.to_numpy(), quantiles), index=adata.obs_names, columns=tfs
    )
    rec = deepcage_uns(adata)
    rec["tf_reference"] = {"tfs": tfs, "quantiles": quantiles, "units": units, "train_samples": train}
    rec["tfs"] = tfs
    return data if copy else None


def apply_tf_reference(
    expr,
    reference: dict,
    *,
    units: str | None = None,
    fill_missing: bool = False,
    duplicates: Literal["auto", "sum", "first", "raise"] = "sum",
) -> pd.DataFrame:
    """Normalise new samples' expression with a stored reference (from :func:`tf_expression` or a saved model).

    Parameters
    ----------
    expr
        Samples x genes AnnData (bulk RNA, or pseudobulk from :func:`deepcage.pp.pseudobulk`) or DataFrame.
    reference
        ``uns['deepcage']['tf_reference']`` or ``model.tf_reference``.
    units, fill_missing, duplicates
        As in :func:`tf_expression`.

    Returns
    -------
    DataFrame samples x TFs (reference order) of quantile-normalised ``log1p`` expression.

    Examples
    --------
    >>> mdata = dc.datasets.synthetic(rna=True)
    >>> ref = mdata["atac"].uns["deepcage"]["tf_reference"]
    >>> dc.pp.apply_tf_reference(mdata["rna"], ref).shape
    (12, 8)
    """
    for key in ("tfs", "quantiles"):
        if key not in reference:
            raise ValueError(
                f"reference has no {key!r}: pass uns['deepcage']['tf_reference'] or model.tf_reference."
            )
    tfs = list(reference["tfs"])
    df, recorded_units, lengths = _expression_frame(expr)
    df.index = df.index.astype(str)
    logx, _ = _normalised(df, lengths, units or recorded_units, tfs, fill_missing, "expression", duplicates)
    values = _apply_quantiles(logx.to_numpy(), np.asarray(reference["quantiles"], dtype=np.float64))
    return pd.DataFrame(values, index=df.index, columns=tfs)
