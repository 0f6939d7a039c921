"""Predict accessibility for the samples of an AnnData or for new expression only."""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData
from tqdm.auto import tqdm

from .._genome import canonical_chrom
from .._intervals import check_loci
from .._utils import UNS_KEY, deepcage_uns, fasta_list, get_modality, loci_of, locus_names, parse_locus_names
from ..model._inputs import align_tfs, check_finite, expr_frame, motif_frame
from ..model._model import DeepCAGE

__all__ = ["predict"]

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
        rec = (adata.uns.get(UNS_KEY, {}) or {}).get("genome") or {}
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
    raise ValueError(
        "These loci are not stored with the model, so their sequences must be read from the genome, but no FASTA "
        f"was found (model genome: {model.genome.get('name')!r}, files {model.genome.get('fasta')}). "
        "Pass genome=dc.Genome('path/to/genome.fa', name=...)."
    )


# ----------------------------------------------------------------------------------------------- loci
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
        named = not isinstance(table.index, pd.RangeIndex)  # a compact table of new loci has no names
        if (
            named
            and model.loci is not None
            and (model.loci_codes is not None or model.loci_motif is not None)
        ):
            pos = model.loci.index.get_indexer(table.index)
            if (pos >= 0).all():
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
        {
            "chrom": chrom,
            "start": np.asarray(loci["start"], dtype=np.int64),
            "end": np.asarray(loci["end"], dtype=np.int64),
        }
    )
    if len(table) and not isinstance(loci.index, pd.RangeIndex):
        ends = table.iloc[[0, -1]]
        if list(loci.index[[0, -1]].astype(str)) == list(
            locus_names(ends["chrom"], ends["start"], ends["end"])
        ):
            table.index = loci.index.astype(str)
    return table


def _names(table: pd.DataFrame, lo: int, hi: int) -> np.ndarray:
    """``chr:start-end`` names of rows lo:hi (the index when it holds them)."""
    if not isinstance(table.index, pd.RangeIndex):
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


def _resolve_samples(
    model: DeepCAGE, ad: AnnData | None, expr, *, tf_key: str, fill_missing: bool
) -> tuple[pd.Index, np.ndarray]:
    """Sample names and their normalised TF expression (samples x model.tfs, float32, finite)."""
    if expr is None:
        e = align_tfs(expr_frame(ad, tf_key), model.tfs, f"obsm[{tf_key!r}]")
        sample_names = ad.obs_names
    else:
        if model.tf_reference is None:
            raise ValueError(
                "The model has no TF-expression reference (tf_reference); cannot normalise new RNA."
            )
        from ..pp import apply_tf_reference

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
    return sample_names, expr_values


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
            _check_genome_name(
                model, _genome_name((loci_ad.uns.get(UNS_KEY, {}) or {}).get("genome")), "loci"
            )
        motif = _motif_of(loci_ad, motif_key, model)
    else:
        if model.loci is None:
            raise ValueError("The model stores no loci: pass loci= or adata.")
        table = model.loci[["chrom", "start", "end"]].copy()
        motif, loci_ad = None, None
    source = _Loci(model, table, motif, genome, loci_ad if loci_ad is not None else ad)
    if source.stored is None:
        sizes = (model.genome or {}).get("chrom_sizes") or (
            genome.chrom_sizes if genome is not None else None
        )
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
            stacklevel=3,
        )
    return None


def _all_motif_scores(model: DeepCAGE, source: _Loci, motif: np.ndarray | None) -> np.ndarray | None:
    """Motif scores of every locus when known without scanning (given, or the model's stored ones)."""
    if motif is not None:
        return motif
    if source.stored is not None and model.loci_motif is not None:
        return model.loci_motif.to_numpy()[source.stored]
    return None


# ----------------------------------------------------------------------------------------------- outputs
def _open_h5ad_sink(path: Path, obs: pd.DataFrame, table: pd.DataFrame, obsm: dict, uns: dict):
    """Write an AnnData skeleton and an empty float32 ``X`` that chunks are written into (readable backed).

    ``var`` (names, chrom, start, end) is written in chunks of 100,000 loci, so a genome-wide table never
    exists as Python strings in memory: anndata writes a zero-locus skeleton with the right columns and
    encodings, whose datasets are then recreated at full length with the same attributes.
    """
    import h5py

    chrom = table["chrom"].astype("category")
    var = pd.DataFrame(
        {
            "chrom": pd.Categorical([], categories=chrom.cat.categories),
            "start": np.zeros(0, np.int64),
            "end": np.zeros(0, np.int64),
        },
        index=pd.Index([], dtype=object),
    )
    AnnData(obs=obs, var=var, obsm=obsm, uns=uns).write_h5ad(path)
    fh = h5py.File(path, "a")
    n = len(table)
    codes = np.asarray(chrom.cat.codes)
    columns = {
        "_index": lambda lo, hi: _names(table, lo, hi),
        "chrom/codes": lambda lo, hi: codes[lo:hi],
        "start": lambda lo, hi: table["start"].to_numpy()[lo:hi],
        "end": lambda lo, hi: table["end"].to_numpy()[lo:hi],
    }
    for key, values in columns.items():
        old = fh["var"][key]
        attrs, dtype = dict(old.attrs), old.dtype
        del fh["var"][key]
        ds = fh["var"].create_dataset(key, shape=(n,), dtype=dtype, chunks=(min(max(n, 1), 65536),))
        ds.attrs.update(attrs)
        for lo in range(0, n, _VAR_CHUNK):
            ds[lo : min(lo + _VAR_CHUNK, n)] = values(lo, min(lo + _VAR_CHUNK, n))
    if "X" in fh:
        del fh["X"]
    ds = fh.create_dataset(
        "X", shape=(len(obs), n), dtype="float32", chunks=(len(obs), max(1, min(n, 16384)))
    )
    ds.attrs["encoding-type"] = "array"
    ds.attrs["encoding-version"] = "0.2.0"
    return fh, ds


_VAR_CHUNK = 100_000  # names per write: a few MB of Python strings at a time


def _run_into(target, model, source, expr_values, **kwargs) -> None:
    """Stream predictions chunk by chunk into a samples x loci array-like (HDF5 dataset or memmap)."""

    def sink(lo, hi, p):
        target[:, lo:hi] = p.T

    _run(model, source, expr_values, sink=sink, **kwargs)


def _run(
    model,
    source: _Loci,
    expr: np.ndarray,
    *,
    batch_size,
    chunk_size,
    progress,
    sink,
    samples=None,
    precomputed=None,
) -> None:
    n = len(source)
    if precomputed is not None:  # predicted by several processes (_predict_ddp): hand over in locus order
        for lo in range(0, n, chunk_size):
            hi = min(lo + chunk_size, n)
            sink(lo, hi, np.asarray(precomputed[:, lo:hi]).T)
        return
    # loci/s and time left; chunks read sequences, scan motifs and run the network in turn
    with tqdm(
        total=n,
        desc="deepcage predict",
        unit="locus",
        unit_scale=True,
        disable=not progress or n <= chunk_size,
    ) as bar:
        for lo in range(0, n, chunk_size):
            hi = min(lo + chunk_size, n)
            sink(lo, hi, _chunk(model, source, lo, hi, expr, batch_size=batch_size, samples=samples))
            bar.update(hi - lo)


def _chunk(
    model, source: _Loci, lo: int, hi: int, expr, *, batch_size, samples=None, device=None
) -> np.ndarray:
    """Predictions (loci x samples) of loci lo:hi: sequences, motif scan (on the network's device), network."""
    codes = source.codes(lo, hi)
    motif = source.motifs(lo, hi, codes)
    # reference labels (models with the kNN prior) are found by locus name
    names = _names(source.table, lo, hi) if getattr(model.network, "prior", False) else None
    return model.predict_arrays(
        codes, motif, expr, batch_size=batch_size, loci=names, samples=samples, device=device
    )


def _stream_to_h5ad(
    out: Path, model, source, sample_names, expr_values, table, *, tf_key, key_added, **run
) -> Path:
    """Stream predictions into the ``X`` of a new ``.h5ad`` file."""
    obs_index = list(map(str, sample_names))
    obsm = {tf_key: pd.DataFrame(expr_values, index=obs_index, columns=model.tfs)}
    uns = {UNS_KEY: {"genome": model.genome, "tfs": model.tfs, "prediction_key": key_added}}
    fh, ds = _open_h5ad_sink(out, pd.DataFrame(index=obs_index), table, obsm, uns)
    try:
        _run_into(ds, model, source, expr_values, **run)
    finally:
        fh.close()
    return out


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


def _stream_to_bigwigs(
    out: Path, model, source, sample_names, expr_values, table, *, genome, **run
) -> list[Path]:
    """Stream predictions into a memmap, then write one bigWig per sample."""
    from ..io import write_bigwig

    sizes = _bigwig_sizes(model, genome)
    n_samples, n_loci = len(sample_names), len(table)
    with tempfile.TemporaryDirectory(prefix="deepcage-predict-") as tmp:
        mm = np.memmap(Path(tmp) / "pred.f32", dtype=np.float32, mode="w+", shape=(n_samples, n_loci))
        _run_into(mm, model, source, expr_values, **run)
        mm.flush()
        targets = _bigwig_targets(out, [str(s) for s in sample_names])
        for i, target in enumerate(targets):
            write_bigwig(
                np.asarray(mm[i]),
                target,
                loci=table[["chrom", "start", "end"]].reset_index(drop=True),
                chrom_sizes=sizes,
            )
        del mm
    return targets


def _predict_matrix(model, source, expr_values, n_samples: int, **run) -> np.ndarray:
    """All predictions in memory: float32 samples x loci."""
    pred = np.empty((n_samples, len(source)), dtype=np.float32)
    _run_into(pred, model, source, expr_values, **run)
    return pred


def _new_samples_adata(
    model, pred, sample_names, expr_values, table, motif_all, record, *, tf_key, motif_key, key_added
) -> AnnData:
    """The AnnData returned for new expression: predictions, normalised expression, motif scores, provenance."""
    var = table[["chrom", "start", "end"]].copy()
    var.index = pd.Index(_names(table, 0, len(table)))
    new = AnnData(obs=pd.DataFrame(index=pd.Index(list(map(str, sample_names)))), var=var)
    new.layers[key_added] = pred
    new.obsm[tf_key] = pd.DataFrame(expr_values, index=new.obs_names, columns=model.tfs)
    if motif_all is not None:
        new.varm[motif_key] = pd.DataFrame(motif_all, index=new.var_names, columns=model.tfs)
    new.uns[UNS_KEY] = {
        "genome": dict(model.genome),
        "tfs": list(model.tfs),
        "tf_reference": model.tf_reference,
        "predict": {key_added: record},
    }
    return new


def predict(
    model: DeepCAGE,
    adata=None,
    *,
    expr=None,
    loci=None,
    genome=None,
    tf_key: str = "tf_expr",
    motif_key: str = "motif_scores",
    key_added: str = "deepcage",
    fill_missing: bool = False,
    batch_size: int = 256,
    chunk_size: int = 10000,
    out: str | os.PathLike | None = None,
    liftover=None,
    progress: bool = True,
    copy: bool = False,
    exclude_self: bool | None = None,
    devices=None,
    accelerator: str = "auto",
    strategy: str = "auto",
    num_nodes: int = 1,
):
    """Predict accessibility with a trained model: for the samples of ``adata``, or for new expression only.

    Three uses:

    (a) ``predict(model, adata)``: the samples of ``adata`` (``obsm[tf_key]``) x its loci (``varm[motif_key]``;
        TF columns must be the model's TFs) -> ``adata.layers[key_added]``.
    (b) ``predict(model, expr=rna)``: **new samples from their RNA alone** (a samples x genes AnnData of bulk TPM
        or counts, pseudobulk from :func:`deepcage.pp.pseudobulk`, or a DataFrame). The expression is normalised
        with the model's training reference (:func:`deepcage.pp.apply_tf_reference`); the loci are ``loci=``,
        else those of ``adata``, else the model's stored training loci. Returns a **new** AnnData.
    (c) With ``out=``, predictions stream over the loci in chunks of ``chunk_size`` (bounded memory) into one
        bigWig per sample (``out`` a directory or ``.bw`` file, via :func:`deepcage.write_bigwig`) or into an
        ``.h5ad`` file whose ``X`` holds the predictions (open it with ``anndata.read_h5ad(out, backed='r')``).

    Sequences come from the model's stored loci when possible (no genome needed), else from ``genome`` / the
    genome recorded in ``adata`` / the model's FASTA path. Motif scores for loci that are neither in ``adata``
    nor stored come from ``model.motifs``.

    Parameters
    ----------
    model
        A trained :class:`deepcage.DeepCAGE`.
    adata
        Samples x loci AnnData (or MuData: ``'atac'``) with ``obsm[tf_key]`` and ``varm[motif_key]``.
    expr
        New samples' expression, samples x genes (raw TPM/CPM/counts, not normalised).
    loci
        Loci for (b)/(c): an AnnData (its ``var`` and ``varm[motif_key]``), a DataFrame with ``chrom``, ``start``,
        ``end``, or ``chr:start-end`` names.
    genome
        :class:`deepcage.Genome` or FASTA path(s) for loci not stored with the model. Must be the model's assembly.
    tf_key, motif_key
        Keys of the normalised TF expression (``obsm``) and motif scores (``varm``).
    key_added
        Layer for the predictions.
    fill_missing
        For ``expr``: TFs missing from the expression table are treated as 0 (with a warning) instead of an error.
    batch_size, chunk_size
        Loci per forward pass; loci per streamed chunk.
    out
        Stream to bigWig (directory or ``.bw``) or ``.h5ad`` instead of returning the matrix.
    liftover
        For loci on another assembly than the model's: a UCSC chain from their assembly to the model's (path,
        name such as ``'hg38ToHg19'``, or :class:`pyliftover.LiftOver`). The loci are lifted
        (:func:`deepcage.pp.liftover`), predicted, and the predictions are returned on **your** loci:
        ``layers[key_added]`` has one column per given locus, NaN for the loci that could not be lifted (a warning
        gives the count by reason); ``var['lifted_to']`` names the model-assembly locus used ('' when none) and
        ``uns['deepcage']['predict'][key_added]['liftover']`` holds the liftover report. Not with ``out=``.
    progress
        Progress bar (loci/s and time left).
    devices, accelerator, strategy, num_nodes
        Several processes (GPUs, nodes): ``devices=4, strategy='ddp'`` splits the chunks of loci over 4 GPUs with
        PyTorch Lightning (``num_nodes`` for a cluster; ``accelerator='cpu', strategy='ddp_spawn'`` for CPU
        processes). Each process reads sequences, scans motifs and runs the network for its chunks; rank 0 merges
        them in locus order and writes ``out`` (same result as one process). Under ``strategy='ddp'`` every
        process runs the calling script: the function returns None on ranks other than 0. With several nodes,
        ``out`` must be on a shared filesystem. Default (``devices=None``): this process, on the network's
        device. See the installation guide for multi-GPU nodes and SLURM.
    copy
        (a) only: return a copy of ``adata`` with the predictions instead of writing in place.
    exclude_self
        Models with the reference prior: leave a sample that is a training sample out of its own reference (as in
        training). Default: True for (a), whose samples are the training AnnData's, and False for ``expr=``, whose
        samples are new RNA: their predictions then depend on the data, not on the names. A new sample named
        like a training sample gets a warning; pass ``exclude_self=True`` when it is that sample's RNA.

    Returns
    -------
    (a) None (``adata.layers[key_added]`` written: float32 samples x loci, probabilities for classification or
    values for regression; ``uns['deepcage']['predict'][key_added]`` records the model), or the copy;
    (b) a new AnnData samples x loci with ``layers[key_added]``, ``obsm[tf_key]`` (normalised expression),
    ``varm[motif_key]``, ``var[['chrom','start','end']]`` and ``uns['deepcage']`` (genome, TFs, reference);
    (c) the list of bigWig paths, or the ``.h5ad`` path.

    Raises
    ------
    ValueError
        Before any prediction, for inputs that would give silently wrong numbers: NaN or infinite expression or
        motif scores, TFs other than the model's, duplicated sample names, a FASTA whose contig lengths differ from
        the training genome's (another assembly), loci with ``end <= start`` or outside the genome, and an ``out``
        that cannot be written (a missing folder, one ``.bw`` name for several samples).

    Examples
    --------
    >>> adata = dc.datasets.synthetic()
    >>> model = dc.tl.fit(adata, preset="small", max_epochs=3, progress_bar=False)  # doctest: +SKIP
    >>> dc.tl.predict(model, adata)  # doctest: +SKIP
    >>> new = dc.tl.predict(model, expr=rna_of_new_cell_types)  # doctest: +SKIP
    >>> dc.tl.predict(model, expr=rna, out="tracks/")  # one bigWig per sample  # doctest: +SKIP
    >>> dc.tl.predict(model_hg19, adata_hg38, liftover="hg38ToHg19")  # doctest: +SKIP
    """
    _check_model(model)
    if liftover is not None:
        if out is not None:
            raise ValueError(
                "liftover= returns predictions in memory; for tracks lift the loci first (dc.pp.liftover)."
            )
        from ._predict_lifted import predict_lifted

        run = {
            "tf_key": tf_key,
            "fill_missing": fill_missing,
            "batch_size": batch_size,
            "chunk_size": chunk_size,
        }
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
            progress=progress,
            **run,
        )
    ad = get_modality(adata, "atac") if adata is not None else None
    if ad is None and expr is None:
        raise ValueError("Pass adata (predict its samples) or expr= (new samples' expression).")
    if ad is not None:
        _check_genome_name(model, _genome_name((ad.uns.get(UNS_KEY, {}) or {}).get("genome")), "adata")
    if genome is not None:
        genome = _model_genome(model, genome, None)  # checks the assembly name
    if expr is None and loci is not None:
        raise ValueError("loci= is for expr= predictions; (a) predicts the loci of adata.")
    data = adata
    if expr is None and copy:
        data = adata.copy()
        ad = get_modality(data, "atac")

    sample_names, expr_values = _resolve_samples(model, ad, expr, tf_key=tf_key, fill_missing=fill_missing)
    table, motif, source = _resolve_loci(model, ad, expr, loci, genome, motif_key=motif_key)
    run = {
        "batch_size": batch_size,
        "chunk_size": chunk_size,
        "progress": progress,
        "samples": _reference_names(
            model, sample_names, expr is None if exclude_self is None else exclude_self
        ),
    }
    distributed = False
    if devices is not None or num_nodes > 1:  # Lightning is imported only then
        from ._predict_ddp import is_distributed, predict_distributed

        distributed = is_distributed(devices, num_nodes)
    if distributed:
        if out is not None:
            _check_out(Path(out), len(sample_names), _bigwig_sizes(model, genome))
        run["precomputed"] = predict_distributed(
            model,
            source,
            expr_values,
            out=Path(out) if out is not None else None,
            accelerator=accelerator,
            devices=devices,
            strategy=strategy,
            num_nodes=num_nodes,
            **run,
        )
        if run["precomputed"] is None:
            return None  # another rank than 0: rank 0 writes or returns the output

    if out is not None:
        out = Path(out)
        _check_out(out, len(sample_names), _bigwig_sizes(model, genome))
        if out.suffix == ".h5ad":
            return _stream_to_h5ad(
                out,
                model,
                source,
                sample_names,
                expr_values,
                table,
                tf_key=tf_key,
                key_added=key_added,
                **run,
            )
        return _stream_to_bigwigs(out, model, source, sample_names, expr_values, table, genome=genome, **run)

    pred = _predict_matrix(model, source, expr_values, len(sample_names), **run)
    record = {"task": model.task, "tfs": len(model.tfs), "model_genome": _genome_name(model.genome)}
    if expr is None:
        ad.layers[key_added] = pred
        deepcage_uns(ad).setdefault("predict", {})[key_added] = record
        return data if copy else None
    return _new_samples_adata(
        model,
        pred,
        sample_names,
        expr_values,
        table,
        _all_motif_scores(model, source, motif),
        record,
        tf_key=tf_key,
        motif_key=motif_key,
        key_added=key_added,
    )
