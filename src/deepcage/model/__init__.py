"""The DeepCAGE network (PyTorch), its training module (Lightning) and the user-facing model object."""

from ._model import DeepCAGE

__all__ = ["DeepCAGE"]
