#!/usr/bin/env bash
# Check DeepCAGE on CUDA: the motif scan on the GPU (loci/s, agreement with the CPU scan), then brief training
# and prediction (loci and (locus, sample) pairs per second).
#
#   bash benchmarks/gpu_check.sh [N_LOCI] [EPOCHS] [DEVICES] [SCAN_LOCI]
#
# Motif scan: SCAN_LOCI (default 200,000) random 1-kb sequences x the 401 HOCOMOCO v11 motifs when the example
# data are found (../shared/data or $DEEPCAGE_SHARED_DATA), else 401 random motifs of the same widths; both
# strands, every window, float32 convolution (TF32 off). Target: >= 100,000 loci/s on one datacenter GPU.
# Training: the synthetic dataset (paper-size network, mixed precision, whole sequence cache on the GPU).
# Genome-wide prediction: every 200-bp bin of the synthetic genome for one new sample's RNA, streamed to a
# bigWig (sequences read, motifs scanned and the network run chunk by chunk on the GPU); with DEVICES > 1 also
# split over the GPUs (Lightning DDP) and checked equal to the one-GPU output.
# Without a CUDA GPU it prints a message and exits with status 0 (nothing to check).
# The Python part is written to a file: strategy="ddp" starts one process per GPU by re-running it.
set -euo pipefail
N_LOCI="${1:-20000}"
EPOCHS="${2:-2}"
DEVICES="${3:-1}"
SCAN_LOCI="${4:-200000}"
SCRIPT="$(mktemp -d)/deepcage_gpu_check.py"
trap 'rm -rf "$(dirname "$SCRIPT")"' EXIT

cat > "$SCRIPT" <<'PY'
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

if not torch.cuda.is_available():
    print("gpu_check: no CUDA GPU visible to PyTorch (torch.cuda.is_available() is False): nothing to check.")
    print(f"gpu_check: torch {torch.__version__}, CUDA build {torch.version.cuda}. Install a CUDA build of torch on a GPU machine.")
    sys.exit(0)

import deepcage as dc
from deepcage.pp._motif_scan import _prepared, _torch_batch, scan_max, scan_tolerance

n_loci, epochs, devices, scan_loci = (int(a) for a in sys.argv[1:5])
rank0 = os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"
if rank0:
    print(f"gpu_check: {torch.cuda.device_count()} GPU(s): {torch.cuda.get_device_name(0)}; torch {torch.__version__}")

# ---- motif scan (rank 0 only: under DDP the other GPUs' processes run this file too)
rng = np.random.default_rng(0)
if rank0:
    try:
        root = dc.datasets.shared_data_dir()
        motifs = dc.io.read_motifs(
            root / "motifs" / "HOCOMOCOv11_core_HUMAN_mono_homer_format_0.001.motif",
            tf_table=root / "motifs" / "HOCOMOCOv11_HUMAN_mono_motifs_core.tsv",
        )
        log_odds, source = [m.log_odds() for m in motifs], "HOCOMOCO v11"
    except FileNotFoundError:
        log_odds, source = [rng.normal(0, 1.5, (w, 4)) for w in rng.integers(7, 25, 401)], "random"
    codes = rng.integers(0, 4, (scan_loci, 1000)).astype(np.uint8)
    codes[rng.random(codes.shape) < 0.01] = 4  # some N
    gpu = torch.device("cuda")
    scan_max(codes[:1000], log_odds, device=gpu)  # cuDNN set-up outside the timing
    t0 = time.perf_counter()
    on_gpu = scan_max(codes, log_odds, device=gpu)
    dt = time.perf_counter() - t0
    rate = scan_loci / dt
    batch = _torch_batch(_prepared(log_odds), 1000, gpu)
    print(
        f"gpu_check: motif scan {scan_loci:,} loci x {len(log_odds)} {source} motifs (both strands) on the GPU: "
        f"{dt:.2f} s = {rate:,.0f} loci/s (target >= 100,000: {'met' if rate >= 1e5 else 'NOT met'}); "
        f"batch {batch:,} loci; peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GB"
    )
    t0 = time.perf_counter()
    on_cpu = scan_max(codes[:2000], log_odds, device="cpu")
    cpu_rate = 2000 / (time.perf_counter() - t0)
    diff = np.abs(on_gpu[:2000] - on_cpu)
    bound = scan_tolerance(log_odds) + scan_tolerance(log_odds, conv=True)
    print(
        f"gpu_check: GPU vs CPU scan on 2,000 loci: max |difference| {diff.max():.2e} "
        f"({'within' if (diff <= bound[None, :]).all() else 'OUTSIDE'} the float32 bound, max {bound.max():.2e}); "
        f"CPU scan here {cpu_rate:,.0f} loci/s"
    )
torch.cuda.reset_peak_memory_stats()

# ---- training and prediction
t0 = time.perf_counter()
mdata = dc.datasets.synthetic(n_samples=24, n_loci=n_loci, n_tfs=400, n_test_samples=4, seed=0, rna=True)
adata = mdata["atac"]
print(f"gpu_check: synthetic data {adata.shape} built in {time.perf_counter() - t0:.1f} s")

n_train_loci = int((adata.var["split"] == "train").sum())
n_train_samples = int((adata.obs["split"] == "train").sum())
t0 = time.perf_counter()
model = dc.tl.fit(
    mdata,
    preset="paper",
    max_epochs=epochs,
    patience=epochs + 1,
    accelerator="gpu",
    devices=devices,
    strategy="ddp" if devices > 1 else "auto",
    batch_loci=256,
    progress=False,
)
torch.cuda.synchronize()
dt = time.perf_counter() - t0
print(model)
print(model.history)
loci_per_s = n_train_loci * len(model.history) / dt
print(
    f"gpu_check: {len(model.history)} epoch(s) in {dt:.1f} s (incl. validation and start-up): "
    f"{loci_per_s:,.0f} training loci/s, {loci_per_s * n_train_samples:,.0f} (locus, sample) pairs/s "
    f"(trunk reuse over {n_train_samples} samples), peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GB"
)
model.network.cuda()
t0 = time.perf_counter()
dc.tl.predict(model, adata, progress=False)
print(f"gpu_check: prediction of {adata.n_obs} x {adata.n_vars} in {time.perf_counter() - t0:.1f} s")

# ---- genome-wide prediction for one new sample, streamed (motifs scanned chunk by chunk on the GPU)
genome = dc.Genome(model.genome["fasta"], name=model.genome["name"])
bins = dc.pp.bin_genome(genome, names=False)
rna = mdata["rna"][:1]
model.motifs = dc.datasets.synthetic_motifs(mdata)
out = Path(tempfile.mkdtemp(prefix="deepcage-gpu-check-"))
kw = {"expr": rna, "loci": bins, "genome": genome, "progress": False}
t0 = time.perf_counter()
dc.tl.predict(model, out=out / "one_gpu.h5ad", **kw)
dt = time.perf_counter() - t0
print(f"gpu_check: genome-wide prediction, 1 GPU: {len(bins):,} bins in {dt:.1f} s = {len(bins) / dt:,.0f} loci/s")
if devices > 1:
    t0 = time.perf_counter()
    done = dc.tl.predict(model, out=out / "ddp.h5ad", devices=devices, strategy="ddp", **kw)
    dt = time.perf_counter() - t0
    if done is not None:  # rank 0
        import anndata

        a = np.asarray(anndata.read_h5ad(out / "ddp.h5ad").X)
        b = np.asarray(anndata.read_h5ad(out / "one_gpu.h5ad").X)
        print(
            f"gpu_check: genome-wide prediction, {devices} GPUs (DDP): {len(bins) / dt:,.0f} loci/s; max "
            f"|difference| to the 1-GPU output {np.abs(a - b).max():.1e} (0 expected up to cuDNN's algorithm choice)"
        )
PY
python "$SCRIPT" "$N_LOCI" "$EPOCHS" "$DEVICES" "$SCAN_LOCI"
