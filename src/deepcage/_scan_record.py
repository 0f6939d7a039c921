"""How motif scores were made, recorded once and replayed for every new locus.

:func:`deepcage.pp.motif_scores` writes a :class:`MotifScan` into ``uns['deepcage']['motif_scan'][key]``;
:func:`deepcage.tl.fit` stores it with the model; :func:`deepcage.tl.predict` and
:func:`deepcage.tl.variant_effect` score loci that were not in the training AnnData with exactly these
settings (motifs, window, background, threshold rule), as scvi-tools replays its setup registry on new data.
A model whose scores were made outside the package has no record and refuses to score new loci rather than
guess the settings.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ._keys import MOTIF_SCAN_KEY, MOTIF_SCORES
from ._utils import deepcage_uns

__all__ = ["SCAN_KEY", "MotifScan", "motif_digest"]

log = logging.getLogger("deepcage")

#: Key under ``uns['deepcage']`` holding one record per ``varm`` key of motif scores.
SCAN_KEY = MOTIF_SCAN_KEY

_UNIFORM = (0.25, 0.25, 0.25, 0.25)


def motif_digest(motifs) -> str:
    """SHA-256 of the motifs' names, TFs, thresholds and PWMs (the identity of a motif set)."""
    h = hashlib.sha256()
    for m in motifs:
        h.update(f"{m.name}\t{m.tf}\t{m.threshold}\n".encode())
        # rounded: a PWM read back is renormalised, which may change its last bits
        h.update(np.round(np.asarray(m.pwm, dtype=np.float64), 9).tobytes())
    return h.hexdigest()


def _min_score_of(value):
    """Normalise a ``min_score`` option: None, a float, or ``'motif'``."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        if value != "motif":
            raise ValueError(f"min_score={value!r}; expected None, a number or 'motif'.")
        return "motif"
    return float(value)


@dataclass
class MotifScan:
    """A motif set and the settings of its scan: what :func:`deepcage.pp.motif_scores` did.

    Attributes
    ----------
    motifs
        The :class:`deepcage.io.Motif` list that was scanned (after ``tfs=`` selection).
    window
        Sequence length around each locus centre (bp).
    background
        A, C, G, T frequencies of the log-odds.
    min_score
        None (exact best score), a number, or ``'motif'`` (each motif's own threshold).
    source
        Where the motifs came from (file path or database name).
    """

    motifs: list
    window: int = 1000
    background: tuple[float, float, float, float] = _UNIFORM
    min_score: float | str | None = None
    source: str = ""
    version: str = ""
    sha256: str = field(default="")

    def __post_init__(self):
        self.motifs = list(self.motifs)
        self.window = int(self.window)
        self.background = tuple(float(b) for b in np.asarray(self.background, dtype=np.float64).ravel())
        if len(self.background) != 4:
            raise ValueError(f"background must hold 4 frequencies (A, C, G, T), got {self.background}.")
        self.min_score = _min_score_of(self.min_score)
        self.source = str(self.source or "")
        if not self.sha256:
            self.sha256 = motif_digest(self.motifs)
        if not self.version:
            from . import __version__

            self.version = __version__

    # ------------------------------------------------------------------ scanning
    @property
    def tf_of(self) -> list[str]:
        return [m.tf or m.name for m in self.motifs]

    def cuts(self) -> np.ndarray | None:
        """Per-motif score cut of the thresholded variant (None: exact best score)."""
        if self.min_score is None:
            return None
        if self.min_score == "motif":
            missing = [m.name for m in self.motifs if m.threshold is None]
            if missing:
                raise ValueError(
                    f"min_score='motif' but {len(missing)} motif(s) carry no threshold (e.g. {missing[0]!r}); "
                    "pass a number."
                )
            return np.array([m.threshold for m in self.motifs], dtype=np.float64)
        return np.full(len(self.motifs), float(self.min_score))

    def check_tfs(self, tfs: Sequence[str]) -> None:
        missing = [t for t in tfs if t not in set(self.tf_of)]
        if missing:
            raise ValueError(
                f"The recorded motif scan has no motif for {len(missing)} TF(s): {missing[:20]}."
            )

    def score(self, codes: np.ndarray, tfs: Sequence[str], *, device="auto", batch_size=None) -> np.ndarray:
        """Motif scores ``(n, len(tfs))`` float32 of sequences read with :attr:`window` (see :meth:`read`)."""
        from .pp._motif_scan import tf_scores

        if codes.shape[-1] != self.window:
            raise ValueError(
                f"Sequences are {codes.shape[-1]} bp but the motif scores were made on {self.window}-bp windows."
            )
        self.check_tfs(tfs)
        log_odds = [m.log_odds(self.background) for m in self.motifs]
        return tf_scores(
            codes, log_odds, self.tf_of, list(tfs), cuts=self.cuts(), device=device, batch_size=batch_size
        )

    def read(self, genome, chrom, start, end) -> np.ndarray:
        """Base codes of the scan windows of loci."""
        from ._onehot import locus_codes

        return locus_codes(genome, chrom, start, end, window=self.window)

    def describe(self) -> str:
        if self.min_score is None:
            rule = "exact best score"
        elif self.min_score == "motif":
            rule = "each motif's own threshold"
        else:
            rule = f"min_score {self.min_score:g}"
        bg = (
            "uniform"
            if self.background == _UNIFORM
            else "(" + ", ".join(f"{b:g}" for b in self.background) + ")"
        )
        return (
            f"{len(self.motifs)} motifs from {self.source or 'a custom list'}, {self.window}-bp window, "
            f"background {bg}, {rule}"
        )

    def with_motifs(self, motifs) -> MotifScan:
        """The same scan settings for another motif list."""
        return MotifScan(
            list(motifs),
            window=self.window,
            background=self.background,
            min_score=self.min_score,
            source=self.source,
        )

    # ------------------------------------------------------------------ storage
    @classmethod
    def from_settings(cls, motifs, settings: dict) -> MotifScan:
        """A scan from its motifs and :meth:`settings`; ValueError when the motifs do not match the checksum."""
        out = cls(
            list(motifs),
            window=int(settings["window"]),
            background=tuple(np.asarray(settings["background"], dtype=np.float64)),
            min_score=settings.get("min_score"),
            source=str(settings.get("source", "")),
            version=str(settings.get("version", "")),
        )
        if str(settings.get("sha256", "")) not in ("", out.sha256):
            raise ValueError("the motifs do not match the checksum recorded with their scan settings")
        return out

    def settings(self) -> dict:
        """The scan settings without the motifs (JSON-friendly)."""
        return {
            "window": self.window,
            "background": list(self.background),
            "min_score": self.min_score,
            "source": self.source,
            "sha256": self.sha256,
            "version": self.version,
            "n_motifs": len(self.motifs),
        }

    def to_uns(self) -> dict:
        """A record that an ``.h5ad`` / ``.h5mu`` file stores (arrays and scalars only)."""
        ms = self.motifs
        rule = self.min_score
        return {
            "window": self.window,
            "background": np.asarray(self.background, dtype=np.float64),
            "min_score_rule": "none" if rule is None else ("motif" if rule == "motif" else "number"),
            "min_score_value": float(rule) if isinstance(rule, float) else np.nan,
            "source": self.source,
            "sha256": self.sha256,
            "version": self.version,
            "names": np.asarray([str(m.name) for m in ms], dtype=object),
            "tfs": np.asarray([str(m.tf or "") for m in ms], dtype=object),
            "thresholds": np.asarray([np.nan if m.threshold is None else m.threshold for m in ms], float),
            "widths": np.asarray([m.width for m in ms], dtype=np.int64),
            "pwm": np.concatenate([np.asarray(m.pwm, dtype=np.float64) for m in ms])
            if ms
            else np.zeros((0, 4)),
        }

    @classmethod
    def from_uns(cls, rec: dict) -> MotifScan:
        from .io._motifs import Motif

        widths = np.asarray(rec["widths"], dtype=np.int64)
        pwm = np.asarray(rec["pwm"], dtype=np.float64).reshape(-1, 4)
        ends = np.cumsum(widths)
        motifs = []
        for i, (name, tf, thr) in enumerate(
            zip(
                np.asarray(rec["names"]).ravel(),
                np.asarray(rec["tfs"]).ravel(),
                np.asarray(rec["thresholds"]),
            )
        ):
            motifs.append(
                Motif(
                    name=str(name),
                    pwm=pwm[ends[i] - widths[i] : ends[i]],
                    tf=str(tf) or None,
                    threshold=None if np.isnan(thr) else float(thr),
                )
            )
        rule = str(rec.get("min_score_rule", "none"))
        settings = dict(rec, min_score={"none": None, "motif": "motif"}.get(rule, rec.get("min_score_value")))
        try:
            return cls.from_settings(motifs, settings)
        except ValueError as err:
            raise ValueError(
                f"The recorded motif scan is damaged or was edited ({err}): re-run dc.pp.motif_scores."
            ) from None

    @classmethod
    def from_adata(cls, adata, key: str = MOTIF_SCORES) -> MotifScan | None:
        """The record of ``varm[key]`` in ``adata.uns['deepcage']``, or None when the scores were made outside."""
        rec = (deepcage_uns(adata, create=False).get(SCAN_KEY) or {}).get(key)
        return None if rec is None else cls.from_uns(rec)
