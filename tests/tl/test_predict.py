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

FAST = {"preset": "small", "hidden": 32, "batch_loci": 64, "progress": False, "lr": 3e-3}


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
    # equals the low-level call on the stored sequences (with the names, so the training samples' labels are
    # used at the loci the model knows, each sample's own left out)
    low = model.predict_arrays(
        model.loci_codes,
        adata.varm["motif_scores"].to_numpy(),
        adata.obsm["tf_expr"].to_numpy(),
        loci=adata.var_names,
        samples=adata.obs_names,
    )
    np.testing.assert_array_equal(pred, low.T)
    copy = dc.tl.predict(model, adata, key_added="other", copy=True, progress=False)
    assert "other" in copy.layers and "other" not in adata.layers


def test_predict_new_expression_matches_in_adata(model, mdata, adata):
    dc.tl.predict(model, adata, progress=False)
    # the training samples' own RNA: left out of their own reference, as in the AnnData
    new = dc.tl.predict(model, expr=mdata["rna"], exclude_self=True, progress=False)
    assert isinstance(new, anndata.AnnData)
    assert new.shape == (mdata["rna"].n_obs, len(model.loci))
    assert list(new.var_names) == list(model.loci.index)
    assert new.obsm["tf_expr"].shape == (new.n_obs, len(model.tfs))
    assert "motif_scores" not in new.varm  # not copied unless asked
    with_scores = dc.tl.predict(
        model, expr=mdata["rna"], exclude_self=True, motif_scores=True, progress=False
    )
    np.testing.assert_array_equal(
        with_scores.varm["motif_scores"].loc[adata.var_names].to_numpy(),
        adata.varm["motif_scores"].to_numpy(),
    )
    same = new[adata.obs_names, adata.var_names].layers["deepcage"]
    np.testing.assert_allclose(same, adata.layers["deepcage"], atol=1e-5)
    # a DataFrame of expression works the same
    df = mdata["rna"].to_df().iloc[:2]
    from_df = dc.tl.predict(model, expr=df, exclude_self=True, progress=False)
    np.testing.assert_allclose(from_df.layers["deepcage"], new.layers["deepcage"][:2], atol=1e-6)


def test_predict_new_loci_reads_genome_and_scores_motifs(model, mdata):
    shifted = model.loci.iloc[:30][["chrom", "start", "end"]].copy()
    shifted["start"] += 7
    shifted["end"] += 7
    assert model.motif_scan is not None  # stored by fit: new loci are scored as the training loci were
    new = dc.tl.predict(model, expr=mdata["rna"], loci=shifted, progress=False)
    # motif scores recomputed from the genome equal the preprocessing's for the unshifted loci
    same = dc.tl.predict(
        model, expr=mdata["rna"], loci=list(model.loci.index[:30]), motif_scores=True, progress=False
    )
    # the shifted loci are new to the model (no training labels there): compare with the same mode
    unlabelled = model.predict_arrays(
        model.loci_codes[:30], same.varm["motif_scores"].to_numpy(), same.obsm["tf_expr"].to_numpy()
    )
    np.testing.assert_allclose(unlabelled.T, new.layers["deepcage"], atol=0.2)
    assert new.shape == (mdata["rna"].n_obs, 30)
    assert np.isfinite(new.layers["deepcage"]).all()


def _motif_with_threshold(motifs, cut):
    from deepcage.io import Motif

    return [Motif(name=m.name, pwm=m.pwm, tf=m.tf, threshold=cut) for m in motifs]


@pytest.mark.parametrize(
    "scan",
    [
        {"window": 500, "background": (0.3, 0.2, 0.2, 0.3), "min_score": 4.0},
        {"window": 800, "min_score": "motif"},  # HOMER-style per-motif thresholds, as the paper scanned
    ],
    ids=["window-background-number", "motif-thresholds"],
)
def test_new_loci_are_scored_with_the_recorded_scan(scan, tmp_path):
    """Loci given as a bare table are scanned exactly as dc.pp.motif_scores scanned the training AnnData."""
    md = dc.datasets.synthetic(n_samples=6, n_loci=240, n_tfs=4, seed=7, rna=True)
    ad = md["atac"]
    motifs = _motif_with_threshold(dc.datasets.synthetic_motifs(ad), 3.0)
    dc.pp.motif_scores(ad, motifs, progress=False, **scan)
    # the record survives the file (what the CLI's prepare -> fit path goes through)
    ad.write_h5ad(tmp_path / "a.h5ad")
    ad = anndata.read_h5ad(tmp_path / "a.h5ad")
    model = dc.tl.fit(ad, max_epochs=1, store_loci=False, accelerator="cpu", **FAST)
    rec = model.motif_scan
    assert rec.window == scan["window"] and rec.min_score == scan["min_score"]
    assert rec.background == tuple(scan.get("background", (0.25,) * 4))
    model = dc.DeepCAGE.load(model.save(tmp_path / "m"))  # and the saved model
    assert model.motif_scan.sha256 == rec.sha256
    genome = dc.Genome(model.genome["fasta"], name=model.genome["name"])
    loci = ad.var[["chrom", "start", "end"]].reset_index(drop=True)
    rescored = model.motif_scan.score(
        model.motif_scan.read(genome, loci["chrom"], loci["start"], loci["end"]), model.tfs
    )
    np.testing.assert_array_equal(rescored, ad.varm["motif_scores"].to_numpy())
    dc.tl.predict(model, ad, progress=False)
    new = dc.tl.predict(model, expr=md["rna"], loci=loci, genome=genome, exclude_self=True, progress=False)
    np.testing.assert_allclose(new[ad.obs_names].layers["deepcage"], ad.layers["deepcage"], atol=1e-6)
    # the default scan would have given other scores: the test can see a settings mismatch
    default = dc.pp.motif_scores(ad, motifs, progress=False, copy=True).varm["motif_scores"].to_numpy()
    assert np.abs(default - rescored).max() > 0.5


def test_scores_made_outside_refuse_new_loci(mdata):
    ad = mdata["atac"].copy()
    del ad.uns["deepcage"]["motif_scan"]
    model = dc.tl.fit(ad, max_epochs=1, accelerator="cpu", **FAST)
    assert model.motif_scan is None and model.motifs is None
    shifted = model.loci.iloc[:5][["chrom", "start", "end"]].copy()
    shifted[["start", "end"]] += 7
    with pytest.raises(ValueError, match="No motif scores for the 5 loci"):
        dc.tl.predict(model, expr=mdata["rna"], loci=shifted, progress=False)
    model.motifs = dc.datasets.synthetic_motifs(ad)  # motifs alone: the settings are unknown
    with pytest.raises(ValueError, match="no record of how its training loci were scored"):
        dc.tl.predict(model, expr=mdata["rna"], loci=shifted, progress=False)
    model.set_motif_scan(dc.datasets.synthetic_motifs(ad), window=1000)
    assert dc.tl.predict(model, expr=mdata["rna"], loci=shifted, progress=False).shape[1] == 5


def test_new_rna_predictions_do_not_depend_on_the_sample_name(model, mdata):
    """The same RNA named like a training sample or not: the same predictions (a warning names the clash)."""
    rna = mdata["rna"].to_df().iloc[:1]
    train_name = model.reference_samples[0]
    with pytest.warns(UserWarning, match="share a name with a training sample"):
        named = dc.tl.predict(model, expr=rna.set_axis([train_name]), progress=False)
    other = dc.tl.predict(model, expr=rna.set_axis(["new_sample"]), progress=False)
    np.testing.assert_array_equal(named.layers["deepcage"], other.layers["deepcage"])
    own = dc.tl.predict(model, expr=rna.set_axis([train_name]), exclude_self=True, progress=False)
    assert np.abs(own.layers["deepcage"] - other.layers["deepcage"]).max() > 0  # left out of its own prior


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
    pd.testing.assert_frame_equal(loaded.loci, model.loci, check_dtype=False, check_categorical=False)
    pd.testing.assert_frame_equal(loaded.history, model.history)
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
    paths = dc.tl.predict_genome(model, mdata["rna"], out=tmp_path / "tracks", chunk_size=70, progress=False)
    assert len(paths) == new.n_obs
    locus = new.var.iloc[5]
    with pyBigWig.open(str(paths[2])) as bw:
        value = bw.stats(locus["chrom"], int(locus["start"]), int(locus["end"]), type="mean")[0]
    assert value == pytest.approx(float(new.layers["deepcage"][2, 5]), abs=1e-5)
    h5 = dc.tl.predict_genome(model, mdata["rna"], out=tmp_path / "pred.h5ad", chunk_size=70, progress=False)
    back = anndata.read_h5ad(h5, backed="r")
    np.testing.assert_allclose(np.asarray(back.X[:, :]), new.layers["deepcage"], atol=1e-6)
    assert list(back.var_names) == list(new.var_names)
    back.file.close()
    # the spelling before predict_genome still works, with a FutureWarning naming the new function
    with pytest.warns(FutureWarning, match=r"dc\.tl\.predict_genome"):
        old = dc.tl.predict(
            model, expr=mdata["rna"], out=tmp_path / "old.h5ad", chunk_size=70, progress=False
        )
    np.testing.assert_array_equal(anndata.read_h5ad(old).X, anndata.read_h5ad(h5).X)


def test_genome_wide_bins_stream_to_h5ad_bigwig_and_cli(model, mdata, tmp_path):
    """Whole-genome prediction for a new sample: compact bins (no names), motifs scanned chunk by chunk."""
    import pyBigWig

    from deepcage.cli import main

    genome = dc.Genome(model.genome["fasta"], name=model.genome["name"])
    bins = dc.pp.bin_genome(genome, chroms=["chr2", "chr3"], names=False)
    assert isinstance(bins.index, pd.RangeIndex) and isinstance(bins["chrom"].dtype, pd.CategoricalDtype)
    rna = mdata["rna"].to_df().iloc[:2]
    assert model.motif_scan is not None  # stored by fit: new loci are scored as the training loci were
    full = dc.tl.predict(model, expr=rna, loci=bins, genome=genome, progress=False)
    first = bins.iloc[0]
    assert full.var_names[0] == f"{first['chrom']}:{first['start']}-{first['end']}"
    h5 = dc.tl.predict_genome(
        model, rna, bins, genome=genome, out=tmp_path / "g.h5ad", chunk_size=97, progress=False
    )
    back = anndata.read_h5ad(h5, backed="r")
    np.testing.assert_allclose(np.asarray(back.X[:, :]), full.layers["deepcage"], atol=1e-6)
    assert list(back.var_names) == list(full.var_names)
    assert back.var["chrom"].astype(str).tolist() == bins["chrom"].astype(str).tolist()
    np.testing.assert_array_equal(back.var["start"].to_numpy(), bins["start"].to_numpy())
    back.file.close()
    dc.tl.predict_genome(
        model, rna.iloc[:1], bins, genome=genome, out=tmp_path / "one.bw", chunk_size=97, progress=False
    )
    with pyBigWig.open(str(tmp_path / "one.bw")) as bw:
        got = np.array([v for _, _, v in bw.intervals("chr2")])
    np.testing.assert_allclose(got, full.layers["deepcage"][0, : len(got)], atol=1e-6)
    # the CLI: deepcage predict MODEL --expr rna.tsv --genome FASTA --bin-size 200 --out pred.bw
    model.save(tmp_path / "m")
    tsv = tmp_path / "rna.tsv"
    rna.iloc[:1].T.to_csv(tsv, sep="\t")
    args = ["predict", str(tmp_path / "m"), "--out", str(tmp_path / "cli.bw"), "--expr", str(tsv)]
    args += ["--genome", *model.genome["fasta"], "--bin-size", "200", "--chroms", "chr2", "--no-progress"]
    assert main(args) == 0
    with pyBigWig.open(str(tmp_path / "cli.bw")) as bw:
        np.testing.assert_allclose([v for _, _, v in bw.intervals("chr2")], got, atol=1e-6)


@pytest.mark.slow
def test_prediction_on_two_processes_equals_one_process(model, mdata, tmp_path):
    """Loci split over 2 CPU processes (gloo, as on several GPUs), merged in order: same output as one process."""
    genome = dc.Genome(model.genome["fasta"], name=model.genome["name"])
    bins = dc.pp.bin_genome(genome, chroms=["chr2"], names=False)
    rna = mdata["rna"].to_df().iloc[:3]
    assert model.motif_scan is not None  # stored by fit: new loci are scored as the training loci were
    kw = {"expr": rna, "loci": bins, "genome": genome, "chunk_size": 60, "progress": False}
    one = dc.tl.predict_genome(model, out=tmp_path / "one.h5ad", **kw)
    two = dc.tl.predict_genome(
        model, out=tmp_path / "two.h5ad", devices=2, accelerator="cpu", strategy="ddp_spawn", **kw
    )
    a, b = anndata.read_h5ad(one), anndata.read_h5ad(two)
    assert a.shape == b.shape == (3, len(bins)) and -(-len(bins) // 60) >= 2
    np.testing.assert_array_equal(np.asarray(b.X), np.asarray(a.X))
    assert list(b.var_names) == list(a.var_names) and list(b.obs_names) == list(a.obs_names)
    assert not list(tmp_path.glob(".deepcage-predict-*"))  # the shared parts file is gone


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


def _shifted_assembly(model, adata, tmp_path, shift=500):
    """The synthetic loci on a made-up assembly 'asmX' (every contig 500 bp longer at its start) and the chain
    from asmX to the model's genome; the second half of chr3 is missing from the chain (cannot be lifted)."""
    sizes = model.genome["chrom_sizes"]
    blocks = []
    for i, (chrom, size) in enumerate(sizes.items()):
        n = size // 2 if chrom == "chr3" else size
        blocks.append(
            f"chain 1000 {chrom} {size + shift} + {shift} {shift + n} {chrom} {size} + 0 {n} {i + 1}\n{n}\n"
        )
    chain = tmp_path / "asmXToSynthetic.over.chain"
    chain.write_text("\n".join(blocks) + "\n")
    caller = adata.copy()
    caller.var["start"] += shift
    caller.var["end"] += shift
    caller.var_names = [
        f"{c}:{s}-{e}" for c, s, e in caller.var[["chrom", "start", "end"]].itertuples(index=False)
    ]
    caller.uns["deepcage"] = dict(
        caller.uns["deepcage"], genome={"name": "asmX", "fasta": [], "chrom_sizes": {}}
    )
    lost = ((caller.var["chrom"] == "chr3") & (adata.var["end"].to_numpy() > sizes["chr3"] // 2)).to_numpy()
    return chain, caller, lost


def test_predict_loci_of_another_assembly(model, mdata, adata, tmp_path):
    chain, caller, lost = _shifted_assembly(model, adata, tmp_path)
    assert 0 < lost.sum() < len(lost)
    with pytest.raises(
        ValueError,
        match=r"trained on genome 'synthetic' but adata uses 'asmX'.*dc\.pp\.liftover.*liftover='asmXToSynthetic'",
    ):
        dc.tl.predict(model, caller, progress=False)

    dc.tl.predict(model, adata, progress=False)
    want = adata.layers["deepcage"]
    dc.tl.predict(model, caller, liftover=chain, progress=False)  # (a): results on the caller's loci
    got = caller.layers["deepcage"]
    assert got.shape == caller.shape
    np.testing.assert_allclose(got[:, ~lost], want[:, ~lost], atol=1e-6)
    assert np.isnan(got[:, lost]).all()
    assert (caller.var["lifted_to"].to_numpy()[~lost] == adata.var_names.to_numpy()[~lost]).all()
    assert (caller.var["lifted_to"].to_numpy()[lost] == "").all()
    report = caller.uns["deepcage"]["predict"]["deepcage"]["liftover"]
    assert report["n_dropped"] == lost.sum() and report["target_genome"] == "synthetic"
    assert caller.uns["deepcage"]["genome"]["name"] == "asmX"  # the caller's data stay on their assembly

    # (b) new samples' RNA on loci given by name
    new = dc.tl.predict(
        model, expr=mdata["rna"], loci=list(caller.var_names), liftover=str(chain), progress=False
    )
    ref = dc.tl.predict(model, expr=mdata["rna"], progress=False)[:, adata.var_names]
    assert list(new.var_names) == list(caller.var_names) and list(new.obs_names) == list(ref.obs_names)
    np.testing.assert_allclose(new.layers["deepcage"][:, ~lost], ref.layers["deepcage"][:, ~lost], atol=1e-6)
    assert np.isnan(new.layers["deepcage"][:, lost]).all()

    # a chain in the wrong direction, or towards another assembly, is refused with both names
    backwards = tmp_path / "synthToAsmX.over.chain"
    backwards.write_text(chain.read_text())
    with pytest.raises(
        ValueError, match=r"lifts from 'synth' to 'asmX', but the model was trained on 'synthetic'"
    ):
        dc.tl.predict(model, caller, liftover=backwards, progress=False)
    with pytest.raises(ValueError, match="liftover= returns predictions in memory"):
        dc.tl.predict(model, caller, liftover=chain, out=tmp_path / "p.h5ad")


def test_new_loci_on_a_contig_only_the_passed_genome_has(model, mdata, tmp_path):
    """A model trained on some contigs predicts the others from a fuller FASTA of the same assembly."""
    trained = dc.Genome(model.genome["fasta"])
    rng = np.random.default_rng(0)
    fasta = tmp_path / "fuller.fa"
    with open(fasta, "w") as fh:
        for chrom in trained.chroms:
            fh.write(f">{chrom}\n{trained.fetch(chrom, 0, trained.chrom_size(chrom))}\n")
        fh.write(">chrExtra\n" + "".join(rng.choice(list("ACGT"), 20_000)) + "\n")
    fuller = dc.Genome(fasta, name=model.genome.get("name"))
    loci = pd.DataFrame({"chrom": "chrExtra", "start": np.arange(2000, 12_000, 500)})
    loci["end"] = loci["start"] + 200
    assert "chrExtra" not in model.genome.get("chrom_sizes", {})
    pred = dc.tl.predict(model, expr=mdata["rna"][:2], loci=loci, genome=fuller, progress=False)
    assert pred.shape == (2, len(loci))
    assert np.isfinite(pred.X).all()
    # without the fuller genome the contig is unknown: a clear error, not a silent drop
    with pytest.raises(ValueError, match="chrExtra"):
        dc.tl.predict(model, expr=mdata["rna"][:2], loci=loci, progress=False)
