"""filter_motifs: a planted first-layer filter gives back its motif, TomTom finds it; influence; MEME export."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

import deepcage as dc
from deepcage.model._network import DeepCAGENet
from deepcage.tl._filters import write_meme


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return dc.datasets.synthetic(
        n_samples=6, n_loci=400, n_tfs=4, seed=3, motif_width=12, path=tmp_path_factory.mktemp("f") / "s.fa"
    )


def _planted_model(adata):
    """A 'small' DeepCAGE network whose filter 0 is the log-odds of TF1's planted motif, filter 1 is all zero."""
    tfs = list(adata.obsm["tf_expr"].columns)
    torch.manual_seed(0)
    net = DeepCAGENet(len(tfs), seq_len=1000, preset="small", hidden=16)
    pwm = np.asarray(adata.uns["synthetic"]["pwms"][0])  # (12, 4)
    w = np.zeros((4, 15))
    w[:, 1:13] = np.log((pwm + 0.01) / 0.25).T
    with torch.no_grad():
        net.first_conv.weight[0] = torch.tensor(w, dtype=torch.float32)
        net.first_conv.bias[0] = 0.0
        net.first_conv.weight[1] = 0.0
        net.first_conv.bias[1] = 0.0
    net.eval()
    return SimpleNamespace(network=net, tfs=tfs, task="classification", seq_len=1000, genome={})


def test_filter_motifs_recovers_planted_motif(synth, shared_data, tmp_path):
    model = _planted_model(synth)
    planted = dc.datasets.synthetic_motifs(synth)
    jaspar = dc.io.read_meme(shared_data / "motifs" / "JASPAR2024_consensus.meme")
    res = dc.tl.filter_motifs(
        model, synth, database=planted + jaspar, n_loci=400, n_influence_loci=64, progress=False
    )
    table, motifs, matches = res
    assert len(table) == 32 and table.loc["filter0", "n_sites"] > 5
    # filter 0's PWM is the planted TF1 motif (shifted by one column), and TomTom says so
    pwm = motifs[[m.name for m in motifs].index("filter0")].pwm
    np.testing.assert_allclose(pwm[1:13].argmax(1), np.asarray(synth.uns["synthetic"]["pwms"][0]).argmax(1))
    assert table.loc["filter0", "best_match"] == "TF1_motif"
    assert table.loc["filter0", "matched"] and table.loc["filter0", "evalue"] < 0.01
    assert table.loc["filter0", "information_content"] > 10
    assert ((matches["filter"] == 0) & (matches["target"] == "TF1_motif")).any()
    # the all-zero filter has no site, no motif, and zeroing it changes nothing
    assert table.loc["filter1", "n_sites"] == 0 and "filter1" not in [m.name for m in motifs]
    assert table.loc["filter1", "influence"] == 0.0
    assert (table["influence"] >= 0).all() and table["influence"].max() > 0
    rec = synth.uns["deepcage"]["filter_motifs"]
    assert rec["pwms"].shape == (32, 15, 4)
    # MEME export round-trips through the reader
    res.to_meme(tmp_path / "filters.meme")
    back = dc.io.read_meme(tmp_path / "filters.meme")
    assert [m.name for m in back] == [m.name for m in motifs]
    np.testing.assert_allclose(back[0].pwm, motifs[0].pwm, atol=1e-5)


def test_filter_motifs_without_database(synth):
    model = _planted_model(synth)
    table, motifs, matches = dc.tl.filter_motifs(
        model, synth, threshold=0.9, n_loci=100, compute_influence=False, progress=False, key_added=None
    )
    assert "influence" not in table.columns and "best_match" not in table.columns
    assert matches.empty and len(motifs) >= 1
    with pytest.raises(ValueError, match="threshold"):
        dc.tl.filter_motifs(model, synth, threshold=1.5)


def test_write_meme_errors(tmp_path):
    with pytest.raises(ValueError, match="No motifs"):
        write_meme([], tmp_path / "x.meme")


def test_filter_motifs_needs_sequence_branch(synth):
    net = DeepCAGENet(4, seq_len=1000, use_sequence=False, hidden=8)
    model = SimpleNamespace(network=net, tfs=list(synth.obsm["tf_expr"].columns), task="classification")
    with pytest.raises(AttributeError, match="without the sequence"):
        dc.tl.filter_motifs(model, synth)


def test_gis_runs_on_deepcage_network(synth):
    """The vmap path works on the real network (BatchNorm in eval mode, dense blocks)."""
    model = _planted_model(synth)
    df = dc.tl.gis(model, synth, synth.obs_names[0], center=synth.var_names[5], window=3000, progress=False)
    assert len(df) == 4 and np.isfinite(df["gis"]).all() and (df["gis"] > 0).any()
    assert isinstance(df, pd.DataFrame)
