"""Faults: a training process killed mid-run resumes to the same result; an interrupted save never leaves a
model that loads wrongly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

import deepcage as dc

FAST = {"preset": "small", "hidden": 32, "batch_loci": 32, "progress": False, "lr": 3e-3, "seed": 0}
DATA = {"n_samples": 6, "n_loci": 400, "n_tfs": 4, "seed": 7}


def _last_epoch(ckpt) -> int:
    try:
        return int(torch.load(ckpt, map_location="cpu", weights_only=False)["epoch"])
    except Exception:  # not written yet, or being written
        return -1


@pytest.mark.slow
def test_killed_training_resumes_to_the_same_result(tmp_path):
    epochs = 6
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import torch
            import deepcage as dc
            torch.set_num_threads({torch.get_num_threads()})  # same float summation order as this process
            adata = dc.datasets.synthetic(**{DATA!r})
            dc.tl.fit(adata, max_epochs={epochs}, patience=100, checkpoint_dir={str(tmp_path / "ckpt")!r}, **{FAST!r})
            """
        )
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    last = tmp_path / "ckpt" / "last.ckpt"
    deadline = time.time() + 600
    try:
        while _last_epoch(last) < 1 and proc.poll() is None and time.time() < deadline:
            time.sleep(0.2)
    finally:
        killed_at = _last_epoch(last)
        os.kill(proc.pid, signal.SIGKILL)  # no clean shutdown, as when a job is pre-empted
        proc.wait()
    assert 1 <= killed_at < epochs - 1, (
        f"the run was not killed mid-training (last checkpoint epoch {killed_at})"
    )

    adata = dc.datasets.synthetic(**DATA)
    resumed = dc.tl.fit(
        adata, max_epochs=epochs, patience=100, resume_from=last, checkpoint_dir=tmp_path / "r", **FAST
    )
    reference = dc.tl.fit(adata, max_epochs=epochs, patience=100, checkpoint_dir=tmp_path / "ref", **FAST)
    assert len(resumed.history) == len(reference.history) == epochs
    # the epochs before the kill come from the checkpoint (up to float summation order between processes)
    done = list(range(killed_at + 1))
    np.testing.assert_allclose(
        resumed.history.loc[done].to_numpy(), reference.history.loc[done].to_numpy(), atol=5e-3
    )
    # the random streams (shuffling, dropout) are restored with the checkpoint, so the run continues as the
    # uninterrupted one did; small float differences still grow over epochs on this tiny validation set
    final = resumed.history.iloc[-1], reference.history.iloc[-1]
    assert abs(final[0]["val_loss"] - final[1]["val_loss"]) < 0.03
    assert abs(final[0]["val_auprc"] - final[1]["val_auprc"]) < 0.1


def test_interrupted_save_leaves_the_previous_model_intact(tmp_path, monkeypatch):
    adata = dc.datasets.synthetic(**DATA)
    first = dc.tl.fit(adata, max_epochs=1, **FAST)
    second = dc.tl.fit(adata, max_epochs=2, **{**FAST, "seed": 1})
    path = first.save(tmp_path / "model")
    expected = dc.tl.predict(first, adata, copy=True, progress=False).layers["deepcage"]

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", crash)  # fails after the weights and metadata are written
    with pytest.raises(OSError, match="disk full"):
        second.save(path, overwrite=True)
    monkeypatch.undo()

    again = dc.DeepCAGE.load(path)
    np.testing.assert_array_equal(
        dc.tl.predict(again, adata, copy=True, progress=False).layers["deepcage"], expected
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no half-written directory left behind


def test_save_refuses_to_overwrite_without_consent(tmp_path):
    adata = dc.datasets.synthetic(**DATA)
    model = dc.tl.fit(adata, max_epochs=1, **FAST)
    model.save(tmp_path / "m")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save(tmp_path / "m")
