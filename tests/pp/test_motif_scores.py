import numpy as np
import pytest
from anndata import AnnData

import deepcage as dc
from deepcage.io import Motif
from deepcage.pp._motif_scan import _prepared, _scan_torch, scan_tolerance
from deepcage.pp._motif_scores import scan_max

_COMP = np.array([3, 2, 1, 0, 4])


def _naive(codes, lo):
    best = -np.inf
    for seq in (codes, _COMP[codes[::-1]]):
        for p in range(len(seq) - len(lo) + 1):
            window = seq[p : p + len(lo)]
            best = max(best, sum(lo[j, b] for j, b in enumerate(window) if b < 4))
    return best


def _reference(codes, log_odds):
    """Plain numpy float64 scan: every window on both strands, N weighs 0."""
    out = np.empty((len(codes), len(log_odds)))
    for k, lo in enumerate(log_odds):
        w = len(lo)
        table = np.vstack([np.asarray(lo, np.float64).T, np.zeros((1, w))])  # (5, w): row 4 = N
        best = np.full(len(codes), -np.inf)
        for seq in (codes, _COMP[codes[:, ::-1]]):
            windows = np.lib.stride_tricks.sliding_window_view(seq, w, axis=1)  # (n, L-w+1, w)
            best = np.maximum(best, table[windows, np.arange(w)].sum(axis=2).max(axis=1))
        out[:, k] = best
    return out


def _random_case(seed, n=30, length=80, widths=(1, 2, 3, 7, 8, 15, 24)):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n, length)).astype(np.uint8)
    codes[rng.random(codes.shape) < 0.1] = 4  # scattered N
    codes[0] = 4  # an all-N sequence
    codes[1, :30] = 4  # a window at a contig start (N padding)
    codes[2, -25:] = 4  # and at a contig end
    log_odds = [rng.normal(0, 2, size=(w, 4)) for w in widths]
    return codes, log_odds


def test_scan_agrees_with_naive_scan_on_random_sequences():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 5, (20, 60)).astype(np.uint8)  # includes N
    log_odds = [rng.normal(size=(w, 4)) for w in (3, 8, 15)]
    fast = scan_max(codes, log_odds, batch_size=7, device="cpu")
    naive = np.array([[_naive(c, lo) for lo in log_odds] for c in codes])
    np.testing.assert_allclose(fast, naive, rtol=0, atol=scan_tolerance(log_odds).max())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scan_within_float32_tolerance_of_numpy_reference(seed):
    codes, log_odds = _random_case(seed)
    ref = _reference(codes, log_odds)
    tol = scan_tolerance(log_odds)
    assert (tol > 0).all() and (tol < 1e-4).all()
    got = scan_max(codes, log_odds, batch_size=8, device="cpu")
    assert got.dtype == np.float32
    assert (np.abs(got - ref) <= tol[None, :]).all(), np.abs(got - ref).max(axis=0)
    assert (got[0] == 0).all()  # all N: every window scores 0
    # a motif as long as the sequence has exactly one window per strand
    full = [np.random.default_rng(seed).normal(size=(codes.shape[1], 4))]
    np.testing.assert_allclose(
        scan_max(codes, full, device="cpu"), _reference(codes, full), rtol=0, atol=scan_tolerance(full)[0]
    )


def test_torch_convolution_scan_equals_cpu_scan():
    """The GPU path (a torch convolution), run on the CPU: equal to the table scan within float32 tolerance."""
    codes, log_odds = _random_case(5, n=25)
    ref = _reference(codes, log_odds)
    conv = _scan_torch(codes, _prepared(log_odds), "cpu", batch_size=6, progress=False)
    cpu = scan_max(codes, log_odds, device="cpu")
    tol_conv = scan_tolerance(log_odds, conv=True)
    assert (np.abs(conv - ref) <= tol_conv[None, :]).all()
    assert (np.abs(conv - cpu) <= (tol_conv + scan_tolerance(log_odds))[None, :]).all()


def test_scan_rejects_bad_input():
    codes = np.zeros((2, 10), np.uint8)
    with pytest.raises(ValueError, match="longer than the sequences"):
        scan_max(codes, [np.zeros((11, 4))], device="cpu")
    with pytest.raises(ValueError, match="non-finite"):
        scan_max(codes, [np.full((3, 4), -np.inf)], device="cpu")
    with pytest.raises(ValueError, match="thresholds must have one value per motif"):
        scan_max(codes, [np.zeros((3, 4))], thresholds=[1.0, 2.0], device="cpu")
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            scan_max(codes, [np.zeros((3, 4))], device="cuda")


@pytest.mark.parametrize("strand", ["+", "-"])
def test_planted_motif_found_on_either_strand(strand):
    rng = np.random.default_rng(2)
    pwm = np.full((10, 4), 0.02)
    consensus = rng.integers(0, 4, 10)
    pwm[np.arange(10), consensus] = 0.94
    motif = Motif("m", pwm, tf="TFX")
    codes = rng.integers(0, 4, (30, 500)).astype(np.uint8)
    site = consensus if strand == "+" else (3 - consensus)[::-1]
    codes[::2, 200:210] = site  # even rows hold the site
    scores = scan_max(codes, [motif.log_odds()])[:, 0]
    best = motif.log_odds()[np.arange(10), consensus].sum()
    np.testing.assert_allclose(scores[::2], best, rtol=1e-5)
    assert scores[1::2].max() < best


def test_motif_scores_writes_varm_and_takes_max_over_a_tfs_motifs(tmp_path):
    rng = np.random.default_rng(3)
    seq = rng.integers(0, 4, 5000)
    (tmp_path / "g.fa").write_text(">chr1\n" + "".join("ACGT"[b] for b in seq) + "\n")
    genome = dc.Genome(tmp_path / "g.fa", name="toy")
    starts = np.array([1000, 2000, 3000])
    names = [f"chr1:{s}-{s + 200}" for s in starts]
    adata = AnnData(np.zeros((2, 3), np.float32))
    adata.var_names = names
    m1 = Motif("a1", rng.dirichlet(np.ones(4), 8), tf="A")
    m2 = Motif("a2", rng.dirichlet(np.ones(4), 6), tf="A")
    m3 = Motif("b", rng.dirichlet(np.ones(4), 7), tf="B")
    dc.pp.motif_scores(adata, [m1, m2, m3], genome=genome, window=400, progress=False)
    scores = adata.varm["motif_scores"]
    assert list(scores.columns) == ["A", "B"]
    codes = genome.windows(["chr1"] * 3, starts + 100, 400)
    per = scan_max(codes, [m.log_odds() for m in (m1, m2, m3)])
    np.testing.assert_allclose(scores["A"], per[:, :2].max(1), rtol=1e-6)
    np.testing.assert_allclose(scores["B"], per[:, 2], rtol=1e-6)
    assert adata.uns["deepcage"]["tfs"] == ["A", "B"]
    assert adata.uns["deepcage"]["genome"]["name"] == "toy"


def test_tfs_without_motif_raise(tmp_path):
    (tmp_path / "g.fa").write_text(">chr1\n" + "ACGT" * 500 + "\n")
    adata = AnnData(np.zeros((1, 1), np.float32))
    adata.var_names = ["chr1:500-700"]
    m = Motif("a", np.full((5, 4), 0.25), tf="A")
    with pytest.raises(ValueError, match=r"1 TF\(s\) have no motif.*GATA1"):
        dc.pp.motif_scores(adata, [m], genome=tmp_path / "g.fa", tfs=["A", "GATA1"], progress=False)


def test_no_genome_error_says_what_to_do():
    adata = AnnData(np.zeros((1, 1), np.float32))
    adata.var_names = ["chr1:500-700"]
    with pytest.raises(ValueError, match="Pass genome="):
        dc.pp.motif_scores(adata, [Motif("a", np.full((5, 4), 0.25))], progress=False)


def test_real_hocomoco_scan_on_hg19(shared_data, hg19_genome):
    motifs = dc.io.read_motifs(
        shared_data / "motifs" / "HOCOMOCOv11_core_HUMAN_mono_homer_format_0.001.motif",
        tf_table=shared_data / "motifs" / "HOCOMOCOv11_HUMAN_mono_motifs_core.tsv",
    )
    gata = [m for m in motifs if m.tf in ("GATA1", "CTCF")]
    adata = AnnData(np.zeros((1, 4), np.float32))
    adata.var_names = [
        "chr20:10000000-10000200",
        "chr20:10050000-10050200",
        "20:500000-500200",
        "chr20:2000000-2000200",
    ]
    dc.pp.motif_scores(adata, gata, genome=hg19_genome, progress=False)
    s = adata.varm["motif_scores"]
    assert list(s.columns) == ["CTCF", "GATA1"] or list(s.columns) == ["GATA1", "CTCF"]
    assert np.isfinite(s.to_numpy()).all()
    assert (s.iloc[3] == 0).all()  # an all-N window scores 0
    assert (s.iloc[:3].to_numpy() > 0).all()


def test_thresholded_scan_keeps_sites_above_the_cut_and_zeroes_the_rest(tmp_path):
    rng = np.random.default_rng(4)
    codes = rng.integers(0, 4, (40, 300)).astype(np.uint8)
    motifs = [
        Motif(f"m{i}", rng.dirichlet(np.full(4, 0.3), 9), tf=f"T{i}", threshold=t)
        for i, t in enumerate((2.0, 6.0, 9.0))
    ]
    exact = scan_max(codes, [m.log_odds() for m in motifs])
    cuts = np.array([m.threshold for m in motifs])
    floored = scan_max(codes, [m.log_odds() for m in motifs], thresholds=cuts)
    np.testing.assert_array_equal(floored, np.maximum(exact, cuts[None, :].astype(np.float32)))

    seq = "".join("ACGT"[b] for b in codes.ravel())
    (tmp_path / "g.fa").write_text(">chr1\n" + seq + "\n")
    adata = AnnData(np.zeros((1, 40), np.float32))
    adata.var_names = [f"chr1:{i * 300 + 50}-{i * 300 + 250}" for i in range(40)]
    dc.pp.motif_scores(adata, motifs, genome=tmp_path / "g.fa", window=300, min_score="motif", progress=False)
    got = adata.varm["motif_scores"].to_numpy()
    np.testing.assert_allclose(got, np.where(exact > cuts, exact, 0.0), rtol=1e-5)
    with pytest.raises(ValueError, match="carry no threshold"):
        dc.pp.motif_scores(
            adata,
            [Motif("x", np.full((4, 4), 0.25))],
            genome=tmp_path / "g.fa",
            min_score="motif",
            progress=False,
        )
