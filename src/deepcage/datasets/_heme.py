"""Real blood-cell ATAC peaks + RNA (hg19 chr20) as AnnData/MuData."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._genome import Genome
from .._utils import make_mudata

__all__ = ["HEME_CELL_TYPES", "heme", "shared_data_dir"]

log = logging.getLogger(__name__)

_FORMAT_VERSION = "3"  # bump when the build recipe changes, so stale cached datasets are not reused

#: Cell types with both ATAC peaks and RNA in the example data (Corces et al. 2016).
HEME_CELL_TYPES = ("HSC", "MPP", "LMPP", "CLP", "GMP-A", "GMP-B", "GMP-C", "CD4", "CD8", "pDC")
#: Default held-out cell types: one lymphoid, one myeloid.
HEME_TEST = ("CD8", "GMP-B")
#: Held-out test loci: the sequenced slice chr20:59.78-60.00 Mb (about 10 % of the loci). With only ~2 Mb of
#: sequence, every locus held out from training costs accuracy on held-out cell types, so the region is small.
HEME_TEST_REGION = ("chr20", 59_700_000, 60_100_000)


def shared_data_dir(path: str | os.PathLike | None = None) -> Path:
    """Folder of the example data: ``path``, ``$DEEPCAGE_SHARED_DATA``, or ``shared/data`` found above the cwd."""
    candidates = []
    if path is not None:
        candidates.append(Path(path))
    if os.environ.get("DEEPCAGE_SHARED_DATA"):
        candidates.append(Path(os.environ["DEEPCAGE_SHARED_DATA"]))
    here = Path.cwd().resolve()
    candidates += [parent / "shared" / "data" for parent in (here, *here.parents)]
    for c in candidates:
        if (c / "heme-hg19").is_dir():
            return c
    raise FileNotFoundError(
        "Example data not found (looked for a folder with 'heme-hg19/' in: "
        f"{', '.join(map(str, candidates[:3]))}, ...). Pass path=, or set DEEPCAGE_SHARED_DATA."
    )


def heme(
    path: str | os.PathLike | None = None,
    *,
    cell_types: Sequence[str] = HEME_CELL_TYPES,
    test: Sequence[str] = HEME_TEST,
    motifs: str = "hocomoco_v11",
    bin_size: int = 200,
    min_samples: int = 0,
    mudata: bool = False,
    cache: bool = True,
    progress: bool = True,
):
    """Blood-cell accessibility (bulk ATAC peaks) and RNA over the sequenced parts of hg19 chr20.

    Builds the full deepcage layout from the raw files: 200-bp bins over the parts of chr20 that have sequence
    (blacklist removed) -> peak labels per cell type ->
    HOCOMOCO v11 motif scores -> CPM -> quantile-normalised TF expression (reference fit on the training
    cell types) -> sample split (``test`` held out) and locus split (``chr20:59.7-60.1 Mb`` held out as test
    loci, a random 10 % of the other loci as validation loci for early stopping).

    The RNA of CMP and MEP (no ATAC) is kept in the ``'rna'`` modality when ``mudata=True``: predicting them
    from RNA alone is what the package is for.

    Parameters
    ----------
    path
        The ``shared/data`` folder (with ``heme-hg19/``, ``genome/``, ``motifs/``, ``annotation/``).
    cell_types
        Cell types to include (each needs a peak file and an RNA column).
    test
        Held-out cell types (``obs['split'] == 'test'``).
    motifs
        ``'hocomoco_v11'`` (the paper's database), ``'hocomoco_v12'``, ``'jaspar2024'``, or a motif file path.
    bin_size
        Bin width in bp.
    min_samples
        Keep loci open in at least this many cell types. The paper keeps the union of peaks (1); the default 0
        keeps every sequenced bin, negatives included, because the example covers only ~2.3 Mb of sequence
        (about 860 bins are open in some cell type, too few to learn sequence features from).
    mudata
        Return a MuData with ``'atac'`` and ``'rna'`` (all 12 RNA populations, raw counts).
    cache
        Keep the built AnnData in the deepcage cache folder (``$DEEPCAGE_CACHE``) and reuse it when the inputs
        and options are unchanged; the motif scan is most of the build time.
    progress
        Show progress bars.

    Returns
    -------
    AnnData samples x loci (or MuData) with ``X``/``layers['binary']``, ``obsm['tf_expr']``,
    ``varm['motif_scores']``, ``obs['split']``, ``var['split']``, ``var['locus_class']`` and ``uns['deepcage']``.

    Examples
    --------
    >>> adata = dc.datasets.heme()  # doctest: +SKIP
    >>> adata.shape  # doctest: +SKIP
    (10, 11325)
    """
    from .. import io

    root = shared_data_dir(path)
    rna = io.read_expression_table(root / "heme-hg19" / "rna_counts.tsv")
    options = (list(cell_types), list(test), motifs, bin_size, min_samples)
    cached = _cache_file(root, options) if cache else None
    if cached is not None and cached.exists():
        import anndata

        adata = anndata.read_h5ad(cached)
        log.info("heme: read the cached dataset %s", cached)
    else:
        adata = _build(root, rna, cell_types, test, motifs, bin_size, min_samples, progress)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".tmp{os.getpid()}.h5ad")
            adata.write_h5ad(tmp)
            tmp.replace(cached)
    if mudata:
        return make_mudata({"atac": adata, "rna": rna})
    return adata


_MOTIF_FILES = {
    "hocomoco_v11": (
        "HOCOMOCOv11_core_HUMAN_mono_homer_format_0.001.motif",
        "HOCOMOCOv11_HUMAN_mono_motifs_core.tsv",
    ),
    "hocomoco_v12": ("HOCOMOCOv12_core.meme", None),
    "jaspar2024": ("JASPAR2024_consensus.meme", None),
}


def _motif_database(root: Path, motifs: str):
    from .. import io

    if motifs in _MOTIF_FILES:
        name, table = _MOTIF_FILES[motifs]
        return io.read_motifs(root / "motifs" / name, tf_table=root / "motifs" / table if table else None)
    return io.read_motifs(motifs)


def _cache_file(root: Path, options) -> Path:
    import hashlib

    from .. import __version__
    from ._synthetic import _cache_dir

    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.parts[-2] in ("peaks", "heme-hg19", "genome", "motifs", "annotation")
    )
    stamp = [(str(p.relative_to(root)), p.stat().st_size, int(p.stat().st_mtime)) for p in files]
    recipe = (_FORMAT_VERSION, HEME_TEST_REGION)
    key = hashlib.sha1(repr((__version__, recipe, str(root.resolve()), options, stamp)).encode()).hexdigest()[
        :12
    ]
    return _cache_dir() / f"heme_{key}.h5ad"


def _in_region(var, region) -> np.ndarray:
    chrom, lo, hi = region
    return (
        (var["chrom"].astype(str) == chrom).to_numpy()
        & (var["start"].to_numpy() < hi)
        & (var["end"].to_numpy() > lo)
    )


def _build(root: Path, rna, cell_types, test, motifs, bin_size, min_samples, progress):
    from .. import pp

    genome = Genome(
        [root / "genome" / "hg19_chr20_slices.fa.gz", root / "genome" / "b37_20_1-1Mb.fa.gz"],
        name="hg19",
    )
    missing = [
        c
        for c in cell_types
        if c not in rna.obs_names or not (root / "heme-hg19" / "peaks" / f"{c}.narrowPeak.gz").exists()
    ]
    if missing:
        raise ValueError(f"Cell type(s) {missing} lack a peak file or an RNA column in {root / 'heme-hg19'}.")

    bins = pp.bin_genome(
        genome, chroms=["chr20"], bin_size=bin_size, blacklist=root / "annotation" / "hg19-blacklist.v2.bed"
    )
    peaks = {c: root / "heme-hg19" / "peaks" / f"{c}.narrowPeak.gz" for c in cell_types}
    adata = pp.binarize_peaks(bins, peaks, genome=genome, min_samples=min_samples)

    motif_list = _motif_database(root, motifs)
    expressed = set(rna.var_names)
    tfs = sorted({m.tf for m in motif_list if m.tf in expressed})
    dropped = sorted({m.tf for m in motif_list} - expressed)
    if dropped:
        log.info(
            "%d TFs of the motif database are not in the RNA table and are left out: %s",
            len(dropped),
            dropped[:10],
        )
    pp.motif_scores(adata, motif_list, genome=genome, tfs=tfs, progress=progress)

    pp.split_samples(adata, test=list(test))
    pp.tf_expression(adata, rna, tfs=tfs, units="counts")
    # known / novel classes from the sample split; 10 % of the loci outside the test region as validation loci,
    # which only decide when training stops
    pp.split_loci(adata, val_frac=0.1, seed=0)
    split = adata.var["split"].astype(str).to_numpy()
    in_test = _in_region(adata.var, HEME_TEST_REGION)
    split[in_test] = "test"
    split[~in_test & (split == "test")] = "train"
    adata.var["split"] = split
    adata.uns["deepcage"]["dataset"] = {
        "name": "heme-hg19",
        "source": str(root),
        "test_region": "{}:{}-{}".format(*HEME_TEST_REGION),
    }
    return adata
