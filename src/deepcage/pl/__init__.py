"""Plotting, scanpy-style: ``show=``, ``save=``, ``ax=``; functions return Axes.

With a non-interactive matplotlib backend (scripts, tests) the Axes are returned; with an interactive one
(Jupyter, a GUI) the figure is shown unless ``show=False``.
"""

from ._calibration import calibration
from ._cross_validation import cross_validation
from ._filters import filter_logos
from ._gis import gis
from ._heatmap import heatmap
from ._history import history
from ._locus import track
from ._performance import compare, metric_by_group, pr_curves, scatter

__all__ = [
    "calibration",
    "compare",
    "cross_validation",
    "filter_logos",
    "gis",
    "heatmap",
    "history",
    "metric_by_group",
    "pr_curves",
    "scatter",
    "track",
]
