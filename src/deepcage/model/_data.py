"""Training data: (locus, sample) pairs held in memory, locus-batch loaders and the Lightning data module.

A batch is a set of loci x a set of samples. Sequences are held once per locus as uint8 base codes (1 byte
per base) and one-hot encoded on the device; nothing is read from FASTA during training. With
``device_cache=True`` (GPU, when the codes fit) the whole code matrix lives on the device and a batch is
just locus indices, gathered there.

:class:`PairDataModule` owns everything about the data of a training run: the arrays, which loci train and
validate, per-locus loss weights (subsampled background), the sample subsets of each batch and the random
streams behind shuffling, so that the training plan (:class:`deepcage.model._module.DeepCAGEModule`) only
sees complete batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from .._window_codes import WindowCodes
from ._inputs import on_disk as _on_disk

__all__ = ["PairData", "PairDataModule", "make_loader"]


@dataclass
class PairData:
    """Everything training needs, held in memory as numpy arrays (pickled by value to spawned DDP workers).

    codes ``(n_loci, L)`` uint8 (an array, or a :class:`~deepcage._window_codes.WindowCodes` holding each covered
    base once), motif ``(n_loci, T)`` float32, expr ``(n_samples, T)`` float32 and the targets y
    ``(n_samples, n_loci)`` of the samples used for this loader (train samples): uint8 0/1 for classification
    (1 byte per pair; batches are converted to float on the device), float32 for regression. Any of the arrays
    may be a read-only memory map (:func:`numpy.load` with ``mmap_mode='r'``): batches are gathered from it.
    """

    codes: np.ndarray | WindowCodes
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
                for k in ("motif", "expr", "y")
            }
            codes = self.codes
            self._device_copy["codes"] = (
                codes.to(device)
                if isinstance(codes, WindowCodes)
                else torch.from_numpy(np.ascontiguousarray(codes)).to(device)
            )
        return self._device_copy

    def __getstate__(self):
        return {k: getattr(self, k) for k in ("codes", "motif", "expr", "y")}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._device_copy = None


class _LocusIndex(Dataset):
    """Locus indices, fetched a whole batch at a time (no Python object per locus)."""

    def __init__(self, loci: np.ndarray):
        self.loci = torch.as_tensor(np.asarray(loci, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.loci)

    def __getitem__(self, positions) -> torch.Tensor:
        return self.loci[torch.as_tensor(positions, dtype=torch.int64)]


class _Gather:
    """Collate a batch of locus indices; gathers codes/motif/targets on the CPU unless cached on device.

    From arrays on disk (memory maps), the batch's loci are read in storage order.
    """

    def __init__(self, data: PairData | None):
        self.data = data
        self.sort = data is not None and (_on_disk(data.codes) or _on_disk(data.motif))

    def __call__(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.data is None:
            return {"loci": idx}
        if self.sort:
            idx = idx.sort().values
        d, i = self.data, idx.numpy()
        return {
            "loci": idx,
            "codes": torch.from_numpy(np.ascontiguousarray(d.codes[i])),
            "motif": torch.from_numpy(np.ascontiguousarray(d.motif[i])),
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

    def _positions(self) -> torch.Tensor:
        pick = self.bg[torch.randperm(len(self.bg), generator=self.generator)[: self.n_bg]]
        return torch.cat([self.fg, pick])

    def __iter__(self):
        idx = self._positions()
        return _as_ints(idx[torch.randperm(len(idx), generator=self.generator)])


class BlockShuffleSampler(BackgroundSubsampler):
    """Shuffling for arrays read from disk: blocks of consecutive loci in random order, mixed a few at a time.

    Each epoch the positions (all, or the foreground and a fresh ``fraction`` of the background) are cut into
    blocks of ``block`` consecutive positions; the blocks are put in random order and every ``window`` of them
    is shuffled together. A batch then reads from at most ``window`` places of a memory-mapped file, while over
    an epoch every locus is still seen once, at a random time.
    """

    def __init__(
        self,
        is_background: np.ndarray,
        fraction: float,
        generator: torch.Generator,
        *,
        block: int = 4096,
        window: int = 16,
    ):
        super().__init__(is_background, fraction, generator)
        self.block, self.window = int(block), int(window)

    def __iter__(self):
        idx = self._positions().sort().values
        blocks = list(torch.split(idx, self.block))
        order = torch.randperm(len(blocks), generator=self.generator).tolist()
        out = []
        for w in range(0, len(order), self.window):
            part = torch.cat([blocks[b] for b in order[w : w + self.window]])
            out.append(part[torch.randperm(len(part), generator=self.generator)])
        return _as_ints(torch.cat(out)) if out else iter([])


def _as_ints(positions: torch.Tensor):
    """The positions as Python ints, made 65,536 at a time (a whole epoch's list costs 36 B per locus)."""
    for part in torch.split(positions, 1 << 16):
        yield from part.tolist()


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
    blocks: bool | None = None,
) -> DataLoader:
    """Loader over locus indices; each batch is ``batch_loci`` loci (x all samples of ``data``).

    With ``background`` (bool per entry of ``loci``) and ``background_fraction < 1``, each epoch draws all other
    loci and that fraction of the background ones (:class:`BackgroundSubsampler`). ``blocks`` (default: when the
    codes or motif scores are memory-mapped files) shuffles by blocks of consecutive loci
    (:class:`BlockShuffleSampler`), so training reads a file on disk in large pieces.
    """
    from torch.utils.data import BatchSampler, RandomSampler, SequentialSampler

    gen = torch.Generator().manual_seed(seed)
    dataset = _LocusIndex(loci)
    if blocks is None:
        blocks = _on_disk(data.codes) or _on_disk(data.motif)
    is_bg = np.zeros(len(dataset), dtype=bool) if background is None else np.asarray(background, dtype=bool)
    fraction = background_fraction if background is not None else 1.0
    if not shuffle:
        sampler = SequentialSampler(dataset)
    elif blocks:
        sampler = BlockShuffleSampler(is_bg, fraction, gen)
    elif fraction < 1:
        sampler = BackgroundSubsampler(is_bg, fraction, gen)
    else:
        sampler = RandomSampler(dataset, generator=gen)
    # the loader draws its workers' base seed from the same stream as a plain shuffle (as DataLoader(shuffle=True,
    # generator=gen) does), so the order of batches is what it always was for a seed
    plain = isinstance(sampler, RandomSampler)
    loader = DataLoader(
        dataset,
        batch_size=None,  # the sampler yields whole batches: one fetch and one gather per batch
        sampler=BatchSampler(sampler, batch_size=batch_loci, drop_last=False),
        collate_fn=_Gather(None if device_cache else data),
        num_workers=num_workers,
        pin_memory=pin_memory and not device_cache,
        persistent_workers=num_workers > 0,
        generator=gen if plain else None,
    )
    loader.shuffle_generator = gen if shuffle else None  # its state goes into checkpoints (exact resume)
    return loader


class PairDataModule(pl.LightningDataModule):
    """The pairs of a training run: training samples x training loci, and x validation loci.

    Parameters
    ----------
    data
        The arrays (:class:`PairData`) of the training samples over all loci.
    train_loci, val_loci
        Indices of the training and validation loci (``val_loci`` may be empty: no validation).
    batch_loci
        Loci per batch.
    samples_per_batch
        A fresh random subset of this many training samples per training batch (None: all of them).
    seed
        Seed of the shuffling and sample-subset streams (saved in checkpoints, so a resumed run continues
        as an uninterrupted one would).
    locus_weight
        Per-locus loss weight over all loci (e.g. ``1 / background_fraction`` on subsampled background loci).
    background, background_fraction
        Bool per training locus marking background (closed in every training sample) and the fraction of it
        drawn each epoch (:class:`BackgroundSubsampler`).
    device_cache
        Keep all arrays on the accelerator and gather batches there.
    num_workers, pin_memory
        DataLoader options (for gathering on the CPU).

    Each batch reaching the training plan holds the network's inputs: ``codes`` ``(B, L)``, ``motif``
    ``(B, T)``, ``expr`` ``(S, T)`` and ``y`` ``(B, S)`` of the batch's samples; the reference of the prior,
    ``ref_y`` ``(B, n_train)`` (all training samples' labels) and ``self_index`` (each batch sample's row in
    the reference, so it is left out of its own prior); ``weight`` ``(B, 1)`` when loci are weighted.
    """

    def __init__(
        self,
        data: PairData,
        train_loci: np.ndarray,
        val_loci: np.ndarray,
        *,
        batch_loci: int,
        samples_per_batch: int | None = None,
        seed: int = 0,
        locus_weight: np.ndarray | None = None,
        background: np.ndarray | None = None,
        background_fraction: float = 1.0,
        device_cache: bool = False,
        num_workers: int = 0,
        pin_memory: bool = False,
    ):
        super().__init__()
        self.data = data
        self.train_loci = np.asarray(train_loci)
        self.val_loci = np.asarray(val_loci)
        self.samples_per_batch = samples_per_batch
        self.seed = seed
        self.device_cache = bool(device_cache)
        self.locus_weight = None if locus_weight is None else torch.from_numpy(np.asarray(locus_weight))
        loader_kw = {
            "batch_loci": batch_loci,
            "device_cache": self.device_cache,
            "num_workers": num_workers,
            "pin_memory": pin_memory,
            "seed": seed,
        }
        self._train = make_loader(
            data,
            self.train_loci,
            shuffle=True,
            background=background,
            background_fraction=background_fraction,
            **loader_kw,
        )
        self._val = make_loader(data, self.val_loci, shuffle=False, **loader_kw) if self.has_val else None
        self._sample_gen: torch.Generator | None = None
        self._expr: torch.Tensor | None = None

    @property
    def has_val(self) -> bool:
        return len(self.val_loci) > 0

    @property
    def n_ref(self) -> int:
        return self.data.expr.shape[0]

    def train_dataloader(self) -> DataLoader:
        return self._train

    def val_dataloader(self) -> DataLoader | list:
        return self._val if self._val is not None else []

    # -------------------------------------------------------------- batches on the device
    def _gathered(self, batch: dict, device) -> tuple[torch.Tensor, ...]:
        if self._expr is None or self._expr.device != device:
            self._expr = torch.from_numpy(self.data.expr).to(device)
        if "codes" in batch:
            return batch["codes"], batch["motif"], batch["y"]
        d = self.data.on(device)  # whole data set cached on the device: gather by index there
        idx = batch["loci"]
        return d["codes"][idx], d["motif"][idx], d["y"][:, idx]

    def _pick(self, device) -> torch.Tensor | None:
        k = self.samples_per_batch
        if k is None or k >= self.n_ref:
            return None
        if self._sample_gen is None:
            rank = self.trainer.global_rank if self.trainer is not None else 0
            self._sample_gen = torch.Generator().manual_seed(self.seed + rank)
        return torch.randperm(self.n_ref, generator=self._sample_gen)[:k].to(device)

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        device = batch["loci"].device
        codes, motif, y = self._gathered(batch, device)
        y = y.T.float()  # (B_loci, n_train); 0/1 targets are held as 1 byte per pair
        expr = self._expr
        training = self.trainer is not None and self.trainer.training
        pick = self._pick(device) if training else None
        out = {"loci": batch["loci"], "codes": codes, "motif": motif, "ref_y": y}
        if pick is None:
            out.update(expr=expr, y=y, self_index=torch.arange(self.n_ref, device=device))
        else:
            out.update(expr=expr[pick], y=y[:, pick], self_index=pick)
        if self.locus_weight is not None and training:
            if self.locus_weight.device != device:  # moved once, not copied every step
                self.locus_weight = self.locus_weight.to(device)
            out["weight"] = self.locus_weight[batch["loci"]][:, None]
        return out

    # -------------------------------------------------------------- exact resume
    def state_dict(self) -> dict:
        gen = self._train.shuffle_generator
        return {
            "loader": gen.get_state() if gen is not None else None,
            "samples": self._sample_gen.get_state() if self._sample_gen is not None else None,
        }

    def load_state_dict(self, state: dict) -> None:
        if state.get("loader") is not None and self._train.shuffle_generator is not None:
            self._train.shuffle_generator.set_state(state["loader"])
        if state.get("samples") is not None:
            self._sample_gen = torch.Generator()
            self._sample_gen.set_state(state["samples"])
