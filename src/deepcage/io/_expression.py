"""Readers for expression tables: ENCODE/RSEM gene TSV and gene x sample count tables."""

from __future__ import annotations

__all__ = ["read_expression_table", "read_rsem"]


def read_rsem(*args, **kwargs):
    raise NotImplementedError("read_rsem is being implemented")


def read_expression_table(*args, **kwargs):
    raise NotImplementedError("read_expression_table is being implemented")
