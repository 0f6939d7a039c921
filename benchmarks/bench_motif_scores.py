"""Motif scoring speed: ``dc.pp.motif_scores`` (the scan behind it) vs memelite FIMO on the same motifs and loci.

Both scan every HOCOMOCO v11 motif on both strands of 1-kb windows of real hg19 chr20 loci. FIMO counts hits
above a p-value threshold (1e-4); deepcage computes the best log-odds score per motif, either exactly
(``min_score=None``, the default) or above each motif's HOMER threshold (``min_score='motif'``), the
like-for-like comparison with a thresholded scanner.

Run: python benchmarks/bench_motif_scores.py [--loci 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loci", type=int, default=1000)
    parser.add_argument("--data", default=None, help="shared/data folder")
    args = parser.parse_args()

    import memelite

    import deepcage as dc
    from deepcage.pp._motif_scores import scan_max

    root = dc.datasets.shared_data_dir(args.data)
    motifs = dc.io.read_motifs(
        root / "motifs" / "HOCOMOCOv11_core_HUMAN_mono_homer_format_0.001.motif",
        tf_table=root / "motifs" / "HOCOMOCOv11_HUMAN_mono_motifs_core.tsv",
    )
    genome = dc.Genome(
        [root / "genome" / "hg19_chr20_slices.fa.gz", root / "genome" / "b37_20_1-1Mb.fa.gz"], name="hg19"
    )
    rng = np.random.default_rng(0)
    centers = rng.integers(10_000_000, 11_000_000, args.loci)
    codes = genome.windows(["chr20"] * args.loci, centers, 1000)
    onehot = dc.pp.one_hot(codes).astype(np.float32)
    print(f"{args.loci} loci x {len(motifs)} motifs, both strands, 1,000 bp ")

    pwms = {m.name: m.pwm.T.copy() for m in motifs}
    memelite.fimo(pwms, onehot[:10], return_counts=True)  # numba compile outside the timing
    t0 = time.perf_counter()
    memelite.fimo(pwms, onehot, return_counts=True)
    t_fimo = time.perf_counter() - t0

    log_odds = [m.log_odds() for m in motifs]
    cuts = np.array([m.threshold for m in motifs])
    scan_max(codes[:10], log_odds)  # numba compile outside the timing
    t0 = time.perf_counter()
    scan_max(codes, log_odds)
    t_exact = time.perf_counter() - t0
    t0 = time.perf_counter()
    scan_max(codes, log_odds, thresholds=cuts)
    t_cut = time.perf_counter() - t0

    print(f"memelite FIMO (p < 1e-4):              {args.loci / t_fimo:8.1f} loci/s ({t_fimo:.2f} s)")
    print(
        f"deepcage exact best score:             {args.loci / t_exact:8.1f} loci/s ({t_exact:.2f} s)  ratio {t_fimo / t_exact:.2f}x"
    )
    print(
        f"deepcage above HOMER thresholds:       {args.loci / t_cut:8.1f} loci/s ({t_cut:.2f} s)  ratio {t_fimo / t_cut:.2f}x"
    )
    print(
        f"SUMMARY motif scoring deepcage/FIMO: thresholded {t_fimo / t_cut:.2f}x, exact {t_fimo / t_exact:.2f}x (target >= 1x)"
    )


if __name__ == "__main__":
    main()
