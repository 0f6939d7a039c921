"""Variant effect: prediction(alt) - prediction(ref) per sample."""

from __future__ import annotations

__all__ = ["variant_effect"]


def variant_effect(*args, **kwargs):
    raise NotImplementedError("variant_effect is being implemented")
