"""Train a DeepCAGE model on an AnnData."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .._runtime import quiet_lightning, torch_threads
from .._utils import get_modality, loci_of, resolve_genome
from ..model._inputs import align_tfs, check_finite, check_unique_names, dense_layer, expr_frame, motif_frame
from ..model._model import MAX_STORED_LOCI_BYTES, DeepCAGE
from ._knn import choose_temperature

__all__ = ["fit"]

log = logging.getLogger(__name__)


def _default_layer(adata, task: str) -> str | None:
    if task == "classification":
        return "binary" if "binary" in adata.layers else None
    if "log_norm" not in adata.layers:
        raise KeyError(
            "Regression trains on layers['log_norm'] by default, which is missing: run dc.pp.normalize_depth or "
            "pass layer=."
        )
    return "log_norm"


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


_MAX_CALIBRATION_LOCI = 20_000


def _calibrate_novel_mode(net, codes, motif, expr, y, val_loci, *, seed: int) -> dict | None:
    """Platt scaling of the no-label (novel-locus) mode, fit on validation loci the network never trained on.

    In training, the no-label mode is fit on the training loci, whose sequences the trunk can learn by heart, so
    on unseen loci its logits are over-confident; the validation loci stand in for unseen loci. Each training
    sample is left out of its own reference, as when a new cell type is predicted. The labelled mode is not
    changed. Returns the fitted scale / shift (stored in ``net.novel_calibration``), or None when the validation
    loci hold a single class.
    """
    from sklearn.linear_model import LogisticRegression

    from ..model._network import codes_to_onehot

    loci = np.asarray(val_loci)
    if len(loci) > _MAX_CALIBRATION_LOCI:
        loci = np.sort(np.random.default_rng(seed).choice(loci, _MAX_CALIBRATION_LOCI, replace=False))
    x_expr = torch.from_numpy(np.ascontiguousarray(expr))
    own = torch.arange(expr.shape[0])
    logits = []
    with torch.inference_mode(), torch_threads():
        for lo in range(0, len(loci), 256):
            idx = loci[lo : lo + 256]
            seq = codes_to_onehot(torch.from_numpy(codes[idx])) if net.use_sequence else None
            logits.append(net(seq, torch.from_numpy(motif[idx]), x_expr, self_index=own).float().numpy())
    z = np.concatenate(logits).ravel()
    t = (y[:, loci].T.ravel() > 0.5).astype(int)
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


def _on_gpu(accelerator) -> bool:
    return str(accelerator) in ("auto", "gpu", "cuda") and torch.cuda.is_available()


def fit(
    adata,
    *,
    layer: str | None = None,
    task: str = "classification",
    tf_key: str = "tf_expr",
    motif_key: str = "motif_scores",
    genome=None,
    preset: str = "paper",
    hidden: int = 512,
    dropout: float = 0.5,
    max_epochs: int = 30,
    batch_loci: int | None = None,
    samples_per_batch: int | None = None,
    lr: float = 1e-3,
    patience: int = 5,
    monitor: str | None = None,
    pos_weight: float | str | None = None,
    accelerator: str = "auto",
    devices: int | str = "auto",
    strategy: str = "auto",
    precision: str | None = None,
    num_workers: int = 0,
    device_cache: bool | str = "auto",
    checkpoint_dir: str | os.PathLike | None = None,
    resume_from: str | os.PathLike | None = None,
    seed: int = 0,
    progress_bar: bool = True,
    use_sequence: bool = True,
    use_expression: bool = True,
    prior: str | None = "knn",
    delta_expression: bool = True,
    novel_weight: float = 1.0,
    knn_temperature: float | None = None,
    linear_expression: bool = False,
    expression_l2: float = 0.01,
    background_fraction: float | None = None,
    motifs=None,
    store_loci: bool | str = "auto",
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

    Parameters
    ----------
    adata
        Samples x loci AnnData (or MuData: its ``'atac'`` modality) with ``obsm[tf_key]``, ``varm[motif_key]``,
        the splits and the target layer.
    layer
        Target: default ``'binary'`` (or ``X``) for classification, ``'log_norm'`` for regression.
    task
        ``'classification'`` (sigmoid + BCE) or ``'regression'`` (linear + MSE).
    tf_key, motif_key
        Keys of the normalised TF expression (``obsm``) and the motif scores (``varm``); same TFs.
    genome
        :class:`deepcage.Genome` or FASTA path(s); default: ``uns['deepcage']['genome']``.
    preset, hidden, dropout
        Network size (``'paper'`` or ``'small'``), width of the fully connected layer, its dropout.
    max_epochs, batch_loci, samples_per_batch, lr
        Epochs, loci per batch (default 128 for ``'paper'``, 32 for ``'small'``: more steps on small data), samples
        per batch (None: all training samples), Adam learning rate.
    patience, monitor
        Early stopping: stop after ``patience`` epochs without improvement of ``monitor`` (default
        ``'val_auprc'`` for classification, ``'val_loss'`` for regression). The **best** weights are restored.
    pos_weight
        Weight of positive pairs in the BCE loss: None, a number, or ``'balanced'`` (negatives / positives).
    accelerator, devices, strategy, precision
        Passed to :class:`lightning.pytorch.Trainer`. ``'auto'`` uses CUDA when present; ``devices=N`` with
        ``strategy='ddp'`` trains on N GPUs. Precision defaults to ``'16-mixed'`` on GPU, ``'32-true'`` on CPU.
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
    progress_bar
        Show Lightning's progress bar.
    use_sequence, use_expression
        Switch a branch off (ablation). Without expression, the expression options below (``prior``,
        ``delta_expression``, ``linear_expression``) are off too.
    prior
        ``'knn'`` (default): the network also reads the training samples' labels at each locus, averaged with
        weights ``softmax(corr(g_k, g_j) / T)`` of expression similarity (the ``'expression_knn'`` baseline of
        :func:`deepcage.tl.baselines`), and learns a residual over it. Each training sample is left out of its
        own prior, so training looks like predicting a cell type the model has never seen. Loci without labels
        (novel loci) are predicted from sequence and expression alone: every batch is also trained that way,
        with weight ``novel_weight``. The model stores the training samples' labels
        (:attr:`deepcage.DeepCAGE.ref_labels`). ``None``: the published network (Liu et al. 2022). The
        defaults of this option, ``delta_expression``, ``expression_l2`` and ``background_fraction`` were
        chosen by cell-type cross-validation on the blood-cell data (``benchmarks/heme_cv.py``;
        :doc:`/concepts`): with them the model beats the expression-kNN
        baseline on unseen cell types, without them it does not. With a single training sample there is no
        other sample to learn from: ``prior`` and ``delta_expression`` are switched off with a warning.
    delta_expression
        Add the input ``motif * (g_k - kNN average of the training samples' expression)``: what sets a sample
        apart from the training cell types it resembles, per motif at the locus.
    novel_weight
        Weight of the loss of the same pairs predicted without reference labels (``prior='knn'``); 0 trains the
        labelled-locus mode only.
    linear_expression
        Add a linear path from the expression inputs (``motif * g`` and, with ``delta_expression``,
        ``motif * delta g``) to the output, next to the hidden layer (wide & deep). Off by default: it is
        an option the ablation table of ``benchmarks/heme_cv.py`` measures.
    expression_l2
        L2 penalty on the weights that read the expression inputs (added to the training loss): with ~10
        training cell types, an unpenalised expression branch memorises their few expression vectors.
    background_fraction
        Classification: each epoch trains on every locus open in some training sample and a fresh random
        ``background_fraction`` of the loci closed in all of them (their loss counts ``1 / background_fraction``,
        so the loss estimates the full one). Most loci of a genome are such background. Default: 0.25 for
        classification (about 2.5x faster epochs on the blood-cell data, same accuracy), 1.0 (every locus) for
        regression.
    knn_temperature
        Temperature ``T`` of the similarity weights; default: chosen by leave-one-out over the training samples
        (:func:`deepcage.tl._knn.choose_temperature`), as the ``'expression_knn'`` baseline does.
    motifs
        Motif list (:class:`deepcage.io.Motif`) stored with the model to score new loci and variant alleles.
        Default: the motifs that :func:`deepcage.pp.motif_scores` recorded for ``varm[motif_key]``
        (``uns['deepcage']['motif_scan']``), stored with their scan settings (window, background, threshold
        rule) so that new loci are scored exactly as the training loci were. Scores made outside the package
        have no record: the model then predicts its training loci and loci with given scores only.
    store_loci
        Save the training loci's sequence codes and motif scores with the model (``'auto'``: when they take at
        most :data:`deepcage.model._model.MAX_STORED_LOCI_BYTES`, 512 MB), so prediction on them needs no genome.
    **trainer_kwargs
        Other :class:`lightning.pytorch.Trainer` arguments (e.g. ``limit_train_batches``).

    Returns
    -------
    The trained :class:`deepcage.DeepCAGE` model (``history_`` holds the per-epoch losses and metrics).

    Examples
    --------
    >>> adata = dc.datasets.synthetic()
    >>> model = dc.tl.fit(adata, preset="small", max_epochs=5, progress_bar=False)  # doctest: +SKIP
    >>> dc.tl.predict(model, adata)  # doctest: +SKIP
    """
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from ..model._module import DeepCAGEModule, PairData, make_loader

    data = adata
    adata = get_modality(data, "atac")
    if task not in ("classification", "regression"):
        raise ValueError(f"task={task!r}; choose 'classification' or 'regression'.")
    if prior not in (None, "knn"):
        raise ValueError(f"prior={prior!r}; choose 'knn' or None (the published network).")
    if background_fraction is None:
        background_fraction = 0.25 if task == "classification" else 1.0
    if not 0 < background_fraction <= 1:
        raise ValueError(f"background_fraction must be in (0, 1], got {background_fraction!r}.")
    if background_fraction < 1 and task != "classification":
        raise ValueError(
            "background_fraction < 1 is for classification (background = closed in every sample)."
        )
    if novel_weight < 0:
        raise ValueError(f"novel_weight must be >= 0, got {novel_weight!r}.")
    if int(max_epochs) < 1:
        raise ValueError(f"max_epochs={max_epochs!r}: train for at least one epoch.")
    check_unique_names(adata)
    layer = _default_layer(adata, task) if layer is None else layer
    if batch_loci is None:
        batch_loci = 32 if preset == "small" else 128

    motif_df = motif_frame(adata, motif_key)
    tfs = [str(c) for c in motif_df.columns]
    expr_df = align_tfs(expr_frame(adata, tf_key), tfs, f"obsm[{tf_key!r}] vs varm[{motif_key!r}]")
    motif = motif_df.to_numpy(dtype=np.float32)
    expr = expr_df.to_numpy(dtype=np.float32)
    check_finite(expr, f"obsm[{tf_key!r}]", adata.obs_names, tfs)
    check_finite(motif, f"varm[{motif_key!r}]", adata.var_names, tfs)
    y_all = dense_layer(adata, layer)
    check_finite(y_all, f"layer {layer or 'X'!r}", adata.obs_names, adata.var_names)

    train_samples, train_loci, val_loci = _splits(adata)
    if not use_expression:
        prior, delta_expression, linear_expression = None, False, False
    elif len(train_samples) < 2 and (prior is not None or delta_expression):
        warnings.warn(
            f"Only {len(train_samples)} training sample: prior='knn' and delta_expression compare a sample with "
            "the other training samples, so they are switched off (the published network is trained). Train on "
            "several samples to use them.",
            UserWarning,
            stacklevel=2,
        )
        prior, delta_expression = None, False
    y_train = y_all[train_samples]
    if task == "classification":
        vals = np.unique(y_train[:, train_loci])
        if not np.isin(vals, [0, 1]).all():
            raise ValueError(
                f"Classification needs 0/1 targets but layer {layer or 'X'!r} holds {vals[:5]} ...; use "
                "layer='binary' or task='regression'."
            )
        n_pos = float(y_train[:, train_loci].sum())
        if n_pos == 0:
            raise ValueError("No positive training pair: nothing to learn.")
    if pos_weight == "balanced":
        if task != "classification":
            raise ValueError("pos_weight is for classification.")
        n_all = y_train[:, train_loci].size
        pos_weight = (n_all - n_pos) / n_pos
    elif pos_weight is not None:
        pos_weight = float(pos_weight)

    motif_scan = _motif_scan(adata, motif_key, motifs, tfs)
    loci = loci_of(adata).copy()
    if "split" in adata.var:
        loci["split"] = adata.var["split"].astype(str).to_numpy()
    seq_len = 1000
    genome_dict = dict((adata.uns.get("deepcage", {}) or {}).get("genome") or {})
    codes = None
    if use_sequence:
        gen = resolve_genome(adata, genome)
        genome_dict = gen.to_dict()
        from .._onehot import locus_codes

        codes = locus_codes(
            gen, loci["chrom"].to_numpy(), loci["start"].to_numpy(), loci["end"].to_numpy(), window=seq_len
        )
    elif genome is not None:
        genome_dict = resolve_genome(adata, genome).to_dict()
    codes_arr = codes if codes is not None else np.zeros((adata.n_vars, 1), dtype=np.uint8)

    on_gpu = _on_gpu(accelerator)
    if precision is None:
        precision = "16-mixed" if on_gpu else "32-true"
    if device_cache == "auto":
        device_cache = False
        if on_gpu:
            free, _ = torch.cuda.mem_get_info()
            device_cache = codes_arr.nbytes + motif.nbytes + y_train.nbytes < 0.25 * free
    if monitor is None:
        monitor = "val_auprc" if task == "classification" else "val_loss"
    has_val = len(val_loci) > 0
    if not has_val:
        monitor = "train_loss_epoch"
    mode = "min" if "loss" in monitor else "max"

    pl.seed_everything(seed, workers=True, verbose=False)
    mean = motif[train_loci].mean(axis=0)
    std = motif[train_loci].std(axis=0)
    net_config = {
        "n_tfs": len(tfs),
        "seq_len": seq_len,
        "preset": preset,
        "hidden": hidden,
        "task": task,
        "use_sequence": use_sequence,
        "use_expression": use_expression,
        "dropout": dropout,
    }
    if linear_expression:
        net_config["linear_expression"] = True
    uses_reference = prior is not None or delta_expression
    if uses_reference:
        net_config.update(
            prior=prior is not None, delta_expression=delta_expression, n_ref=len(train_samples)
        )
    module = DeepCAGEModule(
        net_config,
        lr=lr,
        pos_weight=pos_weight,
        samples_per_batch=samples_per_batch,
        seed=seed,
        novel_weight=novel_weight if prior is not None else 0.0,
        expression_l2=expression_l2,
    )
    expr_tr = expr[train_samples]
    module.net.set_input_scaling(mean, std, expr_tr.mean(), expr_tr.std() if expr_tr.size > 1 else 1.0)
    ref_labels = None
    if uses_reference:
        if knn_temperature is None:
            knn_temperature, _ = choose_temperature(expr_tr, y_train[:, train_loci], task=task, seed=seed)
        module.net.set_reference(expr_tr, knn_temperature)
        # what the training samples show at every locus they were trained or validated on; test loci stay
        # unlabelled (they are predicted from sequence and expression alone)
        labelled = np.zeros(adata.n_vars, dtype=bool)
        labelled[train_loci] = labelled[val_loci] = True
        values = np.where(labelled[:, None], y_train.T, np.nan).astype(np.float32)
        ref_labels = pd.DataFrame(
            values, index=adata.var_names.astype(str), columns=adata.obs_names[train_samples].astype(str)
        )
    train_data = PairData(codes_arr, motif, np.ascontiguousarray(expr[train_samples]), y_train)
    val_data = train_data if has_val else None  # same samples, other loci (the loaders pick the loci)
    module.attach_data(train_data, val_data, device_cache=bool(device_cache))
    loader_kw = {
        "batch_loci": batch_loci,
        "device_cache": bool(device_cache),
        "num_workers": num_workers,
        "pin_memory": on_gpu,
        "seed": seed,
    }
    background = None
    if background_fraction < 1:
        closed = y_train.max(axis=0) == 0
        background = closed[train_loci]
        weight = np.ones(adata.n_vars, dtype=np.float32)
        weight[closed] = 1.0 / background_fraction
        module.locus_weight = torch.from_numpy(weight)
    train_loader = make_loader(
        train_data,
        train_loci,
        shuffle=True,
        background=background,
        background_fraction=background_fraction,
        **loader_kw,
    )
    # checkpointed, so a resumed run reshuffles the same way
    module.loader_generator = train_loader.shuffle_generator
    val_loader = make_loader(val_data, val_loci, shuffle=False, **loader_kw) if has_val else None

    tmp_dir = None
    if checkpoint_dir is None:
        tmp_dir = tempfile.mkdtemp(prefix="deepcage-ckpt-")
        ckpt_dir = Path(tmp_dir)
    else:
        ckpt_dir = Path(checkpoint_dir)
        ckpt_dir.mkdir(parents=True, exist_ok=True)
    ckpt_cb = ModelCheckpoint(
        dirpath=ckpt_dir,
        filename="best-{epoch}",
        monitor=monitor,
        mode=mode,
        save_top_k=1,
    )
    # a second, unmonitored checkpoint keeps the latest epoch as last.ckpt (for resume_from and the history)
    last_cb = ModelCheckpoint(
        dirpath=ckpt_dir, filename="latest-{epoch}", monitor=None, save_top_k=1, save_last=True
    )
    callbacks = [ckpt_cb, last_cb]
    if has_val and patience is not None:
        callbacks.append(EarlyStopping(monitor=monitor, mode=mode, patience=patience))
    trainer_args = {
        "max_epochs": max_epochs,
        "accelerator": accelerator,
        "devices": devices,
        "strategy": strategy,
        "precision": precision,
        "callbacks": callbacks + list(trainer_kwargs.pop("callbacks", [])),
        "logger": False,
        "enable_progress_bar": progress_bar,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
        "deterministic": not on_gpu,
        "default_root_dir": str(ckpt_dir),
    }
    trainer_args.update(trainer_kwargs)
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    sharing = torch.multiprocessing.get_sharing_strategy()
    if "spawn" in str(strategy):
        # spawned workers receive the module's tensors through shared memory; file descriptors fail in some
        # sandboxes/containers ("unable to resize file"), named files in /dev/shm work everywhere
        torch.multiprocessing.set_sharing_strategy("file_system")
    run = contextlib.ExitStack()  # torch threads for this machine's load; Lightning's lines once, no tips
    run.enter_context(torch_threads())
    run.enter_context(quiet_lightning())
    trainer = pl.Trainer(**trainer_args)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*is smaller than the logging interval.*")
            trainer.fit(module, train_loader, val_loader, ckpt_path=resume_from)
        best = ckpt_cb.best_model_path or ""
        last = ckpt_dir / "last.ckpt"
        if not best or not Path(best).is_file():
            best = str(last)
        state = torch.load(best, map_location="cpu", weights_only=False)
        net_state = {k[4:]: v for k, v in state["state_dict"].items() if k.startswith("net.")}
        module.net.load_state_dict(net_state)
        history = state.get("deepcage_history", [])
        if last.is_file():
            history = torch.load(last, map_location="cpu", weights_only=False).get(
                "deepcage_history", history
            )
        best_epoch = int(state.get("epoch", -1))
    finally:
        run.close()
        torch.use_deterministic_algorithms(was_deterministic)
        torch.multiprocessing.set_sharing_strategy(sharing)
        if tmp_dir is not None:
            shutil.rmtree(tmp_dir, ignore_errors=True)

    net = module.net.cpu().eval()
    calibration = None
    if net.prior and task == "classification" and has_val:
        calibration = _calibrate_novel_mode(net, codes_arr, motif, expr_tr, y_train, val_loci, seed=seed)
    hist = pd.DataFrame(history)
    if len(hist):
        hist = hist.drop_duplicates("epoch", keep="last").set_index("epoch")
    n_stored = codes.nbytes + motif.nbytes if codes is not None else motif.nbytes
    keep = store_loci is True or (store_loci == "auto" and n_stored <= MAX_STORED_LOCI_BYTES)
    if store_loci == "auto" and not keep:
        log.info(
            "Training loci not stored with the model (%d MB > limit); predictions need the genome.",
            n_stored >> 20,
        )
    uns = adata.uns.get("deepcage", {}) or {}
    params = {
        "layer": layer,
        "tf_key": tf_key,
        "motif_key": motif_key,
        "preset": preset,
        "hidden": hidden,
        "dropout": dropout,
        "max_epochs": max_epochs,
        "batch_loci": batch_loci,
        "samples_per_batch": samples_per_batch,
        "lr": lr,
        "patience": patience,
        "monitor": monitor,
        "pos_weight": pos_weight,
        "precision": precision,
        "seed": seed,
        "use_sequence": use_sequence,
        "use_expression": use_expression,
        "prior": prior,
        "delta_expression": delta_expression,
        "novel_weight": novel_weight if prior is not None else None,
        "knn_temperature": float(knn_temperature) if uses_reference else None,
        "linear_expression": linear_expression,
        "expression_l2": expression_l2,
        "background_fraction": background_fraction,
        "best_epoch": best_epoch,
        "novel_calibration": calibration,
        "train_samples": [str(s) for s in adata.obs_names[train_samples]],
        "n_train_loci": len(train_loci),
        "n_val_loci": len(val_loci),
    }
    return DeepCAGE(
        net,
        tfs=tfs,
        tf_reference=uns.get("tf_reference"),
        genome=genome_dict,
        loci=loci,
        loci_codes=codes if keep else None,
        loci_motif=motif_df.astype(np.float32).set_axis(tfs, axis=1) if keep else None,
        motifs=list(motifs) if motifs is not None and motif_scan is None else None,
        motif_scan=motif_scan,
        motif_db=uns.get("motif_db"),
        sample_expr=pd.DataFrame(expr, index=adata.obs_names.astype(str), columns=tfs),
        ref_labels=ref_labels if prior is not None else None,
        params=params,
        history=hist,
    )
