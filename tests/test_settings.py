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
        with dc.settings.verbosity.override("info"), quiet_lightning():  # shown from 'info' on
            log.info("GPU available: False")
            log.info("💡 Tip: install something")
        with quiet_lightning():  # default verbosity ('warning'): silenced
            log.info("GPU available: silenced")
            log.warning("a warning stays")
        log.info("after")
    finally:
        root.removeHandler(handler)
        for h, stream in zip(own, streams):
            h.stream = stream
        for n, level in levels.items():
            logging.getLogger(n).setLevel(level)
    err = capsys.readouterr().err
    assert err.count("GPU available") == 1 and "silenced" not in err
    assert "a warning stays" in err
    assert "Tip" not in err
    assert err.count("after") == 2  # outside the block Lightning's own behaviour is untouched


def test_import_is_lazy():
    code = "import sys, deepcage; print(sorted(m for m in ('torch', 'lightning', 'scanpy', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert dc.tl.predict.__name__ == "predict" and dc.DeepCAGE.__name__ == "DeepCAGE"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        dc.nope  # noqa: B018


# ------------------------------------------------------------------------------------ verbosity and progress bars
@pytest.mark.parametrize(
    ("value", "level"), [(0, "error"), ("warning", "warning"), ("INFO", "info"), (3, "hint"), (9, "debug")]
)
def test_verbosity_as_scanpy(value, level):
    before = dc.settings.verbosity
    try:
        dc.settings.verbosity = value
        assert dc.settings.verbosity.name == level
        want = {
            "error": logging.ERROR,
            "warning": logging.WARNING,
            "info": logging.INFO,
            "hint": logging.INFO,
        }
        assert logging.getLogger("deepcage").level == want.get(level, logging.DEBUG)
        assert dc.settings.progress is (level != "error")  # progress bars from 'warning' on
        assert f"verbosity={dc.settings.verbosity.value}" in repr(dc.settings)
    finally:
        dc.settings.verbosity = before
    assert dc.settings.verbosity == before == _settings.Verbosity.warning


@pytest.mark.parametrize("bad", ["loud", -1.5, None, True])
def test_bad_verbosity(bad):
    with pytest.raises(ValueError, match=r"verbosity must be one of 0 'error', 1 'warning'"):
        dc.settings.verbosity = bad


def test_verbosity_override_and_environment(monkeypatch):
    with dc.settings.verbosity.override("error") as v:
        assert v == dc.settings.verbosity == 0 and not dc.settings.progress
        assert _settings.show_progress(None) is False and _settings.show_progress(True) is True
    assert dc.settings.verbosity == 1 and _settings.show_progress(None) is True
    assert _settings.show_progress(False) is False
    monkeypatch.setenv("DEEPCAGE_VERBOSITY", "info")
    assert _settings.Settings().verbosity == _settings.Verbosity.info


def test_messages_go_to_stderr_and_follow_verbosity(capsys):
    log = logging.getLogger("deepcage.pp._example")
    root = logging.getLogger()
    handlers = root.handlers[:]
    root.handlers = []  # a plain script: deepcage's own handler prints (pytest's root handlers are set aside)
    try:
        log.info("hidden at 'warning'")
        log.warning("a warning")
        with dc.settings.verbosity.override("info"):
            log.info("shown at 'info'")
        with dc.settings.verbosity.override("error"):
            log.warning("hidden at 'error'")
    finally:
        root.handlers = handlers
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == ["WARNING: a warning", "shown at 'info'"]


def test_messages_reach_the_root_logger_once(caplog):
    """With handlers on the root logger (Jupyter, logging.basicConfig, pytest) deepcage's records go there."""
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("deepcage.tl._example")
    log.info("not at 'warning'")
    with dc.settings.verbosity.override("info"):
        log.info("at 'info'")
    assert caplog.messages == ["at 'info'"]


def _tiny():
    return dc.datasets.synthetic(n_samples=4, n_loci=60, n_tfs=3, n_test_samples=1)


def test_progress_bars_go_to_stderr_and_lightning_lines_are_silenced(capfd):
    adata = _tiny()
    model = dc.tl.fit(adata, preset="small", hidden=8, max_epochs=1, accelerator="cpu")
    dc.tl.predict(model, adata, chunk_size=20)
    out, err = capfd.readouterr()
    assert out == ""  # `deepcage demo > results.txt` keeps the results file clean
    assert "Epoch 0" in err and "deepcage predict" in err  # Lightning's bar and tqdm's, on stderr
    assert "GPU available" not in err and "TPU available" not in err and "Total params" not in err
    with dc.settings.verbosity.override("error"):  # no bars where progress is left at None
        dc.tl.fit(adata, preset="small", hidden=8, max_epochs=1, accelerator="cpu")
        dc.tl.predict(model, adata, chunk_size=20)
    out, err = capfd.readouterr()
    assert out == "" and "Epoch" not in err and "deepcage predict" not in err
    # Lightning's device lines and model summary at 'info'. Read from its logger: its console handler holds the
    # sys.stderr of the moment lightning was first imported, which in a full test run is an earlier test's capture
    records: list[logging.LogRecord] = []
    catch = logging.Handler()
    catch.emit = records.append
    lightning_log = logging.getLogger("lightning.pytorch")
    lightning_log.addHandler(catch)
    try:
        with dc.settings.verbosity.override("info"):
            dc.tl.fit(adata, preset="small", hidden=8, max_epochs=1, accelerator="cpu", progress=False)
    finally:
        lightning_log.removeHandler(catch)
    lines = "\n".join(r.getMessage() for r in records)
    assert "GPU available" in lines and "Total params" in lines, lines
    out, err = capfd.readouterr()
    assert "Epoch" not in err


def test_progress_bar_is_deprecated_for_progress():
    adata = _tiny()
    with pytest.warns(FutureWarning, match=r"dc\.tl\.fit: progress_bar= is deprecated.*use progress="):
        model = dc.tl.fit(
            adata, preset="small", hidden=8, max_epochs=1, accelerator="cpu", progress_bar=False
        )
    assert len(model.history) == 1
    with pytest.raises(TypeError, match=r"give progress= only"):
        dc.tl.fit(adata, progress=False, progress_bar=False)


def test_dir_lists_the_public_names():
    names = dir(dc)
    assert {"tl", "pp", "pl", "io", "datasets", "settings", "DeepCAGE", "Genome", "__version__"} <= set(names)
    assert not {"TYPE_CHECKING", "annotations", "importlib", "version", "PackageNotFoundError"} & set(names)
    assert not [n for n in names if n.startswith("_") and n != "__version__"]


def test_lightning_cuda_device_line_is_silenced():
    """'LOCAL_RANK: 0 - CUDA_VISIBLE_DEVICES: [0]' (GPU runs) comes from a child logger of lightning.pytorch."""
    import lightning.pytorch  # noqa: F401

    log = logging.getLogger("lightning.pytorch.accelerators.cuda")
    with quiet_lightning():
        assert not log.isEnabledFor(logging.INFO) and log.isEnabledFor(logging.WARNING)
    with dc.settings.verbosity.override("info"), quiet_lightning():
        assert log.isEnabledFor(logging.INFO)
    assert log.isEnabledFor(logging.INFO)  # Lightning's own setting is back after the block
