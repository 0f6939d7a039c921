"""Train a DeepCAGE model on an AnnData: a thin orchestrator over the configuration, data, plan and runner."""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from .._deprecation import renamed_arg
from .._keys import MOTIF_SCORES, TF_EXPRESSION
from .._layers import default_layer, expr_frame, get_layer, motif_frame
from .._runtime import release_freed_memory
from .._utils import deepcage_uns, genome_record, get_modality, loci_of, resolve_genome
from ..model._config import RECIPE, Task, TrainConfig, Trunk
from ..model._inputs import align_tfs, check_finite, check_unique_names, on_disk
from ..model._model import MAX_STORED_LOCI_BYTES, DeepCAGE
from ..model._runner import Runtime
from ._knn import choose_temperature

__all__ = ["fit"]

log = logging.getLogger(__name__)

#: Sequence length the network reads around each locus centre (DESIGN.md: 1,000 bp).
SEQ_LEN = 1000


def _splits(adata) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of training samples, training loci and validation loci."""
    if "split" in adata.obs:
        obs_split = adata.obs["split"].astype(str).to_numpy()
        train_samples = np.flatnonzero(obs_split == "train")
        if len(train_samples) == 0:
            raise ValueError(
                f"No sample has obs['split'] == 'train' (values: {sorted(set(obs_split))}). "
                "Call dc.pp.split_samples(adata, test=[...])."
            )
    else:
        warnings.warn(
            "adata.obs has no 'split': training on ALL samples (nothing held out for a cell-type hold-out "
            "evaluation). Call dc.pp.split_samples(adata, test=[...]) to hold samples out.",
            UserWarning,
            stacklevel=3,
        )
        train_samples = np.arange(adata.n_obs)
    if "split" not in adata.var:
        raise ValueError(
            "adata.var has no 'split' column: the training and validation loci are unknown. "
            "Call dc.pp.split_loci(adata) (held-out chromosomes or random known/novel split) first."
        )
    var_split = adata.var["split"].astype(str).to_numpy()
    train_loci = np.flatnonzero(var_split == "train")
    val_loci = np.flatnonzero(var_split == "val")
    if len(train_loci) == 0:
        raise ValueError(f"No locus has var['split'] == 'train' (values: {sorted(set(var_split))}).")
    if len(val_loci) == 0:
        warnings.warn(
            "No locus has var['split'] == 'val': no early stopping, training runs for max_epochs.",
            UserWarning,
            stacklevel=3,
        )
    return train_samples, train_loci, val_loci


def _motif_scan(adata, motif_key: str, motifs, tfs: list[str]):
    """The recorded scan of ``varm[motif_key]`` (with ``motifs`` instead of its own when given), or None."""
    from .._scan_record import MotifScan

    scan = MotifScan.from_adata(adata, motif_key)
    if scan is None:
        return None
    if motifs is not None:
        scan = scan.with_motifs(motifs)
    missing = [t for t in tfs if t not in set(scan.tf_of)]
    if missing:
        warnings.warn(
            f"varm[{motif_key!r}] has {len(missing)} TF column(s) without a motif in its recorded scan (e.g. "
            f"{missing[:5]}): the columns were added outside dc.pp.motif_scores, so the model cannot score new "
            "loci and stores no motifs. Score all TFs with dc.pp.motif_scores to predict new loci.",
            UserWarning,
            stacklevel=3,
        )
        return None
    return scan


@dataclass
class _Inputs:
    """The arrays training reads from the AnnData, checked (finite, TFs aligned, targets valid)."""

    tfs: list[str]
    motif_df: pd.DataFrame
    motif: np.ndarray  # (n_loci, T) float32; a view of varm when it is float32 already
    expr: np.ndarray  # (n_samples, T) float32
    y_train: np.ndarray  # (n_train, n_loci): uint8 0/1 for classification, float32 for regression


def _read_inputs(adata, layer, tf_key: str, motif_key: str, train_samples, task: str) -> _Inputs:
    motif_df = motif_frame(adata, motif_key)
    tfs = [str(c) for c in motif_df.columns]
    expr_df = align_tfs(expr_frame(adata, tf_key), tfs, f"obsm[{tf_key!r}] vs varm[{motif_key!r}]")
    motif = motif_df.to_numpy(dtype=np.float32)
    expr = expr_df.to_numpy(dtype=np.float32)
    check_finite(expr, f"obsm[{tf_key!r}]", adata.obs_names, tfs)
    check_finite(motif, f"varm[{motif_key!r}]", adata.var_names, tfs)
    y_train = _training_targets(adata, layer, train_samples, task)
    return _Inputs(tfs, motif_df, motif, expr, y_train)


def _training_targets(adata, layer, train_samples, task: str) -> np.ndarray:
    """The training samples' rows of the target layer, dense: 1 byte per pair for 0/1 classification targets.

    No float copy of the whole layer is made (at 55 samples x 1.75 M loci the float32 labels alone are 385 MB).
    """
    what = f"layer {layer or 'X'!r}"
    mat = get_layer(adata, layer)
    check_finite(mat, what, adata.obs_names, adata.var_names)
    rows = mat[np.asarray(train_samples)]
    rows = rows.toarray() if hasattr(rows, "toarray") else np.asarray(rows)
    if task != "classification":
        return np.ascontiguousarray(rows, dtype=np.float32)
    ok = np.ones(len(rows), dtype=bool)
    for lo in range(0, rows.shape[1], 1 << 20):
        block = rows[:, lo : lo + (1 << 20)]
        ok &= ((block == 0) | (block == 1)).all(axis=1)
    if not ok.all():
        bad = rows[np.flatnonzero(~ok)[0]]
        vals = np.unique(bad[(bad != 0) & (bad != 1)])
        raise ValueError(
            f"Classification needs 0/1 targets but {what} of sample "
            f"{adata.obs_names[train_samples[np.flatnonzero(~ok)[0]]]!r} holds {vals[:5]} ...; use "
            "layer='binary' or task='regression'."
        )
    return rows.astype(np.uint8, copy=False)


def _target_sum(y_train: np.ndarray, train_loci) -> tuple[float, int]:
    """Sum of the training pairs' targets and their number (one row at a time: no copy of the training block)."""
    total = sum(float(y_train[i, train_loci].sum(dtype=np.float64)) for i in range(len(y_train)))
    return total, len(y_train) * len(train_loci)


def _pos_weight(config: TrainConfig, n_pos: float, n_pairs: int) -> float | None:
    """Check that some training pair is positive and resolve ``pos_weight='balanced'``."""
    if config.task == "classification":
        if n_pos == 0:
            raise ValueError("No positive training pair: nothing to learn.")
        if config.pos_weight == "balanced":
            return (n_pairs - n_pos) / n_pos
    return None if config.pos_weight is None else float(config.pos_weight)


def _column_mean_std(
    values: np.ndarray, rows: np.ndarray, chunk: int = 1 << 16
) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and standard deviation over ``rows`` of ``values``, without copying those rows at once.

    One pass over blocks of rows with float64 sums (a memory-mapped matrix on disk is read once).
    """
    rows = np.asarray(rows)
    if len(rows) <= chunk:
        sub = values[rows]
        return sub.mean(axis=0), sub.std(axis=0)
    total, sq = np.zeros(values.shape[1]), np.zeros(values.shape[1])
    step = max(1, (1 << 22) // max(1, values.shape[1]))  # ~32 MB of float64 per block
    for lo in range(0, len(rows), step):
        block = values[rows[lo : lo + step]].astype(np.float64)
        total += block.sum(axis=0)
        sq += np.square(block).sum(axis=0)
    mean = total / len(rows)
    var = np.maximum(sq / len(rows) - mean**2, 0.0)
    return mean.astype(np.float32), np.sqrt(var).astype(np.float32)


def _sequence_codes(adata, genome, use_sequence: bool) -> tuple[object | None, dict]:
    """1-byte base codes of every locus (None without the sequence branch) and the genome record.

    Codes stored by :func:`deepcage.pp.sequence_codes` (``varm['sequence_codes']``, possibly a memory map of a
    file) are used as they are; otherwise they are read from the genome into memory as a
    :class:`~deepcage._window_codes.WindowCodes`, which holds each covered base once (overlapping windows of
    neighbouring loci share theirs).
    """
    genome_dict = genome_record(adata)
    if not use_sequence:
        if genome is not None:
            genome_dict = resolve_genome(adata, genome).to_dict()
        return None, genome_dict
    from ..pp._sequence_codes import SEQUENCE_KEY, stored_codes

    stored = stored_codes(adata, SEQ_LEN) if genome is None else None
    if stored is not None:
        return stored, genome_dict
    from .._onehot import locus_centers
    from .._window_codes import window_codes

    gen = resolve_genome(adata, genome)
    loci = loci_of(adata, categorical=True)
    codes = window_codes(
        gen,
        loci["chrom"].to_numpy(),
        locus_centers(loci["start"].to_numpy(), loci["end"].to_numpy()),
        SEQ_LEN,
    )
    del loci
    log.debug(
        "read %d sequences from the genome (%s not stored): %.0f MB for %.0f MB of windows",
        len(codes),
        SEQUENCE_KEY,
        codes.nbytes / 1e6,
        len(codes) * SEQ_LEN / 1e6,
    )
    return codes, gen.to_dict()


def _training_plan(config: TrainConfig, data, train_loci: np.ndarray, pos_weight, target_mean: float):
    """The training plan with the network's input scaling and (kNN prior / delta expression) its reference."""
    from ..model._module import DeepCAGEModule

    plan = DeepCAGEModule(
        config.net_config(n_tfs=data.motif.shape[1], seq_len=SEQ_LEN, n_ref=data.expr.shape[0]),
        lr=config.lr,
        pos_weight=pos_weight,
        samples_per_batch=config.samples_per_batch,
        seed=config.seed,
        novel_weight=config.novel_weight,
        expression_l2=config.expression_l2,
        contrast_weight=config.contrast_weight,
    )
    expr = data.expr
    mean, std = _column_mean_std(data.motif, train_loci)
    plan.net.set_input_scaling(mean, std, expr.mean(), expr.std() if expr.size > 1 else 1.0)
    if config.prior is None:
        _start_at_the_mean(plan.net, target_mean, config.task, pos_weight)
    if config.uses_reference:
        if config.knn_temperature is None:
            config.knn_temperature, _ = choose_temperature(
                expr, data.y, task=config.task, seed=config.seed, columns=train_loci
            )
        plan.net.set_reference(expr, config.knn_temperature)
    return plan


def _start_at_the_mean(net, mean: float, task: str, pos_weight) -> None:
    """Start the output at the training pairs' mean (the best constant), not at P = 0.5.

    Early stopping often keeps an early epoch; with the output bias at 0 such a model predicts ~0.4 where 3 % of
    the loci are open (the sequence-only model and the published network were miscalibrated this way). Networks
    with the kNN prior start from the kNN logit instead and are left as they are.
    """
    import torch

    if task == "classification":
        w = 1.0 if pos_weight is None else float(pos_weight)
        p = np.clip(w * mean / (w * mean + 1 - mean), 1e-4, 1 - 1e-4)
        value = float(np.log(p / (1 - p)))
    else:
        value = mean
    with torch.no_grad():
        net.out.bias.fill_(value)


def _variable_weights(y: np.ndarray, variable_weight: float) -> np.ndarray:
    """Loss weight per locus ``1 + variable_weight * 4 p (1 - p)``, ``p`` the open fraction of the rows of ``y``.

    1 where every training sample agrees (p = 0 or 1), ``1 + variable_weight`` where half of them are open. The
    open counts are summed one sample at a time (no float copy of the training block).
    """
    counts = np.zeros(y.shape[1], dtype=np.int64)
    for row in y:
        counts += row
    p = counts / max(1, len(y))
    return (1.0 + variable_weight * 4.0 * p * (1.0 - p)).astype(np.float32)


def _data_module(config: TrainConfig, runtime: Runtime, data, train_loci, val_loci):
    """The data module: background loci subsampled each epoch (and their loss up-weighted), loci weighted by how
    much the training samples disagree there (``variable_weight``), device cache. Weights act on training only."""
    from ..model._data import PairDataModule

    background = weight = None
    if config.background_fraction < 1:
        closed = data.y.max(axis=0) == 0
        background = closed[train_loci]
        weight = np.ones(data.motif.shape[0], dtype=np.float32)
        weight[closed] = 1.0 / config.background_fraction
    if config.variable_weight > 0:
        variable = _variable_weights(data.y, float(config.variable_weight))
        weight = variable if weight is None else weight * variable
    return PairDataModule(
        data,
        train_loci,
        val_loci,
        batch_loci=config.batch_loci,
        samples_per_batch=config.samples_per_batch,
        seed=config.seed,
        locus_weight=weight,
        background=background,
        background_fraction=config.background_fraction,
        device_cache=runtime.cache_on_device(data.codes.nbytes + data.motif.nbytes + data.y.nbytes),
        num_workers=runtime.num_workers,
        pin_memory=runtime.on_gpu,
    )


def _reference_labels(adata, y_train, train_samples, train_loci, val_loci) -> pd.DataFrame:
    """What the training samples show at every locus they were trained or validated on (NaN elsewhere).

    Test loci stay unlabelled: they are predicted from sequence and expression alone. Filled in blocks of loci,
    so the only array made is the result.
    """
    labelled = np.zeros(adata.n_vars, dtype=bool)
    labelled[train_loci] = labelled[val_loci] = True
    values = np.full((adata.n_vars, len(train_samples)), np.nan, dtype=np.float32)
    for lo in range(0, adata.n_vars, 1 << 16):
        sl = slice(lo, lo + (1 << 16))
        keep = np.flatnonzero(labelled[sl]) + lo
        values[keep] = y_train[:, keep].T
    return pd.DataFrame(
        values, index=adata.var_names.astype(str), columns=adata.obs_names[train_samples].astype(str)
    )


def _loci_table(adata) -> pd.DataFrame:
    """The loci the model keeps (coordinates and split), contig and split as categoricals: a code per locus."""
    loci = loci_of(adata, categorical=True)
    if "split" in adata.var:
        split = adata.var["split"].astype("category")
        loci["split"] = split.cat.rename_categories([str(c) for c in split.cat.categories]).values
    return loci


def _store_loci(store_loci, codes, motif) -> bool:
    # the bytes a saved model writes: the codes as the dense (n_loci, L) matrix
    n_stored = int(np.prod(codes.shape)) + motif.nbytes if codes is not None else motif.nbytes
    keep = store_loci is True or (store_loci == "auto" and n_stored <= MAX_STORED_LOCI_BYTES)
    if store_loci == "auto" and not keep:
        log.info(
            "Training loci not stored with the model (%d MB > limit); predictions need the genome.",
            n_stored >> 20,
        )
    return keep


@renamed_arg("progress_bar", "progress")
def fit(
    adata,
    *,
    recipe: Literal["default", "paper"] = "default",
    layer: str | None = None,
    task: Task = "classification",
    tf_key: str = TF_EXPRESSION,
    motif_key: str = MOTIF_SCORES,
    genome=None,
    preset: Trunk = "paper",
    hidden: int = RECIPE,
    dropout: float = 0.5,
    max_epochs: int = 30,
    batch_loci: int | None = None,
    samples_per_batch: int | None = None,
    lr: float = 1e-3,
    patience: int | None = 5,
    monitor: str | None = None,
    pos_weight: float | Literal["balanced"] | None = None,
    accelerator: str = "auto",
    devices: int | str = "auto",
    strategy: str = "auto",
    precision: str | None = None,
    num_workers: int = 0,
    device_cache: bool | Literal["auto"] = "auto",
    checkpoint_dir: str | os.PathLike | None = None,
    resume_from: str | os.PathLike | None = None,
    seed: int = 0,
    progress: bool | None = None,
    use_sequence: bool = True,
    use_expression: bool = True,
    prior: Literal["knn"] | None = RECIPE,
    delta_expression: bool = RECIPE,
    novel_weight: float = 1.0,
    knn_temperature: float | None = None,
    linear_expression: bool = False,
    expression_l2: float = RECIPE,
    background_fraction: float | None = RECIPE,
    variable_weight: float = 0.0,
    contrast_weight: float = 0.0,
    reverse_complement: bool = False,
    motifs=None,
    store_loci: bool | Literal["auto"] = "auto",
    **trainer_kwargs,
) -> DeepCAGE:
    """Train a DeepCAGE model (sequence + TF expression -> accessibility) with PyTorch Lightning.

    Training pairs are the **training samples** (``obs['split'] == 'train'``) x **training loci**
    (``var['split'] == 'train'``); validation pairs are the training samples x validation loci
    (``var['split'] == 'val'``). Test samples and test loci are never seen (neither for training nor for early
    stopping), so :func:`deepcage.tl.evaluate` on them measures generalisation to new cell types and loci.
    Without ``obs['split']`` all samples are training samples (a warning says so); without ``var['split']``
    an error asks for :func:`deepcage.pp.split_loci`.

    A batch is ``batch_loci`` loci x the training samples (or a random ``samples_per_batch`` of them): the
    sequence trunk runs once per locus and is shared by all samples. Sequences are read from the genome once
    and kept in memory as 1-byte base codes (on the GPU when they fit); no FASTA reads during training.

    Options marked "from the recipe" take the value of the chosen ``recipe`` unless given:

    ========================  =========  ==========================================================
    option                    default    paper
    ========================  =========  ==========================================================
    ``hidden``                512        256 (the released code; the paper's text says 512)
    ``prior``                 ``'knn'``  None
    ``delta_expression``      True       False
    ``expression_l2``         0.01       0
    ``background_fraction``   0.25       1 (every locus, every epoch)
    ========================  =========  ==========================================================

    Parameters
    ----------
    adata
        Samples x loci AnnData (or MuData: its ``'atac'`` modality) with ``obsm[tf_key]``, ``varm[motif_key]``,
        the splits and the target layer.
    recipe
        ``'default'``: what cell-type cross-validation on the blood-cell data chose (``benchmarks/heme_cv.py``;
        :doc:`/concepts`): with it the model beats the expression-kNN baseline on unseen cell types, without it
        it does not. ``'paper'``: exactly the published network and training (Liu et al. 2022): the DenseNet
        trunk, FC 256, BCE, Adam lr 1e-3, early stopping on validation auPR, no reference prior. The saved
        ``model.params['recipe']`` and :meth:`deepcage.DeepCAGE.card` say which was used and how it differs.
    layer
        Target: default ``'binary'`` (or ``X``) for classification, ``'log_norm'`` for regression.
    task
        ``'classification'`` (sigmoid + BCE) or ``'regression'`` (linear + MSE).
    tf_key
        Key of the normalised TF expression in ``obsm`` (:func:`deepcage.pp.tf_expression`).
    motif_key
        Key of the motif scores in ``varm`` (:func:`deepcage.pp.motif_scores`); same TFs as ``tf_key``.
    genome
        :class:`deepcage.Genome` or FASTA path(s); default: ``uns['deepcage']['genome']``.
    preset
        Sequence trunk: ``'paper'`` (the published DenseNet, ~2.5 M parameters with 678 TFs) or ``'small'``
        (a narrow trunk for CPUs and tests).
    hidden
        Width of the fully connected layer (from the recipe).
    dropout
        Dropout before the output.
    max_epochs
        Maximum number of epochs (early stopping usually ends training sooner).
    batch_loci
        Loci per batch (default 128 for ``'paper'``, 32 for ``'small'``: more steps on small data).
    samples_per_batch
        Train each batch on a fresh random subset of this many training samples (None: all of them).
    lr
        Adam learning rate.
    patience
        Early stopping: stop after ``patience`` epochs without improvement of ``monitor`` (None: never).
        The **best** weights are restored.
    monitor
        Metric of early stopping and of the best checkpoint: default ``'val_auprc'`` for classification,
        ``'val_loss'`` for regression (``'train_loss_epoch'`` without validation loci). With the kNN prior
        (classification) the validation loci are also scored without reference labels, as new loci are:
        ``'val_auprc_novel'`` monitors that mode and ``'val_auprc_both'`` the mean of the two (honest about new
        loci only when the validation loci share no sequence window with training loci:
        ``dc.pp.split_loci(val_chroms=...)`` or ``val_block=``).
    pos_weight
        Weight of positive pairs in the BCE loss: None, a number, or ``'balanced'`` (negatives / positives).
    accelerator
        Passed to :class:`lightning.pytorch.Trainer`: ``'auto'`` uses CUDA when present, ``'cpu'``, ``'gpu'``.
    devices
        Number (or list) of devices; ``devices=N`` with ``strategy='ddp'`` trains on N GPUs.
    strategy
        Lightning strategy (``'auto'``, ``'ddp'``, ``'ddp_spawn'``).
    precision
        Default ``'16-mixed'`` on GPU, ``'32-true'`` on CPU; ``'bf16-mixed'`` on recent GPUs.
    num_workers
        DataLoader workers (gathering batches on the CPU when the sequences are not cached on the device).
    device_cache
        Keep all locus sequences on the accelerator: ``'auto'`` (on GPU, when they take < 25 % of free memory).
    checkpoint_dir
        Where checkpoints go (``best-*.ckpt`` and ``last.ckpt``). Default: a temporary folder, removed after.
    resume_from
        A checkpoint (e.g. ``checkpoint_dir/last.ckpt``) to continue training from; ``max_epochs`` counts all
        epochs including the ones already done.
    seed
        Seed for weights, shuffling and dropout; on CPU the same seed gives bit-identical models.
    progress
        Show Lightning's progress bar (on stderr). ``None``: from ``dc.settings.verbosity = 'warning'`` (the
        default) on. (Formerly ``progress_bar``, which still works with a ``FutureWarning``.)
    use_sequence
        Use the sequence trunk (False: an ablation from motif scores and expression only).
    use_expression
        Use TF expression (False: the sequence-only model, the fair baseline on unseen loci). Without
        expression, ``prior``, ``delta_expression`` and ``linear_expression`` are off too.
    prior
        ``'knn'`` (from the recipe): the network also reads the training samples' labels at each locus,
        averaged with weights ``softmax(corr(g_k, g_j) / T)`` of expression similarity (the
        ``'expression_knn'`` baseline of :func:`deepcage.tl.baselines`), and learns a residual over it. Each
        training sample is left out of its own prior, so training looks like predicting a cell type the model
        has never seen. Loci without labels (novel loci) are predicted from sequence and expression alone:
        every batch is also trained that way, with weight ``novel_weight``, and after training that mode is
        calibrated on the validation loci. The model stores the training samples' labels
        (:attr:`deepcage.DeepCAGE.ref_labels`). ``None``: the published network. With a single training
        sample there is no other sample to learn from: ``prior`` and ``delta_expression`` are switched off
        with a warning.
    delta_expression
        Add the input ``motif * (g_k - kNN average of the training samples' expression)``: what sets a sample
        apart from the training cell types it resembles, per motif at the locus (from the recipe).
    novel_weight
        Weight of the loss of the same pairs predicted without reference labels (``prior='knn'``); 0 trains the
        labelled-locus mode only.
    knn_temperature
        Temperature ``T`` of the similarity weights; default: chosen by leave-one-out over the training samples
        as the ``'expression_knn'`` baseline does.
    linear_expression
        Add a linear path from the expression inputs (``motif * g`` and, with ``delta_expression``,
        ``motif * delta g``) to the output, next to the hidden layer (wide & deep). Off by default: it is
        an option the ablation table of ``benchmarks/heme_cv.py`` measures.
    expression_l2
        L2 penalty on the weights that read the expression inputs (from the recipe): with ~10 training cell
        types, an unpenalised expression branch memorises their few expression vectors.
    background_fraction
        Classification: each epoch trains on every locus open in some training sample and a fresh random
        ``background_fraction`` of the loci closed in all of them (their loss counts ``1 / background_fraction``,
        so the loss estimates the full one). Most loci of a genome are such background. From the recipe;
        None: 0.25 for classification (about 2.5x faster epochs on the blood-cell data, same accuracy), 1.0
        (every locus) for regression.
    variable_weight
        Classification: weight the training loss of a locus by how much the training samples disagree there,
        ``1 + variable_weight * 4 p (1 - p)`` with ``p`` the locus's open fraction over the training samples (1
        where they all agree, ``1 + variable_weight`` where half are open), multiplied into the background weight.
        It spends the network's capacity on the loci where expression similarity between cell types cannot give
        the answer. Validation (early stopping) is not weighted. 0 (the default, both recipes): unweighted. Must be
        finite and >= 0; an error for regression.
    contrast_weight
        Classification: weight of an across-sample loss added to the pairs' loss. At each locus where some but
        not all of a batch's training samples are open, the cross-entropy between the softmax of their logits over
        the samples and the open ones: it trains the differences between cell types at a locus and ignores what
        they share. With the kNN prior it acts on both modes (the no-label one weighted by ``novel_weight``).
        0 (the default, both recipes): off; in ``benchmarks/heme_ablation.py`` weights 0.3 and 1 lowered AP on
        all and on variable loci and the differential metric. Must be finite and >= 0; an error for regression.
    reverse_complement
        Train on both strands: each batch's sequence windows are reverse-complemented at random (half of them),
        and predictions average the trunk's features of the two strands (twice the sequence trunk's work at
        prediction). Off by default: an option the ablation table of ``benchmarks/heme_cv.py`` measures.
    motifs
        Motif list (:class:`deepcage.io.Motif`) stored with the model to score new loci and variant alleles.
        Default: the motifs that :func:`deepcage.pp.motif_scores` recorded for ``varm[motif_key]``
        (``uns['deepcage']['motif_scan']``), stored with their scan settings (window, background, threshold
        rule) so that new loci are scored exactly as the training loci were. Scores made outside the package
        have no record: the model then predicts its training loci and loci with given scores only.
    store_loci
        Save the training loci's sequence codes and motif scores with the model (``'auto'``: when they take at
        most :data:`deepcage.model.MAX_STORED_LOCI_BYTES`, 512 MB), so prediction on them needs no genome.
    **trainer_kwargs
        Other :class:`lightning.pytorch.Trainer` arguments (e.g. ``limit_train_batches``).

    Returns
    -------
    The trained :class:`deepcage.DeepCAGE` model (``history`` holds the per-epoch losses and metrics,
    ``params`` the resolved options).

    Examples
    --------
    >>> adata = dc.datasets.synthetic()
    >>> model = dc.tl.fit(adata, preset="small", max_epochs=5, progress=False)  # doctest: +SKIP
    >>> paper = dc.tl.fit(adata, recipe="paper", max_epochs=5)  # doctest: +SKIP
    >>> dc.tl.predict(model, adata)  # doctest: +SKIP
    """
    import lightning.pytorch as pl

    from ..model._data import PairData
    from ..model._module import calibrate_novel_mode
    from ..model._runner import TrainRunner

    config = TrainConfig.from_recipe(
        recipe,
        **{name: value for name, value in locals().items() if name in TrainConfig.option_names()},
    )
    runtime = Runtime(
        accelerator=accelerator,
        devices=devices,
        strategy=strategy,
        precision=precision,
        num_workers=num_workers,
        device_cache=device_cache,
        checkpoint_dir=checkpoint_dir,
        resume_from=resume_from,
        progress=progress,
        trainer_kwargs=trainer_kwargs,
    )
    adata = get_modality(adata, "atac")
    check_unique_names(adata)
    layer = default_layer(adata, config.task) if layer is None else layer
    train_samples, train_loci, val_loci = _splits(adata)
    inputs = _read_inputs(adata, layer, tf_key, motif_key, train_samples, config.task)
    config = config.resolved(n_train_samples=len(train_samples), has_val=len(val_loci) > 0)
    y_train = inputs.y_train
    n_pos, n_pairs = _target_sum(y_train, train_loci)
    config.pos_weight = _pos_weight(config, n_pos, n_pairs)
    motif_scan = _motif_scan(adata, motif_key, motifs, inputs.tfs)
    codes, genome_dict = _sequence_codes(adata, genome, config.use_sequence)
    release_freed_memory()  # the decoded contigs

    pl.seed_everything(config.seed, workers=True, verbose=False)
    data = PairData(
        codes if codes is not None else np.zeros((adata.n_vars, 1), dtype=np.uint8),
        inputs.motif,
        np.ascontiguousarray(inputs.expr[train_samples]),
        y_train,
    )
    plan = _training_plan(config, data, train_loci, config.pos_weight, n_pos / max(1, n_pairs))
    datamodule = _data_module(config, runtime, data, train_loci, val_loci)
    release_freed_memory()  # the motif scaling and the kNN temperature search
    result = TrainRunner(
        plan,
        datamodule,
        runtime,
        max_epochs=config.max_epochs,
        monitor=config.monitor,
        mode=config.monitor_mode,
        patience=config.patience,
        deterministic=not runtime.on_gpu,
    )()

    net = plan.net.cpu().eval()
    release_freed_memory()  # the training steps' activations and the trainer's state
    calibration = None
    if net.prior and config.task == "classification" and datamodule.has_val:
        calibration = calibrate_novel_mode(net, data, val_loci, seed=config.seed)
        release_freed_memory()
    keep = _store_loci(store_loci, codes, inputs.motif)
    loci = _loci_table(adata)  # made here, not before training: while training it would only take memory
    uns = deepcage_uns(adata, create=False)
    params = {
        "layer": layer,
        "tf_key": tf_key,
        "motif_key": motif_key,
        **config.to_params(),
        "precision": runtime.resolved_precision(),
        "best_epoch": result.best_epoch,
        "novel_calibration": calibration,
        "train_samples": [str(s) for s in adata.obs_names[train_samples]],
        "n_train_loci": len(train_loci),
        "n_val_loci": len(val_loci),
    }
    return DeepCAGE(
        net,
        tfs=inputs.tfs,
        tf_reference=uns.get("tf_reference"),
        genome=genome_dict,
        loci=loci,
        loci_codes=np.array(codes) if keep and on_disk(codes) else codes if keep else None,
        loci_motif=pd.DataFrame(np.array(inputs.motif), index=inputs.motif_df.index, columns=inputs.tfs)
        if keep
        else None,  # a copy
        motifs=list(motifs) if motifs is not None and motif_scan is None else None,
        motif_scan=motif_scan,
        motif_db=uns.get("motif_db"),
        sample_expr=pd.DataFrame(inputs.expr, index=adata.obs_names.astype(str), columns=inputs.tfs),
        ref_labels=_reference_labels(adata, y_train, train_samples, train_loci, val_loci)
        if config.prior is not None
        else None,
        params=params,
        history=result.history,
    )
