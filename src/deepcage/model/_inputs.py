"""Checks and extraction of model inputs from an AnnData (shared by fit, predict and variant_effect)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

__all__ = [
    "align_tfs",
    "check_finite",
    "check_unique_names",
    "on_disk",
]


def align_tfs(df: pd.DataFrame, tfs: Sequence[str], what: str) -> pd.DataFrame:
    """Reorder the columns of ``df`` to ``tfs``; raise listing missing and extra TFs when the sets differ."""
    tfs = [str(t) for t in tfs]
    cols = [str(c) for c in df.columns]
    if cols == tfs:
        return df
    missing = [t for t in tfs if t not in set(cols)]
    extra = [c for c in cols if c not in set(tfs)]
    if missing or extra:
        raise ValueError(
            f"The TFs of {what} do not match the model's {len(tfs)} TFs: "
            f"{len(missing)} missing {missing[:20]}{' ...' if len(missing) > 20 else ''}, "
            f"{len(extra)} extra {extra[:20]}{' ...' if len(extra) > 20 else ''}. "
            "Compute motif scores and TF expression for exactly the model's TFs (model.tfs), e.g. "
            "dc.pp.motif_scores(adata, motifs, tfs=model.tfs) and dc.pp.apply_tf_reference(rna, model.tf_reference)."
        )
    out = df.copy()
    out.columns = cols
    return out[tfs]


#: Cells checked at a time by :func:`check_finite` (its temporary mask stays 4 MB).
_CHECK_CELLS = 1 << 22


def check_finite(values, what: str, rows=None, cols=None) -> None:
    """Raise naming the first NaN/infinite entry (row and column labels when given).

    Dense arrays are checked in blocks of rows, so a 4.7 GB motif-score matrix needs no 1.2 GB mask; sparse
    matrices check their stored values.
    """
    from scipy import sparse

    if sparse.issparse(values):
        values = sparse.coo_matrix(values)
        bad = ~np.isfinite(values.data)
        if bad.any():
            _raise_not_finite(what, int(bad.sum()), values.row[bad][0], values.col[bad][0], rows, cols)
        return
    values = np.asarray(values)
    if values.dtype.kind in "biu":  # integers and booleans are always finite
        return
    step = max(1, _CHECK_CELLS // max(1, values[0].size if values.ndim == 2 and len(values) else 1))
    for lo in range(0, max(len(values), 1), step):
        if np.isfinite(values[lo : lo + step]).all():
            continue
        bad = ~np.isfinite(values[lo : lo + step])
        if bad.any():
            n_bad = int(bad.sum()) + sum(
                int((~np.isfinite(values[b : b + step])).sum()) for b in range(lo + step, len(values), step)
            )
            if values.ndim == 2:
                i, j = np.argwhere(bad)[0]
            else:
                i, j = np.flatnonzero(bad)[0], None
            _raise_not_finite(what, n_bad, lo + i, j, rows, cols)


def _raise_not_finite(what: str, n_bad: int, i, j, rows, cols):
    i, j = int(i), None if j is None else int(j)
    where = f"row {rows[i] if rows is not None else i!r}"
    if j is not None:
        where += f", column {cols[j] if cols is not None else j!r}"
    raise ValueError(
        f"{what} has {n_bad} NaN/infinite value(s), e.g. at {where}. "
        "Fill or remove them before training or predicting (deepcage never fills them silently)."
    )


def check_unique_names(adata: AnnData) -> None:
    """Raise when samples or loci share a name: expression, labels and stored loci are matched by name."""
    for names, what, fix in (
        (adata.obs_names, "sample names (obs_names)", "adata.obs_names_make_unique()"),
        (
            adata.var_names,
            "locus names (var_names)",
            "adata = adata[:, ~adata.var_names.duplicated()].copy()",
        ),
    ):
        dup = names[names.duplicated()]
        if len(dup):
            raise ValueError(
                f"{len(dup)} duplicated {what}, e.g. {list(dict.fromkeys(dup.astype(str)))[:5]}. deepcage matches "
                f"samples and loci by name, so each must be unique: rename them (e.g. {fix})."
            )


def on_disk(arr) -> bool:
    """Whether ``arr`` (or the array it is a view of) is a memory map of a file."""
    while arr is not None:
        if isinstance(arr, np.memmap) or type(arr).__name__ == "mmap":
            return True
        arr = getattr(arr, "base", None)
    return False
