"""Memory and throughput of ``dc.tl.fit`` / ``dc.tl.predict`` at the paper's data scale (issue 19).

A data set of the requested size is built fast (random sequence, random motif scores and expression, labels with a
per-locus open propensity), laid out exactly as DESIGN.md says: an AnnData samples x loci with
``layers['binary']`` (uint8), ``obsm['tf_expr']`` and ``varm['motif_scores']`` (float32 DataFrames),
``var[['chrom', 'start', 'end', 'split']]``, ``obs['split']`` and the genome record in ``uns['deepcage']``. The
genome is a random FASTA (written with its ``.fai``) tiled by 200-bp loci, so ``fit`` reads its sequence codes
through ``dc.Genome`` exactly as on real data.

Then, each with its peak RSS (``/proc/self/status`` VmHWM, reset through ``/proc/self/clear_refs`` before each
phase, and a thread sampling VmRSS every 10 ms, whichever is higher):

- ``dc.tl.fit`` for ``--steps`` training batches (``max_epochs=1``, ``limit_train_batches``, ``--val-steps``
  validation batches); the training rate is taken from the wall time of the steps after the first (a callback),
  setup excluded;
- ``dc.tl.predict`` of one new sample (a 1-sample AnnData sharing the loci's ``var`` / ``varm``);
- the training DataLoader alone (``deepcage.model._data.make_loader`` as ``fit`` builds it): loci/s delivered,
  and with the data module's device-side step (``on_after_batch_transfer`` + one-hot) added;
- with ``--stages``, a replay of ``fit``'s setup stage by stage through its internal functions, with the RSS and
  the numpy allocations (``tracemalloc``: numpy reports its buffers to it) each stage keeps and makes
  temporarily, so that the extra memory of ``fit`` is attributed to named arrays.

"input bytes" are the arrays ``fit`` needs: sequence codes (n_loci x 1000 uint8, made by ``fit`` from the
genome), motif scores (n_loci x T float32), labels at their **stored** size (S x n_loci uint8 layer; ``fit``
holds the training samples' rows as uint8 too) and expression (S x T float32).

``--preprocess`` times instead ``dc.pp.bin_genome`` + ``dc.pp.binarize_peaks`` (55 synthetic narrowPeak files)
at ``--loci`` and ``dc.pp.motif_scores`` (HOCOMOCO v11 from the shared data) on ``--scan-loci`` loci,
extrapolated linearly to ``--loci`` and to 1.75 M loci.

Run::

    python benchmarks/bench_scale.py --loci 300000 --samples 55 --tfs 678 --trunk small --steps 10 --stages
    python benchmarks/bench_scale.py --loci 1750000 --samples 55 --tfs 678 --trunk small --steps 10
    python benchmarks/bench_scale.py --preprocess --loci 300000 --samples 55 [--scan-loci 2000]

The last line is ``SUMMARY loci N samples S tfs T: fit peak RSS / input bytes R.RRx, loader X loci/s, train Y
loci/s (trunk), predict Z loci/s``.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

BIN = 200
WINDOW = 1000
CODES = "codes (n_loci x 1000 uint8, made by fit)"
LOCI_PER_CONTIG = 250_000  # 50 Mb contigs: decoded one at a time, like a human chromosome
LINE = 60
GB = 2**30
MB = 2**20


# --------------------------------------------------------------------------------------------- memory
def _status(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def rss() -> int:
    return _status("VmRSS")


class AnonPeak:
    """Peak of the process's anonymous memory (RssAnon: not the file pages a memory map has read, which the
    kernel drops under pressure), sampled every 10 ms."""

    def __init__(self):
        import threading

        self.peak, self._stop = _status("RssAnon"), False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            self.peak = max(self.peak, _status("RssAnon"))
            time.sleep(0.01)

    def stop(self) -> int:
        self._stop = True
        self._thread.join()
        return self.peak


class PeakRSS:
    """Process peak RSS since the last :meth:`reset`: the kernel's VmHWM (reset through clear_refs) and a
    thread sampling VmRSS every 10 ms; also a guard that ends the process above ``limit`` bytes."""

    def __init__(self, limit: int, interval: float = 0.01, anon_guard: bool = False):
        self.limit, self.interval = limit, interval
        # memory-mapped inputs: their file pages count in VmRSS but the kernel drops them under pressure, so
        # the guard watches anonymous memory only
        self.anon_guard = anon_guard
        self._max = rss()
        self._hwm_ok = self._clear()
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def _clear() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            return True
        except OSError:
            return False

    def _run(self):
        while not self._stop.wait(self.interval):
            now = rss()
            guard = _status("RssAnon") if self.anon_guard else now
            self.samples.append((time.perf_counter(), now))
            if len(self.samples) > 200_000:
                del self.samples[: len(self.samples) // 2]
            if now > self._max:
                self._max = now
            if guard > self.limit:
                print(
                    f"\nABORT: RSS {now / GB:.2f} GB > --max-rss-gb {self.limit / GB:.1f} GB (protecting the machine)",
                    flush=True,
                )
                os._exit(3)

    def reset(self) -> None:
        self._hwm_ok = self._clear()
        self._max = rss()

    def peak(self) -> int:
        hwm = _status("VmHWM") if self._hwm_ok else 0
        return max(self._max, hwm)

    def max_between(self, t0: float, t1: float) -> int:
        vals = [r for t, r in list(self.samples) if t0 <= t <= t1]
        return max(vals) if vals else 0

    def stop(self):
        self._stop.set()


def trim() -> None:
    """Collect garbage and give freed heap back to the OS (glibc ``malloc_trim``), so RSS deltas mean arrays."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _load() -> str:
    return "load " + "/".join(f"{x:.1f}" for x in os.getloadavg())


def _gb(n: float) -> str:
    return f"{n / GB:.2f} GB"


# --------------------------------------------------------------------------------------------- data set
def write_random_fasta(folder: Path, contig_lengths: dict[str, int], rng: np.random.Generator) -> Path:
    """A FASTA of random bases (60 per line) and its ``.fai``, written with numpy (~1 s per 100 Mb)."""
    path = folder / "random.fa"
    bases = np.frombuffer(b"ACGT", dtype=np.uint8)
    fai = []
    with open(path, "wb") as fh:
        offset = 0
        for name, length in contig_lengths.items():
            header = f">{name}\n".encode()
            fh.write(header)
            offset += len(header)
            fai.append(f"{name}\t{length}\t{offset}\t{LINE}\t{LINE + 1}\n")
            step = LINE * 200_000  # 12 Mb per write
            for lo in range(0, length, step):
                n = min(step, length - lo)
                seq = bases[rng.integers(0, 4, n, dtype=np.uint8)]
                full = n // LINE
                block = np.empty((full, LINE + 1), dtype=np.uint8)
                block[:, :LINE] = seq[: full * LINE].reshape(full, LINE)
                block[:, LINE] = ord("\n")
                fh.write(block.tobytes())
                if n % LINE:
                    fh.write(seq[full * LINE :].tobytes() + b"\n")
                offset += full * (LINE + 1) + (n % LINE + 1 if n % LINE else 0)
    (folder / "random.fa.fai").write_text("".join(fai))
    return path


def tiled_loci(n_loci: int) -> tuple[pd.DataFrame, dict[str, int]]:
    """200-bp loci tiling contigs of at most 250k loci each (1 kb of margin at both ends)."""
    n_contigs = max(1, -(-n_loci // LOCI_PER_CONTIG))
    per = np.full(n_contigs, n_loci // n_contigs)
    per[: n_loci - per.sum()] += 1
    names = [f"chr{i + 1}" for i in range(n_contigs)]
    chrom = pd.Categorical.from_codes(np.repeat(np.arange(n_contigs), per), categories=names)
    slot = np.concatenate([np.arange(k) for k in per])
    start = (WINDOW + slot * BIN).astype(np.int64)
    loci = pd.DataFrame({"chrom": chrom, "start": start, "end": start + BIN})
    sizes = {c: int(2 * WINDOW + k * BIN) for c, k in zip(names, per, strict=True)}
    return loci, sizes


def build(n_loci: int, n_samples: int, n_tfs: int, folder: Path, seed: int = 0, out_of_core: bool = False):
    """The AnnData (DESIGN.md layout) and the timing of each part of the build."""
    import anndata as ad

    import deepcage as dc
    from deepcage._utils import locus_names

    rng = np.random.default_rng(seed)
    times = {}
    t = time.perf_counter()
    loci, sizes = tiled_loci(n_loci)
    fasta = write_random_fasta(folder, sizes, rng)
    genome = dc.Genome(fasta, name="random")
    times["genome FASTA"] = time.perf_counter() - t

    t = time.perf_counter()
    loci.index = locus_names(loci["chrom"], loci["start"], loci["end"])
    split = pd.Categorical.from_codes(
        rng.choice(3, n_loci, p=[0.9, 0.05, 0.05]).astype(np.int8), categories=["train", "val", "test"]
    )
    loci["split"] = split
    times["loci table"] = time.perf_counter() - t

    t = time.perf_counter()
    if out_of_core:  # written to a .npy file and memory-mapped, as dc.pp.motif_scores(out=...) does
        motif = np.lib.format.open_memmap(
            folder / "scores.npy", mode="w+", dtype=np.float32, shape=(n_loci, n_tfs)
        )
    else:
        motif = np.empty((n_loci, n_tfs), dtype=np.float32)
    block = max(1, (1 << 24) // n_tfs)
    for lo in range(0, n_loci, block):
        hi = min(lo + block, n_loci)
        motif[lo:hi] = rng.standard_normal((hi - lo, n_tfs), dtype=np.float32)
    tfs = [f"TF{i + 1}" for i in range(n_tfs)]
    if out_of_core:
        motif.flush()
        del motif
        motif = np.load(folder / "scores.npy", mmap_mode="r")
    motif_df = pd.DataFrame(motif, index=loci.index, columns=tfs, copy=False)
    times["motif scores"] = time.perf_counter() - t

    t = time.perf_counter()
    # a per-locus open propensity (most loci rarely open, some open in most samples) x per-pair noise
    propensity = rng.beta(0.4, 2.5, n_loci).astype(np.float32)
    labels = np.empty((n_samples, n_loci), dtype=np.uint8)
    for lo in range(0, n_loci, 1 << 18):
        hi = min(lo + (1 << 18), n_loci)
        labels[:, lo:hi] = rng.random((n_samples, hi - lo), dtype=np.float32) < propensity[lo:hi]
    samples = [f"sample{i + 1}" for i in range(n_samples)]
    n_test = max(1, round(0.2 * n_samples)) if n_samples > 3 else 0
    obs_split = np.array(["train"] * n_samples, dtype=object)
    obs_split[rng.choice(n_samples, n_test, replace=False)] = "test"
    expr = pd.DataFrame(
        rng.normal(2.0, 1.0, (n_samples, n_tfs)).astype(np.float32), index=samples, columns=tfs
    )
    times["labels + expression"] = time.perf_counter() - t

    t = time.perf_counter()
    adata = ad.AnnData(
        obs=pd.DataFrame({"split": pd.Categorical(obs_split)}, index=samples),
        var=loci,
        layers={"binary": labels},
        obsm={"tf_expr": expr},
        varm={"motif_scores": motif_df},
    )
    adata.uns["deepcage"] = {"genome": genome.to_dict(), "tfs": tfs}
    times["AnnData"] = time.perf_counter() - t
    if out_of_core:
        t = time.perf_counter()
        dc.pp.sequence_codes(adata, out=folder / "codes.npy", progress=False)
        times["sequence codes to disk"] = time.perf_counter() - t
    del motif, labels, motif_df
    inputs = {
        CODES: n_loci * WINDOW,
        "motif scores (n_loci x T float32)": n_loci * n_tfs * 4,
        "labels (S x n_loci uint8, stored)": n_samples * n_loci,
        "expression (S x T float32)": n_samples * n_tfs * 4,
    }
    return adata, inputs, times


# --------------------------------------------------------------------------------------------- phases
def _step_timer(flop_step: int | None = None):
    import lightning.pytorch as pl
    from torch.utils.flop_counter import FlopCounterMode

    class StepTimer(pl.Callback):
        """Wall time of each training step, and the FLOPs of step ``flop_step`` (forward + backward, counted by
        torch's ``FlopCounterMode``; None: not counted)."""

        def __init__(self, flop_step: int | None):
            self.starts, self.ends, self.n_loci = [], [], []
            self.val_start = self.val_end = None
            self.flop_step, self._counter = flop_step, None
            self.step_flops = self.flop_loci = None

        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if batch_idx == self.flop_step:
                self._counter = FlopCounterMode(display=False)
                self._counter.__enter__()
            self.starts.append(time.perf_counter())
            self.n_loci.append(len(batch["loci"]))

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            self.ends.append(time.perf_counter())
            if self._counter is not None:
                self._counter.__exit__(None, None, None)
                self.step_flops, self.flop_loci = int(self._counter.get_total_flops()), len(batch["loci"])
                self._counter = None

        def on_validation_start(self, trainer, module):
            self.val_start = time.perf_counter()

        def on_validation_end(self, trainer, module):
            self.val_end = time.perf_counter()

    return StepTimer(flop_step)


def run_fit(adata, args, mem: PeakRSS) -> dict:
    import deepcage as dc

    timer = _step_timer(flop_step=args.steps - 1)  # the last step: its FLOPs
    trim()
    mem.reset()
    before = rss()
    t0 = time.perf_counter()
    model = dc.tl.fit(
        adata,
        preset=args.trunk,
        recipe=args.recipe,
        max_epochs=1,
        patience=None,
        progress=False,
        limit_train_batches=args.steps,
        limit_val_batches=args.val_steps,
        callbacks=[timer],
        seed=0,
    )
    t1 = time.perf_counter()
    peak = mem.peak()
    starts, ends, n_loci_steps_all = list(timer.starts), list(timer.ends), list(timer.n_loci)
    step_flops, flop_loci = timer.step_flops, timer.flop_loci
    if (
        step_flops is not None and len(ends) > 2
    ):  # the last step, slowed by the counter, is left out of the rate
        starts, ends, n_loci_steps_all = starts[:-1], ends[:-1], n_loci_steps_all[:-1]
    val = (timer.val_end - timer.val_start) if timer.val_start and timer.val_end else float("nan")
    del timer
    trim()
    trim()  # the trainer <-> module cycle holding the training arrays is only freed by a second collection
    after = rss()
    first, last = starts[0], ends[-1]
    # steps after the first (warm-up): wall time from the end of the first to the end of the last
    n_loci_steps = sum(n_loci_steps_all[1:])
    steady = ends[-1] - ends[0]
    step_s = np.diff(ends) if len(ends) > 1 else np.array([ends[0] - starts[0]])
    out = {
        "model": model,
        "before": before,
        "peak": peak,
        "after": after,
        "wall": t1 - t0,
        "setup": first - t0,
        "train": last - first,
        "after_train": t1 - last,
        "steps": len(ends),
        "batch_loci": n_loci_steps_all[0],
        "train_loci_s": n_loci_steps / steady if steady > 0 else n_loci_steps_all[0] / step_s[0],
        "step_median": float(np.median(step_s)),
        "peak_setup": mem.max_between(t0, first),
        "peak_train": mem.max_between(first, last),
        "peak_after": mem.max_between(last, t1),
        "val": val,
        "flops_per_locus": step_flops / flop_loci if step_flops else float("nan"),
    }
    return out


def _held_code_bytes(adata) -> int:
    """Bytes of the sequence codes as ``fit`` holds them: each base that the loci's windows cover, once (stored
    codes, as out of core: the stored matrix)."""
    from deepcage.tl._fit import _sequence_codes

    codes, _ = _sequence_codes(adata, None, True)
    held = codes.nbytes
    del codes
    trim()
    return held


#: one H100 SXM's dense bf16 tensor-core rate (NVIDIA's data sheet), for the FLOP-derived projection
H100_BF16_FLOPS = 989e12


def _print_flops(fit: dict, args, n_samples: int) -> None:
    """The training step's FLOPs per locus, the rate they run at on this CPU and the projection for one H100."""
    flops = fit["flops_per_locus"]
    if not np.isfinite(flops):
        return
    cpu = fit["train_loci_s"]
    limit = H100_BF16_FLOPS / flops
    print(
        f"training FLOPs ({args.trunk} trunk, forward + backward, {n_samples} samples per locus, counted by "
        f"torch's FlopCounterMode): {flops / 1e9:.3f} GFLOP per locus; this CPU: {fit['step_median'] * 1e3:.0f} ms "
        f"per step of {fit['batch_loci']} loci = {cpu:.0f} loci/s ({cpu * flops / 1e9:.1f} GFLOP/s)"
    )
    print(
        f"projection for one H100 ({H100_BF16_FLOPS / 1e12:.0f} TFLOP/s dense bf16): arithmetic limit "
        f"{limit:,.0f} loci/s; at a third of it {limit / 3:,.0f} loci/s ({limit / 3 / cpu:,.0f}x this CPU; "
        "issue 19's target >= 50,000 loci/s). Unmeasured on a GPU: gpu_check.sh measures it."
    )


def run_predict(model, adata, mem: PeakRSS, n_loci: int | None = None) -> dict:
    """One new sample (random expression) over the first ``n_loci`` loci (default all), through a 1-sample
    AnnData sharing var / varm."""
    import anndata as ad

    import deepcage as dc

    rng = np.random.default_rng(1)
    tfs = list(adata.obsm["tf_expr"].columns)
    expr = pd.DataFrame(
        rng.normal(2.0, 1.0, (1, len(tfs))).astype(np.float32), index=["new_sample"], columns=tfs
    )
    n = adata.n_vars if n_loci is None else min(n_loci, adata.n_vars)
    new = ad.AnnData(
        obs=pd.DataFrame(index=["new_sample"]),
        var=adata.var.iloc[:n],
        obsm={"tf_expr": expr},
        varm={"motif_scores": adata.varm["motif_scores"].iloc[:n]},
        uns={"deepcage": dict(adata.uns["deepcage"])},
    )
    trim()
    mem.reset()
    before = rss()
    t0 = time.perf_counter()
    dc.tl.predict(model, new, progress=False)
    wall = time.perf_counter() - t0
    pred = new.layers["deepcage"]
    assert pred.shape == (1, n) and np.isfinite(pred).all()
    return {"n": n, "wall": wall, "loci_s": n / wall, "before": before, "peak": mem.peak()}


def run_loader(adata, model, args, mem: PeakRSS, seconds: float = 20.0) -> dict:
    """Loci/s that the training DataLoader delivers (CPU gather), and with the device-side step added."""
    from deepcage.model._data import PairData, PairDataModule
    from deepcage.model._network import codes_to_onehot
    from deepcage.tl._fit import _sequence_codes

    split = adata.var["split"].astype(str).to_numpy()
    train_loci = np.flatnonzero(split == "train")
    train_samples = np.flatnonzero(adata.obs["split"].astype(str).to_numpy() == "train")
    trim()
    mem.reset()
    codes, _ = _sequence_codes(adata, None, True)  # as fit holds them (stored codes out of core)
    motif = adata.varm["motif_scores"].to_numpy(dtype=np.float32)
    y = np.ascontiguousarray(adata.layers["binary"][train_samples])
    data = PairData(codes, motif, np.ascontiguousarray(adata.obsm["tf_expr"].to_numpy()[train_samples]), y)
    batch_loci = int(model.params.get("batch_loci") or (32 if args.trunk == "small" else 128))
    closed = y.max(axis=0) == 0
    frac = float(model.params.get("background_fraction") or 1.0)
    dm = PairDataModule(
        data,
        train_loci,
        np.array([], dtype=np.int64),
        batch_loci=batch_loci,
        background=closed[train_loci] if frac < 1 else None,
        background_fraction=frac,
    )
    results = {}
    for name, device_step in (("loader", False), ("loader + device step", True)):
        t0 = time.perf_counter()
        it = iter(dm.train_dataloader())
        t_iter = time.perf_counter() - t0
        n = batches = 0
        t0 = time.perf_counter()
        for batch in it:
            if device_step:
                b = dm.on_after_batch_transfer(batch, 0)
                _ = codes_to_onehot(b["codes"]).float().sum()
            n += len(batch["loci"])
            batches += 1
            if time.perf_counter() - t0 > seconds / 2:
                break
        dt = time.perf_counter() - t0
        results[name] = {"loci_s": n / dt, "batches": batches, "iter_setup": t_iter}
    results["peak"] = mem.peak()
    results["batch_loci"] = batch_loci
    del data, codes, motif, y, dm
    return results


# --------------------------------------------------------------------------------------------- stage replay
def replay_stages(adata, args, mem: PeakRSS) -> list[tuple]:
    """``fit``'s setup step by step (its internal functions), each with RSS and numpy allocations kept / made."""
    from deepcage.model._config import TrainConfig
    from deepcage.model._data import PairData
    from deepcage.model._runner import Runtime
    from deepcage.tl import _fit as F
    from deepcage.tl._knn import choose_temperature
    from deepcage.tl._predict_inputs import _motif_of

    rows = []
    keep: dict = {}

    def stage(name, fn, what):
        trim()
        mem.reset()
        r0 = rss()
        tracemalloc.start()
        t0 = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t0
        cur, tpeak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        r1, rp = rss(), mem.peak()
        rows.append((name, dt, r1, r1 - r0, rp - r0, cur, tpeak, what))
        print(
            f"  stage {name:<34} {dt:7.1f} s  RSS {r1 / GB:6.2f} GB  kept {(r1 - r0) / MB:+8.0f} MB  "
            f"transient peak {(rp - r0) / MB:+8.0f} MB  numpy kept {cur / MB:7.0f} / peak {tpeak / MB:7.0f} MB  "
            f"| {what}",
            flush=True,
        )
        return result

    train_samples, train_loci, val_loci = F._splits(adata)
    inputs = stage(
        "_read_inputs",
        lambda: F._read_inputs(adata, "binary", "tf_expr", "motif_scores", train_samples, "classification"),
        "motif_df.to_numpy(float32), check_finite blocks, y_train = layer rows (uint8) + astype copy",
    )
    shares = np.shares_memory(inputs.motif, adata.varm["motif_scores"].to_numpy())
    print(f"    motif array shares memory with varm: {shares}")
    config = TrainConfig.from_recipe(args.recipe, preset=args.trunk, max_epochs=1).resolved(
        n_train_samples=len(train_samples), has_val=len(val_loci) > 0
    )

    codes, _ = stage(
        "_sequence_codes (window_codes)",
        lambda: F._sequence_codes(adata, None, True),
        "each covered base once (WindowCodes) + offsets; one contig decoded at a time, in 4-Mb reads",
    )
    data = PairData(codes, inputs.motif, np.ascontiguousarray(inputs.expr[train_samples]), inputs.y_train)
    stage(
        "_column_mean_std (motif scaling)",
        lambda: F._column_mean_std(data.motif, train_loci),
        "per 65,536-row chunk: float32 gather + float64 (x - mean) and its square",
    )
    if config.uses_reference:
        config.knn_temperature, _ = stage(
            "choose_temperature(y[:, train_loci])",
            lambda: choose_temperature(data.expr, data.y, task=config.task, seed=0, columns=train_loci),
            "the 50k-locus subset of y (float64) and leave-one-out kNN + AP at 8 temperatures",
        )
    plan = stage(
        "_training_plan",
        lambda: F._training_plan(config, data, train_loci, None, float(data.y[:, train_loci].mean())),
        "the network + _column_mean_std again (temperature already chosen)",
    )
    runtime = Runtime(accelerator="cpu", progress=False)
    dm = stage(
        "_data_module",
        lambda: F._data_module(config, runtime, data, train_loci, val_loci),
        "y.max(axis=0) closed mask, locus weights float32, sampler index tensors int64",
    )
    stage(
        "first batch of an epoch",
        lambda: next(iter(dm.train_dataloader())),
        "sampler: randperm + cat + randperm, Python ints 65,536 at a time",
    )
    keep["dm"] = dm
    if config.prior is not None and len(val_loci):
        from deepcage.model._module import calibrate_novel_mode

        stage(
            "calibrate_novel_mode",
            lambda: calibrate_novel_mode(plan.net.eval(), data, val_loci, seed=0),
            "torch forward of <= 20k validation loci x n_train samples, 64 loci at a time",
        )
    keep["loci"] = stage(
        "loci table", lambda: F._loci_table(adata), "chrom and split as categoricals (kept by the model)"
    )
    if config.prior is not None:
        keep["ref"] = stage(
            "_reference_labels",
            lambda: F._reference_labels(adata, inputs.y_train, train_samples, train_loci, val_loci),
            "n_loci x n_train float32 (NaN on test loci) DataFrame, kept by the model",
        )
    if F._store_loci("auto", codes, inputs.motif):
        stage(
            "stored loci_motif copy",
            lambda: inputs.motif_df.astype(np.float32).set_axis(inputs.tfs, axis=1),
            "motif_df.astype(float32).set_axis(...) (only when codes + motif <= 512 MB)",
        )
    else:
        print("    (store_loci='auto': codes + motif > 512 MB, no loci_motif copy)")

    class _M:
        tfs = inputs.tfs

    stage(
        "predict: _motif_of (varm -> float32)",
        lambda: _motif_of(adata, "motif_scores", _M()),
        "predict reads varm[motif_key] with to_numpy(float32) + check_finite",
    )
    return rows


# --------------------------------------------------------------------------------------------- preprocessing
def write_peaks(
    folder: Path, sizes: dict[str, int], n_files: int, peaks_per_file: int, rng
) -> dict[str, Path]:
    """``n_files`` narrowPeak files of random peaks (150-600 bp, summit in the middle), as ENCODE ships them."""
    files = {}
    chroms = list(sizes)
    weights = np.array([sizes[c] for c in chroms], dtype=float)
    for k in range(n_files):
        which = rng.choice(len(chroms), peaks_per_file, p=weights / weights.sum())
        width = rng.integers(150, 600, peaks_per_file)
        start = (rng.random(peaks_per_file) * (weights[which] - width)).astype(np.int64)
        order = np.lexsort((start, which))
        which, start, width = which[order], start[order], width[order]
        df = pd.DataFrame(
            {
                "chrom": np.asarray(chroms)[which],
                "start": start,
                "end": start + width,
                "name": ".",
                "score": 1000,
                "strand": ".",
                "signal": np.round(rng.gamma(2, 20, peaks_per_file), 3),
                "p": -1,
                "q": -1,
                "summit": width // 2,
            }
        )
        path = folder / f"sample{k + 1}.narrowPeak"
        df.to_csv(path, sep="\t", header=False, index=False)
        files[f"sample{k + 1}"] = path
    return files


def preprocess(args, mem: PeakRSS) -> None:
    import deepcage as dc

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="bench_scale_pp_", dir=args.tmp) as tmp:
        tmp = Path(tmp)
        _, sizes = tiled_loci(args.loci)
        t = time.perf_counter()
        fasta = write_random_fasta(tmp, sizes, rng)
        print(f"random genome {sum(sizes.values()) / 1e6:.0f} Mb written in {time.perf_counter() - t:.1f} s")
        genome = dc.Genome(fasta, name="random")
        n_peaks = max(1000, int(args.loci * args.peaks_per_locus))
        t = time.perf_counter()
        files = write_peaks(tmp, sizes, args.samples, n_peaks, rng)
        print(
            f"{args.samples} narrowPeak files x {n_peaks:,} peaks written in {time.perf_counter() - t:.1f} s"
        )
        rows = []

        def timed(name, fn):
            gc.collect()
            mem.reset()
            r0 = rss()
            t0 = time.perf_counter()
            out = fn()
            dt = time.perf_counter() - t0
            rows.append((name, dt, mem.peak(), mem.peak() - r0))
            print(
                f"  {name:<48} {dt:8.1f} s   peak RSS {_gb(mem.peak())} (+{(mem.peak() - r0) / MB:.0f} MB)",
                flush=True,
            )
            return out

        bins = timed(
            "bin_genome (200 bp, N filter)", lambda: dc.pp.bin_genome(genome, bin_size=BIN, window=WINDOW)
        )
        adata = timed(
            f"binarize_peaks ({args.samples} files, min_samples=2)",
            lambda: dc.pp.binarize_peaks(bins, files, genome=genome, min_samples=2),
        )
        print(f"    {len(bins):,} bins -> {adata.n_vars:,} loci open in >= 2 samples")
        root = dc.datasets.shared_data_dir(args.data)
        motifs = dc.io.read_motifs(
            root / "motifs" / "HOCOMOCOv11_core_HUMAN_mono_homer_format_0.001.motif",
            tf_table=root / "motifs" / "HOCOMOCOv11_HUMAN_mono_motifs_core.tsv",
        )
        n_scan = min(args.scan_loci, adata.n_vars)
        sub = adata[:, np.sort(rng.choice(adata.n_vars, n_scan, replace=False))].copy()
        # warm-up (numba compilation) on a few loci, not timed
        dc.pp.motif_scores(sub[:, :50].copy(), motifs, genome=genome, progress=False)
        timed(
            f"motif_scores ({len(motifs)} motifs, {n_scan:,} loci)",
            lambda: dc.pp.motif_scores(sub, motifs, genome=genome, progress=False),
        )
        scan_s = rows[-1][1] / n_scan
        print()
        print(
            f"Preprocessing at {args.loci:,} loci ({args.samples} peak files; machine: {os.cpu_count()} cores, {_load()})"
        )
        print("| step | time | peak RSS |")
        print("|---|---|---|")
        for name, dt, peak, _ in rows:
            print(f"| {name} | {dt:.1f} s | {_gb(peak)} |")
        scale = args.tfs / len(motifs)
        for n in dict.fromkeys((adata.n_vars, args.loci, 1_750_033)):
            print(
                f"| motif_scores, {n:,} loci (extrapolated linearly from {n_scan:,}) | {scan_s * n / 60:.0f} min "
                f"({len(motifs)} motifs), {scan_s * n * scale / 60:.0f} min scaled to {args.tfs} motifs "
                f"| + {n * args.tfs * 4 / GB:.2f} GB (float32 scores, {args.tfs} TFs) |"
            )
        x = adata.X
        print(
            f"binarize_peaks output: X {x.dtype} {x.nbytes / MB:.0f} MB + layers['binary'] "
            f"{adata.layers['binary'].dtype} {adata.layers['binary'].nbytes / MB:.0f} MB"
        )
        slowest = max(
            [(r[1], r[0]) for r in rows[:2]] + [(scan_s * adata.n_vars, "motif_scores (extrapolated)")]
        )
        print(f"slowest step at {args.loci:,} loci: {slowest[1]} ({slowest[0]:.0f} s)")
        print(
            f"SUMMARY preprocess loci {args.loci} samples {args.samples}: bin_genome {rows[0][1]:.1f} s, "
            f"binarize_peaks {rows[1][1]:.1f} s, motif_scores {scan_s * 1e6:.0f} s per million loci "
            f"({len(motifs)} motifs), slowest {slowest[1]}"
        )


# --------------------------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--loci", type=int, default=300_000)
    parser.add_argument("--samples", type=int, default=55)
    parser.add_argument("--tfs", type=int, default=678)
    parser.add_argument("--trunk", choices=["small", "paper"], default="small")
    parser.add_argument("--recipe", choices=["default", "paper"], default="default")
    parser.add_argument("--steps", type=int, default=10, help="training batches (limit_train_batches)")
    parser.add_argument("--val-steps", type=int, default=2, help="validation batches (limit_val_batches)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (dc.settings.n_threads)")
    parser.add_argument(
        "--stages",
        action="store_true",
        help="instead of fit: replay its setup stage by stage (memory per named array)",
    )
    parser.add_argument(
        "--predict-loci", type=int, default=None, help="predict the first N loci (default all)"
    )
    parser.add_argument("--no-loader", action="store_true", help="skip the loader measurement")
    parser.add_argument(
        "--out-of-core",
        action="store_true",
        help="motif scores and sequence codes in .npy files, memory-mapped (dc.pp.motif_scores / sequence_codes out=)",
    )
    parser.add_argument("--max-rss-gb", type=float, default=14.0, help="abort above this RSS")
    parser.add_argument("--tmp", default=None, help="folder for the random genome (default: $TMPDIR)")
    parser.add_argument(
        "--preprocess", action="store_true", help="time bin_genome/binarize_peaks/motif_scores"
    )
    parser.add_argument("--scan-loci", type=int, default=2000, help="--preprocess: loci motif-scanned")
    parser.add_argument(
        "--peaks-per-locus", type=float, default=0.1, help="--preprocess: peaks per file / loci"
    )
    parser.add_argument("--data", default=None, help="shared/data folder (--preprocess motifs)")
    args = parser.parse_args()

    import torch

    import deepcage as dc

    dc.settings.n_threads = args.threads
    torch.set_num_threads(args.threads)
    mem = PeakRSS(int(args.max_rss_gb * GB), anon_guard=args.out_of_core)
    print(
        f"bench_scale: {os.cpu_count()} cores, torch threads {args.threads}, {_load()}, RSS at start {_gb(rss())}"
    )
    if args.preprocess:
        preprocess(args, mem)
        return

    with tempfile.TemporaryDirectory(prefix="bench_scale_", dir=args.tmp) as tmp:
        t = time.perf_counter()
        adata, inputs, times = build(
            args.loci, args.samples, args.tfs, Path(tmp), out_of_core=args.out_of_core
        )
        build_s = time.perf_counter() - t
        n_input = sum(inputs.values())
        built = rss()
        print(
            f"built {adata.n_obs} x {adata.n_vars:,} (T={args.tfs}) in {build_s:.1f} s "
            f"({build_s / args.loci * 1e6:.0f} s per million loci): "
            + ", ".join(f"{k} {v:.1f} s" for k, v in times.items())
        )
        print(f"RSS after build {_gb(built)}; input bytes {_gb(n_input)}:")
        for k, v in inputs.items():
            print(f"  {k:<44} {v / MB:10.0f} MB")

        if args.stages:
            trim()
            print(f"stage replay of fit's setup (RSS now {_gb(rss())}):")
            replay_stages(adata, args, mem)
            print(f"end: {_load()}")
            return
        anon_before = _status("RssAnon")
        anon = AnonPeak()
        fit = run_fit(adata, args, mem)
        anon_peak = anon.stop()
        model = fit["model"]
        print(
            f"fit anonymous memory (RssAnon, without memory-mapped file pages): before {_gb(anon_before)}, "
            f"peak {_gb(anon_peak)}; peak / input bytes {anon_peak / n_input:.2f}x"
            + (" (out of core: inputs on disk)" if args.out_of_core else "")
        )
        print(
            f"fit ({args.trunk} trunk, recipe {args.recipe}, {fit['steps']} steps x {fit['batch_loci']} loci x "
            f"{len(model.params['train_samples'])} samples): wall {fit['wall']:.1f} s = setup {fit['setup']:.1f} s "
            f"+ training {fit['train']:.1f} s + after {fit['after_train']:.1f} s (validation {fit['val']:.1f} s); "
            f"median step {fit['step_median'] * 1e3:.0f} ms -> {fit['train_loci_s']:.0f} loci/s, "
            f"{fit['train_loci_s'] * len(model.params['train_samples']):.0f} pairs/s"
        )
        print(
            f"fit RSS: before {_gb(fit['before'])}, peak {_gb(fit['peak'])} (+{_gb(fit['peak'] - fit['before'])}), "
            f"after {_gb(fit['after'])} (model kept +{_gb(fit['after'] - fit['before'])}); sampled peak in setup "
            f"{_gb(fit['peak_setup'])}, training {_gb(fit['peak_train'])}, after training {_gb(fit['peak_after'])}"
        )
        ratio = fit["peak"] / n_input
        held = _held_code_bytes(adata)
        n_held = n_input - inputs[CODES] + held
        print(
            f"fit peak RSS / input bytes {ratio:.2f}x ({ratio:.3f}); (peak - RSS before fit) / input bytes "
            f"{(fit['peak'] - fit['before']) / n_input:.2f}x. fit holds the codes once per covered base "
            f"({held / MB:.0f} MB, not {inputs[CODES] / MB:.0f} MB): peak / the inputs as held "
            f"{fit['peak'] / n_held:.2f}x"
        )
        _print_flops(fit, args, len(model.params["train_samples"]))
        ref = model.ref_labels
        print(
            "model keeps: "
            + ", ".join(
                f"{name} {nbytes / MB:.0f} MB"
                for name, nbytes in (
                    ("ref_labels", 0 if ref is None else ref.to_numpy().nbytes),
                    ("loci_codes", 0 if model.loci_codes is None else model.loci_codes.nbytes),
                    ("loci_motif", 0 if model.loci_motif is None else model.loci_motif.to_numpy().nbytes),
                    ("loci table", model.loci.memory_usage(deep=True).sum()),
                )
            )
        )

        pred = run_predict(model, adata, mem, args.predict_loci)
        print(
            f"predict 1 new sample x {pred['n']:,} loci: {pred['wall']:.1f} s, {pred['loci_s']:.0f} loci/s; "
            f"RSS before {_gb(pred['before'])}, peak {_gb(pred['peak'])} (+{_gb(pred['peak'] - pred['before'])})"
        )
        loader_s = float("nan")
        if not args.no_loader:
            lo = run_loader(adata, model, args, mem)
            loader_s = lo["loader"]["loci_s"]
            for name in ("loader", "loader + device step"):
                r = lo[name]
                print(
                    f"{name} (batch {lo['batch_loci']} loci): {r['loci_s']:.0f} loci/s over {r['batches']} batches "
                    f"(epoch start {r['iter_setup']:.2f} s)"
                )
            print(
                f"  ({loader_s / fit['train_loci_s']:.0f}x this run's training rate; peak RSS {_gb(lo['peak'])})"
            )
        print(f"end: {_load()}")
        print(
            f"SUMMARY{' out-of-core' if args.out_of_core else ''} loci {args.loci} samples {args.samples} tfs {args.tfs}: "
            "fit peak RSS / input bytes "
            f"{ratio:.2f}x, loader {loader_s:.0f} loci/s, train {fit['train_loci_s']:.0f} loci/s ({args.trunk}), "
            f"predict {pred['loci_s']:.0f} loci/s"
        )
    mem.stop()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
