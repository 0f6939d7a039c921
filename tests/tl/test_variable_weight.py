"""dc.tl.fit(variable_weight=...): loci weighted by how much the training samples disagree (issue 21, item 2);
the checks shared with contrast_weight."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

import deepcage as dc
from deepcage.model._config import TrainConfig
from deepcage.model._data import PairData
from deepcage.tl._fit import _data_module, _variable_weights

torch.set_num_threads(1)

FAST = {"preset": "small", "hidden": 32, "batch_loci": 64, "progress": False, "lr": 3e-3}

#: 4 training samples x 5 loci: open in 0, 1, 2, 3 and 4 of them (p = 0, 1/4, 1/2, 3/4, 1).
Y = np.array(
    [
        [0, 1, 1, 1, 1],
        [0, 0, 1, 1, 1],
        [0, 0, 0, 1, 1],
        [0, 0, 0, 0, 1],
    ],
    dtype=np.uint8,
)


@pytest.fixture(scope="module")
def adata():
    return dc.datasets.synthetic(n_samples=8, n_loci=500, n_tfs=6, seed=3)


def test_variable_weights_follow_the_formula():
    # 1 + w * 4 p (1 - p): 1 where all agree, 1 + w at p = 1/2, 1 + 0.75 w at p = 1/4 and 3/4
    np.testing.assert_array_equal(_variable_weights(Y, 2.0), [1.0, 2.5, 3.0, 2.5, 1.0])
    np.testing.assert_array_equal(_variable_weights(Y, 0.0), np.ones(5))
    assert _variable_weights(Y, 1.0).dtype == np.float32


def _module(y, **options):
    config = TrainConfig.from_recipe(**options).resolved(n_train_samples=len(y), has_val=True)
    n = y.shape[1]
    data = PairData(
        np.zeros((n, 1), dtype=np.uint8),
        np.zeros((n, 2), dtype=np.float32),
        np.zeros((len(y), 2), dtype=np.float32),
        y,
    )
    runtime = SimpleNamespace(cache_on_device=lambda nbytes: False, num_workers=0, on_gpu=False)
    return _data_module(config, runtime, data, np.arange(n), np.arange(0))


def test_variable_weight_multiplies_into_the_background_weight():
    # locus 0 is closed in every sample: background weight 1 / 0.25 = 4, variable weight 1
    dm = _module(Y, variable_weight=2.0, background_fraction=0.25)
    np.testing.assert_array_equal(dm.locus_weight.numpy(), [4.0, 2.5, 3.0, 2.5, 1.0])
    # without background subsampling the variable weight alone
    dm = _module(Y, variable_weight=2.0, background_fraction=1.0)
    np.testing.assert_array_equal(dm.locus_weight.numpy(), [1.0, 2.5, 3.0, 2.5, 1.0])
    # 0 leaves today's weights exactly
    assert _module(Y, variable_weight=0.0, background_fraction=1.0).locus_weight is None
    np.testing.assert_array_equal(
        _module(Y, variable_weight=0.0).locus_weight.numpy(), _module(Y).locus_weight.numpy()
    )


@pytest.mark.parametrize(("name", "value"), [("variable_weight", 3.0), ("contrast_weight", 1.0)])
def test_loss_weight_zero_is_bit_identical_and_recorded(adata, name, value):
    kw = FAST | {"max_epochs": 1, "limit_train_batches": 3, "seed": 7}
    a = dc.tl.fit(adata, **kw)
    b = dc.tl.fit(adata, **{name: 0.0}, **kw)
    c = dc.tl.fit(adata, **{name: value}, **kw)
    m = adata.varm["motif_scores"].to_numpy()[:50]
    e = adata.obsm["tf_expr"].to_numpy()
    pa = a.predict_arrays(a.loci_codes[:50], m, e)
    np.testing.assert_array_equal(pa, b.predict_arrays(b.loci_codes[:50], m, e))
    pc = c.predict_arrays(c.loci_codes[:50], m, e)
    assert not np.array_equal(pa, pc) and np.isfinite(pc).all()
    assert a.params[name] == 0.0 and c.params[name] == value
    assert getattr(TrainConfig.from_params(c.params), name) == value
    assert f"{name}={value}" in c.card() and name not in a.card()


@pytest.mark.parametrize("name", ["variable_weight", "contrast_weight"])
@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "1", True])
def test_bad_loss_weight_is_a_clear_error(name, bad):
    with pytest.raises(ValueError, match=f"{name} must be a finite number >= 0"):
        TrainConfig.from_recipe(**{name: bad})


@pytest.mark.parametrize("name", ["variable_weight", "contrast_weight"])
def test_loss_weights_are_for_classification(adata, name):
    with pytest.raises(ValueError, match=f"{name} is for classification"):
        dc.tl.fit(adata, task="regression", layer="log_norm", **{name: 1.0}, **FAST)
    with pytest.raises(ValueError, match=f"{name} must be"):
        dc.tl.fit(adata, **{name: -0.5}, **FAST)
