"""One-option ablations of the default model on chosen lineage folds of heme_cv.py (fast: no sequence-only network,
GIS or PBMC rows).

Each config is ``NAME=JSON`` (extra ``dc.tl.fit`` arguments on top of ``heme_cv.PRESET``); every (config, fold, seed)
is one ``heme_cv._run`` task with ``deepcage``, ``locus_mean`` and ``expression_knn``. Writes one CSV per task
(``OUT/<name>_fold<f>_seed<s>.csv``, the rows of ``dc.tl.cross_validate``) and prints, per fold and locus class, the
mean over held-out cell types and seeds of AP, the differential metric and the locus-wise auROC; a last ``SUMMARY``
line gives each config's AP on variable loci minus ``expression_knn``'s.

    python benchmarks/heme_ablation.py default={} cw1='{"contrast_weight": 1}' --folds 1 2 4 --seeds 0
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
import heme_cv

CLASSES = ("all", "variable", "rare", "test_region")
METRICS = ("average_precision", "differential", "locus_auroc")


def _config(text: str) -> tuple[str, dict]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise SystemExit(f"config {text!r}: write NAME=JSON, e.g. cw1='{{\"contrast_weight\": 1}}'.")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError as err:
        raise SystemExit(f"config {name!r}: {value!r} is not JSON ({err}).") from None


def summary(cv: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean over held-out cell types and seeds of ``metric``: rows fold x locus class, a column per config and
    baseline (the baselines, the same in every config's tasks, are averaged into one column)."""
    cv = cv[cv.locus_class.isin(CLASSES)].copy()
    cv["column"] = cv["method"].where(cv["method"] != "deepcage", "deepcage " + cv["model"])
    return cv.groupby(["fold", "locus_class", "column"])[metric].mean().unstack("column").round(3)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("configs", nargs="+", help="NAME=JSON of extra dc.tl.fit arguments ({} for the defaults)")
    p.add_argument("--data", default=None, help="shared/data folder (default: found above the cwd)")
    p.add_argument("--genome", default="hg38", choices=["hg19", "hg38"])
    p.add_argument("--folds", type=int, nargs="+", default=[4])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", default="heme_ablation_out")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    configs = [_config(c) for c in args.configs]
    tasks = [
        {
            "data": args.data,
            "threads": 1,
            "val_block": None,
            "kind": "ablation",
            "name": name,
            "genome": args.genome,
            "fold": f,
            "seed": s,
            "fit": {**heme_cv.PRESET, **fit},
            "methods": ("deepcage", "locus_mean", "expression_knn"),
        }
        for name, fit in configs
        for f in args.folds
        for s in args.seeds
    ]
    t0, parts = time.time(), []
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=mp.get_context("spawn")) as pool:
        for future in as_completed([pool.submit(heme_cv._run, t) for t in tasks]):
            task, cv, *_ = future.result()
            cv = cv.assign(model=task["name"])
            stem = re.sub(r"[^A-Za-z0-9_.+-]+", "_", f"{task['name']}_fold{task['fold']}_seed{task['seed']}")
            cv.to_csv(out / f"{stem}.csv", index=False)
            parts.append(cv)
    cv = pd.concat(parts, ignore_index=True)
    for metric in METRICS:
        print(f"\n{metric}\n\n{summary(cv, metric).to_markdown()}")
    variable = cv[cv.locus_class == "variable"]
    knn = variable[variable.method == "expression_knn"].groupby("fold").average_precision.mean()
    model = variable[variable.method == "deepcage"].groupby(["model", "fold"]).average_precision.mean()
    gains = (model - knn.reindex(model.index, level="fold")).groupby("model").mean()
    print(
        f"SUMMARY {len(tasks)} tasks in {time.time() - t0:.0f} s; AP on variable loci - expression_knn, mean over "
        "folds: " + ", ".join(f"{k} {v:+.3f}" for k, v in gains.items())
    )


if __name__ == "__main__":
    main()
