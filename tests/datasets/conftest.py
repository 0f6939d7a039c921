"""Fixtures of the dataset tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_motifs(shared_data, tmp_path_factory):
    """Four HOCOMOCO v11 motifs (GATA1, SPI1, CEBPA, TCF7): a dataset build without the cost of 400 motifs."""
    text = (shared_data / "motifs" / "HOCOMOCOv11_core_HUMAN_mono_homer_format_0.001.motif").read_text()
    wanted = ("GATA1_HUMAN", "SPI1_HUMAN", "CEBPA_HUMAN", "TCF7_HUMAN")
    keep = [m for m in text.split(">")[1:] if m.split("\t")[1].split(".")[0] in wanted]
    path = tmp_path_factory.mktemp("motifs") / "tiny.motif"
    path.write_text("".join(">" + m for m in keep))
    return str(path)
