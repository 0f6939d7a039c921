"""Sample and locus splits: cell-type hold-out, k-fold, known/novel loci, held-out chromosomes."""

from __future__ import annotations

import logging
import numbers
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .._deprecation import renamed_arg
from .._genome import canonical_chrom
from .._keys import BINARY, LOCUS_CLASS, SPLIT
from .._layers import get_layer
from .._utils import deepcage_uns, get_modality, loci_of, parse_locus_names
from ._bins import _as_intervals, _covered_bp, _merge_by_contig

if TYPE_CHECKING:
    from mudata import MuData

__all__ = ["split_loci", "split_samples"]

logger = logging.getLogger("deepcage")

SAMPLE_SPLITS = ["train", "test"]
LOCUS_SPLITS = ["train", "val", "test"]
LOCUS_CLASSES = ["known", "novel", "other"]


def _samples_of(data) -> tuple[AnnData, pd.Index, pd.Index]:
    """The 'atac' AnnData, its (labelled) samples and all samples of ``data`` (all MuData modalities)."""
    adata = get_modality(data, "atac")
    labelled = pd.Index(adata.obs_names.astype(str))
    everyone = labelled if isinstance(data, AnnData) else pd.Index(data.obs_names.astype(str))
    return adata, labelled, everyone


def split_samples(
    data,
    *,
    test: str | Sequence[str] | None = None,
    n_folds: int | None = None,
    fold: int = 0,
    seed: int = 0,
    key_added: str = SPLIT,
    copy: bool = False,
):
    """Split samples (cell types) into training and test sets: named hold-out or k-fold.

    Exactly one of ``test`` and ``n_folds`` is given. Held-out cell types are the paper's main evaluation
    (5-fold cross-validation over 55 cell types: 44 train / 11 test).

    For a MuData, folds are drawn over the samples of the ``'atac'`` modality (those with labels). Samples
    present only in other modalities (e.g. RNA without ATAC) cannot be trained on and are marked
    ``'test'``; the label is written to every modality's ``obs`` and to the MuData's global ``obs``.

    Parameters
    ----------
    data
        AnnData of samples x loci, or MuData with ``'atac'`` (and ``'rna'``).
    test
        Names of the held-out samples (one name or a list).
    n_folds
        Number of folds for k-fold cross-validation over samples (scikit-learn ``KFold``, shuffled with
        ``seed``).
    fold
        Which fold (``0 .. n_folds - 1``) is the test set.
    seed
        Random seed for the fold assignment.
    key_added
        ``obs`` column to write.
    copy
        Return a modified copy instead of writing in place.

    Returns
    -------
    ``None``, or the copy when ``copy=True``. Writes ``obs[key_added]`` (categorical ``'train'`` /
    ``'test'``) and ``uns['deepcage']['params']['split_samples']``.

    Raises
    ------
    ValueError
        For unknown sample names, both or neither of ``test`` / ``n_folds``, a bad ``fold``, or an empty
        training set.

    Examples
    --------
    >>> dc.pp.split_samples(adata, test=["CD4", "CD8"])  # doctest: +SKIP
    >>> dc.pp.split_samples(adata, n_folds=5, fold=0, seed=0)  # doctest: +SKIP
    """
    if (test is None) == (n_folds is None):
        raise ValueError(
            "Give exactly one of test= (held-out sample names) or n_folds= (k-fold over samples)."
        )
    if copy:
        data = data.copy()
    adata, labelled, everyone = _samples_of(data)
    if test is not None:
        test_names = [test] if isinstance(test, str) else [str(t) for t in test]
        unknown = [t for t in test_names if t not in set(everyone)]
        if unknown:
            raise ValueError(
                f"Unknown sample name(s) in test: {unknown}. Samples are: {list(everyone)[:20]}"
                f"{' ...' if len(everyone) > 20 else ''}."
            )
        is_test = everyone.isin(test_names)
        params = {"test": test_names}
    else:
        from sklearn.model_selection import KFold

        n_folds = int(n_folds)
        if n_folds < 2 or n_folds > len(labelled):
            raise ValueError(
                f"n_folds must be between 2 and the number of samples ({len(labelled)}), got {n_folds}."
            )
        if not 0 <= fold < n_folds:
            raise ValueError(f"fold must be in 0..{n_folds - 1}, got {fold}.")
        folds = list(KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(np.arange(len(labelled))))
        test_idx = folds[fold][1]
        is_test = everyone.isin(labelled[test_idx])
        params = {"n_folds": n_folds, "fold": int(fold), "seed": int(seed)}
    # samples without labels (other modalities only) cannot be trained on
    is_test = np.asarray(is_test) | ~everyone.isin(labelled)
    n_unlabelled = int((~everyone.isin(labelled)).sum())
    if n_unlabelled:
        logger.info("split_samples: %d sample(s) without 'atac' data marked 'test'.", n_unlabelled)
    labels = pd.Series(
        pd.Categorical(np.where(is_test, "test", "train"), categories=SAMPLE_SPLITS), index=everyone
    )
    n_train = int((labels == "train").sum())
    if n_train == 0:
        raise ValueError("The split leaves no training sample: hold out fewer samples.")
    if int((labels == "test").sum()) == 0:
        logger.warning("split_samples: no test sample.")

    if isinstance(data, AnnData):
        data.obs[key_added] = labels.reindex(data.obs_names.astype(str)).to_numpy()
    else:
        for mod in data.mod.values():
            mod.obs[key_added] = labels.reindex(mod.obs_names.astype(str)).to_numpy()
        data.obs[key_added] = labels.reindex(data.obs_names.astype(str)).to_numpy()
    params["key_added"] = key_added
    deepcage_uns(adata).setdefault("params", {})["split_samples"] = params
    logger.info("split_samples: %d train, %d test samples.", n_train, len(labels) - n_train)
    return data if copy else None


def _resolve_split_chroms(given, present: np.ndarray, *, what: str) -> set[str]:
    """Canonical keys of ``given`` contigs; raise for contigs without any locus."""
    if given is None:
        return set()
    given = [given] if isinstance(given, str) else list(given)
    keys = {canonical_chrom(c): str(c) for c in given}
    unknown = [name for key, name in keys.items() if key not in set(present)]
    if unknown:
        raise ValueError(
            f"{what}: contig(s) {unknown} have no locus (loci are on {sorted(set(present))[:20]})."
        )
    return set(keys)


def _regions_table(regions) -> pd.DataFrame:
    if isinstance(regions, str) and ":" in regions:
        regions = [regions]
    if isinstance(regions, list | tuple) and all(isinstance(r, str) for r in regions):
        return parse_locus_names(regions).reset_index(drop=True)
    return _as_intervals(regions, what="test_regions")


def _region_names(regions) -> list[str]:
    return [f"{c}:{a}-{b}" for c, a, b in _regions_table(regions).itertuples(index=False)]


def _in_regions(loci: pd.DataFrame, regions) -> np.ndarray:
    """Loci sharing >= 1 bp with any of ``regions``."""
    runs = _merge_by_contig(_regions_table(regions))
    keys = loci["chrom"].map(canonical_chrom).to_numpy()
    hit = np.zeros(len(loci), dtype=bool)
    for key, contig_runs in runs.items():
        rows = np.flatnonzero(keys == key)
        if len(rows):
            covered = _covered_bp(contig_runs, loci["start"].to_numpy()[rows], loci["end"].to_numpy()[rows])
            hit[rows[covered > 0]] = True
    return hit


@renamed_arg("sample_key", "split_key")
def split_loci(
    data: AnnData | MuData,
    *,
    layer: str | None = BINARY,
    min_positive: int = 2,
    val_frac: float = 0.1,
    val_block: int | None = None,
    val_chroms: str | Sequence[str] | None = None,
    test_chroms: str | Sequence[str] | None = None,
    test_regions: str | Sequence[str] | os.PathLike | pd.DataFrame | None = None,
    seed: int = 0,
    split_key: str = SPLIT,
    key_added: str = SPLIT,
    class_key: str = LOCUS_CLASS,
    copy: bool = False,
) -> AnnData | MuData | None:
    """Split loci into train/val/test and classify them as known/novel (DeepCAGE's rules).

    **Locus class** (uses the sample split ``obs[split_key]`` from :func:`split_samples`):

    - ``'known'``: positive in >= ``min_positive`` training samples;
    - ``'novel'``: positive in >= ``min_positive`` test samples and not overlapping a known locus
      (sharing >= 1 bp; touching bins do not overlap), so a bin open only in held-out cell types;
    - ``'other'``: everything else.

    Without ``obs[split_key]`` every sample counts as training (no locus is novel; a warning is logged).

    **Locus split**: loci on ``test_chroms`` or overlapping ``test_regions`` are ``'test'``, on ``val_chroms``
    ``'val'``; when
    ``val_chroms`` is not given, a seeded random ``val_frac`` of the remaining loci is ``'val'``; the rest
    is ``'train'``. Neighbouring 200-bp bins share most of their 1-kb sequence window, so a validation set of
    single loci drawn at random is optimistic about new loci: prefer ``val_chroms`` when there are several
    contigs, or ``val_block`` to draw whole stretches of the genome.

    Parameters
    ----------
    data
        AnnData of samples x loci, or MuData (its ``'atac'`` modality is used).
    layer
        Layer with 0/1 labels (``None`` uses ``X``).
    min_positive
        Number of positive samples for ``'known'`` (training samples) and ``'novel'`` (test samples).
    val_frac
        Fraction of non-test loci drawn at random for validation when ``val_chroms`` is not given.
    val_block
        Draw the validation loci as whole blocks of ``val_block`` bp (tiles of each contig from position 0)
        instead of single loci: a validation locus then shares no sequence with a training locus except at a
        block's two ends, so early stopping measures how well the network reads sequence it has not seen.
        Blocks are drawn at random until they hold ``val_frac`` of the non-test loci. ``None``: single loci.
    val_chroms
        Contigs held out for validation (naming ``chr1`` or ``1`` both work).
    test_chroms
        Contigs held out for test (naming ``chr1`` or ``1`` both work).
    test_regions
        Genomic regions held out as test loci (a locus sharing >= 1 bp with one is ``'test'``): ``'chr:start-end'``
        strings, a BED file or a DataFrame with ``chrom``, ``start``, ``end``. For data on a single contig, where
        no chromosome can be held out.
    seed
        Random seed for the validation draw.
    split_key
        ``obs`` column with the sample split (``sample_key=`` before: that name is the donor column of
        :func:`deepcage.pp.pseudobulk` and :func:`deepcage.tl.predict`).
    key_added
        ``var`` column for the locus split.
    class_key
        ``var`` column for the locus class.
    copy
        Return a modified copy instead of writing in place.

    Returns
    -------
    ``None``, or the copy when ``copy=True``. Writes

    - ``var[key_added]``: categorical ``'train'`` / ``'val'`` / ``'test'``;
    - ``var[class_key]``: categorical ``'known'`` / ``'novel'`` / ``'other'``;
    - ``uns['deepcage']['split']``: counts of samples per split, of loci per split and class, and the
      parameters.

    Examples
    --------
    >>> dc.pp.split_samples(adata, test=["CD4", "CD8"])  # doctest: +SKIP
    >>> dc.pp.split_loci(adata, test_chroms=["chr8"], val_chroms=["chr9"])  # doctest: +SKIP
    >>> dc.pp.split_loci(adata, test_regions=["chr20:59700000-60100000"], val_frac=0.1)  # doctest: +SKIP
    >>> adata.var["locus_class"].value_counts()  # doctest: +SKIP
    """
    if not 0 <= val_frac < 1:
        raise ValueError(f"val_frac must be in [0, 1), got {val_frac!r}.")
    if val_block is not None and (
        isinstance(val_block, bool) or not isinstance(val_block, numbers.Integral) or val_block < 1
    ):
        raise ValueError(f"val_block must be a whole number of bp >= 1 (or None), got {val_block!r}.")
    if copy:
        data = data.copy()
    adata = get_modality(data, "atac")
    y = _positive_labels(adata, layer)
    split = _sample_split_of(adata, split_key)
    loci = loci_of(adata)
    locus_class = _locus_classes(loci, y, split, min_positive)
    locus_split = _locus_split(
        loci,
        val_frac=val_frac,
        val_block=val_block,
        val_chroms=val_chroms,
        test_chroms=test_chroms,
        test_regions=test_regions,
        seed=seed,
    )

    adata.var[key_added] = pd.Categorical(locus_split, categories=LOCUS_SPLITS)
    adata.var[class_key] = pd.Categorical(locus_class, categories=LOCUS_CLASSES)
    table = pd.crosstab(adata.var[key_added], adata.var[class_key], dropna=False)
    summary = {
        "samples": {s: int((split == s).sum()) for s in SAMPLE_SPLITS},
        "loci": {s: int((locus_split == s).sum()) for s in LOCUS_SPLITS},
        "locus_class": {c: int((locus_class == c).sum()) for c in LOCUS_CLASSES},
        "loci_by_class": {s: {c: int(table.loc[s, c]) for c in LOCUS_CLASSES} for s in LOCUS_SPLITS},
        "params": {
            "layer": "X" if layer is None else layer,
            "min_positive": int(min_positive),
            "val_frac": float(val_frac),
            "val_block": None if val_block is None else int(val_block),
            "val_chroms": [] if val_chroms is None else list(np.atleast_1d(val_chroms).astype(str)),
            "test_chroms": [] if test_chroms is None else list(np.atleast_1d(test_chroms).astype(str)),
            "test_regions": [] if test_regions is None else _region_names(test_regions),
            "seed": int(seed),
            "split_key": split_key,
            "key_added": key_added,
            "class_key": class_key,
        },
    }
    deepcage_uns(adata)["split"] = summary
    logger.info(
        "split_loci: loci %s; classes %s.",
        summary["loci"],
        summary["locus_class"],
    )
    return data if copy else None


def _positive_labels(adata: AnnData, layer: str | None) -> np.ndarray:
    """Dense boolean samples x loci matrix of the positive labels in ``layer`` (``None``: ``X``)."""
    y = get_layer(adata, layer, hint="The 0/1 labels are written by dc.pp.binarize_peaks.")
    return (y != 0).toarray() if sparse.issparse(y) else np.asarray(y) != 0


def _sample_split_of(adata: AnnData, split_key: str) -> np.ndarray:
    """``obs[split_key]`` as strings, checked (all ``'train'`` with a warning when absent; >= 1 training sample)."""
    if split_key in adata.obs:
        split = adata.obs[split_key].astype(str).to_numpy()
        bad = sorted(set(split) - set(SAMPLE_SPLITS))
        if bad:
            raise ValueError(
                f"obs[{split_key!r}] must be 'train' or 'test', found {bad}. Use dc.pp.split_samples."
            )
    else:
        logger.warning(
            "split_loci: obs[%r] not found; every sample counts as training (no novel loci). "
            "Run dc.pp.split_samples for a cell-type hold-out.",
            split_key,
        )
        split = np.full(adata.n_obs, "train")
    if not (split == "train").any():
        raise ValueError(f"No training sample in obs[{split_key!r}].")
    return split


def _locus_classes(loci: pd.DataFrame, y: np.ndarray, split: np.ndarray, min_positive: int) -> np.ndarray:
    """``'known'`` / ``'novel'`` / ``'other'`` of each locus (novel: not overlapping a known locus)."""
    n_train_pos = y[split == "train"].sum(axis=0)
    n_test_pos = y[split == "test"].sum(axis=0)
    known = n_train_pos >= min_positive
    novel = (n_test_pos >= min_positive) & ~known
    if novel.any() and known.any():
        known_runs = _merge_by_contig(loci.loc[known])
        keys = loci["chrom"].map(canonical_chrom).to_numpy()
        for key in pd.unique(keys[novel]):
            if key not in known_runs:
                continue
            rows = np.flatnonzero(novel & (keys == key))
            hit = (
                _covered_bp(known_runs[key], loci["start"].to_numpy()[rows], loci["end"].to_numpy()[rows]) > 0
            )
            novel[rows[hit]] = False
    return np.where(known, "known", np.where(novel, "novel", "other"))


def _locus_split(
    loci: pd.DataFrame, *, val_frac, val_block=None, val_chroms, test_chroms, test_regions, seed
) -> np.ndarray:
    """``'train'`` / ``'val'`` / ``'test'`` of each locus: held-out contigs and regions, then a seeded val draw."""
    keys = loci["chrom"].map(canonical_chrom).to_numpy()
    test_keys = _resolve_split_chroms(test_chroms, keys, what="test_chroms")
    val_keys = _resolve_split_chroms(val_chroms, keys, what="val_chroms")
    both = test_keys & val_keys
    if both:
        raise ValueError(f"Contig(s) {sorted(both)} are in both val_chroms and test_chroms.")
    locus_split = np.full(len(loci), "train", dtype=object)
    locus_split[np.isin(keys, list(test_keys))] = "test"
    if test_regions is not None:
        in_region = _in_regions(loci, test_regions)
        if not in_region.any():
            raise ValueError(
                "test_regions: no locus overlaps these regions; check their contigs and coordinates."
            )
        locus_split[in_region] = "test"
    if val_chroms is not None:
        locus_split[np.isin(keys, list(val_keys))] = "val"
    elif val_frac > 0:
        rest = np.flatnonzero(locus_split == "train")
        n_val = int(round(val_frac * len(rest)))
        rng = np.random.default_rng(seed)
        if val_block is None:
            pick = rng.choice(rest, size=n_val, replace=False)
        else:
            pick = _validation_blocks(loci, rest, keys, n_val, val_block, rng)
        locus_split[pick] = "val"
    if not (locus_split == "train").any():
        raise ValueError(
            "The locus split leaves no training locus: hold out fewer contigs or a smaller val_frac."
        )
    return locus_split


def _validation_blocks(
    loci: pd.DataFrame, rest: np.ndarray, keys: np.ndarray, n_val: int, block: int, rng: np.random.Generator
) -> np.ndarray:
    """Indices (into ``loci``) of the loci in ``rest`` that fall in randomly drawn ``block``-bp tiles of their
    contig, tiles added in random order until they hold at least ``n_val`` loci."""
    if n_val == 0:
        return rest[:0]
    centre = (loci["start"].to_numpy()[rest] + loci["end"].to_numpy()[rest]) // 2
    tile = pd.Series(keys[rest]).astype(str) + ":" + pd.Series(centre // int(block)).astype(str)
    codes, names = pd.factorize(tile)
    order = rng.permutation(len(names))
    sizes = np.bincount(codes, minlength=len(names))[order]
    n_tiles = int(np.searchsorted(np.cumsum(sizes), n_val)) + 1
    if n_tiles >= len(names):
        raise ValueError(
            f"val_block={block}: the {len(names)} blocks of the non-test loci cannot give val_frac of them "
            "to validation and keep some for training; use a smaller val_block or val_frac."
        )
    return rest[np.isin(codes, order[:n_tiles])]
