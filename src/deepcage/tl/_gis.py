"""Gene importance score: mean |d prediction / d TF expression| over loci near a centre."""

from __future__ import annotations

__all__ = ["gis"]


def gis(*args, **kwargs):
    raise NotImplementedError("gis is being implemented")
