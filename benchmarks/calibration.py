"""Calibration of predicted probabilities for held-out cell types, in both prediction modes.

``dc.datasets.heme`` (hg38 by default: every 200-bp bin of 9.9 Mb of chr20, 10 blood cell types, two held out),
the default model (``fit(preset='small', hidden=256)``), predictions for the held-out cell types from their RNA:

* labelled loci (train/val loci: the training cell types' labels feed the kNN prior),
* the held-out region (test loci: no labels, sequence + expression alone, as every bin of a genome-wide track).

Per mode: ECE (10 equal-width bins), Brier score next to a constant predictor's, mean prediction vs positive
rate. Per held-out cell type: the mean prediction over the whole contig (what its bigWig averages to) vs its
open fraction. Run from the repository root::

    python benchmarks/calibration.py [--genome hg38] [--epochs 10] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings

import numpy as np
import torch

import deepcage as dc
from deepcage.tl._evaluate import calibration_metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genome", default="hg38", choices=["hg19", "hg38"])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    print(f"load average {os.getloadavg()[0]:.1f}")
    ad = dc.datasets.heme(genome=args.genome, progress=False)
    test = ad.obs["split"].astype(str).to_numpy() == "test"
    region = ad.var["split"].astype(str).to_numpy() == "test"
    y = np.asarray(ad.layers["binary"], dtype=np.float64)
    rows = {"labelled loci": [], "held-out region": []}
    track = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = dc.tl.fit(
                ad, preset="small", hidden=256, max_epochs=args.epochs, seed=seed, progress=False
            )
        dc.tl.predict(model, ad, progress=False)
        p = np.asarray(ad.layers["deepcage"], dtype=np.float64)
        print(
            f"seed {seed}: fit {time.perf_counter() - t0:.0f} s, novel calibration {model.params['novel_calibration']}"
        )
        for name, cols in (("labelled loci", ~region), ("held-out region", region)):
            m = calibration_metrics(y[test][:, cols].ravel()[None], p[test][:, cols].ravel()[None])
            rows[name].append({k: float(np.asarray(v).ravel()[0]) for k, v in m.items()})
        for i in np.flatnonzero(test):
            track.append((seed, ad.obs_names[i], p[i].mean(), y[i].mean()))
            # where a cell type's excess comes from: each mode's mean prediction vs its open fraction
            print(
                f"  seed {seed} {ad.obs_names[i]}: labelled loci mean {p[i, ~region].mean():.4f} vs open "
                f"{y[i, ~region].mean():.4f}; held-out region mean {p[i, region].mean():.4f} vs open "
                f"{y[i, region].mean():.4f}"
            )
    print(f"\n{'mode':<16} {'ECE':>14} {'Brier':>14} {'constant':>9} {'mean pred':>14} {'pos rate':>9}")
    for name, rs in rows.items():

        def ms(k, rs=rs):
            v = np.array([r[k] for r in rs])
            return f"{v.mean():.4f} ± {v.std():.4f}"

        pos = np.mean([r["pos_rate"] for r in rs])
        print(
            f"{name:<16} {ms('ece'):>14} {ms('brier'):>14} {pos * (1 - pos):9.4f} {ms('mean_pred'):>14} {pos:9.4f}"
        )
    print("\nwhole contig (the bigWig's mean) per held-out cell type:")
    for seed, name, mean_pred, frac in track:
        print(
            f"  seed {seed} {name}: mean prediction {mean_pred:.4f}, open fraction {frac:.4f}, ratio {mean_pred / frac:.2f}"
        )
    worst = max(rows, key=lambda k: np.mean([r["ece"] for r in rows[k]]))
    ratios = [t[2] / t[3] for t in track]
    print(
        f"SUMMARY calibration {args.genome}: ECE labelled {np.mean([r['ece'] for r in rows['labelled loci']]):.4f}, "
        f"held-out region {np.mean([r['ece'] for r in rows['held-out region']]):.4f} (worst: {worst}); "
        f"contig mean / open fraction {min(ratios):.2f}-{max(ratios):.2f}"
    )


if __name__ == "__main__":
    main()
