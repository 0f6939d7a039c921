import pickle

import numpy as np
import pytest
import torch

import deepcage as dc
from deepcage._window_codes import WindowCodes, window_codes


@pytest.fixture
def genome(tmp_path, write_fasta):
    rng = np.random.default_rng(0)
    records = {name: "".join(rng.choice(list("ACGTN"), n)) for name, n in [("chr1", 3000), ("chr2", 700)]}
    write_fasta(tmp_path / "g.fa", records)
    return dc.Genome(tmp_path / "g.fa")


def test_rows_equal_genome_windows(genome):
    rng = np.random.default_rng(1)
    width = 100
    # unsorted, duplicated, touching, overlapping, isolated and contig-crossing windows, several contigs and both
    # contig namings (chr1 / 1 name the same contig)
    centers = np.concatenate(
        [rng.integers(-80, 3080, 300), [50, 150, 150, 250, 2990, 3100, -60], rng.integers(0, 700, 50)]
    )
    chroms = ["chr1"] * 300 + ["1"] * 7 + ["chr2"] * 50
    order = rng.permutation(len(centers))
    centers, chroms = centers[order], np.asarray(chroms)[order]
    codes = window_codes(genome, chroms, centers, width)
    dense = genome.windows(chroms, centers, width)
    assert codes.shape == dense.shape and codes.dtype == dense.dtype
    np.testing.assert_array_equal(np.asarray(codes), dense)
    idx = rng.integers(0, len(centers), 40)
    np.testing.assert_array_equal(codes[idx], dense[idx])
    np.testing.assert_array_equal(codes[5:17], dense[5:17])
    np.testing.assert_array_equal(codes[3], dense[3])
    # the strided view must not leak: a gathered batch is a copy
    batch = codes[idx]
    batch[:] = 9
    np.testing.assert_array_equal(codes[idx], dense[idx])


def test_overlapping_windows_share_bases(genome):
    # 200-bp bins tiled along a contig with 1-kb windows: each base stored once, not five times
    starts = np.arange(0, 3000, 200)
    codes = window_codes(genome, ["chr1"] * len(starts), starts + 100, 1000)
    assert codes.flat.nbytes == 3000 + 1000 - 200  # the tiled span plus the two half-window overhangs
    assert codes.nbytes < len(starts) * 1000 / 2
    np.testing.assert_array_equal(
        np.asarray(codes), genome.windows(["chr1"] * len(starts), starts + 100, 1000)
    )


def test_pickle_and_device_gather(genome):
    centers = np.array([10, 500, 505, 2000, 2999])
    codes = window_codes(genome, ["chr1"] * 5, centers, 64)
    back = pickle.loads(pickle.dumps(codes))
    np.testing.assert_array_equal(np.asarray(back), np.asarray(codes))
    on_device = codes.to("cpu")
    idx = torch.tensor([4, 0, 2, 2])
    np.testing.assert_array_equal(on_device[idx].numpy(), np.asarray(codes)[idx.numpy()])
    assert on_device.device == torch.device("cpu")


def test_no_loci_and_bad_offsets():
    empty = WindowCodes(np.zeros(0, np.uint8), np.zeros(0, np.int64), 10)
    assert empty.shape == (0, 10) and np.asarray(empty).shape == (0, 10)
    with pytest.raises(ValueError, match="outside the stored segments"):
        WindowCodes(np.zeros(20, np.uint8), np.array([0, 15]), 10)


def test_fit_holds_the_codes_once_and_predicts_as_with_stored_codes(tmp_path):
    # fit reads the genome into WindowCodes; codes stored by dc.pp.sequence_codes (the dense matrix) must give
    # the same model, bit for bit
    adata = dc.datasets.synthetic(n_samples=6, n_loci=300, n_tfs=8, seed=2)
    adata.varm.pop("sequence_codes", None)
    kw = dict(preset="small", max_epochs=1, seed=0, progress=False, hidden=16)
    from_genome = dc.tl.fit(adata, **kw)
    stored = adata.copy()
    dc.pp.sequence_codes(stored, progress=False)
    from_stored = dc.tl.fit(stored, **kw)
    a = dc.tl.predict(from_genome, adata, copy=True, progress=False).layers["deepcage"]
    b = dc.tl.predict(from_stored, stored, copy=True, progress=False).layers["deepcage"]
    np.testing.assert_array_equal(a, b)
    assert isinstance(from_genome.loci_codes, WindowCodes)
    np.testing.assert_array_equal(np.asarray(from_genome.loci_codes), stored.varm["sequence_codes"])
    from_genome.save(tmp_path / "m")
    loaded = dc.DeepCAGE.load(tmp_path / "m")
    np.testing.assert_array_equal(np.asarray(loaded.loci_codes), stored.varm["sequence_codes"])


def test_device_cached_training_gathers_the_same_batches():
    # device_cache=True gathers batches from the codes' device copy (torch unfold): same model as the CPU gather
    adata = dc.datasets.synthetic(n_samples=6, n_loci=300, n_tfs=8, seed=3)
    adata.varm.pop("sequence_codes", None)
    kw = dict(preset="small", max_epochs=1, seed=0, progress=False, hidden=16)
    cached = dc.tl.fit(adata, device_cache=True, **kw)
    gathered = dc.tl.fit(adata, device_cache=False, **kw)
    a = dc.tl.predict(cached, adata, copy=True, progress=False).layers["deepcage"]
    b = dc.tl.predict(gathered, adata, copy=True, progress=False).layers["deepcage"]
    np.testing.assert_array_equal(a, b)
