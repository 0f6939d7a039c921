"""The DeepCAGE network: size, trunk reuse, gradients, losses."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

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
