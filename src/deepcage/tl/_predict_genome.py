"""Streamed prediction: bins or a loci table + expression -> bigWig tracks or an ``.h5ad`` written chunk by chunk.

Memory stays bounded by ``chunk_size`` loci (a genome-wide table of 15 M bins included): each chunk's sequences
are read, its motifs scanned, the network run and the chunk written before the next one. A layer above
``_predict_run`` (and, through it, ``_predict_ddp``); :func:`deepcage.tl.predict` forwards ``out=`` here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .._keys import MOTIF_SCORES, PREDICTION, TF_EXPRESSION
from ..model._model import DeepCAGE
from ._predict_inputs import Inputs, resolve_inputs
from ._predict_layout import open_h5ad_sink, prediction_record
from ._predict_run import OTHER_RANK, predict_into, run_distributed

__all__ = ["predict_genome"]


def _is_bigwig_name(out: Path) -> bool:
    return out.suffix.lower() in (".bw", ".bigwig")


def _check_out(out: Path, n_samples: int, chrom_sizes) -> None:
    """Refuse an output that cannot be written before any prediction is made."""
    if out.suffix == ".h5ad" or _is_bigwig_name(out):
        if out.is_dir():
            raise IsADirectoryError(f"out={str(out)!r} is an existing folder; give a file name.")
        if not out.parent.is_dir():
            raise FileNotFoundError(
                f"out={str(out)!r}: the folder {str(out.parent)!r} does not exist. Create it first."
            )
        if not os.access(out.parent, os.W_OK):
            raise PermissionError(f"out={str(out)!r}: the folder {str(out.parent)!r} is not writable.")
    if out.suffix == ".h5ad":
        return
    if _is_bigwig_name(out) and n_samples > 1:
        raise ValueError(
            f"out={str(out)!r} names one bigWig file, but there are {n_samples} samples. Give a folder "
            f"(e.g. {str(out.with_suffix(''))!r}) to get one .bw per sample, or '.h5ad' for one file."
        )
    if not _is_bigwig_name(out) and out.exists() and not out.is_dir():
        raise FileExistsError(
            f"out={str(out)!r} is an existing file; bigWig tracks go into a folder (or end the name in .h5ad)."
        )
    if not chrom_sizes:
        raise ValueError(
            "bigWig output needs the contig sizes, which the model does not record: pass genome= (the FASTA)."
        )


def _bigwig_targets(out: Path, names: list[str]) -> list[Path]:
    """One ``.bw`` path per sample: ``out`` itself for one sample and a ``.bw`` name, else files in ``out/``."""
    if len(names) == 1 and _is_bigwig_name(out):
        return [out]
    out.mkdir(parents=True, exist_ok=True)
    from ..io._signal import _safe_name

    return [out / f"{_safe_name(s)}.bw" for s in names]


def _bigwig_sizes(model: DeepCAGE, genome) -> dict | None:
    if genome is not None:
        return genome.chrom_sizes
    return model.genome.get("chrom_sizes") or None


def _stream_to_bigwigs(out: Path, model, inputs: Inputs, *, genome, done, **run) -> list[Path]:
    """Stream predictions into a memmap, then write one bigWig per sample."""
    from ..io import write_bigwig

    sizes = _bigwig_sizes(model, genome)
    table = inputs.table
    with tempfile.TemporaryDirectory(prefix="deepcage-predict-") as tmp:
        shape = (inputs.n_samples, len(table))
        mm = np.memmap(Path(tmp) / "pred.f32", dtype=np.float32, mode="w+", shape=shape)
        predict_into(mm, model, inputs, done=done, **run)
        mm.flush()
        targets = _bigwig_targets(out, [str(s) for s in inputs.names])
        for i, target in enumerate(targets):
            write_bigwig(
                np.asarray(mm[i]),
                target,
                loci=table[["chrom", "start", "end"]].reset_index(drop=True),
                chrom_sizes=sizes,
            )
        del mm
    return targets


def _stream_to_h5ad(
    out: Path, model, inputs: Inputs, *, key_added, tf_key, motif_key, with_motifs, done, **run
) -> Path:
    """Stream predictions into the ``X`` (and motif scores into ``varm``) of a new ``.h5ad`` file."""
    record = prediction_record(model, samples="rna" if inputs.new_samples else "adata")
    keys = {"key_added": key_added, "tf_key": tf_key, "motif_key": motif_key}
    fh, ds, motif_sink = open_h5ad_sink(out, model, inputs, with_motifs=with_motifs, record=record, **keys)
    try:
        predict_into(ds, model, inputs, done=done, motif_sink=motif_sink, **run)
    finally:
        fh.close()
    return out


def predict_genome(
    model: DeepCAGE,
    expr=None,
    loci=None,
    *,
    out: str | os.PathLike,
    adata=None,
    genome=None,
    samples=None,
    tf_key: str = TF_EXPRESSION,
    motif_key: str = MOTIF_SCORES,
    key_added: str = PREDICTION,
    fill_missing: bool = False,
    motif_scores: bool = False,
    batch_size: int = 256,
    chunk_size: int = 10000,
    progress: bool | None = None,
    exclude_self: bool | None = None,
    devices=None,
    accelerator: str = "auto",
    strategy: str = "auto",
    num_nodes: int = 1,
) -> list[Path] | Path:
    """Predict many loci (a whole genome's bins) and write them chunk by chunk: one bigWig per sample or an ``.h5ad``.

    The loci are predicted in chunks of ``chunk_size`` (memory stays bounded, also for 15 M genome-wide bins):
    sequences are read from the genome, motifs scanned with the model's recorded scan, the network run and the
    chunk written before the next one is read.

    Parameters
    ----------
    model
        A trained :class:`deepcage.DeepCAGE`.
    expr
        The samples' expression, samples x genes (bulk TPM / counts, a pseudobulk from
        :func:`deepcage.pp.pseudobulk`, a DataFrame, or a MuData's ``'rna'``), not normalised: it is normalised
        with the model's training reference. None: the samples of ``adata`` (``obsm[tf_key]``).
    loci
        The loci: bins from ``dc.pp.bin_genome(genome, names=False)`` (a compact table), a DataFrame with
        ``chrom``, ``start``, ``end``, ``chr:start-end`` names, or an AnnData (its ``var`` and
        ``varm[motif_key]``). Default: the loci of ``adata``, else the model's stored training loci.
    out
        Where to write: a folder (one ``<sample>.bw`` per sample), a ``.bw`` / ``.bigWig`` file (one sample), or an
        ``.h5ad`` file with the layout of :func:`deepcage.tl.predict`'s new-sample AnnData (predictions in ``X``,
        the samples' ``obs`` with ``obs['source']``, ``var``, ``obsm[tf_key]``, ``uns['deepcage']``); open it
        with ``anndata.read_h5ad(out)`` or, for a genome-wide file, ``backed='r'``.
    adata
        An AnnData (or MuData: ``'atac'``) whose samples (with ``expr=None``) and loci (with ``loci=None``) are
        predicted, as ``dc.tl.predict(model, adata)`` does in memory.
    genome
        :class:`deepcage.Genome` or FASTA path(s) for loci not stored with the model (the model's assembly);
        default: the genome recorded in ``adata``, else the model's FASTA. bigWig output takes the contig sizes
        from it (else from the model).
    samples
        Which samples to predict: names (in that order) or a boolean mask over the samples of ``expr`` (or of
        ``adata``). Default: all.
    tf_key
        ``obsm`` key of the normalised TF expression (read from ``adata``, written to the ``.h5ad``).
    motif_key
        ``varm`` key of the loci's motif scores (read from an AnnData of loci; written with ``motif_scores``).
    key_added
        Name of the predictions, recorded in ``uns['deepcage']['prediction_key']``.
    fill_missing
        TFs missing from ``expr`` are taken as 0 (with a warning) instead of an error.
    motif_scores
        Also write the loci's motif scores to ``varm[motif_key]`` of the ``.h5ad`` (loci x TFs; large for a
        genome). Not with bigWig output.
    batch_size
        Loci per forward pass of the network.
    chunk_size
        Loci read, scanned, predicted and written at a time.
    progress
        Progress bar (loci/s and time left) (``None``, the default: per ``dc.settings.verbosity``).
    exclude_self
        Models with the reference prior: leave a sample named like a training sample out of its own reference,
        as in training. Default: True for the samples of ``adata``, False for ``expr`` (new RNA: predictions
        depend on the data, not on the names; a name that collides gets a warning).
    devices
        Several processes: e.g. ``devices=4, strategy='ddp'`` splits the chunks over 4 GPUs with PyTorch
        Lightning; each process reads, scans and predicts its chunks and rank 0 writes ``out`` in locus order
        (the same file as one process). Under ``strategy='ddp'`` every process runs the calling script: the
        function returns None on ranks other than 0. Default (None): this process, on the network's device.
    accelerator
        Lightning accelerator for ``devices`` (``'cpu'`` with ``strategy='ddp_spawn'`` for CPU processes).
    strategy
        Lightning strategy for ``devices``.
    num_nodes
        Nodes of a cluster (``out`` must then be on a filesystem every node sees).

    Returns
    -------
    The list of bigWig paths (one per sample, named after the sample), or the ``.h5ad`` path.

    Raises
    ------
    ValueError
        Before any prediction, for inputs that would give silently wrong numbers (as :func:`deepcage.tl.predict`)
        and for an ``out`` that cannot be written: a missing or read-only folder, one ``.bw`` name for several
        samples, bigWig output without contig sizes.

    Examples
    --------
    >>> genome = dc.Genome("hg38.fa.gz", name="hg38")  # doctest: +SKIP
    >>> bins = dc.pp.bin_genome(genome, bin_size=200, names=False)  # doctest: +SKIP
    >>> dc.tl.predict_genome(
    ...     model, rna, bins, genome=genome, out="tracks/"
    ... )  # one bigWig per sample  # doctest: +SKIP
    >>> dc.tl.predict_genome(
    ...     model, rna, bins, genome=genome, out="pred.h5ad", samples=["CD4_T"]
    ... )  # doctest: +SKIP
    >>> pred = anndata.read_h5ad("pred.h5ad", backed="r")  # doctest: +SKIP
    """
    out = Path(out)
    inputs = resolve_inputs(
        model,
        adata,
        expr=expr,
        loci=loci,
        genome=genome,
        samples=samples,
        tf_key=tf_key,
        motif_key=motif_key,
        fill_missing=fill_missing,
        exclude_self=exclude_self,
    )
    if motif_scores and out.suffix != ".h5ad":
        raise ValueError(
            "motif_scores=True writes varm of an .h5ad output; bigWig tracks hold predictions only."
        )
    _check_out(out, inputs.n_samples, _bigwig_sizes(model, inputs.genome))
    run = {"batch_size": batch_size, "chunk_size": chunk_size, "progress": progress}
    parallel = {"devices": devices, "accelerator": accelerator, "strategy": strategy, "num_nodes": num_nodes}
    run["done"] = run_distributed(model, inputs, parallel=parallel, out=out, **run)
    if run["done"] is OTHER_RANK:
        return None  # another rank than 0: rank 0 writes the output
    if out.suffix == ".h5ad":
        keys = {"key_added": key_added, "tf_key": tf_key, "motif_key": motif_key}
        return _stream_to_h5ad(out, model, inputs, with_motifs=motif_scores, **keys, **run)
    return _stream_to_bigwigs(out, model, inputs, genome=inputs.genome, **run)
