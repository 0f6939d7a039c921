"""Example datasets: synthetic (planted rules), real blood cells (hg19 / hg38), ENCODE; a registry of their sources."""

from ._encode import encode, encode_files, encode_tf_tpm, fetch_genome
from ._heme import heme, shared_data_dir
from ._registry import data_dir, download, fetch, registry
from ._synthetic import synthetic, synthetic_motifs

__all__ = [
    "data_dir",
    "download",
    "encode",
    "encode_files",
    "encode_tf_tpm",
    "fetch",
    "fetch_genome",
    "heme",
    "registry",
    "shared_data_dir",
    "synthetic",
    "synthetic_motifs",
]
