"""Both-strand log-odds motif scan of each locus window, max per TF."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData
from tqdm.auto import tqdm

from .._keys import MOTIF_SCORES
from .._scan_record import SCAN_KEY, MotifScan
from .._settings import show_progress
from .._utils import deepcage_uns, get_modality, loci_of, resolve_genome
from ._motif_scan import resolve_scan_device, scan_max

__all__ = ["motif_scores", "scan_max"]

_READ_CHUNK = 16384  # loci whose sequences are read at once (16 MB of 1-kb windows)


def _load_motifs(motifs, tf_table):
    from ..io import read_motifs

    if isinstance(motifs, str) or hasattr(motifs, "__fspath__"):
        return read_motifs(motifs, tf_table=tf_table), str(motifs)
    motifs = list(motifs)
    if not motifs:
        raise ValueError("The motif list is empty.")
    return motifs, motifs[0].meta.get("source", "custom")


def motif_scores(
    data,
    motifs,
    *,
    genome=None,
    window: int = 1000,
    tfs: Sequence[str] | None = None,
    tf_table=None,
    background=(0.25, 0.25, 0.25, 0.25),
    min_score: float | str | None = None,
    device="auto",
    batch_size: int | None = None,
    progress: bool | None = None,
    key_added: str = MOTIF_SCORES,
    out: str | os.PathLike | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Score every locus for every TF: the best both-strand log-odds match in the ``window`` around the locus.

    The DeepCAGE expression branch multiplies these scores by the TF expression of a sample. A TF with several
    motifs gets the maximum over its motifs. Every window is scored (no pruning), in float32: scores differ
    from an exact float64 scan by less than a per-motif tolerance (about 1e-5 for HOCOMOCO motifs).
    Sequences are read and scanned in chunks, so memory does not grow with the number of loci.

    Parameters
    ----------
    data
        Samples x loci AnnData (loci from ``var[['chrom','start','end']]`` or ``chr:start-end`` names), or MuData.
    motifs
        A list of :class:`deepcage.io.Motif`, a HOMER ``.motif`` / MEME ``.meme`` path, or ``'jaspar'``.
    genome
        :class:`deepcage.Genome` or FASTA path(s); default: the genome recorded in ``uns['deepcage']``.
    window
        Sequence length around each locus centre (1,000 bp in the paper).
    tfs
        Keep only these TFs, in this order (e.g. the TFs of a trained model). Each must have a motif.
    tf_table
        Motif -> TF symbol table for motif files whose names are not TF symbols.
    background
        A, C, G, T background frequencies of the log-odds.
    min_score
        ``None`` (default): the exact best score, however weak. A number, or ``'motif'`` for each motif's own
        log-odds threshold (HOMER files carry one): a locus whose best site does not exceed it scores 0
        ("no site"), as with thresholded scanners.
    device
        ``'auto'`` (default): a CUDA GPU when PyTorch sees one (a float32 convolution), else the CPU (2-mer
        lookup tables, numba, all cores); or ``'cpu'``, ``'cuda'``, ``'cuda:1'``.
    batch_size
        Loci per scan call; default: 512 on the CPU, sized to the free memory on a GPU.
    progress
        Progress bar (loci/s and time left) (``None``, the default: per ``dc.settings.verbosity``).
    key_added
        Key in ``varm``.
    out
        A ``.npy`` file to write the scores to, in chunks; ``varm[key_added]`` is then a DataFrame over the
        read-only memory map of that file, so neither this step nor :func:`deepcage.tl.fit` holds the
        ``n_loci x n_tfs`` matrix in memory (the out-of-core path for data larger than memory, :doc:`/scale`).
        Default: in memory.
    copy
        Return a modified copy instead of writing in place.

    Returns
    -------
    None, or a copy when ``copy=True``. Writes ``varm[key_added]`` (DataFrame loci x TFs, float32),
    ``uns['deepcage']['motif_db']``, ``uns['deepcage']['tfs']`` and ``uns['deepcage']['motif_scan'][key_added]``:
    the motifs, window, background and threshold rule. :func:`deepcage.tl.fit` stores this record with the model
    and :func:`deepcage.tl.predict` scores new loci with exactly these settings.

    Examples
    --------
    >>> adata = dc.datasets.synthetic()
    >>> motifs = adata.uns["synthetic"]["motifs"]
    >>> dc.pp.motif_scores(adata, dc.datasets.synthetic_motifs(adata), progress=False)
    >>> adata.varm["motif_scores"].shape
    (2000, 8)
    """
    if copy:
        data = data.copy()
    adata = get_modality(data, "atac")
    motif_list, source = _load_motifs(motifs, tf_table)
    genome = resolve_genome(adata, genome)
    loci = loci_of(adata)

    tf_of = [m.tf or m.name for m in motif_list]
    if tfs is not None:
        tfs = [tfs] if isinstance(tfs, str) else [str(t) for t in tfs]
        if not tfs:
            known = list(dict.fromkeys(tf_of))
            raise ValueError(
                f"tfs=[] selects no TF to score. Pass tfs=None for every TF of {source} ({len(known)} TFs, e.g. "
                f"{known[:5]}), or a list of TF names (e.g. model.tfs, or the TFs with expression)."
            )
        missing = sorted(set(tfs) - set(tf_of))
        if missing:
            raise ValueError(f"{len(missing)} TF(s) have no motif in {source}: {missing[:20]}.")
        keep = [i for i, tf in enumerate(tf_of) if tf in set(tfs)]
        motif_list = [motif_list[i] for i in keep]
        tf_of = [tf_of[i] for i in keep]
    order = tfs if tfs is not None else list(dict.fromkeys(tf_of))

    scan = MotifScan(motif_list, window=window, background=background, min_score=min_score, source=source)
    scan.cuts()  # a threshold rule that cannot apply fails before reading sequences
    device = resolve_scan_device(device)
    chrom, start, end = loci["chrom"].to_numpy(), loci["start"].to_numpy(), loci["end"].to_numpy()
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        scores = np.lib.format.open_memmap(out, mode="w+", dtype=np.float32, shape=(len(loci), len(order)))
    else:
        scores = np.empty((len(loci), len(order)), dtype=np.float32)
    with tqdm(total=len(loci), desc="motif scores", unit="locus", disable=not show_progress(progress)) as bar:
        for lo in range(0, len(loci), _READ_CHUNK):
            hi = min(lo + _READ_CHUNK, len(loci))
            codes = scan.read(genome, chrom[lo:hi], start[lo:hi], end[lo:hi])
            scores[lo:hi] = scan.score(codes, order, device=device, batch_size=batch_size)
            bar.update(hi - lo)
    if out is not None:
        scores.flush()
        del scores
        scores = np.load(out, mmap_mode="r")
    adata.varm[key_added] = pd.DataFrame(scores, index=adata.var_names, columns=order, copy=False)
    rec = deepcage_uns(adata)
    rec["motif_db"] = source
    rec["tfs"] = list(order)
    # how the scores were made, replayed by predict for loci that are not in this AnnData
    rec.setdefault(SCAN_KEY, {})[key_added] = scan.to_uns()
    return data if copy else None
