#!/usr/bin/env bash
# GPU readiness at the paper's scale (issue 19): one call, <= 8 minutes on one datacenter GPU, one SUMMARY line.
#
#   bash benchmarks/gpu_check.sh [extra arguments of benchmarks/gpu_check.py, e.g. --steps 100 --skip accuracy]
#
# Phases (see gpu_check.py's docstring): the motif scan on the GPU; fit of the paper trunk at 1.75 M loci x 55
# samples x 678 TFs in fp32 and bf16-mixed; fp32 vs bf16 AP on the hg38 blood-cell fold; a 15 M-bin new-sample
# track to bigWig; with more than one GPU visible, the same fit on all of them (DDP, its own process: Lightning
# re-runs the script once per GPU). Without a CUDA GPU it says so and exits 0; `--dry-run` checks every phase at
# a tiny size on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
LIMIT="${GPU_CHECK_LIMIT_S:-460}"   # the whole check must fit one 8-minute device call
timeout "$LIMIT" python benchmarks/gpu_check.py "$@" 2>&1 | grep -v "Warning\|warnings.warn" || echo "gpu_check: stopped (status $?, limit ${LIMIT} s)"
N_GPU="$(python -c 'import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)')"
if [ "$N_GPU" -gt 1 ]; then
  timeout 120 python benchmarks/gpu_check.py --phase ddp "$@" 2>&1 | grep -v "Warning\|warnings.warn" || echo "gpu_check: DDP phase stopped"
fi
