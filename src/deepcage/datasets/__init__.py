"""Example datasets: synthetic (planted rules), real blood cells, ENCODE."""

from ._encode import encode, encode_files, encode_tf_tpm, fetch_genome
from ._heme import heme, shared_data_dir
from ._synthetic import synthetic, synthetic_motifs

__all__ = [
    "encode",
    "encode_files",
    "encode_tf_tpm",
    "fetch_genome",
    "heme",
    "shared_data_dir",
    "synthetic",
    "synthetic_motifs",
]
