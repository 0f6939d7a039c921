"""Shared plumbing of the plots: scanpy-style ``show=`` / ``save=`` / ``ax=``."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt

_NON_INTERACTIVE = {"agg", "pdf", "pgf", "ps", "svg", "cairo", "template"}

_DOC_SHOW_SAVE = """show
        Show the figure (``plt.show()``) and return ``None``. Default: show when matplotlib has an interactive
        backend (e.g. in Jupyter); with a non-interactive backend (``agg``, scripts, tests) nothing is shown and
        the Axes are returned.
    save
        Save the figure: a path (the extension picks the format: ``.png``, ``.pdf``, ``.svg``) or ``True``
        (``figures/{name}.png`` in the working directory)."""


def _interactive() -> bool:
    return mpl.get_backend().lower() not in _NON_INTERACTIVE


def _new_ax(ax, figsize=(4.5, 3.5)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    return ax.figure, ax


def _finish(fig, axes, *, show: bool | None, save, name: str):
    """Save and/or show ``fig``; return ``axes`` unless the figure was shown."""
    if save:
        path = Path("figures") / f"{name}.png" if save is True else Path(os.fspath(save))
        if not path.suffix:
            path = path.with_suffix(".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150, bbox_inches="tight")
    if show is None:
        show = _interactive()
    if show:
        plt.show()
        return None
    return axes
