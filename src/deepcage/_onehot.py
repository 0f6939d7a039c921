"""One-hot encoding of DNA: (n, 4, L) uint8 with rows A, C, G, T; N is an all-zero column."""

from __future__ import annotations

import numpy as np

from ._genome import Genome, encode_bases

__all__ = ["locus_centers", "locus_codes", "one_hot", "reverse_complement_codes"]

_EYE = np.vstack([np.eye(4, dtype=np.uint8), np.zeros((1, 4), dtype=np.uint8)])  # code 4 (N) -> zeros


def one_hot(seqs) -> np.ndarray:
    """One-hot encode sequences.

    Parameters
    ----------
    seqs
        A DNA string, a list of equal-length strings, or a uint8 code array ``(n, L)`` from
        :meth:`deepcage.Genome.windows` (``A,C,G,T,N = 0..4``).

    Returns
    -------
    ``(n, 4, L)`` uint8 array (``(4, L)`` for a single string), rows in ``A, C, G, T`` order.

    Examples
    --------
    >>> dc.pp.one_hot("ACGTN")[:, -1]
    array([0, 0, 0, 0], dtype=uint8)
    """
    if isinstance(seqs, str):
        return _EYE[encode_bases(seqs)].T.copy()
    if isinstance(seqs, np.ndarray) and seqs.dtype == np.uint8:
        codes = seqs
    else:
        seqs = list(seqs)
        lengths = {len(s) for s in seqs}
        if len(lengths) > 1:
            raise ValueError(
                f"Sequences have different lengths {sorted(lengths)[:5]}; one-hot needs equal lengths."
            )
        codes = np.stack([encode_bases(s) for s in seqs]) if seqs else np.zeros((0, 0), np.uint8)
    return np.ascontiguousarray(_EYE[codes].transpose(0, 2, 1))


def reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
    """Reverse complement of base codes (``A<->T``, ``C<->G``, N stays N) along the last axis."""
    comp = np.array([3, 2, 1, 0, 4], dtype=np.uint8)
    return comp[codes[..., ::-1]]


def locus_centers(start, end) -> np.ndarray:
    """The centre of each locus ``start-end`` that its sequence window is centred on."""
    return (np.asarray(start, dtype=np.int64) + np.asarray(end, dtype=np.int64)) // 2


def locus_codes(genome: Genome, chrom, start, end, *, window: int = 1000) -> np.ndarray:
    """Base codes ``(n, window)`` of windows centred on each locus ``chrom:start-end``."""
    return genome.windows(chrom, locus_centers(start, end), window)
