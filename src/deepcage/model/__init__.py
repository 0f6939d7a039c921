"""The DeepCAGE network (PyTorch), its training module (Lightning) and the user-facing model object."""

from ._model import MAX_STORED_LOCI_BYTES, DeepCAGE
from ._network import PRESETS, DeepCAGENet, codes_to_onehot

__all__ = ["MAX_STORED_LOCI_BYTES", "PRESETS", "DeepCAGE", "DeepCAGENet", "codes_to_onehot"]
