"""First-layer filters -> PWMs, information content, influence, TomTom matches against a motif database."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd
from anndata import AnnData
from tqdm.auto import tqdm

from .._keys import MOTIF_SCORES, TF_EXPRESSION
from .._layers import expr_frame, motif_frame, select
from .._settings import show_progress
from .._utils import deepcage_uns, genome_record, get_modality, loci_of, resolve_genome
from ..io._motifs import Motif

if TYPE_CHECKING:
    from ..model._model import DeepCAGE

__all__ = ["FilterMotifs", "filter_motifs", "write_meme"]

logger = logging.getLogger("deepcage")


class FilterMotifs(NamedTuple):
    """Result of :func:`filter_motifs` (unpacks as ``table, motifs, matches = result``).

    Attributes
    ----------
    table
        One row per first-layer filter (see :func:`filter_motifs`).
    motifs
        One :class:`deepcage.io.Motif` per filter with at least one site (name ``filter{i}``, PWM ``(15, 4)``).
    matches
        Every TomTom match with ``evalue <= evalue_threshold``: ``filter``, ``target``, ``target_tf``,
        ``pvalue``, ``evalue``, ``offset``, ``overlap``, ``strand`` (empty without a database).
    """

    table: pd.DataFrame
    motifs: list[Motif]
    matches: pd.DataFrame

    def to_meme(self, path) -> None:
        """Write the filter PWMs as a MEME file (see :func:`write_meme`)."""
        write_meme(self.motifs, path)


def write_meme(motifs: Sequence[Motif], path, *, background=(0.25, 0.25, 0.25, 0.25)) -> None:
    """Write motifs as a minimal MEME file (readable by MEME suite tools, TomTom, :func:`deepcage.io.read_meme`).

    Parameters
    ----------
    motifs
        :class:`deepcage.io.Motif` objects; ``motif.tf`` becomes the alternate name; ``meta['nsites']`` is written
        when present.
    path
        Output file.
    background
        ``A C G T`` background frequencies written in the header.
    """
    motifs = list(motifs)
    if not motifs:
        raise ValueError("No motifs to write.")
    bg = " ".join(f"{b} {f:.4f}" for b, f in zip("ACGT", background))
    lines = [
        "MEME version 5",
        "",
        "ALPHABET= ACGT",
        "",
        "strands: + -",
        "",
        "Background letter frequencies",
        bg,
        "",
    ]
    for m in motifs:
        name = str(m.name).replace(" ", "_")
        alt = f" {str(m.tf).replace(' ', '_')}" if m.tf else ""
        nsites = int(m.meta.get("nsites", 20)) if m.meta else 20
        lines.append(f"MOTIF {name}{alt}")
        lines.append(f"letter-probability matrix: alength= 4 w= {m.width} nsites= {nsites} E= 0")
        lines.extend(" ".join(f"{v:.6f}" for v in row) for row in m.pwm)
        lines.append("")
    with open(os.fspath(path), "w") as fh:
        fh.write("\n".join(lines))


def _network(model, require_conv: bool = True):
    net = getattr(model, "network", model)
    conv = getattr(net, "first_conv", None)
    if conv is None and require_conv:
        raise AttributeError(
            "The model has no first convolution (network.first_conv): it was fit without the sequence branch."
        )
    return net, conv


def _device(net):
    import torch

    try:
        return next(net.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def _model_tables(model, adata: AnnData, tf_key: str = TF_EXPRESSION, motif_key: str = MOTIF_SCORES):
    """Motif scores (loci x TFs) and expression (samples x TFs) in the model's TF order."""
    tfs = list(getattr(model, "tfs", []) or [])
    expr = expr_frame(adata, tf_key, require_names=False)
    motif = motif_frame(adata, motif_key, require_names=False)
    if tfs:
        missing = [t for t in tfs if t not in expr.columns or t not in motif.columns]
        if missing:
            raise KeyError(
                f"{len(missing)} model TF(s) missing from obsm[{tf_key!r}] / varm[{motif_key!r}], "
                f"e.g. {missing[:5]}; prepare the data with the model's TF list (model.tfs)."
            )
        expr, motif = expr[tfs], motif[tfs]
    else:
        tfs = [str(c) for c in expr.columns]
    return tfs, motif.to_numpy(np.float32), expr.to_numpy(np.float32)


def _onehot_loci(model, adata: AnnData, idx: np.ndarray, genome=None) -> np.ndarray:
    from .._genome import Genome
    from .._onehot import locus_codes, one_hot

    rec = getattr(model, "genome", None) or {}
    if genome is None and not genome_record(adata) and rec.get("fasta"):
        if hasattr(model, "missing_fasta") and model.missing_fasta():
            raise model.genome_needed("The loci's sequences are read from the genome")
        genome = Genome(
            list(rec["fasta"]), name=rec.get("name") or None
        )  # the genome the model was trained on
    genome = resolve_genome(adata, genome)
    loci = loci_of(adata).iloc[idx]
    window = int(getattr(model, "seq_len", 1000) or 1000)
    codes = locus_codes(
        genome, loci["chrom"].to_numpy(), loci["start"].to_numpy(), loci["end"].to_numpy(), window=window
    )
    return one_hot(codes).astype(np.float32)


def _output(model, logits):
    import torch

    task = getattr(model, "task", "classification")
    return torch.sigmoid(logits) if task == "classification" else logits


def _information_content(pwm: np.ndarray) -> float:
    p = np.clip(pwm, 1e-12, 1.0)
    return float(np.sum(2.0 + np.sum(pwm * np.log2(p), axis=1)))


def filter_motifs(
    model: DeepCAGE,
    adata: AnnData,
    *,
    threshold: float = 0.7,
    database: str | os.PathLike | Sequence[Motif] | None = None,
    loci: str | Sequence[str] = "all",
    n_loci: int = 2000,
    compute_influence: bool = True,
    n_influence_loci: int = 256,
    influence_samples: str | Sequence[str] = "train",
    evalue_threshold: float = 0.01,
    pseudocount: float = 0.01,
    batch_size: int = 64,
    genome=None,
    seed: int = 0,
    progress: bool | None = None,
    key_added: str | None = "filter_motifs",
) -> FilterMotifs:
    """Turn the first-layer convolution filters into PWMs and match them to known motifs (as the paper).

    For each filter of ``model.network.first_conv``: its activation (the convolution output) over every
    position of ``n_loci`` loci; the windows (filter width, 15 bp) whose activation exceeds ``threshold`` x the
    filter's maximum activation are stacked and their base frequencies give a PWM. Then

    * information content of the PWM (bits, sum over positions of ``2 + sum p log2 p``);
    * influence: mean over loci x samples of ``|ŷ - ŷ_without filter|``, the filter's output set to 0
      (``ŷ`` = probability for classification, signal for regression);
    * TomTom (``memelite.tomtom``) against ``database``: p-value, E-value (p-value x number of targets),
      best match and its TF; a filter is ``matched`` when its best E-value <= ``evalue_threshold``
      (the paper: E < 0.01, 48 of 160 filters).

    Parameters
    ----------
    model
        A fitted :class:`deepcage.DeepCAGE` (``model.network.first_conv`` is the first ``nn.Conv1d``).
    adata
        Samples x loci AnnData (or MuData) the model was trained on (genome in ``uns['deepcage']``,
        ``obsm['tf_expr']``, ``varm['motif_scores']`` for the influence).
    threshold
        Fraction of the filter's maximum activation a window must exceed (paper: 0.7).
    database
        Motifs to match: a file (MEME / HOMER, read by :func:`deepcage.io.read_motifs`), ``'jaspar'``
        (pyjaspar JASPAR2024 CORE vertebrates), a list of :class:`deepcage.io.Motif`, or ``None`` (no matching).
    loci
        Loci to draw the scanned loci from: a split name, ``'all'`` or names.
    n_loci
        Number of loci drawn at random from ``loci`` and scanned.
    compute_influence
        Compute each filter's influence (the ``influence`` column).
    n_influence_loci
        Number of the scanned loci the influence is computed on.
    influence_samples
        Samples the influence is averaged over (a split name, ``'all'`` or names; at most 16 are used).
    evalue_threshold
        E-value cut for ``matched`` and for the ``matches`` table.
    pseudocount
        Added to each base count before normalising (keeps PWMs finite for TomTom).
    batch_size
        Loci per forward pass.
    genome
        Genome (default: the one recorded in ``adata.uns['deepcage']``).
    seed
        Random seed of the locus draw.
    progress
        Show progress bars (``None``, the default: per ``dc.settings.verbosity``).
    key_added
        Store the table and PWMs in ``adata.uns['deepcage'][key_added]`` (``None``: do not store).

    Returns
    -------
    A ``FilterMotifs`` named tuple ``(table, motifs, matches)``. ``table`` has one row per filter (index
    ``filter{i}``): ``filter`` (index), ``n_sites`` (windows above threshold), ``max_activation``, ``consensus``,
    ``information_content``, ``influence`` (with ``compute_influence``), and with a database ``best_match``,
    ``best_tf``, ``pvalue``, ``evalue``, ``matched``. Filters with no site (never positive) have an empty
    consensus and no motif. With ``key_added`` writes ``uns['deepcage'][key_added]`` = ``{'table', 'pwms'
    ((n_filters, width, 4) array, zeros for filters without site), 'params'}``. Export the PWMs with
    ``result.to_meme(path)``.

    Examples
    --------
    >>> res = dc.tl.filter_motifs(model, adata, database="JASPAR2024_consensus.meme")
    >>> res.table.sort_values("influence", ascending=False).head()
    >>> res.to_meme("filters.meme")
    >>> dc.pl.filter_logos(res, n=8)
    """
    ad = get_modality(adata, "atac")
    net, conv = _network(model)
    pad = _check_first_conv(conv, threshold)
    rng = np.random.default_rng(seed)
    pool = select(ad, loci, "var")
    idx = np.sort(rng.choice(pool, size=min(n_loci, pool.size), replace=False))
    x = _onehot_loci(model, ad, idx, genome)
    device = _device(net)
    was_training = net.training
    net.eval()
    try:
        counts, n_sites, fmax = _site_counts(
            conv, x, threshold=threshold, pad=pad, batch_size=batch_size, device=device, progress=progress
        )
        table, motifs, pwms = _filter_pwms(counts, n_sites, fmax, pseudocount)
        if compute_influence:
            table["influence"] = _influence(
                model, net, conv, ad, idx, x, n_influence_loci, influence_samples, batch_size, rng, progress
            )
    finally:
        net.train(was_training)

    matches = pd.DataFrame(
        columns=["filter", "target", "target_tf", "pvalue", "evalue", "offset", "overlap", "strand"]
    )
    if database is not None and motifs:
        table, matches = _tomtom(table, motifs, database, evalue_threshold)
    if key_added:
        deepcage_uns(ad)[key_added] = {
            "table": table,
            "pwms": pwms,
            "params": {
                "threshold": float(threshold),
                "n_loci": int(len(idx)),
                "evalue_threshold": float(evalue_threshold),
                "database": _describe_database(database),
            },
        }
    return FilterMotifs(table, motifs, matches)


def _check_first_conv(conv, threshold: float) -> int:
    """Check the threshold and that the first convolution reads the one-hot densely; its padding."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}.")
    if conv.in_channels != 4:
        raise ValueError(f"first_conv must take the 4-row one-hot, it has {conv.in_channels} input channels.")
    pad = conv.padding[0] if isinstance(conv.padding, tuple) else 0
    dilation, stride = conv.dilation[0], conv.stride[0]
    if dilation != 1 or stride != 1:
        raise ValueError("filter_motifs supports first convolutions with stride 1 and dilation 1.")
    return pad


def _site_counts(conv, x: np.ndarray, *, threshold, pad, batch_size, device, progress):
    """Base counts ``(F, width, 4)`` of the windows above ``threshold`` x each filter's maximum, sites, maxima.

    Two passes over the one-hot loci: the maximum activation of every filter, then the windows above the cut.
    """
    import torch

    n_filters, width = conv.out_channels, conv.kernel_size[0]
    batches = [slice(i, min(len(x), i + batch_size)) for i in range(0, len(x), batch_size)]
    with torch.no_grad():
        # pass 1: maximum activation of every filter
        fmax = torch.full((n_filters,), -torch.inf, device=device)
        for sl in tqdm(batches, desc="filter maxima", disable=not show_progress(progress), unit="batch"):
            fmax = torch.maximum(fmax, conv(torch.from_numpy(x[sl]).to(device)).amax(dim=(0, 2)))
        cut = threshold * fmax
        cut = torch.where(fmax > 0, cut, torch.full_like(cut, torch.inf))  # never-positive filters: no site
        # pass 2: base counts of the windows above the cut
        counts = torch.zeros((n_filters, width, 4), dtype=torch.float64, device=device)
        n_sites = torch.zeros(n_filters, dtype=torch.int64, device=device)
        for sl in tqdm(batches, desc="filter sites", disable=not show_progress(progress), unit="batch"):
            xb = torch.from_numpy(x[sl]).to(device)
            act = conv(xb)  # (B, F, L')
            hit = (act > cut[None, :, None]).to(torch.float32)  # (B, F, L')
            padded = torch.nn.functional.pad(xb, (pad, pad))  # N (zero) columns where the filter overhangs
            win = padded.unfold(2, width, 1)[:, :, : act.shape[2]]  # (B, 4, L', width)
            counts += torch.einsum("bfl,bklw->fwk", hit, win).to(torch.float64)
            n_sites += hit.sum(dim=(0, 2)).to(torch.int64)
    return counts.cpu().numpy(), n_sites.cpu().numpy(), fmax.cpu().numpy()


def _filter_pwms(counts, n_sites, fmax, pseudocount: float) -> tuple[pd.DataFrame, list[Motif], np.ndarray]:
    """The per-filter table, the motifs of the filters with sites and all PWMs (zeros without site)."""
    n_filters, width = counts.shape[:2]
    pwms = np.zeros((n_filters, width, 4))
    motifs: list[Motif] = []
    rows = []
    for f in range(n_filters):
        row = {"filter": f, "n_sites": int(n_sites[f]), "max_activation": float(fmax[f])}
        if n_sites[f] > 0:
            pwm = (counts[f] + pseudocount) / (counts[f] + pseudocount).sum(axis=1, keepdims=True)
            pwms[f] = pwm
            row["consensus"] = "".join(
                "ACGT"[k] if pwm[i, k] >= 0.5 else "N" for i, k in enumerate(pwm.argmax(axis=1))
            )
            row["information_content"] = _information_content(pwm)
            motifs.append(Motif(name=f"filter{f}", pwm=pwm, meta={"nsites": int(n_sites[f]), "filter": f}))
        else:
            row["consensus"] = ""
            row["information_content"] = 0.0
        rows.append(row)
    table = pd.DataFrame(rows, index=[f"filter{f}" for f in range(n_filters)])
    return table, motifs, pwms


def _describe_database(database) -> str:
    if database is None:
        return "none"
    if isinstance(database, str | os.PathLike):
        return str(database)
    return f"{len(database)} motifs"


def _influence(model, net, conv, adata, idx, x, n_loci, samples, batch_size, rng, progress) -> np.ndarray:
    """Mean |ŷ - ŷ(filter f zeroed)| over loci x samples, for every filter."""
    import torch

    tfs, motif, expr = _model_tables(model, adata)
    s_idx = select(adata, samples, "obs")[:16]
    pick = np.sort(rng.choice(len(idx), size=min(n_loci, len(idx)), replace=False))
    device = _device(net)
    xs = torch.from_numpy(x[pick]).to(device)
    ms = torch.from_numpy(motif[idx[pick]]).to(device)
    es = torch.from_numpy(expr[s_idx]).to(device)
    n_filters = conv.out_channels
    state = {"f": None}

    def hook(_module, _inp, out):
        if state["f"] is None:
            return out
        out = out.clone()
        out[:, state["f"]] = 0.0
        return out

    handle = conv.register_forward_hook(hook)
    try:
        with torch.no_grad():

            def predict():
                outs = [
                    _output(model, net(xs[i : i + batch_size], ms[i : i + batch_size], es))
                    for i in range(0, len(pick), batch_size)
                ]
                return torch.cat(outs, dim=0)

            base = predict()
            infl = np.zeros(n_filters)
            shown = show_progress(progress)
            for f in tqdm(range(n_filters), desc="filter influence", disable=not shown, unit="filter"):
                state["f"] = f
                infl[f] = float((base - predict()).abs().mean())
                state["f"] = None
    finally:
        handle.remove()
    return infl


def _load_database(database) -> list[Motif]:
    if isinstance(database, str | os.PathLike):
        from ..io import read_motifs

        if str(database).lower() == "jaspar":
            return read_motifs("JASPAR2024", tax_group="vertebrates")
        return read_motifs(database)
    motifs = list(database)
    if not all(isinstance(m, Motif) for m in motifs):
        raise TypeError("database must be a motif file, 'jaspar', or a list of deepcage.io.Motif.")
    return motifs


def _tomtom(table: pd.DataFrame, motifs: list[Motif], database, evalue_threshold: float):
    from memelite import tomtom

    targets = _load_database(database)
    if not targets:
        raise ValueError("The motif database is empty.")
    qs = [np.ascontiguousarray(m.pwm.T) for m in motifs]
    ts = [np.ascontiguousarray(t.pwm.T) for t in targets]
    p, _scores, offsets, overlaps, strands = tomtom(qs, ts)[:5]
    evalues = p * len(ts)
    best = np.argmin(p, axis=1)
    table = table.copy()
    table["best_match"] = ""
    table["best_tf"] = ""
    table["pvalue"] = 1.0
    table["evalue"] = float(len(ts))
    rows = []
    for qi, m in enumerate(motifs):
        f = m.meta["filter"]
        b = best[qi]
        tgt = targets[b]
        table.loc[m.name, ["best_match", "best_tf"]] = [tgt.name, tgt.tf or tgt.name]
        table.loc[m.name, ["pvalue", "evalue"]] = [float(p[qi, b]), float(evalues[qi, b])]
        for ti in np.flatnonzero(evalues[qi] <= evalue_threshold):
            rows.append(
                {
                    "filter": f,
                    "target": targets[ti].name,
                    "target_tf": targets[ti].tf or targets[ti].name,
                    "pvalue": float(p[qi, ti]),
                    "evalue": float(evalues[qi, ti]),
                    "offset": int(offsets[qi, ti]),
                    "overlap": int(overlaps[qi, ti]),
                    "strand": "-" if strands[qi, ti] else "+",
                }
            )
    table["matched"] = table["evalue"] <= evalue_threshold
    matches = pd.DataFrame(
        rows, columns=["filter", "target", "target_tf", "pvalue", "evalue", "offset", "overlap", "strand"]
    )
    matches = matches.sort_values(["filter", "evalue"]).reset_index(drop=True)
    logger.info(
        "filter_motifs: %d of %d filters match the database (E <= %g).",
        int(table["matched"].sum()),
        len(table),
        evalue_threshold,
    )
    return table, matches
