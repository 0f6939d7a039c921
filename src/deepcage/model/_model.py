"""The user-facing DeepCAGE model object: network + TF list + normalisation reference + genome, save/load."""

from __future__ import annotations

__all__ = ["DeepCAGE"]


class DeepCAGE:
    """Placeholder until the model lands."""

    def __init__(self, *args, **kwargs):
        raise NotImplementedError("DeepCAGE is being implemented")
