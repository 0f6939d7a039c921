"""Read counts per bin and depth normalisation."""

from __future__ import annotations

__all__ = ["count_reads", "normalize_depth"]


def count_reads(*args, **kwargs):
    raise NotImplementedError("count_reads is being implemented")


def normalize_depth(*args, **kwargs):
    raise NotImplementedError("normalize_depth is being implemented")
