"""GIS ranking bar chart."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.ticker import MaxNLocator

from .._utils import get_modality
from ._utils import _DOC_SHOW_SAVE, _finish, _new_ax

__all__ = ["gis"]


_XLABELS = {
    "abs_gradient": "GIS (mean |∂ŷ/∂expression|)",
    "gradient": "GIS (mean ∂ŷ/∂expression)",
    "gradient_x_expression": "GIS (mean ∂ŷ/∂expression × Δexpression)",
}


def _subtitle(p: dict) -> str:
    if not p:
        return ""
    parts = [str(p["sample"])] if p.get("sample") else []
    where = str(p.get("center", ""))
    if p.get("chrom") and p.get("position") is not None:
        pos = f"{p['chrom']}:{int(p['position']):,}"
        if p.get("resolved_by") in ("locus", "region", "position") and where:
            pass  # the center already is a coordinate
        else:
            where = f"{where} ({pos})" if where and where != pos else pos
    if where:
        win = int(p.get("window", 0) or 0)
        parts.append(f"{where} ±{_kb(win)}" if win else where)
    if p.get("n_loci"):
        parts.append(f"{int(p['n_loci']):,} loci")
    return ", ".join(parts)


def _kb(bp: int) -> str:
    if bp >= 1_000_000:
        return f"{bp / 1e6:g} Mb"
    if bp >= 1_000:
        return f"{bp / 1e3:g} kb"
    return f"{bp:,} bp"


def _gis_table(data, key: str) -> tuple[pd.DataFrame, dict]:
    if isinstance(data, pd.DataFrame):
        return data, dict(data.attrs.get("params", {}) or {})
    ad = get_modality(data, "atac") if not isinstance(data, AnnData) else data
    rec = ad.uns.get(key)
    if rec is None:
        raise KeyError(
            f"adata.uns[{key!r}] not found; run dc.tl.gis(model, adata, sample, center=...) first."
        )
    df = pd.DataFrame({"tf": list(rec["tf"]), "gis": np.asarray(rec["gis"], dtype=float)})
    return df, dict(rec.get("params", {}) or {})


def _scale(values: np.ndarray) -> tuple[int, str]:
    """Power of ten to divide by so that tick labels have few digits (0 when not needed)."""
    top = float(np.nanmax(np.abs(values))) if values.size else 0.0
    if top == 0 or not np.isfinite(top) or 1e-2 <= top < 1e4:
        return 0, ""
    exp = int(np.floor(np.log10(top)))
    sup = str(exp).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return exp, f" ×10{sup}"


def gis(
    data: pd.DataFrame | AnnData,
    *,
    n_top: int = 20,
    key: str = "gis",
    highlight: list[str] | None = None,
    title: str | None = None,
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
    title
        Title (default: ``top n TFs by GIS`` and a line naming the sample, the region and the number of loci,
        from ``df.attrs['params']`` or ``uns[key]['params']``). Scores below 0.01 or above 10^4 are rescaled by
        a power of ten, given in the axis label, so that tick labels stay short.
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
    df, params = _gis_table(data, key)
    for col in ("tf", "gis"):
        if col not in df.columns:
            raise KeyError(f"GIS table needs columns 'tf' and 'gis' (has {list(df.columns)}).")
    top = df.sort_values("gis", ascending=False).head(n_top).iloc[::-1]
    fig, ax = _new_ax(ax, (4.2, max(2.0, 0.22 * len(top) + 1.0)))
    hl = set(highlight or [])
    colors = ["tab:red" if t in hl else "tab:blue" for t in top["tf"]]
    vals = top["gis"].to_numpy(dtype=float)
    exp, unit = _scale(vals)
    ax.barh(np.arange(len(top)), vals / 10.0**exp, color=colors)
    ax.set_yticks(np.arange(len(top)))
    ax.set_yticklabels(top["tf"].astype(str), fontsize="small")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    label = _XLABELS.get(params.get("method", "abs_gradient"), f"GIS ({params.get('method')})")
    ax.set_xlabel(label + unit)
    subtitle = _subtitle(params)
    if title is None:
        title = f"top {len(top)} TFs by GIS" + (f"\n{subtitle}" if subtitle else "")
    ax.set_title(title, fontsize="small")
    return _finish(fig, ax, show=show, save=save, name="gis")


gis.__doc__ = gis.__doc__.replace("{show_save}", _DOC_SHOW_SAVE)
