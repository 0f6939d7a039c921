"""Sequence codes of every locus, read once from the genome and kept with the AnnData (in memory or on disk)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from anndata import AnnData
from tqdm.auto import tqdm

from .._keys import SEQUENCE_CODES
from .._settings import show_progress
from .._utils import deepcage_uns, get_modality, loci_of, resolve_genome

__all__ = ["SEQUENCE_KEY", "sequence_codes", "stored_codes"]

#: ``varm`` key of the stored codes.
SEQUENCE_KEY = SEQUENCE_CODES
_CHUNK = 1 << 16


def sequence_codes(
    data,
    *,
    genome=None,
    window: int = 1000,
    out: str | os.PathLike | None = None,
    progress: bool | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Read the ``window``-bp sequence around every locus once, as 1-byte base codes, for training.

    :func:`deepcage.tl.fit` reads the sequences from the genome itself when they are not stored; store them when
    the same loci are trained on several times (cross-validation, several settings) or when they do not fit in
    memory: with ``out``, the codes go to a ``.npy`` file, written in chunks and memory-mapped, so neither this
    step nor training holds them in memory (the out-of-core path, :doc:`/scale`).

    Parameters
    ----------
    data
        Samples x loci AnnData (or MuData: its ``'atac'`` modality) with the genome recorded or ``genome=``.
    genome
        :class:`deepcage.Genome` or FASTA path(s); default: ``uns['deepcage']['genome']``.
    window
        Sequence length around each locus centre (the network reads 1,000 bp).
    out
        A ``.npy`` file to write the codes to (memory-mapped back, read-only). Default: in memory.
    progress
        Progress bar (``None``, the default: per ``dc.settings.verbosity``).
    copy
        Return a modified copy instead of writing in place.

    Returns
    -------
    None, or a copy when ``copy=True``. Writes ``varm['sequence_codes']`` (``(n_loci, window)`` uint8: A C G T N
    as 0-4) and ``uns['deepcage']['sequence_codes']`` (window, genome name, file).

    Examples
    --------
    >>> adata = dc.datasets.synthetic()
    >>> dc.pp.sequence_codes(adata, progress=False)
    >>> adata.varm["sequence_codes"].shape
    (2000, 1000)
    """
    from .._onehot import locus_codes

    if copy:
        data = data.copy()
    adata = get_modality(data, "atac")
    gen = resolve_genome(adata, genome)
    loci = loci_of(adata)
    chrom, start, end = loci["chrom"].to_numpy(), loci["start"].to_numpy(), loci["end"].to_numpy()
    n = len(loci)
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        codes = np.lib.format.open_memmap(out, mode="w+", dtype=np.uint8, shape=(n, window))
    else:
        codes = np.empty((n, window), dtype=np.uint8)
    with tqdm(total=n, desc="sequences", unit="locus", disable=not show_progress(progress)) as bar:
        for lo in range(0, n, _CHUNK):
            hi = min(lo + _CHUNK, n)
            codes[lo:hi] = locus_codes(gen, chrom[lo:hi], start[lo:hi], end[lo:hi], window=window)
            bar.update(hi - lo)
    if out is not None:
        codes.flush()
        del codes
        codes = np.load(out, mmap_mode="r")
    adata.varm[SEQUENCE_KEY] = codes
    deepcage_uns(adata)[SEQUENCE_KEY] = {
        "window": int(window),
        "genome": gen.name or "",
        "file": str(out) if out is not None else "",
    }
    return data if copy else None


def stored_codes(adata: AnnData, window: int) -> np.ndarray | None:
    """``varm['sequence_codes']`` when stored for ``window``-bp sequences, else None (a clear error if wrong)."""
    if SEQUENCE_KEY not in adata.varm:
        return None
    codes = adata.varm[SEQUENCE_KEY]
    codes = codes if isinstance(codes, np.ndarray) else np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != window or codes.dtype != np.uint8:
        raise ValueError(
            f"varm[{SEQUENCE_KEY!r}] holds {codes.dtype} codes of shape {codes.shape}, but the network reads "
            f"{window}-bp sequences as uint8: re-run dc.pp.sequence_codes(adata, window={window}) or delete it."
        )
    return codes
