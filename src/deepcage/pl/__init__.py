"""Plotting, scanpy-style: ``show=``, ``save=``, ``ax=``; functions return Axes."""

__all__: list[str] = []
