"""Lightning's tqdm progress bar on stderr (a module of its own: it imports Lightning, and spawned processes
unpickle the callback by this name)."""

from __future__ import annotations

import contextlib
import sys

from lightning.pytorch.callbacks import TQDMProgressBar

__all__ = ["StderrProgressBar"]


@contextlib.contextmanager
def _stdout_is_stderr():
    before = sys.stdout
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout = before


class StderrProgressBar(TQDMProgressBar):
    """Lightning's bars on stderr: each bar is made while ``sys.stdout`` is ``sys.stderr`` (Lightning passes
    ``file=sys.stdout``), so results printed to stdout stay clean when it is redirected to a file."""

    def init_sanity_tqdm(self):
        with _stdout_is_stderr():
            return super().init_sanity_tqdm()

    def init_train_tqdm(self):
        with _stdout_is_stderr():
            return super().init_train_tqdm()

    def init_validation_tqdm(self):
        with _stdout_is_stderr():
            return super().init_validation_tqdm()

    def init_predict_tqdm(self):
        with _stdout_is_stderr():
            return super().init_predict_tqdm()

    def init_test_tqdm(self):
        with _stdout_is_stderr():
            return super().init_test_tqdm()
