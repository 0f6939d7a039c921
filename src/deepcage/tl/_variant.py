"""Variant effect: prediction(alt) - prediction(ref) per sample."""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .._files import is_bgzf, is_gzip
from .._genome import encode_bases
from ..model._inputs import align_tfs, check_finite
from ..model._model import DeepCAGE

__all__ = ["variant_effect"]

_ACGT = set("ACGT")


@contextlib.contextmanager
def _readable_vcf(path: Path):
    """``path``, or a plain copy of it when it is compressed with plain gzip (htslib reads only bgzip)."""
    if is_gzip(path) and not is_bgzf(path):
        with tempfile.TemporaryDirectory(prefix="deepcage-vcf-") as tmp:
            plain = Path(tmp) / "variants.vcf"
            try:
                with gzip.open(path, "rb") as src, open(plain, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            except (OSError, EOFError) as err:
                raise ValueError(f"{path}: truncated or corrupt gzip file ({err}).") from None
            yield plain
    else:
        yield path


def _read_variants(variants) -> pd.DataFrame:
    """DataFrame with ``variant``, ``chrom``, ``pos`` (1-based), ``ref``, ``alt`` from a VCF path or a DataFrame."""
    if isinstance(variants, str | os.PathLike):
        import pysam

        path = Path(variants)
        rows = []
        with _readable_vcf(path) as readable:
            try:
                with pysam.VariantFile(str(readable)) as vcf:
                    for rec in vcf:  # sequential: no index needed
                        for alt in rec.alts or ():
                            rows.append((rec.id, rec.chrom, rec.pos, rec.ref, alt))
            except (ValueError, OSError) as err:
                raise ValueError(
                    f"{path}: not a readable VCF/BCF file ({err}). It needs the '##fileformat=VCF' and '#CHROM' "
                    "header lines; or pass a DataFrame with chrom, pos, ref, alt."
                ) from None
        df = pd.DataFrame(rows, columns=["id", "chrom", "pos", "ref", "alt"])
        source = str(path)
    elif isinstance(variants, pd.DataFrame):
        missing = {"chrom", "pos", "ref", "alt"} - set(variants.columns)
        if missing:
            raise ValueError(
                f"The variants table lacks column(s) {sorted(missing)}; it needs chrom, pos (1-based, like VCF), "
                "ref and alt."
            )
        df = variants.copy()
        if "id" not in df:
            df["id"] = None
        source = "the variants table"
    else:
        raise TypeError(f"variants must be a VCF path or a DataFrame, got {type(variants).__name__}.")
    if df.empty:
        raise ValueError(f"No variants in {source}.")
    df["chrom"] = df["chrom"].astype(str)
    df["pos"] = pd.to_numeric(df["pos"], errors="raise").astype(np.int64)
    df["ref"] = df["ref"].astype(str).str.upper()
    df["alt"] = df["alt"].astype(str).str.upper()
    label = df["chrom"] + ":" + df["pos"].astype(str) + ":" + df["ref"] + ">" + df["alt"]
    ids = df["id"].where(df["id"].notna() & (df["id"].astype(str) != "."), None)
    df["variant"] = ids.fillna(label).astype(str)
    snv = df["ref"].isin(_ACGT) & df["alt"].isin(_ACGT) & (df["ref"] != df["alt"])
    if not snv.all():
        bad = df.loc[~snv, "variant"].tolist()
        warnings.warn(
            f"{len(bad)} of {len(df)} variants in {source} are not SNVs (single A/C/G/T changes) and are skipped: "
            f"{bad[:5]}{' ...' if len(bad) > 5 else ''}.",
            UserWarning,
            stacklevel=3,
        )
        df = df[snv]
        if df.empty:
            raise ValueError(
                f"No SNV left in {source}: variant_effect handles single-base substitutions only."
            )
    if (df["pos"] < 1).any():
        raise ValueError(
            f"Positions are 1-based (VCF): {df.loc[df['pos'] < 1, 'variant'].tolist()[:5]} are < 1."
        )
    return df.reset_index(drop=True)[["variant", "chrom", "pos", "ref", "alt"]]


def _sample_expression(model: DeepCAGE, samples, expr, fill_missing: bool) -> pd.DataFrame:
    if expr is not None:
        if samples is not None:
            raise ValueError(
                "Pass samples= (samples stored with the model) or expr= (new expression), not both."
            )
        from ..pp import apply_tf_reference

        if model.tf_reference is None:
            raise ValueError("The model has no TF-expression reference; cannot normalise expr.")
        e = apply_tf_reference(expr, model.tf_reference, fill_missing=fill_missing)
        return align_tfs(e, model.tfs, "the expression")
    stored = model.sample_expr
    if stored is None:
        raise ValueError("The model stores no sample expression: pass expr= (samples x genes expression).")
    if samples is None:
        return stored
    names = [samples] if isinstance(samples, str) else [str(s) for s in samples]
    unknown = [s for s in names if s not in stored.index]
    if unknown:
        raise KeyError(f"Unknown sample(s) {unknown[:10]}; the model has {list(stored.index)[:20]}.")
    return stored.loc[names]


def variant_effect(
    model: DeepCAGE,
    variants,
    *,
    samples=None,
    expr=None,
    genome=None,
    motifs=None,
    fill_missing: bool = False,
    batch_size: int = 256,
) -> pd.DataFrame:
    """Effect of single-nucleotide variants on predicted accessibility, per sample: ``pred(alt) - pred(ref)``.

    Each variant is placed at the centre of a model-sized window (1 kb) of the reference genome; the reference
    base there is checked against the variant's ``ref`` allele. The alternative sequence differs at that one
    base. Both alleles go through the sequence trunk and, when the model uses expression, are re-scored with the
    motifs (a variant that breaks or creates a motif changes the motif x expression input too).

    Parameters
    ----------
    model
        A trained :class:`deepcage.DeepCAGE`.
    variants
        A VCF path (read with :class:`pysam.VariantFile`; multi-allelic records give one row per ALT) or a
        DataFrame with ``chrom``, ``pos`` (**1-based**, like VCF), ``ref``, ``alt`` (and optionally ``id``).
        Non-SNVs are skipped with a warning.
    samples
        Samples stored with the model (``model.sample_expr``): None for all, or names.
    expr
        Instead of ``samples``: new samples' expression (samples x genes), normalised with the model's reference.
    genome
        :class:`deepcage.Genome` or FASTA path; default: the model's genome FASTA.
    motifs
        Motifs to score the alleles (default ``model.motifs``); needed when the model uses expression.
    fill_missing
        With ``expr``: treat TFs missing from the expression as 0 instead of raising.
    batch_size
        Variants per forward pass.

    Returns
    -------
    Long DataFrame, one row per variant x sample: ``variant``, ``chrom``, ``pos``, ``ref``, ``alt``, ``sample``,
    ``pred_ref``, ``pred_alt``, ``delta`` (= ``pred_alt - pred_ref``; probabilities for classification).

    Raises
    ------
    ValueError
        When a ``ref`` allele differs from the genome (naming the variant and the genome base), or for a model
        genome mismatch.

    Examples
    --------
    >>> vars = pd.DataFrame({"chrom": ["chr1"], "pos": [1500], "ref": ["A"], "alt": ["G"]})  # doctest: +SKIP
    >>> dc.tl.variant_effect(model, vars, samples=["sample1"])  # doctest: +SKIP
    """
    from ._predict import _model_genome, score_motifs

    table = _read_variants(variants)
    e = _sample_expression(model, samples, expr, fill_missing)
    expr_values = e.to_numpy(dtype=np.float32)
    check_finite(expr_values, "The TF expression", list(e.index), model.tfs)
    gen = _model_genome(model, genome, None)

    L = model.seq_len
    for chrom in table["chrom"].unique():
        gen.resolve(chrom)  # clear error for unknown contigs
    # a position past the contig end reads as 'N' and would be reported as a reference mismatch
    sizes = np.array([gen.chrom_size(c) for c in table["chrom"]], dtype=np.int64)
    outside = np.flatnonzero((table["pos"].to_numpy() < 1) | (table["pos"].to_numpy() > sizes))
    if len(outside):
        i = outside[0]
        raise ValueError(
            f"Variant {table['variant'][i]!r} lies outside contig {table['chrom'][i]!r}: position "
            f"{table['pos'][i]:,} (1-based), but the contig is {sizes[i]:,} bp in genome {gen.name or ''} "
            f"({', '.join(map(str, gen.paths))}); {len(outside)} variant(s) in all. "
            + (
                "VCF positions are 1-based (a table's pos must be too)."
                if table["pos"][i] < 1
                else "The variants are of another assembly (e.g. hg38 positions on an hg19 genome): lift them over "
                "or give the FASTA they were called on."
            )
        )
    ref_codes = gen.windows(table["chrom"].to_numpy(), table["pos"].to_numpy() - 1, L)
    center = L // 2
    genome_base = np.frombuffer(b"ACGTN", dtype=np.uint8)[ref_codes[:, center]].tobytes().decode()
    want = "".join(table["ref"])
    bad = [i for i in range(len(table)) if genome_base[i] != want[i]]
    if bad:
        i = bad[0]
        raise ValueError(
            f"Reference allele mismatch for variant {table['variant'][i]!r} ({table['chrom'][i]}:{table['pos'][i]}): "
            f"the variant says {want[i]!r} but genome {gen.name or ''} ({', '.join(map(str, gen.paths))}) has "
            f"{genome_base[i]!r} ({len(bad)} mismatching variant(s)). Check the assembly (hg19 vs hg38) and that "
            "positions are 1-based."
        )
    alt_codes = ref_codes.copy()
    alt_codes[:, center] = encode_bases("".join(table["alt"]))

    if model.network.use_expression:
        saved = model.motifs
        if motifs is not None:
            model.motifs = list(motifs)
        try:
            if not model.motifs:
                raise ValueError(
                    "Scoring the alleles needs the motifs: pass motifs= (e.g. dc.io.read_motifs(...)) or set "
                    "model.motifs."
                )
            scan_ref, scan_alt = ref_codes, alt_codes
            w = model.motif_scan.window if model.motif_scan is not None else L
            if w != L:  # the motif scores were made on another window than the network reads
                scan_ref = gen.windows(table["chrom"].to_numpy(), table["pos"].to_numpy() - 1, w)
                scan_alt = scan_ref.copy()
                scan_alt[:, w // 2] = encode_bases("".join(table["alt"]))
            ref_motif, alt_motif = score_motifs(model, scan_ref), score_motifs(model, scan_alt)
        finally:
            model.motifs = saved
    else:
        ref_motif = alt_motif = np.zeros((len(table), len(model.tfs)), dtype=np.float32)
    p_ref = model.predict_arrays(ref_codes, ref_motif, expr_values, batch_size=batch_size)
    p_alt = model.predict_arrays(alt_codes, alt_motif, expr_values, batch_size=batch_size)

    n_var, n_s = p_ref.shape
    out = table.loc[np.repeat(np.arange(n_var), n_s)].reset_index(drop=True)
    out["sample"] = np.tile(np.asarray(e.index, dtype=str), n_var)
    out["pred_ref"] = p_ref.ravel()
    out["pred_alt"] = p_alt.ravel()
    out["delta"] = out["pred_alt"] - out["pred_ref"]
    return out
