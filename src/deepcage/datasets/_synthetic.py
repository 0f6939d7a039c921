"""Seeded synthetic dataset with planted TF -> motif rules."""

from __future__ import annotations

__all__ = ["synthetic"]


def synthetic(*args, **kwargs):
    raise NotImplementedError("synthetic is being implemented")
