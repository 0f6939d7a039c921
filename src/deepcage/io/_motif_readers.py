"""Readers for motif databases: HOMER, MEME, JASPAR (pyjaspar), and the motif -> TF table."""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ._motifs import Motif
from ._peaks import _iter_lines

__all__ = ["read_homer", "read_jaspar", "read_jaspar_pfm", "read_meme", "read_motif_tf_table", "read_motifs"]

PathLike = str | os.PathLike

_HOCOMOCO11_RE = re.compile(r"^(?P<tf>[A-Za-z0-9-]+)_(?:HUMAN|MOUSE)\.H1\dMO\.")
_HOCOMOCO12_RE = re.compile(r"^(?P<tf>[A-Za-z0-9-]+)\.H1\d[A-Z]+\.")
_HOMER_LIB_RE = re.compile(r"^(?P<tf>[^(/]+)\(.*\)/")
_IUPAC = set("ACGTURYSWKMBDHVN")
_JASPAR_SOURCE_RE = re.compile(r"^jaspar(?P<year>\d{4})?$", re.IGNORECASE)
_MOTIF_COLUMNS = ("model", "motif", "motif_id", "motif id", "id", "matrix_id", "name")
_TF_COLUMNS = (
    "transcription factor",
    "tf",
    "tf_name",
    "tf name",
    "gene",
    "gene_name",
    "symbol",
    "gene symbol",
)


def _tf_from_name(name: str) -> str:
    """TF symbol guessed from a motif name (see :func:`read_motifs` for the rules)."""
    for regex in (_HOCOMOCO11_RE, _HOCOMOCO12_RE, _HOMER_LIB_RE):
        m = regex.match(name)
        if m:
            return m.group("tf").strip()
    return name


def _parse_floats(tokens: Sequence[str]) -> list[float] | None:
    try:
        return [float(t) for t in tokens]
    except ValueError:
        return None


def _make_motif(path, lineno: int, name: str, rows: list[list[float]], **kwargs) -> Motif:
    try:
        return Motif(name=name, pwm=np.array(rows, dtype=np.float64), **kwargs)
    except ValueError as err:
        raise ValueError(f"{path}, motif {name!r} (line {lineno}): {err}") from None


# --------------------------------------------------------------------------------------------------
# HOMER
# --------------------------------------------------------------------------------------------------


def read_homer(path: PathLike) -> list[Motif]:
    """Read a HOMER ``.motif`` file (plain or gzip).

    Each motif is a header line ``>consensus<TAB>name<TAB>log-odds threshold[<TAB>...]`` followed by one line
    per position with the ``A C G T`` probabilities (tab or space separated).

    Parameters
    ----------
    path
        HOMER motif file, e.g. ``HOCOMOCOv11_core_HUMAN_mono_homer_format_0.001.motif``.

    Returns
    -------
    List of :class:`Motif` with ``name`` (2nd header field, or the consensus when missing), ``pwm``,
    ``threshold`` (the log-odds detection threshold, natural log as HOMER uses; ``None`` when the header has
    no 3rd field), ``tf`` guessed from the name (HOCOMOCO ``GATA1_HUMAN.H11MO.0.A`` -> ``GATA1``; note that
    HOCOMOCO v11 names carry UniProt entry names, e.g. ``ANDR`` for AR: pass a table to :func:`read_motifs`)
    and ``meta['consensus']``.

    Raises
    ------
    ValueError
        With file and line number: a matrix row without exactly 4 numbers, a non-numeric threshold, a
        header without rows, rows before the first header, a consensus whose length differs from the number
        of rows (truncated motif), or no motif at all.

    Examples
    --------
    >>> motifs = dc.io.read_homer("HOCOMOCOv11_core_HUMAN_mono_homer_format_0.001.motif")  # doctest: +SKIP
    >>> motifs[0].name, motifs[0].threshold  # doctest: +SKIP
    ('AHR_HUMAN.H11MO.0.B', 3.3775)
    """
    path = Path(path)
    motifs: list[Motif] = []
    cur: dict | None = None

    def finish(next_lineno: int | None) -> None:
        if cur is None:
            return
        where = f"line {next_lineno}" if next_lineno else "the end of the file"
        if not cur["rows"]:
            raise ValueError(
                f"{path}, line {cur['lineno']}: motif {cur['name']!r} has no matrix rows before {where}; "
                "expected lines of 4 numbers (A C G T probabilities) after each '>' header."
            )
        consensus = cur["consensus"]
        if consensus and set(consensus.upper()) <= _IUPAC and len(consensus) != len(cur["rows"]):
            raise ValueError(
                f"{path}, line {cur['lineno']}: motif {cur['name']!r} has consensus {consensus!r} of width "
                f"{len(consensus)} but {len(cur['rows'])} matrix rows before {where} (truncated motif?)."
            )
        motifs.append(
            _make_motif(
                path,
                cur["lineno"],
                cur["name"],
                cur["rows"],
                tf=_tf_from_name(cur["name"]),
                threshold=cur["threshold"],
                meta={"consensus": consensus, "source": str(path), "format": "homer"},
            )
        )

    for lineno, line in _iter_lines(path):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith(">"):
            finish(lineno)
            fields = line.lstrip()[1:].split("\t")
            consensus = fields[0].strip()
            name = fields[1].strip() if len(fields) > 1 and fields[1].strip() else consensus
            threshold = None
            if len(fields) > 2 and fields[2].strip():
                try:
                    threshold = float(fields[2])
                except ValueError:
                    raise ValueError(
                        f"{path}, line {lineno}: the 3rd header field (log-odds threshold) must be a number, got "
                        f"{fields[2]!r}. HOMER headers are '>consensus<TAB>name<TAB>threshold'."
                    ) from None
            if not name:
                raise ValueError(
                    f"{path}, line {lineno}: empty motif header; expected '>consensus<TAB>name<TAB>threshold'."
                )
            cur = {"lineno": lineno, "name": name, "consensus": consensus, "threshold": threshold, "rows": []}
            continue
        if cur is None:
            raise ValueError(
                f"{path}, line {lineno}: expected a '>consensus<TAB>name<TAB>threshold' header line before the "
                f"matrix rows, got {text[:60]!r}. Is this a HOMER .motif file?"
            )
        tokens = text.split()
        values = _parse_floats(tokens)
        if values is None or len(values) != 4:
            raise ValueError(
                f"{path}, line {lineno}: expected 4 numbers (A C G T probabilities) in a row of motif "
                f"{cur['name']!r}, got {text[:60]!r}."
            )
        cur["rows"].append(values)
    finish(None)
    if not motifs:
        raise ValueError(
            f"{path}: no motifs found; expected HOMER '>consensus<TAB>name<TAB>threshold' headers."
        )
    return motifs


# --------------------------------------------------------------------------------------------------
# MEME
# --------------------------------------------------------------------------------------------------


def _parse_background(path, lineno: int, tokens: list[str]) -> np.ndarray:
    if len(tokens) % 2:
        raise ValueError(
            f"{path}, line {lineno}: background frequencies must be letter/value pairs ('A 0.25 C 0.25 ...'), "
            f"got {' '.join(tokens)[:60]!r}."
        )
    freqs = {}
    for letter, value in zip(tokens[::2], tokens[1::2]):
        try:
            freqs[letter.upper().replace("U", "T")] = float(value)
        except ValueError:
            raise ValueError(
                f"{path}, line {lineno}: background frequency {value!r} of {letter!r} is not a number."
            ) from None
    if set(freqs) != set("ACGT"):
        raise ValueError(f"{path}, line {lineno}: background must give A, C, G and T, got {sorted(freqs)}.")
    bg = np.array([freqs[b] for b in "ACGT"])
    return bg / bg.sum()


class _MemeReader:
    """One pass over a MEME file (:func:`read_meme`): the motifs read so far and the section being read.

    ``state`` is ``top`` (between sections), ``background``, ``alphabet_block``, ``matrix`` (rows of a
    letter-probability matrix) or ``skip_matrix`` (a log-odds matrix).
    """

    def __init__(self, path: Path):
        self.path = path
        self.motifs: list[Motif] = []
        self.background: np.ndarray | None = None
        self.cur: dict | None = None
        self.state = "top"
        self.matrix: dict | None = None

    def read(self) -> list[Motif]:
        path = self.path
        for lineno, line in _iter_lines(path):
            text = line.strip()
            if not self._section_line(lineno, text) and text:
                self._top_line(lineno, text)
        if self.state == "matrix" and self.matrix is not None and self.matrix["w"] is not None:
            self._finish_matrix(None)
        self._finish_motif(None)
        if not self.motifs:
            raise ValueError(
                f"{path}: no motifs found; expected 'MOTIF id' sections with a 'letter-probability matrix' (MEME format)."
            )
        return self.motifs

    def _finish_matrix(self, lineno: int | None) -> None:
        path, cur, matrix = self.path, self.cur, self.matrix
        if matrix is None:
            return
        n = len(matrix["rows"])
        where = f"line {lineno}" if lineno else "the end of the file"
        if matrix["w"] is not None and n != matrix["w"]:
            raise ValueError(
                f"{path}, line {matrix['lineno']}: motif {cur['name']!r} declares w= {matrix['w']} but has {n} "
                f"matrix rows before {where} (width mismatch; truncated file?)."
            )
        if n == 0:
            raise ValueError(
                f"{path}, line {matrix['lineno']}: motif {cur['name']!r} has an empty letter-probability matrix."
            )
        cur["rows"] = matrix["rows"]
        self.matrix = None
        self.state = "top"

    def _finish_motif(self, lineno: int | None) -> None:
        path = self.path
        self._finish_matrix(lineno)
        cur = self.cur
        if cur is None:
            return
        if cur["rows"] is None:
            where = f"line {lineno}" if lineno else "the end of the file"
            raise ValueError(
                f"{path}, line {cur['lineno']}: MOTIF {cur['name']!r} has no 'letter-probability matrix:' "
                f"section before {where}."
            )
        meta = {k: v for k, v in cur["meta"].items() if v is not None}
        meta.update(source=str(path), format="meme")
        if self.background is not None:
            meta["background"] = self.background.copy()
        tf = cur["meta"].get("alt_name") or _tf_from_name(cur["name"])
        self.motifs.append(_make_motif(path, cur["lineno"], cur["name"], cur["rows"], tf=tf, meta=meta))
        self.cur = None

    def _section_line(self, lineno: int, text: str) -> bool:
        """Read a line of the current section; False when the section ends and the line is a top-level one."""
        if self.state == "matrix" and self._matrix_line(lineno, text):
            return True
        if self.state == "background":
            if not text:
                return True
            if _parse_floats(text.split()[1::2]) is not None and not text.startswith("MOTIF"):
                self.background = _parse_background(self.path, lineno, text.split())
                self.state = "top"
                return True
            self.state = "top"
        if self.state == "alphabet_block":
            if text.upper().startswith("END ALPHABET"):
                self.state = "top"
            return True
        if self.state == "skip_matrix":
            if not text or _parse_floats(text.split()) is not None:
                return True
            self.state = "top"
        return False

    def _matrix_line(self, lineno: int, text: str) -> bool:
        """A row of the letter-probability matrix; False when the matrix (without ``w=``) ended before ``text``."""
        path, cur, matrix = self.path, self.cur, self.matrix
        if not text:
            if matrix["w"] is None and matrix["rows"]:
                self._finish_matrix(lineno)
            return True
        values = _parse_floats(text.split())
        if values is None:
            if matrix["w"] is None and matrix["rows"]:
                self._finish_matrix(lineno)  # then the caller reads this line
                return False
            if matrix["rows"]:
                raise ValueError(
                    f"{path}, line {lineno}: motif {cur['name']!r} declares w= {matrix['w']} (line "
                    f"{matrix['lineno']}) but only {len(matrix['rows'])} matrix rows come before {text[:40]!r} "
                    "(width mismatch; truncated motif?)."
                )
            raise ValueError(
                f"{path}, line {lineno}: expected {matrix['alength']} numbers (A C G T probabilities) in "
                f"row {len(matrix['rows']) + 1} of motif {cur['name']!r}"
                + (f" (w= {matrix['w']})" if matrix["w"] is not None else "")
                + f", got {text[:60]!r}."
            )
        if len(values) != matrix["alength"]:
            raise ValueError(
                f"{path}, line {lineno}: expected {matrix['alength']} numbers (A C G T probabilities) in "
                f"row {len(matrix['rows']) + 1} of motif {cur['name']!r}, got {len(values)}: {text[:60]!r}."
            )
        matrix["rows"].append(values)
        if matrix["w"] is not None and len(matrix["rows"]) == matrix["w"]:
            self._finish_matrix(lineno)
        return True

    def _top_line(self, lineno: int, text: str) -> None:
        """A line between sections: a header, ``MOTIF``, the start of a matrix, ``URL``, or skipped."""
        path, cur = self.path, self.cur
        if text.startswith("MEME version"):
            pass
        elif text.startswith("ALPHABET"):
            self._alphabet(lineno, text)
        elif text.startswith("Background letter frequencies"):
            self.state = "background"
        elif text.startswith("MOTIF"):
            self._finish_motif(lineno)
            fields = text.split()
            if len(fields) < 2:
                raise ValueError(
                    f"{path}, line {lineno}: 'MOTIF' needs an identifier: 'MOTIF id [alternate name]'."
                )
            alt = " ".join(fields[2:]) or None
            self.cur = {"lineno": lineno, "name": fields[1], "rows": None, "meta": {"alt_name": alt}}
        elif text.startswith("letter-probability matrix"):
            self._start_matrix(lineno, text)
        elif text.startswith("log-odds matrix"):
            self.state = "skip_matrix"
        elif text.startswith("URL") and cur is not None:
            url = text[3:].strip()
            if url and url != "BLANK":
                cur["meta"]["url"] = url
        elif _parse_floats(text.split()) is not None:
            if cur is not None and cur["rows"] is not None:
                raise ValueError(
                    f"{path}, line {lineno}: motif {cur['name']!r} has more matrix rows than its w= "
                    f"{len(cur['rows'])} (width mismatch)."
                )
            raise ValueError(
                f"{path}, line {lineno}: numbers outside a letter-probability matrix; expected a MEME file "
                "('MEME version 4', 'MOTIF id', 'letter-probability matrix: alength= 4 w= ...')."
            )
        # other lines (strands:, log-odds matrices, MEME output sections) are skipped

    def _alphabet(self, lineno: int, text: str) -> None:
        rest = text[len("ALPHABET") :].strip()
        if rest.startswith("="):
            letters = rest[1:].strip().upper()
            if letters not in ("ACGT", "ACGU"):
                raise ValueError(
                    f"{self.path}, line {lineno}: ALPHABET= {letters} is not DNA; deepcage reads ACGT motifs only."
                )
        elif "DNA" in rest.upper() or "RNA" in rest.upper():
            self.state = "alphabet_block"
        else:
            raise ValueError(
                f"{self.path}, line {lineno}: custom alphabet {rest!r} is not DNA; expected ALPHABET= ACGT."
            )

    def _start_matrix(self, lineno: int, text: str) -> None:
        """``letter-probability matrix: alength= 4 w= ... nsites= ... E= ...``."""
        path, cur = self.path, self.cur
        if cur is None:
            raise ValueError(f"{path}, line {lineno}: 'letter-probability matrix' outside a MOTIF section.")
        if cur["rows"] is not None:
            raise ValueError(
                f"{path}, line {lineno}: motif {cur['name']!r} has a second letter-probability matrix."
            )
        params = dict(re.findall(r"(\w+)\s*=\s*(\S+)", text.split(":", 1)[1] if ":" in text else ""))
        try:
            alength = int(params.get("alength", 4))
            width = int(params["w"]) if "w" in params else None
        except ValueError:
            raise ValueError(
                f"{path}, line {lineno}: could not read 'alength= <int> w= <int>' from {text[:80]!r}."
            ) from None
        if alength != 4:
            raise ValueError(
                f"{path}, line {lineno}: motif {cur['name']!r} has alength= {alength}; DNA motifs need 4."
            )
        if width is not None and width <= 0:
            raise ValueError(f"{path}, line {lineno}: motif {cur['name']!r} has w= {width}.")
        for key in ("nsites", "E"):
            if key in params:
                cur["meta"][key] = (
                    _parse_floats([params[key]])[0] if _parse_floats([params[key]]) else params[key]
                )
        self.matrix = {"lineno": lineno, "alength": alength, "w": width, "rows": []}
        self.state = "matrix"


def read_meme(path: PathLike) -> list[Motif]:
    """Read a MEME motif file (minimal MEME format or full MEME output; plain or gzip).

    Reads the ``letter-probability matrix`` of each ``MOTIF id [alt name]`` (``alength= 4 w= ...``), the
    ``ALPHABET`` (must be DNA, ``ACGT``) and the ``Background letter frequencies``. Log-odds matrices and other
    sections are skipped.

    Parameters
    ----------
    path
        MEME file, e.g. ``HOCOMOCOv12_core.meme`` or ``JASPAR2024_consensus.meme``.

    Returns
    -------
    List of :class:`Motif` with ``name`` (the motif id), ``pwm``, ``threshold=None``, ``tf`` (the alternate
    name when given, as JASPAR's ``MOTIF MA0035.4 GATA1``; else from the id: HOCOMOCO v12
    ``GATA1.H12CORE.0.P.B`` -> ``GATA1``; other ids such as JASPAR consensus clusters
    ``C001:HES_SREBF:bHLH`` keep the whole id) and ``meta`` (``alt_name``, ``nsites``, ``E``, ``url``,
    ``background`` as an ``ACGT`` array when the file gives one).

    Raises
    ------
    ValueError
        With file and line number: a matrix row without ``alength`` numbers, fewer/more rows than ``w=``,
        ``alength`` other than 4, a non-DNA alphabet, a ``MOTIF`` without a letter-probability matrix, or no
        motif at all.

    Examples
    --------
    >>> motifs = dc.io.read_meme("HOCOMOCOv12_core.meme")  # doctest: +SKIP
    >>> len(motifs)  # doctest: +SKIP
    1443
    """
    return _MemeReader(Path(path)).read()


# --------------------------------------------------------------------------------------------------
# JASPAR via pyjaspar
# --------------------------------------------------------------------------------------------------


def _check_jaspar_values(db, release: str, what: str, given) -> None:
    """An unknown ``tax_group`` / ``collection`` is named with the values the release has (pyjaspar only finds
    nothing), e.g. 'vertebrate' -> 'vertebrates'."""
    if given is None:
        return
    import difflib

    sql = (
        "SELECT DISTINCT VAL FROM MATRIX_ANNOTATION WHERE TAG='tax_group'"
        if what == "tax_group"
        else "SELECT DISTINCT COLLECTION FROM MATRIX"
    )
    try:
        valid = sorted({str(r[0]) for r in db.conn.execute(sql).fetchall() if r[0]})
    except Exception:  # another pyjaspar layout: let fetch_motifs decide
        return
    for value in [given] if isinstance(given, str) else list(given):
        if str(value) not in valid:
            close = difflib.get_close_matches(str(value).lower(), [v.lower() for v in valid], n=1)
            guess = f" Did you mean {next(v for v in valid if v.lower() == close[0])!r}?" if close else ""
            raise ValueError(
                f"{what}={value!r} is not a JASPAR {what} in {release}; valid values: {valid}.{guess}"
            )


def read_jaspar(
    *,
    release: str = "JASPAR2024",
    collection: str | None = "CORE",
    tax_group: str | Sequence[str] | None = "vertebrates",
    ids: Sequence[str] | None = None,
    all_versions: bool = False,
) -> list[Motif]:
    """Read JASPAR motifs offline from the SQLite databases shipped with :mod:`pyjaspar`.

    Parameters
    ----------
    release
        ``'JASPAR2014'`` ... ``'JASPAR2024'``, ``'JASPAR2026'`` (whatever the installed pyjaspar ships).
    collection
        JASPAR collection (``'CORE'``, ``'UNVALIDATED'``, ...); ``None`` for all.
    tax_group
        Taxonomic group(s) (``'vertebrates'``, ``'insects'``, ...); ``None`` for all.
    ids
        Specific matrix ids (``'MA0035.4'``, or ``'MA0035'`` for the latest version); then ``collection`` and
        ``tax_group`` are ignored.
    all_versions
        Return every version of each matrix, not only the latest.

    Returns
    -------
    List of :class:`Motif`: ``name`` is the matrix id (``'MA0035.4'``), ``tf`` the JASPAR matrix name as given
    (``'GATA1'``; dimers stay one symbol string, e.g. ``'FOS::JUN'``; non-human matrices keep their case, e.g.
    ``'Arnt'``), ``pwm`` the normalised counts, ``meta`` with ``collection``, ``tax_group``, ``species``,
    ``tf_class``, ``tf_family``, ``counts``.

    Raises
    ------
    ValueError
        For an unknown release (the available ones are listed) or when nothing matches.

    Examples
    --------
    >>> motifs = dc.io.read_jaspar(release="JASPAR2024", tax_group="vertebrates")  # doctest: +SKIP
    """
    import pyjaspar

    releases = dict(pyjaspar.jaspar_releases)
    if release not in releases:
        raise ValueError(
            f"Unknown JASPAR release {release!r}; pyjaspar {pyjaspar.__version__} has {sorted(releases)}."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        db = pyjaspar.jaspardb(release=release)
        if ids is not None:
            found = []
            for mid in ids:
                m = db.fetch_motif_by_id(mid)
                if m is None:
                    raise ValueError(f"JASPAR matrix {mid!r} not found in {release}.")
                found.append(m)
        else:
            _check_jaspar_values(db, release, "tax_group", tax_group)
            _check_jaspar_values(db, release, "collection", collection)
            found = db.fetch_motifs(collection=collection, tax_group=tax_group, all_versions=all_versions)
    if not found:
        raise ValueError(
            f"No JASPAR motifs in {release} for collection={collection!r}, tax_group={tax_group!r}."
        )
    motifs = []
    for m in found:
        counts = np.array([m.counts[b] for b in "ACGT"], dtype=np.float64).T
        tf = str(m.name)
        meta = {
            "source": release,
            "format": "jaspar",
            "collection": m.collection,
            "tax_group": m.tax_group,
            "species": list(m.species or []),
            "tf_class": list(m.tf_class or []) if not isinstance(m.tf_class, str) else [m.tf_class],
            "tf_family": list(m.tf_family or []) if not isinstance(m.tf_family, str) else [m.tf_family],
            "counts": counts,
        }
        try:
            motifs.append(Motif(name=str(m.matrix_id), pwm=counts, tf=tf, meta=meta))
        except ValueError as err:
            raise ValueError(f"JASPAR {release} matrix {m.matrix_id}: {err}") from None
    return motifs


# --------------------------------------------------------------------------------------------------
# motif -> TF table and the dispatcher
# --------------------------------------------------------------------------------------------------


def read_motif_tf_table(path: PathLike) -> dict[str, str]:
    """Read a motif id -> TF gene symbol table (TSV/CSV, plain or gzip).

    The motif column is found by name (``Model``, ``motif``, ``motif_id``, ``id``, ``matrix_id``, ``name``) and
    the TF column (``Transcription factor``, ``tf``, ``gene``, ``symbol``, ...), case-insensitively, as in
    HOCOMOCO's ``HOCOMOCOv11_HUMAN_mono_motifs_core.tsv``; a file whose header matches neither is read as two
    columns ``motif, tf`` without header.

    Returns
    -------
    ``{motif id: TF symbol}``.

    Raises
    ------
    ValueError
        With the line number of an empty TF symbol or of a motif listed twice with different TFs.

    Examples
    --------
    >>> table = dc.io.read_motif_tf_table("HOCOMOCOv11_HUMAN_mono_motifs_core.tsv")  # doctest: +SKIP
    >>> table["ANDR_HUMAN.H11MO.0.A"]  # doctest: +SKIP
    'AR'
    """
    from ._expression import _read_raw

    raw = _read_raw(path)
    lower = [h.strip().lower() for h in raw.header]
    mcol = next((lower.index(c) for c in _MOTIF_COLUMNS if c in lower), None)
    tcol = next((lower.index(c) for c in _TF_COLUMNS if c in lower), None)
    if mcol is None or tcol is None:
        if len(raw.header) == 2 and mcol is None and tcol is None:  # headerless 2-column file
            pairs = [(raw.header[0], raw.header[1], 1)]
            mcol, tcol = 0, 1
        else:
            raise ValueError(
                f"{path}, line 1: could not find the motif and TF columns in the header {raw.header[:8]}; expected "
                "e.g. 'Model' and 'Transcription factor', or a 2-column file 'motif<TAB>tf'."
            )
    else:
        pairs = []
    pairs += list(zip(raw.body[mcol], raw.body[tcol], raw.linenos))
    table: dict[str, str] = {}
    for motif, tf, lineno in pairs:
        motif = "" if motif is None or (isinstance(motif, float) and np.isnan(motif)) else str(motif).strip()
        tf = "" if tf is None or (isinstance(tf, float) and np.isnan(tf)) else str(tf).strip()
        if not motif:
            raise ValueError(f"{path}, line {lineno}: empty motif id.")
        if not tf:
            raise ValueError(f"{path}, line {lineno}: motif {motif!r} has an empty TF symbol.")
        if motif in table and table[motif] != tf:
            raise ValueError(
                f"{path}, line {lineno}: motif {motif!r} is listed again with TF {tf!r} (was {table[motif]!r})."
            )
        table[motif] = tf
    return table


def _load_tf_table(tf_table) -> dict[str, str]:
    if isinstance(tf_table, Mapping):
        return {str(k): str(v) for k, v in tf_table.items()}
    if isinstance(tf_table, pd.Series):
        return {str(k): str(v) for k, v in tf_table.items()}
    if isinstance(tf_table, str | os.PathLike):
        return read_motif_tf_table(tf_table)
    raise TypeError(f"tf_table must be a dict, Series or path, got {type(tf_table).__name__}.")


_JASPAR_ROW_RE = re.compile(r"^(?P<base>[ACGTacgt])\s*\[(?P<values>[^\]]*)\]\s*$")
_JASPAR_TF_RE = re.compile(r"^(?P<id>\S+)(?:\s+(?P<tf>.+))?$")


def read_jaspar_pfm(path: PathLike) -> list[Motif]:
    """Read JASPAR count matrices (pfm or bracket format).

    Accepted: ``.pfm`` files (4 rows of counts, rows = A, C, G, T, columns = positions; one motif without a
    header, or several each after a ``>MA0004.1 Arnt`` header) and ``.jaspar`` files (``A [ 4 19 0 ... ]``
    bracket rows, the base named on each row).

    Rows are bases, so the matrix is transposed to the ``(width, 4)`` PWM of :class:`Motif`; counts are
    normalised per position. The TF is the name after the matrix id (``Arnt``); a file without a header is
    named after the file.
    """
    path = Path(path)
    motifs: list[Motif] = []
    cur: dict | None = None

    def finish(next_lineno: int | None) -> None:
        if cur is None:
            return
        rows, bases = cur["rows"], cur["bases"]
        where = f"line {next_lineno}" if next_lineno else "the end of the file"
        if len(rows) != 4:
            raise ValueError(
                f"{path}, line {cur['lineno']}: JASPAR motif {cur['name']!r} has {len(rows)} count rows before "
                f"{where}; expected 4 (A, C, G, T)."
            )
        widths = {len(r) for r in rows}
        if len(widths) != 1:
            raise ValueError(
                f"{path}, line {cur['lineno']}: JASPAR motif {cur['name']!r} has rows of different lengths "
                f"{[len(r) for r in rows]} (A, C, G, T); every base needs one count per position."
            )
        if bases:
            if sorted(bases) != ["A", "C", "G", "T"]:
                raise ValueError(
                    f"{path}, line {cur['lineno']}: JASPAR motif {cur['name']!r} has rows for bases {bases}; "
                    "expected A, C, G and T once each."
                )
            rows = [rows[bases.index(b)] for b in "ACGT"]
        motifs.append(
            _make_motif(
                path,
                cur["lineno"],
                cur["name"],
                np.array(rows, dtype=np.float64).T.tolist(),
                tf=cur["tf"],
                meta={"source": str(path), "format": "jaspar"},
            )
        )

    for lineno, line in _iter_lines(path):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith(">"):
            finish(lineno)
            m = _JASPAR_TF_RE.match(text[1:].strip())
            name = m.group("id") if m else text[1:].strip()
            tf = (m.group("tf") or "").strip() if m else ""
            cur = {"name": name, "tf": tf or _tf_from_name(name), "lineno": lineno, "rows": [], "bases": []}
            continue
        if cur is None:  # a bare .pfm: one motif named after the file
            stem = Path(path.name.removesuffix(".gz")).stem
            cur = {"name": stem, "tf": _tf_from_name(stem), "lineno": lineno, "rows": [], "bases": []}
        m = _JASPAR_ROW_RE.match(text)
        tokens = m.group("values").split() if m else text.split()
        values = _parse_floats(tokens)
        if values is None:
            raise ValueError(
                f"{path}, line {lineno}: expected a row of counts (JASPAR pfm '4 19 0 ...' or jaspar "
                f"'A [ 4 19 0 ... ]'), got {text[:60]!r}."
            )
        if m:
            cur["bases"].append(m.group("base").upper())
        cur["rows"].append(values)
    finish(None)
    if not motifs:
        raise ValueError(f"{path}: no motifs found; expected JASPAR count rows.")
    return motifs


def _numeric_block_shape(lines: list[str]) -> list[int]:
    """Lengths of the leading lines of numbers (a motif's matrix rows)."""
    widths = []
    for text in lines:
        values = _parse_floats(text.split())
        if values is None:
            break
        widths.append(len(values))
    return widths


def _looks_like_pfm(header: str | None, body: list[str]) -> bool:
    """4 rows of one length (positions) after a header or at the start: a JASPAR pfm, unless it is a HOMER motif
    of width 4 (HOMER headers are '>consensus<TAB>name<TAB>threshold'; its rows are probabilities)."""
    widths = _numeric_block_shape(body)
    homer_header = header is not None and len(header.split("\t")) >= 3
    if widths and len(set(widths)) == 1 and widths[0] != 4 and not homer_header and len(widths) <= 4:
        return True  # rows of counts of one length: a pfm (the reader names a missing row)
    if len(widths) != 4 or len(set(widths)) != 1:
        return False
    if widths[0] != 4:
        return True
    rows = np.array([_parse_floats(t.split()) for t in body[:4]])
    probabilities = np.allclose(rows.sum(axis=1), 1, atol=0.02)
    return not homer_header and not probabilities


def _sniff_motif_format(path: Path) -> str:
    """``'meme'``, ``'homer'`` or ``'jaspar'`` (pfm or bracket format), from the first lines of the file."""
    lines: list[tuple[int, str]] = []
    for lineno, line in _iter_lines(path):
        text = line.strip()
        if text and not text.startswith("#"):
            lines.append((lineno, text))
        if len(lines) >= 7:
            break
    if not lines:
        raise ValueError(f"{path}: the file is empty; no motifs found.")
    lineno, first = lines[0]
    texts = [t for _, t in lines]
    if first.startswith(("MEME version", "MOTIF", "ALPHABET")):
        return "meme"
    if any(_JASPAR_ROW_RE.match(t) for t in texts[:5]):
        return "jaspar"
    if first.startswith(">"):
        return "jaspar" if _looks_like_pfm(first, texts[1:]) else "homer"
    if _looks_like_pfm(None, texts):
        return "jaspar"
    if first.upper().startswith(("ID ", "AC ", "DE ", "VV ", "P0 ", "PO ")):
        raise ValueError(
            f"{path}, line {lineno}: this looks like a TRANSFAC matrix file ({first[:40]!r}), which deepcage does "
            "not read. Convert it to MEME (MEME suite: transfac2meme) or use the JASPAR/HOCOMOCO MEME release."
        )
    raise ValueError(
        f"{path}, line {lineno}: cannot tell the motif format from {first[:60]!r}; expected a HOMER file "
        "('>consensus<TAB>name<TAB>threshold'), a MEME file ('MEME version 4') or JASPAR count matrices "
        "(.pfm rows of counts or .jaspar 'A [ ... ]' rows)."
    )


def read_motifs(source: PathLike, *, tf_table=None, **jaspar_kwargs) -> list[Motif]:
    """Read a motif database and fill each motif's TF symbol.

    Parameters
    ----------
    source
        A HOMER file (``.motif``), a MEME file (``.meme``) or JASPAR count matrices (``.pfm``, ``.jaspar``;
        see :func:`read_jaspar_pfm`), detected from the content, not the suffix (``.gz`` allowed), or the string ``'jaspar'`` / ``'JASPAR2024'`` / ``'JASPAR2020'`` ... for the
        pyjaspar database (``jaspar_kwargs`` go to :func:`read_jaspar`, e.g. ``tax_group``).
    tf_table
        Motif id -> TF symbol: a dict, a Series or a table file (see :func:`read_motif_tf_table`). It wins over
        the name rules; motifs missing from it keep the name-derived TF, with a warning.
    **jaspar_kwargs
        Passed to :func:`read_jaspar` (``collection``, ``tax_group``, ``ids``).

    Returns
    -------
    List of :class:`Motif` with ``tf`` set by, in order:

    1. ``tf_table`` when given;
    2. the MEME alternate name (``MOTIF MA0035.4 GATA1`` -> ``GATA1``) or the JASPAR matrix name; JASPAR dimers
       stay one string (``'FOS::JUN'``), so they match no single gene unless the expression table has that
       name;
    3. HOCOMOCO names: ``GATA1_HUMAN.H11MO.0.A`` (v11) and ``GATA1.H12CORE.0.P.B`` (v12) -> ``GATA1``
       (v11 uses UniProt entry names, ``ANDR`` for AR: a warning suggests the v11 table);
    4. HOMER library names ``Gata1(Zf)/K562-GATA1-ChIP-Seq/Homer`` -> ``Gata1``;
    5. otherwise the motif name itself (JASPAR consensus clusters ``C001:HES_SREBF:bHLH`` keep the cluster
       name).

    Examples
    --------
    >>> motifs = dc.io.read_motifs(
    ...     "HOCOMOCOv11_core_HUMAN_mono_homer_format_0.001.motif",
    ...     tf_table="HOCOMOCOv11_HUMAN_mono_motifs_core.tsv",
    ... )  # doctest: +SKIP
    >>> jaspar = dc.io.read_motifs("JASPAR2024", tax_group="vertebrates")  # doctest: +SKIP
    """
    text = str(source)
    m = _JASPAR_SOURCE_RE.match(text)
    if m and not Path(text).exists():
        release = f"JASPAR{m.group('year')}" if m.group("year") else "JASPAR2024"
        motifs = read_jaspar(release=release, **jaspar_kwargs)
    else:
        if jaspar_kwargs:
            raise TypeError(f"Options {sorted(jaspar_kwargs)} apply to JASPAR sources only.")
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(
                f"Motif file not found: {path}. Pass a .motif (HOMER) or .meme (MEME) file, or 'JASPAR2024'."
            )
        fmt = _sniff_motif_format(path)  # by content: a JASPAR .pfm named .motif is not read as HOMER
        reader = {"homer": read_homer, "meme": read_meme, "jaspar": read_jaspar_pfm}[fmt]
        motifs = reader(path)
    if tf_table is not None:
        table = _load_tf_table(tf_table)
        missing = [mo.name for mo in motifs if mo.name not in table]
        for mo in motifs:
            if mo.name in table:
                mo.tf = table[mo.name]
        if missing:
            warnings.warn(
                f"{len(missing)} of {len(motifs)} motifs are not in tf_table (e.g. {', '.join(missing[:5])}); "
                "they keep the TF guessed from their name.",
                stacklevel=2,
            )
    elif any(_HOCOMOCO11_RE.match(mo.name) and mo.tf == _tf_from_name(mo.name) for mo in motifs):
        warnings.warn(
            "HOCOMOCO v11 motif names carry UniProt entry names (e.g. ANDR_HUMAN for the gene AR), so some TF "
            "symbols guessed from names are not gene symbols. Pass tf_table='HOCOMOCOv11_HUMAN_mono_motifs_core.tsv'.",
            stacklevel=2,
        )
    return motifs
