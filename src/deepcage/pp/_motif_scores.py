"""Both-strand log-odds motif scan of each locus window, max per TF."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from tqdm.auto import tqdm

from .._onehot import locus_codes
from .._utils import deepcage_uns, get_modality, loci_of, resolve_genome

__all__ = ["motif_scores", "scan_max"]

_COMPLEMENT = np.array([3, 2, 1, 0])


def _filters(log_odds: Sequence[np.ndarray]) -> tuple[torch.Tensor, np.ndarray]:
    """Stack forward and reverse-complement log-odds as conv filters ``(2M, 4, w_max)``, zero-padded at the end."""
    widths = np.array([lo.shape[0] for lo in log_odds])
    w_max = int(widths.max())
    weight = np.zeros((2 * len(log_odds), 4, w_max), dtype=np.float32)
    for m, lo in enumerate(log_odds):
        w = lo.shape[0]
        weight[m, :, :w] = lo.T
        # reverse complement: reversed positions, complemented bases
        weight[len(log_odds) + m, :, :w] = lo[::-1][:, _COMPLEMENT].T
    return torch.from_numpy(weight), widths


def scan_max(
    codes: np.ndarray, log_odds: Sequence[np.ndarray], *, batch_size: int = 256, progress: bool = False
) -> np.ndarray:
    """Best log-odds score of each motif in each sequence, over positions and both strands.

    Equivalent to sliding every ``(width, 4)`` log-odds matrix over the sequence and its reverse complement and
    taking the maximum over the positions where the motif fits entirely. ``N`` contributes 0. Runs as one 1-D
    convolution per batch (PyTorch), so all motifs are scanned together.

    Parameters
    ----------
    codes
        ``(n, L)`` uint8 base codes (``A,C,G,T,N = 0..4``), e.g. from :meth:`deepcage.Genome.windows`.
    log_odds
        One ``(width, 4)`` matrix per motif (:meth:`deepcage.io.Motif.log_odds`).
    batch_size
        Sequences per convolution.
    progress
        Show a progress bar.

    Returns
    -------
    ``(n, n_motifs)`` float32 array.
    """
    codes = np.asarray(codes, dtype=np.uint8)
    if codes.ndim != 2:
        raise ValueError(f"codes must be (n, L), got shape {codes.shape}.")
    if not len(log_odds):
        raise ValueError("No motifs to scan.")
    weight, widths = _filters(log_odds)
    n, length = codes.shape
    if widths.max() > length:
        raise ValueError(f"A motif of width {widths.max()} is longer than the sequences ({length} bp).")
    n_motifs = len(log_odds)
    # positions past L - w are where a motif would overhang the end: exclude them per motif
    n_pos = length - int(widths.max()) + 1
    pad = int(widths.max()) - int(widths.min())
    valid = np.arange(n_pos + pad)[None, :] <= (length - np.concatenate([widths, widths]))[:, None]
    invalid = torch.from_numpy(~valid)
    eye = torch.cat([torch.eye(4), torch.zeros(1, 4)])
    out = np.empty((n, n_motifs), dtype=np.float32)
    batches = range(0, n, batch_size)
    with torch.inference_mode():
        for lo in tqdm(batches, desc="motif scan", disable=not progress, unit="batch"):
            x = eye[torch.from_numpy(codes[lo : lo + batch_size].astype(np.int64))].transpose(1, 2)
            x = torch.nn.functional.pad(x, (0, pad))
            scores = torch.nn.functional.conv1d(x, weight)
            scores = scores.masked_fill(invalid, float("-inf")).amax(dim=2)
            out[lo : lo + batch_size] = torch.maximum(scores[:, :n_motifs], scores[:, n_motifs:]).numpy()
    return out


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
    batch_size: int = 256,
    progress: bool = True,
    key_added: str = "motif_scores",
    copy: bool = False,
) -> AnnData | None:
    """Score every locus for every TF: the best both-strand log-odds match in the ``window`` around the locus.

    The DeepCAGE expression branch multiplies these scores by the TF expression of a sample. A TF with several
    motifs gets the maximum over its motifs.

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
    batch_size, progress
        Loci per convolution; progress bar.
    key_added
        Key in ``varm``.
    copy
        Return a modified copy instead of writing in place.

    Returns
    -------
    None, or a copy when ``copy=True``. Writes ``varm[key_added]`` (DataFrame loci x TFs, float32) and
    ``uns['deepcage']['motif_db']``, ``uns['deepcage']['tfs']``.

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
    codes = locus_codes(
        genome, loci["chrom"].to_numpy(), loci["start"].to_numpy(), loci["end"].to_numpy(), window=window
    )

    tf_of = [m.tf or m.name for m in motif_list]
    if tfs is not None:
        tfs = [str(t) for t in tfs]
        missing = sorted(set(tfs) - set(tf_of))
        if missing:
            raise ValueError(f"{len(missing)} TF(s) have no motif in {source}: {missing[:20]}.")
        keep = [i for i, tf in enumerate(tf_of) if tf in set(tfs)]
        motif_list = [motif_list[i] for i in keep]
        tf_of = [tf_of[i] for i in keep]
    order = tfs if tfs is not None else list(dict.fromkeys(tf_of))

    per_motif = scan_max(
        codes, [m.log_odds(background) for m in motif_list], batch_size=batch_size, progress=progress
    )
    # max over each TF's motifs
    frame = pd.DataFrame(per_motif, index=adata.var_names, columns=tf_of)
    scores = frame.T.groupby(level=0, sort=False).max().T.reindex(columns=order)
    adata.varm[key_added] = scores.astype(np.float32)
    rec = deepcage_uns(adata)
    rec["motif_db"] = source
    rec["tfs"] = list(order)
    return data if copy else None
