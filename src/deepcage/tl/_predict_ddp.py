"""Prediction split over several processes (GPUs, nodes) with Lightning: chunks of loci per rank, merged in order.

Every process (rank) takes the chunks ``rank, rank + world_size, ...`` of the loci (Lightning's sampler for
prediction, without repeats), reads their sequences, scans their motifs on its own device and runs the network,
and writes the predictions into one shared float32 file (samples x loci) at the chunks' own columns. Rank 0
then hands the file, chunk by chunk in locus order, to the same writers as a single-process run (in-memory
matrix, ``.h5ad``, bigWig), so the output does not depend on the number of processes.

A layer around ``_predict_run`` (which imports it only for ``devices=`` / ``num_nodes=``); it reads the loci
through ``_predict_inputs`` and imports no other prediction module.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch

from ._predict_inputs import _Loci

__all__ = ["predict_distributed"]  # imported only for devices= / num_nodes= (Lightning), by _predict_run


class _Parts:
    """The shared samples x loci float32 file the ranks write into."""

    def __init__(self, path: str, shape: tuple[int, int]):
        self.path, self.shape = path, shape

    def create(self) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        np.memmap(self.path, dtype=np.float32, mode="w+", shape=self.shape).flush()

    def open(self, mode: str = "r+") -> np.memmap:
        return np.memmap(self.path, dtype=np.float32, mode=mode, shape=self.shape)


class _PredictModule(pl.LightningModule):
    """Predicts the chunk whose index is the batch; the network is a submodule, so it is on the rank's device."""

    def __init__(
        self, model, spec: dict, expr: np.ndarray, parts: _Parts, *, chunk_size: int, batch_size: int, samples
    ):
        super().__init__()
        self.net = model.network
        self.deepcage = model
        self.spec, self.expr, self.parts = spec, expr, parts
        self.chunk_size, self.batch_size = chunk_size, batch_size
        self.samples = None if samples is None else [str(x) for x in samples]
        self._source = None

    def setup(self, stage: str) -> None:
        # rank 0 creates the file; its path reaches every rank (each process may have drawn its own name)
        if self.trainer.global_rank == 0:
            self.parts.create()
        self.parts = self.trainer.strategy.broadcast(self.parts, src=0)

    def _loci(self):
        if self._source is None:
            spec = self.spec
            self._source = _Loci(self.deepcage, spec["table"], spec["motif"], spec["genome"], None)
        return self._source

    def predict_step(self, batch, batch_idx):
        i = int(torch.as_tensor(batch).reshape(-1)[0])
        source = self._loci()
        lo, hi = i * self.chunk_size, min((i + 1) * self.chunk_size, len(source))
        # the motif scan runs on this rank's GPU when it has one
        pred, _ = source.chunk(
            lo, hi, self.expr, batch_size=self.batch_size, samples=self.samples, device=self.device
        )
        out = self.parts.open()
        out[:, lo:hi] = pred.T
        out.flush()
        del out


class _Chunks:
    """Dataset of chunk indices (a plain class, so that spawned processes can unpickle it)."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


def predict_distributed(
    model,
    source,
    expr: np.ndarray,
    *,
    out: Path | None,
    chunk_size: int,
    batch_size: int,
    progress: bool,
    samples=None,
    accelerator,
    devices,
    strategy,
    num_nodes: int,
) -> np.memmap | None:
    """Run the prediction on ``devices`` x ``num_nodes`` processes; return the merged samples x loci array on
    rank 0 and None on the other ranks."""
    from .._runtime import lightning_progress_bar, quiet_lightning

    n_loci, n_samples = len(source), expr.shape[0]
    if num_nodes > 1 and out is None:
        raise ValueError(
            "Prediction on several nodes writes its parts next to the output: pass out= (an .h5ad file or a "
            "bigWig folder on a filesystem that every node sees)."
        )
    # every rank must use the same file: next to the output (shared between nodes), else in the temp folder
    # (one node); rank 0's name wins (setup broadcasts it)
    tag = f"deepcage-predict-{uuid.uuid4().hex[:12]}.f32"
    folder = Path(out).absolute().parent if out is not None else Path(tempfile.gettempdir())
    parts = _Parts(str(folder / f".{tag}"), (n_samples, n_loci))
    spec = {"table": source.table, "motif": source.motif, "genome": None}
    if source.stored is None or model.loci_codes is None:
        if model.network.use_sequence or source.motif is None:
            genome = source.genome  # resolved here, so that a missing FASTA fails before any process starts
            spec["genome"] = [str(p) for p in genome.paths]
    module = _PredictModule(
        model, spec, expr, parts, chunk_size=chunk_size, batch_size=batch_size, samples=samples
    )
    loader = torch.utils.data.DataLoader(_Chunks(-(-n_loci // chunk_size)), batch_size=1, shuffle=False)
    sharing = torch.multiprocessing.get_sharing_strategy()
    device_before = next(model.network.parameters()).device
    if "spawn" in str(strategy):
        torch.multiprocessing.set_sharing_strategy("file_system")  # as dc.tl.fit: works in containers
    try:
        with quiet_lightning():
            bar = lightning_progress_bar(progress)  # on stderr (Lightning's own writes to stdout)
            trainer = pl.Trainer(
                accelerator=accelerator,
                devices=devices,
                num_nodes=num_nodes,
                strategy=strategy,
                logger=False,
                callbacks=[bar] if bar is not None else [],
                enable_progress_bar=bar is not None,
                enable_model_summary=False,
                enable_checkpointing=False,
            )
            trainer.predict(module, loader, return_predictions=False)
    finally:
        torch.multiprocessing.set_sharing_strategy(sharing)
        model.network.to(device_before)
    if trainer.global_rank != 0:
        return None
    path = module.parts.path
    if not Path(path).exists():
        raise RuntimeError(f"The prediction processes left no output at {path}.")
    merged = module.parts.open("r")
    Path(path).unlink()  # the mapping keeps the data readable; nothing is left behind, even on errors later
    return merged
