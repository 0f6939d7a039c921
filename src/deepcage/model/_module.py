"""Training plumbing: in-memory (locus, sample) data, locus-batch loaders and the Lightning module.

A batch is a set of loci x a set of samples. Sequences are held once per locus as uint8 base codes (1 byte
per base) and one-hot encoded on the device; nothing is read from FASTA during training. With
``device_cache=True`` (GPU, when the codes fit) the whole code matrix lives on the device and a batch is
just locus indices.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import lightning.pytorch as pl
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Sampler

from ._network import DeepCAGENet, codes_to_onehot

__all__ = ["DeepCAGEModule", "PairData", "make_loader"]


@dataclass
class PairData:
    """Everything training needs, held in memory as numpy arrays (pickled by value to spawned DDP workers).

    codes ``(n_loci, L)`` uint8, motif ``(n_loci, T)`` float32, expr ``(n_samples, T)`` float32 and the targets
    y ``(n_samples, n_loci)`` float32 of the samples used for this loader (train samples).
    """

    codes: np.ndarray
    motif: np.ndarray
    expr: np.ndarray
    y: np.ndarray

    def __post_init__(self):
        self._device_copy: dict | None = None

    def on(self, device) -> dict[str, torch.Tensor]:
        """All arrays as tensors on ``device`` (cached: the whole set lives on the accelerator)."""
        if self._device_copy is None or self._device_copy["codes"].device != torch.device(device):
            self._device_copy = {
                k: torch.from_numpy(np.ascontiguousarray(getattr(self, k))).to(device)
                for k in ("codes", "motif", "expr", "y")
            }
        return self._device_copy

    def __getstate__(self):
        return {k: getattr(self, k) for k in ("codes", "motif", "expr", "y")}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._device_copy = None


class _LocusIndex(Dataset):
    def __init__(self, loci: np.ndarray):
        self.loci = torch.as_tensor(np.asarray(loci, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.loci)

    def __getitem__(self, i):
        return self.loci[i]


class _Gather:
    """Collate locus indices into a batch; gathers codes/motif/targets on the CPU unless cached on device."""

    def __init__(self, data: PairData | None):
        self.data = data

    def __call__(self, items) -> dict[str, torch.Tensor]:
        idx = torch.stack(items)
        if self.data is None:
            return {"loci": idx}
        d, i = self.data, idx.numpy()
        return {
            "loci": idx,
            "codes": torch.from_numpy(d.codes[i]),
            "motif": torch.from_numpy(d.motif[i]),
            "y": torch.from_numpy(np.ascontiguousarray(d.y[:, i])),
        }


class BackgroundSubsampler(Sampler):
    """Every epoch: all foreground positions and a fresh random ``fraction`` of the background ones, shuffled.

    Background loci (closed in every training sample) are most of a genome and the easiest examples; drawing a
    new subset of them each epoch keeps all of them in play over the epochs at a fraction of the cost.
    """

    def __init__(self, is_background: np.ndarray, fraction: float, generator: torch.Generator):
        self.fg = torch.as_tensor(np.flatnonzero(~is_background), dtype=torch.int64)
        self.bg = torch.as_tensor(np.flatnonzero(is_background), dtype=torch.int64)
        self.n_bg = int(round(fraction * len(self.bg)))
        self.generator = generator

    def __len__(self) -> int:
        return len(self.fg) + self.n_bg

    def __iter__(self):
        pick = self.bg[torch.randperm(len(self.bg), generator=self.generator)[: self.n_bg]]
        idx = torch.cat([self.fg, pick])
        return iter(idx[torch.randperm(len(idx), generator=self.generator)].tolist())


def make_loader(
    data: PairData,
    loci: np.ndarray,
    *,
    batch_loci: int,
    shuffle: bool,
    device_cache: bool,
    num_workers: int = 0,
    pin_memory: bool = False,
    seed: int = 0,
    background: np.ndarray | None = None,
    background_fraction: float = 1.0,
) -> DataLoader:
    """Loader over locus indices; each batch is ``batch_loci`` loci (x all samples of ``data``).

    With ``background`` (bool per entry of ``loci``) and ``background_fraction < 1``, each epoch draws all other
    loci and that fraction of the background ones (:class:`BackgroundSubsampler`).
    """
    gen = torch.Generator().manual_seed(seed)
    sampler = None
    if shuffle and background is not None and background_fraction < 1:
        sampler = BackgroundSubsampler(np.asarray(background, dtype=bool), background_fraction, gen)
    loader = DataLoader(
        _LocusIndex(loci),
        batch_size=batch_loci,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        collate_fn=_Gather(None if device_cache else data),
        num_workers=num_workers,
        pin_memory=pin_memory and not device_cache,
        persistent_workers=num_workers > 0,
        generator=gen if shuffle and sampler is None else None,
    )
    loader.shuffle_generator = gen if shuffle else None  # its state goes into checkpoints (exact resume)
    return loader


def _numpy_state() -> tuple:
    """numpy's global RNG state in types that ``torch.load(weights_only=True)`` accepts."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002 (global stream used by libraries)
    return (str(name), torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss))


class DeepCAGEModule(pl.LightningModule):
    """Lightning wrapper: loss, optimiser, validation auPR; holds the network and (not saved) the data."""

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
    ):
        super().__init__()
        self.save_hyperparameters()
        self.net = DeepCAGENet(**net_config)
        self.lr = lr
        self.task = self.net.task
        self.samples_per_batch = samples_per_batch
        self.seed = seed
        self.novel_weight = float(novel_weight)
        self.locus_weight: torch.Tensor | None = None  # set by fit when background loci are subsampled
        self.expression_l2 = float(expression_l2)
        self.loader_generator: torch.Generator | None = None  # the training loader's shuffling stream
        self.train_data: PairData | None = None
        self.val_data: PairData | None = None
        self.device_cache = False
        self._val_out: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._sample_gen: torch.Generator | None = None
        self._train_sum, self._train_n = 0.0, 0
        self.history: list[dict] = []
        self.has_val = True

    # -------------------------------------------------------------- data on device
    def attach_data(self, train: PairData, val: PairData | None, *, device_cache: bool) -> None:
        self.train_data, self.val_data, self.device_cache = train, val, device_cache
        self.has_val = val is not None

    def _inputs(self, batch: dict, data: PairData):
        if "codes" in batch:
            codes, motif, y = batch["codes"], batch["motif"], batch["y"]
            expr = torch.from_numpy(data.expr).to(self.device)
        else:  # whole data set cached on the device: gather by index there
            d = data.on(self.device)
            idx = batch["loci"].to(self.device)
            codes, motif, y, expr = d["codes"][idx], d["motif"][idx], d["y"][:, idx], d["expr"]
        return codes, motif, expr, y.T  # y: (B_loci, B_samples)

    # -------------------------------------------------------------- steps
    def _loss(self, out: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        if self.task == "classification":
            pw = self.hparams.pos_weight
            pw = None if pw is None else torch.tensor(pw, device=out.device, dtype=out.dtype)
            return F.binary_cross_entropy_with_logits(out, y, weight=weight, pos_weight=pw)
        return F.mse_loss(out, y)

    def _locus_weight(self, batch: dict) -> torch.Tensor | None:
        """Per-locus loss weights ``(B_loci, 1)`` (subsampled background loci count 1 / fraction)."""
        if self.locus_weight is None:
            return None
        if self.locus_weight.device != self.device:  # moved once, not copied every step
            self.locus_weight = self.locus_weight.to(self.device)
        return self.locus_weight[batch["loci"].to(self.device)][:, None]

    def _reference(self, y: torch.Tensor, pick: torch.Tensor | None) -> dict:
        """Reference-prior inputs of a batch: the training samples are the reference, each left out of its own."""
        if not self.net.prior and not self.net.delta_expression:
            return {}
        n_ref = y.shape[1]
        self_index = torch.arange(n_ref, device=y.device) if pick is None else pick
        if not self.net.prior:
            return {"self_index": self_index}
        return {"ref_y": y, "self_index": self_index}

    def training_step(self, batch, batch_idx):
        codes, motif, expr, y = self._inputs(batch, self.train_data)
        k = self.samples_per_batch
        pick = None
        if k is not None and k < expr.shape[0]:
            if self._sample_gen is None:
                self._sample_gen = torch.Generator().manual_seed(self.seed + self.global_rank)
            pick = torch.randperm(expr.shape[0], generator=self._sample_gen)[:k].to(expr.device)
        ref = self._reference(y, pick)
        if pick is not None:
            expr, y = expr[pick], y[:, pick]
        net = self.net
        s = net.sequence_features(codes_to_onehot(codes)) if net.use_sequence else None
        weight = self._locus_weight(batch)
        if net.prior and self.novel_weight > 0:
            # the same pairs also without reference labels: how loci nobody has labels for (novel loci) are
            # predicted; both modes share one batch-norm pass (DeepCAGENet.head_both_modes)
            out, novel = net.head_both_modes(s, motif, expr, ref["ref_y"], ref["self_index"])
            loss = self._loss(out.float(), y.float(), weight)
            loss = loss + self.novel_weight * self._loss(novel.float(), y.float(), weight)
        else:
            out = net.head_from_features(s, motif, expr, **ref)
            loss = self._loss(out.float(), y.float(), weight)
        self._train_sum += float(loss.detach()) * y.numel()
        self._train_n += y.numel()
        self.log("train_loss", loss, on_step=True, on_epoch=False, prog_bar=True, batch_size=y.numel())
        if self.expression_l2 > 0 and net.use_expression:
            loss = loss + 0.5 * self.expression_l2 * net.expression_penalty()
        return loss

    def on_train_epoch_start(self) -> None:
        self._train_sum, self._train_n = 0.0, 0

    def _epoch_train_loss(self) -> float:
        t = torch.tensor([self._train_sum, float(self._train_n)], dtype=torch.float64, device=self.device)
        if self.trainer.world_size > 1:
            t = self.all_gather(t).reshape(-1, 2).sum(0)
        return float(t[0] / t[1]) if t[1] > 0 else math.nan

    def validation_step(self, batch, batch_idx):
        codes, motif, expr, y = self._inputs(batch, self.val_data)
        out = self.net(
            codes_to_onehot(codes) if self.net.use_sequence else None,
            motif,
            expr,
            **self._reference(y, None),
        ).float()
        self._val_out.append((out.detach().flatten(), y.detach().flatten().float()))

    def on_validation_epoch_start(self) -> None:
        self._val_out = []

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking or not self._val_out:
            self._val_out = []
            return
        out = torch.cat([o for o, _ in self._val_out])
        y = torch.cat([t for _, t in self._val_out])
        self._val_out = []
        if self.trainer.world_size > 1:
            out = self.all_gather(out).flatten()
            y = self.all_gather(y).flatten()
        row = {"epoch": int(self.current_epoch), "train_loss": self._epoch_train_loss()}
        row["val_loss"] = float(self._loss(out, y))
        o, t = out.cpu().double().numpy(), y.cpu().double().numpy()
        if self.task == "classification":
            from sklearn.metrics import average_precision_score

            labels = t > 0.5
            ok = 0 < labels.sum() < len(labels)
            row["val_auprc"] = float(average_precision_score(labels, o)) if ok else math.nan
        else:
            row["val_pearson"] = float(np.corrcoef(o, t)[0, 1]) if o.std() > 0 and t.std() > 0 else 0.0
        for key, value in row.items():
            if key not in ("epoch", "train_loss"):
                self.log(key, value, prog_bar=True)
        self.log("train_loss_epoch", row["train_loss"])
        self.history.append(row)

    def on_train_epoch_end(self) -> None:
        if not self.has_val:  # no validation loci: history from the training loss only
            loss = self._epoch_train_loss()
            self.log("train_loss_epoch", loss)
            self.history.append({"epoch": int(self.current_epoch), "train_loss": loss})

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["deepcage_history"] = list(self.history)
        # the random streams behind shuffling, sample subsets and dropout: a resumed run continues as an
        # uninterrupted one would
        checkpoint["deepcage_rng"] = {
            "torch": torch.get_rng_state(),
            "numpy": _numpy_state(),
            "python": random.getstate(),
            "loader": self.loader_generator.get_state() if self.loader_generator is not None else None,
            "samples": self._sample_gen.get_state() if self._sample_gen is not None else None,
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
        if rng["loader"] is not None and self.loader_generator is not None:
            self.loader_generator.set_state(rng["loader"])
        if rng["samples"] is not None:
            self._sample_gen = torch.Generator()
            self._sample_gen.set_state(rng["samples"])

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)
