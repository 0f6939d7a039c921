import numpy as np
from sklearn.metrics import roc_auc_score

import deepcage as dc


def test_layout_and_determinism():
    a = dc.datasets.synthetic(n_samples=8, n_loci=300, n_tfs=5, seed=1)
    b = dc.datasets.synthetic(n_samples=8, n_loci=300, n_tfs=5, seed=1)
    assert a.shape == (8, 300)
    np.testing.assert_array_equal(a.layers["binary"], b.layers["binary"])
    np.testing.assert_array_equal(a.varm["motif_scores"], b.varm["motif_scores"])
    assert a.var_names[0] == f"chr1:{a.var.start.iloc[0]}-{a.var.end.iloc[0]}"
    assert set(a.obs["split"]) == {"train", "test"} and (a.obs["split"] == "test").sum() == 2
    assert set(a.var["split"]) == {"train", "val", "test"}
    assert (a.var.loc[a.var.chrom == "chr3", "split"] == "test").all()
    assert (
        list(a.obsm["tf_expr"].columns) == list(a.varm["motif_scores"].columns) == a.uns["synthetic"]["tfs"]
    )
    assert a.uns["deepcage"]["tf_reference"]["train_samples"] == list(a.obs_names[a.obs.split == "train"])
    c = dc.datasets.synthetic(n_samples=8, n_loci=300, n_tfs=5, seed=2)
    assert not np.array_equal(a.layers["binary"], c.layers["binary"])


def test_planted_rule_holds_and_motif_scores_see_the_sites():
    a = dc.datasets.synthetic(seed=0)
    rec = a.uns["synthetic"]
    expected = (rec["sites"].astype(int) @ rec["tf_on"].T.astype(int) > 0).T
    agreement = (a.layers["binary"] == expected).mean()
    assert 0.97 < agreement < 0.99  # 2 % label noise
    assert 0.1 < a.X.mean() < 0.5
    scores = a.varm["motif_scores"].to_numpy()
    aucs = [roc_auc_score(rec["sites"][:, t], scores[:, t]) for t in range(scores.shape[1])]
    assert min(aucs) > 0.85
    # normalised expression keeps every expressed TF above every silent one, across samples too
    x = a.obsm["tf_expr"].to_numpy()
    assert x[rec["tf_on"]].min() > x[~rec["tf_on"]].max()


def test_mudata_and_roundtrip_h5ad(tmp_path):
    m = dc.datasets.synthetic(n_loci=200, rna=True)
    assert set(m.mod) == {"atac", "rna"}
    assert m["rna"].uns["units"] == "tpm"
    a = m["atac"]
    a.write_h5ad(tmp_path / "s.h5ad")
    import anndata

    b = anndata.read_h5ad(tmp_path / "s.h5ad")
    np.testing.assert_array_equal(b.layers["binary"], a.layers["binary"])
    assert list(b.varm["motif_scores"].columns) == list(a.varm["motif_scores"].columns)
