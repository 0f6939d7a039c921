"""GIS ranking bar chart."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData

from .._utils import get_modality
from ._utils import _DOC_SHOW_SAVE, _finish, _new_ax

__all__ = ["gis"]


def _gis_table(data, key: str) -> tuple[pd.DataFrame, str]:
    if isinstance(data, pd.DataFrame):
        return data, ""
    ad = get_modality(data, "atac") if not isinstance(data, AnnData) else data
    rec = ad.uns.get(key)
    if rec is None:
        raise KeyError(
            f"adata.uns[{key!r}] not found; run dc.tl.gis(model, adata, sample, center=...) first."
        )
    df = pd.DataFrame({"tf": list(rec["tf"]), "gis": np.asarray(rec["gis"], dtype=float)})
    p = rec.get("params", {})
    return df, f"{p.get('sample', '')} around {p.get('center', '')} (±{int(p.get('window', 0)):,} bp)"


def gis(
    data: pd.DataFrame | AnnData,
    *,
    n_top: int = 20,
    key: str = "gis",
    highlight: list[str] | None = None,
    ax: plt.Axes | None = None,
    show: bool | None = None,
    save: str | bool | None = None,
):
    """Horizontal bar chart of the TFs with the highest gene importance score (GIS).

    Parameters
    ----------
    data
        The DataFrame returned by :func:`deepcage.tl.gis` (columns ``tf``, ``gis``), or an AnnData with the
        result in ``uns[key]``.
    n_top
        Number of TFs shown (highest first, at the top).
    key
        ``uns`` key of the result when ``data`` is an AnnData.
    highlight
        TFs drawn in a contrasting colour (e.g. the planted or expected regulators).
    ax
        Axes to draw on.
    {show_save}

    Returns
    -------
    The Axes (``None`` when shown).

    Examples
    --------
    >>> df = dc.tl.gis(model, adata, "K562", center="TP53", tss="refGene_hg19_TSS.bed")
    >>> dc.pl.gis(df, n_top=15)
    """
    df, subtitle = _gis_table(data, key)
    for col in ("tf", "gis"):
        if col not in df.columns:
            raise KeyError(f"GIS table needs columns 'tf' and 'gis' (has {list(df.columns)}).")
    top = df.sort_values("gis", ascending=False).head(n_top).iloc[::-1]
    fig, ax = _new_ax(ax, (4, max(2.0, 0.22 * len(top) + 0.8)))
    hl = set(highlight or [])
    colors = ["tab:red" if t in hl else "tab:blue" for t in top["tf"]]
    ax.barh(np.arange(len(top)), top["gis"].to_numpy(), color=colors)
    ax.set_yticks(np.arange(len(top)))
    ax.set_yticklabels(top["tf"].astype(str), fontsize="small")
    ax.set_xlabel("GIS (mean |∂ŷ/∂expression|)")
    ax.set_title(f"top {len(top)} TFs" + (f"\n{subtitle}" if subtitle else ""), fontsize="small")
    return _finish(fig, ax, show=show, save=save, name="gis")


gis.__doc__ = gis.__doc__.replace("{show_save}", _DOC_SHOW_SAVE)
