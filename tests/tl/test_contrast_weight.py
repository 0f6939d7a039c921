"""dc.tl.fit(contrast_weight=...): an across-sample loss that trains which cell types are open at a locus."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import deepcage as dc
from deepcage.model._config import TrainConfig
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


def test_contrast_weight_zero_is_bit_identical_and_recorded(adata):
    kw = FAST | {"max_epochs": 1, "limit_train_batches": 3, "seed": 7}
    a = dc.tl.fit(adata, **kw)
    b = dc.tl.fit(adata, contrast_weight=0.0, **kw)
    c = dc.tl.fit(adata, contrast_weight=1.0, **kw)
    m = adata.varm["motif_scores"].to_numpy()[:50]
    e = adata.obsm["tf_expr"].to_numpy()
    pa = a.predict_arrays(a.loci_codes[:50], m, e)
    np.testing.assert_array_equal(pa, b.predict_arrays(b.loci_codes[:50], m, e))
    pc = c.predict_arrays(c.loci_codes[:50], m, e)
    assert not np.array_equal(pa, pc) and np.isfinite(pc).all()
    assert a.params["contrast_weight"] == 0.0 and c.params["contrast_weight"] == 1.0
    assert TrainConfig.from_params(c.params).contrast_weight == 1.0
    assert "contrast_weight=1.0" in c.card() and "contrast_weight" not in a.card()
