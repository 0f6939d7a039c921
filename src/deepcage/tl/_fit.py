"""Train a DeepCAGE model on an AnnData."""

from __future__ import annotations

__all__ = ["fit"]


def fit(*args, **kwargs):
    raise NotImplementedError("fit is being implemented")
