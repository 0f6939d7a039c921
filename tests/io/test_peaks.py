"""BED / narrowPeak readers: real files and the bad-input corpus."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

import deepcage as dc

NP_LINES = [
    "chr20\t100\t300\tp1\t10\t.\t5.5\t3.2\t2.1\t50",
    "chr20\t500\t900\tp2\t20\t.\t7.5\t4.2\t3.1\t120",
    "chr21\t0\t150\tp3\t30\t+\t1.0\t-1\t-1\t10",
]


def _write(path, lines, *, gz=False):
    text = "\n".join(lines) + "\n"
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def test_read_narrowpeak_real(shared_data):
    peaks = dc.io.read_narrowpeak(shared_data / "heme-hg19" / "peaks" / "HSC.narrowPeak.gz")
    assert list(peaks.columns) == dc.io._peaks.NARROWPEAK_COLUMNS
    assert len(peaks) > 1000
    assert set(peaks["chrom"]) == {"chr20"}
    assert (peaks["end"] > peaks["start"]).all()
    assert peaks["summit"].dtype == np.int64 and peaks["signal"].dtype == np.float64
    assert ((peaks["summit"] >= 0) & (peaks["summit"] <= peaks["end"] - peaks["start"])).all()


def test_narrowpeak_plain_and_gz_identical(tmp_path):
    plain = dc.io.read_narrowpeak(_write(tmp_path / "a.narrowPeak", NP_LINES))
    gz = dc.io.read_narrowpeak(_write(tmp_path / "a.narrowPeak.gz", NP_LINES, gz=True))
    assert plain.equals(gz)
    assert plain["start"].tolist() == [100, 500, 0]
    assert plain.loc[2, "pvalue"] == -1.0


def test_bed_header_lines_accepted(tmp_path):
    lines = [
        'track name="peaks" description="test"',
        "browser position chr20:1-1000",
        "# a comment",
        "chr20\t10\t20\tx",
        "",
        "chr20\t30\t45\ty",
    ]
    bed = dc.io.read_bed(_write(tmp_path / "h.bed", lines))
    assert bed[["start", "end"]].to_numpy().tolist() == [[10, 20], [30, 45]]
    assert bed["col4"].tolist() == ["x", "y"]
    # a column-name line without '#' as the first line is a header too
    bed2 = dc.io.read_bed(_write(tmp_path / "h2.bed", ["chrom\tstart\tend", "chr1\t0\t5"]))
    assert bed2["end"].tolist() == [5]


def test_narrowpeak_wrong_column_count(tmp_path):
    path = _write(tmp_path / "bad.narrowPeak", [NP_LINES[0], "chr20\t500\t900\tp2\t20\t.\t7.5"])
    with pytest.raises(ValueError, match=r"bad\.narrowPeak, line 2: expected exactly 10 .*got 7"):
        dc.io.read_narrowpeak(path)
    path = _write(tmp_path / "extra.narrowPeak", [NP_LINES[0] + "\textra"])
    with pytest.raises(ValueError, match=r"extra\.narrowPeak, line 1: expected exactly 10 .*got 11"):
        dc.io.read_narrowpeak(path)


def test_narrowpeak_truncated_last_line(tmp_path):
    path = tmp_path / "trunc.narrowPeak"
    path.write_text("\n".join(NP_LINES)[:-25])  # cut in the middle of the last line
    with pytest.raises(ValueError, match=r"trunc\.narrowPeak, line 3: .*truncated"):
        dc.io.read_narrowpeak(path)


def test_non_integer_coordinate(tmp_path):
    path = _write(tmp_path / "coord.narrowPeak", [NP_LINES[0], NP_LINES[1].replace("\t500\t", "\t5e2\t")])
    with pytest.raises(ValueError, match=r"coord\.narrowPeak, line 2: start/end must be integers.*'5e2'"):
        dc.io.read_narrowpeak(path)
    path = _write(tmp_path / "neg.bed", ["chr1\t10\t5"])
    with pytest.raises(ValueError, match=r"neg\.bed, line 1: invalid interval"):
        dc.io.read_bed(path)


def test_narrowpeak_non_numeric_value(tmp_path):
    path = _write(tmp_path / "sig.narrowPeak", [NP_LINES[0], NP_LINES[1].replace("7.5", "high")])
    with pytest.raises(ValueError, match=r"sig\.narrowPeak, line 2: .*'signal'.*'high'"):
        dc.io.read_narrowpeak(path)
    path = _write(tmp_path / "nan.narrowPeak", [NP_LINES[0].replace("5.5", "nan")])
    with pytest.raises(ValueError, match=r"nan\.narrowPeak, line 1: .*'signal'.*-1 for a missing value"):
        dc.io.read_narrowpeak(path)


def test_gz_that_is_not_gzip(tmp_path):
    path = _write(tmp_path / "fake.narrowPeak.gz", NP_LINES)  # plain text with a .gz name
    with pytest.raises(ValueError, match=r"fake\.narrowPeak\.gz: has a \.gz suffix but is not gzip"):
        dc.io.read_narrowpeak(path)


def test_truncated_gzip(tmp_path):
    lines = NP_LINES * 200
    data = gzip.compress(("\n".join(lines) + "\n").encode())
    path = tmp_path / "cut.narrowPeak.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.narrowPeak\.gz: the gzip stream is truncated or corrupt"):
        dc.io.read_narrowpeak(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.bed"):
        dc.io.read_bed(tmp_path / "nope.bed")


def _intervals(path):
    from deepcage.io._peaks import read_intervals

    return read_intervals(path)


def test_read_intervals_equals_read_bed_on_the_fast_path_and_the_fallback(tmp_path):
    rng = np.random.default_rng(0)
    lines = []
    for chrom in ("chr2", "chr10", "chr2", "chrUn_gl000220", "1"):  # unsorted contigs: several runs
        for _ in range(50):
            s = int(rng.integers(0, 10**9))
            lines.append(f"{chrom}\t{s}\t{s + int(rng.integers(0, 500))}\tname\t5")
    cases = {
        "plain.bed": (lines, False),
        "crlf.bed": ([line + "\r" for line in lines], False),  # Windows line ends
        "gz.bed.gz": (lines, True),
        "three.bed": ([line.split("\t", 3)[0] + "\t1\t2" for line in lines[:3]], False),
        "headers.bed": (['track name="x"', "# comment", *lines], False),  # fallback: read_bed skips them
        "names.bed": (["chrom\tstart\tend", *lines], False),
    }
    for name, (text, gz) in cases.items():
        path = _write(tmp_path / name, text, gz=gz)
        got = _intervals(path)
        want = dc.io.read_bed(path)[["chrom", "start", "end"]]
        assert list(got.columns) == ["chrom", "start", "end"]
        assert got["chrom"].tolist() == want["chrom"].tolist(), name
        np.testing.assert_array_equal(got["start"].to_numpy(), want["start"].to_numpy())
        np.testing.assert_array_equal(got["end"].to_numpy(), want["end"].to_numpy())
        assert got["start"].dtype == np.int64
    # a final line without newline, and blank lines in between
    path = tmp_path / "tail.bed"
    path.write_text("chr1\t5\t9\n\nchr1\t10\t20")
    assert _intervals(path)[["start", "end"]].to_numpy().tolist() == [[5, 9], [10, 20]]
    assert len(_intervals(_write(tmp_path / "empty.bed", []))) == 0
    path.write_bytes("\ufeffchr1\t5\t9\r\n".encode())  # byte-order mark and CRLF
    assert _intervals(path).to_numpy().tolist() == [["chr1", 5, 9]]


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("chr1\t-5\t10", "start/end must be integers|invalid interval"),
        ("chr1\t50\t10", "invalid interval"),
        ("chr1\t5", "expected at least 3"),
        ("chr1 5 10", "expected at least 3"),
        ("chr1\t5x\t10", "start/end must be integers"),
    ],
)
def test_read_intervals_malformed_lines_name_file_and_line(tmp_path, line, match):
    path = _write(tmp_path / "bad.bed", ["chr1\t1\t2", line])
    with pytest.raises(ValueError, match=match) as err:
        _intervals(path)
    assert "bad.bed" in str(err.value)


def test_read_intervals_truncated_gzip_is_reported(tmp_path):
    data = gzip.compress(("\n".join(NP_LINES * 200) + "\n").encode())
    path = tmp_path / "cut.bed.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.bed\.gz: the gzip stream is truncated"):
        _intervals(path)
