"""Real blood-cell ATAC peaks + RNA (hg19 chr20) as AnnData/MuData."""

from __future__ import annotations

__all__ = ["heme"]


def heme(*args, **kwargs):
    raise NotImplementedError("heme is being implemented")
