"""Preprocessing: bins, labels, read counts, TF expression, motif scores, splits."""

from .._onehot import one_hot, reverse_complement_codes
from ._bins import bin_genome, sequenced_regions
from ._counts import count_reads, normalize_depth
from ._labels import binarize_peaks
from ._liftover import liftover
from ._motif_scores import motif_scores
from ._pseudobulk import pseudobulk
from ._sequence_codes import sequence_codes
from ._split import split_loci, split_samples
from ._tf import apply_tf_reference, tf_expression

__all__ = [
    "apply_tf_reference",
    "bin_genome",
    "binarize_peaks",
    "count_reads",
    "liftover",
    "motif_scores",
    "normalize_depth",
    "one_hot",
    "pseudobulk",
    "sequence_codes",
    "reverse_complement_codes",
    "sequenced_regions",
    "split_loci",
    "split_samples",
    "tf_expression",
]
