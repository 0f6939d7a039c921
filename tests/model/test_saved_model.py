"""Saved models on another machine: the genome FASTA they record is optional (issue 20 item 6), and
``model.history`` is the training curve (``history_`` deprecated)."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

import deepcage as dc
from deepcage.model._model import MissingGenomeError

FAST = {"preset": "small", "hidden": 16, "batch_loci": 64, "progress": False, "accelerator": "cpu"}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project folder holding the genome and a model trained on it (loci stored with the model)."""
    root = tmp_path_factory.mktemp("project")
    mdata = dc.datasets.synthetic(
        n_samples=6, n_loci=120, n_tfs=4, seed=2, rna=True, path=root / "genome" / "g.fa"
    )
    model = dc.tl.fit(mdata, max_epochs=2, **FAST)
    model.save(root / "models" / "m")
    return root, mdata, model


def test_history_is_a_dataframe_and_history_underscore_is_deprecated(project, tmp_path):
    _, _, model = project
    assert isinstance(model.history, pd.DataFrame)
    assert list(model.history.index) == [0, 1] and model.history.index.name == "epoch"
    assert {"train_loss", "val_loss"} <= set(model.history.columns)
    with pytest.warns(FutureWarning, match=r"history_ is deprecated.*model\.history"):
        old = model.history_
    assert old is model.history
    loaded = dc.DeepCAGE.load(model.save(tmp_path / "again"))
    pd.testing.assert_frame_equal(loaded.history, model.history)
    assert dc.pl.history(model, show=False)  # the plot reads model.history


def test_model_records_the_fasta_relative_to_its_folder(project):
    root, _, _ = project
    meta = json.loads((root / "models" / "m" / "model.json").read_text())
    assert meta["fasta_relative"] == ["../../genome/g.fa"]


def test_project_folder_moved_to_another_machine(project, tmp_path):
    """Model and genome copied together: the recorded absolute path does not exist, the relative one does."""
    root, mdata, model = project
    moved = tmp_path / "elsewhere"
    shutil.copytree(root / "models", moved / "models")
    shutil.copytree(root / "genome", moved / "genome")
    meta = json.loads((moved / "models" / "m" / "model.json").read_text())
    meta["genome"]["fasta"] = ["/data/old_server/project/genome/g.fa"]  # as written on the other machine
    (moved / "models" / "m" / "model.json").write_text(json.dumps(meta))
    _rehash(moved / "models" / "m")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # found next to the model: no warning
        loaded = dc.DeepCAGE.load(moved / "models" / "m")
    assert loaded.genome["fasta"] == [str((moved / "genome" / "g.fa").resolve())]
    shifted = model.loci.iloc[:5][["chrom", "start", "end"]].reset_index(drop=True)  # new loci, not stored
    shifted[["start", "end"]] += 11
    new = dc.tl.predict(loaded, expr=mdata["rna"], loci=shifted, progress=False)  # reads the moved genome
    assert new.shape == (mdata["rna"].n_obs, 5)


def _rehash(folder):
    from deepcage.model._model import _write_manifest

    (folder / "manifest.json").unlink()
    _write_manifest(folder)


def test_missing_fasta_warns_at_load_and_is_needed_only_for_new_loci(project, tmp_path):
    root, mdata, model = project
    folder = tmp_path / "m"
    shutil.copytree(root / "models" / "m", folder)
    meta = json.loads((folder / "model.json").read_text())
    meta["genome"]["fasta"] = ["/data/old_server/hg38.fa"]
    meta.pop("fasta_relative")
    (folder / "model.json").write_text(json.dumps(meta))
    _rehash(folder)
    with pytest.warns(
        UserWarning,
        match=r"/data/old_server/hg38\.fa, which does not exist on this machine.*120 "
        r"stored training loci without it.*genome=dc\.Genome\('path/to/hg38\.fa'\).*--genome",
    ):
        loaded = dc.DeepCAGE.load(folder)
    # the stored training loci need no genome
    stored = dc.tl.predict(loaded, expr=mdata["rna"], progress=False)
    np.testing.assert_allclose(
        stored.layers["deepcage"],
        dc.tl.predict(model, expr=mdata["rna"], progress=False).layers["deepcage"],
        atol=1e-6,
    )
    shifted = model.loci.iloc[:5][["chrom", "start", "end"]].reset_index(drop=True)  # new loci, not stored
    shifted[["start", "end"]] += 11
    with pytest.raises(
        MissingGenomeError,
        match=r"not stored with the model.*/data/old_server/hg38\.fa, which does "
        r"not exist here.*Pass genome=dc\.Genome\('path/to/hg38\.fa', name='synthetic'\)",
    ):
        dc.tl.predict(loaded, expr=mdata["rna"], loci=shifted, progress=False)
    with pytest.raises(ValueError):  # also a ValueError, as before it had a class of its own
        dc.tl.predict(loaded, expr=mdata["rna"], loci=shifted, progress=False)
    # a new FASTA given to the call is used
    new = dc.tl.predict(
        loaded, expr=mdata["rna"], loci=shifted, genome=root / "genome" / "g.fa", progress=False
    )
    assert np.isfinite(new.layers["deepcage"]).all()
