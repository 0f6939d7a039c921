"""Both-strand log-odds motif scan of each locus window, max per TF."""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
import pandas as pd
from anndata import AnnData
from tqdm.auto import tqdm

from .._onehot import locus_codes
from .._utils import deepcage_uns, get_modality, loci_of, resolve_genome

__all__ = ["motif_scores", "scan_max"]

_COMPLEMENT = np.array([3, 2, 1, 0])
_Q = 4  # bases per lookup-table block: 5**4 = 625 entries (A, C, G, T, N) per block


@numba.njit(cache=True)
def _qmer_codes(codes: np.ndarray, q: int) -> np.ndarray:
    """Base-5 code of the q-mer starting at each position (past the end reads as N)."""
    n, length = codes.shape
    out = np.empty((n, length), dtype=np.int32)
    for i in range(n):
        for p in range(length):
            k = 0
            mult = 1
            for t in range(q):
                c = codes[i, p + t] if p + t < length else 4
                k += c * mult
                mult *= 5
            out[i, p] = k
    return out


def _block_tables(log_odds: Sequence[np.ndarray], q: int = _Q):
    """Per motif: the score of every q-mer in each block of q positions, blocks sorted most selective first, the
    best score reachable from the b-th block on, and each block's offset in the motif."""
    widths = np.array([lo.shape[0] for lo in log_odds], dtype=np.int64)
    n_blocks = -(-widths // q)
    kmers = np.arange(5**q)
    digits = np.stack([(kmers // 5**t) % 5 for t in range(q)], axis=1)
    tables = np.zeros((len(log_odds), int(n_blocks.max()), 5**q))
    rest = np.zeros((len(log_odds), int(n_blocks.max()) + 1))
    offsets = np.zeros((len(log_odds), int(n_blocks.max())), dtype=np.int64)
    for m, lo in enumerate(log_odds):
        padded = np.zeros((n_blocks[m] * q, 5))
        padded[: lo.shape[0], :4] = lo  # N and positions past the motif weigh 0
        tab = np.zeros((n_blocks[m], 5**q))
        for b in range(n_blocks[m]):
            for t in range(q):
                tab[b] += padded[b * q + t, digits[:, t]]
        # reading the block with the widest score range first lets hopeless windows be dropped soonest
        order = np.argsort(-(tab[:, :-1].max(axis=1) - tab[:, : 4**q].mean(axis=1)), kind="stable")
        tables[m, : n_blocks[m]] = tab[order]
        offsets[m, : n_blocks[m]] = order * q
        rest[m, : n_blocks[m]] = np.cumsum(tab[order].max(axis=1)[::-1])[::-1]
    return tables, rest, n_blocks, widths, offsets


@numba.njit(parallel=True, cache=True)
def _scan_kernel(qcodes, tables, rest, n_blocks, widths, offsets, floor, out):
    """Best window score per (sequence, motif). A window is abandoned as soon as its partial score plus the best
    possible rest cannot beat the best so far (or ``floor``); exact for the maximum."""
    n, length = qcodes.shape
    n_motifs = tables.shape[0]
    for i in numba.prange(n):
        kc = qcodes[i]
        for m in range(n_motifs):
            nb = n_blocks[m]
            tab = tables[m]
            bound = rest[m]
            off = offsets[m]
            best = floor[m]
            for p in range(length - widths[m] + 1):
                s = tab[0, kc[p + off[0]]]
                b = 1
                while b < nb and s + bound[b] > best:
                    s += tab[b, kc[p + off[b]]]
                    b += 1
                if b == nb and s > best:
                    best = s
            out[i, m] = best


def scan_max(
    codes: np.ndarray,
    log_odds: Sequence[np.ndarray],
    *,
    thresholds: Sequence[float] | np.ndarray | None = None,
    batch_size: int = 512,
    progress: bool = False,
) -> np.ndarray:
    """Best log-odds score of each motif in each sequence, over positions and both strands.

    Equivalent to sliding every ``(width, 4)`` log-odds matrix over the sequence and its reverse complement and
    taking the maximum over the positions where the motif fits entirely; ``N`` contributes 0. Implemented with
    4-mer lookup tables and branch-and-bound (numba, parallel over sequences): a window is dropped as soon as it
    cannot beat the best score found so far, which keeps the result exact.

    Parameters
    ----------
    codes
        ``(n, L)`` uint8 base codes (``A,C,G,T,N = 0..4``), e.g. from :meth:`deepcage.Genome.windows`.
    log_odds
        One ``(width, 4)`` matrix per motif (:meth:`deepcage.io.Motif.log_odds`).
    thresholds
        Optional score per motif: sequences whose best match stays below it get exactly that value (use 0 to
        score "no site" as 0). Windows that cannot reach it are skipped early, which makes the scan much faster.
    batch_size
        Sequences per call of the kernel (bounds memory).
    progress
        Show a progress bar.

    Returns
    -------
    ``(n, n_motifs)`` float32 array.
    """
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.ndim != 2:
        raise ValueError(f"codes must be (n, L), got shape {codes.shape}.")
    if not len(log_odds):
        raise ValueError("No motifs to scan.")
    n_motifs = len(log_odds)
    both = [np.asarray(lo, dtype=np.float64) for lo in log_odds]
    both += [
        lo[::-1][:, _COMPLEMENT] for lo in both
    ]  # reverse complement: reversed positions, complemented bases
    tables, rest, n_blocks, widths, offsets = _block_tables(both)
    if widths.max() > codes.shape[1]:
        raise ValueError(
            f"A motif of width {widths.max()} is longer than the sequences ({codes.shape[1]} bp)."
        )
    floor = np.full(2 * n_motifs, -np.inf)
    if thresholds is not None:
        thresholds = np.asarray(thresholds, dtype=np.float64)
        if thresholds.shape != (n_motifs,):
            raise ValueError(
                f"thresholds must have one value per motif ({n_motifs}), got shape {thresholds.shape}."
            )
        floor = np.concatenate([thresholds, thresholds])
    out = np.empty((len(codes), n_motifs), dtype=np.float32)
    scores = np.empty((min(batch_size, len(codes)), 2 * n_motifs))
    for lo in tqdm(range(0, len(codes), batch_size), desc="motif scan", disable=not progress, unit="batch"):
        chunk = codes[lo : lo + batch_size]
        part = scores[: len(chunk)]
        _scan_kernel(_qmer_codes(chunk, _Q), tables, rest, n_blocks, widths, offsets, floor, part)
        out[lo : lo + len(chunk)] = np.maximum(part[:, :n_motifs], part[:, n_motifs:])
    return out


def _cuts(motifs, min_score) -> np.ndarray | None:
    if min_score is None:
        return None
    if isinstance(min_score, str):
        if min_score != "motif":
            raise ValueError(f"min_score={min_score!r}; expected None, a number or 'motif'.")
        missing = [m.name for m in motifs if m.threshold is None]
        if missing:
            raise ValueError(
                f"min_score='motif' but {len(missing)} motif(s) carry no threshold (e.g. {missing[0]!r}); pass a number."
            )
        return np.array([m.threshold for m in motifs], dtype=np.float64)
    return np.full(len(motifs), float(min_score))


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
    batch_size: int = 512,
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
    min_score
        ``None`` (default): the exact best score, however weak. A number, or ``'motif'`` for each motif's own
        log-odds threshold (HOMER files carry one): a locus whose best site does not exceed it scores 0
        ("no site"), as with thresholded scanners. Much faster, since hopeless windows are skipped early.
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

    cuts = _cuts(motif_list, min_score)
    log_odds = [m.log_odds(background) for m in motif_list]
    per_motif = scan_max(codes, log_odds, thresholds=cuts, batch_size=batch_size, progress=progress)
    if cuts is not None:
        per_motif[per_motif <= cuts[None, :]] = 0.0
    # max over each TF's motifs
    frame = pd.DataFrame(per_motif, index=adata.var_names, columns=tf_of)
    scores = frame.T.groupby(level=0, sort=False).max().T.reindex(columns=order)
    adata.varm[key_added] = scores.astype(np.float32)
    rec = deepcage_uns(adata)
    rec["motif_db"] = source
    rec["tfs"] = list(order)
    return data if copy else None
