"""How model calls run: torch's thread count and Lightning's console output."""

from __future__ import annotations

import contextlib
import logging
import warnings

from ._settings import settings

__all__ = ["quiet_lightning", "torch_threads"]


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


class _DropTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip:" not in str(record.msg)


@contextlib.contextmanager
def quiet_lightning():
    """Lightning's INFO lines once, without its advertising tips and its own deprecation notices.

    Lightning's ``lightning`` logger prints through its own console handler *and* propagates to the root logger,
    so every line appears twice when the root logger has a handler (Jupyter, ``logging.basicConfig``).
    """
    top = logging.getLogger("lightning")
    loggers = [top, logging.getLogger("lightning.pytorch"), logging.getLogger("lightning.fabric")]
    handlers = {h for lg in loggers for h in lg.handlers}
    tips = _DropTips()
    propagate = top.propagate
    if top.handlers:
        top.propagate = False
    for h in handlers:
        h.addFilter(tips)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*LeafSpec.*is deprecated")
            yield
    finally:
        top.propagate = propagate
        for h in handlers:
            h.removeFilter(tips)
