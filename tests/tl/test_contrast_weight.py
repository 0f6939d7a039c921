"""dc.tl.fit(contrast_weight=...): the across-sample loss itself (its option checks and recording are tested with
variable_weight's in test_variable_weight.py)."""

from __future__ import annotations

import math

import pytest
import torch

import deepcage as dc
from deepcage.model._module import contrast_loss

torch.set_num_threads(1)

FAST = {"preset": "small", "hidden": 32, "batch_loci": 64, "progress": False, "lr": 3e-3}


@pytest.fixture(scope="module")
def adata():
    return dc.datasets.synthetic(n_samples=8, n_loci=500, n_tfs=6, seed=3)


def test_contrast_loss_is_the_cross_entropy_over_samples_at_mixed_loci():
    logits = torch.tensor([[2.0, 0.0, 0.0], [1.0, 1.0, -1.0], [5.0, 5.0, 5.0], [0.0, 3.0, 1.0]])
    y = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    # loci 2 (all closed) and 3 (all open) say nothing about differences between samples: left out
    lse0 = math.log(math.exp(2) + 2)
    lse1 = math.log(2 * math.exp(1) + math.exp(-1))
    expected = ((lse0 - 2.0) + (lse1 - 1.0)) / 2
    assert float(contrast_loss(logits, y)) == pytest.approx(expected, rel=1e-6)
    # a shift shared by all samples of a locus does not change it
    shifted = logits + torch.tensor([[3.0], [-2.0], [0.0], [1.0]])
    assert float(contrast_loss(shifted, y)) == pytest.approx(expected, rel=1e-6)
    # ranking the open samples higher lowers it
    better = logits.clone()
    better[0, 0] = 6.0
    assert float(contrast_loss(better, y)) < expected
    # no mixed locus: 0, with a gradient path
    zero = contrast_loss(logits[2:], y[2:])
    assert float(zero) == 0.0 and zero.shape == ()
