"""Run the network over resolved inputs, chunk by chunk, into any samples x loci target.

In this process, or over several processes (GPUs, nodes) through ``_predict_ddp`` (imported only then: it needs
Lightning), whose merged result is handed over in locus order, so that the output does not depend on the number
of processes. Used by :func:`deepcage.tl.predict` (in memory) and :func:`deepcage.tl.predict_genome` (streamed).
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from .._settings import show_progress
from ._predict_inputs import Inputs

__all__ = ["OTHER_RANK", "is_distributed", "predict_into", "run_distributed"]


def is_distributed(devices, num_nodes: int) -> bool:
    """Whether the prediction runs through Lightning on several processes (else in this process)."""
    if num_nodes > 1:
        return True
    if devices is None:
        return False
    if isinstance(devices, str):
        return devices.strip() not in ("1", "")
    if isinstance(devices, list | tuple):
        return len(devices) > 1
    return int(devices) != 1


OTHER_RANK = object()  # what run_distributed returns on processes other than rank 0


def run_distributed(
    model, inputs: Inputs, *, batch_size: int, chunk_size: int, progress: bool, parallel=None, out=None
):
    """Predict over several processes when ``parallel`` asks for them (``devices``, ``accelerator``, ``strategy``,
    ``num_nodes``): the merged samples x loci array on rank 0, :data:`OTHER_RANK` on the other ranks, None when
    the prediction runs in this process (then :func:`predict_into` predicts). ``out`` is the final output (several
    nodes write their parts next to it). Call it before opening any output: only rank 0 writes."""
    parallel = dict(parallel or {})
    if not is_distributed(parallel.get("devices"), parallel.get("num_nodes", 1)):
        return None
    from ._predict_ddp import predict_distributed

    done = predict_distributed(
        model,
        inputs.source,
        inputs.expr,
        out=out,
        chunk_size=chunk_size,
        batch_size=batch_size,
        progress=progress,
        samples=inputs.reference,
        **parallel,
    )
    return OTHER_RANK if done is None else done


def predict_into(
    target,
    model,
    inputs: Inputs,
    *,
    batch_size: int,
    chunk_size: int,
    progress: bool,
    done=None,
    motif_sink=None,
) -> None:
    """Fill ``target`` (samples x loci: an array, memmap or HDF5 dataset) with the predictions of ``inputs``,
    chunk by chunk, or with ``done`` (from :func:`run_distributed`) in locus order. ``motif_sink(lo, hi, scores)``
    receives each chunk's motif scores (loci x TFs)."""

    def sink(lo, hi, pred, motif):
        target[:, lo:hi] = pred.T
        if motif_sink is not None:
            motif_sink(lo, hi, motif if motif is not None else inputs.source.motifs(lo, hi, None))

    _run(model, inputs, sink, batch_size=batch_size, chunk_size=chunk_size, progress=progress, done=done)


def _run(model, inputs: Inputs, sink, *, batch_size, chunk_size, progress, done=None) -> None:
    """Predict the loci chunk by chunk (or hand over ``done``, predicted by several processes) into ``sink``."""
    source, n = inputs.source, len(inputs.source)
    if done is not None:  # predicted by several processes (_predict_ddp): hand over in locus order
        for lo in range(0, n, chunk_size):
            hi = min(lo + chunk_size, n)
            sink(lo, hi, np.asarray(done[:, lo:hi]).T, None)
        return
    # loci/s and time left; chunks read sequences, scan motifs and run the network in turn
    with tqdm(
        total=n,
        desc="deepcage predict",
        unit="locus",
        unit_scale=True,
        disable=not show_progress(progress) or n <= chunk_size,
    ) as bar:
        for lo in range(0, n, chunk_size):
            hi = min(lo + chunk_size, n)
            pred, motif = source.chunk(lo, hi, inputs.expr, batch_size=batch_size, samples=inputs.reference)
            sink(lo, hi, pred, motif)
            bar.update(hi - lo)
