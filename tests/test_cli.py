"""The command line: prepare -> fit -> predict on the real blood-cell files, without Python; defaults and help.

The bad inputs of the command line (one-line errors, exit codes) are in ``tests/test_bad_inputs.py``.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

import anndata
import numpy as np
import pytest

from deepcage.cli import build_parser, main


@pytest.mark.slow
def test_prepare_fit_predict_on_blood_cells(shared_data, tmp_path, capsys):
    """Files -> .h5mu -> model folder -> predictions for cell types with RNA only (CMP, MEP have no ATAC)."""
    d = shared_data
    (tmp_path / "regions.bed").write_text("chr20\t9995000\t10600000\n")  # ~270 loci of the sequenced slice
    peaks = [
        str(d / "heme-hg19" / "peaks" / f"{c}.narrowPeak.gz") for c in ("HSC", "CLP", "GMP-A", "CD4", "CD8")
    ]
    data = tmp_path / "heme.h5mu"
    prepare = [
        "prepare",
        str(data),
        "--peaks",
        *peaks,
        "--rna",
        str(d / "heme-hg19" / "rna_counts.tsv"),
        "--genome",
        str(d / "genome" / "hg19_chr20_slices.fa.gz"),
        str(d / "genome" / "b37_20_1-1Mb.fa.gz"),
        "--genome-name",
        "hg19",
        "--motifs",
        str(d / "motifs" / "HOCOMOCOv11_core_HUMAN_mono_homer_format_0.001.motif"),
        "--motif-tf-table",
        str(d / "motifs" / "HOCOMOCOv11_HUMAN_mono_motifs_core.tsv"),
        "--regions",
        str(tmp_path / "regions.bed"),
        "--blacklist",
        str(d / "annotation" / "hg19-blacklist.v2.bed"),
        "--test",
        "CD8",
        "--test-regions",
        "chr20:10520000-10600000",
        "--val-block",
        "20000",
        "--no-progress",
    ]
    assert main(prepare) == 0
    mdata = __import__("mudata").read_h5mu(data)
    atac = mdata["atac"]
    assert list(atac.obs_names) == ["HSC", "CLP", "GMP-A", "CD4", "CD8"]
    assert atac.obs["split"].astype(str).tolist() == ["train"] * 4 + ["test"]
    counts = atac.var["split"].astype(str).value_counts()
    assert counts["train"] > 100 and counts["val"] > 5 and counts["test"] > 5
    assert atac.uns["deepcage"]["split"]["params"]["val_block"] == 20000
    assert atac.varm["motif_scores"].shape[1] > 300  # HOCOMOCO v11 TFs with expression
    assert {"CMP", "MEP"} <= set(mdata["rna"].obs_names)

    model = tmp_path / "model"
    fit = [
        "fit",
        str(data),
        str(model),
        "--preset",
        "small",
        "--hidden",
        "16",
        "--max-epochs",
        "2",
        "--no-progress",
    ]
    assert main(fit) == 0
    assert (model / "manifest.json").is_file()

    out = tmp_path / "pred.h5ad"
    predict = [
        "predict",
        str(model),
        str(out),
        "--expr",
        str(d / "heme-hg19" / "rna_counts.tsv"),
        "--no-progress",
    ]
    assert main(predict) == 0
    pred = anndata.read_h5ad(out)
    assert {"CMP", "MEP"} <= set(pred.obs_names) and pred.n_vars == atac.n_vars
    p = pred.layers["deepcage"]
    assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
    assert "error" not in capsys.readouterr().err

    # genome-wide: bin, scan the new bins with the motif scan prepare recorded, predict, one bigWig per sample
    tracks = tmp_path / "tracks"
    genome = [str(d / "genome" / "hg19_chr20_slices.fa.gz"), str(d / "genome" / "b37_20_1-1Mb.fa.gz")]
    genome_wide = ["predict", str(model), str(tracks), "--expr", str(d / "heme-hg19" / "rna_counts.tsv")]
    genome_wide += ["--genome", *genome, "--bin-size", "200", "--regions", str(tmp_path / "regions.bed")]
    genome_wide += ["--blacklist", str(d / "annotation" / "hg19-blacklist.v2.bed"), "--no-progress"]
    assert main(genome_wide) == 0
    assert {"CD8.bw", "CMP.bw", "MEP.bw"} <= {p.name for p in tracks.iterdir()}
    in_place = tmp_path / "in_place.h5ad"
    assert main(["predict", str(model), str(in_place), "--data", str(data), "--no-progress"]) == 0
    want = anndata.read_h5ad(in_place)
    import pyBigWig

    with pyBigWig.open(str(tracks / "CD8.bw")) as bw:
        track = {f"{c}:{s}-{e}": v for c in bw.chroms() for s, e, v in bw.intervals(c)}
    at_loci = np.array([track[n] for n in want.var_names])  # every training locus is a bin of the track
    # equal up to float32 rounding (the RNA is normalised again from the table; obsm holds the prepared copy)
    np.testing.assert_allclose(at_loci, want["CD8"].layers["deepcage"].ravel(), atol=1e-5)


# ENCODE DNase cell lines (hg19 peaks) -> hg38: the rows of expression/encode_tf_tpm.tsv, from
# encode/encode_tf_tpm_rowid_to_cell.tsv (an inferred mapping, see the data README); A549 has RNA only
_ENCODE_LINES = {"GM12878": "Gm12878", "HeLa-S3": "Helas3", "HUVEC": "Huvec", "K562": "K562"}
_ENCODE_TPM_ROWS = {"GM12878": "21", "HeLa-S3": "25", "HUVEC": "11", "K562": "30", "A549": "1"}
# where lifted peaks lie inside the FASTA's 10 Mb and outside the hg38 blacklist (chr21 is N or blacklisted
# before 8.68 Mb); starts are multiples of the 200-bp bins
_HG38_REGIONS = (("chr20", 5_000_000, 6_000_000), ("chr21", 8_680_000, 9_150_000))


@pytest.fixture(scope="module")
def encode_hg38(shared_data, tmp_path_factory):
    """The four ENCODE DNase narrowPeaks lifted hg19 -> hg38 (dc.pp.liftover), a genes x samples TPM table."""
    import deepcage as dc

    d = shared_data
    root = tmp_path_factory.mktemp("encode_hg38")
    chain = d / "annotation" / "hg19ToHg38.over.chain.gz"
    size = 10_000_000  # the FASTA holds chr20:1-10,000,000 and chr21:1-10,000,000
    peaks = []
    for sample, stem in _ENCODE_LINES.items():
        hg19 = dc.io.read_narrowpeak(d / "encode" / f"wgEncodeAwgDnaseUwduke{stem}UniPk.narrowPeak.gz")
        hg19 = hg19[hg19["chrom"].isin(["chr20", "chr21"])]
        lifted = dc.pp.liftover(hg19, chain, progress=False)
        assert lifted.attrs["genome"]["name"] == "hg38"
        lifted = lifted[lifted["end"] <= size]
        assert set(lifted["chrom"]) == {"chr20", "chr21"}
        path = root / f"{sample}.narrowPeak"
        columns = ["chrom", "start", "end", "name", "score", "strand", "signal", "pvalue", "qvalue", "summit"]
        lifted[columns].to_csv(path, sep="\t", header=False, index=False)
        peaks.append(path)
    tpm = dc.datasets.encode_tf_tpm(d / "expression" / "encode_tf_tpm.tsv")
    rows = list(_ENCODE_TPM_ROWS.values())
    table = tpm[rows].to_df().T.set_axis(list(_ENCODE_TPM_ROWS), axis=1)  # genes x samples
    table.index.name = "gene"
    table.to_csv(root / "rna_tpm.tsv", sep="\t")
    regions = root / "regions.bed"
    regions.write_text("".join(f"{c}\t{s}\t{e}\n" for c, s, e in _HG38_REGIONS))
    return {"peaks": peaks, "rna": root / "rna_tpm.tsv", "regions": regions}


@pytest.mark.slow
def test_prepare_fit_predict_genome_wide_on_hg38(shared_data, encode_hg38, tmp_path, capsys):
    """hg38, both contigs: lifted ENCODE peaks -> .h5mu -> model -> one bigWig per RNA sample over both contigs,
    equal to the in-place predictions at the prepared loci."""
    d = shared_data
    genome = str(d / "genome" / "hg38_chr20_chr21_1-10Mb.fa.gz")
    blacklist = str(d / "annotation" / "hg38-blacklist.v2.bed")
    rna = str(encode_hg38["rna"])
    data = tmp_path / "encode.h5mu"
    prepare = ["prepare", str(data), "--peaks", *map(str, encode_hg38["peaks"]), "--rna", rna]
    prepare += ["--genome", genome, "--genome-name", "hg38"]
    prepare += ["--motifs", str(d / "motifs" / "HOCOMOCOv11_core_HUMAN_mono_homer_format_0.001.motif")]
    prepare += ["--motif-tf-table", str(d / "motifs" / "HOCOMOCOv11_HUMAN_mono_motifs_core.tsv")]
    prepare += ["--regions", str(encode_hg38["regions"]), "--blacklist", blacklist, "--test", "K562"]
    prepare += ["--test-regions", "chr20:5800000-6000000", "--no-progress"]
    assert main(prepare) == 0
    mdata = __import__("mudata").read_h5mu(data)
    atac = mdata["atac"]
    assert list(atac.obs_names) == list(_ENCODE_LINES)
    assert atac.obs["split"].astype(str).tolist() == ["train"] * 3 + ["test"]
    assert set(atac.var["chrom"].astype(str)) == {"chr20", "chr21"}
    counts = atac.var["split"].astype(str).value_counts()
    assert counts["train"] > 100 and counts["val"] > 5 and counts["test"] > 5
    assert atac.uns["deepcage"]["genome"]["name"] == "hg38"
    assert "A549" in set(mdata["rna"].obs_names)

    model = tmp_path / "model"
    fit = ["fit", str(data), str(model), "--preset", "small", "--hidden", "16", "--max-epochs", "2"]
    assert main([*fit, "--no-progress"]) == 0
    import deepcage as dc

    assert dc.DeepCAGE.load(model).genome["name"] == "hg38"

    out = tmp_path / "pred.h5ad"
    assert main(["predict", str(model), str(out), "--expr", rna, "--no-progress"]) == 0
    pred = anndata.read_h5ad(out)
    assert set(pred.obs_names) == set(_ENCODE_TPM_ROWS) and list(pred.var_names) == list(atac.var_names)

    # genome-wide over both contigs' regions: one bigWig per sample of the RNA table
    tracks = tmp_path / "tracks"
    genome_wide = ["predict", str(model), str(tracks), "--expr", rna, "--genome", genome, "--bin-size", "200"]
    genome_wide += ["--regions", str(encode_hg38["regions"]), "--blacklist", blacklist, "--no-progress"]
    assert main(genome_wide) == 0
    assert sorted(p.name for p in tracks.iterdir()) == sorted(f"{s}.bw" for s in _ENCODE_TPM_ROWS)
    in_place = tmp_path / "in_place.h5ad"
    assert main(["predict", str(model), str(in_place), "--data", str(data), "--no-progress"]) == 0
    want = anndata.read_h5ad(in_place)
    assert "error" not in capsys.readouterr().err
    import pyBigWig

    n_bins = sum(e - s for _, s, e in _HG38_REGIONS) // 200
    for sample in _ENCODE_TPM_ROWS:
        with pyBigWig.open(str(tracks / f"{sample}.bw")) as bw:
            assert bw.header()["nBasesCovered"] > 0
            track = {f"{c}:{s}-{e}": v for c in bw.chroms() for s, e, v in bw.intervals(c) or ()}
        assert {n.split(":")[0] for n in track} == {"chr20", "chr21"}
        assert 0.5 * n_bins < len(track) <= n_bins  # every bin of the regions but the blacklisted ones
        values = np.array(list(track.values()))
        assert np.isfinite(values).all() and ((values >= 0) & (values <= 1)).all()
        at_loci = np.array([track[n] for n in want.var_names])  # every prepared locus is a bin of the track
        # the same --expr predictions in memory (every sample here is new RNA, its own neighbour if it trained)
        np.testing.assert_allclose(at_loci, pred[sample].X.ravel(), atol=1e-5)
        if (
            sample == "K562"
        ):  # held out: --data predicts it as --expr does (the RNA is normalised again: float32)
            np.testing.assert_allclose(at_loci, want[sample].layers["deepcage"].ravel(), atol=1e-5)


def _defaults(command: str) -> dict:
    sub = build_parser()._subparsers._group_actions[0].choices[command]
    return {a.dest: a.default for a in sub._actions if a.dest not in ("help",)}


@pytest.mark.parametrize("command", ["fit", "predict"])
def test_cli_defaults_are_the_python_defaults(command):
    from deepcage import tl

    params = inspect.signature(getattr(tl, command)).parameters
    cli = _defaults(command)
    shared = {
        k: v for k, v in cli.items() if k in params and params[k].default is not inspect.Parameter.empty
    }
    assert len(shared) >= 5
    from deepcage.model._config import RECIPE

    for name, value in shared.items():
        if params[name].default is RECIPE:  # not given on the command line -> the recipe's value
            assert value is None, f"--{name.replace('_', '-')}: CLI {value!r}, Python: from the recipe"
            continue
        assert value == params[name].default, (
            f"--{name.replace('_', '-')}: CLI {value!r} vs Python {params[name].default!r}"
        )


def test_expression_options_are_those_of_read_expression_table():
    from deepcage.io import read_expression_table

    params = inspect.signature(read_expression_table).parameters
    for command in ("prepare", "predict"):
        cli = _defaults(command)
        for name in ("orient", "units", "duplicates"):
            assert cli[name] == params[name].default, (command, name)


def test_help_and_version_answer_without_loading_torch():
    code = (
        "import sys; from deepcage.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "main(['--version'])\n"
        "print(sorted(m for m in ('torch', 'lightning', 'anndata', 'scanpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "prepare" in out and "predict" in out and "deepcage " in out
    assert out.strip().splitlines()[-1] == "[]"


def test_every_option_is_documented_on_the_cli_page():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()
    parser = build_parser()
    for name, sub in parser._subparsers._group_actions[0].choices.items():
        for action in sub._actions:
            for opt in action.option_strings:
                if opt.startswith("--") and opt not in ("--help", "--debug", "--threads", "--no-progress"):
                    assert opt in page, f"deepcage {name} {opt} is not on docs/cli.md"
    for opt in ("--debug", "--threads", "--no-progress", "--version"):
        assert opt in page


# ------------------------------------------------------------------------------------------------ interrupts and
# several processes (subprocesses: Ctrl-C and Lightning's DDP re-run the command itself)
@pytest.fixture(scope="module")
def tiny_h5ad(tmp_path_factory):
    import deepcage as dc

    root = tmp_path_factory.mktemp("cli_tiny")
    mdata = dc.datasets.synthetic(
        n_samples=4, n_loci=60, n_tfs=3, n_test_samples=1, rna=True, path=root / "synthetic.fa"
    )
    mdata["atac"].write_h5ad(root / "data.h5ad")
    return root / "data.h5ad"


def _deepcage(*args, cwd, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", "deepcage.cli", *map(str, args)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


_TINY_FIT = ["--preset", "small", "--hidden", "8", "--no-progress", "--threads", "1", "--accelerator", "cpu"]


@pytest.mark.slow
def test_ctrl_c_in_fit_is_one_line_exit_130_and_the_run_resumes(tiny_h5ad, tmp_path):
    import re
    import shlex
    import signal
    import time

    # Ctrl-C as from a terminal: a test run started in the background (`pytest &`, nohup) inherits SIGINT ignored,
    # and Python then keeps it ignored in the child
    proc = _deepcage(
        "fit",
        tiny_h5ad,
        "model",
        *_TINY_FIT,
        "--max-epochs",
        "400",
        "--patience",
        "400",
        cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    last = tmp_path / "model.checkpoints" / "last.ckpt"
    t0 = time.time()
    while not last.is_file() and proc.poll() is None and time.time() - t0 < 180:
        time.sleep(0.2)
    assert last.is_file(), proc.communicate()[1]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Detected KeyboardInterrupt" not in err, err
    line = next(x for x in err.splitlines() if "interrupted" in x)
    assert line.startswith("deepcage fit: interrupted; checkpoints kept in model.checkpoints; resume with: ")
    assert not (tmp_path / "model").exists()
    # a second run without --resume-from is refused, naming the checkpoints and the resume command
    from deepcage.cli import main

    code = main(["fit", str(tiny_h5ad), str(tmp_path / "model"), *_TINY_FIT, "--max-epochs", "2"])
    assert code == 2
    # the printed command resumes (fewer epochs here, to finish quickly) and leaves the model, not the checkpoints
    resume = shlex.split(line.split("resume with: ", 1)[1])
    assert resume[:2] == ["deepcage", "fit"] and resume[-2:] == [
        "--resume-from",
        "model.checkpoints/last.ckpt",
    ]
    done = max(int(m) for m in re.findall(r"epoch=(\d+)", " ".join(os.listdir(last.parent))))
    resume[resume.index("--max-epochs") + 1] = str(done + 2)
    proc = _deepcage(*resume[1:], cwd=tmp_path)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert (tmp_path / "model" / "manifest.json").is_file() and not last.parent.exists()
    import deepcage as dc

    assert len(dc.DeepCAGE.load(tmp_path / "model").history) == done + 2


@pytest.mark.slow
def test_fit_on_two_cpu_processes_saves_the_model_once(tiny_h5ad, tmp_path):
    """Lightning DDP re-runs 'deepcage fit' once per device: only rank 0 saves (once 'model exists' from rank 1)."""
    proc = _deepcage(
        "fit", tiny_h5ad, "model", *_TINY_FIT, "--max-epochs", "1", "--devices", "2", cwd=tmp_path
    )
    out, err = proc.communicate(timeout=500)
    assert proc.returncode == 0, err
    assert out.count("saved to model") == 1, out
    assert "error" not in err, err
    warnings_ = [x for x in err.splitlines() if "warning" in x.lower()]
    assert all(x.startswith("deepcage fit: warning: ") for x in warnings_), err
    assert len(warnings_) == len(set(warnings_)), err  # rank 1 stays quiet
    assert not (tmp_path / "model.checkpoints").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    import deepcage as dc

    model = dc.DeepCAGE.load(tmp_path / "model")
    expr = anndata.read_h5ad(tiny_h5ad).obsm["tf_expr"].rename(index=lambda s: f"new_{s}") * 0 + 1
    p = dc.tl.predict(model, expr=expr, progress=False)
    assert np.isfinite(p.layers["deepcage"]).all()


def test_fit_recipe_paper_trains_the_published_network_and_flags_override_it(tiny_h5ad, tmp_path):
    import deepcage as dc

    tiny = [
        "--preset",
        "small",
        "--no-progress",
        "--threads",
        "1",
        "--accelerator",
        "cpu",
        "--max-epochs",
        "1",
    ]
    assert main(["fit", str(tiny_h5ad), str(tmp_path / "paper"), "--recipe", "paper", *tiny]) == 0
    p = dc.DeepCAGE.load(tmp_path / "paper").params
    assert (p["recipe"], p["prior"], p["hidden"], p["expression_l2"]) == ("paper", None, 256, 0.0)
    assert "recipe: `paper`" in (tmp_path / "paper" / "README.md").read_text()
    argv = [
        "fit",
        str(tiny_h5ad),
        str(tmp_path / "m"),
        "--recipe",
        "paper",
        "--hidden",
        "16",
        "--prior",
        "knn",
        "--reverse-complement",
        "--monitor",
        "val_auprc_both",
    ]
    assert main([*argv, *tiny]) == 0
    p = dc.DeepCAGE.load(tmp_path / "m").params
    assert (p["recipe"], p["prior"], p["hidden"], p["delta_expression"]) == ("paper", "knn", 16, False)
    assert p["reverse_complement"] is True
    assert p["monitor"] == "val_auprc_both"


# ------------------------------------------------------------------------------------------------ quiet and consistent
# (issue 20 item 6): results on stdout, bars and messages on stderr, the command's flags in its messages
def test_python_spellings_read_as_flags():
    from deepcage.cli import cli_spelling, python_flags

    subs = build_parser()._subparsers._group_actions[0].choices
    predict, fit = python_flags(subs["predict"]), python_flags(subs["fit"])
    msg = "Check gene symbols or pass fill_missing=True to treat them as 0."
    assert cli_spelling(msg, predict) == "Check gene symbols or pass --fill-missing to treat them as 0."
    msg = "Pass genome=dc.Genome('path/to/hg38.fa', name='hg38') (command line: --genome FASTA)."
    assert cli_spelling(msg, predict) == "Pass --genome path/to/hg38.fa."
    msg = "Pass genome= with the FASTA file(s) (command line: --genome)."
    assert cli_spelling(msg, fit) == "Pass --genome with the FASTA file(s)."
    assert (
        cli_spelling("use batch_size=64 or progress=False", predict) == "use --batch-size 64 or --no-progress"
    )
    assert cli_spelling("key_added='y'; out=", predict) == "--key-added y; --out"
    assert (
        cli_spelling("delta_expression=False, layer='binary'", fit) == "--no-delta-expression, --layer binary"
    )
    assert cli_spelling("pass overwrite=True", fit) == "pass --overwrite"
    # Python-only options stay as they are; so do those the message already gives the flag of
    assert cli_spelling("tf_key='tf_expr' and motif_key=", fit) == "tf_key='tf_expr' and motif_key="
    msg = "read_expression_table(..., gene_names=<table>) (--gene-names on the command line)"
    assert cli_spelling(msg, predict) == msg
    assert cli_spelling("np.sum(a=1) or dc.tl.fit", fit) == "np.sum(a=1) or dc.tl.fit"


@pytest.mark.slow
def test_results_on_stdout_bars_and_lightning_lines_on_stderr(tiny_h5ad, tmp_path):
    fit = [
        "--preset",
        "small",
        "--hidden",
        "8",
        "--threads",
        "1",
        "--accelerator",
        "cpu",
        "--max-epochs",
        "2",
    ]
    proc = _deepcage("fit", tiny_h5ad, "model", *fit, cwd=tmp_path)  # progress bars on (the default)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert out.splitlines()[-1] == "saved to model" and "Epoch" not in out and "it/s" not in out, out
    assert "Epoch 1" in err  # Lightning's bar, on stderr
    assert "GPU available" not in err and "TPU available" not in err and "Total params" not in err, err
    proc = _deepcage("fit", tiny_h5ad, "m2", *fit, "--max-epochs", "1", "-v", cwd=tmp_path)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "GPU available" in err and "Total params" in err and "GPU available" not in out
    proc = _deepcage("fit", tiny_h5ad, "m3", *fit, "--max-epochs", "1", "-q", cwd=tmp_path)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and err == "", err  # errors only: no bars, no warnings
    code = main(["fit", str(tiny_h5ad), str(tmp_path / "m4"), "-q", "-v"])
    assert code == 2


@pytest.mark.slow
def test_predict_messages_name_the_flags(tiny_h5ad, tmp_path, capsys):
    """Errors and warnings raised in Python reach the command line with its flags: --fill-missing, --genome."""
    import json
    import shutil

    import deepcage as dc
    from deepcage.model._model import _write_manifest

    fit = ["--preset", "small", "--hidden", "8", "--no-progress", "--threads", "1", "--max-epochs", "1"]
    assert main(["fit", str(tiny_h5ad), str(tmp_path / "model"), *fit]) == 0
    capsys.readouterr()
    mdata = dc.datasets.synthetic(
        n_samples=4, n_loci=60, n_tfs=3, n_test_samples=1, rna=True, path=tmp_path / "g.fa"
    )
    rna = mdata["rna"]
    rna[:, [g for g in rna.var_names if g != "TF2"]].copy().write_h5ad(tmp_path / "rna.h5ad")
    code = main(
        ["predict", str(tmp_path / "model"), str(tmp_path / "p.h5ad"), "--expr", str(tmp_path / "rna.h5ad")]
    )
    err = capsys.readouterr().err
    assert code == 1 and "--fill-missing" in err and "fill_missing" not in err, err
    # a model whose recorded FASTA is not on this machine: loads with a warning, new loci need --genome
    moved = tmp_path / "moved"
    shutil.copytree(tmp_path / "model", moved)
    meta = json.loads((moved / "model.json").read_text())
    meta["genome"]["fasta"] = ["/data/old_server/hg38.fa"]
    meta.pop("fasta_relative", None)
    (moved / "model.json").write_text(json.dumps(meta))
    (moved / "manifest.json").unlink()
    _write_manifest(moved)
    rna.write_h5ad(tmp_path / "rna_all.h5ad")
    loci = dc.DeepCAGE.load(tmp_path / "model").loci.iloc[:4]
    bed = tmp_path / "new.bed"
    bed.write_text("".join(f"{r.chrom}\t{r.start + 11}\t{r.end + 11}\n" for r in loci.itertuples()))
    argv = ["predict", str(moved), str(tmp_path / "q.h5ad"), "--expr", str(tmp_path / "rna_all.h5ad")]
    code = main([*argv, "--loci", str(bed), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1, err
    lines = err.strip().splitlines()
    assert lines[0].startswith("deepcage predict: warning: Model ") and "/data/old_server/hg38.fa" in lines[0]
    assert "pass --genome path/to/hg38.fa to those calls" in lines[0], err
    assert lines[-1].startswith("deepcage predict: error: These loci are not stored with the model"), err
    assert "/data/old_server/hg38.fa, which does not exist here" in lines[-1]
    assert lines[-1].endswith("Pass --genome path/to/hg38.fa."), err
    assert "genome=" not in err and "command line" not in err
    # the stored loci need no genome; given --genome, the new loci are predicted
    assert main([*argv, "--overwrite", "--no-progress"]) == 0
    assert "deepcage predict: warning: Model " in capsys.readouterr().err
    assert main([*argv, "--loci", str(bed), "--genome", str(tmp_path / "g.fa"), "--overwrite", "-q"]) == 0
    assert capsys.readouterr().err == ""  # -q: not even the load warning


@pytest.mark.slow
def test_predict_exclude_self_from_the_command_line(tiny_h5ad, tmp_path, capsys):
    """--exclude-self: a training sample's own RNA given as --expr is predicted without its own labels, as
    dc.tl.predict(exclude_self=True) does; without the flag its labels stay in the prior."""
    import anndata

    import deepcage as dc

    fit = ["--preset", "small", "--hidden", "8", "--no-progress", "--threads", "1", "--max-epochs", "1"]
    assert main(["fit", str(tiny_h5ad), str(tmp_path / "model"), *fit]) == 0
    mdata = dc.datasets.synthetic(
        n_samples=4, n_loci=60, n_tfs=3, n_test_samples=1, rna=True, path=tmp_path / "g.fa"
    )
    model = dc.DeepCAGE.load(tmp_path / "model")
    train = model.params["train_samples"][:2]
    mdata["rna"][train].copy().write_h5ad(tmp_path / "rna.h5ad")
    argv = ["predict", str(tmp_path / "model"), "--expr", str(tmp_path / "rna.h5ad"), "--no-progress"]
    assert main([argv[0], argv[1], str(tmp_path / "own.h5ad"), *argv[2:]]) == 0
    assert main([argv[0], argv[1], str(tmp_path / "loo.h5ad"), *argv[2:], "--exclude-self"]) == 0
    capsys.readouterr()
    own = np.asarray(anndata.read_h5ad(tmp_path / "own.h5ad").X)
    loo = np.asarray(anndata.read_h5ad(tmp_path / "loo.h5ad").X)
    rna = mdata["rna"][train].copy()
    with pytest.warns(UserWarning, match="share a name with a training sample"):
        expected_own = dc.tl.predict(model, expr=rna, progress=False).X
    expected_loo = dc.tl.predict(model, expr=rna, exclude_self=True, progress=False).X
    np.testing.assert_allclose(own, expected_own, atol=1e-6)
    np.testing.assert_allclose(loo, expected_loo, atol=1e-6)
    assert np.abs(own - loo).max() > 1e-3  # the sample's own labels made a difference
