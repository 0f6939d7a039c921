"""Streaming prediction for new samples: peak memory from 10k to 1M loci (target: within 10 %) and loci/s.

``dc.tl.predict(model, expr=rna, loci=..., genome=..., out="pred.h5ad")`` predicts new samples from their
RNA alone over loci that are not stored with the model: per chunk of ``chunk_size`` loci it reads the
sequences from the FASTA, scans the model's motifs, runs the network and writes the chunk to the output file.
Memory must therefore not grow with the number of loci: the loci are a compact table (categorical contig,
int64 start/end, no ``chr:start-end`` strings; as ``dc.pp.bin_genome(..., names=False)`` returns), and the
output's locus names are written chunk by chunk.

Memory part. Each size runs in a fresh Python process (``--child N``) that builds the same model (an
untrained ``DeepCAGENet``: weights do not change the memory or the speed; the ``small`` preset narrowed to
``--conv-filters`` filters and one-layer dense blocks (``TINY``) so that 1M loci run in minutes on a busy 2-core
CPU), the same 10 samples' RNA and the hg19 chr20 genome (decoded before the baseline is taken), picks N random
200-bp loci of chr20 (sequenced and N stretches alike; they may overlap) and predicts them. It reports the peak
resident memory **during** ``predict`` (the kernel's ``VmHWM`` counter, reset just before the call through
``/proc/self/clear_refs``; where that is not possible, ``resource.getrusage().ru_maxrss`` of the whole
process), the resident memory just before ``predict`` (baseline: Python, torch, numba, the decoded contig, the
loci table) and the wall time of ``predict``.

Speed part (``--paper-loci``, default 2,000): end-to-end loci/s for **one** new sample with the ``paper``
preset network and all HOCOMOCO v11 motifs (the TFs with a motif), the way a user would predict a whole genome:
sequence reading, motif scan (numba, all cores), network (``--threads`` torch threads), h5ad writing. The
motif scan alone is timed on the same loci to split the time.

Run: python benchmarks/bench_streaming.py [--sizes 10000 100000 1000000] [--chunk-size N] [--paper-loci 2000]
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
    dc.settings.n_threads = args.threads
    root = dc.datasets.shared_data_dir(args.data)
    genome = dc.Genome(
        [root / "genome" / "hg19_chr20_slices.fa.gz", root / "genome" / "b37_20_1-1Mb.fa.gz"], name="hg19"
    )
    motifs_all = dc.io.read_motifs(
        root / "motifs" / "HOCOMOCOv11_core_HUMAN_mono_homer_format_0.001.motif",
        tf_table=root / "motifs" / "HOCOMOCOv11_HUMAN_mono_motifs_core.tsv",
    )
    motifs, tfs = [], []
    for m in motifs_all:  # the first --tfs TFs (all with --paper), one motif each
        if m.tf not in tfs:
            motifs.append(m)
            tfs.append(m.tf)
        if len(tfs) == args.tfs and not args.paper:
            break
    if args.paper:
        net = DeepCAGENet(len(tfs), preset="paper").eval()
    else:
        net = DeepCAGENet(len(tfs), preset="small", hidden=64, **TINY, conv_filters=args.conv_filters).eval()
    rng = np.random.default_rng(0)
    quantiles = np.sort(rng.gamma(2.0, 1.5, len(tfs)))
    reference = {"tfs": tfs, "quantiles": quantiles, "units": "tpm", "train_samples": ["x"]}
    model = dc.DeepCAGE(net, tfs=tfs, tf_reference=reference, genome=genome.to_dict(), motifs=motifs)
    n_samples = 1 if args.paper else 10
    rna = pd.DataFrame(
        rng.gamma(1.0, 20.0, (n_samples, len(tfs) + 50)),
        index=[f"sample{i}" for i in range(n_samples)],
        columns=tfs + [f"GENE{i}" for i in range(50)],
    )
    # a compact loci table (what bin_genome(names=False) returns): 17 bytes per locus. bigWig tracks need
    # non-overlapping loci: distinct 200-bp bins then (at most the 315k bins of chr20)
    size = genome.chrom_size("chr20")
    draw = np.random.default_rng(1)
    if args.out_format == "bigwig":
        starts = np.sort(draw.choice(size // 200, args.child, replace=False)) * 200
    else:
        starts = np.sort(draw.integers(0, size - 200, args.child))
    loci = pd.DataFrame(
        {
            "chrom": pd.Categorical.from_codes(np.zeros(args.child, np.int8), ["chr20"]),
            "start": starts,
            "end": starts + 200,
        }
    )
    del starts

    # warm-up outside the measurement: decode the contig, compile the numba scan, run torch once
    genome.codes("chr20")
    scan_max(
        genome.windows(["chr20"] * 4, [10_000_000] * 4, 1000), [m.log_odds() for m in motifs], device="cpu"
    )
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
        # the peak of predict, read before the output is opened (reading it back loads its N locus names)
        peak = _status_mb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if args.out_format == "h5ad":
            import anndata

            written = anndata.read_h5ad(out, backed="r")
            shape = written.shape
            sample = np.asarray(written.X[:, : min(1000, shape[1])])
            assert np.isfinite(sample).all()
            written.file.close()
        else:
            shape = (len(list(out.glob("*.bw"))), len(loci))
    peak_process = max(peak, peak_setup)  # the reset also clears ru_maxrss
    scan_s = float("nan")
    if args.paper:  # the motif scan alone, on the same loci
        from deepcage._onehot import locus_codes

        t0 = time.perf_counter()
        for lo in range(0, len(loci), args.chunk_size):
            t = loci.iloc[lo : lo + args.chunk_size]
            codes = locus_codes(genome, t["chrom"].to_numpy(), t["start"].to_numpy(), t["end"].to_numpy())
            scan_max(codes, [m.log_odds() for m in motifs], device="cpu")
        scan_s = time.perf_counter() - t0
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
                "scan_seconds": scan_s,
                "n_tfs": len(tfs),
                "n_motifs": len(motifs),
                "load": os.getloadavg()[0],
            }
        )
    )


def _run_child(n: int, args, *extra: str) -> dict:
    cmd = [sys.executable, __file__, "--child", str(n), "--chunk-size", str(args.chunk_size)]
    cmd += ["--tfs", str(args.tfs), "--conv-filters", str(args.conv_filters), "--out-format", args.out_format]
    cmd += ["--threads", str(args.threads), *extra]
    if args.data:
        cmd += ["--data", args.data]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"child for {n} loci failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _load() -> str:
    return "load " + "/".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument(
        "--chunk-size", type=int, default=None, help="dc.tl.predict chunk_size (default: its default)"
    )
    parser.add_argument("--tfs", type=int, default=16)
    parser.add_argument("--conv-filters", type=int, default=8)
    parser.add_argument("--out-format", choices=["h5ad", "bigwig"], default="h5ad")
    parser.add_argument(
        "--paper-loci", type=int, default=2000, help="loci of the paper-preset speed run (0: skip)"
    )
    parser.add_argument("--data", default=None, help="shared/data folder")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: on a shared machine whose load exceeds its cores, multi-threaded kernels on small batches mostly wait at thread barriers; use 2+ on an idle machine)",
    )
    parser.add_argument("--paper", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.chunk_size is None:
        import inspect

        from deepcage.tl._predict import predict

        args.chunk_size = inspect.signature(predict).parameters["chunk_size"].default
    if args.child is not None:
        child(args)
        return

    print(f"{os.cpu_count()} CPUs, {args.threads} torch thread(s); {_load()}")
    print(
        f"predict(expr=10 samples' RNA, loci=N random chr20 loci, out={args.out_format}), chunk_size={args.chunk_size}, "
        f"{args.tfs} TFs, tiny trunk ({args.conv_filters} filters, 1-layer blocks); each size in a fresh process"
    )
    results = []
    for n in args.sizes:
        r = _run_child(n, args)
        results.append(r)
        print(
            f"  {n:>9,} loci: peak RSS in predict {r['peak_mb']:7.1f} MB (before predict {r['base_mb']:.1f} MB, "
            f"growth {r['peak_mb'] - r['base_mb']:6.1f} MB; whole process {r['peak_process_mb']:.1f} MB), "
            f"{r['seconds']:7.1f} s, {r['loci_per_s']:7.0f} loci/s (load {r['load']:.1f})"
        )
    small, big = results[0], results[-1]
    ratio = big["peak_mb"] / small["peak_mb"]
    growth_ratio = (big["peak_mb"] - big["base_mb"]) / max(small["peak_mb"] - small["base_mb"], 1e-9)
    summary = (
        f"SUMMARY streaming predict: peak RSS {big['n']:,} vs {small['n']:,} loci = {ratio:.3f}x "
        f"({big['peak_mb']:.0f} vs {small['peak_mb']:.0f} MB; growth during predict {growth_ratio:.2f}x) "
        f"(target <= 1.10x: {'met' if ratio <= 1.10 else 'NOT met'}); {big['loci_per_s']:.0f} / "
        f"{small['loci_per_s']:.0f} loci/s x 10 samples (tiny trunk)"
    )
    if args.paper_loci:
        r = _run_child(args.paper_loci, args, "--paper")
        scan_rate = args.paper_loci / r["scan_seconds"]
        print(
            f"paper preset, one new sample, {r['n_tfs']} TFs ({r['n_motifs']} HOCOMOCO motifs), {args.paper_loci:,} "
            f"loci: {r['loci_per_s']:.1f} loci/s end to end ({r['seconds']:.1f} s; motif scan alone "
            f"{r['scan_seconds']:.1f} s = {scan_rate:,.0f} loci/s, so the network takes "
            f"{100 * (1 - r['scan_seconds'] / r['seconds']):.0f} %); load {r['load']:.1f}"
        )
        summary += f"; paper preset end to end {r['loci_per_s']:.1f} loci/s for 1 sample ({args.threads} torch thread(s))"
    print(f"load average after: {_load()}")
    print(summary)


if __name__ == "__main__":
    main()
