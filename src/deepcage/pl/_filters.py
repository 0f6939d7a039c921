"""Sequence logos of first-layer filters with their best TomTom match."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ._utils import _DOC_SHOW_SAVE, _finish

__all__ = ["filter_logos"]


def _as_result(result):
    """(table or None, list of Motif) from a FilterMotifs, a (table, motifs[, matches]) tuple or motifs."""
    from ..io._motifs import Motif

    if isinstance(result, tuple) and len(result) >= 2 and isinstance(result[0], pd.DataFrame):
        return result[0], list(result[1])
    motifs = list(result)
    if not all(isinstance(m, Motif) for m in motifs):
        raise TypeError("Pass the result of dc.tl.filter_motifs (or a list of deepcage.io.Motif).")
    return None, motifs


def filter_logos(
    result,
    *,
    n: int = 6,
    filters: Sequence[int | str] | None = None,
    sort_by: str | None = "influence",
    matched_only: bool = False,
    ncols: int = 3,
    kind: str = "information",
    axes: Sequence[plt.Axes] | None = None,
    show: bool | None = None,
    save: str | bool | None = None,
):
    """Logos (logomaker) of first-layer filter PWMs, titled with the best TomTom match.

    Parameters
    ----------
    result
        The named tuple ``(table, motifs, matches)`` returned by :func:`deepcage.tl.filter_motifs` (or a list
        of :class:`deepcage.io.Motif`).
    n
        Number of logos.
    filters
        Filters to draw (indices or names ``'filter12'``); default: the top ``n`` by ``sort_by``.
    sort_by
        Table column ranking the filters (``'influence'``, ``'information_content'``, ``'n_sites'``; ``'evalue'``
        sorts ascending). ``None``: filter order.
    matched_only
        Only filters with a database match (``table['matched']``).
    ncols
        Logos per row.
    kind
        ``'information'`` (bits) or ``'probability'``.
    axes
        Axes to draw on (one per logo).
    {show_save}

    Returns
    -------
    List of Axes, one per logo (``None`` when shown).

    Examples
    --------
    >>> res = dc.tl.filter_motifs(model, adata, database="JASPAR2024_consensus.meme")
    >>> dc.pl.filter_logos(res, n=6, sort_by="influence")
    """
    import logomaker

    if kind not in ("information", "probability"):
        raise ValueError(f"kind must be 'information' or 'probability', got {kind!r}.")
    table, motifs = _as_result(result)
    by_name = {m.name: m for m in motifs}
    if filters is not None:
        names = [f if isinstance(f, str) else f"filter{int(f)}" for f in filters]
        missing = [nm for nm in names if nm not in by_name]
        if missing:
            raise KeyError(f"No PWM for {missing} (filters without sites have none).")
    else:
        if table is not None:
            t = table[table.index.isin(list(by_name))]
            if matched_only and "matched" in t.columns:
                t = t[t["matched"]]
            if sort_by is not None:
                if sort_by not in t.columns:
                    raise KeyError(f"sort_by={sort_by!r} is not a column of the table ({list(t.columns)}).")
                t = t.sort_values(sort_by, ascending=sort_by in ("evalue", "pvalue"), kind="stable")
            names = list(t.index[:n])
        else:
            names = [m.name for m in motifs[:n]]
    if not names:
        raise ValueError("No filter to draw (no filter has sites, or none matched).")
    if axes is None:
        ncols = min(ncols, len(names))
        nrows = int(np.ceil(len(names) / ncols))
        fig, grid = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 1.8 * nrows), squeeze=False)
        axes = list(grid.ravel())
        for ax in axes[len(names) :]:
            ax.set_visible(False)
    else:
        axes = list(axes)
        if len(axes) < len(names):
            raise ValueError(f"Need {len(names)} Axes, got {len(axes)}.")
        fig = axes[0].figure
    for ax, name in zip(axes, names):
        m = by_name[name]
        df = pd.DataFrame(m.pwm, columns=list("ACGT"))
        if kind == "information":
            df = logomaker.transform_matrix(df, from_type="probability", to_type="information")
        logomaker.Logo(df, ax=ax, color_scheme="classic")
        ax.set_ylim(0, 2 if kind == "information" else 1)
        ax.set_xticks([])
        ax.set_ylabel("bits" if kind == "information" else "p", fontsize="x-small")
        title = name
        if table is not None and name in table.index:
            row = table.loc[name]
            if "best_tf" in row and row.get("best_tf"):
                flag = "" if row.get("matched", True) else " (n.s.)"
                # the match on its own line: database names (C045:GATA_TFCP2:Grainyhead) run into the next panel
                title += f"\n{row['best_tf']}  E={row['evalue']:.1e}{flag}"
            elif "influence" in row:
                title += f" · influence {row['influence']:.3g}"
        ax.set_title(title, fontsize="small")
    fig.tight_layout()
    return _finish(fig, axes[: len(names)], show=show, save=save, name="filter_logos")


filter_logos.__doc__ = filter_logos.__doc__.replace("{show_save}", _DOC_SHOW_SAVE)
