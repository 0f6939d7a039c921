"""The layout of a prediction AnnData, one for every output: in memory, and ``.h5ad`` written chunk by chunk.

Samples x loci, the predictions in ``X`` (the canonical place; in memory also ``layers[key_added]``, the same
array), ``obs`` the input samples' ``obs`` with ``obs['source']``, ``var[['chrom', 'start', 'end']]``,
``obsm[tf_key]`` the normalised TF expression, ``varm[motif_key]`` only when asked, and ``uns['deepcage']``
(genome, TFs, TF reference, ``prediction_key`` and the record in ``predict[key_added]``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from .._utils import UNS_KEY
from ._predict_inputs import Inputs, _names

__all__ = ["open_h5ad_sink", "prediction_adata", "prediction_record"]

_VAR_CHUNK = 100_000  # names per write: a few MB of Python strings at a time


def prediction_record(model, **extra) -> dict:
    """``uns['deepcage']['predict'][key_added]``: what made the predictions."""
    return {
        "task": model.task,
        "tfs": len(model.tfs),
        "model_genome": str((model.genome or {}).get("name") or ""),
    } | {k: v for k, v in extra.items() if v is not None}


def _uns(model, key_added: str, record: dict) -> dict:
    return {
        "genome": dict(model.genome),
        "tfs": list(model.tfs),
        "tf_reference": model.tf_reference,
        "prediction_key": key_added,
        "predict": {key_added: record},
    }


def _obs(inputs: Inputs) -> pd.DataFrame:
    obs = inputs.obs.copy()
    obs.index = pd.Index(list(map(str, inputs.names)))
    return obs


def prediction_adata(
    model, inputs: Inputs, pred: np.ndarray, *, key_added: str, tf_key: str, motif_key: str, motifs, record
) -> AnnData:
    """The AnnData of predicted samples in memory (``motifs``: loci x TFs scores for ``varm``, or None)."""
    table = inputs.table
    var = table[["chrom", "start", "end"]].copy()
    var.index = pd.Index(_names(table, 0, len(table)))
    new = AnnData(X=pred, obs=_obs(inputs), var=var)
    new.layers[key_added] = new.X  # the same array: both spellings work
    new.obsm[tf_key] = pd.DataFrame(inputs.expr, index=new.obs_names, columns=model.tfs)
    if motifs is not None:
        new.varm[motif_key] = pd.DataFrame(motifs, index=new.var_names, columns=model.tfs)
    new.uns[UNS_KEY] = _uns(model, key_added, record)
    return new


def open_h5ad_sink(
    path: Path,
    model,
    inputs: Inputs,
    *,
    key_added: str,
    tf_key: str,
    motif_key: str,
    with_motifs: bool,
    record,
):
    """Write the skeleton of a prediction ``.h5ad`` (the layout above) and return the open file, its empty
    float32 ``X`` (samples x loci, readable backed) and a ``motif_sink(lo, hi, scores)`` (None without motifs).

    ``var`` (names, chrom, start, end) is written in chunks of 100,000 loci, so a genome-wide table never exists
    as Python strings in memory: anndata writes a zero-locus skeleton with the right columns and encodings, whose
    datasets are then recreated at full length with the same attributes.
    """
    import h5py

    table, n = inputs.table, len(inputs.table)
    chrom = table["chrom"].astype("category")
    var = pd.DataFrame(
        {
            "chrom": pd.Categorical([], categories=chrom.cat.categories),
            "start": np.zeros(0, np.int64),
            "end": np.zeros(0, np.int64),
        },
        index=pd.Index([], dtype=object),
    )
    obsm = {tf_key: pd.DataFrame(inputs.expr, index=_obs(inputs).index, columns=model.tfs)}
    skeleton = AnnData(obs=_obs(inputs), var=var, obsm=obsm, uns={UNS_KEY: _uns(model, key_added, record)})
    if with_motifs:
        empty = np.zeros((0, len(model.tfs)), np.float32)
        skeleton.varm[motif_key] = pd.DataFrame(empty, index=var.index, columns=model.tfs)
    skeleton.write_h5ad(path)
    fh = h5py.File(path, "a")
    codes = np.asarray(chrom.cat.codes)
    columns = {
        "_index": lambda lo, hi: _names(table, lo, hi),
        "chrom/codes": lambda lo, hi: codes[lo:hi],
        "start": lambda lo, hi: table["start"].to_numpy()[lo:hi],
        "end": lambda lo, hi: table["end"].to_numpy()[lo:hi],
    }
    for key, values in columns.items():
        ds = _regrow(fh["var"], key, n)
        for lo in range(0, n, _VAR_CHUNK):
            ds[lo : min(lo + _VAR_CHUNK, n)] = values(lo, min(lo + _VAR_CHUNK, n))
    if "X" in fh:
        del fh["X"]
    ds = fh.create_dataset(
        "X", shape=(inputs.n_samples, n), dtype="float32", chunks=(inputs.n_samples, max(1, min(n, 16384)))
    )
    ds.attrs["encoding-type"] = "array"
    ds.attrs["encoding-version"] = "0.2.0"
    return fh, ds, (_motif_sink(fh["varm"][motif_key], model.tfs, table) if with_motifs else None)


def _regrow(group, key: str, n: int):
    """Recreate the zero-length dataset ``group[key]`` at length ``n`` with its dtype and attributes."""
    old = group[key]
    attrs, dtype = dict(old.attrs), old.dtype
    del group[key]
    ds = group.create_dataset(key, shape=(n,), dtype=dtype, chunks=(min(max(n, 1), 65536),))
    ds.attrs.update(attrs)
    return ds


def _motif_sink(group, tfs: list[str], table: pd.DataFrame):
    """Columns of ``varm[motif_key]`` (a DataFrame: one dataset per TF) filled chunk by chunk."""
    n = len(table)
    index = _regrow(group, "_index", n)
    for lo in range(0, n, _VAR_CHUNK):
        index[lo : min(lo + _VAR_CHUNK, n)] = _names(table, lo, min(lo + _VAR_CHUNK, n))
    datasets = [_regrow(group, tf, n) for tf in tfs]

    def sink(lo: int, hi: int, scores: np.ndarray) -> None:
        for j, ds in enumerate(datasets):
            ds[lo:hi] = scores[:, j]

    return sink
