"""Seeded synthetic dataset with planted TF -> motif rules, small enough to train on a CPU in a minute."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from .._genome import Genome
from .._keys import BINARY, GENOME_KEY, LOG_NORM
from .._utils import deepcage_uns, locus_names, make_mudata
from ..io._motifs import Motif
from ._registry import cache_dir

__all__ = ["synthetic", "synthetic_motifs"]

_FORMAT_VERSION = "2"  # bump when the generator changes, so cached FASTA files are not reused wrongly
_CHROMS = ("chr1", "chr2", "chr3")
_CHROM_SHARE = (0.6, 0.2, 0.2)  # train / val / test chromosomes
_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


def _random_pwm(rng: np.random.Generator, width: int) -> np.ndarray:
    """A sharp PWM: each position strongly prefers one base, as the core of a real TF motif does."""
    top = rng.uniform(0.8, 0.97, size=width)
    pwm = np.repeat(((1 - top) / 3)[:, None], 4, axis=1)
    pwm[np.arange(width), rng.integers(0, 4, size=width)] = top
    return pwm


def _sample_site(rng: np.random.Generator, pwm: np.ndarray) -> np.ndarray:
    site = np.array([rng.choice(4, p=row) for row in pwm], dtype=np.uint8)
    if rng.random() < 0.5:  # either strand
        site = (3 - site)[::-1]
    return site


def _write_fasta(path: Path, contigs: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with open(tmp, "w") as fh:
        for name, codes in contigs.items():
            seq = _BASES[codes].tobytes().decode()
            fh.write(f">{name}\n")
            for i in range(0, len(seq), 80):
                fh.write(seq[i : i + 80] + "\n")
    tmp.replace(path)  # atomic: concurrent readers never see half a file


def synthetic(
    n_samples: int = 12,
    n_loci: int = 2000,
    n_tfs: int = 8,
    *,
    n_test_samples: int = 2,
    seq_len: int = 1000,
    motif_width: int = 16,
    site_rate: float = 0.06,
    label_noise: float = 0.02,
    n_other_genes: int = 40,
    seed: int = 0,
    rna: bool = False,
    path: str | os.PathLike | None = None,
):
    """A small dataset whose accessibility follows planted rules, with the full deepcage layout.

    Each TF has a random motif. Motif sites are planted in the loci's sequences; a locus is open in a sample
    when it holds a site of **any TF that the sample expresses** (then a fraction ``label_noise`` of labels is
    flipped). A model must therefore use both the sequence and the expression to do well; the locus mean or
    a sequence-only model cannot tell samples apart.

    Parameters
    ----------
    n_samples, n_loci, n_tfs
        Size. Loci are 200-bp bins on ``chr1``-``chr3``; each sample expresses half of the TFs.
    n_test_samples
        Samples marked ``obs['split'] == 'test'`` (held out from training and from the TF reference).
    seq_len
        Sequence window per locus (the genome is written so that windows do not overlap).
    motif_width, site_rate
        Width of the planted motifs; probability that a locus holds a site of a given TF.
    label_noise
        Fraction of labels flipped.
    n_other_genes
        Non-TF genes in the RNA table (so that TPM normalisation is not over TFs only).
    seed
        Random seed; the same seed gives the same data.
    rna
        Return a MuData with ``'atac'`` and ``'rna'`` (samples x genes TPM) instead of an AnnData.
    path
        Where to write the genome FASTA (default: the deepcage cache folder, ``$DEEPCAGE_CACHE``).

    Returns
    -------
    AnnData samples x loci (or MuData) with ``X`` and ``layers['binary']`` (0/1), ``layers['log_norm']``
    (a continuous signal for regression), ``obs['split']``, ``var[['chrom','start','end','split',
    'locus_class']]`` (chr1 train, chr2 val, chr3 test), ``obsm['tf_expr']``, ``varm['motif_scores']``,
    ``uns['deepcage']`` (genome, TF reference) and ``uns['synthetic']`` (planted motifs, sites and TF states).

    Examples
    --------
    >>> adata = dc.datasets.synthetic(seed=0)
    >>> adata
    AnnData object with n_obs × n_vars = 12 × 2000 ...
    """
    from ..pp import motif_scores, split_loci, tf_expression

    if n_test_samples >= n_samples:
        raise ValueError(f"n_test_samples={n_test_samples} leaves no training samples out of {n_samples}.")
    rng = np.random.default_rng(seed)
    tfs = [f"TF{i + 1}" for i in range(n_tfs)]
    pwms = [_random_pwm(rng, motif_width) for _ in tfs]

    # loci: one 200-bp bin centred in each non-overlapping seq_len window
    per_chrom = np.floor(np.array(_CHROM_SHARE) * n_loci).astype(int)
    per_chrom[0] += n_loci - per_chrom.sum()
    chrom = np.repeat(_CHROMS, per_chrom)
    slot = np.concatenate([np.arange(k) for k in per_chrom])
    center = seq_len + slot * seq_len + seq_len // 2
    start, end = center - 100, center + 100

    present = rng.random((n_loci, n_tfs)) < site_rate
    contigs = {}
    for c, k in zip(_CHROMS, per_chrom):
        contigs[c] = rng.integers(0, 4, size=(k + 2) * seq_len, dtype=np.uint8)
    for locus, t in zip(*np.nonzero(present)):
        site = _sample_site(rng, pwms[t])
        offset = rng.integers(-300, 300 - len(site))
        pos = center[locus] + offset
        contigs[chrom[locus]][pos : pos + len(site)] = site

    # every sample expresses half of the TFs: with a fixed number of expressed TFs per sample, quantile
    # normalisation over TFs keeps "on" above "off" across samples too
    on = np.zeros((n_samples, n_tfs), dtype=bool)
    for k in range(n_samples):
        on[k, rng.choice(n_tfs, max(1, n_tfs // 2), replace=False)] = True
    tpm_tf = np.where(on, rng.lognormal(np.log(60), 0.5, on.shape), rng.lognormal(np.log(0.3), 0.7, on.shape))
    tpm_other = rng.lognormal(np.log(30), 1.0, (n_samples, n_other_genes))
    tpm = np.hstack([tpm_tf, tpm_other])
    tpm = tpm / tpm.sum(axis=1, keepdims=True) * 1e6

    drive = present.astype(np.float64) @ on.T.astype(np.float64)  # loci x samples: expressed TFs with a site
    open_ = (drive > 0).T
    flip = rng.random(open_.shape) < label_noise
    binary = (open_ ^ flip).astype(np.uint8)
    signal = np.log1p(
        3.0 * (present.astype(np.float64) @ np.log1p(tpm_tf).T).T + rng.gamma(1.0, 0.3, open_.shape)
    )

    samples = [f"sample{i + 1}" for i in range(n_samples)]
    test = set(rng.choice(n_samples, n_test_samples, replace=False).tolist())
    names = locus_names(chrom, start, end)
    adata = AnnData(
        X=binary.astype(np.float32),
        obs=pd.DataFrame(
            {"split": ["test" if i in test else "train" for i in range(n_samples)]}, index=samples
        ),
        var=pd.DataFrame({"chrom": chrom, "start": start, "end": end}, index=names),
    )
    adata.layers[BINARY] = binary
    adata.layers[LOG_NORM] = signal.astype(np.float32)

    tag = hashlib.sha1(
        repr((_FORMAT_VERSION, n_loci, n_tfs, seq_len, motif_width, site_rate, seed)).encode()
    ).hexdigest()[:10]
    fasta = Path(path) if path is not None else cache_dir() / f"synthetic_{tag}.fa"
    if not fasta.exists():
        _write_fasta(fasta, contigs)
    genome = Genome(fasta, name="synthetic")
    deepcage_uns(adata)[GENOME_KEY] = genome.to_dict()

    genes = tfs + [f"GENE{i + 1}" for i in range(n_other_genes)]
    rna_adata = AnnData(
        X=tpm.astype(np.float32), obs=pd.DataFrame(index=samples), var=pd.DataFrame(index=genes)
    )
    rna_adata.uns["units"] = "tpm"

    adata.uns["synthetic"] = {
        "tfs": tfs,
        "pwms": np.stack(pwms),
        "sites": present,
        "tf_on": on,
        "rule": "open if the locus has a site of a TF the sample expresses",
    }
    motif_scores(adata, _planted_motifs(tfs, pwms), genome=genome, progress=False)
    tf_expression(adata, rna_adata, tfs=tfs)
    split_loci(adata, val_chroms=["chr2"], test_chroms=["chr3"])
    if rna:
        return make_mudata({"atac": adata, "rna": rna_adata})
    return adata


def synthetic_motifs(adata) -> list[Motif]:
    """The planted motifs of a :func:`synthetic` dataset as :class:`deepcage.io.Motif` objects."""
    from .._utils import get_modality

    rec = get_modality(adata, "atac").uns["synthetic"]
    return _planted_motifs(rec["tfs"], rec["pwms"])


def _planted_motifs(tfs, pwms) -> list[Motif]:
    return [
        Motif(name=f"{tf}_motif", pwm=pwm, tf=str(tf), meta={"source": "synthetic"})
        for tf, pwm in zip(tfs, pwms)
    ]
