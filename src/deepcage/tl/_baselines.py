"""Baselines evaluated on the same split as the model."""

from __future__ import annotations

__all__ = ["baselines", "compare"]


def baselines(*args, **kwargs):
    raise NotImplementedError("baselines is being implemented")


def compare(*args, **kwargs):
    raise NotImplementedError("compare is being implemented")
