"""Readers and writers: peaks, expression, BAM/bigWig signal, motif databases."""

from .._genome import Genome
from ._expression import read_expression_table, read_rsem
from ._motif_readers import (
    read_homer,
    read_jaspar,
    read_jaspar_pfm,
    read_meme,
    read_motif_tf_table,
    read_motifs,
)
from ._motifs import Motif
from ._peaks import read_bed, read_narrowpeak
from ._signal import count_bam, read_bigwig, write_bigwig

__all__ = [
    "Genome",
    "Motif",
    "count_bam",
    "read_bed",
    "read_bigwig",
    "read_expression_table",
    "read_homer",
    "read_jaspar",
    "read_jaspar_pfm",
    "read_meme",
    "read_motif_tf_table",
    "read_motifs",
    "read_narrowpeak",
    "read_rsem",
    "write_bigwig",
]
