"""Sequence-model peer (issue 21): CREsted vs deepcage on the training cell types at new loci.

The one task both packages can do: every cell type is a training cell type, and the loci are new. hg38 blood
cells (``dc.datasets.heme(genome='hg38', test=())``: all 10 cell types train, the reference of the TF expression
fit on all 10), loci of the held-out region ``chr20:0-1 Mb`` (start < 1,000,000; neither trained on nor used for
early stopping; the other loci keep the dataset's train / val split, val = early stopping for every model).
Three models, each seeded with ``--seeds``, each given the same sequence window (the 1 kb centred on the 200-bp
bin, as deepcage reads it) and the same ``--epochs`` maximum, each with its own package's early stopping:

* **CREsted** ``deeptopic_cnn`` narrowed to ``--filters 32 --dense-out 64`` (17,802 parameters), trained as a
  topic-classification model on the binary labels of the 10 cell types (CREsted's ``topic_classification``
  config: BCE, Adam lr 1e-3; ``AnnDataWrapper(always_reverse_complement=True)``: both strands of every
  training locus, batch 256; CREsted's early stopping and learning-rate reduction on ``val_loss``; the weights
  of the best ``val_loss`` epoch are kept). Predicted with ``crested.tl.predict`` (forward strand), and as an
  extra row with the forward and reverse-complement predictions averaged.
* **deepcage sequence-only**: ``dc.tl.fit(preset='small', hidden=256, use_expression=False, prior=None,
  delta_expression=False)``, as the ``sequence`` method of :func:`deepcage.tl.cross_validate`.
* **deepcage hybrid**: the default model ``dc.tl.fit(preset='small', hidden=256)`` as ``heme_cv.py`` uses,
  predicted with ``dc.tl.predict`` at the held-out loci, which have no labels: its novel-locus mode (sequence
  + motif scores x TF expression, no kNN prior).

Metrics on the held-out region, mean over the 10 cell types: average precision (sklearn) and AUROC; the AP of
*one score per locus* (each model's outputs averaged over the cell types, the same ranking for every cell type:
if it matches the per-cell-type AP, a model's lead comes from the sequence, not from cell-type specificity); and
the locus-wise AUROC (per locus where the cell types differ, the cell types ranked by the prediction; 0.5 for a
model that predicts all cell types alike). Wall time of each fit and prediction, epochs run, parameters.

CREsted is a **benchmark-only install**, never a dependency of deepcage (its licence is academic
non-commercial). Install it into its own virtual environment, so the development environment stays as it is::

    python -m venv --system-site-packages /work/venv-crested
    echo "torch==2.13.0" > /tmp/torch-pin.txt   # keep the system torch (pip must not replace it)
    /work/venv-crested/bin/pip install -c /tmp/torch-pin.txt crested

Run from the repository root (1 torch thread; ~35-40 min on the shared 2-core machine with the default 7 epochs:
a CREsted epoch takes ~4 min there, a deepcage epoch under 1 min; ``--epochs 1`` is a ~6 min smoke run)::

    KERAS_BACKEND=torch /work/venv-crested/bin/python benchmarks/crested_peer.py
    KERAS_BACKEND=torch /work/venv-crested/bin/python benchmarks/crested_peer.py --epochs 1 --out /tmp/smoke.md
    KERAS_BACKEND=torch /work/venv-crested/bin/python benchmarks/crested_peer.py --seeds 0 1 2   # ~2 h

The table is printed and written to ``benchmarks/results/crested_peer_hg38.md`` (``--out``); the last line is
``SUMMARY crested_peer: ...``.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

#: The held-out region of the hg38 heme data (``dc.datasets.heme``): loci starting before 1 Mb on chr20.
REGION_END = 1_000_000
#: The sequence window every model reads (deepcage's: 1 kb centred on the 200-bp bin).
WINDOW = 1000

INSTALL = (
    "CREsted is not installed in this Python ({exe}): {err}.\n"
    "It is a benchmark-only install (academic non-commercial licence), never a deepcage dependency:\n"
    "    python -m venv --system-site-packages /work/venv-crested\n"
    '    echo "torch==2.13.0" > /tmp/torch-pin.txt\n'
    "    /work/venv-crested/bin/pip install -c /tmp/torch-pin.txt crested\n"
    "then run:  KERAS_BACKEND=torch /work/venv-crested/bin/python benchmarks/crested_peer.py"
)


def _import_crested():
    """``crested`` and ``keras`` on the torch backend, or exit with how to install them."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    os.environ.setdefault("TQDM_DISABLE", "1")  # CREsted's bar over the sequences it loads
    try:
        import crested
        import keras
    except ImportError as err:
        raise SystemExit(INSTALL.format(exe=sys.executable, err=err)) from None
    if keras.config.backend() != "torch":
        raise SystemExit(f"Run with KERAS_BACKEND=torch (Keras uses {keras.config.backend()!r}).")
    logging.getLogger("crested").setLevel(logging.WARNING)
    try:  # loguru, CREsted's logger: warnings and errors only
        from loguru import logger

        logger.remove()
        logger.add(sys.stderr, level="WARNING")
    except ImportError:
        pass
    return crested, keras


def _source(dc) -> str:
    """Where the deepcage that runs comes from, with its git commit and whether its tree has uncommitted edits."""
    src = Path(dc.__file__).resolve().parent
    try:
        git = ["git", "-C", str(src)]
        sha = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        dirty = subprocess.run([*git, "status", "--porcelain", "--", "."], capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return f"deepcage from {src}"
    edits = ", with uncommitted changes" if dirty.stdout.strip() else ""
    return f"deepcage from {src} at commit {sha.stdout.strip()}{edits}"


def _load(msg: str) -> str:
    return f"{msg} (load average {os.getloadavg()[0]:.1f})"


def _split(data):
    """The hg38 heme AnnData with all 10 cell types training; the held-out region as a boolean over loci."""
    import deepcage as dc

    ad = dc.datasets.heme(data, genome="hg38", test=(), progress=False)
    if not (ad.obs["split"].astype(str) == "train").all():
        raise RuntimeError("expected every cell type in training")
    split = ad.var["split"].astype(str).to_numpy()
    region = split == "test"
    starts = ad.var["start"].to_numpy()
    chrom = ad.var["chrom"].astype(str).to_numpy()
    if not np.array_equal(region, (chrom == "chr20") & (starts < REGION_END)):
        raise RuntimeError("the held-out loci are not chr20 loci with start < 1,000,000")
    y = np.asarray(ad.layers["binary"], dtype=np.float32)
    return ad, y, region


def _metrics(y: np.ndarray, p: np.ndarray) -> dict:
    """Cell types x loci labels and predictions of the held-out region -> the table's metrics."""
    ap = np.array([average_precision_score(y[c], p[c]) for c in range(len(y))])
    auroc = np.array([roc_auc_score(y[c], p[c]) for c in range(len(y))])
    one = p.mean(0)  # one score per locus, the same ranking for every cell type
    ap_one = np.array([average_precision_score(y[c], one) for c in range(len(y))])
    n_open = y.sum(0)
    differ = np.flatnonzero((n_open > 0) & (n_open < len(y)))
    locus = np.array([roc_auc_score(y[:, j], p[:, j]) for j in differ])
    return {
        "ap": ap.mean(),
        "auroc": auroc.mean(),
        "ap_one": ap_one.mean(),
        "locus_auroc": locus.mean(),
        "ap_per_cell": ap,
    }


def _fit_deepcage(ad, region, *, seed, epochs, sequence_only):
    import deepcage as dc

    extra = dict(use_expression=False, prior=None, delta_expression=False) if sequence_only else {}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = dc.tl.fit(
            ad, preset="small", hidden=256, max_epochs=epochs, seed=seed, progress=False, **extra
        )
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    sub = ad[:, region].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dc.tl.predict(model, sub, key_added="peer", progress=False)
    p = np.asarray(sub.layers["peer"], dtype=np.float64)
    t_pred = time.perf_counter() - t0
    hist = model.history
    best = int(np.nanargmax(hist["val_auprc"].to_numpy())) + 1 if "val_auprc" in hist else len(hist)
    # loci per epoch: every locus open in a training cell type + background_fraction of the closed ones
    train = ad.var["split"].astype(str).to_numpy() == "train"
    y = np.asarray(ad.layers["binary"])[:, train]
    frac = model.params.get("background_fraction") or 1.0
    n_open = int((y.sum(0) > 0).sum())
    per_epoch = n_open + frac * (train.sum() - n_open)
    return p, {
        "params": model.network.n_parameters(),
        "epochs": len(hist),
        "best_epoch": best,
        "fit_s": t_fit,
        "predict_s": t_pred,
        "per_epoch": f"{per_epoch:,.0f} loci x 10 cell types (forward strand)",
    }


def _windows(ad) -> list[str]:
    """``chr:start-end`` of the 1-kb window deepcage reads around each bin (centre ``(start + end) // 2``)."""
    centre = (ad.var["start"].to_numpy() + ad.var["end"].to_numpy()) // 2
    lo = centre - WINDOW // 2
    chrom = ad.var["chrom"].astype(str).to_numpy()
    return [f"{c}:{s}-{s + WINDOW}" for c, s in zip(chrom, lo, strict=True)]


def _fit_crested(ad, y, region, *, seed, epochs, filters, dense_out, batch_size):
    import anndata

    crested, keras = _import_crested()

    class _KeepBest(keras.callbacks.Callback):
        """Keep the weights of the epoch with the lowest ``val_loss`` (what CREsted's best checkpoint holds)."""

        def __init__(self):
            super().__init__()
            self.best, self.weights, self.best_epoch, self.epochs = np.inf, None, 0, 0

        def on_epoch_end(self, epoch, logs=None):
            self.epochs = epoch + 1
            loss = (logs or {}).get("val_loss")
            if loss is not None and loss < self.best:
                self.best, self.best_epoch, self.weights = loss, epoch + 1, self.model.get_weights()

        def on_train_end(self, logs=None):
            if self.weights is not None:
                self.model.set_weights(self.weights)

    fasta = [str(f) for f in np.atleast_1d(ad.uns["deepcage"]["genome"]["fasta"])]
    if len(fasta) != 1:
        raise RuntimeError(f"expected one FASTA file, got {fasta}")
    genome = crested.Genome(Path(fasta[0]))
    names = _windows(ad)
    cad = anndata.AnnData(
        X=y.astype(np.float32),
        obs=pd.DataFrame(index=ad.obs_names.astype(str)),
        var=pd.DataFrame({"split": ad.var["split"].astype(str).to_numpy()}, index=names),
    )
    t0 = time.perf_counter()
    keras.utils.set_random_seed(seed)  # Crested(seed=0) would skip it (``if self.seed:``)
    data = crested.tl.data.AnnDataWrapper(
        cad, genome=genome, batch_size=batch_size, always_reverse_complement=True
    )
    model = crested.tl.zoo.deeptopic_cnn(
        seq_len=WINDOW, num_classes=len(y), filters=filters, dense_out=dense_out
    )
    keep = _KeepBest()
    fit = model.fit  # Crested.fit does not pass ``verbose``: one line per epoch instead of a progress bar
    model.fit = lambda *a, **k: fit(*a, **{"verbose": 2, **k})
    with tempfile.TemporaryDirectory() as tmp:
        trainer = crested.tl.Crested(
            data=data,
            model=model,
            config=crested.tl.default_configs("topic_classification"),
            project_name=str(Path(tmp) / "crested"),
            run_name="peer",
        )
        trainer.fit(epochs=epochs, model_checkpointing=False, custom_callbacks=[keep])
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    test = [n for n, r in zip(names, region, strict=True) if r]
    p = crested.tl.predict(test, model, genome=genome, batch_size=batch_size, verbose=0)
    t_pred = time.perf_counter() - t0
    onehot = np.stack([crested.utils.one_hot_encode_sequence(genome.fetch(region=r), False) for r in test])
    p_rc = crested.tl.predict(onehot[:, ::-1, ::-1].copy(), model, batch_size=batch_size, verbose=0)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return (
        np.asarray(p, dtype=np.float64).T,
        np.asarray(p_rc, dtype=np.float64).T,
        {
            "params": model.count_params(),
            "trainable": trainable,
            "epochs": keep.epochs,
            "best_epoch": keep.best_epoch,
            "fit_s": t_fit,
            "predict_s": t_pred,
            "per_epoch": f"{2 * int((cad.var['split'] == 'train').sum()):,} sequences (both strands) x 10 outputs",
        },
    )


def _fmt(values) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.3f}" if len(v) == 1 else f"{v.mean():.3f} ± {v.std(ddof=1):.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data", default=None, help="shared/data folder (default: $DEEPCAGE_SHARED_DATA / found)"
    )
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument(
        "--epochs",
        type=int,
        default=7,
        help="maximum epochs of every model (early stopping each; ~4 min each for CREsted here)",
    )
    ap.add_argument(
        "--filters", type=int, default=32, help="deeptopic_cnn first-layer filters (1024 in CREsted)"
    )
    ap.add_argument("--dense-out", type=int, default=64, help="deeptopic_cnn dense width (1024 in CREsted)")
    ap.add_argument("--batch-size", type=int, default=256, help="CREsted batch (its default)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "crested_peer_hg38.md"))
    args = ap.parse_args()

    crested, keras = _import_crested()  # fail at once, before any work, when it is missing
    import torch

    import deepcage as dc

    torch.set_num_threads(args.threads)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("lightning").setLevel(logging.ERROR)
    t_start = time.perf_counter()
    load_before = os.getloadavg()[0]
    print(
        _load(
            f"deepcage {dc.__version__}, crested {crested.__version__}, keras {keras.__version__} "
            f"({keras.config.backend()}), torch {torch.__version__}, {torch.get_num_threads()} torch thread(s)"
        ),
        flush=True,
    )
    source = _source(dc)
    print(source, flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ad, y, region = _split(args.data)
    split = ad.var["split"].astype(str)
    y_test = y[:, region]
    print(
        f"hg38 heme: {ad.n_obs} cell types (all training) x {ad.n_vars:,} loci: train {int((split == 'train').sum()):,}"
        f", val {int((split == 'val').sum()):,} (early stopping), held-out region chr20:0-1 Mb "
        f"{int(region.sum()):,} loci, positive rate {y_test.mean():.4f}",
        flush=True,
    )

    names = {
        "crested": "CREsted deeptopic_cnn (narrowed)",
        "crested_rc": "CREsted, forward + reverse strand averaged (same model)",
        "hybrid": "deepcage hybrid (default, novel-locus mode)",
        "seq": "deepcage sequence-only",
    }
    runs = {k: [] for k in names}
    for seed in args.seeds:
        p_cr, p_rc, info = _fit_crested(
            ad,
            y,
            region,
            seed=seed,
            epochs=args.epochs,
            filters=args.filters,
            dense_out=args.dense_out,
            batch_size=args.batch_size,
        )
        runs["crested"].append({**_metrics(y_test, p_cr), **info})
        runs["crested_rc"].append({**_metrics(y_test, (p_cr + p_rc) / 2), **info})
        print(_load(f"seed {seed} CREsted: AP {runs['crested'][-1]['ap']:.3f}, {info}"), flush=True)
        for key, seq_only in (("hybrid", False), ("seq", True)):
            p, info = _fit_deepcage(ad, region, seed=seed, epochs=args.epochs, sequence_only=seq_only)
            runs[key].append({**_metrics(y_test, p), **info})
            print(_load(f"seed {seed} {names[key]}: AP {runs[key][-1]['ap']:.3f}, {info}"), flush=True)

    rows = []
    for key, rs in runs.items():
        same = key == "crested_rc"
        rows.append(
            {
                "model": names[key],
                "AP": _fmt([r["ap"] for r in rs]),
                "AUROC": _fmt([r["auroc"] for r in rs]),
                "AP, one score per locus": _fmt([r["ap_one"] for r in rs]),
                "locus-wise AUROC": _fmt([r["locus_auroc"] for r in rs]),
                "parameters": "″" if same else f"{rs[0]['params']:,}",
                "epochs run (best) / max": "″"
                if same
                else ", ".join(f"{r['epochs']} ({r['best_epoch']})" for r in rs) + f" / {args.epochs}",
                "fit s": "″" if same else " / ".join(f"{r['fit_s']:.0f}" for r in rs),
                "predict s": "″" if same else " / ".join(f"{r['predict_s']:.1f}" for r in rs),
                "one epoch": "″" if same else rs[0]["per_epoch"],
            }
        )
    rows.append(
        {
            "model": "positive rate (a random ranking's AP)",
            "AP": f"{y_test.mean():.3f}",
            "AUROC": "0.500",
            "AP, one score per locus": f"{y_test.mean():.3f}",
            "locus-wise AUROC": "0.500",
        }
    )
    table = pd.DataFrame(rows).fillna("").set_index("model")
    per_cell = pd.DataFrame(
        {
            names[k]: np.mean([r["ap_per_cell"] for r in rs], axis=0)
            for k, rs in runs.items()
            if k != "crested_rc"
        },
        index=ad.obs_names.astype(str),
    )
    per_cell["positive rate"] = y_test.mean(1)
    ap_of = {k: float(np.mean([r["ap"] for r in rs])) for k, rs in runs.items()}
    one_cr = float(np.mean([r["ap_one"] for r in runs["crested"]]))
    wall = time.perf_counter() - t_start
    report = [
        "# Sequence-model peer: CREsted vs deepcage (issue 21), hg38 heme",
        "",
        f"All 10 cell types in training; held-out region chr20:0-1 Mb ({int(region.sum()):,} loci, start < "
        f"1,000,000: not trained, not used for early stopping; positive rate {y_test.mean():.4f}); early stopping "
        f"on the dataset's {int((split == 'val').sum()):,} val loci; seeds {args.seeds}; every model reads the "
        f"1-kb window centred on the 200-bp bin; at most {args.epochs} epochs each. Mean over the 10 cell types "
        f"(± sd over seeds when more than one).",
        "",
        table.to_markdown(),
        "",
        f"CREsted: `deeptopic_cnn(seq_len={WINDOW}, num_classes=10, filters={args.filters}, "
        f"dense_out={args.dense_out})` ({runs['crested'][0]['params']:,} parameters by `count_params()`, "
        f"{runs['crested'][0]['trainable']:,} trainable), `default_configs('topic_classification')` (BCE, Adam "
        f"lr 1e-3), `AnnDataWrapper(always_reverse_complement=True, batch_size={args.batch_size})`, "
        "`Crested.fit` with its early stopping (patience 10) and learning-rate reduction (patience 5) on "
        "`val_loss`, best `val_loss` weights kept. deepcage: `fit(preset='small', hidden=256, "
        f"max_epochs={args.epochs})` (early stopping on `val_auprc`, patience 5, best weights restored), the "
        "sequence-only model with `use_expression=False, prior=None, delta_expression=False`; deepcage trains on "
        "the forward strand, each epoch on the loci open in some cell type plus a fresh 25 % of the closed ones.",
        "",
        f"CREsted's AP with one score per locus (its 10 outputs averaged): {one_cr:.3f} vs {ap_of['crested']:.3f} "
        "with its per-cell-type outputs"
        + (
            ": its lead is the sequence model, not cell-type specificity."
            if one_cr >= ap_of["crested"]
            else "."
        ),
        "",
        "AP per cell type (mean over seeds):",
        "",
        per_cell.round(3).to_markdown(),
        "",
        f"Wall time {wall:.0f} s in all; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; "
        f"{args.threads} torch thread(s); deepcage {dc.__version__}, crested {crested.__version__}, keras "
        f"{keras.__version__} (torch backend), torch {torch.__version__}; {source}.",
    ]
    text = "\n".join(report)
    print("\n" + text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(f"\nwritten to {out}")
    print(
        f"SUMMARY crested_peer: deepcage_hybrid AP {ap_of['hybrid']:.3f}, deepcage_seq_only AP {ap_of['seq']:.3f}, "
        f"crested AP {ap_of['crested']:.3f}, ratio hybrid/crested {ap_of['hybrid'] / ap_of['crested']:.2f}"
    )


if __name__ == "__main__":
    main()
