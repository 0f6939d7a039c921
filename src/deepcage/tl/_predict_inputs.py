"""What a prediction reads: the model check, the genome, the loci (and their motif scores), the samples.

The lowest layer of prediction: :func:`deepcage.tl.predict` (in place, new samples, single cells) and
:func:`deepcage.tl.predict_genome` (streamed output) resolve their inputs here into one :class:`Inputs`;
``_predict_run`` runs the network over them chunk by chunk, ``_predict_ddp`` over several processes. This module
imports none of the other prediction modules.
"""

from __future__ import annotations

import logging
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from .._genome import canonical_chrom
from .._intervals import check_loci
from .._keys import MOTIF_SCORES, TF_EXPRESSION
from .._layers import expr_frame, motif_frame
from .._utils import fasta_list, genome_record, get_modality, loci_of, locus_names, parse_locus_names
from ..model._inputs import align_tfs, check_finite
from ..model._model import DeepCAGE

__all__ = ["Inputs", "check_can_score", "resolve_inputs", "score_motifs"]

log = logging.getLogger("deepcage")


# ----------------------------------------------------------------------------------------------- genome
def _genome_name(rec) -> str:
    return str((rec or {}).get("name") or "")


def _check_genome_name(model: DeepCAGE, name: str, where: str) -> None:
    from ..pp._liftover import same_assembly

    want = _genome_name(model.genome)
    if want and name and not same_assembly(want, name):
        chain = f"{name}To{want[:1].upper()}{want[1:]}"
        raise ValueError(
            f"The model was trained on genome {want!r} but {where} uses {name!r}. Predictions on another assembly "
            f"would be wrong: lift the loci to {want!r} with dc.pp.liftover(data, {chain!r}), or pass "
            f"liftover={chain!r} to dc.tl.predict to get the predictions on your {name!r} loci."
        )


def _check_contig_sizes(model: DeepCAGE, genome) -> None:
    """Raise when the FASTA's contigs differ in length from the model's training genome (another assembly)."""
    want = (model.genome or {}).get("chrom_sizes") or {}
    have = {canonical_chrom(c): n for c, n in genome.chrom_sizes.items()}
    diff = [
        (c, int(n), have[canonical_chrom(c)])
        for c, n in want.items()
        if canonical_chrom(c) in have and have[canonical_chrom(c)] != int(n)
    ]
    if diff:
        c, n, got = diff[0]
        files = ", ".join(str(p) for p in genome.paths)
        raise ValueError(
            f"{files}: contig {c!r} is {got:,} bp but {n:,} bp in the genome the model was trained on "
            f"({_genome_name(model.genome) or 'unnamed'}; {len(diff)} contig(s) differ). This FASTA is another "
            "assembly: use the model's genome, or lift the loci over (dc.pp.liftover)."
        )


def _model_genome(model: DeepCAGE, genome, adata: AnnData | None):
    """The Genome to read new loci from: ``genome``, the data's recorded genome, or the model's FASTA."""
    from .._genome import Genome

    if genome is not None:
        g = genome if isinstance(genome, Genome) else Genome(genome, name=_genome_name(model.genome) or None)
        _check_genome_name(model, g.name or "", "genome=")
        _check_contig_sizes(model, g)
        return g
    candidates = []
    if adata is not None:
        rec = genome_record(adata)
        if fasta_list(rec):
            candidates.append(rec)
    if fasta_list(model.genome):
        candidates.append(model.genome)
    for rec in candidates:
        paths = [Path(p) for p in fasta_list(rec)]
        if all(p.exists() for p in paths):
            g = Genome(paths, name=_genome_name(rec) or None)
            _check_contig_sizes(model, g)
            return g
    raise model.genome_needed(
        "These loci are not stored with the model, so their sequences are read from the genome"
    )


# ----------------------------------------------------------------------------------------------- loci
def _same_coordinates(stored: pd.DataFrame, pos: np.ndarray, table: pd.DataFrame) -> bool:
    """Whether the loci of ``table`` are the stored loci at ``pos`` (same names and the same coordinates: a table
    of shifted loci that kept the names is new loci, read from the genome)."""
    if not {"chrom", "start", "end"}.issubset(table.columns):
        return True  # names only: they are the coordinates
    return bool(
        np.array_equal(stored["start"].to_numpy()[pos], table["start"].to_numpy())
        and np.array_equal(stored["end"].to_numpy()[pos], table["end"].to_numpy())
        and np.array_equal(
            np.asarray(stored["chrom"].to_numpy()[pos]).astype(str), np.asarray(table["chrom"]).astype(str)
        )
    )


class _Loci:
    """Where the sequences and motif scores of the loci to predict come from, chunk by chunk."""

    def __init__(self, model: DeepCAGE, table: pd.DataFrame, motif: np.ndarray | None, genome, adata):
        self.model = model
        self.table = table
        self.motif = motif
        self.genome_arg = genome
        self.adata = adata
        self._genome = None
        self.stored = None  # positions in model.loci when every locus is a stored training locus
        self.names_from_coordinates = False
        named = not isinstance(table.index, pd.RangeIndex)  # a compact table of new loci has no names
        if (
            named
            and model.loci is not None
            and (model.loci_codes is not None or model.loci_motif is not None)
        ):
            pos = model.loci.index.get_indexer(table.index)
            found = pos >= 0
            if found.any() and not _same_coordinates(model.loci, pos[found], table[found]):
                # names of training loci on other coordinates (e.g. shifted loci that kept their names): new loci,
                # looked up by their coordinates so they do not take the training loci's labels either
                self.names_from_coordinates = True
            elif found.all():
                self.stored = pos
        if self.motif is None and not (self.stored is not None and model.loci_motif is not None):
            check_can_score(model, len(table))

    def __len__(self) -> int:
        return len(self.table)

    @property
    def genome(self):
        if self._genome is None:
            self._genome = _model_genome(self.model, self.genome_arg, self.adata)
        return self._genome

    def codes(self, lo: int, hi: int) -> np.ndarray | None:
        net = self.model.network
        if not net.use_sequence:
            return None
        if self.stored is not None and self.model.loci_codes is not None:
            return np.asarray(self.model.loci_codes[self.stored[lo:hi]])
        from .._onehot import locus_codes

        t = self.table.iloc[lo:hi]
        return locus_codes(
            self.genome, t["chrom"].to_numpy(), t["start"].to_numpy(), t["end"].to_numpy(), window=net.seq_len
        )

    def motifs(self, lo: int, hi: int, codes: np.ndarray | None) -> np.ndarray:
        if self.motif is not None:
            return self.motif[lo:hi]
        if self.stored is not None and self.model.loci_motif is not None:
            return np.asarray(self.model.loci_motif.to_numpy()[self.stored[lo:hi]], dtype=np.float32)
        scan = self.model.motif_scan
        if codes is None or codes.shape[-1] != scan.window:
            t = self.table.iloc[lo:hi]
            codes = scan.read(self.genome, t["chrom"].to_numpy(), t["start"].to_numpy(), t["end"].to_numpy())
        return score_motifs(self.model, codes)

    def chunk(
        self, lo: int, hi: int, expr: np.ndarray, *, batch_size: int, samples=None, device=None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predictions (loci x samples) of loci lo:hi and their motif scores: sequences, motif scan (on the
        network's device), network."""
        codes = self.codes(lo, hi)
        motif = self.motifs(lo, hi, codes)
        # reference labels (models with the kNN prior) are found by locus name
        names = (
            _names(self.table, lo, hi, self.names_from_coordinates)
            if getattr(self.model.network, "prior", False)
            else None
        )
        pred = self.model.predict_arrays(
            codes, motif, expr, batch_size=batch_size, loci=names, samples=samples, device=device
        )
        return pred, motif


def check_can_score(model: DeepCAGE, n_loci: int, *, say: bool = True) -> None:
    """Raise unless the model can score new loci exactly as its training loci were scored."""
    if model.motif_scan is not None:
        model.motif_scan.check_tfs(model.tfs)
        if say:
            log.info(
                "Scoring %d new loci with the recorded motif scan: %s.", n_loci, model.motif_scan.describe()
            )
        return
    if model.motifs:
        raise ValueError(
            f"The {n_loci} loci need motif scores, and the model has motifs but no record of how its training "
            "loci were scored (window, background, threshold): its scores were made outside dc.pp.motif_scores. "
            "Scoring new loci with other settings would give silently different predictions. Pass loci with "
            "varm['motif_scores'] made like the training scores, re-fit on scores from dc.pp.motif_scores, or "
            "state the settings with model.set_motif_scan(motifs, window=..., background=..., min_score=...)."
        )
    raise ValueError(
        f"No motif scores for the {n_loci} loci: they are not the model's stored training loci and the model has "
        "no motifs to score them. Pass an AnnData with varm['motif_scores'] (dc.pp.motif_scores with "
        "tfs=model.tfs), or train on scores from dc.pp.motif_scores (fit then stores the motifs and the scan "
        "settings), or call model.set_motif_scan(dc.io.read_motifs(...), window=..., ...)."
    )


def score_motifs(model: DeepCAGE, codes: np.ndarray) -> np.ndarray:
    """Motif scores (loci x model.tfs) of sequences with the model's recorded scan (motifs, background,
    threshold; ``codes`` read with its window), on the network's GPU when it is on one (else on any visible GPU,
    else the CPU)."""
    check_can_score(model, len(codes), say=False)
    device = next(model.network.parameters()).device
    return model.motif_scan.score(codes, model.tfs, device=device if device.type == "cuda" else "auto")


def _loci_table(loci) -> tuple[pd.DataFrame, AnnData | None]:
    if isinstance(loci, AnnData) or type(loci).__name__ == "MuData":
        ad = get_modality(loci, "atac")
        table = loci_of(ad).copy()
        table.index = ad.var_names.astype(str)
        return table, ad
    if isinstance(loci, pd.DataFrame) and {"chrom", "start", "end"}.issubset(loci.columns):
        return _compact_loci(loci), None
    return parse_locus_names(list(loci)), None


def _compact_loci(loci: pd.DataFrame) -> pd.DataFrame:
    """chrom (categorical) / start / end (int64): 17 bytes per locus, so that a genome-wide table (15 M bins)
    stays small. The index is kept when it holds the ``chr:start-end`` names (as from ``bin_genome``), else it is
    a RangeIndex and names are made chunk by chunk where an output needs them."""
    chrom = loci["chrom"]
    already = (
        isinstance(loci.index, pd.RangeIndex)
        and isinstance(chrom.dtype, pd.CategoricalDtype)
        and all(isinstance(c, str) for c in chrom.cat.categories)
        and loci["start"].dtype == np.int64
        and loci["end"].dtype == np.int64
    )
    if already:  # as bin_genome(names=False) returns it: no copy
        return loci[["chrom", "start", "end"]] if loci.shape[1] > 3 else loci
    if isinstance(chrom.dtype, pd.CategoricalDtype):
        chrom = chrom.cat.rename_categories([str(c) for c in chrom.cat.categories])
    else:
        chrom = pd.Categorical(chrom.astype(str))
    table = pd.DataFrame(
        {"chrom": chrom, "start": _coordinate(loci, "start"), "end": _coordinate(loci, "end")}
    )
    if len(table) and not isinstance(loci.index, pd.RangeIndex):
        ends = table.iloc[[0, -1]]
        if list(loci.index[[0, -1]].astype(str)) == list(
            locus_names(ends["chrom"], ends["start"], ends["end"])
        ):
            table.index = loci.index.astype(str)
    return table


def _coordinate(loci: pd.DataFrame, col: str) -> np.ndarray:
    """``loci[col]`` as int64, or a clear error naming the first row that is missing, not a number or not whole
    (before any cast, so that numpy's cast warning never comes first)."""
    raw = loci[col]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    bad[~bad] = values[~bad] != np.round(values[~bad])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        value = raw.iloc[i]
        value = value.item() if isinstance(value, np.generic) else value
        where = f"loci=: row {loci.index[i]!r} (position {i}) on {loci['chrom'].iloc[i]}"
        if pd.isna(value):
            raise ValueError(
                f"{where} has a missing (NaN) {col}; {int(bad.sum())} such rows. Drop or fill them "
                "(e.g. df.dropna(subset=['chrom', 'start', 'end'])) first."
            )
        kind = "a non-integer" if np.isfinite(values[i]) else "a non-numeric"
        raise ValueError(
            f"{where} has {kind} {col} ({value!r}); {int(bad.sum())} such rows. {col!r} must hold whole base "
            "positions (0-based): fix or drop those rows first."
        )
    return values.astype(np.int64)


def _names(table: pd.DataFrame, lo: int, hi: int, from_coordinates: bool = False) -> np.ndarray:
    """``chr:start-end`` names of rows lo:hi (the index when it holds them)."""
    if not from_coordinates and not isinstance(table.index, pd.RangeIndex):
        return np.asarray(table.index[lo:hi], dtype=object)
    t = table.iloc[lo:hi]
    return np.asarray(locus_names(t["chrom"], t["start"], t["end"]), dtype=object)


def _motif_of(ad: AnnData | None, motif_key: str, model: DeepCAGE) -> np.ndarray | None:
    if ad is None or motif_key not in ad.varm:
        return None
    m = align_tfs(motif_frame(ad, motif_key), model.tfs, f"varm[{motif_key!r}]")
    values = m.to_numpy(dtype=np.float32)
    check_finite(values, f"varm[{motif_key!r}]", ad.var_names, model.tfs)
    return values


# ----------------------------------------------------------------------------------------------- inputs
def _check_model(model) -> None:
    if not isinstance(model, DeepCAGE):
        raise TypeError(
            f"model must be a dc.DeepCAGE (from dc.tl.fit or dc.DeepCAGE.load), got {type(model).__name__}."
        )


def _sample_positions(index: pd.Index, samples, what: str) -> np.ndarray | None:
    """Positions in ``index`` of ``samples`` (names in the given order, or a boolean mask); None: every sample."""
    if samples is None:
        return None
    if isinstance(samples, str):
        samples = [samples]
    values = np.asarray(samples)
    if values.dtype == bool:
        if len(values) != len(index):
            raise ValueError(
                f"samples=: a boolean mask of {len(values)} values for the {len(index)} samples of {what}."
            )
        pos = np.flatnonzero(values)
    else:
        names = pd.Index([str(x) for x in values])
        if names.duplicated().any():
            raise ValueError(f"samples=: {sorted(set(names[names.duplicated()]))[:5]} given more than once.")
        pos = pd.Index(index.astype(str)).get_indexer(names)
        if (pos < 0).any():
            missing = list(names[pos < 0])
            raise KeyError(
                f"samples=: {len(missing)} name(s) not among the samples of {what}, e.g. {missing[:5]} "
                f"(its samples: {list(map(str, index[:10]))}{' ...' if len(index) > 10 else ''})."
            )
    if not len(pos):
        raise ValueError(f"samples= selects none of the {len(index)} samples of {what}.")
    return pos


def _expression_input(expr, samples):
    """The new samples' expression (only the chosen ones) and their ``obs`` (empty columns for a DataFrame)."""
    if isinstance(expr, pd.DataFrame):
        pos = _sample_positions(expr.index, samples, "the expression")
        frame = expr if pos is None else expr.iloc[pos]
        return frame, pd.DataFrame(index=frame.index.astype(str))
    rna = get_modality(expr, "rna")
    pos = _sample_positions(rna.obs_names, samples, "the expression")
    rna = rna if pos is None else rna[pos].copy()
    obs = rna.obs.copy()
    obs.index = obs.index.astype(str)
    return rna, obs


def _resolve_samples(
    model: DeepCAGE, ad: AnnData | None, expr, *, tf_key: str, fill_missing: bool, samples=None
) -> tuple[pd.Index, np.ndarray, pd.DataFrame]:
    """Sample names, their normalised TF expression (samples x model.tfs, float32, finite) and their ``obs``."""
    if expr is None:
        pos = _sample_positions(ad.obs_names, samples, "adata")
        e = align_tfs(expr_frame(ad, tf_key), model.tfs, f"obsm[{tf_key!r}]")
        obs = ad.obs
        if pos is not None:
            e, obs = e.iloc[pos], obs.iloc[pos]
        sample_names, obs = pd.Index(e.index), obs.copy()
    else:
        if model.tf_reference is None:
            raise ValueError(
                "The model has no TF-expression reference (tf_reference); cannot normalise new RNA."
            )
        from ..pp import apply_tf_reference

        expr, obs = _expression_input(expr, samples)
        e = align_tfs(
            apply_tf_reference(expr, model.tf_reference, fill_missing=fill_missing),
            model.tfs,
            "the expression",
        )
        sample_names = e.index
    dup = pd.Index(sample_names)[pd.Index(sample_names).duplicated()]
    if len(dup):
        raise ValueError(
            f"{len(dup)} duplicated sample name(s) in {'the expression' if expr is not None else 'adata.obs_names'}, "
            f"e.g. {list(dict.fromkeys(map(str, dup)))[:5]}: each sample needs its own name (predictions are "
            "returned by sample name)."
        )
    expr_values = e.to_numpy(dtype=np.float32)
    check_finite(expr_values, "The TF expression", list(sample_names), model.tfs)
    obs.index = pd.Index(list(map(str, sample_names)))
    return sample_names, expr_values, obs


def _resolve_loci(
    model: DeepCAGE, ad: AnnData | None, expr, loci, genome, *, motif_key: str
) -> tuple[pd.DataFrame, np.ndarray | None, _Loci]:
    """The loci to predict (table chrom/start/end), their given motif scores (or None) and their source."""
    if expr is None or (loci is None and ad is not None):
        table = loci_of(ad).copy()
        table.index = ad.var_names.astype(str)
        motif = _motif_of(ad, motif_key, model)
        if motif is None:
            motif_frame(ad, motif_key)  # raises the clear error
        loci_ad = ad
    elif loci is not None:
        table, loci_ad = _loci_table(loci)
        if loci_ad is not None:
            _check_genome_name(model, _genome_name(genome_record(loci_ad)), "loci")
        motif = _motif_of(loci_ad, motif_key, model)
    else:
        if model.loci is None:
            raise ValueError("The model stores no loci: pass loci= or adata.")
        table = model.loci[["chrom", "start", "end"]].copy()
        motif, loci_ad = None, None
    source = _Loci(model, table, motif, genome, loci_ad if loci_ad is not None else ad)
    if source.stored is None:
        # a genome passed here was checked to agree with the model's on their shared contigs; it may hold contigs
        # the training FASTA had not (a model trained on one chromosome predicting the whole genome)
        sizes = genome.chrom_sizes if genome is not None else (model.genome or {}).get("chrom_sizes")
        check_loci(table, chrom_sizes=sizes, what="loci=" if loci is not None else "the loci of adata")
    return table, motif, source


def _reference_names(model: DeepCAGE, sample_names, exclude_self: bool):
    """Sample names that leave a training sample out of its own reference (None: every sample is new)."""
    clash = sorted(set(map(str, sample_names)) & set(model.reference_samples))
    if exclude_self:
        return sample_names
    if clash:
        warnings.warn(
            f"{len(clash)} new sample(s) share a name with a training sample ({clash[:5]}): they are predicted as "
            "new samples, with every training sample's labels in the prior. If this is the training sample's own "
            "RNA, pass exclude_self=True to leave it out of its own reference, as in training.",
            UserWarning,
            stacklevel=_caller_stacklevel(),
        )
    return None


def _caller_stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside deepcage (the user's call), however deep the call chain."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("deepcage."):
        frame, level = frame.f_back, level + 1
    return level


def _training_samples(model: DeepCAGE) -> set[str]:
    return set(map(str, model.params.get("train_samples") or model.reference_samples))


def source_labels(model: DeepCAGE, names, measured, exclude_self: bool) -> pd.Categorical:
    """``obs['source']`` of predicted samples: ``'training'`` (a training sample of the model), ``'held_out'`` (a
    sample with measured accessibility that the model did not train on) or ``'rna_only'`` (expression only).

    A sample has measured accessibility when it is a sample of the AnnData given with the expression
    (``measured``), or when it is named like a training sample and predicted as that sample (``exclude_self``).
    """
    train, measured = _training_samples(model), set(map(str, measured))
    labels = [
        ("training" if n in train else "held_out")
        if n in measured or (exclude_self and n in train)
        else "rna_only"
        for n in map(str, names)
    ]
    return pd.Categorical(labels, categories=["training", "held_out", "rna_only"])


def _all_motif_scores(model: DeepCAGE, source: _Loci, motif: np.ndarray | None) -> np.ndarray | None:
    """Motif scores of every locus when known without scanning (given, or the model's stored ones)."""
    if motif is not None:
        return motif
    if source.stored is not None and model.loci_motif is not None:
        return model.loci_motif.to_numpy()[source.stored]
    return None


# ----------------------------------------------------------------------------------------------- together
@dataclass
class Inputs:
    """Everything a prediction reads, resolved and checked: samples (names, normalised TF expression, obs with
    ``'source'``), loci (table, given motif scores, their source) and the names that leave a training sample out
    of its own reference (None: every sample is new); ``new_samples``: the samples come from ``expr=``."""

    names: pd.Index
    expr: np.ndarray
    obs: pd.DataFrame
    table: pd.DataFrame
    motif: np.ndarray | None
    source: _Loci
    reference: pd.Index | None
    new_samples: bool
    genome: object = None  # the Genome given (checked), or None

    @property
    def n_samples(self) -> int:
        return len(self.names)

    def motif_scores(self, model: DeepCAGE) -> np.ndarray | None:
        """Motif scores of every locus when known without scanning (given, or the model's stored ones)."""
        return _all_motif_scores(model, self.source, self.motif)


def resolve_inputs(
    model: DeepCAGE,
    adata,
    *,
    expr=None,
    loci=None,
    genome=None,
    samples=None,
    tf_key: str = TF_EXPRESSION,
    motif_key: str = MOTIF_SCORES,
    fill_missing: bool = False,
    exclude_self: bool | None = None,
) -> Inputs:
    """Check and resolve the inputs of a prediction: (a) the samples and loci of ``adata`` (``expr=None``), or (b)
    new samples' expression on ``loci=`` / the loci of ``adata`` / the model's stored loci."""
    _check_model(model)
    ad = get_modality(adata, "atac") if adata is not None else None
    if ad is None and expr is None:
        raise ValueError("Pass adata (predict its samples) or expr= (new samples' expression).")
    if ad is not None:
        _check_genome_name(model, _genome_name(genome_record(ad)), "adata")
    if genome is not None:
        genome = _model_genome(model, genome, None)  # checks the assembly name
    if expr is None and loci is not None:
        raise ValueError("loci= is for expr= predictions; (a) predicts the loci of adata.")
    names, values, obs = _resolve_samples(
        model, ad, expr, tf_key=tf_key, fill_missing=fill_missing, samples=samples
    )
    table, motif, source = _resolve_loci(model, ad, expr, loci, genome, motif_key=motif_key)
    exclude = expr is None if exclude_self is None else bool(exclude_self)
    measured = ad.obs_names if ad is not None else []
    obs["source"] = source_labels(model, names, measured, exclude)
    return Inputs(
        names=pd.Index(names),
        expr=values,
        obs=obs,
        table=table,
        motif=motif,
        source=source,
        reference=_reference_names(model, names, exclude),
        new_samples=expr is not None,
        genome=genome,
    )
