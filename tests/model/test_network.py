"""The DeepCAGE network: size, trunk reuse, gradients, losses."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from deepcage._onehot import reverse_complement_codes
from deepcage.model._network import DeepCAGENet, codes_to_onehot

torch.set_num_threads(1)


@pytest.mark.parametrize("n_tfs", [300, 500, 700])
def test_paper_preset_parameter_count(n_tfs):
    net = DeepCAGENet(n_tfs, preset="paper")
    assert 2.5e6 <= net.n_parameters() <= 3.6e6
    conv = net.first_conv
    assert isinstance(conv, torch.nn.Conv1d)
    assert (conv.in_channels, conv.out_channels, conv.kernel_size) == (4, 160, (15,))


def test_small_preset_is_small():
    small = DeepCAGENet(8, preset="small", hidden=64)
    assert small.n_parameters() < 200_000
    assert small.first_conv.in_channels == 4


def _inputs(n_loci=5, n_samples=3, n_tfs=6, seq_len=1000, seed=0):
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 5, (n_loci, seq_len), generator=g, dtype=torch.uint8)
    return codes, torch.randn(n_loci, n_tfs, generator=g), torch.rand(n_samples, n_tfs, generator=g) * 10


@pytest.mark.parametrize(("use_sequence", "use_expression"), [(True, True), (True, False), (False, True)])
def test_trunk_reuse_equals_naive_per_pair(use_sequence, use_expression):
    net = DeepCAGENet(6, preset="small", hidden=32, use_sequence=use_sequence, use_expression=use_expression)
    net.set_input_scaling(torch.rand(6), torch.rand(6) + 0.5, 3.0, 2.0)
    net.eval()
    codes, motif, expr = _inputs()
    out = net(codes_to_onehot(codes), motif, expr)
    assert out.shape == (5, 3)
    # naive: every (locus, sample) pair through the whole network, rows locus-major
    naive = net.forward_pairs(
        codes_to_onehot(codes).repeat_interleave(3, 0), motif.repeat_interleave(3, 0), expr.repeat(5, 1)
    ).reshape(5, 3)
    torch.testing.assert_close(out, naive, rtol=1e-5, atol=1e-5)
    # uint8 codes are accepted directly
    torch.testing.assert_close(net(codes, motif, expr), out)


def test_outputs_depend_on_sample_only_through_expression():
    net = DeepCAGENet(6, preset="small", hidden=32).eval()
    codes, motif, expr = _inputs()
    expr[1] = expr[0]
    out = net(codes, motif, expr)
    torch.testing.assert_close(out[:, 0], out[:, 1])
    assert not torch.allclose(out[:, 0], out[:, 2])


def test_gradients_reach_tf_input_and_first_conv():
    net = DeepCAGENet(6, preset="small", hidden=32)
    codes, motif, expr = _inputs()
    expr.requires_grad_(True)
    out = net(codes_to_onehot(codes), motif, expr)
    out.sum().backward()
    assert expr.grad is not None and expr.grad.abs().sum() > 0
    assert net.first_conv.weight.grad.abs().sum() > 0


def test_no_expression_branch_ignores_expression():
    net = DeepCAGENet(6, preset="small", hidden=32, use_expression=False).eval()
    codes, motif, expr = _inputs()
    out = net(codes, motif, expr)
    torch.testing.assert_close(out[:, 0], out[:, 1])


def test_losses_decrease_for_both_tasks():
    torch.manual_seed(0)
    codes, motif, expr = _inputs(n_loci=16, n_samples=4)
    for task in ("classification", "regression"):
        net = DeepCAGENet(6, preset="small", hidden=32, task=task, use_sequence=False)
        target = (motif[:, None, :1] * expr[None, :, :1]).squeeze(-1)
        y = (target > 0).float() if task == "classification" else target
        loss_fn = F.binary_cross_entropy_with_logits if task == "classification" else F.mse_loss
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        losses = []
        for _ in range(60):
            opt.zero_grad()
            loss = loss_fn(net(None, motif, expr), y)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        assert losses[-1] < 0.5 * losses[0], task


def test_bad_options():
    with pytest.raises(ValueError, match="both be False"):
        DeepCAGENet(4, use_sequence=False, use_expression=False)
    with pytest.raises(ValueError, match="preset"):
        DeepCAGENet(4, preset="huge")
    with pytest.raises(ValueError, match="task"):
        DeepCAGENet(4, task="ranking")
    with pytest.raises(ValueError, match="too short"):
        DeepCAGENet(4, seq_len=50)
    with pytest.raises(TypeError, match="Unknown trunk option"):
        DeepCAGENet(4, filters=3)


# ---------------------------------------------------------------------------- reference prior, delta expression
def _prior_net(n_tfs=6, n_ref=4, **kw):
    from deepcage.model._network import DeepCAGENet

    net = DeepCAGENet(n_tfs, preset="small", hidden=16, prior=True, delta_expression=True, n_ref=n_ref, **kw)
    g = torch.Generator().manual_seed(1)
    net.set_reference(torch.rand(n_ref, n_tfs, generator=g) * 5, temperature=0.1)
    return net.eval()


def test_knn_weights_are_a_softmax_of_correlations_without_self():
    import numpy as np

    from deepcage.model._network import knn_weights

    g = torch.Generator().manual_seed(0)
    ref = torch.rand(5, 7, generator=g, dtype=torch.float64)
    query = torch.rand(3, 7, generator=g, dtype=torch.float64)
    w = knn_weights(query, ref, 0.2)
    corr = np.corrcoef(np.vstack([query.numpy(), ref.numpy()]))[:3, 3:]
    expected = np.exp(corr / 0.2) / np.exp(corr / 0.2).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-10)
    loo = knn_weights(ref, ref, 0.2, torch.arange(5))
    assert torch.all(loo.diagonal() == 0)
    torch.testing.assert_close(loo.sum(1), torch.ones(5, dtype=torch.float64))
    partly = knn_weights(ref[:2], ref, 0.2, torch.tensor([1, -1]))  # -1: not a reference sample
    assert partly[0, 1] == 0 and (partly[1] > 0).all()


def test_prior_network_starts_as_the_knn_prior():
    net = _prior_net()
    with torch.no_grad():  # silence the learnt head: what is left is the kNN logit passed to the output
        net.out.weight.zero_()
        net.out.bias.zero_()
    codes, motif, expr = _inputs(n_loci=5, n_samples=3)
    ref_y = torch.randint(0, 2, (5, 4)).float()
    out = net(codes, motif, expr, ref_y=ref_y)
    knn = ref_y @ net.reference_weights(expr).T
    torch.testing.assert_close(out, torch.logit(knn.clamp(0.01, 0.99)))


def test_prior_ignores_labels_of_unlabelled_loci_and_of_the_sample_itself():
    net = _prior_net()
    codes, motif, expr = _inputs(n_loci=5, n_samples=4)
    ref_y = torch.randint(0, 2, (5, 4)).float()
    has_ref = torch.tensor([True, True, False, True, False])
    own = torch.arange(4)  # sample k is reference k: left out of its own prior
    out = net(codes, motif, expr, ref_y=ref_y, has_ref=has_ref, self_index=own)
    flipped = ref_y.clone()
    flipped[~has_ref] = 1 - flipped[~has_ref]
    torch.testing.assert_close(net(codes, motif, expr, ref_y=flipped, has_ref=has_ref, self_index=own), out)
    other = ref_y.clone()
    other[:, 2] = 1 - other[:, 2]  # reference sample 2's labels: only sample 2 must not see them
    changed = net(codes, motif, expr, ref_y=other, has_ref=has_ref, self_index=own)
    torch.testing.assert_close(changed[:, 2], out[:, 2])
    assert not torch.allclose(changed[has_ref][:, [0, 1, 3]], out[has_ref][:, [0, 1, 3]])
    # no reference labels at all = every locus unlabelled
    none = net(codes, motif, expr, self_index=own)
    torch.testing.assert_close(none[~has_ref], out[~has_ref])


def test_delta_expression_needs_the_expression_branch_and_references():
    from deepcage.model._network import DeepCAGENet

    with pytest.raises(ValueError, match="expression branch"):
        DeepCAGENet(6, preset="small", use_expression=False, delta_expression=True, n_ref=3)
    with pytest.raises(ValueError, match="n_ref"):
        DeepCAGENet(6, preset="small", prior=True, n_ref=1)
    with pytest.raises(NotImplementedError):
        _prior_net().forward_pairs(*_inputs())
    net = DeepCAGENet(6, preset="small", hidden=16)
    assert "prior" not in net.config  # the published network's saved config is unchanged
    with pytest.raises(ValueError, match="no reference"):
        net.set_reference(torch.zeros(3, 6), 0.1)


def test_reverse_complement_network_reads_both_strands():
    net = DeepCAGENet(3, seq_len=300, preset="small", hidden=8, reverse_complement=True)
    assert net.config["reverse_complement"] is True
    assert "reverse_complement" not in DeepCAGENet(3, seq_len=300, preset="small", hidden=8).config
    codes = torch.randint(0, 5, (4, 300), generator=torch.Generator().manual_seed(0))
    rc = torch.from_numpy(reverse_complement_codes(codes.numpy()))
    net.eval()
    fwd, bwd = net.sequence_features(codes_to_onehot(codes)), net.sequence_features(codes_to_onehot(rc))
    torch.testing.assert_close(fwd, bwd, atol=1e-5, rtol=1e-4)
    plain = DeepCAGENet(3, seq_len=300, preset="small", hidden=8)
    plain.load_state_dict(net.state_dict())
    plain.eval()
    both = 0.5 * (
        plain.sequence_features(codes_to_onehot(codes)) + plain.sequence_features(codes_to_onehot(rc))
    )
    torch.testing.assert_close(fwd, both, atol=1e-5, rtol=1e-4)
    # training: each row is one strand at random (the trunk's batch norm kept on running stats to compare rows)
    net.train()
    net.trunk.eval()
    torch.manual_seed(1)
    x = codes_to_onehot(codes.repeat(8, 1))
    flipped = net.sequence_features(x)
    forward, reverse = plain.sequence_features(x), plain.sequence_features(x.flip((1, 2)))
    is_forward = torch.isclose(flipped, forward, atol=1e-5).all(1)
    is_reverse = torch.isclose(flipped, reverse, atol=1e-5).all(1)
    assert (is_forward | is_reverse).all() and is_forward.any() and is_reverse.any()
