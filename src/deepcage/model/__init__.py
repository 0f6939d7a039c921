"""The DeepCAGE network (PyTorch), its training configuration and recipes, and the user-facing model object."""

from ._config import RECIPES, TrainConfig
from ._model import MAX_STORED_LOCI_BYTES, DeepCAGE
from ._network import PRESETS, DeepCAGENet, codes_to_onehot

__all__ = [
    "MAX_STORED_LOCI_BYTES",
    "PRESETS",
    "RECIPES",
    "DeepCAGE",
    "DeepCAGENet",
    "TrainConfig",
    "codes_to_onehot",
]
