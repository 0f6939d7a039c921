"""Peak files -> binary accessibility per bin (the replicate rule)."""

from __future__ import annotations

__all__ = ["binarize_peaks"]


def binarize_peaks(*args, **kwargs):
    raise NotImplementedError("binarize_peaks is being implemented")
