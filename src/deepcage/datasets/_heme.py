"""Real blood-cell ATAC peaks + RNA (hg19 chr20, or lifted to hg38) as AnnData/MuData."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._data_files import _candidate_folders
from .._genome import Genome
from .._keys import BINARY, SPLIT, UNS_KEY
from .._utils import make_mudata

__all__ = ["HEME_CELL_TYPES", "HEME_TEST_REGIONS", "heme", "shared_data_dir"]

log = logging.getLogger(__name__)

_FORMAT_VERSION = "4"  # bump when the build recipe changes, so stale cached datasets are not reused

#: Cell types with both ATAC peaks and RNA in the example data (Corces et al. 2016).
HEME_CELL_TYPES = ("HSC", "MPP", "LMPP", "CLP", "GMP-A", "GMP-B", "GMP-C", "CD4", "CD8", "pDC")
#: Default held-out cell types: one lymphoid, one myeloid.
HEME_TEST = ("CD8", "GMP-B")
#: Held-out test loci: the sequenced slice chr20:59.78-60.00 Mb (about 10 % of the loci). With only ~2 Mb of
#: sequence, every locus held out from training costs accuracy on held-out cell types, so the region is small.
HEME_TEST_REGION = ("chr20", 59_700_000, 60_100_000)
#: Held-out test loci per assembly. hg38: the first Mb of chr20 (about 9 % of the loci), at the edge of the sequenced
#: part so that only one border shares windows with training loci; of the 1-Mb edge regions it is the one with many
#: open loci in both default held-out cell types (CD8 159, GMP-B 293; the last Mb has 15 and 98).
HEME_TEST_REGIONS = {"hg19": HEME_TEST_REGION, "hg38": ("chr20", 0, 1_000_000)}
#: The reference files of each assembly (paths in the example data folder) and its blacklist.
_GENOME_FILES = {
    "hg19": ["genome/hg19_chr20_slices.fa.gz", "genome/b37_20_1-1Mb.fa.gz"],
    "hg38": ["genome/hg38_chr20_chr21_1-10Mb.fa.gz"],
}
_BLACKLISTS = {"hg19": "annotation/hg19-blacklist.v2.bed", "hg38": "annotation/hg38-blacklist.v2.bed"}
_CHAIN = "annotation/hg19ToHg38.over.chain.gz"


def shared_data_dir(path: str | os.PathLike | None = None) -> Path:
    """Folder of the example data: ``path``, ``$DEEPCAGE_SHARED_DATA``, ``shared/data`` found above the cwd, or the
    download folder of :func:`deepcage.datasets.download` (``<cache>/data``)."""
    from .._data_files import data_dir

    candidates = [*_candidate_folders(path), data_dir()]
    for c in candidates:
        if (c / "heme-hg19").is_dir():
            return c
    raise FileNotFoundError(
        "Example data not found (looked for a folder with 'heme-hg19/' in: "
        f"{', '.join(map(str, candidates[:3]))}, ..., {candidates[-1]}). Pass path=, set DEEPCAGE_SHARED_DATA, "
        "or download the files with dc.datasets.download()."
    )


def heme(
    path: str | os.PathLike | None = None,
    *,
    genome: str = "hg19",
    cell_types: Sequence[str] = HEME_CELL_TYPES,
    test: Sequence[str] = HEME_TEST,
    motifs: str = "hocomoco_v11",
    bin_size: int = 200,
    min_samples: int = 0,
    val_block: int | None = None,
    mudata: bool = False,
    cache: bool = True,
    progress: bool | None = None,
):
    """Blood-cell accessibility (bulk ATAC peaks) and RNA over the sequenced parts of chr20 (hg19 or hg38).

    Builds the full deepcage layout from the raw files: 200-bp bins over the parts of chr20 that have sequence
    (blacklist removed) -> peak labels per cell type ->
    HOCOMOCO v11 motif scores -> CPM -> quantile-normalised TF expression (reference fit on the training
    cell types) -> sample split (``test`` held out) and locus split (a held-out test region, a random 10 % of
    the other loci as validation loci for early stopping).

    ``genome='hg19'`` (the peaks' own assembly) covers 2.3 Mb of chr20: 11,325 loci, test region
    ``chr20:59.7-60.1 Mb``. ``genome='hg38'`` lifts the peaks to GRCh38 (:func:`deepcage.pp.liftover`, UCSC
    chain) and bins the first 10 Mb of hg38 chr20 (9.94 Mb of sequence): 49,660 loci, about 4x as many, test region
    ``chr20:0-1 Mb``. Both have the same cell types, RNA, motif database, splits and layout.

    The files come from a local example data folder when there is one (``shared/data``), else they are
    downloaded once from their public origins into the deepcage cache (see :func:`deepcage.datasets.download`
    and :func:`deepcage.datasets.registry`).

    The RNA of CMP and MEP (no ATAC) is kept in the ``'rna'`` modality when ``mudata=True``: predicting them
    from RNA alone is what the package is for.

    Parameters
    ----------
    path
        The ``shared/data`` folder (with ``heme-hg19/``, ``genome/``, ``motifs/``, ``annotation/``). Default: found
        automatically (see :func:`shared_data_dir`); files missing locally are downloaded.
    genome
        ``'hg19'`` or ``'hg38'``.
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
    val_block
        Draw the validation loci as whole blocks of this many bp (:func:`deepcage.pp.split_loci`), so early
        stopping measures sequence the network has not trained on; ``None`` (default): single loci at random,
        98.9 % of which share >= 800 bp of their 1-kb window with a training locus on hg38.
    mudata
        Return a MuData with ``'atac'`` and ``'rna'`` (all 12 RNA populations, raw counts).
    cache
        Keep the built AnnData in the deepcage cache folder (``$DEEPCAGE_CACHE``) and reuse it when the inputs
        and options are unchanged; the motif scan is most of the build time (on 2 cores: hg19 ~12 s, hg38 ~42 s).
    progress
        Show progress bars (``None``, the default: per ``dc.settings.verbosity``).

    Returns
    -------
    AnnData samples x loci (or MuData) with ``X``/``layers['binary']``, ``obsm['tf_expr']``,
    ``varm['motif_scores']``, ``obs['split']``, ``var['split']``, ``var['locus_class']`` and ``uns['deepcage']``.

    Examples
    --------
    >>> adata = dc.datasets.heme()  # doctest: +SKIP
    >>> adata.shape  # doctest: +SKIP
    (10, 11325)
    >>> dc.datasets.heme(genome="hg38").shape  # doctest: +SKIP
    (10, 49660)
    """
    from .. import io

    if genome not in _GENOME_FILES:
        raise ValueError(f"genome must be one of {sorted(_GENOME_FILES)}, got {genome!r}.")
    files = _heme_files(path, genome, cell_types, motifs, progress)
    rna = io.read_expression_table(files["heme-hg19/rna_counts.tsv"])
    options = (list(cell_types), list(test), motifs, bin_size, min_samples)
    if genome != "hg19":  # the hg19 key stays what it was before other assemblies existed
        options = (*options, genome)
    cached = _cache_file(files, options, HEME_TEST_REGIONS[genome]) if cache else None
    if cached is not None and cached.exists():
        import anndata

        adata = anndata.read_h5ad(cached)
        log.info("heme: read the cached dataset %s", cached)
    else:
        adata = _build(files, genome, rna, cell_types, test, motifs, bin_size, min_samples, progress)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".tmp{os.getpid()}.h5ad")
            adata.write_h5ad(tmp)
            tmp.replace(cached)
    if val_block is not None:
        _split_loci(adata, HEME_TEST_REGIONS[genome], val_block=val_block)
    if mudata:
        return make_mudata({"atac": adata, "rna": rna})
    return adata


_MOTIF_FILES = {
    "hocomoco_v11": (
        "motifs/HOCOMOCOv11_core_HUMAN_mono_homer_format_0.001.motif",
        "motifs/HOCOMOCOv11_HUMAN_mono_motifs_core.tsv",
    ),
    "hocomoco_v12": ("motifs/HOCOMOCOv12_core.meme",),
    "jaspar2024": ("motifs/JASPAR2024_consensus.meme",),
}


def _heme_files(path, genome: str, cell_types, motifs: str, progress: bool) -> dict[str, Path]:
    """Local paths of every file the build reads (local copy first, else the cache or a download)."""
    from .._data_files import DATA_FILES, fetch

    peaks = [f"heme-hg19/peaks/{c}.narrowPeak.gz" for c in cell_types]
    unknown = [
        c
        for c, p in zip(cell_types, peaks)
        if p not in DATA_FILES and not any((f / p).is_file() for f in _candidate_folders(path))
    ]
    if unknown:
        raise ValueError(
            f"Cell type(s) {unknown} have no peak file: the blood-cell example has {list(HEME_CELL_TYPES)} "
            "(and Mega, mDC without RNA)."
        )
    names = ["heme-hg19/rna_counts.tsv", *peaks, *_GENOME_FILES[genome], _BLACKLISTS[genome]]
    names += list(_MOTIF_FILES.get(motifs, ()))
    if genome != "hg19":
        names.append(_CHAIN)
    return {n: fetch(n, path=path, progress=progress) for n in names}


def _motif_database(files: dict[str, Path], motifs: str):
    from .. import io

    if motifs in _MOTIF_FILES:
        found = [files[n] for n in _MOTIF_FILES[motifs]]
        return io.read_motifs(found[0], tf_table=found[1] if len(found) > 1 else None)
    return io.read_motifs(motifs)


def _common_root(files: dict[str, Path]) -> Path | None:
    """The data folder that holds every file, if they all come from one."""
    roots = {Path(str(p)[: -len(name)]) if str(p).endswith(name) else None for name, p in files.items()}
    return roots.pop() if len(roots) == 1 else None


def _cache_file(files: dict[str, Path], options, test_region) -> Path:
    import hashlib

    from .. import __version__
    from .._data_files import cache_dir

    root = _common_root(files)
    if root is not None:  # as before: every file of the data folder's subfolders, by size and mtime
        listed = sorted(
            p
            for p in root.rglob("*")
            if p.is_file() and p.parts[-2] in ("peaks", "heme-hg19", "genome", "motifs", "annotation")
        )
        stamp = [(str(p.relative_to(root)), p.stat().st_size, int(p.stat().st_mtime)) for p in listed]
        where = str(root.resolve())
    else:
        stamp = [(n, str(p), p.stat().st_size, int(p.stat().st_mtime)) for n, p in sorted(files.items())]
        where = ""
    recipe = (_FORMAT_VERSION, test_region)
    key = hashlib.sha1(repr((__version__, recipe, where, options, stamp)).encode()).hexdigest()[:12]
    return cache_dir() / f"heme_{key}.h5ad"


def _in_region(var, region) -> np.ndarray:
    chrom, lo, hi = region
    return (
        (var["chrom"].astype(str) == chrom).to_numpy()
        & (var["start"].to_numpy() < hi)
        & (var["end"].to_numpy() > lo)
    )


def _build(files, genome_name, rna, cell_types, test, motifs, bin_size, min_samples, progress):
    from .. import pp

    genome = Genome([files[n] for n in _GENOME_FILES[genome_name]], name=genome_name)
    missing = [c for c in cell_types if c not in rna.obs_names]
    if missing:
        raise ValueError(f"Cell type(s) {missing} have no RNA column in {files['heme-hg19/rna_counts.tsv']}.")

    bins = pp.bin_genome(
        genome, chroms=["chr20"], bin_size=bin_size, blacklist=files[_BLACKLISTS[genome_name]]
    )
    peaks = {c: files[f"heme-hg19/peaks/{c}.narrowPeak.gz"] for c in cell_types}
    lifted = {}
    if genome_name != "hg19":
        # the peaks are hg19; a peak that lands twice on the same place is one peak, so keep one copy
        size = genome.chrom_size("chr20")
        for c in cell_types:
            table = pp.liftover(peaks[c], files[_CHAIN], duplicates="first", progress=False)
            report = table.attrs["liftover"]
            lifted[c] = {k: report[k] for k in ("n_input", "n_lifted", "n_dropped", "dropped")}
            # the example reference holds the first 10 Mb of chr20: peaks beyond it label nothing
            inside = (table["chrom"] == "chr20").to_numpy() & (table["end"] <= size).to_numpy()
            lifted[c]["n_beyond_reference"] = int((~inside).sum())
            peaks[c] = table.loc[inside]
    adata = pp.binarize_peaks(bins, peaks, genome=genome, min_samples=min_samples)

    motif_list = _motif_database(files, motifs)
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
    region = HEME_TEST_REGIONS[genome_name]
    _split_loci(adata, region, val_block=None)
    _check_test_loci(adata, _in_region(adata.var, region), region)
    root = _common_root(files)
    adata.uns[UNS_KEY]["dataset"] = {
        "name": f"heme-{genome_name}",
        "source": str(root if root is not None else files["heme-hg19/rna_counts.tsv"].parent.parent),
        "test_region": "{}:{}-{}".format(*region),
    }
    if lifted:
        adata.uns[UNS_KEY]["dataset"]["liftover"] = lifted
    return adata


def _split_loci(adata, region, val_block: int | None) -> None:
    """Known / novel classes from the sample split; the test region's loci ``'test'``; 10 % of the other loci
    as validation loci, which only decide when training stops (single loci, or ``val_block``-bp blocks)."""
    from .. import pp

    if val_block is None:  # as the datasets were always built: the draw over all loci, then the test region
        pp.split_loci(adata, val_frac=0.1, seed=0)
    else:  # blocks drawn outside the test region only, or some would be lost to it
        pp.split_loci(
            adata, val_frac=0.1, val_block=val_block, test_regions=["{}:{}-{}".format(*region)], seed=0
        )
    split = adata.var[SPLIT].astype(str).to_numpy()
    in_test = _in_region(adata.var, region)
    split[in_test] = "test"
    split[~in_test & (split == "test")] = "train"
    adata.var[SPLIT] = split


def _check_test_loci(adata, in_test: np.ndarray, region) -> None:
    """A held-out cell type without open test loci cannot be evaluated on them: say so."""
    held_out = adata.obs_names[adata.obs[SPLIT].astype(str) == "test"]
    binary = adata.layers[BINARY]
    none_open = [c for c in held_out if not binary[adata.obs_names.get_loc(c)][in_test].any()]
    if none_open:
        log.warning(
            "heme: held-out cell type(s) %s have no open locus in the test region %s:%d-%d.",
            none_open,
            *region,
        )
