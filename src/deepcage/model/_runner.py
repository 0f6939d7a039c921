"""The runner: Trainer, checkpoints, early stopping, resume, and the global state a run must leave as it found.

After scvi-tools' ``TrainRunner``: given a training plan and a data module, build the Trainer from the
runtime options, run it, restore the best weights and return the per-epoch history.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from .._runtime import lightning_progress_bar, lightning_verbose, quiet_lightning, torch_threads

__all__ = ["Runtime", "TrainRunner", "on_gpu"]


def on_gpu(accelerator) -> bool:
    """Whether ``accelerator`` resolves to a CUDA device on this machine."""
    return str(accelerator) in ("auto", "gpu", "cuda") and torch.cuda.is_available()


@dataclass
class Runtime:
    """Where and how a run executes: options that do not change what is learnt (on CPU, bit for bit).

    ``trainer_kwargs`` are other :class:`lightning.pytorch.Trainer` arguments (as scvi-tools'
    ``trainer_kwargs``). ``progress``: Lightning's progress bar, on stderr (``None``: per
    ``dc.settings.verbosity``).
    """

    accelerator: str = "auto"
    devices: int | str = "auto"
    strategy: str = "auto"
    precision: str | None = None
    num_workers: int = 0
    device_cache: bool | str = "auto"
    checkpoint_dir: str | os.PathLike | None = None
    resume_from: str | os.PathLike | None = None
    progress: bool | None = None
    trainer_kwargs: dict = field(default_factory=dict)

    @property
    def on_gpu(self) -> bool:
        return on_gpu(self.accelerator)

    def resolved_precision(self) -> str:
        if self.precision is not None:
            return str(self.precision)
        return "16-mixed" if self.on_gpu else "32-true"

    def cache_on_device(self, n_bytes: int) -> bool:
        """Whether the training arrays (``n_bytes``) are kept on the accelerator."""
        if self.device_cache != "auto":
            return bool(self.device_cache)
        if not self.on_gpu:
            return False
        free, _ = torch.cuda.mem_get_info()
        return n_bytes < 0.25 * free


@dataclass
class TrainResult:
    best_epoch: int
    history: pd.DataFrame


class TrainRunner:
    """Train ``plan`` on ``datamodule`` with Lightning and load the best weights back into ``plan.net``.

    Parameters
    ----------
    plan
        The LightningModule (:class:`deepcage.model._module.DeepCAGEModule`).
    datamodule
        The data (:class:`deepcage.model._data.PairDataModule`).
    runtime
        Devices, precision, checkpoints, resume, progress bar (on stderr), other Trainer arguments. Lightning's
        console lines and its model summary show from ``dc.settings.verbosity = 'info'`` on.
    max_epochs, monitor, mode, patience
        Epochs, and early stopping on ``monitor`` (``mode`` ``'min'`` / ``'max'``; no early stopping without
        validation loci or with ``patience=None``). The best epoch's weights are restored.
    deterministic
        Deterministic algorithms (bit-identical CPU runs); restored to its previous setting after the run.
    """

    def __init__(
        self,
        plan,
        datamodule,
        runtime: Runtime,
        *,
        max_epochs: int,
        monitor: str,
        mode: str,
        patience: int | None,
        deterministic: bool,
    ):
        self.plan, self.datamodule, self.runtime = plan, datamodule, runtime
        self.max_epochs, self.monitor, self.mode, self.patience = max_epochs, monitor, mode, patience
        self.deterministic = deterministic

    def _callbacks(self, ckpt_dir: Path) -> tuple[list, object]:
        from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

        from ._callbacks import ReleaseFreedMemory

        best = ModelCheckpoint(
            dirpath=ckpt_dir, filename="best-{epoch}", monitor=self.monitor, mode=self.mode, save_top_k=1
        )
        # a second, unmonitored checkpoint keeps the latest epoch as last.ckpt (for resume_from and the history)
        last = ModelCheckpoint(
            dirpath=ckpt_dir, filename="latest-{epoch}", monitor=None, save_top_k=1, save_last=True
        )
        callbacks = [best, last, ReleaseFreedMemory()]
        if self.datamodule.has_val and self.patience is not None:
            callbacks.append(EarlyStopping(monitor=self.monitor, mode=self.mode, patience=self.patience))
        return callbacks, best

    def _trainer(self, ckpt_dir: Path, callbacks: list):
        import lightning.pytorch as pl

        rt = self.runtime
        extra = dict(rt.trainer_kwargs)
        user_callbacks = list(extra.pop("callbacks", []))
        bar = lightning_progress_bar(rt.progress, user_callbacks)
        args = {
            "max_epochs": self.max_epochs,
            "accelerator": rt.accelerator,
            "devices": rt.devices,
            "strategy": rt.strategy,
            "precision": rt.resolved_precision(),
            "callbacks": callbacks + user_callbacks + ([bar] if bar is not None else []),
            "logger": False,
            # Lightning's own bar writes to stdout: deepcage's (bar) writes to stderr
            "enable_progress_bar": bar is not None
            or any(isinstance(c, pl.callbacks.ProgressBar) for c in user_callbacks),
            "enable_model_summary": lightning_verbose(),
            "num_sanity_val_steps": 0,
            "deterministic": self.deterministic,
            "default_root_dir": str(ckpt_dir),
        }
        args.update(extra)
        return pl.Trainer(**args)

    def __call__(self) -> TrainResult:
        rt = self.runtime
        tmp_dir = tempfile.mkdtemp(prefix="deepcage-ckpt-") if rt.checkpoint_dir is None else None
        ckpt_dir = Path(tmp_dir or rt.checkpoint_dir)
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        callbacks, best_cb = self._callbacks(ckpt_dir)
        with self._global_state():
            try:
                trainer = self._trainer(ckpt_dir, callbacks)
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
                    warnings.filterwarnings("ignore", message=".*is smaller than the logging interval.*")
                    trainer.fit(self.plan, datamodule=self.datamodule, ckpt_path=rt.resume_from)
                return self._restore_best(best_cb, ckpt_dir)
            finally:
                # the Trainer, the plan and the data module refer to each other: without this the training arrays
                # stay alive until the next garbage collection
                self.plan._trainer = None
                self.datamodule.trainer = None
                if tmp_dir is not None:
                    shutil.rmtree(tmp_dir, ignore_errors=True)

    @contextlib.contextmanager
    def _global_state(self):
        """Torch threads for this machine's load, Lightning's lines once; sharing and determinism restored."""
        was_deterministic = torch.are_deterministic_algorithms_enabled()
        sharing = torch.multiprocessing.get_sharing_strategy()
        if "spawn" in str(self.runtime.strategy):
            # spawned workers receive the data module's arrays through shared memory; file descriptors fail in
            # some sandboxes/containers ("unable to resize file"), named files in /dev/shm work everywhere
            torch.multiprocessing.set_sharing_strategy("file_system")
        try:
            with torch_threads(), quiet_lightning():
                yield
        finally:
            torch.use_deterministic_algorithms(was_deterministic)
            torch.multiprocessing.set_sharing_strategy(sharing)

    def _restore_best(self, best_cb, ckpt_dir: Path) -> TrainResult:
        best = best_cb.best_model_path or ""
        last = ckpt_dir / "last.ckpt"
        if not best or not Path(best).is_file():
            best = str(last)
        state = torch.load(best, map_location="cpu", weights_only=False)
        net_state = {k[4:]: v for k, v in state["state_dict"].items() if k.startswith("net.")}
        self.plan.net.load_state_dict(net_state)
        history = state.get("deepcage_history", [])
        if last.is_file():
            history = torch.load(last, map_location="cpu", weights_only=False).get(
                "deepcage_history", history
            )
        hist = pd.DataFrame(history)
        if len(hist):
            hist = hist.drop_duplicates("epoch", keep="last").set_index("epoch")
        return TrainResult(best_epoch=int(state.get("epoch", -1)), history=hist)
