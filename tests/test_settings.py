"""dc.settings (torch threads chosen for the machine's load), Lightning's console output, lazy imports."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

import deepcage as dc
from deepcage import _settings
from deepcage._runtime import quiet_lightning, torch_threads


def test_threads_follow_the_free_cpus(monkeypatch):
    monkeypatch.setattr(_settings, "_available_cpus", lambda: 8)
    monkeypatch.setattr(_settings, "_busy_cpus", lambda: 3)
    s = _settings.Settings()
    assert s.threads_now(8) == 5  # 8 CPUs, 3 kept busy by other processes
    assert s.threads_now(4) == 4  # never more than torch's own setting (a user's torch.set_num_threads)
    assert s.threads_now(1) == 1
    monkeypatch.setattr(_settings, "_busy_cpus", lambda: 20)
    assert s.threads_now(8) == 1  # an overloaded machine: one thread, no waiting at barriers
    s.n_threads = 6
    assert s.threads_now(2) == 6  # a fixed setting wins
    s.n_threads = "auto"
    assert s.n_threads is None


@pytest.mark.parametrize("bad", [0, -2, "many"])
def test_bad_thread_setting(bad):
    with pytest.raises(ValueError, match="n_threads must be a positive integer"):
        dc.settings.n_threads = bad


def test_thread_setting_from_the_environment(monkeypatch):
    monkeypatch.setenv("DEEPCAGE_NUM_THREADS", "3")
    assert _settings.Settings().n_threads == 3


def test_torch_threads_are_restored():
    import torch

    before = torch.get_num_threads()
    dc.settings.n_threads = before + 1
    try:
        with torch_threads() as n:
            assert n == torch.get_num_threads() == before + 1
    finally:
        dc.settings.n_threads = None
    assert torch.get_num_threads() == before


def test_lightning_lines_print_once_without_tips(capsys):
    import lightning.pytorch  # noqa: F401  (sets up Lightning's loggers)

    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    root.addHandler(handler)  # as in Jupyter or after logging.basicConfig
    log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    # Lightning's own console handler keeps the stderr of import time (another test's capture): point it here
    own = [h for name in ("lightning", "lightning.pytorch") for h in logging.getLogger(name).handlers]
    streams = [h.stream for h in own]
    for h in own:
        h.stream = sys.stderr
    levels = {n: logging.getLogger(n).level for n in ("lightning", "lightning.pytorch")}
    for n in levels:
        logging.getLogger(n).setLevel(logging.INFO)
    try:
        with quiet_lightning():
            log.info("GPU available: False")
            log.info("💡 Tip: install something")
        log.info("after")
    finally:
        root.removeHandler(handler)
        for h, stream in zip(own, streams):
            h.stream = stream
        for n, level in levels.items():
            logging.getLogger(n).setLevel(level)
    err = capsys.readouterr().err
    assert err.count("GPU available") == 1
    assert "Tip" not in err
    assert err.count("after") == 2  # outside the block Lightning's own behaviour is untouched


def test_import_is_lazy():
    code = "import sys, deepcage; print(sorted(m for m in ('torch', 'lightning', 'scanpy', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert dc.tl.predict.__name__ == "predict" and dc.DeepCAGE.__name__ == "DeepCAGE"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        dc.nope  # noqa: B018
