"""The out-of-core path: sequence codes and motif scores memory-mapped from .npy files, shuffled by blocks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deepcage as dc
from deepcage.model._data import BlockShuffleSampler, PairData, _on_disk, make_loader

torch.set_num_threads(1)
FAST = {"preset": "small", "hidden": 16, "batch_loci": 64, "progress": False, "max_epochs": 2}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """The same synthetic data scored in memory and to files on disk."""
    root = tmp_path_factory.mktemp("ooc")
    mem = dc.datasets.synthetic(n_samples=6, n_loci=400, n_tfs=5, seed=2, path=root / "g.fa")
    disk = mem.copy()
    motifs = dc.datasets.synthetic_motifs(mem)
    dc.pp.motif_scores(mem, motifs, progress=False)
    dc.pp.motif_scores(disk, motifs, progress=False, out=root / "scores.npy")
    dc.pp.sequence_codes(disk, progress=False, out=root / "codes.npy")
    return mem, disk


def test_scores_and_codes_on_disk_equal_those_in_memory(pair):
    mem, disk = pair
    assert _on_disk(disk.varm["motif_scores"].to_numpy(dtype=np.float32))
    assert _on_disk(disk.varm["sequence_codes"]) and not _on_disk(mem.varm["motif_scores"].to_numpy())
    np.testing.assert_array_equal(disk.varm["motif_scores"].to_numpy(), mem.varm["motif_scores"].to_numpy())
    loci = dc._utils.loci_of(mem)
    genome = dc._utils.resolve_genome(mem)
    want = dc._onehot.locus_codes(genome, loci["chrom"], loci["start"], loci["end"], window=1000)
    np.testing.assert_array_equal(disk.varm["sequence_codes"], want)
    assert disk.uns["deepcage"]["sequence_codes"]["file"].endswith("codes.npy")


def test_fit_from_disk_learns_and_predicts_like_in_memory(pair):
    mem, disk = pair
    in_memory = dc.tl.fit(mem, **FAST)
    on_disk = dc.tl.fit(disk, **FAST)
    m = mem.varm["motif_scores"].to_numpy()
    e = mem.obsm["tf_expr"].to_numpy()
    a = in_memory.predict_arrays(in_memory.loci_codes, m, e)
    b = on_disk.predict_arrays(on_disk.loci_codes, m, e)
    # block shuffling visits the loci in another order, so the two models are not bit-identical; they are the
    # same model family trained on the same data and must agree closely and both learn
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9
    test = np.flatnonzero(mem.var["split"] == "test")
    from sklearn.metrics import average_precision_score

    y = mem.layers["binary"][:, test].T
    prevalence = y.mean()
    for pred in (a, b):
        assert average_precision_score(y.ravel(), pred[test].ravel()) > 1.5 * prevalence
    # with the same shuffling the on-disk arrays give bit-identical models
    same = dc.tl.fit(disk, **FAST)
    np.testing.assert_array_equal(b, same.predict_arrays(same.loci_codes, m, e))


def test_block_shuffle_visits_every_position_once_in_runs_of_blocks():
    gen = torch.Generator().manual_seed(0)
    n = 10_000
    s = BlockShuffleSampler(np.zeros(n, dtype=bool), 1.0, gen, block=100, window=4)
    order = list(s)
    assert sorted(order) == list(range(n))
    assert order != sorted(order)
    # each run of 400 draws comes from 4 blocks of 100 consecutive positions
    first = np.array(order[:400]) // 100
    assert len(set(first.tolist())) == 4
    # with background subsampling: all foreground, a fresh quarter of the background each epoch
    bg = np.arange(n) % 2 == 0
    s = BlockShuffleSampler(bg, 0.25, gen, block=100, window=4)
    a, b = list(s), list(s)
    assert len(a) == len(s) == 5000 + 1250
    assert set(np.flatnonzero(~bg)) <= set(a)
    assert set(a) != set(b)


def test_memory_mapped_arrays_pick_block_shuffling(tmp_path):
    codes = np.lib.format.open_memmap(tmp_path / "c.npy", mode="w+", dtype=np.uint8, shape=(50, 10))
    data = PairData(
        codes, np.zeros((50, 2), np.float32), np.zeros((3, 2), np.float32), np.zeros((3, 50), np.uint8)
    )
    loader = make_loader(data, np.arange(50), batch_loci=8, shuffle=True, device_cache=False)
    assert isinstance(
        loader.batch_sampler.sampler if loader.batch_sampler else loader.sampler.sampler, BlockShuffleSampler
    )
    batch = next(iter(loader))
    assert batch["codes"].shape == (8, 10) and (np.diff(batch["loci"].numpy()) > 0).all()  # read in order


def test_stored_codes_of_another_window_are_refused(pair):
    _, disk = pair
    bad = disk.copy()
    bad.varm["sequence_codes"] = np.zeros((bad.n_vars, 500), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"500\).*1000-bp.*dc.pp.sequence_codes"):
        dc.tl.fit(bad, **FAST)
