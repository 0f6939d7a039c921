"""Motif databases: HOMER, MEME and JASPAR (pyjaspar), with a motif -> TF symbol table."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Motif"]


@dataclass
class Motif:
    """A position weight matrix.

    Attributes
    ----------
    name
        Motif identifier (e.g. ``'GATA1_HUMAN.H11MO.0.A'``).
    pwm
        ``(width, 4)`` base probabilities in ``A, C, G, T`` order; rows sum to 1.
    tf
        Gene symbol of the TF the motif belongs to (``None`` when unknown).
    threshold
        Detection threshold on the log-odds score (HOMER files carry one), or ``None``.
    meta
        What the file says besides the matrix (``source``, ``format``, ``alt_name``, ``nsites``, ``background``
        ...).
    width
        Number of positions (rows of ``pwm``; read-only).
    """

    name: str
    pwm: np.ndarray
    tf: str | None = None
    threshold: float | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        pwm = np.asarray(self.pwm, dtype=np.float64)
        if pwm.ndim != 2 or pwm.shape[1] != 4 or pwm.shape[0] == 0:
            raise ValueError(f"Motif {self.name!r}: PWM must have shape (width, 4), got {pwm.shape}.")
        if not np.all(np.isfinite(pwm)) or (pwm < 0).any():
            raise ValueError(f"Motif {self.name!r}: PWM has negative or non-finite entries.")
        sums = pwm.sum(axis=1, keepdims=True)
        if (sums <= 0).any():
            raise ValueError(f"Motif {self.name!r}: a PWM row sums to 0.")
        self.pwm = pwm / sums

    @property
    def width(self) -> int:
        return self.pwm.shape[0]

    def log_odds(self, background=(0.25, 0.25, 0.25, 0.25), pseudocount: float = 1e-3) -> np.ndarray:
        """``(width, 4)`` log-odds matrix ``log((p + eps) / bg)`` (natural log, as HOMER thresholds use)."""
        bg = np.asarray(background, dtype=np.float64)
        p = (self.pwm + pseudocount) / (1 + 4 * pseudocount)
        return np.log(p / bg)
