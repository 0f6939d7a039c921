"""Pseudobulk: cells x genes -> samples x genes by summing counts per group."""

from __future__ import annotations

__all__ = ["pseudobulk"]


def pseudobulk(*args, **kwargs):
    raise NotImplementedError("pseudobulk is being implemented")
