"""The training plan: the whole loss, the optimiser and the validation metrics of a DeepCAGE network.

After scvi-tools' ``TrainingPlan``: the LightningModule holds the network and how it is trained, nothing of the
data. Batches come complete from :class:`deepcage.model._data.PairDataModule` (the network's inputs, the
reference of the prior, loss weights); the runner (:mod:`deepcage.model._runner`) owns the Trainer.
"""

from __future__ import annotations

import math
import random

import lightning.pytorch as pl
import numpy as np
import torch
import torch.nn.functional as F

from ._data import PairData, make_loader  # noqa: F401 (their old home; import them from ._data)
from ._network import DeepCAGENet, codes_to_onehot

__all__ = ["DeepCAGEModule", "calibrate_novel_mode", "contrast_loss"]


def _numpy_state() -> tuple:
    """numpy's global RNG state in types that ``torch.load(weights_only=True)`` accepts."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002 (global stream used by libraries)
    return (str(name), torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss))


class DeepCAGEModule(pl.LightningModule):
    """Training plan of a :class:`~deepcage.model.DeepCAGENet`: loss, optimiser, validation auPR, history.

    Parameters
    ----------
    net_config
        Keyword arguments of :class:`~deepcage.model.DeepCAGENet` (:meth:`TrainConfig.net_config`).
    lr
        Adam learning rate.
    pos_weight
        Weight of positive pairs in the BCE loss (None: 1).
    seed
        Kept for checkpoints' hyper-parameters (the data module owns the data's random streams).
    novel_weight
        Weight of the loss of the same pairs predicted without reference labels (kNN-prior networks).
    expression_l2
        L2 penalty on the weights that read the expression inputs.
    contrast_weight
        Weight of the across-sample loss (:func:`contrast_loss`): per locus, which of the batch's samples are open.
    """

    def __init__(
        self,
        net_config: dict,
        *,
        lr: float = 1e-3,
        pos_weight: float | None = None,
        samples_per_batch: int | None = None,
        seed: int = 0,
        novel_weight: float = 0.0,
        expression_l2: float = 0.0,
        contrast_weight: float = 0.0,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.net = DeepCAGENet(**net_config)
        self.lr = lr
        self.task = self.net.task
        self.novel_weight = float(novel_weight)
        self.expression_l2 = float(expression_l2)
        self.contrast_weight = float(contrast_weight)
        self._val_out: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._train_sum, self._train_n = 0.0, 0
        self.history: list[dict] = []

    # -------------------------------------------------------------- the loss
    def _data_loss(
        self, out: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.task == "classification":
            pw = self.hparams.pos_weight
            pw = None if pw is None else torch.tensor(pw, device=out.device, dtype=out.dtype)
            return F.binary_cross_entropy_with_logits(out, y, weight=weight, pos_weight=pw)
        return F.mse_loss(out, y)

    def _reference(self, batch: dict) -> dict:
        """The prior's inputs the network uses: the training samples' labels, each sample left out of its own."""
        net = self.net
        if net.prior:
            return {"ref_y": batch["ref_y"], "self_index": batch["self_index"]}
        if net.delta_expression:
            return {"self_index": batch["self_index"]}
        return {}

    def loss(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loss to minimise, loss on the data)`` of a batch: the labelled and the no-label mode, plus L2.

        With the kNN prior, the same pairs are also predicted without reference labels (how loci nobody has
        labels for are predicted), weighted by ``novel_weight``; both modes share one batch-norm pass
        (:meth:`DeepCAGENet.head_both_modes`). The across-sample loss (``contrast_weight``) and the L2 penalty on
        the expression weights are not part of the data loss that is logged.
        """
        net, y, weight = self.net, batch["y"].float(), batch.get("weight")
        s = net.sequence_features(codes_to_onehot(batch["codes"])) if net.use_sequence else None
        novel = None
        if net.prior and self.novel_weight > 0:
            out, novel = net.head_both_modes(
                s, batch["motif"], batch["expr"], batch["ref_y"], batch["self_index"]
            )
            data = self._data_loss(out.float(), y, weight)
            data = data + self.novel_weight * self._data_loss(novel.float(), y, weight)
        else:
            out = net.head_from_features(s, batch["motif"], batch["expr"], **self._reference(batch))
            data = self._data_loss(out.float(), y, weight)
        total = data
        if self.contrast_weight > 0:
            total = total + self.contrast_weight * contrast_loss(out.float(), y)
            if novel is not None:
                total = total + self.contrast_weight * self.novel_weight * contrast_loss(novel.float(), y)
        if self.expression_l2 > 0 and net.use_expression:
            total = total + 0.5 * self.expression_l2 * net.expression_penalty()
        return total, data

    # -------------------------------------------------------------- steps
    def training_step(self, batch, batch_idx):
        loss, data = self.loss(batch)
        n = batch["y"].numel()
        self._train_sum += float(data.detach()) * n
        self._train_n += n
        self.log("train_loss", data, on_step=True, on_epoch=False, prog_bar=True, batch_size=n)
        return loss

    def on_train_epoch_start(self) -> None:
        self._train_sum, self._train_n = 0.0, 0

    def _epoch_train_loss(self) -> float:
        t = torch.tensor([self._train_sum, float(self._train_n)], dtype=torch.float64, device=self.device)
        if self.trainer.world_size > 1:
            t = self.all_gather(t).reshape(-1, 2).sum(0)
        return float(t[0] / t[1]) if t[1] > 0 else math.nan

    def validation_step(self, batch, batch_idx):
        net = self.net
        s = net.sequence_features(codes_to_onehot(batch["codes"])) if net.use_sequence else None
        out = net.head_from_features(s, batch["motif"], batch["expr"], **self._reference(batch)).float()
        row = (out.detach().flatten(), batch["y"].detach().flatten().float())
        if net.prior:  # the no-label mode too: how loci without training labels (a new region) are predicted
            novel = net.head_from_features(s, batch["motif"], batch["expr"], self_index=batch["self_index"])
            row = (*row, novel.detach().float().flatten())
        self._val_out.append(row)

    def on_validation_epoch_start(self) -> None:
        self._val_out = []

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking or not self._val_out:
            self._val_out = []
            return
        parts = [torch.cat(column) for column in zip(*self._val_out)]
        self._val_out = []
        if self.trainer.world_size > 1:
            parts = [self._gather_ragged(t) for t in parts]
        out, y = parts[:2]
        row = {"epoch": int(self.current_epoch), "train_loss": self._epoch_train_loss()}
        row["val_loss"] = float(self._data_loss(out, y))
        row.update(_validation_metrics(self.task, out, y))
        if len(parts) == 3 and self.task == "classification":
            # the validation loci scored as new loci; with validation loci in whole blocks (split_loci(val_block=))
            # an honest new-locus signal, and their mean with val_auprc a monitor for both uses of the model
            row["val_auprc_novel"] = _validation_metrics(self.task, parts[2], y)["val_auprc"]
            row["val_auprc_both"] = 0.5 * (row["val_auprc"] + row["val_auprc_novel"])
        # every rank computed the same numbers from the gathered predictions: syncing them changes nothing and
        # tells Lightning they are global
        for key, value in row.items():
            if key not in ("epoch", "train_loss"):
                self.log(key, value, prog_bar=True, sync_dist=True)
        self.log("train_loss_epoch", row["train_loss"], sync_dist=True)
        self.history.append(row)

    def _gather_ragged(self, t: torch.Tensor) -> torch.Tensor:
        """All ranks' 1-d tensors, concatenated: ranks may hold different numbers of validation pairs (their last
        batches differ), and a collective needs equal sizes, so each is padded to the longest and trimmed back."""
        sizes = self.all_gather(torch.tensor([t.numel()], device=t.device)).flatten()
        longest = int(sizes.max())
        padded = torch.cat([t, t.new_full((longest - t.numel(),), float("nan"))])
        gathered = self.all_gather(padded).reshape(len(sizes), longest)
        return torch.cat([gathered[r, : int(n)] for r, n in enumerate(sizes)])

    def on_train_epoch_end(self) -> None:
        if not self.history or self.history[-1]["epoch"] != self.current_epoch:  # no validation this epoch
            loss = self._epoch_train_loss()
            self.log("train_loss_epoch", loss, sync_dist=True)
            self.history.append({"epoch": int(self.current_epoch), "train_loss": loss})

    # -------------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["deepcage_history"] = list(self.history)
        # the global random streams behind dropout (the data module saves its own): a resumed run continues
        # as an uninterrupted one would
        checkpoint["deepcage_rng"] = {
            "torch": torch.get_rng_state(),
            "numpy": _numpy_state(),
            "python": random.getstate(),
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.history = list(checkpoint.get("deepcage_history", []))
        rng = checkpoint.get("deepcage_rng")
        if rng is None:
            return
        torch.set_rng_state(rng["torch"])
        name, keys, pos, has_gauss, gauss = rng["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))  # noqa: NPY002
        random.setstate(rng["python"])
        dm = self.trainer.datamodule if self._trainer is not None else None
        if dm is not None and "loader" in rng:  # a checkpoint from before the data module had its own state
            dm.load_state_dict({"loader": rng["loader"], "samples": rng.get("samples")})

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def contrast_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Across-sample loss of ``(B_loci, B_samples)`` logits: at each locus, which samples are the open ones.

    At every locus where some but not all of the batch's samples are open, the cross-entropy between
    ``softmax`` over the samples of the logits and the open samples (uniform over them). A shift common to all
    samples at a locus does not change it, so it trains only the differences between cell types at a locus, the
    part that the locus's mean and expression similarity do not give. Mean over such loci; 0 where there are none.
    """
    n_open = y.sum(dim=1)
    mixed = (n_open > 0) & (n_open < y.shape[1])
    if not bool(mixed.any()):
        return logits.new_zeros(())
    target = y[mixed] / n_open[mixed, None]
    return -(target * F.log_softmax(logits[mixed], dim=1)).sum(dim=1).mean()


def _validation_metrics(task: str, out: torch.Tensor, y: torch.Tensor) -> dict:
    o, t = out.cpu().double().numpy(), y.cpu().double().numpy()
    if task == "classification":
        from sklearn.metrics import average_precision_score

        labels = t > 0.5
        ok = 0 < labels.sum() < len(labels)
        return {"val_auprc": float(average_precision_score(labels, o)) if ok else math.nan}
    return {"val_pearson": float(np.corrcoef(o, t)[0, 1]) if o.std() > 0 and t.std() > 0 else 0.0}


_MAX_CALIBRATION_LOCI = 20_000
#: loci per forward pass of the calibration (x all training samples): the per-pair activations of 256 loci
#: took ~0.5 GB
_CALIBRATION_CHUNK = 64


def calibrate_novel_mode(net: DeepCAGENet, data: PairData, val_loci, *, seed: int) -> dict | None:
    """Platt scaling of the no-label (novel-locus) mode, fit on validation loci the network never trained on.

    In training, the no-label mode is fit on the training loci, whose sequences the trunk can learn by heart, so
    on unseen loci its logits are over-confident; the validation loci stand in for unseen loci. Each training
    sample is left out of its own reference, as when a new cell type is predicted. The labelled mode is not
    changed. Returns the fitted scale / shift (stored in ``net.novel_calibration``), or None when the validation
    loci hold a single class or the mode does not rank them.
    """
    import warnings

    from sklearn.linear_model import LogisticRegression

    from .._runtime import torch_threads

    loci = np.asarray(val_loci)
    if len(loci) > _MAX_CALIBRATION_LOCI:
        loci = np.sort(np.random.default_rng(seed).choice(loci, _MAX_CALIBRATION_LOCI, replace=False))
    x_expr = torch.from_numpy(np.ascontiguousarray(data.expr))
    own = torch.arange(data.expr.shape[0])
    logits = []
    with torch.inference_mode(), torch_threads():
        for lo in range(0, len(loci), _CALIBRATION_CHUNK):
            idx = loci[lo : lo + _CALIBRATION_CHUNK]
            seq = codes_to_onehot(torch.from_numpy(data.codes[idx])) if net.use_sequence else None
            logits.append(net(seq, torch.from_numpy(data.motif[idx]), x_expr, self_index=own).float().numpy())
    z = np.concatenate(logits).ravel()
    t = (data.y[:, loci].T.ravel() > 0.5).astype(int)
    if t.min() == t.max():
        return None
    lr = LogisticRegression(C=1e4).fit(z[:, None], t)
    a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    if not a > 0:  # the mode does not rank the validation loci at all: leave it as trained, and say so
        warnings.warn(
            "The no-label (novel-locus) mode does not rank the validation loci (Platt slope <= 0): its "
            "probabilities are left uncalibrated. Train longer or on more loci.",
            UserWarning,
            stacklevel=3,
        )
        return None
    net.novel_calibration.copy_(torch.tensor([a, b]))
    return {"scale": a, "shift": b, "n_loci": len(loci), "n_pairs": int(len(t))}
