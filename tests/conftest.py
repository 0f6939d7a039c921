"""Shared fixtures: the real example data in ``../shared/data`` (skipped cleanly when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "agg")

_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DEEPCAGE_SHARED_DATA", _ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ``../shared/data``; tests using it skip with a reason when it is missing."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real example data not found at {SHARED_DATA} (set DEEPCAGE_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def hg19_genome(shared_data):
    """hg19 chr20: the sequenced slices (UCSC names) patched with the b37 contig '20' (no 'chr' prefix)."""
    import deepcage as dc

    g = shared_data / "genome"
    return dc.Genome([g / "hg19_chr20_slices.fa.gz", g / "b37_20_1-1Mb.fa.gz"], name="hg19")


def _write_fasta(path, records: dict[str, str], width: int = 60) -> Path:
    with open(path, "w") as fh:
        for name, seq in records.items():
            fh.write(f">{name}\n")
            for i in range(0, len(seq), width):
                fh.write(seq[i : i + width] + "\n")
    return Path(path)


@pytest.fixture(scope="session")
def write_fasta():
    """``write_fasta(path, {name: sequence}, width=60)``: a FASTA file of the records, lines ``width`` long."""
    return _write_fasta
