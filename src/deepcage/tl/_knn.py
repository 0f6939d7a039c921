"""Expression similarity between samples: kNN weights over training samples and their temperature.

One implementation serves the ``'expression_knn'`` baseline of :func:`deepcage.tl.baselines` and the reference
prior of the model (:func:`deepcage.tl.fit` with ``prior='knn'``), so the model's prior and the baseline it must
beat weigh the training samples the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_TEMPERATURES", "choose_temperature", "knn_predict"]

#: Softmax temperatures tried for the correlation weights (correlations of quantile-normalised TF expression
#: between cell types lie within a few hundredths of each other, hence the small values).
DEFAULT_TEMPERATURES = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


def knn_weights_np(query: np.ndarray, ref: np.ndarray, temperature: float, self_index=None) -> np.ndarray:
    """``(n_query, n_ref)`` softmax weights of Pearson correlations (see ``model._network.knn_weights``)."""
    import torch

    from ..model._network import knn_weights

    idx = None if self_index is None else torch.as_tensor(np.asarray(self_index, dtype=np.int64))
    w = knn_weights(
        torch.as_tensor(np.asarray(query, dtype=np.float64)),
        torch.as_tensor(np.asarray(ref, dtype=np.float64)),
        float(temperature),
        idx,
    )
    return w.numpy()


def knn_predict(
    query_expr: np.ndarray,
    ref_expr: np.ndarray,
    ref_values: np.ndarray,
    temperature: float,
    self_index: Sequence[int] | None = None,
) -> np.ndarray:
    """Each query sample's prediction: the reference samples' values weighted by expression similarity.

    Parameters
    ----------
    query_expr, ref_expr
        ``(n_query, G)`` and ``(n_ref, G)`` expression (same columns, e.g. normalised TF expression).
    ref_values
        ``(n_ref, n_loci)`` observed values of the reference samples.
    temperature
        Softmax temperature of the correlation weights (small: the most similar sample dominates).
    self_index
        For each query, the index of the same sample among the references (left out), or -1.

    Returns
    -------
    ``(n_query, n_loci)`` float32 predictions.
    """
    w = knn_weights_np(query_expr, ref_expr, temperature, self_index)
    return (w @ np.asarray(ref_values, dtype=np.float64)).astype(np.float32)


def _score(truth: np.ndarray, pred: np.ndarray, task: str) -> float:
    from ._evaluate import binary_metrics, regression_metrics

    if task == "classification":
        values = binary_metrics(truth, pred)["average_precision"]
    else:
        values = regression_metrics(truth, pred)["pearson"]
    return float(np.nanmean(values)) if values.notna().any() else float("nan")


def choose_temperature(
    ref_expr: np.ndarray,
    ref_values: np.ndarray,
    *,
    temperatures: Sequence[float] = DEFAULT_TEMPERATURES,
    task: str = "classification",
    max_loci: int = 50_000,
    seed: int = 0,
    columns: np.ndarray | None = None,
) -> tuple[float, pd.Series]:
    """The softmax temperature that best predicts each reference sample from the others (leave-one-out).

    Every reference sample is predicted from the other reference samples at each temperature; the score is the
    mean over samples of the average precision (classification) or Pearson r (regression) over the loci (a
    random ``max_loci`` of them when there are more). ``columns``: the loci (columns of ``ref_values``) to score,
    default all; only the chosen subset is gathered, so a large label matrix is not copied.

    Returns
    -------
    The best temperature and the score of every temperature tried.
    """
    ref_expr = np.asarray(ref_expr, dtype=np.float64)
    ref_values = np.asarray(ref_values)
    n = ref_expr.shape[0]
    if n < 3:
        raise ValueError(
            f"Choosing the expression-kNN temperature needs at least 3 training samples (leave-one-out), got {n}."
        )
    if not len(temperatures) or min(temperatures) <= 0:
        raise ValueError(f"temperatures must be positive numbers, got {list(temperatures)}.")
    cols = np.arange(ref_values.shape[1]) if columns is None else np.asarray(columns)
    if len(cols) > max_loci:
        cols = cols[np.sort(np.random.default_rng(seed).choice(len(cols), size=max_loci, replace=False))]
    if columns is not None or len(cols) < ref_values.shape[1]:
        ref_values = ref_values[:, cols]
    ref_values = np.asarray(ref_values, dtype=np.float64)  # after the subset: no float64 copy of all loci
    own = np.arange(n)
    scores = {
        float(t): _score(ref_values, knn_predict(ref_expr, ref_expr, ref_values, t, own), task)
        for t in temperatures
    }
    table = pd.Series(scores, name="loo_score").rename_axis("temperature")
    if table.isna().all():
        raise ValueError("No training sample has both classes among the loci: cannot choose a temperature.")
    return float(table.idxmax()), table
