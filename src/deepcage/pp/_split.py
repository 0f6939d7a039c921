"""Sample and locus splits: cell-type hold-out, k-fold, known/novel loci, held-out chromosomes."""

from __future__ import annotations

__all__ = ["split_loci", "split_samples"]


def split_samples(*args, **kwargs):
    raise NotImplementedError("split_samples is being implemented")


def split_loci(*args, **kwargs):
    raise NotImplementedError("split_loci is being implemented")
