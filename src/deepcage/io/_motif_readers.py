"""Readers for motif databases: HOMER, MEME, JASPAR (pyjaspar), and the motif -> TF table."""

from __future__ import annotations

__all__ = ["read_homer", "read_jaspar", "read_meme", "read_motif_tf_table", "read_motifs"]


def read_homer(*args, **kwargs):
    raise NotImplementedError("read_homer is being implemented")


def read_meme(*args, **kwargs):
    raise NotImplementedError("read_meme is being implemented")


def read_jaspar(*args, **kwargs):
    raise NotImplementedError("read_jaspar is being implemented")


def read_motifs(*args, **kwargs):
    raise NotImplementedError("read_motifs is being implemented")


def read_motif_tf_table(*args, **kwargs):
    raise NotImplementedError("read_motif_tf_table is being implemented")
