"""dc.tl.predict, save/load, streaming outputs and the CLI."""

from __future__ import annotations

import subprocess
import sys

import anndata
import numpy as np
import pandas as pd
import pytest
import torch

import deepcage as dc

torch.set_num_threads(1)

FAST = {"preset": "small", "hidden": 32, "batch_loci": 64, "progress_bar": False, "lr": 3e-3}


@pytest.fixture(scope="module")
def mdata():
    return dc.datasets.synthetic(n_samples=8, n_loci=400, n_tfs=6, seed=4, rna=True)


@pytest.fixture(scope="module")
def model(mdata):
    return dc.tl.fit(mdata, max_epochs=1, **FAST)


@pytest.fixture
def adata(mdata):
    return mdata["atac"].copy()


def test_predict_in_adata(model, adata):
    assert dc.tl.predict(model, adata, progress=False) is None
    pred = adata.layers["deepcage"]
    assert pred.shape == adata.shape and pred.dtype == np.float32
    assert ((pred >= 0) & (pred <= 1)).all()
    assert adata.uns["deepcage"]["predict"]["deepcage"]["task"] == "classification"
    # equals the low-level call on the stored sequences
    low = model.predict_arrays(
        model.loci_codes, adata.varm["motif_scores"].to_numpy(), adata.obsm["tf_expr"].to_numpy()
    )
    np.testing.assert_array_equal(pred, low.T)
    copy = dc.tl.predict(model, adata, key_added="other", copy=True, progress=False)
    assert "other" in copy.layers and "other" not in adata.layers


def test_predict_new_expression_matches_in_adata(model, mdata, adata):
    dc.tl.predict(model, adata, progress=False)
    new = dc.tl.predict(model, expr=mdata["rna"], progress=False)
    assert isinstance(new, anndata.AnnData)
    assert new.shape == (mdata["rna"].n_obs, len(model.loci))
    assert list(new.var_names) == list(model.loci.index)
    assert new.obsm["tf_expr"].shape == (new.n_obs, len(model.tfs))
    assert new.varm["motif_scores"].shape == (new.n_vars, len(model.tfs))
    same = new[adata.obs_names, adata.var_names].layers["deepcage"]
    np.testing.assert_allclose(same, adata.layers["deepcage"], atol=1e-5)
    # a DataFrame of expression works the same
    df = mdata["rna"].to_df().iloc[:2]
    from_df = dc.tl.predict(model, expr=df, progress=False)
    np.testing.assert_allclose(from_df.layers["deepcage"], new.layers["deepcage"][:2], atol=1e-6)


def test_predict_new_loci_reads_genome_and_scores_motifs(model, mdata):
    shifted = model.loci.iloc[:30][["chrom", "start", "end"]].copy()
    shifted["start"] += 7
    shifted["end"] += 7
    with pytest.raises(ValueError, match="motifs"):
        dc.tl.predict(model, expr=mdata["rna"], loci=shifted, progress=False)
    model.motifs = dc.datasets.synthetic_motifs(mdata)
    try:
        new = dc.tl.predict(model, expr=mdata["rna"], loci=shifted, progress=False)
        # motif scores recomputed from the genome equal the preprocessing's for the unshifted loci
        same = dc.tl.predict(model, expr=mdata["rna"], loci=list(model.loci.index[:30]), progress=False)
        np.testing.assert_allclose(same.layers["deepcage"], new.layers["deepcage"], atol=0.2)
    finally:
        model.motifs = None
    assert new.shape == (mdata["rna"].n_obs, 30)
    assert np.isfinite(new.layers["deepcage"]).all()


def test_save_load_round_trip(model, adata, tmp_path):
    dc.tl.predict(model, adata, progress=False)
    path = model.save(tmp_path / "m")
    with pytest.raises(FileExistsError):
        model.save(path)
    model.save(path, overwrite=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers
    loaded = dc.DeepCAGE.load(path, map_location="cpu")
    assert loaded.tfs == model.tfs and loaded.task == model.task and loaded.genome == model.genome
    np.testing.assert_array_equal(loaded.tf_reference["quantiles"], model.tf_reference["quantiles"])
    pd.testing.assert_frame_equal(loaded.loci, model.loci, check_dtype=False)
    pd.testing.assert_frame_equal(loaded.history_, model.history_)
    np.testing.assert_array_equal(loaded.loci_codes, model.loci_codes)
    again = adata.copy()
    dc.tl.predict(loaded, again, progress=False)
    np.testing.assert_array_equal(again.layers["deepcage"], adata.layers["deepcage"])


def test_load_and_predict_in_a_fresh_process(model, mdata, tmp_path):
    """A saved model predicts from RNA alone in another process, without the training AnnData or the genome."""
    path = model.save(tmp_path / "m")
    rna = tmp_path / "rna.csv"
    mdata["rna"].to_df().to_csv(rna)
    expected = dc.tl.predict(model, expr=mdata["rna"].to_df(), progress=False).layers["deepcage"]
    code = (
        "import sys, numpy as np, pandas as pd, deepcage as dc\n"
        "m = dc.DeepCAGE.load(sys.argv[1], map_location='cpu')\n"
        "m.genome['fasta'] = ['/nonexistent.fa']\n"
        "new = dc.tl.predict(m, expr=pd.read_csv(sys.argv[2], index_col=0), progress=False)\n"
        "np.save(sys.argv[3], new.layers['deepcage'])\n"
    )
    out = tmp_path / "pred.npy"
    subprocess.run([sys.executable, "-c", code, str(path), str(rna), str(out)], check=True)
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6)


def test_streaming_bigwig_and_h5ad(model, mdata, tmp_path):
    import pyBigWig

    new = dc.tl.predict(model, expr=mdata["rna"], progress=False)
    paths = dc.tl.predict(model, expr=mdata["rna"], out=tmp_path / "tracks", chunk_size=70, progress=False)
    assert len(paths) == new.n_obs
    locus = new.var.iloc[5]
    with pyBigWig.open(str(paths[2])) as bw:
        value = bw.stats(locus["chrom"], int(locus["start"]), int(locus["end"]), type="mean")[0]
    assert value == pytest.approx(float(new.layers["deepcage"][2, 5]), abs=1e-5)
    h5 = dc.tl.predict(model, expr=mdata["rna"], out=tmp_path / "pred.h5ad", chunk_size=70, progress=False)
    back = anndata.read_h5ad(h5, backed="r")
    np.testing.assert_allclose(np.asarray(back.X[:, :]), new.layers["deepcage"], atol=1e-6)
    assert list(back.var_names) == list(new.var_names)


def test_predict_errors(model, adata, mdata):
    renamed = adata.copy()
    renamed.obsm["tf_expr"] = renamed.obsm["tf_expr"].rename(columns={"TF2": "XYZ"})
    with pytest.raises(ValueError, match=r"missing \['TF2'\].*extra \['XYZ'\]"):
        dc.tl.predict(model, renamed, progress=False)
    nan = adata.copy()
    nan.obsm["tf_expr"].iloc[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        dc.tl.predict(model, nan, progress=False)
    rna = mdata["rna"].to_df().copy()
    rna.iloc[0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        dc.tl.predict(model, expr=rna, progress=False)
    other = adata.copy()
    other.uns["deepcage"] = dict(other.uns["deepcage"])
    other.uns["deepcage"]["genome"] = dict(other.uns["deepcage"]["genome"], name="hg38")
    with pytest.raises(ValueError, match="trained on genome 'synthetic'.*'hg38'"):
        dc.tl.predict(model, other, progress=False)
    with pytest.raises(ValueError, match="trained on genome"):
        dc.tl.predict(
            model,
            expr=mdata["rna"],
            loci=model.loci.iloc[:3],
            genome=dc.Genome(model.genome["fasta"], name="hg19"),
        )
    with pytest.raises(ValueError, match="Pass adata"):
        dc.tl.predict(model)


def test_cli_fit_and_predict(mdata, tmp_path):
    from deepcage.cli import main

    h5 = tmp_path / "data.h5mu"
    mdata.write(h5)
    args = [
        "fit",
        str(h5),
        str(tmp_path / "model"),
        "--preset",
        "small",
        "--hidden",
        "16",
        "--max-epochs",
        "1",
    ]
    assert main([*args, "--no-progress"]) == 0
    assert (tmp_path / "model" / "model.json").is_file()
    rna = tmp_path / "rna.tsv"
    mdata["rna"].to_df().T.to_csv(rna, sep="\t")  # genes x samples, as RSEM-style tables are
    assert (
        main(
            [
                "predict",
                str(tmp_path / "model"),
                str(tmp_path / "p.h5ad"),
                "--expr",
                str(rna),
                "--no-progress",
            ]
        )
        == 0
    )
    out = anndata.read_h5ad(tmp_path / "p.h5ad")
    assert out.layers["deepcage"].shape == (mdata.n_obs, mdata["atac"].n_vars)
    assert (
        main(["predict", str(tmp_path / "model"), str(tmp_path / "bw"), "--data", str(h5), "--no-progress"])
        == 0
    )
    assert len(list((tmp_path / "bw").glob("*.bw"))) == mdata.n_obs
