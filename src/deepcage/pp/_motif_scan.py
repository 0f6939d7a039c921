"""Exact best-window motif scan: 2-mer lookup tables on CPU (numba), a convolution on GPU (torch).

Both compute, for every sequence and every motif, the best log-odds score over all windows where the motif
fits entirely, on both strands (the reverse complement of a motif is scanned as an extra motif). ``N``
weighs 0. There is no threshold and no pruning: every window is scored, so the result does not depend on the
sequence composition.

CPU: each motif's log-odds matrix becomes one table per block of two positions with the summed score of each
of the 25 two-letter codes (A, C, G, T, N). Motifs are sorted by width so that the motifs still active at
block ``b`` are a prefix of the table row: for every window the kernel adds one contiguous table row per
block into an accumulator over all motifs (SIMD over motifs), then takes a running maximum.

GPU: the one-hot sequence is convolved with the log-odds matrices of each width (``torch.conv1d``, float32,
TF32 off) and maximised over positions, in batches sized to the device's free memory.

Precision: both run in float32. The CPU scan's error against an exact (float64) scan is at most
``ceil(w / 2) * 2**-24 * A`` per motif, with ``w`` its width and ``A = sum_j max_b |log_odds[j, b]|``
(below 1e-5 for HOCOMOCO motifs); the convolution's at most ``4 * w * 2**-24 * A``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

import numba
import numpy as np
from tqdm.auto import tqdm

__all__ = ["max_per_tf", "resolve_scan_device", "scan_max", "scan_tolerance", "tf_scores"]

_COMPLEMENT = np.array([3, 2, 1, 0])
_Q = 2  # bases per table lookup: 5**2 = 25 codes (A, C, G, T, N for each base)
_K = 5**_Q
_UNIT = 2.0**-24  # float32 unit roundoff


# ----------------------------------------------------------------------------------------------- motifs
class _Motifs:
    """Both strands of a motif set, prepared once for both scans (cached by content)."""

    def __init__(self, log_odds: Sequence[np.ndarray]):
        fwd = [np.asarray(lo, dtype=np.float64) for lo in log_odds]
        for i, lo in enumerate(fwd):
            if lo.ndim != 2 or lo.shape[1] != 4 or lo.shape[0] == 0:
                raise ValueError(f"Motif {i}: log-odds must be a (width, 4) matrix, got shape {lo.shape}.")
            if not np.isfinite(lo).all():
                raise ValueError(
                    f"Motif {i}: its log-odds matrix has non-finite values (a probability of 0 without "
                    "pseudocount?). Use dc.io.Motif.log_odds, which adds a pseudocount."
                )
        self.n = len(fwd)
        # reverse complement: reversed positions, complemented bases
        self.both = fwd + [lo[::-1][:, _COMPLEMENT] for lo in fwd]
        self.widths = np.array([lo.shape[0] for lo in self.both], dtype=np.int64)
        self._tables = None

    @property
    def tables(self):
        """Per block ``b`` of two positions, the score of each 2-mer code for every strand-motif (widest first)."""
        if self._tables is None:
            order = np.argsort(-self.widths, kind="stable")
            n_blocks = -(-self.widths[order] // _Q)
            B = int(n_blocks[0])
            padded = np.zeros((len(order), B * _Q, 5))  # N and positions past a motif's end weigh 0
            for j, m in enumerate(order):
                padded[j, : self.widths[m], :4] = self.both[m]
            codes = np.arange(_K)
            first, second = codes % 5, codes // 5  # code = base[p] + 5 * base[p + 1]
            tab = padded[:, 0::2, :][:, :, first] + padded[:, 1::2, :][:, :, second]  # (M, B, 25)
            tables = np.ascontiguousarray(tab.transpose(1, 2, 0), dtype=np.float32)
            n_active = np.array([(n_blocks > b).sum() for b in range(B)], dtype=np.int64)
            self._tables = (order, tables, n_active, self.widths[order].copy())
        return self._tables

    def tolerance(self, conv: bool = False) -> np.ndarray:
        """Bound on the float32 error of each strand-motif's score (see the module docstring)."""
        mag = np.array([np.abs(lo).max(axis=1).sum() for lo in self.both])
        terms = 4 * self.widths if conv else -(-self.widths // _Q)
        return terms * _UNIT * mag


_CACHE: OrderedDict[str, _Motifs] = OrderedDict()


def _prepared(log_odds: Sequence[np.ndarray]) -> _Motifs:
    """The prepared motifs, reused across calls with the same matrices (streamed prediction scans per chunk)."""
    h = hashlib.sha1()
    for lo in log_odds:
        a = np.ascontiguousarray(lo, dtype=np.float64)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    key = h.hexdigest()
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    motifs = _Motifs(log_odds)
    _CACHE[key] = motifs
    if len(_CACHE) > 4:
        _CACHE.popitem(last=False)
    return motifs


def scan_tolerance(log_odds: Sequence[np.ndarray], *, conv: bool = False) -> np.ndarray:
    """Largest float32 error of :func:`scan_max` per motif against an exact scan (CPU, or ``conv`` on GPU)."""
    m = _prepared(log_odds)
    tol = m.tolerance(conv)
    return np.maximum(tol[: m.n], tol[m.n :])


# ----------------------------------------------------------------------------------------------- CPU kernel
@numba.njit(boundscheck=False, inline="always")
def _add1(acc, r0):
    for m in range(acc.shape[0]):
        acc[m] += r0[m]


@numba.njit(boundscheck=False, inline="always")
def _add2(acc, r0, r1):
    for m in range(acc.shape[0]):
        acc[m] += r0[m] + r1[m]


@numba.njit(boundscheck=False, inline="always")
def _add3(acc, r0, r1, r2):
    for m in range(acc.shape[0]):
        acc[m] += (r0[m] + r1[m]) + r2[m]


@numba.njit(boundscheck=False, cache=True)
def _best_windows(seq, kc, tables, n_active, widths, acc, best):
    """``best[m]``: the best score of strand-motif ``m`` (widest first) over the windows of ``seq``."""
    length = seq.shape[0]
    n_blocks, _, n_motifs = tables.shape
    for p in range(length):  # 2-mer codes; past the end reads N
        c0 = seq[p]
        c1 = seq[p + 1] if p + 1 < length else 4
        kc[p] = c0 + 5 * c1
    for p in range(length, kc.shape[0]):
        kc[p] = _K - 1
    for m in range(n_motifs):
        best[m] = -np.inf
    first = 0  # motifs first.. fit in the window at p (widths sorted descending)
    for p in range(length):
        while first < n_motifs and widths[first] > length - p:
            first += 1
        if first == n_motifs:
            break
        row = tables[0, kc[p]]
        for m in range(n_motifs):
            acc[m] = row[m]
        # four blocks per pass over the accumulator: a quarter of its loads and stores
        b = 1
        while b + 3 < n_blocks:
            r0 = tables[b, kc[p + _Q * b]]
            r1 = tables[b + 1, kc[p + _Q * (b + 1)]]
            r2 = tables[b + 2, kc[p + _Q * (b + 2)]]
            r3 = tables[b + 3, kc[p + _Q * (b + 3)]]
            n1, n2, n3, n4 = n_active[b], n_active[b + 1], n_active[b + 2], n_active[b + 3]
            for m in range(n4):
                acc[m] += (r0[m] + r1[m]) + (r2[m] + r3[m])
            _add3(acc[n4:n3], r0[n4:n3], r1[n4:n3], r2[n4:n3])
            _add2(acc[n3:n2], r0[n3:n2], r1[n3:n2])
            _add1(acc[n2:n1], r0[n2:n1])
            b += 4
        while b < n_blocks:
            _add1(acc[: n_active[b]], tables[b, kc[p + _Q * b]])
            b += 1
        # slices starting at 0 let LLVM vectorise the loop
        tail_best = best[first:]
        tail_acc = acc[first:]
        for m in range(tail_best.shape[0]):
            tail_best[m] = max(tail_best[m], tail_acc[m])


@numba.njit(parallel=True, cache=True)
def _scan_kernel(codes, tables, n_active, widths, out):
    n, length = codes.shape
    n_blocks, _, n_motifs = tables.shape
    for i in numba.prange(n):
        kc = np.empty(length + _Q * n_blocks, dtype=np.int32)
        acc = np.empty(n_motifs, dtype=np.float32)
        _best_windows(codes[i], kc, tables, n_active, widths, acc, out[i])


def _scan_cpu(codes, motifs: _Motifs, batch_size: int, progress: bool) -> np.ndarray:
    order, tables, n_active, widths = motifs.tables
    out = np.empty((len(codes), motifs.n), dtype=np.float32)
    part = np.empty((min(batch_size, len(codes)), len(order)), dtype=np.float32)
    strands = np.empty_like(part)
    for lo in tqdm(range(0, len(codes), batch_size), desc="motif scan", disable=not progress, unit="batch"):
        chunk = codes[lo : lo + batch_size]
        _scan_kernel(chunk, tables, n_active, widths, part[: len(chunk)])
        strands[: len(chunk), order] = part[: len(chunk)]
        np.maximum(
            strands[: len(chunk), : motifs.n],
            strands[: len(chunk), motifs.n :],
            out=out[lo : lo + len(chunk)],
        )
    return out


# ----------------------------------------------------------------------------------------------- torch
class _ieee_float32:
    """Within the block, float32 convolutions and matmuls on CUDA use full float32 (no TF32)."""

    def __enter__(self):
        import torch

        self._saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False

    def __exit__(self, *exc):
        import torch

        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = self._saved


def _torch_batch(motifs: _Motifs, length: int, device) -> int:
    """Sequences per batch so that the one-hot input and the largest convolution output use <= half the free
    device memory."""
    import torch

    if device.type != "cuda":
        return 256
    free, _ = torch.cuda.mem_get_info(device)
    widths, counts = np.unique(motifs.widths, return_counts=True)
    # codes (uint8 and int64), the one-hot and its transposed copy (float32), the largest convolution output
    per_seq = 48 * length + 4 * int((counts * (length - widths + 1)).max())
    return int(max(1, min(65536, free // 2 // per_seq)))


def _scan_torch(codes, motifs: _Motifs, device, batch_size: int | None, progress: bool) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    device = torch.device(device)
    length = codes.shape[1]
    groups = []  # one convolution per motif width: no padding, no masking
    for w in np.unique(motifs.widths):
        cols = np.flatnonzero(motifs.widths == w)
        weight = np.stack([motifs.both[c].T for c in cols]).astype(np.float32)  # (m, 4, w)
        groups.append((torch.from_numpy(cols).to(device), torch.from_numpy(weight).to(device)))
    eye = torch.zeros(5, 4, device=device)
    eye[:4] = torch.eye(4, device=device)  # N (code 4) -> all-zero column
    batch = batch_size or _torch_batch(motifs, length, device)
    out = np.empty((len(codes), motifs.n), dtype=np.float32)
    with torch.inference_mode(), _ieee_float32():
        for lo in tqdm(range(0, len(codes), batch), desc="motif scan", disable=not progress, unit="batch"):
            chunk = torch.from_numpy(np.ascontiguousarray(codes[lo : lo + batch])).to(device)
            x = eye[chunk.long()].transpose(1, 2).contiguous()  # (n, 4, L)
            best = torch.empty(len(chunk), 2 * motifs.n, device=device)
            for cols, weight in groups:
                best[:, cols] = F.conv1d(x, weight).amax(dim=2)
            out[lo : lo + len(chunk)] = torch.maximum(best[:, : motifs.n], best[:, motifs.n :]).cpu().numpy()
    return out


def resolve_scan_device(device=None):
    """``'cpu'`` for the numba scan, or a CUDA ``torch.device`` for the convolution.

    ``None`` / ``'auto'``: the first CUDA device when PyTorch sees one, else the CPU.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        import torch

        return torch.device("cuda") if torch.cuda.is_available() else "cpu"
    if isinstance(device, str) and device == "cpu":
        return "cpu"
    import torch

    dev = torch.device(device)
    if dev.type == "cpu":
        return "cpu"
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but PyTorch sees no CUDA device; use device='cpu' or 'auto'.")
    return dev


# ----------------------------------------------------------------------------------------------- API
def scan_max(
    codes: np.ndarray,
    log_odds: Sequence[np.ndarray],
    *,
    thresholds: Sequence[float] | np.ndarray | None = None,
    device=None,
    batch_size: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Best log-odds score of each motif in each sequence, over positions and both strands.

    Equivalent to sliding every ``(width, 4)`` log-odds matrix over the sequence and its reverse complement and
    taking the maximum over the positions where the motif fits entirely; ``N`` contributes 0. Every window is
    scored (no pruning). On the CPU the scan uses 2-mer lookup tables (numba, parallel over sequences); on a
    CUDA device it is a float32 convolution of the one-hot sequences with the log-odds matrices (torch).

    Parameters
    ----------
    codes
        ``(n, L)`` uint8 base codes (``A,C,G,T,N = 0..4``), e.g. from :meth:`deepcage.Genome.windows`.
    log_odds
        One ``(width, 4)`` matrix per motif (:meth:`deepcage.io.Motif.log_odds`).
    thresholds
        Optional score per motif: sequences whose best match stays below it get exactly that value.
    device
        ``'auto'`` / ``None`` (default): a CUDA GPU when PyTorch sees one, else the CPU; or ``'cpu'``,
        ``'cuda'``, ``'cuda:1'``, a :class:`torch.device`.
    batch_size
        Sequences per call (bounds memory). Default: 512 on the CPU; on a GPU, sized to half its free memory.
    progress
        Show a progress bar.

    Returns
    -------
    ``(n, n_motifs)`` float32 array. Its difference to an exact (float64) scan is at most
    :func:`scan_tolerance` per motif (float32 rounding, below 1e-5 for HOCOMOCO motifs).
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must be (n, L), got shape {codes.shape}.")
    if codes.dtype != np.uint8 or (codes.size and codes.max() > 4):
        codes = np.clip(codes, 0, 4).astype(np.uint8)  # anything that is not A/C/G/T reads as N
    codes = np.ascontiguousarray(codes)
    if not len(log_odds):
        raise ValueError("No motifs to scan.")
    motifs = _prepared(log_odds)
    if motifs.widths.max() > codes.shape[1]:
        raise ValueError(
            f"A motif of width {motifs.widths.max()} is longer than the sequences ({codes.shape[1]} bp)."
        )
    cuts = None
    if thresholds is not None:
        cuts = np.asarray(thresholds, dtype=np.float64)
        if cuts.shape != (motifs.n,):
            raise ValueError(
                f"thresholds must have one value per motif ({motifs.n}), got shape {cuts.shape}."
            )
    if len(codes) == 0:
        return np.empty((0, motifs.n), dtype=np.float32)
    dev = resolve_scan_device(device)
    if dev == "cpu":
        out = _scan_cpu(codes, motifs, batch_size or 512, progress)
    else:
        out = _scan_torch(codes, motifs, dev, batch_size, progress)
    if cuts is not None:
        np.maximum(out, cuts.astype(np.float32)[None, :], out=out)
    return out


def max_per_tf(per_motif: np.ndarray, tf_of: Sequence[str], tfs: Sequence[str]) -> np.ndarray:
    """``(n, len(tfs))`` float32: for each TF, the maximum over the columns of its motifs (``tf_of``)."""
    col = {t: i for i, t in enumerate(tfs)}
    out = np.full((per_motif.shape[0], len(tfs)), -np.inf, dtype=np.float32)
    seen = np.zeros(len(tfs), dtype=bool)
    for j, tf in enumerate(tf_of):
        i = col.get(tf)
        if i is not None:
            np.maximum(out[:, i], per_motif[:, j], out=out[:, i])
            seen[i] = True
    if not seen.all():
        missing = [t for t, s in zip(tfs, seen, strict=True) if not s]
        raise ValueError(f"{len(missing)} TF(s) have no motif: {missing[:20]}.")
    return out


def tf_scores(
    codes: np.ndarray,
    log_odds: Sequence[np.ndarray],
    tf_of: Sequence[str],
    tfs: Sequence[str],
    *,
    cuts: np.ndarray | None = None,
    device=None,
    batch_size: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Motif scores per TF, as the model sees them: ``(n, len(tfs))`` float32.

    :func:`scan_max` of each motif (``tf_of[i]`` is the TF of motif ``i``), 0 where a motif's best site does not
    exceed its cut (``cuts``, the thresholded variant), then the maximum over each TF's motifs. The one path
    behind :func:`deepcage.pp.motif_scores` and the scans of :func:`deepcage.tl.predict` and
    :func:`deepcage.tl.variant_effect`.
    """
    per_motif = scan_max(
        codes, log_odds, thresholds=cuts, device=device, batch_size=batch_size, progress=progress
    )
    if cuts is not None:
        per_motif[per_motif <= np.asarray(cuts, dtype=np.float32)[None, :]] = 0.0
    return max_per_tf(per_motif, tf_of, tfs)
