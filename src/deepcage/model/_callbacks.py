"""Callbacks the runner adds to every training run."""

from __future__ import annotations

import lightning.pytorch as pl

from .._runtime import release_freed_memory

__all__ = ["ReleaseFreedMemory"]


class ReleaseFreedMemory(pl.Callback):
    """Hands the heap freed by an epoch's training steps back to the OS before its validation (see
    :func:`~deepcage._runtime.release_freed_memory`): validation and checkpoints then add to what is held, not
    to what the steps left behind. At module level so that DDP's spawned processes can unpickle it."""

    def on_validation_start(self, trainer, pl_module) -> None:
        release_freed_memory()
