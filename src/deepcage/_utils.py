"""Small helpers shared across modules: AnnData/MuData access, locus names, the ``uns['deepcage']`` record."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from ._files import is_gzip
from ._genome import Genome
from ._keys import GENOME_KEY, UNS_KEY

__all__ = [
    "UNS_KEY",
    "deepcage_uns",
    "fasta_list",
    "genome_record",
    "get_modality",
    "is_gzip",
    "locus_names",
    "parse_locus_names",
    "resolve_genome",
]

_LOCUS_RE = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>\d[\d,]*)-(?P<end>\d[\d,]*)$")


def get_modality(data, mod: str = "atac") -> AnnData:
    """Return ``data`` itself for an AnnData or ``data[mod]`` for a MuData (muon's convention).

    Parameters
    ----------
    data
        AnnData, or MuData with modalities ``'atac'`` (samples x loci) and ``'rna'`` (samples x genes).
    mod
        Which modality a MuData should give.
    """
    if isinstance(data, AnnData):
        return data
    mods = getattr(data, "mod", None)
    if mods is not None:
        if mod not in mods:
            raise KeyError(
                f"MuData has no {mod!r} modality (it has {list(mods)}). deepcage expects 'atac' and 'rna'."
            )
        return mods[mod]
    raise TypeError(f"Expected an AnnData or a MuData, got {type(data).__name__}.")


def deepcage_uns(adata: AnnData, *, create: bool = True) -> dict[str, Any]:
    """The ``uns['deepcage']`` record of ``adata``; when missing, created empty (or with ``create=False`` an
    empty dict that is not stored: for reading)."""
    rec = adata.uns.get(UNS_KEY)
    if not create:
        return rec if isinstance(rec, dict) else {}
    if rec is None:
        rec = {}
        adata.uns[UNS_KEY] = rec
    return rec


def genome_record(data) -> dict[str, Any]:
    """The genome recorded with the loci (``uns['deepcage']['genome']``, written by :func:`resolve_genome`): a
    copy of ``{'name', 'fasta', 'chrom_sizes', ...}``, empty when none is recorded.

    ``data`` is an AnnData, a MuData (its ``'atac'`` modality) or None.
    """
    if data is None:
        return {}
    rec = deepcage_uns(get_modality(data, "atac"), create=False).get(GENOME_KEY)
    return dict(rec) if isinstance(rec, dict) else {}


def locus_names(chrom, start, end) -> pd.Index:
    """``chr:start-end`` names (0-based, half-open) for arrays of coordinates."""
    chrom = np.asarray(chrom).astype(str)
    start = np.asarray(start, dtype=np.int64)
    end = np.asarray(end, dtype=np.int64)
    return pd.Index([f"{c}:{s}-{e}" for c, s, e in zip(chrom, start, end)])


def parse_locus_names(names) -> pd.DataFrame:
    """Parse ``chr:start-end`` names into a DataFrame with ``chrom``, ``start``, ``end`` (index = names).

    Raises
    ------
    ValueError
        Naming the first name that does not match ``chr:start-end``.
    """
    names = pd.Index(names).astype(str)
    parsed = names.str.extract(_LOCUS_RE)
    bad = parsed["chrom"].isna()
    if bad.any():
        first = names[np.flatnonzero(bad.to_numpy())[0]]
        raise ValueError(
            f"Locus name {first!r} is not of the form 'chr:start-end' ({int(bad.sum())} such names)."
        )
    df = pd.DataFrame(
        {
            "chrom": parsed["chrom"].to_numpy(),
            "start": parsed["start"].str.replace(",", "").astype(np.int64).to_numpy(),
            "end": parsed["end"].str.replace(",", "").astype(np.int64).to_numpy(),
        },
        index=names,
    )
    return df


def loci_of(adata: AnnData, categorical: bool = False) -> pd.DataFrame:
    """``chrom``/``start``/``end`` of the loci of ``adata``: from ``var`` when present, else parsed from ``var_names``.

    ``categorical=True`` gives ``chrom`` as a categorical of contig names: a table kept for millions of loci
    (a model's) then holds a code per locus, not a Python string (~60 bytes) per locus.
    """
    if {"chrom", "start", "end"}.issubset(adata.var.columns):
        chrom = adata.var["chrom"]
        if categorical:
            chrom = chrom.astype("category")
            chrom = chrom.cat.rename_categories([str(c) for c in chrom.cat.categories])
        else:
            chrom = chrom.astype(str)
        return pd.DataFrame(
            {
                "chrom": chrom,
                "start": adata.var["start"].astype(np.int64),
                "end": adata.var["end"].astype(np.int64),
            },
            index=adata.var.index,
        )
    loci = parse_locus_names(adata.var_names)
    if categorical:
        loci["chrom"] = loci["chrom"].astype("category")
    return loci


def fasta_list(rec) -> list[str]:
    """FASTA paths of a genome record (list, tuple, one string, or the numpy array an .h5ad round trip gives)."""
    paths = (rec or {}).get("fasta")
    if paths is None:
        return []
    if isinstance(paths, str):
        return [paths]
    return [str(p) for p in np.asarray(paths).ravel().tolist()]


def resolve_genome(adata: AnnData | None, genome=None):
    """The :class:`~deepcage.Genome` to use: ``genome`` if given (a Genome or FASTA path(s)), else the FASTA
    recorded in ``adata.uns['deepcage']['genome']``.

    The genome used is recorded in ``uns['deepcage']['genome']`` so later steps (and saved models) find it.
    """
    if genome is None:
        rec = genome_record(adata)
        fasta = fasta_list(rec)
        if not fasta:
            raise ValueError(
                "No genome given and none recorded in adata.uns['deepcage']['genome']. "
                "Pass genome=dc.Genome('path/to/genome.fa.gz', name='hg38')."
            )
        moved = [f for f in fasta if not Path(f).exists()]
        if moved:
            raise FileNotFoundError(
                f"The genome recorded in adata.uns['deepcage']['genome'] ({rec.get('name') or 'unnamed'}) is "
                f"{moved[0]}, which does not exist here (the data was moved or made on another machine?). Pass "
                "genome= with the FASTA file(s) (command line: --genome)."
            )
        genome = Genome(fasta, name=str(rec.get("name") or "") or None)
    elif not isinstance(genome, Genome):
        genome = Genome(genome)
    if adata is not None:
        deepcage_uns(adata)[GENOME_KEY] = genome.to_dict()
    return genome


def make_mudata(modalities: dict[str, AnnData]):
    """A MuData of the given modalities, with mudata's forthcoming default of not pulling columns up."""
    import mudata

    with mudata.set_options(pull_on_update=False):
        return mudata.MuData(modalities)
