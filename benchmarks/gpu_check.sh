#!/usr/bin/env bash
# Train DeepCAGE briefly on CUDA and report throughput (loci and (locus, sample) pairs per second).
#
#   bash benchmarks/gpu_check.sh [N_LOCI] [EPOCHS] [DEVICES]
#
# Uses the synthetic dataset (paper-size network, mixed precision, whole sequence cache on the GPU).
# Without a CUDA GPU it prints a message and exits with status 0 (nothing to check).
set -euo pipefail
N_LOCI="${1:-20000}"
EPOCHS="${2:-2}"
DEVICES="${3:-1}"

python - "$N_LOCI" "$EPOCHS" "$DEVICES" <<'PY'
import sys
import time

import torch

if not torch.cuda.is_available():
    print("gpu_check: no CUDA GPU visible to PyTorch (torch.cuda.is_available() is False): nothing to check.")
    print(f"gpu_check: torch {torch.__version__}, CUDA build {torch.version.cuda}. Install a CUDA build of torch on a GPU machine.")
    sys.exit(0)

import deepcage as dc

n_loci, epochs, devices = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
print(f"gpu_check: {torch.cuda.device_count()} GPU(s): {torch.cuda.get_device_name(0)}; torch {torch.__version__}")
t0 = time.perf_counter()
adata = dc.datasets.synthetic(n_samples=24, n_loci=n_loci, n_tfs=400, n_test_samples=4, seed=0)
print(f"gpu_check: synthetic data {adata.shape} built in {time.perf_counter() - t0:.1f} s")

n_train_loci = int((adata.var["split"] == "train").sum())
n_train_samples = int((adata.obs["split"] == "train").sum())
t0 = time.perf_counter()
model = dc.tl.fit(
    adata,
    preset="paper",
    max_epochs=epochs,
    patience=epochs + 1,
    accelerator="gpu",
    devices=devices,
    strategy="ddp" if devices > 1 else "auto",
    batch_loci=256,
    progress_bar=False,
)
torch.cuda.synchronize()
dt = time.perf_counter() - t0
print(model)
print(model.history_)
loci_per_s = n_train_loci * len(model.history_) / dt
print(
    f"gpu_check: {len(model.history_)} epoch(s) in {dt:.1f} s (incl. validation and start-up): "
    f"{loci_per_s:,.0f} training loci/s, {loci_per_s * n_train_samples:,.0f} (locus, sample) pairs/s "
    f"(trunk reuse over {n_train_samples} samples), peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GB"
)
model.network.cuda()
t0 = time.perf_counter()
dc.tl.predict(model, adata, progress=False)
print(f"gpu_check: prediction of {adata.n_obs} x {adata.n_vars} in {time.perf_counter() - t0:.1f} s")
PY
