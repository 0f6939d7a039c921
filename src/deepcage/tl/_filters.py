"""First-layer filters -> PWMs, information content, influence, TomTom matches."""

from __future__ import annotations

__all__ = ["filter_motifs"]


def filter_motifs(*args, **kwargs):
    raise NotImplementedError("filter_motifs is being implemented")
