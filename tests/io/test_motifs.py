"""Motif readers: HOMER, MEME, JASPAR (pyjaspar), the motif -> TF table, and malformed files."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

import deepcage as dc
from deepcage.io import Motif

# ------------------------------------------------------------------------------------------- writers for tests


def _homer_text(motifs):
    out = []
    for m in motifs:
        cons = "".join("ACGT"[i] for i in m.pwm.argmax(axis=1))
        out.append(f">{cons}\t{m.name}\t{m.threshold}")
        out += ["\t".join(f"{v:.6f}" for v in row) for row in m.pwm]
    return "\n".join(out) + "\n"


def _meme_text(motifs, *, alt=None, background="A 0.3 C 0.2 G 0.2 T 0.3"):
    out = [
        "MEME version 4",
        "",
        "ALPHABET= ACGT",
        "",
        "strands: + -",
        "",
        "Background letter frequencies",
        background,
        "",
    ]
    for k, m in enumerate(motifs):
        out.append(f"MOTIF {m.name}" + (f" {alt[k]}" if alt else ""))
        out.append(f"letter-probability matrix: alength= 4 w= {m.width} nsites= 20 E= 0")
        out += [" ".join(f"{v:.6f}" for v in row) for row in m.pwm]
        out += ["URL http://example.org/" + m.name, ""]
    return "\n".join(out)


def _random_motifs(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return [
        Motif(
            name=f"M{i}_HUMAN.H11MO.0.A",
            pwm=rng.dirichlet(np.ones(4), size=rng.integers(6, 15)),
            threshold=4.5 + i,
        )
        for i in range(n)
    ]


# ------------------------------------------------------------------------------------------- real files


def test_hocomoco_v11_homer(shared_data):
    motifs = dc.io.read_homer(shared_data / "motifs" / "HOCOMOCOv11_core_HUMAN_mono_homer_format_0.001.motif")
    assert len(motifs) == 401
    gata1 = [m for m in motifs if m.tf == "GATA1"]
    assert len(gata1) == 1 and gata1[0].name == "GATA1_HUMAN.H11MO.0.A"
    assert gata1[0].threshold == pytest.approx(4.68521)
    assert gata1[0].width == len(gata1[0].meta["consensus"])
    assert all(isinstance(m.threshold, float) and np.isfinite(m.threshold) for m in motifs)
    np.testing.assert_allclose(motifs[0].pwm.sum(axis=1), 1.0)


def test_hocomoco_v11_with_tf_table(shared_data):
    table_path = shared_data / "motifs" / "HOCOMOCOv11_HUMAN_mono_motifs_core.tsv"
    table = dc.io.read_motif_tf_table(table_path)
    assert len(table) == 401 and table["ANDR_HUMAN.H11MO.0.A"] == "AR"
    motif_file = shared_data / "motifs" / "HOCOMOCOv11_core_HUMAN_mono_homer_format_0.001.motif"
    motifs = dc.io.read_motifs(motif_file, tf_table=table_path)
    by_name = {m.name: m.tf for m in motifs}
    assert by_name["ANDR_HUMAN.H11MO.0.A"] == "AR" and by_name["GATA1_HUMAN.H11MO.0.A"] == "GATA1"
    with pytest.warns(UserWarning, match="UniProt entry names"):
        guessed = dc.io.read_motifs(motif_file)
    assert {m.name: m.tf for m in guessed}["ANDR_HUMAN.H11MO.0.A"] == "ANDR"


def test_hocomoco_v12_meme(shared_data):
    motifs = dc.io.read_motifs(shared_data / "motifs" / "HOCOMOCOv12_core.meme")
    assert len(motifs) == 1443
    assert motifs[0].name == "AHR.H12CORE.0.P.B" and motifs[0].tf == "AHR" and motifs[0].width == 10
    assert motifs[0].threshold is None
    np.testing.assert_allclose(motifs[0].meta["background"], [0.25] * 4)
    assert "GATA1" in {m.tf for m in motifs}


def test_jaspar_consensus_meme(shared_data):
    motifs = dc.io.read_meme(shared_data / "motifs" / "JASPAR2024_consensus.meme")
    assert len(motifs) > 100
    assert motifs[0].name == "C001:HES_SREBF:bHLH" and motifs[0].tf == "C001:HES_SREBF:bHLH"
    assert motifs[0].width == 6 and motifs[0].pwm[0].argmax() == 1  # first row is mostly C
    assert len({m.tf for m in motifs}) == len(motifs)  # cluster ids stay unique


def test_pyjaspar_core_vertebrates():
    motifs = dc.io.read_motifs("JASPAR2024")
    assert len(motifs) > 500
    assert {m.meta["collection"] for m in motifs} == {"CORE"}
    assert {m.meta["tax_group"] for m in motifs} == {"vertebrates"}
    tfs = {m.tf for m in motifs}
    assert "GATA1" in tfs and any("::" in t for t in tfs)  # dimers kept as one symbol string
    one = dc.io.read_jaspar(ids=["MA0035"])
    assert one[0].name.startswith("MA0035.") and one[0].tf == "GATA1"
    np.testing.assert_allclose(
        one[0].pwm, one[0].meta["counts"] / one[0].meta["counts"].sum(1, keepdims=True)
    )
    with pytest.raises(ValueError, match=r"Unknown JASPAR release 'JASPAR1999'.*JASPAR2024"):
        dc.io.read_jaspar(release="JASPAR1999")


# ------------------------------------------------------------------------------------------- round trips


def test_homer_round_trip(tmp_path):
    motifs = _random_motifs()
    path = tmp_path / "m.motif"
    path.write_text(_homer_text(motifs))
    back = dc.io.read_homer(path)
    assert [m.name for m in back] == [m.name for m in motifs]
    assert [m.tf for m in back] == ["M0", "M1", "M2"]
    for a, b in zip(motifs, back):
        np.testing.assert_allclose(a.pwm, b.pwm, atol=1e-5)
        assert a.threshold == b.threshold
    gz = tmp_path / "m.motif.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    with pytest.warns(UserWarning, match="2 of 3 motifs are not in tf_table"):
        from_gz = dc.io.read_motifs(gz, tf_table={"M0_HUMAN.H11MO.0.A": "GATA1"})
    assert [m.name for m in from_gz] == [m.name for m in motifs] and from_gz[0].tf == "GATA1"


def test_meme_round_trip_alt_names_and_table(tmp_path):
    motifs = _random_motifs(seed=1)
    path = tmp_path / "m.meme"
    path.write_text(_meme_text(motifs, alt=["GATA1", "TAL1", "FOS::JUN"]))
    back = dc.io.read_meme(path)
    assert [m.tf for m in back] == ["GATA1", "TAL1", "FOS::JUN"]
    np.testing.assert_allclose(back[0].meta["background"], [0.3, 0.2, 0.2, 0.3])
    assert back[1].meta["nsites"] == 20 and back[1].meta["url"].endswith(motifs[1].name)
    for a, b in zip(motifs, back):
        np.testing.assert_allclose(a.pwm, b.pwm, atol=1e-5)
    # a table wins over names; motifs missing from it keep their name-derived TF, with a warning
    with pytest.warns(UserWarning, match="2 of 3 motifs are not in tf_table"):
        tabled = dc.io.read_motifs(path, tf_table={motifs[0].name: "GATA2"})
    assert [m.tf for m in tabled] == ["GATA2", "TAL1", "FOS::JUN"]
    # unknown suffix: format sniffed from the content
    other = tmp_path / "m.txt"
    other.write_text(path.read_text())
    assert len(dc.io.read_motifs(other)) == 3


def test_motif_tf_table_headerless_and_errors(tmp_path):
    p = tmp_path / "t.tsv"
    p.write_text("MA0035.4\tGATA1\nMA0140.3\tGATA1::TAL1\n")
    assert dc.io.read_motif_tf_table(p) == {"MA0035.4": "GATA1", "MA0140.3": "GATA1::TAL1"}
    p.write_text("motif\ttf\nA\tGATA1\nB\t\n")
    with pytest.raises(ValueError, match=r"t\.tsv, line 3: motif 'B' has an empty TF symbol"):
        dc.io.read_motif_tf_table(p)
    p.write_text("motif\ttf\nA\tGATA1\nA\tTAL1\n")
    with pytest.raises(ValueError, match=r"line 3: motif 'A' is listed again"):
        dc.io.read_motif_tf_table(p)


# ------------------------------------------------------------------------------------------- malformed files


def _homer(tmp_path, text, name="bad.motif"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_homer_row_not_four_numbers(tmp_path):
    path = _homer(tmp_path, ">ACG\tm1\t5.0\n0.7\t0.1\t0.1\t0.1\n0.1\t0.7\t0.1\n0.1\t0.1\t0.7\t0.1\n")
    with pytest.raises(
        ValueError, match=r"bad\.motif, line 3: expected 4 numbers \(A C G T probabilities\).*'m1'"
    ):
        dc.io.read_homer(path)
    path = _homer(tmp_path, ">AC\tm1\t5.0\n0.7\t0.1\t0.1\t0.1\n0.1\tx\t0.1\t0.1\n")
    with pytest.raises(ValueError, match=r"line 3: expected 4 numbers"):
        dc.io.read_homer(path)


def test_homer_threshold_width_and_structure(tmp_path):
    path = _homer(tmp_path, ">ACG\tm1\thigh\n0.7\t0.1\t0.1\t0.1\n")
    with pytest.raises(
        ValueError, match=r"line 1: the 3rd header field \(log-odds threshold\) must be a number"
    ):
        dc.io.read_homer(path)
    path = _homer(tmp_path, ">ACGT\tm1\t5\n0.7\t0.1\t0.1\t0.1\n0.1\t0.7\t0.1\t0.1\n>AA\tm2\t3\n")
    with pytest.raises(
        ValueError, match=r"line 1: motif 'm1' has consensus 'ACGT' of width 4 but 2 matrix rows"
    ):
        dc.io.read_homer(path)
    path = _homer(tmp_path, ">A\tm1\t5\n1\t0\t0\t0\n>C\tm2\t3\n")
    with pytest.raises(ValueError, match=r"line 3: motif 'm2' has no matrix rows before the end of the file"):
        dc.io.read_homer(path)
    path = _homer(tmp_path, "0.7\t0.1\t0.1\t0.1\n")
    with pytest.raises(ValueError, match=r"line 1: expected a '>consensus<TAB>name<TAB>threshold' header"):
        dc.io.read_homer(path)
    path = _homer(tmp_path, "# only a comment\n")
    with pytest.raises(ValueError, match="no motifs found"):
        dc.io.read_homer(path)
    path = _homer(tmp_path, ">A\tm1\t5\n0\t0\t0\t0\n")
    with pytest.raises(ValueError, match=r"motif 'm1' \(line 1\): .*sums to 0"):
        dc.io.read_homer(path)


def test_meme_malformed(tmp_path):
    good = _meme_text(_random_motifs(2, seed=3))
    lines = good.splitlines()
    first_row = next(i for i, line in enumerate(lines) if line.startswith("letter-probability")) + 1
    # a row with 3 numbers
    bad = lines.copy()
    bad[first_row + 1] = "0.2 0.3 0.5"
    path = tmp_path / "bad.meme"
    path.write_text("\n".join(bad))
    with pytest.raises(ValueError, match=rf"bad\.meme, line {first_row + 2}: expected 4 numbers .*got 3"):
        dc.io.read_meme(path)
    # w= larger than the rows given
    bad = [
        line.replace("w= ", "w= 9", 1) if line.startswith("letter-probability") else line for line in lines
    ]
    path.write_text("\n".join(bad))
    with pytest.raises(
        ValueError, match=r"declares w= 9\d+ \(line \d+\) but only \d+ matrix rows .*width mismatch"
    ):
        dc.io.read_meme(path)
    # truncated file: ends inside the last matrix
    last = max(i for i, line in enumerate(lines) if line.startswith("letter-probability"))
    path.write_text("\n".join(lines[: last + 3]))
    with pytest.raises(ValueError, match=r"declares w= \d+ but has 2 matrix rows before the end of the file"):
        dc.io.read_meme(path)
    # more rows than w=
    bad = lines.copy()
    bad.insert(first_row + 1, "0.25 0.25 0.25 0.25")
    path.write_text("\n".join(bad))
    with pytest.raises(ValueError, match="more matrix rows than its w="):
        dc.io.read_meme(path)
    # no motifs, non-DNA alphabet, motif without a matrix
    path.write_text("MEME version 4\n\nALPHABET= ACGT\n")
    with pytest.raises(ValueError, match=r"bad\.meme: no motifs found"):
        dc.io.read_meme(path)
    path.write_text("MEME version 4\n\nALPHABET= ACDEFGHIKLMNPQRSTVWY\n")
    with pytest.raises(ValueError, match=r"line 3: ALPHABET= .* is not DNA"):
        dc.io.read_meme(path)
    path.write_text("MEME version 4\n\nMOTIF a\nURL x\n\nMOTIF b\n")
    with pytest.raises(
        ValueError, match=r"line 3: MOTIF 'a' has no 'letter-probability matrix:' section before line 6"
    ):
        dc.io.read_meme(path)


def test_read_motifs_bad_sources(tmp_path):
    with pytest.raises(FileNotFoundError, match="Motif file not found"):
        dc.io.read_motifs(tmp_path / "nope.meme")
    p = tmp_path / "what.txt"
    p.write_text("hello\n")
    with pytest.raises(ValueError, match=r"what\.txt, line 1: cannot tell the motif format"):
        dc.io.read_motifs(p)
    fake = tmp_path / "m.meme.gz"
    fake.write_text("MEME version 4\n")
    with pytest.raises(ValueError, match="has a .gz suffix but is not gzip"):
        dc.io.read_motifs(fake)
