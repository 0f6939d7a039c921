"""Predict accessibility for the samples of an AnnData or for new expression only."""

from __future__ import annotations

__all__ = ["predict"]


def predict(*args, **kwargs):
    raise NotImplementedError("predict is being implemented")
