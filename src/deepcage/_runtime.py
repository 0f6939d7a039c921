"""How model calls run: torch's thread count, Lightning's console output (its lines, its progress bars) and the
release of freed memory between the stages of a large job."""

from __future__ import annotations

import contextlib
import logging
import warnings

from ._settings import Verbosity, settings, show_progress

__all__ = ["lightning_progress_bar", "quiet_lightning", "release_freed_memory", "torch_threads"]

#: Lightning's loggers (the unified package's and the standalone packages')
_LIGHTNING_LOGGERS = (
    "lightning",
    "lightning.pytorch",
    "lightning.fabric",
    "pytorch_lightning",
    "lightning_fabric",
)


@contextlib.contextmanager
def torch_threads():
    """Run a block with :attr:`Settings.n_threads` torch threads, then restore torch's setting."""
    import torch

    before = torch.get_num_threads()
    n = settings.threads_now(before)
    if n != before:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def release_freed_memory() -> None:
    """Give the heap that freed temporaries leave behind back to the operating system (glibc ``malloc_trim``).

    After a large temporary is freed (a decoded contig, a batch of activations), glibc raises its threshold for
    serving allocations from fresh memory maps, so later temporaries of tens of MB come from the heap and stay
    resident once freed: the process's RSS then grows by what every stage freed, not by what it holds. A no-op
    where the C library has no ``malloc_trim`` (macOS, Windows, musl).
    """
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        try:
            _MALLOC_TRIM = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _MALLOC_TRIM = False
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)


_MALLOC_TRIM = None


class _DropTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip:" not in str(record.msg)


def lightning_verbose() -> bool:
    """Whether Lightning's console lines show: from ``dc.settings.verbosity = 'info'`` on."""
    return settings.verbosity >= Verbosity.info


@contextlib.contextmanager
def quiet_lightning():
    """Lightning's console lines silenced below ``dc.settings.verbosity = 'info'`` (``GPU available: ...``,
    ``TPU available: ...``, ``LOCAL_RANK: ...``, ``Trainer.fit stopped: ...``; its warnings stay); from 'info' on
    printed once, without its advertising tips. Its own deprecation notices are dropped either way.

    Lightning's ``lightning`` logger prints through its own console handler *and* propagates to the root logger,
    so every line appears twice when the root logger has a handler (Jupyter, ``logging.basicConfig``).
    """
    top = logging.getLogger("lightning")
    loggers = [logging.getLogger(name) for name in _LIGHTNING_LOGGERS]
    handlers = {h for lg in loggers for h in lg.handlers}
    tips = _DropTips()
    propagate = top.propagate
    levels = {lg: lg.level for lg in loggers}
    if top.handlers:
        top.propagate = False
    for h in handlers:
        h.addFilter(tips)
    if not lightning_verbose():
        for lg in loggers:  # at the source: also the lines that reach the root logger's handlers
            if lg.getEffectiveLevel() < logging.WARNING:
                lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*LeafSpec.*is deprecated")
            yield
    finally:
        top.propagate = propagate
        for lg, level in levels.items():
            lg.setLevel(level)
        for h in handlers:
            h.removeFilter(tips)


def lightning_progress_bar(progress: bool | None, callbacks=()):
    """Lightning's tqdm progress bar writing to stderr (Lightning's own writes to stdout, which mixes its bars
    into ``deepcage demo > results.txt``), or None when ``progress`` (``None``: per ``dc.settings.verbosity``)
    is off or ``callbacks`` already hold a progress bar."""
    from lightning.pytorch.callbacks import ProgressBar

    from .model._progress_bar import StderrProgressBar

    if not show_progress(progress) or any(isinstance(c, ProgressBar) for c in callbacks):
        return None
    return StderrProgressBar()
