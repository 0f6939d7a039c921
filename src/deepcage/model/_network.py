"""The DeepCAGE hybrid network (PyTorch only, no AnnData): a DenseNet sequence trunk + a TF-expression branch.

Shapes
------
``onehot`` ``(B_loci, 4, L)``, ``motif`` ``(B_loci, T)``, ``expr`` ``(B_samples, T)`` -> logits ``(B_loci, B_samples)``.
With the reference prior (``prior=True``) also ``ref_y`` ``(B_loci, R)``: the labels of the R reference (training)
samples at each locus.

The sequence trunk does not depend on the sample, so it runs **once per locus** and its features are broadcast
over the samples of the batch. Because the first fully connected layer acts on ``concat(s, e)``,
``FC(concat(s, e)) = W_s s + W_e e + b``: the sequence half ``W_s s + b`` is computed per locus and added to
the expression half ``W_e (motif_l * expr_k)`` of every (locus, sample) pair.

Two options go beyond the published network; both are off in a bare ``DeepCAGENet`` and chosen by
:func:`deepcage.tl.fit` (see its ``prior`` and ``delta_expression``):

``prior=True``
    The network also reads what the training (reference) samples show at the locus: their labels averaged with
    weights ``softmax(corr(g_k, g_j) / tau)`` over reference samples ``j`` (the expression-kNN prediction) and
    their plain mean, both as logits, plus a flag for loci without reference labels (novel loci). The kNN logit
    is also added to the output, so the network learns a **residual** over what RNA similarity alone predicts.
    During training the sample itself is left out of its own reference (``self_index``), so training looks like
    the unseen-cell-type case the model is for.
``delta_expression=True``
    A second expression input ``motif_l * (g_k - sum_j w_kj g_j)``: how the sample's TFs differ from those of
    the reference samples it resembles, per motif at the locus.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PRESETS", "DeepCAGENet", "codes_to_onehot", "knn_weights"]

#: Trunk presets. ``paper``: the DeepCAGE architecture (160 filters of width 15, three 5-layer DenseNet blocks
#: with growth 32, transitions of 160 filters of width 12). ``small``: a narrow trunk that trains on a CPU in
#: seconds (demos, tests): one small DenseNet block and a global max pool over positions (few features, so a
#: small training set of loci is not memorised).
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "conv_filters": 160,
        "conv_width": 15,
        "pool": 4,
        "n_blocks": 3,
        "block_layers": 5,
        "growth": 32,
        "bottleneck": 32,
        "transition_filters": 160,
        "transition_width": 12,
        "final_pool": 1,
        "global_pool": False,
        "feature_dropout": 0.0,
        "conv_dropout": 0.2,
    },
    "small": {
        "conv_filters": 32,
        "conv_width": 15,
        "pool": 8,
        "n_blocks": 1,
        "block_layers": 2,
        "growth": 16,
        "bottleneck": 16,
        "transition_filters": 32,
        "transition_width": 5,
        "final_pool": 1,
        "global_pool": True,
        "feature_dropout": 0.5,
        "conv_dropout": 0.1,
    },
}


_N_PRIOR = 3  # prior features: kNN logit, reference-mean logit, no-reference flag


def knn_weights(expr, ref, temperature, self_index=None):
    """``softmax_j(corr(expr_k, ref_j) / temperature)``: ``(n, n_ref)`` weights over reference rows (torch).

    Pearson correlation over the TF columns; ``self_index[k] >= 0`` excludes reference row ``self_index[k]``
    from row ``k`` (leave-one-out). Shared by the network's prior and :func:`deepcage.tl.baselines`'
    ``'expression_knn'``, so both weigh the training samples the same way.
    """
    zq = expr - expr.mean(dim=1, keepdim=True)
    zr = ref - ref.mean(dim=1, keepdim=True)
    zq = zq / zq.norm(dim=1, keepdim=True).clamp_min(1e-12)
    zr = zr / zr.norm(dim=1, keepdim=True).clamp_min(1e-12)
    logits = (zq @ zr.T) / temperature
    if self_index is not None:
        own = self_index >= 0
        if own.any():
            rows = torch.nonzero(own).squeeze(1)
            logits = logits.index_put((rows, self_index[rows]), logits.new_tensor(float("-inf")))
    return torch.softmax(logits, dim=1)


def codes_to_onehot(codes: torch.Tensor) -> torch.Tensor:
    """uint8/long base codes ``(n, L)`` (``A,C,G,T,N = 0..4``) -> float one-hot ``(n, 4, L)``; N is all zero."""
    x = F.one_hot(codes.long(), num_classes=5)[..., :4]
    return x.transpose(1, 2).float()


class _DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv (bottleneck) -> BN-ReLU-width-3 conv (growth); output concatenated to the input."""

    def __init__(self, in_channels: int, bottleneck: int, growth: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm1d(in_channels),
            nn.ReLU(),
            nn.Conv1d(in_channels, bottleneck, 1, bias=False),
            nn.BatchNorm1d(bottleneck),
            nn.ReLU(),
            nn.Conv1d(bottleneck, growth, 3, padding=1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], dim=1)


def _dense_block(in_channels: int, n_layers: int, bottleneck: int, growth: int) -> tuple[nn.Sequential, int]:
    layers = []
    c = in_channels
    for _ in range(n_layers):
        layers.append(_DenseLayer(c, bottleneck, growth))
        c += growth
    return nn.Sequential(*layers), c


def _check_options(preset, task, use_sequence, use_expression, prior, delta_expression, n_ref, trunk) -> None:
    if preset not in PRESETS:
        raise ValueError(f"preset={preset!r}; choose one of {sorted(PRESETS)}.")
    if task not in ("classification", "regression"):
        raise ValueError(f"task={task!r}; choose 'classification' or 'regression'.")
    if not (use_sequence or use_expression or prior):
        raise ValueError("use_sequence and use_expression cannot both be False: nothing would be learnt.")
    if delta_expression and not use_expression:
        raise ValueError("delta_expression=True needs the expression branch (use_expression=True).")
    if (prior or delta_expression) and n_ref < 2:
        raise ValueError(f"prior / delta_expression need n_ref >= 2 reference samples, got {n_ref}.")
    unknown = set(trunk) - set(PRESETS["paper"])
    if unknown:
        raise TypeError(f"Unknown trunk option(s) {sorted(unknown)}; valid: {sorted(PRESETS['paper'])}.")


def _sequence_trunk(cfg: dict) -> tuple[nn.Sequential, nn.Conv1d]:
    """The DenseNet sequence trunk (and its first convolution, the motif detectors) of a preset's config."""
    first_conv = nn.Conv1d(4, cfg["conv_filters"], cfg["conv_width"])
    layers: list[nn.Module] = [
        first_conv,
        nn.ReLU(),
        nn.BatchNorm1d(cfg["conv_filters"]),
        nn.MaxPool1d(cfg["pool"]),
        nn.Dropout(cfg["conv_dropout"]),
    ]
    c = cfg["conv_filters"]
    for b in range(cfg["n_blocks"]):
        block, c = _dense_block(c, cfg["block_layers"], cfg["bottleneck"], cfg["growth"])
        layers.append(block)
        if b < cfg["n_blocks"] - 1:  # transition between blocks
            layers += [
                nn.Conv1d(c, cfg["transition_filters"], cfg["transition_width"]),
                nn.ReLU(),
                nn.BatchNorm1d(cfg["transition_filters"]),
                nn.MaxPool1d(cfg["pool"]),
                nn.Dropout(cfg["conv_dropout"]),
            ]
            c = cfg["transition_filters"]
    layers += [nn.BatchNorm1d(c), nn.ReLU()]
    if cfg["global_pool"]:  # one max per channel: "is there a site anywhere"
        layers.append(nn.AdaptiveMaxPool1d(1))
    elif cfg["final_pool"] > 1:
        layers.append(nn.MaxPool1d(cfg["final_pool"]))
    layers.append(nn.Flatten())
    if cfg["feature_dropout"] > 0:
        layers.append(nn.Dropout(cfg["feature_dropout"]))
    return nn.Sequential(*layers), first_conv


def _n_features(trunk: nn.Module, seq_len: int, preset: str) -> int:
    """Length of the trunk's flattened output for sequences of ``seq_len`` bp."""
    with torch.no_grad():
        was = trunk.training
        trunk.eval()
        try:
            return int(trunk(torch.zeros(1, 4, seq_len)).shape[1])
        except RuntimeError as err:
            raise ValueError(f"seq_len={seq_len} is too short for the {preset!r} trunk ({err}).") from None
        finally:
            trunk.train(was)


class DeepCAGENet(nn.Module):
    """DeepCAGE hybrid network: DenseNet sequence trunk + motif-score x TF-expression branch -> 1 output per pair.

    Parameters
    ----------
    n_tfs
        Number of TFs ``T`` (columns of the motif scores and the expression, in the same order).
    seq_len
        Sequence window ``L`` (1,000 bp in the paper).
    preset
        ``'paper'`` (the published trunk, ~3.4 M parameters with ~500 TFs) or ``'small'`` (CPU demos). Any trunk
        setting of :data:`PRESETS` can be overridden by keyword (e.g. ``conv_filters=96``).
    hidden
        Width of the fully connected layer after the concatenation (512 in the paper, 256 in its released code).
    task
        ``'classification'`` (logits; sigmoid + BCE) or ``'regression'`` (linear output; MSE).
    use_sequence, use_expression
        Switch a branch off (ablation). At least one must stay on.
    dropout
        Dropout after the fully connected layer.
    prior
        Read the reference samples' labels at each locus (expression-kNN prior, see the module docstring). Needs
        ``n_ref`` and :meth:`set_reference`.
    delta_expression
        Add the expression-difference input ``motif * (g - kNN average of the reference expression)``.
    n_ref
        Number of reference samples (the training samples) for ``prior`` / ``delta_expression``.
    prior_eps
        kNN and mean priors are clipped to ``[prior_eps, 1 - prior_eps]`` before the logit.
    linear_expression
        A linear path from the expression inputs to the output, next to the hidden layer.
    reverse_complement
        Read both strands: in training each locus's window is reverse-complemented with probability 1/2, in
        evaluation the trunk's features of the two strands are averaged. Accessibility has no strand, so the
        network sees twice the sequence for the same loci and its prediction does not depend on the strand.

    Notes
    -----
    Input standardisation (buffers ``motif_mean``, ``motif_std``, ``expr_mean``, ``expr_std``; see
    :meth:`set_input_scaling`) is fit by :func:`deepcage.tl.fit` and saved with the weights.

    Attributes
    ----------
    first_conv
        The first convolution (``nn.Conv1d(4, conv_filters, conv_width)``): its filters are the motif detectors
        interpreted by :func:`deepcage.tl.filter_motifs`.
    n_features
        Length of the flattened trunk output (0 without the sequence branch).
    """

    def __init__(
        self,
        n_tfs: int,
        *,
        seq_len: int = 1000,
        preset: str = "paper",
        hidden: int = 512,
        task: str = "classification",
        use_sequence: bool = True,
        use_expression: bool = True,
        dropout: float = 0.5,
        prior: bool = False,
        delta_expression: bool = False,
        n_ref: int = 0,
        prior_eps: float = 0.01,
        linear_expression: bool = False,
        reverse_complement: bool = False,
        **trunk: Any,
    ):
        super().__init__()
        _check_options(preset, task, use_sequence, use_expression, prior, delta_expression, n_ref, trunk)
        cfg = {**PRESETS[preset], **trunk}
        self.config = {
            "n_tfs": int(n_tfs),
            "seq_len": int(seq_len),
            "preset": preset,
            "hidden": int(hidden),
            "task": task,
            "use_sequence": bool(use_sequence),
            "use_expression": bool(use_expression),
            "dropout": float(dropout),
            **trunk,
        }
        if reverse_complement and use_sequence:  # only then (without a trunk there is no strand to read)
            self.config["reverse_complement"] = True
        # only then: configs of paper-network models stay as they were
        if prior or delta_expression or linear_expression:
            self.config.update(
                prior=bool(prior),
                delta_expression=bool(delta_expression),
                n_ref=int(n_ref),
                prior_eps=float(prior_eps),
                linear_expression=bool(linear_expression),
            )
        self.n_tfs = int(n_tfs)
        self.seq_len = int(seq_len)
        self.task = task
        self.use_sequence = bool(use_sequence)
        self.use_expression = bool(use_expression)
        self.prior = bool(prior)
        self.delta_expression = bool(delta_expression)
        self.n_ref = int(n_ref)
        self.prior_eps = float(prior_eps)
        self.linear_expression = bool(linear_expression) and self.use_expression
        self.reverse_complement = bool(reverse_complement) and self.use_sequence

        self.first_conv = self.trunk = None
        self.n_features = 0
        if self.use_sequence:
            trunk, self.first_conv = _sequence_trunk(cfg)
            self.trunk = trunk
            self.n_features = _n_features(self.trunk, self.seq_len, preset)
        n_expr = self.n_tfs if self.use_expression else 0
        self.fc = nn.Linear(self.n_features + n_expr, hidden)
        self.fc_bn = nn.BatchNorm1d(hidden)
        self.fc_drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, 1)
        self.register_buffer("motif_mean", torch.zeros(self.n_tfs))
        self.register_buffer("motif_std", torch.ones(self.n_tfs))
        self.register_buffer("expr_mean", torch.zeros(self.n_tfs))
        self.register_buffer("expr_std", torch.ones(self.n_tfs))
        if self.prior or self.delta_expression:
            self.register_buffer("ref_expr", torch.zeros(self.n_ref, self.n_tfs))
            self.register_buffer("knn_temperature", torch.tensor(0.05))
        if self.delta_expression:
            self.fc_delta = nn.Linear(self.n_tfs, hidden, bias=False)
        if self.linear_expression:
            # a linear path from the expression inputs straight to the output, next to the hidden layer: small,
            # L2-penalised per-TF effects that generalise from few training cell types (wide & deep)
            n_lin = self.n_tfs * (2 if self.delta_expression else 1)
            self.expr_linear = nn.Linear(n_lin, 1, bias=False)
            nn.init.zeros_(self.expr_linear.weight)
        if self.prior:
            self.fc_prior = nn.Linear(_N_PRIOR, hidden, bias=False)
            # the kNN logit passes straight to the output: the network starts as the expression-kNN and learns
            # a residual over it
            self.prior_out = nn.Linear(_N_PRIOR, 1, bias=False)
            with torch.no_grad():
                self.prior_out.weight.zero_()
                self.prior_out.weight[0, 0] = 1.0
            # logit scale and shift of the no-label (novel-locus) mode, fit after training on validation loci
            # that the network never trained on (deepcage.tl.fit); identity while training
            self.register_buffer("novel_calibration", torch.tensor([1.0, 0.0]))

    # ------------------------------------------------------------------ parts
    def set_input_scaling(self, motif_mean, motif_std, expr_mean, expr_std) -> None:
        """Store the input standardisation ``(m - motif_mean) / motif_std`` and ``(g - expr_mean) / expr_std``.

        Each argument is a scalar or a per-TF vector. :func:`deepcage.tl.fit` standardises motif scores per TF
        over the training loci and expression by one global mean/std over the training samples (so a TF that is
        off becomes negative and the product with a strong motif separates "site + TF on" from "site + TF off").
        """
        for name, value in (
            ("motif_mean", motif_mean),
            ("motif_std", motif_std),
            ("expr_mean", expr_mean),
            ("expr_std", expr_std),
        ):
            t = torch.as_tensor(value, dtype=torch.float32).expand(self.n_tfs)
            if name.endswith("std"):
                t = t.clamp_min(1e-6)
            getattr(self, name).copy_(t)

    def set_reference(self, ref_expr, temperature: float) -> None:
        """Store the reference samples' normalised TF expression ``(n_ref, T)`` and the kNN temperature."""
        if not hasattr(self, "ref_expr"):
            raise ValueError("This network has no reference (prior=False and delta_expression=False).")
        ref = torch.as_tensor(ref_expr, dtype=torch.float32)
        if tuple(ref.shape) != tuple(self.ref_expr.shape):
            raise ValueError(f"ref_expr must be {tuple(self.ref_expr.shape)}, got {tuple(ref.shape)}.")
        if not temperature > 0:
            raise ValueError(f"The kNN temperature must be positive, got {temperature}.")
        self.ref_expr.copy_(ref)
        self.knn_temperature.fill_(float(temperature))

    def reference_weights(self, expr: torch.Tensor, self_index: torch.Tensor | None = None) -> torch.Tensor:
        """``(B_samples, n_ref)`` weights ``softmax_j(corr(g_k, g_j) / temperature)`` over reference samples.

        ``self_index[k] >= 0`` leaves reference sample ``self_index[k]`` out of sample ``k``'s weights (the
        sample itself, during training or when a training sample is predicted).
        """
        return knn_weights(expr.float(), self.ref_expr, self.knn_temperature, self_index)

    def _prior_features(self, ref_y, has_ref, w, self_index) -> torch.Tensor:
        """``(B_loci, B_samples, 3)``: kNN prior, reference mean (logits for classification), no-reference flag."""
        ref_y = ref_y.float()
        n_loci, n_samples = ref_y.shape[0], w.shape[0]
        knn = ref_y @ w.T
        total = ref_y.sum(dim=1, keepdim=True).expand(n_loci, n_samples)
        n = torch.full((n_samples,), float(self.n_ref), device=ref_y.device)
        if self_index is not None:
            own = self_index >= 0
            total = total - ref_y[:, self_index.clamp_min(0)] * own[None, :].float()
            n = n - own.float()
        mean = total / n[None, :]
        if self.task == "classification":
            eps = self.prior_eps
            knn, mean = torch.logit(knn.clamp(eps, 1 - eps)), torch.logit(mean.clamp(eps, 1 - eps))
        feats = torch.stack([knn, mean], dim=-1)
        if has_ref is None:
            has_ref = torch.ones(n_loci, dtype=torch.bool, device=ref_y.device)
        has = has_ref.float()[:, None, None]
        missing = (1.0 - has).expand(n_loci, n_samples, 1)
        return torch.cat([feats * has, missing], dim=-1)

    def _expr(self, expr: torch.Tensor) -> torch.Tensor:
        return (expr.float() - self.expr_mean) / self.expr_std

    def sequence_features(self, onehot: torch.Tensor) -> torch.Tensor:
        """Flattened trunk output ``(B_loci, n_features)`` (one row per locus)."""
        if self.trunk is None:
            return onehot.new_zeros(onehot.shape[0], 0)
        if onehot.dtype == torch.uint8 and onehot.dim() == 2:
            onehot = codes_to_onehot(onehot)
        if onehot.shape[1:] != (4, self.seq_len):
            raise ValueError(f"onehot must be (B, 4, {self.seq_len}), got {tuple(onehot.shape)}.")
        x = onehot.float()
        if not self.reverse_complement:
            return self.trunk(x)
        # channels A, C, G, T reversed are the complement; N (all zero) stays N
        if self.training:
            flip = torch.rand(x.shape[0], device=x.device) < 0.5
            return self.trunk(torch.where(flip[:, None, None], x.flip((1, 2)), x))
        both = self.trunk(torch.cat([x, x.flip((1, 2))]))
        return 0.5 * (both[: x.shape[0]] + both[x.shape[0] :])

    def expression_input(self, motif: torch.Tensor, expr: torch.Tensor) -> torch.Tensor:
        """Element-wise product of standardised motif scores and expression, ``(B_loci, B_samples, T)``."""
        m = (motif.float() - self.motif_mean) / self.motif_std
        return m[:, None, :] * self._expr(expr)[None, :, :]

    def _head(self, h: torch.Tensor) -> torch.Tensor:
        shape = h.shape[:-1]
        h = h.reshape(-1, h.shape[-1])
        h = self.fc_drop(F.relu(self.fc_bn(h)))
        return self.out(h).reshape(shape)

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        onehot: torch.Tensor | None,
        motif: torch.Tensor,
        expr: torch.Tensor,
        ref_y: torch.Tensor | None = None,
        has_ref: torch.Tensor | None = None,
        self_index: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits (classification) or values (regression) for every (locus, sample) pair.

        Parameters
        ----------
        onehot
            ``(B_loci, 4, L)`` float one-hot, or ``(B_loci, L)`` uint8 base codes. Ignored (may be None) without
            the sequence branch.
        motif
            ``(B_loci, T)`` motif scores.
        expr
            ``(B_samples, T)`` normalised TF expression.
        ref_y
            ``(B_loci, n_ref)`` labels of the reference samples at each locus (``prior=True``); None: no locus
            has reference labels (novel loci).
        has_ref
            ``(B_loci,)`` bool: which rows of ``ref_y`` hold labels (default: all).
        self_index
            ``(B_samples,)`` index of each sample among the reference samples, -1 for new samples: the sample
            is left out of its own kNN prior and mean (leave-one-out, as in training).

        Returns
        -------
        ``(B_loci, B_samples)`` tensor.
        """
        s = self.sequence_features(onehot) if self.use_sequence else None
        return self.head_from_features(s, motif, expr, ref_y, has_ref, self_index)

    def head_from_features(self, s, motif, expr, ref_y=None, has_ref=None, self_index=None) -> torch.Tensor:
        """:meth:`forward` from the trunk output ``s`` (``(B_loci, n_features)``, or None without the trunk)."""
        out = self._finish(*self._pre_head(s, motif, expr, ref_y, has_ref, self_index))
        if not self.prior:
            return out
        a, b = self.novel_calibration[0], self.novel_calibration[1]
        if ref_y is None:
            return a * out + b
        if has_ref is None:
            return out
        return torch.where(has_ref[:, None], out, a * out + b)

    def head_both_modes(self, s, motif, expr, ref_y, self_index) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs with the reference labels ``ref_y`` and without them (novel loci), in **one** batch-norm pass.

        Training both modes through separate passes would normalise each with its own batch statistics while
        prediction uses running statistics averaged over the two: each mode would then be off its training scale
        (on unlabelled loci the mean probability was 0.39 for a 5 % open rate). One pass over the union keeps
        training and prediction on the same statistics.
        """
        lab = self._pre_head(s, motif, expr, ref_y, None, self_index)
        nov = self._pre_head(s, motif, expr, None, None, self_index)
        n = expr.shape[0]
        both = [torch.cat([a, b], dim=1) if a is not None else None for a, b in zip(lab[:2], nov[:2])]
        lin = [torch.cat([a, b], dim=1) for a, b in zip(lab[2], nov[2])]
        out = self._finish(both[0], both[1], lin)
        return out[:, :n], out[:, n:]

    def _pre_head(self, s, motif, expr, ref_y=None, has_ref=None, self_index=None):
        """Hidden pre-activations ``(B_loci, B_samples, hidden)``, the prior offset and the linear inputs."""
        n_loci, n_samples = motif.shape[0], expr.shape[0]
        h = self.fc.bias.expand(n_loci, n_samples, -1)
        if s is not None:
            h = h + F.linear(s, self.fc.weight[:, : self.n_features])[:, None, :]
        linear_inputs = []
        if self.use_expression:
            e = self.expression_input(motif, expr)
            h = h + F.linear(e, self.fc.weight[:, self.n_features :])
            linear_inputs.append(e)
        offset = None
        if self.prior or self.delta_expression:
            w = self.reference_weights(expr, self_index)
            if self.delta_expression:
                delta = (expr.float() - w @ self.ref_expr) / self.expr_std
                m = (motif.float() - self.motif_mean) / self.motif_std
                e_delta = m[:, None, :] * delta[None, :, :]
                h = h + F.linear(e_delta, self.fc_delta.weight)
                linear_inputs.append(e_delta)
            if self.prior:
                if ref_y is None:
                    ref_y = motif.new_zeros(n_loci, self.n_ref)
                    has_ref = torch.zeros(n_loci, dtype=torch.bool, device=motif.device)
                phi = self._prior_features(ref_y, has_ref, w, self_index)
                h = h + F.linear(phi, self.fc_prior.weight)
                offset = self.prior_out(phi).squeeze(-1)
        return h, offset, linear_inputs

    def _finish(self, h, offset, linear_inputs) -> torch.Tensor:
        out = self._head(h)
        if self.linear_expression:
            out = out + self.expr_linear(torch.cat(linear_inputs, dim=-1)).squeeze(-1)
        return out if offset is None else out + offset

    def expression_penalty(self) -> torch.Tensor:
        """Sum of squares of the weights that read the expression inputs (for an L2 penalty in training)."""
        total = self.fc.weight[:, self.n_features :].pow(2).sum()
        for name in ("fc_delta", "expr_linear"):
            if hasattr(self, name):
                total = total + getattr(self, name).weight.pow(2).sum()
        return total

    def forward_pairs(
        self, onehot: torch.Tensor | None, motif: torch.Tensor, expr: torch.Tensor
    ) -> torch.Tensor:
        """Naive per-pair computation (trunk run for every pair): ``(B,)`` outputs for aligned rows.

        Reference implementation for tests of the trunk reuse in :meth:`forward`; not used in training. It covers
        the published network (no ``prior`` / ``delta_expression`` inputs).
        """
        if self.prior or self.delta_expression:
            raise NotImplementedError(
                "forward_pairs covers the published network only (prior/delta are off)."
            )
        parts = []
        if self.use_sequence:
            parts.append(self.sequence_features(onehot))
        if self.use_expression:
            m = (motif.float() - self.motif_mean) / self.motif_std
            parts.append(m * self._expr(expr))
        return self._head(self.fc(torch.cat(parts, dim=1)))

    def n_parameters(self, trainable_only: bool = True) -> int:
        """Number of (trainable) parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)
