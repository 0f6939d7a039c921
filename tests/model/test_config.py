"""Training configuration and recipes: TrainConfig, fit(recipe=...), the model card."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deepcage as dc
from deepcage.model._config import RECIPE, TrainConfig
from deepcage.model._network import DeepCAGENet

torch.set_num_threads(1)


def test_paper_recipe_is_the_published_network_at_678_tfs():
    cfg = TrainConfig.from_recipe("paper").resolved(n_train_samples=44, has_val=True)
    net = DeepCAGENet(**cfg.net_config(n_tfs=678, seq_len=1000, n_ref=44))
    # the released code's network: DenseNet trunk -> 4198 features (3840 sequence + 678 motif x expression) ->
    # FC 256 -> BN -> 1 output; ~2.48 M parameters
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert shapes["trunk.0.weight"] == (160, 4, 15)
    assert shapes["fc.weight"] == (256, 4198)
    assert shapes["out.weight"] == (1, 256)
    assert abs(net.n_parameters() - 2.48e6) < 0.01e6
    assert not net.prior and not net.delta_expression
    assert not any("linear" in k or "prior" in k for k in shapes)
    assert cfg.background_fraction == 1.0 and cfg.expression_l2 == 0.0 and cfg.novel_weight == 0.0
    assert cfg.lr == 1e-3 and cfg.monitor == "val_auprc" and cfg.differences("paper") == {}


def test_default_recipe_says_how_it_differs_from_the_paper():
    cfg = TrainConfig.from_recipe().resolved(n_train_samples=8, has_val=True)
    diff = cfg.differences("paper")
    assert diff["prior"] == ("knn", None)
    assert diff["hidden"] == (512, 256)
    assert set(diff) == {
        "hidden",
        "prior",
        "delta_expression",
        "expression_l2",
        "background_fraction",
        "novel_weight",
    }
    assert "differs from the published network" in cfg.card()


def test_options_override_the_recipe_and_bad_values_name_the_option():
    cfg = TrainConfig.from_recipe("paper", hidden=64, prior="knn", max_epochs=RECIPE)
    assert (cfg.hidden, cfg.prior, cfg.max_epochs) == (64, "knn", 30)
    with pytest.raises(ValueError, match="recipe='nature'"):
        TrainConfig.from_recipe("nature")
    with pytest.raises(TypeError, match="hiden"):
        TrainConfig.from_recipe(hiden=3)
    with pytest.raises(ValueError, match="background_fraction"):
        TrainConfig.from_recipe(background_fraction=0.0)
    with pytest.raises(ValueError, match="prior='kNN'"):
        TrainConfig.from_recipe(prior="kNN")


def test_params_round_trip_to_the_same_configuration():
    cfg = TrainConfig.from_recipe("default", seed=3).resolved(n_train_samples=5, has_val=True)
    cfg.knn_temperature = 0.25
    back = TrainConfig.from_params(cfg.to_params())
    assert back == cfg


@pytest.fixture(scope="module")
def adata():
    return dc.datasets.synthetic(n_samples=6, n_loci=300, n_tfs=5, seed=1)


def test_fit_with_the_paper_recipe_trains_the_published_network(adata, tmp_path):
    fast = {"preset": "small", "max_epochs": 1, "limit_train_batches": 2, "progress": False}
    model = dc.tl.fit(adata, recipe="paper", **fast)
    p = model.params
    assert p["recipe"] == "paper" and p["prior"] is None and p["delta_expression"] is False
    assert p["hidden"] == 256 and p["background_fraction"] == 1.0 and p["expression_l2"] == 0.0
    assert model.ref_labels is None and not model.network.prior
    assert model.network.config["hidden"] == 256
    # and the default recipe is not the paper's
    default = dc.tl.fit(adata, **fast)
    assert default.params["recipe"] == "default" and default.network.prior
    # the model card travels with the saved model
    default.save(tmp_path / "m")
    card = (tmp_path / "m" / "README.md").read_text()
    assert "recipe: `default`" in card and "prior='knn' (paper None)" in card
    assert np.isfinite(
        dc.DeepCAGE.load(tmp_path / "m").predict_arrays(
            model.loci_codes[:4], adata.varm["motif_scores"].to_numpy()[:4], adata.obsm["tf_expr"].to_numpy()
        )
    ).all()
