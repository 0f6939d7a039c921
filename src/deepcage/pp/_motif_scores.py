"""Both-strand log-odds motif scan of each locus window, max per TF."""

from __future__ import annotations

__all__ = ["motif_scores", "scan_max"]


def motif_scores(*args, **kwargs):
    raise NotImplementedError("motif_scores is being implemented")


def scan_max(*args, **kwargs):
    raise NotImplementedError("scan_max is being implemented")
