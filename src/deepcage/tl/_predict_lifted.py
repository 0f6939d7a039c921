"""Predict loci of another assembly: lift them to the model's assembly, predict, report on the caller's loci.

A layer around :func:`deepcage.tl.predict`, which hands itself over as ``predict`` (this module does not import
it); the loci helpers come from ``_predict_inputs``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from anndata import AnnData

from .._keys import GENOME_KEY, PREDICT_KEY, UNS_KEY
from .._utils import deepcage_uns, genome_record, get_modality
from ._predict_inputs import _loci_table, _model_genome

__all__ = ["predict_lifted"]

logger = logging.getLogger("deepcage")


def _model_assembly(model) -> str:
    return str((model.genome or {}).get("name") or "")


def _check_chain_target(chain, model, genome) -> str:
    """The model's assembly; raise when the chain lifts to another one."""
    from ..pp._liftover import chain_assemblies, same_assembly

    want = (getattr(genome, "name", None) or "") or _model_assembly(model)
    source, target = chain_assemblies(chain)
    if target and want and not same_assembly(target, want):
        raise ValueError(
            f"liftover={chain!s} lifts from {source!r} to {target!r}, but the model was trained on {want!r}: pass "
            f"the chain from your assembly to {want!r} (e.g. '{source or 'hg38'}To{want[:1].upper()}{want[1:]}')."
        )
    return want


def _lift_loci(table: pd.DataFrame, ad: AnnData | None, chain, target, progress: bool):
    """Lifted loci (an AnnData copy when the caller gave one, so motif scores travel) and the report."""
    from ..pp import liftover

    if ad is not None:
        lifted = liftover(ad, chain, target_genome=target, copy=True, progress=progress)
        return lifted, lifted.var["lifted_from"].astype(str).to_numpy(), lifted.uns[UNS_KEY]["liftover"]
    frame = table.reset_index(drop=True)
    frame.index = table.index  # chr:start-end names, so liftover rewrites them
    lifted = liftover(frame, chain, target_genome=target, progress=progress)
    return (
        lifted[["chrom", "start", "end"]],
        lifted["lifted_from"].astype(str).to_numpy(),
        lifted.attrs["liftover"],
    )


def _spread(values: np.ndarray, positions: np.ndarray, n: int) -> np.ndarray:
    """Columns of ``values`` placed at ``positions`` of an ``n``-column matrix; NaN where nothing was lifted."""
    out = np.full((values.shape[0], n), np.nan, dtype=np.float32)
    out[:, positions] = values
    return out


def _warn_unlifted(report: dict, key_added: str) -> None:
    if report["n_dropped"]:
        reasons = ", ".join(f"{k} {v:,}" for k, v in report["dropped"].items() if v)
        logger.warning(
            "predict: %s of %s loci could not be lifted to %s (%s); their predictions in %r are NaN and "
            "var['lifted_to'] is empty for them.",
            f"{report['n_dropped']:,}",
            f"{report['n_input']:,}",
            report["target_genome"] or "the model's assembly",
            reasons,
            key_added,
        )


def _target_genome(model, genome, name: str):
    """The model's reference (to drop loci lifted outside its contigs), else just its assembly name."""
    if genome is not None:
        return genome
    try:
        return _model_genome(model, None, None)
    except ValueError:  # no FASTA at hand: the loci may still be stored with the model
        return name


def predict_lifted(
    predict, model, adata, *, expr, loci, chain, genome, key_added, motif_key, copy, progress, **kw
):
    """``predict`` on loci lifted to the model's assembly; the results come back on the caller's loci."""
    target = _target_genome(model, genome, _check_chain_target(chain, model, genome))
    if expr is None:  # (a) the samples and loci of adata
        data = adata.copy() if copy else adata
        ad = get_modality(data, "atac")
        lifted, origin, report = _lift_loci(None, ad, chain, target, progress)
        predict(
            model, lifted, genome=genome, key_added=key_added, motif_key=motif_key, progress=progress, **kw
        )
        positions = ad.var_names.get_indexer(origin)
        ad.layers[key_added] = _spread(np.asarray(lifted.layers[key_added]), positions, ad.n_vars)
        record = dict(lifted.uns[UNS_KEY][PREDICT_KEY][key_added], liftover=report)
        _mark_lifted(ad.var, positions, lifted.var_names)
        deepcage_uns(ad).setdefault(PREDICT_KEY, {})[key_added] = record
        _warn_unlifted(report, key_added)
        return data if copy else None

    # (b) new samples' expression on the caller's loci (loci=, else those of adata)
    if loci is None and adata is None:
        raise ValueError("liftover= needs the loci to lift: pass loci= (or adata) on your assembly.")
    table, ad = _loci_table(loci if loci is not None else adata)
    lifted, origin, report = _lift_loci(table, ad, chain, target, progress)
    new = predict(
        model,
        expr=expr,
        loci=lifted,
        genome=genome,
        key_added=key_added,
        motif_key=motif_key,
        progress=progress,
        **kw,
    )
    positions = table.index.get_indexer(origin)
    pred = _spread(np.asarray(new.X), positions, len(table))
    out = AnnData(X=pred, obs=new.obs.copy(), var=table[["chrom", "start", "end"]].copy())
    out.layers[key_added] = out.X  # the same array, as in every prediction AnnData
    out.obsm.update(new.obsm)
    if motif_key in new.varm:
        scores = _spread(new.varm[motif_key].to_numpy().T, positions, len(table)).T
        out.varm[motif_key] = pd.DataFrame(scores, index=out.var_names, columns=new.varm[motif_key].columns)
    _mark_lifted(out.var, positions, new.var_names)
    out.uns[UNS_KEY] = dict(new.uns[UNS_KEY])
    caller = genome_record(ad)
    out.uns[UNS_KEY][GENOME_KEY] = caller if caller else {"name": report["source_genome"], "fasta": []}
    out.uns[UNS_KEY][PREDICT_KEY] = {
        key_added: dict(new.uns[UNS_KEY][PREDICT_KEY][key_added], liftover=report)
    }
    _warn_unlifted(report, key_added)
    return out


def _mark_lifted(var: pd.DataFrame, positions: np.ndarray, names) -> None:
    lifted_to = np.full(len(var), "", dtype=object)
    lifted_to[positions] = np.asarray(names, dtype=object)
    var["lifted_to"] = lifted_to
