"""pseudobulk: summed counts per group, min_cells filter, sample_key, MuData."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from scipy import sparse

import deepcage as dc


def _cells(seed=0) -> AnnData:
    rng = np.random.default_rng(seed)
    groups = np.array(["B"] * 12 + ["T"] * 15 + ["NK"] * 3)
    donors = np.array(["d1", "d2"] * 15)
    X = rng.poisson(2.0, size=(30, 5)).astype(np.float32)
    obs = pd.DataFrame(
        {"cell_type": pd.Categorical(groups), "donor": donors}, index=[f"cell{i}" for i in range(30)]
    )
    var = pd.DataFrame(
        {"gene_ids": [f"ENSG{i}" for i in range(5)]}, index=["GATA1", "SPI1", "CEBPA", "TAL1", "PAX5"]
    )
    return AnnData(X, obs=obs, var=var)


@pytest.mark.parametrize("as_sparse", [False, True])
def test_sums_and_min_cells(as_sparse):
    cells = _cells()
    if as_sparse:
        cells.X = sparse.csr_matrix(cells.X)
    with pytest.warns(UserWarning, match=r"NK \(3\)"):
        bulk = dc.pp.pseudobulk(cells, "cell_type", min_cells=10)
    assert bulk.obs_names.tolist() == ["B", "T"]
    dense = cells.X.toarray() if as_sparse else cells.X
    expected = pd.DataFrame(dense).groupby(cells.obs["cell_type"].to_numpy()).sum()
    np.testing.assert_allclose(bulk.X, expected.loc[["B", "T"]].to_numpy())
    assert bulk.obs["n_cells"].tolist() == [12, 15]
    assert bulk.obs["cell_type"].tolist() == ["B", "T"]
    assert bulk.var_names.tolist() == cells.var_names.tolist()
    assert bulk.var["gene_ids"].tolist() == cells.var["gene_ids"].tolist()
    assert bulk.uns["units"] == "counts"
    assert bulk.uns["pseudobulk"]["dropped"] == {"NK": 3}


def test_layer_and_sample_key():
    cells = _cells()
    cells.layers["counts"] = cells.X.copy()
    cells.X = np.log1p(cells.X)
    bulk = dc.pp.pseudobulk(cells, "cell_type", layer="counts", min_cells=1, sample_key="donor")
    assert set(bulk.obs_names) == {"B_d1", "B_d2", "NK_d1", "NK_d2", "T_d1", "T_d2"}
    mask = (cells.obs["cell_type"] == "T").to_numpy() & (cells.obs["donor"] == "d2").to_numpy()
    np.testing.assert_allclose(bulk["T_d2"].X.ravel(), cells.layers["counts"][mask].sum(0))
    assert bulk.obs.loc["T_d2", "n_cells"] == mask.sum()
    assert bulk.obs.loc["T_d2", "donor"] == "d2"
    assert bulk.obs["n_cells"].sum() == cells.n_obs


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_mudata_uses_rna():
    from mudata import MuData

    cells = _cells()
    atac = AnnData(np.zeros((30, 2), np.float32), obs=pd.DataFrame(index=cells.obs_names))
    bulk = dc.pp.pseudobulk(MuData({"rna": cells, "atac": atac}), "cell_type", min_cells=1)
    assert bulk.n_vars == 5 and bulk.obs_names.tolist() == ["B", "NK", "T"]


def test_missing_group_values_warn():
    cells = _cells()
    cells.obs["cell_type"] = cells.obs["cell_type"].astype(object)
    cells.obs.iloc[0, cells.obs.columns.get_loc("cell_type")] = np.nan
    with pytest.warns(UserWarning, match="1 cell"):
        bulk = dc.pp.pseudobulk(cells, "cell_type", min_cells=1)
    assert bulk.obs.loc["B", "n_cells"] == 11


def test_non_integer_counts_warn():
    cells = _cells()
    cells.X = cells.X + 0.5
    with pytest.warns(UserWarning, match="non-integer"):
        dc.pp.pseudobulk(cells, "cell_type", min_cells=1)


def test_errors():
    cells = _cells()
    with pytest.raises(ValueError, match="Every group has fewer than min_cells=100"):
        dc.pp.pseudobulk(cells, "cell_type", min_cells=100)
    with pytest.raises(KeyError, match="'celltype'"):
        dc.pp.pseudobulk(cells, "celltype")
    with pytest.raises(KeyError, match="Layer 'counts'"):
        dc.pp.pseudobulk(cells, "cell_type", layer="counts")
    cells.X[0, 0] = -1
    with pytest.raises(ValueError, match="negative"):
        dc.pp.pseudobulk(cells, "cell_type")


def _scanpy_like(seed=0) -> AnnData:
    """Cells as scanpy leaves them: X log-normalised (a subset of genes), the raw counts in .raw."""
    cells = _cells(seed)
    cells.raw = cells  # raw counts of all 5 genes
    counts = cells.X.copy()
    lognorm = np.log1p(counts / counts.sum(axis=1, keepdims=True) * 1e4)
    cells = cells[:, :4].copy()  # highly variable genes only
    cells.X = lognorm[:, :4]
    return cells, counts


def test_log_normalised_x_with_counts_in_raw_sums_raw():
    """Once summed the logs and recorded units 'counts'."""
    cells, counts = _scanpy_like()
    with pytest.warns(
        UserWarning, match=r"X holds non-integer values .*log-normalised.*summing adata\.raw\.X \(5 genes\)"
    ):
        bulk = dc.pp.pseudobulk(cells, "cell_type", min_cells=1)
    expected = pd.DataFrame(counts).groupby(cells.obs["cell_type"].to_numpy()).sum()
    np.testing.assert_allclose(bulk.X, expected.loc[bulk.obs_names].to_numpy())
    assert bulk.var_names.tolist() == ["GATA1", "SPI1", "CEBPA", "TAL1", "PAX5"]
    assert bulk.uns["units"] == "counts" and bulk.uns["pseudobulk"]["source"] == "adata.raw.X"


def test_use_raw_false_sums_x_and_says_it_is_not_counts():
    cells, _ = _scanpy_like()
    with pytest.warns(
        UserWarning, match=r"X has non-integer values \(at most [\d.]+: log-normalised\?\).*layer="
    ):
        bulk = dc.pp.pseudobulk(cells, "cell_type", min_cells=1, use_raw=False)
    assert bulk.n_vars == 4 and bulk.uns["pseudobulk"]["source"] == "X"


def test_use_raw_errors():
    cells = _cells()
    with pytest.raises(ValueError, match=r"use_raw=True, but adata\.raw is None"):
        dc.pp.pseudobulk(cells, "cell_type", use_raw=True)
    cells.layers["counts"] = cells.X.copy()
    with pytest.raises(ValueError, match=r"Pass layer='counts' or use_raw=True, not both"):
        dc.pp.pseudobulk(cells, "cell_type", layer="counts", use_raw=True)


def test_non_integer_x_points_to_an_integer_layer():
    cells = _cells()
    cells.layers["counts"] = cells.X.copy()
    cells.X = np.log1p(cells.X)
    with pytest.warns(UserWarning, match=r"pass layer='counts', which holds integer counts"):
        dc.pp.pseudobulk(cells, "cell_type", min_cells=1)
