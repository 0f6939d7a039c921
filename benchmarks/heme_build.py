"""Build time of the blood-cell dataset on hg19 and hg38 (no cache): rows, seconds, hg38 / hg19 ratio.

Target (issue 11): ``dc.datasets.heme(genome="hg38")`` builds in under 5 minutes on 2 cores. The motif scan
(HOCOMOCO v11, 400 TFs) is most of the time; the hg38 build has 4.4x the loci of the hg19 one.

    python benchmarks/heme_build.py            # [--data PATH] [--genomes hg19 hg38]
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", default=None, help="example data folder (default: found like dc.datasets.heme)"
    )
    parser.add_argument("--genomes", nargs="+", default=["hg19", "hg38"])
    args = parser.parse_args()

    import deepcage as dc

    seconds = {}
    for genome in args.genomes:
        before = os.getloadavg()
        t0 = time.perf_counter()
        adata = dc.datasets.heme(args.data, genome=genome, cache=False, progress=False)
        seconds[genome] = time.perf_counter() - t0
        after = os.getloadavg()
        print(
            f"{genome}: {adata.n_obs} samples x {adata.n_vars:,} loci, {len(adata.uns['deepcage']['tfs'])} TFs, "
            f"built in {seconds[genome]:.1f} s (load average {before[0]:.1f} -> {after[0]:.1f})"
        )
    summary = ", ".join(f"{g} {s:.0f} s" for g, s in seconds.items())
    if {"hg19", "hg38"} <= set(seconds):
        summary += f", hg38/hg19 {seconds['hg38'] / seconds['hg19']:.1f}x"
    if "hg38" in seconds:
        summary += f"; hg38 target < 300 s: {'met' if seconds['hg38'] < 300 else 'NOT met'}"
    print(f"SUMMARY heme build: {summary}")


if __name__ == "__main__":
    main()
