"""Training speed on a busy machine: torch threads chosen by deepcage (``dc.settings.n_threads = None``) vs a fixed
count equal to the cores (torch's own default), with and without extra load, measured in the same run.

The extra load is ``--busy`` processes spinning on the CPU (as other users' jobs do on a shared node). Each
condition trains the demo's model (synthetic data, ``small`` preset) for ``--epochs`` epochs in a fresh process
and reports seconds per epoch. Target: on a busy machine the automatic choice is at most ~2x slower than without
the extra load (one thread per free core), where a fixed thread count per core stalls at OpenMP barriers whenever
one of its threads is descheduled (10x-50x slower).

Run: python benchmarks/bench_threads.py [--epochs 3] [--busy 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys, time, warnings, logging
    warnings.simplefilter("ignore")
    import deepcage as dc
    threads = sys.argv[2]
    dc.settings.n_threads = None if threads == "auto" else int(threads)
    for name in ("lightning", "lightning.pytorch"):
        logging.getLogger(name).setLevel(logging.ERROR)
    adata = dc.datasets.synthetic(seed=0)
    t = time.perf_counter()
    dc.tl.fit(adata, preset="small", max_epochs=int(sys.argv[1]), progress=False, patience=100)
    print((time.perf_counter() - t) / int(sys.argv[1]))
    """
)


def _spin() -> None:
    while True:
        pass


def _epoch_seconds(epochs: int, threads: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(epochs), threads], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--busy", type=int, default=2, help="extra CPU-bound processes for the loaded runs")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"cores available: {cores}; load average before: {os.getloadavg()[0]:.2f}")
    results = {}
    results["auto, no extra load"] = _epoch_seconds(args.epochs, "auto")
    busy = [mp.Process(target=_spin, daemon=True) for _ in range(args.busy)]
    for p in busy:
        p.start()
    try:
        results[f"auto, +{args.busy} busy processes"] = _epoch_seconds(args.epochs, "auto")
        results[f"{cores} threads (fixed), +{args.busy} busy processes"] = _epoch_seconds(
            args.epochs, str(cores)
        )
        load = os.getloadavg()[0]
    finally:
        for p in busy:
            p.terminate()
            p.join()
    base = results["auto, no extra load"]
    print(f"{'condition':45s} {'s/epoch':>8s} {'x auto unloaded':>16s}")
    for name, sec in results.items():
        print(f"{name:45s} {sec:8.2f} {sec / base:16.1f}")
    print(f"load average during the loaded runs: {load:.2f}; after: {os.getloadavg()[0]:.2f}")
    auto_loaded, fixed_loaded = list(results.values())[1:]
    print(
        f"SUMMARY: with {args.busy} busy processes on {cores} cores, automatic threads {auto_loaded / base:.1f}x slower "
        f"than unloaded, fixed {cores} threads {fixed_loaded / base:.1f}x ({base:.2f} s/epoch unloaded)"
    )


if __name__ == "__main__":
    main()
