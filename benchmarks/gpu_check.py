"""GPU readiness at the paper's scale (issue 19 item 5), in one call of at most ~8 minutes on one datacenter GPU.

Phases, each printing one ``gpu_check:`` line, then one ``SUMMARY`` line:

1. **motif scan** on the GPU: random 1-kb sequences x the HOCOMOCO v11 motifs (loci/s; agreement with the CPU).
2. **training at 1.75 M loci x 55 samples x 678 TFs** (``bench_scale.build``: random sequence, motif scores and
   labels; sequence codes stored in ``varm`` first), ``recipe='paper'`` (the published trunk), a capped number of
   steps in ``precision='32'`` and in ``'bf16-mixed'``: training loci/s from the steps after the first.
3. **fp32 vs bf16 accuracy** on the hg38 blood-cell fold (``dc.datasets.heme(genome='hg38')``, its two held-out
   cell types): AP on the held-out region and on the labelled loci, both precisions, same seed.
4. **all visible GPUs (DDP)**: ``benchmarks/gpu_check.sh`` runs ``--phase ddp`` as its own process when more than one
   GPU is visible (Lightning re-runs the script once per GPU), on a 300 k-locus set.
5. **a 15 M-bin new-sample track**: a random 3-Gb genome (hg38-sized), every 200-bp bin scored with the model's
   recorded motif scan and written to a bigWig by ``dc.tl.predict_genome``.

Targets, from the FLOPs (0.4 GFLOP forward per locus for the paper trunk, ~1.2 GFLOP per training locus; an
H100 does several hundred TFLOP/s in bf16): >= 50,000 training loci/s on one H100-class GPU, a 15 M-bin track in
<= 180 s. ``--dry-run`` runs every phase at a tiny size on the CPU (the suite does, so this script does not rot).

    python benchmarks/gpu_check.py [--loci 1750000] [--steps 150] [--bins 15000000] [--dry-run]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_scale as bs

TARGET_TRAIN = 50_000  # loci/s, one H100-class GPU, paper trunk, bf16
TARGET_TRACK_S = 180.0  # s for a 15 M-bin new-sample track


def _rank0() -> bool:
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


def say(msg: str) -> None:
    if _rank0():
        print(f"gpu_check: {msg}", flush=True)


def phase_scan(args, device) -> dict:
    """Phase 1: the motif scan on the accelerator, and its agreement with the CPU scan."""
    import deepcage as dc
    from deepcage.pp._motif_scan import scan_max, scan_tolerance

    rng = np.random.default_rng(0)
    try:
        root = dc.datasets.shared_data_dir()
        motifs = dc.io.read_motifs(
            root / "motifs" / "HOCOMOCOv11_core_HUMAN_mono_homer_format_0.001.motif",
            tf_table=root / "motifs" / "HOCOMOCOv11_HUMAN_mono_motifs_core.tsv",
        )
        log_odds, source = [m.log_odds() for m in motifs], "HOCOMOCO v11"
    except FileNotFoundError:
        log_odds, source = [rng.normal(0, 1.5, (w, 4)) for w in rng.integers(7, 25, 401)], "random"
    codes = rng.integers(0, 4, (args.scan_loci, 1000)).astype(np.uint8)
    scan_max(codes[:500], log_odds, device=device)  # kernel set-up outside the timing
    t0 = time.perf_counter()
    out = scan_max(codes, log_odds, device=device)
    rate = args.scan_loci / (time.perf_counter() - t0)
    n_cpu = min(1000, args.scan_loci)
    diff = np.abs(out[:n_cpu] - scan_max(codes[:n_cpu], log_odds, device="cpu"))
    bound = scan_tolerance(log_odds) + scan_tolerance(log_odds, conv=True)
    ok = bool((diff <= bound[None, :]).all())
    say(
        f"motif scan {args.scan_loci:,} loci x {len(log_odds)} {source} motifs on {device}: {rate:,.0f} loci/s; "
        f"vs CPU on {n_cpu:,} loci max |diff| {diff.max():.1e} ({'within' if ok else 'OUTSIDE'} the float32 bound)"
    )
    return {"scan_loci_s": rate, "scan_ok": ok}


def _fit_timed(adata, args, precision: str, devices=1, strategy="auto"):
    """``fit`` with the paper trunk for ``args.steps`` steps; training loci/s from the steps after the first."""
    import deepcage as dc

    timer = bs._step_timer()
    t0 = time.perf_counter()
    model = dc.tl.fit(
        adata,
        recipe="paper",
        max_epochs=1,
        patience=None,
        progress=False,
        accelerator=args.accelerator,
        devices=devices,
        strategy=strategy,
        precision=precision,
        limit_train_batches=args.steps,
        limit_val_batches=2,
        callbacks=[timer],
        seed=0,
    )
    wall = time.perf_counter() - t0
    ends, n = list(timer.ends), list(timer.n_loci)
    rate = sum(n[1:]) / (ends[-1] - ends[0]) if len(ends) > 2 else n[0] / max(wall, 1e-9)
    return model, {"wall": wall, "loci_s": rate, "steps": len(ends), "batch": n[0] if n else 0}


def _scale_data(args, folder: Path, n_loci: int):
    import deepcage as dc

    t0 = time.perf_counter()
    adata, _, _ = bs.build(n_loci, args.samples, args.tfs, folder)
    # TF expression from random TPMs through the package's normalisation, so the model records the reference that
    # new samples' RNA is normalised with (the track phase predicts from RNA)
    tfs = list(adata.varm["motif_scores"].columns)
    tpm = pd.DataFrame(
        np.random.default_rng(2).gamma(1.5, 20.0, (adata.n_obs, len(tfs))), adata.obs_names, tfs
    )
    dc.pp.tf_expression(adata, tpm, units="tpm")
    dc.pp.sequence_codes(adata, progress=False)  # stored once: each fit below reuses them
    say(f"{n_loci:,} x {args.samples} x {args.tfs} data built in {time.perf_counter() - t0:.0f} s")
    return adata


def phase_train(args, folder: Path) -> tuple[dict, object]:
    """Phase 2: the paper trunk at scale, fp32 and bf16-mixed, one device."""
    import torch

    adata = _scale_data(args, folder, args.loci)
    out, model = {}, None
    for precision in args.precisions:
        if args.accelerator == "gpu":
            torch.cuda.reset_peak_memory_stats()
        model, r = _fit_timed(adata, args, precision)
        mem = (
            f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GB"
            if args.accelerator == "gpu"
            else ""
        )
        say(
            f"fit paper trunk, {precision}, 1 device: {r['steps']} steps x {r['batch']} loci, "
            f"{r['loci_s']:,.0f} training loci/s (target >= {TARGET_TRAIN:,}), wall {r['wall']:.0f} s{mem}"
        )
        out[precision] = r["loci_s"]
    return out, model


def phase_accuracy(args) -> dict:
    """Phase 3: fp32 vs bf16-mixed on the hg38 blood-cell fold, same seed, AP in both prediction modes."""
    import deepcage as dc
    from deepcage.tl._evaluate import binary_metrics

    ad = dc.datasets.heme(genome="hg38", progress=False)
    if args.dry_run:  # a slice of the fold: the code path, not the number
        split = ad.var["split"].astype(str).to_numpy()
        keep = [
            np.flatnonzero(split == name)[:n] for name, n in (("train", 2000), ("val", 300), ("test", 600))
        ]
        ad = ad[:, np.sort(np.concatenate(keep))].copy()
    test = ad.obs["split"].astype(str).to_numpy() == "test"
    region = ad.var["split"].astype(str).to_numpy() == "test"
    y = np.asarray(ad.layers["binary"])[test]
    res = {}
    for precision in args.precisions:
        t0 = time.perf_counter()
        model = dc.tl.fit(
            ad,
            recipe="paper",
            max_epochs=args.heme_epochs,
            progress=False,
            accelerator=args.accelerator,
            precision=precision,
            seed=0,
            **({"limit_train_batches": 2, "limit_val_batches": 1} if args.dry_run else {}),
        )
        p = dc.tl.predict(model, ad, copy=True, progress=False).layers["deepcage"][test]
        ap = {
            mode: float(np.nanmean(binary_metrics(y[:, cols], np.asarray(p)[:, cols])["average_precision"]))
            for mode, cols in (("region", region), ("labelled", ~region))
        }
        res[precision] = ap
        say(
            f"hg38 heme fold, paper trunk, {precision}, {args.heme_epochs} epochs ({time.perf_counter() - t0:.0f} s): "
            f"AP held-out region {ap['region']:.3f}, labelled loci {ap['labelled']:.3f}"
        )
    return res


def phase_track(args, model, folder: Path) -> dict:
    """Phase 5: every 200-bp bin of a random hg38-sized genome for one new sample, to a bigWig."""
    import deepcage as dc
    from deepcage.io import Motif

    rng = np.random.default_rng(1)
    loci, sizes = bs.tiled_loci(args.bins)
    # contigs of another name than the training genome's (the same names with other lengths would be, rightly,
    # refused as another assembly)
    rename = {c: f"track{c[3:]}" for c in sizes}
    loci["chrom"] = loci["chrom"].cat.rename_categories(rename)
    sizes = {rename[c]: n for c, n in sizes.items()}
    t0 = time.perf_counter()
    fasta = bs.write_random_fasta(folder, sizes, rng)
    genome = dc.Genome(fasta, name="random")
    say(f"random genome of {sum(sizes.values()) / 1e9:.2f} Gb written in {time.perf_counter() - t0:.0f} s")
    # the model was trained on random motif scores: record a scan of random motifs (one per TF) so new loci can be
    # scored; the point is the time of scan + network + writing, not the values
    motifs = [
        Motif(name=f"{tf}_m", pwm=rng.dirichlet(np.ones(4) * 0.5, int(w)), tf=tf)
        for tf, w in zip(model.tfs, rng.integers(8, 20, len(model.tfs)), strict=True)
    ]
    model.set_motif_scan(motifs)
    rna = pd.DataFrame(
        rng.gamma(1.5, 20.0, (1, len(model.tfs))), index=["new_sample"], columns=list(model.tfs)
    )
    t0 = time.perf_counter()
    paths = dc.tl.predict_genome(
        model,
        rna,
        loci,
        genome=genome,
        out=folder / "track",
        accelerator=args.accelerator,
        progress=False,
        chunk_size=args.chunk,
    )
    dt = time.perf_counter() - t0
    size = sum(Path(p).stat().st_size for p in (paths if isinstance(paths, list) else [paths]))
    say(
        f"new-sample track: {args.bins:,} bins in {dt:.0f} s = {args.bins / dt:,.0f} bins/s "
        f"(target 15,000,000 bins in <= {TARGET_TRACK_S:.0f} s), bigWig {size / 2**20:.0f} MB"
    )
    return {"track_s": dt}


def phase_ddp(args, folder: Path) -> None:
    """Phase 4 (own process): the paper trunk on all visible GPUs."""
    import torch

    n = torch.cuda.device_count()
    adata = _scale_data(args, folder, args.ddp_loci)
    _, r = _fit_timed(adata, args, "bf16-mixed", devices=n, strategy="ddp")
    say(
        f"fit paper trunk, bf16-mixed, {n} GPUs (DDP) on {args.ddp_loci:,} loci: {r['loci_s']:,.0f} training loci/s "
        "on rank 0's steps (x the number of GPUs in all)"
    )
    if _rank0():
        print(f"SUMMARY_DDP gpus {n}: train {r['loci_s'] * n:,.0f} loci/s (bf16, all GPUs)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loci", type=int, default=1_750_000)
    ap.add_argument("--samples", type=int, default=55)
    ap.add_argument("--tfs", type=int, default=678)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--bins", type=int, default=15_000_000)
    ap.add_argument("--chunk", type=int, default=200_000, help="loci per chunk of the track")
    ap.add_argument("--scan-loci", type=int, default=200_000)
    ap.add_argument("--heme-epochs", type=int, default=10)
    ap.add_argument("--ddp-loci", type=int, default=300_000)
    ap.add_argument("--phase", choices=["all", "ddp"], default="all")
    ap.add_argument("--skip", nargs="*", default=[], choices=["scan", "train", "accuracy", "track"])
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU: check the code paths")
    args = ap.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=UserWarning)
    import torch

    if args.dry_run:
        # bf16 autocast on a CPU is ~6x slower than fp32 and says nothing about a GPU: fp32 only
        args.loci, args.samples, args.tfs, args.steps = 3000, 8, 40, 2
        args.bins, args.chunk, args.scan_loci, args.heme_epochs = 1000, 500, 300, 1
        args.accelerator, args.precisions = "cpu", ["32"]
        torch.set_num_threads(1)
    elif not torch.cuda.is_available():
        print(
            "gpu_check: no CUDA GPU visible to PyTorch (torch.cuda.is_available() is False): nothing to check."
        )
        print(
            f"gpu_check: torch {torch.__version__}, CUDA build {torch.version.cuda}; --dry-run checks on the CPU."
        )
        return
    else:
        args.accelerator, args.precisions = "gpu", ["32", "bf16-mixed"]
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False  # fp32 means fp32
        say(f"{torch.cuda.device_count()} GPU(s): {torch.cuda.get_device_name(0)}; torch {torch.__version__}")
    device = "cuda" if args.accelerator == "gpu" else "cpu"
    with tempfile.TemporaryDirectory(prefix="deepcage-gpu-check-") as tmp:
        folder = Path(tmp)
        if args.phase == "ddp":
            phase_ddp(args, folder)
            return
        t_all = time.perf_counter()
        scan = phase_scan(args, device) if "scan" not in args.skip else {}
        train, model = (
            phase_train(args, folder) if "train" not in args.skip or "track" not in args.skip else ({}, None)
        )
        acc = phase_accuracy(args) if "accuracy" not in args.skip else {}
        track = phase_track(args, model, folder) if "track" not in args.skip else {}
    fmt = lambda v, spec: "unmeasured" if v is None else format(v, spec)  # noqa: E731
    bf16 = acc.get("bf16-mixed", {}).get("region")
    fp32 = acc.get("32", {}).get("region")
    print(
        f"SUMMARY gpu_check {'dry-run (CPU)' if args.dry_run else torch.cuda.get_device_name(0)}, "
        f"{args.loci:,} x {args.samples} x {args.tfs}: scan {fmt(scan.get('scan_loci_s'), ',.0f')} loci/s, "
        f"train paper fp32 {fmt(train.get('32'), ',.0f')} / bf16 {fmt(train.get('bf16-mixed'), ',.0f')} loci/s "
        f"(target >= {TARGET_TRAIN:,}), heme region AP fp32 {fmt(fp32, '.3f')} / bf16 {fmt(bf16, '.3f')}, "
        f"track {args.bins:,} bins {fmt(track.get('track_s'), '.0f')} s (target <= {TARGET_TRACK_S:.0f}), "
        f"total {time.perf_counter() - t_all:.0f} s"
    )


if __name__ == "__main__":
    main()
