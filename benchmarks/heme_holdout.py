"""Blood cells (hg19 chr20): train on 8 cell types, predict 2 held-out ones from their RNA alone.

Prints the auPR (average precision) on the held-out cell types x known loci (train+val: seen in training, for
other cell types; the paper's main setting) and x novel loci (the held-out test region) of DeepCAGE vs the
locus-mean baseline (each locus' mean accessibility over the training cell types; it cannot tell cell types
apart). The held-out cell types' ATAC is never used: their predictions come from `dc.tl.predict(model,
expr=rna)`, i.e. RNA -> TF expression normalised with the training reference -> model.

    python benchmarks/heme_holdout.py [--preset small|paper] [--epochs N] [--seed S]

Result (CPU, small preset, hidden 256, seed 0, early stopping on val_loss, 2026-11-29, 139 s of training on 2
cores): known loci mean cell-wise auPR 0.848 vs locus-mean 0.766 (GMP-B 0.868 vs 0.823, CD8 0.827 vs 0.708);
novel (test) loci GMP-B 0.732 vs 0.662 (CD8 has no open test locus).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.metrics import average_precision_score

import deepcage as dc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small", choices=["small", "paper"])
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--monitor", default="val_loss", help="early-stopping metric (val_loss or val_auprc)")
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--batch-loci", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    mdata = dc.datasets.heme(mudata=True, progress=False)
    adata = mdata["atac"]
    test_samples = list(adata.obs_names[adata.obs["split"] == "test"])
    train_samples = list(adata.obs_names[adata.obs["split"] == "train"])
    print(
        f"data {adata.shape} in {time.perf_counter() - t0:.0f} s; train cell types {train_samples}; held out {test_samples}"
    )

    t0 = time.perf_counter()
    model = dc.tl.fit(
        adata,
        preset=args.preset,
        hidden=args.hidden,
        max_epochs=args.epochs,
        batch_loci=args.batch_loci,
        lr=1e-3,
        patience=args.patience,
        monitor=args.monitor,
        seed=args.seed,
        progress=False,
    )
    print(model)
    print(model.history.round(4).to_string())
    print(f"training: {time.perf_counter() - t0:.0f} s")

    # held-out cell types from RNA alone (raw counts of the 'rna' modality)
    rna = mdata["rna"][test_samples]
    new = dc.tl.predict(model, expr=rna, loci=adata, progress=False)
    pred_all = new[test_samples].layers["deepcage"]
    truth_all = np.asarray(adata[test_samples].layers["binary"])
    train_truth = np.asarray(adata[train_samples].layers["binary"], dtype=np.float64)
    mean_all = np.broadcast_to(train_truth.mean(axis=0), truth_all.shape)

    split = adata.var["split"].astype(str).to_numpy()
    groups = {
        # known loci: loci the model trained on, in cell types it never saw (the paper's main setting)
        "known loci (train+val)": np.flatnonzero(split != "test"),
        # novel loci: held-out test region, never seen at all
        "novel loci (test)": np.flatnonzero(split == "test"),
    }
    for label, cols in groups.items():
        truth, pred, base = truth_all[:, cols], pred_all[:, cols], mean_all[:, cols]
        print(f"\n== held-out cell types x {label}: {len(cols)} loci")
        print(f"{'cell type':<10} {'positives':>9} {'DeepCAGE':>9} {'locus mean':>10}")
        cell = []
        for i, s in enumerate(test_samples):
            if truth[i].sum() == 0:
                print(f"{s:<10} {0:>9.3f} {'(no positives: skipped)':>20}")
                continue
            a, b = average_precision_score(truth[i], pred[i]), average_precision_score(truth[i], base[i])
            cell.append((a, b))
            print(f"{s:<10} {truth[i].mean():>9.3f} {a:>9.3f} {b:>10.3f}")
        if truth.sum() == 0:
            continue
        ap_model = average_precision_score(truth.ravel(), pred.ravel())
        ap_mean = average_precision_score(truth.ravel(), base.ravel())
        print(f"pooled auPR: DeepCAGE {ap_model:.3f}  locus-mean baseline {ap_mean:.3f}")
        if cell:
            print(
                f"mean cell-wise auPR: DeepCAGE {np.mean([c[0] for c in cell]):.3f}  "
                f"locus-mean {np.mean([c[1] for c in cell]):.3f}"
            )


if __name__ == "__main__":
    main()
