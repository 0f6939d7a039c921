"""Streaming prediction: peak memory at 10k vs 100k loci (target: within 10 %) and loci/s.

``dc.tl.predict(model, expr=rna, loci=..., genome=..., out="pred.h5ad")`` predicts new samples from their
RNA alone over loci that are not stored with the model: per chunk of ``chunk_size`` loci it reads the
sequences from the FASTA, scores the model's motifs, runs the network and writes the chunk to the output
file. Memory must therefore not grow with the number of loci.

Each size runs in a fresh Python process (``--child N``) that builds the same model (an untrained
``DeepCAGENet``: weights do not change the memory or the speed; the ``small`` preset narrowed to ``--conv-filters``
filters and one-layer dense blocks (``TINY``) so that 100k loci run in minutes on a busy 2-core CPU), the same 10 samples' RNA and the hg19 chr20
genome (decoded before the baseline is taken), picks N random 200-bp bins of chr20 (sequenced and N
stretches alike) and predicts them. It reports the peak resident memory **during** ``predict``
(the kernel's ``VmHWM`` counter, reset just before the call through ``/proc/self/clear_refs``; where that is
not possible, ``resource.getrusage().ru_maxrss`` of the whole process), the resident memory just before
``predict`` (baseline: Python, torch, numba, the decoded contig) and the wall time of ``predict``.

Run: python benchmarks/bench_streaming.py [--sizes 10000 100000] [--chunk-size 20000] [--out-format h5ad|bigwig]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _status_mb(field: str) -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (peak resident) of this process from /proc, in MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) of this process (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


#: A narrow trunk so that 100k loci run in minutes on a busy 2-core CPU (memory behaviour does not depend on it).
TINY = {"block_layers": 1, "growth": 8, "bottleneck": 8, "transition_filters": 8}


def child(args) -> None:
    import logging
    import warnings

    import pandas as pd
    import torch

    import deepcage as dc
    from deepcage.model._network import DeepCAGENet
    from deepcage.pp._motif_scores import scan_max

    logging.getLogger("deepcage").setLevel(logging.WARNING)
    warnings.simplefilter("ignore")
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    root = dc.datasets.shared_data_dir(args.data)
    genome = dc.Genome(
        [root / "genome" / "hg19_chr20_slices.fa.gz", root / "genome" / "b37_20_1-1Mb.fa.gz"], name="hg19"
    )
    motifs_all = dc.io.read_motifs(
        root / "motifs" / "HOCOMOCOv11_core_HUMAN_mono_homer_format_0.001.motif",
        tf_table=root / "motifs" / "HOCOMOCOv11_HUMAN_mono_motifs_core.tsv",
    )
    motifs, tfs = [], []
    for m in motifs_all:  # the first --tfs TFs, one motif each
        if m.tf not in tfs:
            motifs.append(m)
            tfs.append(m.tf)
        if len(tfs) == args.tfs:
            break
    net = DeepCAGENet(len(tfs), preset="small", hidden=64, **TINY, conv_filters=args.conv_filters).eval()
    rng = np.random.default_rng(0)
    quantiles = np.sort(rng.gamma(2.0, 1.5, len(tfs)))
    reference = {"tfs": tfs, "quantiles": quantiles, "units": "tpm", "train_samples": ["x"]}
    model = dc.DeepCAGE(net, tfs=tfs, tf_reference=reference, genome=genome.to_dict(), motifs=motifs)
    rna = pd.DataFrame(
        rng.gamma(1.0, 20.0, (10, len(tfs) + 50)),
        index=[f"sample{i}" for i in range(10)],
        columns=tfs + [f"GENE{i}" for i in range(50)],
    )
    n_bins = genome.chrom_size("chr20") // 200
    starts = np.sort(np.random.default_rng(1).choice(n_bins, args.child, replace=False)) * 200
    # loci as chr:start-end names (any form dc.tl.predict accepts would do)
    loci = [f"chr20:{s}-{s + 200}" for s in starts]

    # warm-up outside the measurement: decode the contig, compile the numba scan, run torch once
    genome.codes("chr20")
    scan_max(genome.windows(["chr20"] * 4, [10_000_000] * 4, 1000), [m.log_odds() for m in motifs])
    model.predict_arrays(np.zeros((2, 1000), np.uint8), np.zeros((2, len(tfs))), np.zeros((3, len(tfs))))
    base = _status_mb("VmRSS")
    peak_setup = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    reset = _reset_peak()

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / ("pred.h5ad" if args.out_format == "h5ad" else "tracks")
        t0 = time.perf_counter()
        dc.tl.predict(
            model, expr=rna, loci=loci, genome=genome, out=out, chunk_size=args.chunk_size, progress=False
        )
        elapsed = time.perf_counter() - t0
        if args.out_format == "h5ad":
            import anndata

            written = anndata.read_h5ad(out, backed="r")
            shape = written.shape
            sample = np.asarray(written.X[:, : min(1000, shape[1])])
            assert np.isfinite(sample).all()
            written.file.close()
        else:
            shape = (len(list(out.glob("*.bw"))), len(loci))
    peak = _status_mb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_process = max(peak, peak_setup)  # the reset also clears ru_maxrss
    print(
        json.dumps(
            {
                "n": args.child,
                "shape": list(shape),
                "base_mb": base,
                "peak_setup_mb": peak_setup,
                "peak_mb": peak,
                "peak_process_mb": peak_process,
                "peak_is_predict_only": reset,
                "seconds": elapsed,
                "loci_per_s": args.child / elapsed,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--chunk-size", type=int, default=20_000, help="dc.tl.predict chunk_size (its default)"
    )
    parser.add_argument("--tfs", type=int, default=16)
    parser.add_argument("--conv-filters", type=int, default=8)
    parser.add_argument("--out-format", choices=["h5ad", "bigwig"], default="h5ad")
    parser.add_argument("--data", default=None, help="shared/data folder")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: on a shared machine whose load exceeds its cores, multi-threaded kernels on small batches mostly wait at thread barriers; use 2+ on an idle machine)",
    )
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args)
        return

    print(
        f"{os.cpu_count()} CPUs, {args.threads} torch thread(s), load average "
        f"{tuple(round(x, 2) for x in os.getloadavg())}"
    )
    print(
        f"predict(expr=10 samples' RNA, loci=N random chr20 bins, out={args.out_format}), chunk_size={args.chunk_size}, "
        f"{args.tfs} TFs, tiny trunk ({args.conv_filters} filters, 1-layer blocks); each size in a fresh process"
    )
    results = []
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--child", str(n), "--chunk-size", str(args.chunk_size)]
        cmd += [
            "--tfs",
            str(args.tfs),
            "--conv-filters",
            str(args.conv_filters),
            "--out-format",
            args.out_format,
        ]
        if args.data:
            cmd += ["--data", args.data]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            raise SystemExit(f"child for {n} loci failed")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        print(
            f"  {n:>7,} loci: peak RSS in predict {r['peak_mb']:7.1f} MB (before predict {r['base_mb']:.1f} MB, "
            f"growth {r['peak_mb'] - r['base_mb']:6.1f} MB; whole process {r['peak_process_mb']:.1f} MB), "
            f"{r['seconds']:6.1f} s, {r['loci_per_s']:7.0f} loci/s"
        )
    small, big = results[0], results[-1]
    ratio = big["peak_mb"] / small["peak_mb"]
    growth_ratio = (big["peak_mb"] - big["base_mb"]) / max(small["peak_mb"] - small["base_mb"], 1e-9)
    print(f"load average after: {tuple(round(x, 2) for x in os.getloadavg())}")
    print(
        f"SUMMARY streaming predict: peak RSS {big['n']:,} vs {small['n']:,} loci = {ratio:.3f}x "
        f"({big['peak_mb']:.0f} vs {small['peak_mb']:.0f} MB; growth during predict {growth_ratio:.2f}x) "
        f"(target <= 1.10x: {'met' if ratio <= 1.10 else 'NOT met'}); {big['loci_per_s']:.0f} / "
        f"{small['loci_per_s']:.0f} loci/s x 10 samples"
    )


if __name__ == "__main__":
    main()
