"""Read counts from BAM (pysam) and signal from bigWig (pyBigWig); bigWig writing of predicted tracks."""

from __future__ import annotations

__all__ = ["count_bam", "read_bigwig", "write_bigwig"]


def count_bam(*args, **kwargs):
    raise NotImplementedError("count_bam is being implemented")


def read_bigwig(*args, **kwargs):
    raise NotImplementedError("read_bigwig is being implemented")


def write_bigwig(*args, **kwargs):
    raise NotImplementedError("write_bigwig is being implemented")
