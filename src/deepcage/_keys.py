"""The names of the slots deepcage reads and writes: layers, ``obsm``/``varm`` keys, columns and ``uns`` records.

Defaults of ``layer=``, ``tf_key=``, ``motif_key=``, ``key_added=`` ... and the lookups of the same slots use
these names, so that a slot is spelled in one place.
"""

from __future__ import annotations

__all__ = [
    "BINARY",
    "GENOME_KEY",
    "LOCUS_CLASS",
    "LOG_NORM",
    "MOTIF_SCAN_KEY",
    "MOTIF_SCORES",
    "PREDICTION",
    "PREDICT_KEY",
    "SEQUENCE_CODES",
    "SPLIT",
    "TF_EXPRESSION",
    "TF_REFERENCE_KEY",
    "UNS_KEY",
]

# -- layers (samples x loci) ---------------------------------------------------------------------------------

#: 0/1 accessibility labels (:func:`deepcage.pp.binarize_peaks`): the targets of classification.
BINARY = "binary"
#: Log depth-normalised signal (:func:`deepcage.pp.normalize_depth`): the targets of regression.
LOG_NORM = "log_norm"
#: Predictions (:func:`deepcage.tl.predict`).
PREDICTION = "deepcage"

# -- obsm / varm ---------------------------------------------------------------------------------------------

#: ``obsm``: normalised TF expression, samples x TFs (:func:`deepcage.pp.tf_expression`).
TF_EXPRESSION = "tf_expr"
#: ``varm``: motif scores, loci x TFs (:func:`deepcage.pp.motif_scores`).
MOTIF_SCORES = "motif_scores"
#: ``varm``: the loci's sequences as 2-bit codes (:func:`deepcage.pp.sequence_codes`).
SEQUENCE_CODES = "sequence_codes"

# -- obs / var columns ---------------------------------------------------------------------------------------

#: ``obs`` and ``var``: ``'train'`` / ``'val'`` / ``'test'`` (:func:`deepcage.pp.split_samples`, ``split_loci``).
SPLIT = "split"
#: ``var``: the class of each locus (:func:`deepcage.pp.split_loci`), for metrics per class.
LOCUS_CLASS = "locus_class"

# -- uns -----------------------------------------------------------------------------------------------------

#: ``uns`` record of how the data was made (genome, TFs, TF reference, scans, splits, predictions).
UNS_KEY = "deepcage"
#: Under ``uns['deepcage']``: the genome of the loci (:meth:`deepcage.Genome.to_dict`).
GENOME_KEY = "genome"
#: Under ``uns['deepcage']``: one record per ``varm`` key of motif scores (the scan's settings).
MOTIF_SCAN_KEY = "motif_scan"
#: Under ``uns['deepcage']``: the TF-expression quantile reference (:func:`deepcage.pp.tf_expression`).
TF_REFERENCE_KEY = "tf_reference"
#: Under ``uns['deepcage']``: one record per prediction layer (:func:`deepcage.tl.predict`).
PREDICT_KEY = "predict"
