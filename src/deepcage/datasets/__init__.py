"""Example datasets: synthetic (planted rules), real blood cells, ENCODE."""

from ._encode import encode, encode_tf_tpm
from ._heme import heme
from ._synthetic import synthetic, synthetic_motifs

__all__ = ["encode", "encode_tf_tpm", "heme", "synthetic", "synthetic_motifs"]
