"""Tools: train and apply the model, evaluate, baselines, interpretation."""

from ._baselines import baselines, compare, predict_baseline
from ._cross_validate import cross_validate, summarize_cv
from ._evaluate import calibration_table, evaluate, specificity
from ._filters import filter_motifs
from ._fit import fit
from ._gis import gis
from ._predict import predict
from ._predict_genome import predict_genome
from ._variant import variant_effect

__all__ = [
    "baselines",
    "calibration_table",
    "compare",
    "cross_validate",
    "evaluate",
    "filter_motifs",
    "fit",
    "gis",
    "predict",
    "predict_genome",
    "predict_baseline",
    "specificity",
    "summarize_cv",
    "variant_effect",
]
