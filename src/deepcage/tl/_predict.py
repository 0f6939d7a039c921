"""Predict accessibility in memory: for the samples of an AnnData (in place), for new samples' expression, or for
the clusters of single cells (pseudobulk inside, a MuData back).

The layers of prediction, each importing only those below it (no circle)::

    _predict          predict: in place / new samples / single cells; out= -> predict_genome; liftover= -> _predict_lifted
    _predict_lifted   liftover layer (gets predict handed over; imports _predict_inputs)
    _predict_genome   predict_genome: streamed bigWig / .h5ad
    _predict_layout   the prediction AnnData, in memory and as an .h5ad written chunk by chunk
    _predict_run      the chunk loop; multi-process runs through _predict_ddp (Lightning, imported only then)
    _predict_ddp      several processes; imports _predict_inputs only
    _predict_inputs   model, genome, loci, samples: checked and resolved
"""

from __future__ import annotations

import logging
import os
import warnings

import numpy as np
from anndata import AnnData
from scipy import sparse

from .._keys import MOTIF_SCORES, PREDICTION, TF_EXPRESSION
from .._utils import UNS_KEY, deepcage_uns, get_modality, make_mudata
from ..model._model import DeepCAGE
from ._predict_genome import predict_genome
from ._predict_inputs import (  # _model_genome, check_can_score, score_motifs: also imported from here
    Inputs,
    _caller_stacklevel,
    _check_model,
    _model_genome,  # noqa: F401 (dc.tl.variant_effect imports it from here)
    _sample_positions,
    check_can_score,
    resolve_inputs,
    score_motifs,
)
from ._predict_layout import prediction_adata, prediction_record
from ._predict_run import OTHER_RANK, predict_into, run_distributed

__all__ = ["check_can_score", "predict", "score_motifs"]

log = logging.getLogger("deepcage")


# ----------------------------------------------------------------------------------------------- in memory
def _predict_matrix(model, inputs: Inputs, *, parallel, collect_motifs: bool = False, **run):
    """All predictions in memory: float32 samples x loci (and the loci's motif scores when asked); None on a
    process other than rank 0 of a multi-process run."""
    done = run_distributed(model, inputs, parallel=parallel, **run)
    if done is OTHER_RANK:
        return None
    pred = np.empty((inputs.n_samples, len(inputs.source)), dtype=np.float32)
    motifs = inputs.motif_scores(model) if collect_motifs else None
    sink = None
    if collect_motifs and motifs is None:  # scanned chunk by chunk: keep the scores as they are made
        motifs = np.empty((len(inputs.source), len(model.tfs)), dtype=np.float32)

        def sink(lo, hi, scores):
            motifs[lo:hi] = scores

    predict_into(pred, model, inputs, done=done, motif_sink=sink, **run)
    return pred, motifs


def _predict_in_place(model, adata, *, copy, key_added, parallel, run, **resolve):
    """(a) The samples x loci of ``adata`` -> ``layers[key_added]`` (only the rows of ``samples=`` change)."""
    data = adata.copy() if copy and adata is not None else adata
    inputs = resolve_inputs(model, data, **resolve)
    got = _predict_matrix(model, inputs, parallel=parallel, **run)
    if got is None:
        return None  # another rank than 0
    ad, pred = get_modality(data, "atac"), got[0]
    if resolve.get("samples") is not None:
        old = ad.layers[key_added] if key_added in ad.layers else None
        keep = old is not None and old.shape == ad.shape and np.issubdtype(np.asarray(old).dtype, np.floating)
        full = np.array(old, dtype=np.float32) if keep else np.full(ad.shape, np.nan, dtype=np.float32)
        full[ad.obs_names.get_indexer(inputs.names)] = pred
        pred = full
    ad.layers[key_added] = pred
    deepcage_uns(ad).setdefault("predict", {})[key_added] = prediction_record(model)
    return data if copy else None


def _predict_new(model, adata, *, key_added, motif_scores, parallel, run, **resolve) -> AnnData | None:
    """(b) New samples' expression -> a new AnnData (see :mod:`._predict_layout`)."""
    inputs = resolve_inputs(model, adata, **resolve)
    got = _predict_matrix(model, inputs, parallel=parallel, collect_motifs=motif_scores, **run)
    if got is None:
        return None
    keys = {"key_added": key_added, "tf_key": resolve["tf_key"], "motif_key": resolve["motif_key"]}
    return prediction_adata(model, inputs, got[0], motifs=got[1], record=prediction_record(model), **keys)


# ----------------------------------------------------------------------------------------------- single cells
def _is_counts(X) -> bool:
    values = X.data if sparse.issparse(X) else np.asarray(X).ravel()
    values = values[:1_000_000]
    return bool(values.size) and bool((values >= 0).all()) and bool(np.all(np.mod(values, 1) == 0))


def _counts_of(cells, layer: str | None) -> tuple[AnnData, str | None]:
    """The cells' AnnData with the raw counts where :func:`deepcage.pp.pseudobulk` reads them, and that layer."""
    rna = get_modality(cells, "rna")
    use_raw = layer == "raw" and "raw" not in rna.layers
    if use_raw and rna.raw is None:
        raise KeyError(
            "layer='raw': the cells have no .raw (and no layer 'raw'). Pass the layer of the counts."
        )
    if layer is None and rna.raw is not None and not _is_counts(rna.X) and _is_counts(rna.raw.X):
        log.info("predict: the cells' X is not raw counts; summing the raw counts in .raw per group.")
        use_raw = True
    if use_raw:
        return AnnData(X=rna.raw.X, obs=rna.obs, var=rna.raw.var), None
    return rna, layer


def _predict_cells(model, adata, expr, *, groupby, layer, min_cells, sample_key, predict_kw):
    """Pseudobulk the cells by ``groupby``, predict each group, return a MuData ('rna' pseudobulk, 'atac')."""
    from ..pp import pseudobulk

    cells, loci_data = (expr, adata) if expr is not None else (adata, None)
    if cells is None:
        raise ValueError(
            "groupby= needs the cells: pass an scRNA AnnData (cells x genes, raw counts) as adata."
        )
    counts, layer = _counts_of(cells, layer)
    bulk = pseudobulk(counts, groupby, layer=layer, min_cells=min_cells, sample_key=sample_key)
    pos = _sample_positions(bulk.obs_names, predict_kw.pop("samples"), "the pseudobulk")
    bulk = bulk if pos is None else bulk[pos].copy()  # 'rna' holds the predicted groups only
    atac = predict(model, loci_data, expr=bulk, **predict_kw)
    if predict_kw.get("out") is not None or atac is None:
        return atac  # the streamed file (deprecated spelling), or another rank than 0
    key = predict_kw.get("key_added", "deepcage")
    atac.uns[UNS_KEY]["predict"][key].update(
        groupby=groupby, sample_key=sample_key or "", min_cells=min_cells
    )
    mdata = make_mudata({"rna": bulk, "atac": atac})
    for col in [*bulk.obs.columns, "source"]:
        mdata.obs[col] = atac.obs[col].reindex(mdata.obs_names)
    return mdata


# ----------------------------------------------------------------------------------------------- predict
def _forward_out(model, adata, expr, loci, out, *, liftover, parallel, resolve, run, keys):
    """``predict(..., out=)``: the spelling before :func:`deepcage.tl.predict_genome`."""
    if liftover is not None:
        raise ValueError(
            "liftover= returns predictions in memory; for tracks lift the loci first (dc.pp.liftover)."
        )
    warnings.warn(
        "dc.tl.predict(..., out=...) is deprecated: use dc.tl.predict_genome(model, expr, loci, out=...) for "
        "predictions streamed to bigWig or .h5ad files.",
        FutureWarning,
        stacklevel=_caller_stacklevel(),
    )
    resolve = {k: v for k, v in resolve.items() if k not in ("expr", "loci")}
    return predict_genome(model, expr, loci, out=out, adata=adata, **resolve, **run, **keys, **parallel)


def predict(
    model: DeepCAGE,
    adata=None,
    *,
    expr=None,
    loci=None,
    genome=None,
    samples=None,
    groupby: str | None = None,
    layer: str | None = None,
    min_cells: int = 10,
    sample_key: str | None = None,
    tf_key: str = TF_EXPRESSION,
    motif_key: str = MOTIF_SCORES,
    key_added: str = PREDICTION,
    fill_missing: bool = False,
    motif_scores: bool = False,
    batch_size: int = 256,
    chunk_size: int = 10000,
    liftover=None,
    progress: bool | None = None,
    copy: bool = False,
    exclude_self: bool | None = None,
    devices=None,
    accelerator: str = "auto",
    strategy: str = "auto",
    num_nodes: int = 1,
    out: str | os.PathLike | None = None,
):
    """Predict accessibility with a trained model: for the samples of ``adata``, for new expression only, or for
    the clusters of single cells.

    Three uses (for predictions streamed to bigWig or ``.h5ad`` files, see :func:`deepcage.tl.predict_genome`):

    (a) ``predict(model, adata)``: the samples of ``adata`` (``obsm[tf_key]``) x its loci (``varm[motif_key]``;
        TF columns must be the model's TFs) -> ``adata.layers[key_added]``.
    (b) ``predict(model, expr=rna)``: **new samples from their RNA alone** (a samples x genes AnnData of bulk TPM
        or counts, pseudobulk from :func:`deepcage.pp.pseudobulk`, or a DataFrame). The expression is normalised
        with the model's training reference (:func:`deepcage.pp.apply_tf_reference`); the loci are ``loci=``,
        else those of ``adata``, else the model's stored training loci. Returns a **new** AnnData.
    (c) ``predict(model, cells, groupby='leiden')``: an scRNA AnnData of cells x genes (raw counts) is summed
        per group with :func:`deepcage.pp.pseudobulk` and each group predicted as in (b). Returns a MuData with
        the pseudobulk RNA as ``'rna'`` and the predictions as ``'atac'``.

    Sequences come from the model's stored loci when possible (no genome needed), else from ``genome`` / the
    genome recorded in ``adata`` / the model's FASTA path. Motif scores for loci that are neither in ``adata``
    nor stored come from the model's recorded motif scan.

    Parameters
    ----------
    model
        A trained :class:`deepcage.DeepCAGE`.
    adata
        (a) Samples x loci AnnData (or MuData: ``'atac'``) with ``obsm[tf_key]`` and ``varm[motif_key]``;
        with ``expr=``, the loci to predict. (c) The cells, when ``expr`` is not given.
    expr
        New samples' expression, samples x genes (raw TPM/CPM/counts, not normalised); with ``groupby``, cells x
        genes.
    loci
        Loci for (b)/(c): an AnnData (its ``var`` and ``varm[motif_key]``), a DataFrame with ``chrom``, ``start``,
        ``end`` (whole numbers), or ``chr:start-end`` names.
    genome
        :class:`deepcage.Genome` or FASTA path(s) for loci not stored with the model. Must be the model's assembly.
    samples
        Which samples to predict: names (in that order) or a boolean mask over the samples of ``expr`` (for (c),
        the groups), or of ``adata`` for (a), where only those rows of ``layers[key_added]`` are written (the
        others keep their values, NaN in a new layer). Default: all.
    groupby
        (c) ``obs`` column of the cells (e.g. ``'leiden'``, ``'cell_type'``) to pseudobulk by.
    layer
        (c) Where the cells' raw counts are: None for ``X`` (or ``.raw`` when ``X`` holds no counts and ``.raw``
        does, as after ``sc.pp.log1p``), a layer name, or ``'raw'`` for ``.raw``.
    min_cells
        (c) Groups with fewer cells are left out (with a warning naming them).
    sample_key
        (c) ``obs`` column (e.g. donor): one pseudobulk per group x sample, named ``group_sample``.
    tf_key
        ``obsm`` key of the normalised TF expression (read in (a), written in (b)/(c)).
    motif_key
        ``varm`` key of the loci's motif scores (read from ``adata`` or an AnnData of loci).
    key_added
        Name of the predictions: the layer in (a); in (b)/(c) ``layers[key_added]``, next to ``X``.
    fill_missing
        For ``expr``: TFs missing from the expression table are treated as 0 (with a warning) instead of an error.
    motif_scores
        (b)/(c): also return the loci's motif scores in ``varm[motif_key]`` (loci x TFs, as large as the
        predictions for a few hundred samples; not copied by default).
    batch_size
        Loci per forward pass of the network.
    chunk_size
        Loci read, scanned and predicted at a time (the motif scan's memory).
    liftover
        For loci on another assembly than the model's: a UCSC chain from their assembly to the model's (path,
        name such as ``'hg38ToHg19'``, or :class:`pyliftover.LiftOver`). The loci are lifted
        (:func:`deepcage.pp.liftover`), predicted, and the predictions are returned on **your** loci: one column
        per given locus, NaN for the loci that could not be lifted (a warning gives the count by reason);
        ``var['lifted_to']`` names the model-assembly locus used ('' when none) and
        ``uns['deepcage']['predict'][key_added]['liftover']`` holds the liftover report.
    progress
        Progress bar (loci/s and time left) (``None``, the default: per ``dc.settings.verbosity``).
    copy
        (a) only: return a copy of ``adata`` with the predictions instead of writing in place.
    exclude_self
        Models with the reference prior: leave a sample that is a training sample out of its own reference (as in
        training). Default: True for (a), whose samples are the training AnnData's, and False for ``expr=``, whose
        samples are new RNA: their predictions then depend on the data, not on the names. A new sample named
        like a training sample gets a warning; pass ``exclude_self=True`` when it is that sample's RNA.
    devices
        Several processes (GPUs, nodes): ``devices=4, strategy='ddp'`` splits the chunks of loci over 4 GPUs with
        PyTorch Lightning; rank 0 merges them in locus order (same result as one process). Under
        ``strategy='ddp'`` every process runs the calling script: the function returns None on ranks other than
        0. Default (None): this process, on the network's device. See the installation guide for SLURM.
    accelerator
        Lightning accelerator for ``devices`` (``'cpu'`` with ``strategy='ddp_spawn'`` for CPU processes).
    strategy
        Lightning strategy for ``devices``.
    num_nodes
        Nodes of a cluster, for ``devices``.
    out
        Deprecated: stream to bigWig / ``.h5ad`` files; forwarded to :func:`deepcage.tl.predict_genome` with a
        :class:`FutureWarning`.

    Returns
    -------
    (a) None (``adata.layers[key_added]`` written: float32 samples x loci, probabilities for classification or
    values for regression; ``uns['deepcage']['predict'][key_added]`` records the model), or the copy.

    (b) A new AnnData of samples x loci, laid out like the ``.h5ad`` of :func:`deepcage.tl.predict_genome`:

    - ``X``: the predictions (float32) — the canonical place, as in the streamed file; ``layers[key_added]``
      holds the same array (so that ``layers['deepcage']`` also works in memory);
    - ``obs``: the input expression's ``obs`` (e.g. a pseudobulk's ``cell_type``, donor, ``n_cells``) and
      ``obs['source']``: ``'training'`` (a training sample of the model, predicted as itself), ``'held_out'``
      (a sample of ``adata``, with measured accessibility, that the model did not train on) or ``'rna_only'``;
    - ``var[['chrom', 'start', 'end']]``; ``obsm[tf_key]``: the normalised TF expression;
      ``varm[motif_key]`` only with ``motif_scores=True``;
    - ``uns['deepcage']``: genome, TFs, TF reference, ``prediction_key`` and the record in
      ``predict[key_added]``.

    (c) A :class:`mudata.MuData` with ``'rna'``: the pseudobulk (groups x genes, summed counts; ``obs`` the
    group, ``sample_key`` and ``n_cells``) and ``'atac'``: the predictions of (b) for the groups; ``obs`` holds
    the group columns, ``n_cells`` and ``source``.

    Raises
    ------
    ValueError
        Before any prediction, for inputs that would give silently wrong numbers: NaN or infinite expression or
        motif scores, TFs other than the model's, duplicated sample names, a FASTA whose contig lengths differ from
        the training genome's (another assembly), loci with missing or non-numeric coordinates, ``end <= start``
        or outside the genome.
    KeyError
        For ``samples=`` names that are not samples of the expression (or of ``adata``).

    Examples
    --------
    >>> mdata = dc.datasets.synthetic(rna=True)
    >>> model = dc.tl.fit(mdata, preset="small", max_epochs=3, progress_bar=False)  # doctest: +SKIP
    >>> dc.tl.predict(model, mdata["atac"])  # (a): writes layers['deepcage']  # doctest: +SKIP
    >>> new = dc.tl.predict(model, expr=mdata["rna"], samples=["sample0", "sample3"])  # (b)  # doctest: +SKIP
    >>> new.obs["source"].tolist()  # doctest: +SKIP
    ['rna_only', 'rna_only']
    >>> clusters = dc.tl.predict(
    ...     model, cells, groupby="leiden"
    ... )  # (c): MuData 'rna' + 'atac'  # doctest: +SKIP
    >>> dc.tl.predict(model_hg19, adata_hg38, liftover="hg38ToHg19")  # doctest: +SKIP
    """
    _check_model(model)
    resolve = {
        "genome": genome,
        "samples": samples,
        "tf_key": tf_key,
        "motif_key": motif_key,
        "fill_missing": fill_missing,
        "exclude_self": exclude_self,
    }
    run = {"batch_size": batch_size, "chunk_size": chunk_size, "progress": progress}
    parallel = {"devices": devices, "accelerator": accelerator, "strategy": strategy, "num_nodes": num_nodes}
    if groupby is not None:
        predict_kw = {
            "loci": loci,
            "key_added": key_added,
            "motif_scores": motif_scores,
            "liftover": liftover,
        }
        predict_kw |= resolve | run | parallel | {"out": out}
        cell_kw = {"groupby": groupby, "layer": layer, "min_cells": min_cells, "sample_key": sample_key}
        return _predict_cells(model, adata, expr, predict_kw=predict_kw, **cell_kw)
    if out is not None:
        keys = {"key_added": key_added, "motif_scores": motif_scores}
        return _forward_out(
            model,
            adata,
            expr,
            loci,
            out,
            liftover=liftover,
            parallel=parallel,
            resolve=resolve,
            run=run,
            keys=keys,
        )
    if liftover is not None:
        from ._predict_lifted import predict_lifted

        lifted_kw = {k: v for k, v in resolve.items() if k not in ("genome", "motif_key")} | run
        if expr is not None:
            lifted_kw["motif_scores"] = motif_scores
        return predict_lifted(
            predict,
            model,
            adata,
            expr=expr,
            loci=loci,
            chain=liftover,
            genome=genome,
            key_added=key_added,
            motif_key=motif_key,
            copy=copy,
            **lifted_kw,
        )
    if expr is None:
        return _predict_in_place(
            model, adata, copy=copy, key_added=key_added, parallel=parallel, run=run, loci=loci, **resolve
        )
    return _predict_new(
        model,
        adata,
        expr=expr,
        loci=loci,
        key_added=key_added,
        motif_scores=motif_scores,
        parallel=parallel,
        run=run,
        **resolve,
    )
