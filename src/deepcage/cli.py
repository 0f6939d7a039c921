"""Command line: ``deepcage demo | fit | predict``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _read_data(path: str):
    p = Path(path)
    if not p.exists():
        raise SystemExit(f"deepcage: input file not found: {p}")
    if p.suffix == ".h5mu":
        import mudata

        return mudata.read_h5mu(p)
    import anndata

    return anndata.read_h5ad(p)


def _read_expression(path: str, genes_in_rows: bool):
    """Samples x genes expression from .h5ad / .h5mu ('rna') or a CSV/TSV table (first column = names)."""
    p = Path(path)
    if p.suffix in (".h5ad", ".h5mu"):
        from ._utils import get_modality

        return get_modality(_read_data(path), "rna")
    import pandas as pd

    if not p.exists():
        raise SystemExit(f"deepcage: expression file not found: {p}")
    sep = "," if p.name.endswith((".csv", ".csv.gz")) else "\t"
    df = pd.read_csv(p, sep=sep, index_col=0)
    return df.T if genes_in_rows else df


def _add_fit(sub) -> None:
    p = sub.add_parser(
        "fit",
        help="train a model on a samples x loci .h5ad/.h5mu and save it to a directory",
        description="Train DeepCAGE (dc.tl.fit) and save the model directory (dc.DeepCAGE.save).",
    )
    p.add_argument("data", help="input .h5ad (samples x loci, deepcage layout) or .h5mu ('atac' + 'rna')")
    p.add_argument("model_dir", help="output model directory")
    p.add_argument("--task", choices=["classification", "regression"], default="classification")
    p.add_argument("--layer", default=None, help="target layer (default: binary / log_norm)")
    p.add_argument("--preset", choices=["paper", "small"], default="paper")
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--max-epochs", type=int, default=30)
    p.add_argument("--batch-loci", type=int, default=None, help="default 128 (paper) / 32 (small)")
    p.add_argument("--samples-per-batch", type=int, default=None)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--pos-weight", default=None, help="a number or 'balanced'")
    p.add_argument("--accelerator", default="auto")
    p.add_argument("--devices", default="auto", help="'auto' or a number of devices")
    p.add_argument("--strategy", default="auto", help="e.g. ddp for several GPUs")
    p.add_argument("--precision", default=None)
    p.add_argument("--num-workers", type=int, default=0)
    p.add_argument(
        "--genome", nargs="+", default=None, help="FASTA file(s) (default: the one recorded in the data)"
    )
    p.add_argument("--checkpoint-dir", default=None)
    p.add_argument("--resume-from", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-sequence", action="store_true", help="ablation: expression branch only")
    p.add_argument("--no-expression", action="store_true", help="ablation: sequence branch only")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model directory")
    p.add_argument("--no-progress", action="store_true")


def _add_predict(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="predict with a saved model, for an .h5ad's samples or for new RNA (expression table)",
        description=(
            "Predict accessibility (dc.tl.predict). Give --data to predict its samples, or --expr for new samples "
            "from RNA alone. OUT ending in .h5ad receives an AnnData; any other OUT is a directory (or a .bw file "
            "for one sample) of bigWig tracks, written in chunks."
        ),
    )
    p.add_argument("model_dir")
    p.add_argument("out", help="output .h5ad, or a directory / .bw for bigWig tracks")
    p.add_argument("--data", default=None, help=".h5ad/.h5mu whose samples (and loci) are predicted")
    p.add_argument("--expr", default=None, help="new samples' expression: .h5ad, .h5mu or CSV/TSV table")
    p.add_argument("--genes-in-rows", action="store_true", help="the CSV/TSV table is genes x samples")
    p.add_argument("--genome", nargs="+", default=None, help="FASTA file(s) for loci not stored in the model")
    p.add_argument("--key-added", default="deepcage")
    p.add_argument("--fill-missing", action="store_true", help="TFs missing from --expr count as 0")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--chunk-size", type=int, default=20000)
    p.add_argument("--no-progress", action="store_true")


def _run_fit(args) -> int:
    from .tl import fit

    data = _read_data(args.data)
    devices = int(args.devices) if str(args.devices).isdigit() else args.devices
    pos_weight = args.pos_weight
    if pos_weight not in (None, "balanced"):
        pos_weight = float(pos_weight)
    out = Path(args.model_dir)
    if out.exists() and not args.overwrite:
        raise SystemExit(f"deepcage: {out} exists; pass --overwrite to replace it.")
    model = fit(
        data,
        layer=args.layer,
        task=args.task,
        genome=args.genome,
        preset=args.preset,
        hidden=args.hidden,
        max_epochs=args.max_epochs,
        batch_loci=args.batch_loci,
        samples_per_batch=args.samples_per_batch,
        lr=args.lr,
        patience=args.patience,
        pos_weight=pos_weight,
        accelerator=args.accelerator,
        devices=devices,
        strategy=args.strategy,
        precision=args.precision,
        num_workers=args.num_workers,
        checkpoint_dir=args.checkpoint_dir,
        resume_from=args.resume_from,
        seed=args.seed,
        progress_bar=not args.no_progress,
        use_sequence=not args.no_sequence,
        use_expression=not args.no_expression,
    )
    model.save(out, overwrite=args.overwrite)
    print(f"{model}\nsaved to {out}")
    return 0


def _run_predict(args) -> int:
    from .model import DeepCAGE
    from .tl import predict

    if (args.data is None) == (args.expr is None):
        raise SystemExit("deepcage predict: give exactly one of --data and --expr.")
    model = DeepCAGE.load(args.model_dir)
    genome = args.genome
    kw = {
        "genome": genome,
        "key_added": args.key_added,
        "batch_size": args.batch_size,
        "chunk_size": args.chunk_size,
        "progress": not args.no_progress,
    }
    out = Path(args.out)
    data = _read_data(args.data) if args.data else None
    expr = _read_expression(args.expr, args.genes_in_rows) if args.expr else None
    if out.suffix == ".h5ad":
        if data is not None:
            from ._utils import get_modality

            predict(model, data, **kw)
            get_modality(data, "atac").write_h5ad(out)
        else:
            predict(model, expr=expr, fill_missing=args.fill_missing, **kw).write_h5ad(out)
        print(f"predictions written to {out} (layer {args.key_added!r})")
        return 0
    if data is not None:
        paths = predict(model, data, out=out, **kw)
    else:
        paths = predict(model, expr=expr, fill_missing=args.fill_missing, out=out, **kw)
    paths = paths if isinstance(paths, list) else [paths]
    print(f"{len(paths)} bigWig track(s) written to {out}")
    return 0


def _add_demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="train, predict held-out samples from RNA alone, compare with the locus mean, rank TFs, plot",
        description="Runs deepcage end to end in a few minutes on a CPU: synthetic data with planted "
        "TF -> motif rules by default, or the real blood-cell data with --real.",
    )
    p.add_argument("--out", default="deepcage_demo", help="output folder (default: deepcage_demo)")
    p.add_argument("--real", action="store_true", help="use the blood-cell data in shared/data (hg19 chr20)")
    p.add_argument("--data", default=None, help="the shared/data folder (with --real)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _run_demo(args) -> int:
    from ._demo import run_demo

    try:
        run_demo(
            args.out,
            real=args.real,
            data=args.data,
            max_epochs=args.epochs,
            seed=args.seed,
            progress=not args.no_progress,
        )
    except FileNotFoundError as err:
        raise SystemExit(f"deepcage demo: {err}") from None
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deepcage", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    _add_demo(sub)
    _add_fit(sub)
    _add_predict(sub)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "demo":
        return _run_demo(args)
    if args.command == "fit":
        return _run_fit(args)
    if args.command == "predict":
        return _run_predict(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
