"""Base codes of many fixed-width windows, held as the genome segments they cover plus one offset per window.

Training reads a ``width``-bp window around every locus. Held as an ``(n, width)`` matrix, neighbouring windows
repeat the same bases: 200-bp bins with 1-kb windows hold every base five times (1.75 GB for the paper's
1.75 M loci, 15 GB for a genome tiled in 200-bp bins). Held once per covered segment, they cost what they
cover (at most ``n x width`` bytes, plus 8 bytes per locus). Rows are gathered from a strided view of the
segments, on the CPU (numpy) or on the device (torch ``unfold``), and equal the matrix row for row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["WindowCodes", "window_codes"]

_N = 4  # the code of N: padding beyond a contig end


class WindowCodes:
    """``(n, width)`` uint8 base codes as one flat array of segments and the start of each window in it.

    Indexing with locus positions (an int, a slice or an integer array) returns the dense rows, as indexing the
    matrix would; ``numpy.asarray`` gives the whole matrix.
    """

    dtype = np.dtype(np.uint8)
    ndim = 2

    def __init__(self, flat: np.ndarray, offsets: np.ndarray, width: int):
        self.flat = np.asarray(flat, dtype=np.uint8)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.width = int(width)
        if len(self.offsets) and (self.offsets.min() < 0 or self.offsets.max() + self.width > len(self.flat)):
            raise ValueError("Window offsets fall outside the stored segments.")
        self._view = (
            np.lib.stride_tricks.sliding_window_view(self.flat, self.width) if len(self.flat) else None
        )

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.offsets), self.width

    @property
    def nbytes(self) -> int:
        return self.flat.nbytes + self.offsets.nbytes

    def __len__(self) -> int:
        return len(self.offsets)

    def __getitem__(self, idx) -> np.ndarray:
        starts = self.offsets[idx]
        if self._view is None:
            return np.empty((*np.shape(starts), self.width), dtype=np.uint8)
        rows = self._view[starts]  # fancy indexing copies; a single row is a view of the segments
        return rows.copy() if np.ndim(starts) == 0 else rows

    def __array__(self, dtype=None, copy=None):
        out = self[np.arange(len(self))]
        return out if dtype is None else out.astype(dtype, copy=False)

    def __getstate__(self) -> dict:
        return {"flat": self.flat, "offsets": self.offsets, "width": self.width}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["flat"], state["offsets"], state["width"])

    def to(self, device) -> DeviceWindowCodes:
        """The same rows, gathered on ``device`` (a torch device)."""
        return DeviceWindowCodes(self, device)


class DeviceWindowCodes:
    """:class:`WindowCodes` on a torch device: indexing with a locus index tensor gathers the rows there."""

    def __init__(self, codes: WindowCodes, device):
        import torch

        flat = torch.from_numpy(codes.flat).to(device)
        self.offsets = torch.from_numpy(codes.offsets).to(device)
        self._view = flat.unfold(0, codes.width, 1) if len(flat) else flat.reshape(0, codes.width)
        self.device = flat.device

    def __getitem__(self, idx):
        return self._view[self.offsets[idx]]


def window_codes(genome, chrom, centers, width: int) -> WindowCodes:
    """Base codes of the ``width``-bp windows centred on ``centers`` of contigs ``chrom`` (N beyond contig ends).

    Row for row equal to :meth:`deepcage.Genome.windows`; overlapping and touching windows share their bases.
    Each contig is decoded once.
    """
    centers = np.asarray(centers, dtype=np.int64)
    chrom_idx, names = pd.factorize(np.asarray(chrom), sort=False)
    first = centers - width // 2
    offsets = np.empty(len(centers), dtype=np.int64)
    segments = []  # per contig: (name, segment starts, segment ends)
    total = 0
    for k, name in enumerate(names):
        rows = np.flatnonzero(chrom_idx == k)
        order = np.argsort(first[rows], kind="stable")
        starts = first[rows][order]
        # a new segment wherever a window starts past the end of the one before (touching windows share one)
        new = np.empty(len(starts), dtype=bool)
        new[0] = True
        new[1:] = starts[1:] > starts[:-1] + width
        heads = np.flatnonzero(new)
        seg_start = starts[heads]
        seg_end = np.append(starts[heads[1:] - 1], starts[-1]) + width
        seg_base = total + np.concatenate([[0], np.cumsum(seg_end - seg_start)[:-1]])
        which = np.cumsum(new) - 1
        offsets[rows[order]] = seg_base[which] + (starts - seg_start[which])
        segments.append((str(name), seg_start, seg_end, seg_base))
        total += int((seg_end - seg_start).sum())
    flat = np.full(total, _N, dtype=np.uint8)
    for name, seg_start, seg_end, seg_base in segments:
        contig = genome.codes(name, cache=False)
        lo = np.clip(seg_start, 0, len(contig))
        hi = np.clip(seg_end, 0, len(contig))
        for s, a, b, base in zip(
            seg_start.tolist(), lo.tolist(), hi.tolist(), seg_base.tolist(), strict=True
        ):
            if b > a:
                flat[base + a - s : base + b - s] = contig[a:b]
        del contig
    return WindowCodes(flat, offsets, width)
