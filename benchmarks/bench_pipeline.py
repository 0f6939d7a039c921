"""Pipeline efficiency: training steps/s through ``dc.tl.fit``'s real data path ÷ steps/s on pre-made tensors.

Real path: ``dc.tl.fit`` on a synthetic AnnData (``dc.datasets.synthetic``): sequences read once into uint8
codes, the package's locus-index DataLoader + collate (``deepcage.model._data.make_loader``) gathers codes,
motif scores and targets per batch, the Lightning module one-hot encodes and trains. A callback timestamps
every training step (``on_train_batch_end``); steps/s is measured between consecutive step ends after
``--warmup`` steps and steps/s = 1 / median interval (robust to load spikes from other jobs), so it includes
batch loading, one-hot encoding and Lightning's per-step work, but not the start-up (reading the genome) or
validation.

Reference: the same network (same preset, batch shape, Adam, BCE loss) stepping over a list of batches whose
one-hot sequences, motif scores, expression and targets are already tensors in memory (no loader, no
Lightning), timed the same way. It runs before and after ``fit`` and the mean of the two is used, so a change of machine load
during the run affects both sides alike.

Two network sizes: ``small`` (fast CPU steps, where loader overhead shows most) and ``paper`` (fewer steps).

Run: python benchmarks/bench_pipeline.py [--loci 6000] [--batch-loci 32] [--paper-steps 10]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import torch


class _StepTimer:
    """Lightning callback recording the time at the end of every training batch."""

    def __new__(cls):
        import lightning.pytorch as pl

        class StepTimer(pl.Callback):
            def __init__(self):
                self.times: list[float] = []

            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
                self.times.append(time.perf_counter())

        return StepTimer()


def _reference_rate(net_config, batches, *, warmup: int, lr: float = 1e-3) -> float:
    """Steps/s of a bare training loop over pre-made tensor batches."""
    from deepcage.model._network import DeepCAGENet

    torch.manual_seed(0)
    net = DeepCAGENet(**net_config).train()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    times = [time.perf_counter()]
    for onehot, motif, expr, y in batches:
        opt.zero_grad()
        loss = bce(net(onehot, motif, expr), y)
        loss.backward()
        opt.step()
        float(loss.detach())  # the Lightning module reads the loss every step too
        times.append(time.perf_counter())
    return _rate(times, warmup)


def _rate(times: list[float], warmup: int) -> float:
    """Steps/s from step end times: 1 / median step interval after ``warmup`` steps (robust to load spikes)."""
    dt = np.diff(np.asarray(times))[warmup:]
    return 1.0 / float(np.median(dt))


def _premade_batches(adata, *, batch_loci: int, n_batches: int, seed: int = 0):
    """Pre-made tensors: one-hot sequences, motif scores, expression and targets of training batches."""
    from deepcage._onehot import locus_codes
    from deepcage._utils import loci_of, resolve_genome
    from deepcage.model._network import codes_to_onehot

    loci = loci_of(adata)
    train_loci = np.flatnonzero(adata.var["split"].astype(str).to_numpy() == "train")
    train_samples = np.flatnonzero(adata.obs["split"].astype(str).to_numpy() == "train")
    genome = resolve_genome(adata, None)
    codes = locus_codes(
        genome, loci["chrom"].to_numpy(), loci["start"].to_numpy(), loci["end"].to_numpy(), window=1000
    )
    motif = adata.varm["motif_scores"].to_numpy(np.float32)
    expr = torch.from_numpy(adata.obsm["tf_expr"].to_numpy(np.float32)[train_samples])
    y = np.asarray(adata.layers["binary"], dtype=np.float32)[train_samples]
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(n_batches):
        idx = rng.choice(train_loci, batch_loci, replace=False)
        batches.append(
            (
                codes_to_onehot(torch.from_numpy(codes[idx])),
                torch.from_numpy(motif[idx]),
                expr,
                torch.from_numpy(np.ascontiguousarray(y[:, idx].T)),
            )
        )
    return batches


def run(adata, preset: str, *, batch_loci: int, max_steps: int | None, warmup: int) -> dict:
    import deepcage as dc

    n_train = int((adata.var["split"] == "train").sum())
    steps = n_train // batch_loci if max_steps is None else min(max_steps, n_train // batch_loci)
    net_config = {
        "n_tfs": adata.varm["motif_scores"].shape[1],
        "seq_len": 1000,
        "preset": preset,
        "hidden": 512,
        "task": "classification",
    }
    batches = _premade_batches(adata, batch_loci=batch_loci, n_batches=steps)
    ref_before = _reference_rate(net_config, batches, warmup=warmup)

    timer = _StepTimer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dc.tl.fit(
            adata,
            preset=preset,
            max_epochs=1,
            batch_loci=batch_loci,
            progress=False,
            accelerator="cpu",
            limit_train_batches=steps,
            limit_val_batches=1,
            callbacks=[timer],
        )
    fit_rate = _rate(timer.times, warmup - 1)  # the first interval starts at the end of step 1
    n_timed = len(timer.times) - warmup
    ref_after = _reference_rate(net_config, batches, warmup=warmup)
    ref = (ref_before + ref_after) / 2
    n_samples = int((adata.obs["split"] == "train").sum())
    print(
        f"[{preset}] {steps} steps of {batch_loci} loci x {n_samples} samples ({n_timed} timed after {warmup} warm-up)"
    )
    print(f"  pre-made tensors   {ref_before:7.2f} steps/s before, {ref_after:7.2f} after (mean {ref:.2f})")
    print(f"  dc.tl.fit          {fit_rate:7.2f} steps/s   ratio fit/pre-made {fit_rate / ref:.3f}")
    return {"preset": preset, "ratio": fit_rate / ref, "fit": fit_rate, "ref": ref}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--loci", type=int, default=6000, help="loci of the synthetic dataset (1/3 train)")
    parser.add_argument("--batch-loci", type=int, default=32)
    parser.add_argument("--small-steps", type=int, default=60)
    parser.add_argument("--paper-steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=10, help="warm-up steps (small preset)")
    parser.add_argument("--paper-warmup", type=int, default=3)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: on a shared machine whose load exceeds its cores, multi-threaded kernels on small batches mostly wait at thread barriers; use 2+ on an idle machine)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import logging

    import deepcage as dc

    for name in ("deepcage", "lightning", "lightning.pytorch"):
        logging.getLogger(name).setLevel(logging.ERROR)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
        f"load average {tuple(round(x, 2) for x in os.getloadavg())}"
    )
    adata = dc.datasets.synthetic(n_loci=args.loci, seed=0)
    print(
        f"synthetic: {adata.n_obs} samples x {adata.n_vars} loci, {adata.varm['motif_scores'].shape[1]} TFs"
    )
    torch.use_deterministic_algorithms(
        True
    )  # dc.tl.fit trains deterministically on CPU; same for the reference
    results = [
        run(adata, "small", batch_loci=args.batch_loci, max_steps=args.small_steps, warmup=args.warmup),
        run(adata, "paper", batch_loci=args.batch_loci, max_steps=args.paper_steps, warmup=args.paper_warmup),
    ]
    print(f"load average after: {tuple(round(x, 2) for x in os.getloadavg())}")
    parts = ", ".join(
        f"{r['preset']} {r['ratio']:.2f} ({r['fit']:.2f} vs {r['ref']:.2f} steps/s)" for r in results
    )
    worst = min(r["ratio"] for r in results)
    print(
        f"SUMMARY pipeline efficiency fit/pre-made steps/s: {parts}; min {worst:.2f} "
        f"(target >= 0.9: {'met' if worst >= 0.9 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
