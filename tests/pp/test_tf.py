import warnings

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import deepcage as dc


def _atac(samples, split=None):
    obs = pd.DataFrame(index=samples)
    if split is not None:
        obs["split"] = split
    return AnnData(np.zeros((len(samples), 3), np.float32), obs=obs)


def _tpm(rng, samples, genes):
    values = rng.lognormal(2, 1.5, (len(samples), len(genes)))
    return pd.DataFrame(values / values.sum(1, keepdims=True) * 1e6, index=samples, columns=genes)


@pytest.fixture
def setup():
    rng = np.random.default_rng(0)
    samples = [f"s{i}" for i in range(6)]
    genes = [f"TF{i}" for i in range(20)] + [f"G{i}" for i in range(30)]
    tfs = genes[:20]
    adata = _atac(samples, ["train"] * 4 + ["test"] * 2)
    return adata, _tpm(rng, samples, genes), tfs


def test_quantile_normalised_samples_share_sorted_values(setup):
    adata, expr, tfs = setup
    dc.pp.tf_expression(adata, expr, tfs=tfs)
    x = adata.obsm["tf_expr"]
    assert list(x.columns) == tfs and list(x.index) == list(adata.obs_names)
    ref = np.asarray(adata.uns["deepcage"]["tf_reference"]["quantiles"])
    for row in x.to_numpy():  # no ties in continuous data: each sample takes exactly the reference values
        np.testing.assert_allclose(np.sort(row), ref)
    # ranks within a sample are preserved
    raw = np.log1p(expr[tfs].to_numpy())
    for r, n in zip(raw, x.to_numpy()):
        assert (np.argsort(r) == np.argsort(n)).all()


def test_reference_fit_on_training_samples_only(setup):
    adata, expr, tfs = setup
    dc.pp.tf_expression(adata, expr, tfs=tfs)
    ref = adata.uns["deepcage"]["tf_reference"]
    assert ref["train_samples"] == ["s0", "s1", "s2", "s3"]
    expected = np.sort(np.log1p(expr.loc[ref["train_samples"], tfs].to_numpy()), axis=1).mean(0)
    np.testing.assert_allclose(ref["quantiles"], expected)
    # changing a test sample's expression must not change the reference
    expr2 = expr.copy()
    expr2.loc["s5"] *= np.linspace(0.1, 10, expr.shape[1])
    adata2 = adata.copy()
    dc.pp.tf_expression(adata2, expr2, tfs=tfs)
    np.testing.assert_array_equal(adata2.uns["deepcage"]["tf_reference"]["quantiles"], ref["quantiles"])


def test_reference_reused_for_new_samples(setup):
    adata, expr, tfs = setup
    dc.pp.tf_expression(adata, expr, tfs=tfs)
    ref = adata.uns["deepcage"]["tf_reference"]
    new = dc.pp.apply_tf_reference(expr.loc[["s4", "s5"]], ref)
    pd.testing.assert_frame_equal(new, adata.obsm["tf_expr"].loc[["s4", "s5"]], check_names=False)


def test_ties_get_mean_of_their_ranks():
    ref = {"tfs": ["a", "b", "c", "d"], "quantiles": np.array([0.0, 1.0, 2.0, 6.0])}
    expr = pd.DataFrame([[0, 0, 5, 9]], columns=["a", "b", "c", "d"], index=["x"], dtype=float)
    out = dc.pp.apply_tf_reference(expr, ref, units="tpm")
    np.testing.assert_allclose(out.to_numpy(), [[0.5, 0.5, 2.0, 6.0]])


def test_counts_become_cpm_over_all_genes():
    counts = pd.DataFrame([[10, 30, 60], [1, 1, 998]], index=["a", "b"], columns=["TF1", "TF2", "G"])
    adata = _atac(["a", "b"])
    dc.pp.tf_expression(adata, counts, tfs=["TF1", "TF2"])
    rec = adata.uns["deepcage"]["tf_reference"]
    assert rec["units"] == "counts"
    # sample a: CPM 1e5 and 3e5 -> log1p sorted; sample b: 1e3, 1e3
    expected = (np.log1p([1e5, 3e5]) + np.log1p([1e3, 1e3])) / 2
    np.testing.assert_allclose(rec["quantiles"], expected)


def test_duplicate_symbols_summed_with_warning():
    expr = pd.DataFrame([[1.0, 2.0, 3.0]], index=["a"], columns=["TF1", "TF1", "TF2"])
    with pytest.warns(UserWarning, match=r"1 gene name occurs more than once \(e.g. TF1\); summed"):
        out = dc.pp.apply_tf_reference(
            expr, {"tfs": ["TF1", "TF2"], "quantiles": np.array([0.0, 1.0])}, units="tpm"
        )
    assert out.shape == (1, 2)


def test_missing_tfs_reported_and_filled_only_on_request(setup):
    adata, expr, tfs = setup
    with pytest.raises(ValueError, match=r"2 of 22 TFs are missing.*NOPE1"):
        dc.pp.tf_expression(adata, expr, tfs=[*tfs, "NOPE1", "NOPE2"])
    with pytest.warns(UserWarning, match="treated as not expressed"):
        dc.pp.tf_expression(adata, expr, tfs=[*tfs, "NOPE1", "NOPE2"], fill_missing=True)
    assert adata.obsm["tf_expr"].shape == (6, 22)


@pytest.mark.parametrize(
    ("value", "match"),
    [(np.nan, r"NaN value.*gene 'TF3' in sample 's1'"), (-1.0, r"negative value.*gene 'TF3' in sample 's1'")],
)
def test_bad_values_name_gene_and_sample(setup, value, match):
    adata, expr, tfs = setup
    expr.loc["s1", "TF3"] = value
    with pytest.raises(ValueError, match=match):
        dc.pp.tf_expression(adata, expr, tfs=tfs)


def test_all_zero_sample_and_missing_sample(setup):
    adata, expr, tfs = setup
    zero = expr.copy()
    zero.loc["s2"] = 0
    with pytest.raises(ValueError, match=r"\['s2'\] have zero expression"):
        dc.pp.tf_expression(adata, zero, tfs=tfs)
    with pytest.raises(ValueError, match=r"1 sample\(s\) have no expression: \['s5'\]"):
        dc.pp.tf_expression(adata, expr.drop(index="s5"), tfs=tfs)


def test_mudata_rna_modality_is_used():
    mdata = dc.datasets.synthetic(n_loci=100, rna=True)
    atac = mdata["atac"]
    before = atac.obsm["tf_expr"].copy()
    del atac.obsm["tf_expr"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dc.pp.tf_expression(mdata)
    pd.testing.assert_frame_equal(atac.obsm["tf_expr"], before)


def test_single_cells_as_samples_warn_once_pointing_to_pseudobulk():
    rng = np.random.default_rng(0)
    barcodes = ["".join(rng.choice(list("ACGT"), 16)) + "-1" for _ in range(150)]
    genes = [f"TF{i}" for i in range(5)] + [f"G{i}" for i in range(95)]
    counts = rng.poisson(0.1, size=(150, 100)).astype(float)
    counts[:, -1] += 1
    cells = AnnData(counts, obs=pd.DataFrame(index=barcodes), var=pd.DataFrame(index=genes))
    with pytest.warns(UserWarning) as record:
        dc.pp.tf_expression(_atac(barcodes), cells, tfs=genes[:5])
    messages = [str(w.message) for w in record if issubclass(w.category, UserWarning)]
    assert len(messages) == 1, messages
    assert "150 samples look like single cells (named like cell barcodes" in messages[0]
    assert "dc.pp.pseudobulk" in messages[0]


def test_accessibility_given_as_expression_is_named(setup):
    adata, _, _ = setup
    atac = AnnData(
        np.ones((6, 4), np.float32),
        obs=pd.DataFrame(index=adata.obs_names),
        var=pd.DataFrame(index=[f"chr1:{i * 200}-{i * 200 + 200}" for i in range(4)]),
    )
    with pytest.raises(
        ValueError, match=r"holds accessibility, not RNA: its 4 var are genomic loci \(e\.g\. 'chr1:0-200'\)"
    ):
        dc.pp.tf_expression(adata, atac, tfs=["TF1"])


def test_duplicate_symbols_follow_the_duplicates_option():
    expr = pd.DataFrame([[1.0, 2.0, 3.0], [1.0, 4.0, 5.0]], index=["a", "b"], columns=["TF1", "TF1", "TF2"])
    ref = {"tfs": ["TF1", "TF2"], "quantiles": np.array([0.0, 1.0])}
    with pytest.warns(UserWarning, match="kept the first of each"):
        first = dc.pp.apply_tf_reference(expr, ref, units="tpm", duplicates="first")
    plain = dc.pp.apply_tf_reference(expr.iloc[:, [0, 2]], ref, units="tpm")
    pd.testing.assert_frame_equal(first, plain)
    with pytest.raises(ValueError, match="occur more than once"):
        dc.pp.apply_tf_reference(expr, ref, units="tpm", duplicates="raise")


def test_units_guess_is_exact():
    from deepcage.io._expression import guess_units

    assert guess_units(np.array([[0.0, 3.0], [12.0, 1e6]], dtype=np.float32)) == "counts"
    # within allclose's tolerance of integers, but not integers: not counts
    assert guess_units(np.array([[12345.06, 20000.1]])) == "tpm"
