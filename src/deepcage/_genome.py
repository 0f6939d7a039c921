"""Reference genome access: a thin layer over :mod:`pyfaidx` with contig aliases and N padding."""

from __future__ import annotations

import os
import struct
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._files import is_gzip

__all__ = ["Genome", "canonical_chrom", "encode_bases"]

# ASCII -> base code (A=0, C=1, G=2, T=3, anything else = 4 = N). Lowercase (soft-masked) bases
# are real sequence, so they map like uppercase; IUPAC ambiguity codes become N.
_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate("ACGT"):
    _CODE[ord(_b)] = _i
    _CODE[ord(_b.lower())] = _i
_BASES = np.frombuffer(b"ACGTN", dtype=np.uint8)


def encode_bases(seq: str | bytes) -> np.ndarray:
    """Encode a DNA string as uint8 codes ``A=0, C=1, G=2, T=3, other=4``."""
    if isinstance(seq, str):
        seq = seq.encode("ascii", errors="replace")
    return _CODE[np.frombuffer(seq, dtype=np.uint8)]


#: bases per FASTA read: the text of a whole contig (248 MB for hg38 chr1, and its bytes copy) is never held
_READ_PIECE = 1 << 22


def _codes_in_pieces(length: int, read) -> np.ndarray:
    """Codes of a ``length``-bp sequence from ``read(start, end)`` (its text), read ``_READ_PIECE`` bases at a time
    into one array; shorter than ``length`` where the reads end early (a truncated file)."""
    out = np.empty(length, dtype=np.uint8)
    pos = 0
    while pos < length:
        want = min(_READ_PIECE, length - pos)
        piece = read(pos, pos + want)
        out[pos : pos + len(piece)] = encode_bases(piece)
        pos += len(piece)
        if len(piece) < want:
            return out[:pos].copy()
    return out


def canonical_chrom(name: str) -> str:
    """Naming-independent key for a contig: ``chr20``, ``20`` and ``Chr20`` map to ``20``; ``chrM``/``MT`` to ``M``."""
    key = str(name)
    if key[:3].lower() == "chr":
        key = key[3:]
    return "M" if key in ("M", "MT") else key


class Genome:
    """A reference genome read from one or several (bgzip or plain) FASTA files.

    Contig names are matched up to the ``chr`` prefix, so a BED file with ``chr20`` works with a FASTA
    that calls the contig ``20`` (hg19 vs b37) and ``chrM`` matches ``MT``. Fetching past a contig end
    (or before position 0) pads with ``N``, which one-hot encodes to an all-zero column.

    Several FASTA files form a *patchwork*: when a contig appears in more than one file, each later file
    fills the ``N`` gaps of the earlier ones. This is how partial references (sequence slices) are combined.
    Files that give the same contig different lengths, or different bases at a position both cover, are an
    error naming both files and the contig. A plain FASTA's ``.fai`` that does not match it (from another
    FASTA, or the FASTA edited after indexing) is rebuilt with a warning.

    Parameters
    ----------
    fasta
        Path(s) to FASTA files (``.fa``, ``.fa.gz`` compressed with bgzip; an index is built when missing
        and the folder is writable).
    name
        Assembly name, e.g. ``'hg19'`` or ``'hg38'``. Stored with models so that predictions are not made on
        another assembly by mistake.
    cache_contigs
        How many decoded contigs to keep in memory (a human chr1 costs 250 MB).

    Attributes
    ----------
    chroms
        Contig names (read-only).
    chrom_sizes
        Contig lengths, keyed by the contig names of the first file that has each contig (read-only).

    Examples
    --------
    >>> g = dc.Genome("hg38.fa.gz", name="hg38")  # doctest: +SKIP
    >>> g.fetch("chr20", 1_000_000, 1_000_010)  # doctest: +SKIP
    'ACGTTAGCAA'
    """

    def __init__(
        self,
        fasta: str | os.PathLike | Sequence[str | os.PathLike],
        *,
        name: str | None = None,
        cache_contigs: int = 4,
    ):
        paths = [fasta] if isinstance(fasta, str | os.PathLike) else list(fasta)
        if not paths:
            raise ValueError("Genome needs at least one FASTA file.")
        self.paths = [Path(p) for p in paths]
        self.name = name
        self._cache_size = cache_contigs
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._fastas = [_open_fasta(p) for p in self.paths]
        # canonical key -> (display name, length, [(fasta index, name in that file)])
        self._contigs: dict[str, tuple[str, int, list[tuple[int, str]]]] = {}
        for i, fa in enumerate(self._fastas):
            for contig in fa.keys():
                key = canonical_chrom(contig)
                length = len(fa[contig])
                if key in self._contigs:
                    shown, known_len, sources = self._contigs[key]
                    if known_len != length:
                        raise ValueError(
                            f"Contig {contig!r} is {length:,} bp in {self.paths[i]} but {shown!r} is {known_len:,} bp in "
                            f"{self.paths[sources[0][0]]}: these FASTA files are not the same assembly."
                        )
                    sources.append((i, contig))
                else:
                    self._contigs[key] = (contig, length, [(i, contig)])

    def __repr__(self) -> str:
        files = ", ".join(p.name for p in self.paths)
        return f"Genome(name={self.name!r}, contigs={len(self._contigs)}, files=[{files}])"

    @property
    def chrom_sizes(self) -> dict[str, int]:
        """Contig lengths, keyed by the contig names of the first file that has each contig."""
        return {shown: length for shown, length, _ in self._contigs.values()}

    @property
    def chroms(self) -> list[str]:
        """Contig names."""
        return list(self.chrom_sizes)

    def resolve(self, chrom: str) -> str:
        """Return this genome's name for ``chrom`` (``'20'`` for ``'chr20'`` in a b37 FASTA).

        Raises
        ------
        KeyError
            If no contig matches, with the available names and a hint on naming styles.
        """
        key = canonical_chrom(chrom)
        if key not in self._contigs:
            shown = ", ".join(list(self.chrom_sizes)[:10])
            more = " ..." if len(self._contigs) > 10 else ""
            raise KeyError(
                f"Contig {chrom!r} is not in genome {self.name or ''} ({', '.join(map(str, self.paths))}). "
                f"Available contigs: {shown}{more}. Check that the regions and the FASTA use the same assembly."
            )
        return self._contigs[key][0]

    def __contains__(self, chrom: str) -> bool:
        return canonical_chrom(chrom) in self._contigs

    def chrom_size(self, chrom: str) -> int:
        """Length of ``chrom`` (any naming style)."""
        self.resolve(chrom)
        return self._contigs[canonical_chrom(chrom)][1]

    def codes(self, chrom: str, *, cache: bool = True) -> np.ndarray:
        """The whole contig as uint8 base codes (``A,C,G,T,N = 0..4``), decoded once and cached.

        With ``cache=False`` a contig not yet cached is decoded without being kept (for one pass over the
        contigs, whose cache would hold several of them at once).
        """
        key = canonical_chrom(chrom)
        self.resolve(chrom)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        _, length, sources = self._contigs[key]
        arr = None
        for i, contig in sources:
            part = self._read_codes(i, contig, length)
            if len(part) != length:
                raise ValueError(
                    f"{self.paths[i]}: contig {contig!r} is truncated ({len(part):,} of {length:,} bp)."
                )
            if arr is not None:
                clash = (arr != 4) & (part != 4) & (arr != part)
                if clash.any():
                    pos = int(np.flatnonzero(clash)[0])
                    first = self.paths[sources[0][0]]
                    raise ValueError(
                        f"Contig {contig!r} is in both {first} and {self.paths[i]} with different bases "
                        f"({int(clash.sum()):,} positions, first at {contig}:{pos + 1:,}: "
                        f"{'ACGTN'[arr[pos]]} vs {'ACGTN'[part[pos]]}). Several FASTA files may only fill each "
                        "other's N gaps; pass the one you mean, or remove the contig from the other."
                    )
            arr = part if arr is None else np.where(arr == 4, part, arr)
        arr.setflags(write=False)
        if not cache:
            return arr
        self._cache[key] = arr
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return arr

    def _read_codes(self, i: int, contig: str, length: int) -> np.ndarray:
        """Codes of ``contig`` in FASTA ``i``, read in pieces (shorter than ``length`` if the file ends early)."""
        # pysam decodes a whole bgzip contig ~200x faster than pyfaidx's line-by-line reader;
        # pyfaidx stays the index/validation layer and the fallback.
        try:
            import pysam

            with pysam.FastaFile(str(self.paths[i])) as fa:
                return _codes_in_pieces(length, lambda a, b: fa.fetch(contig, a, b))
        except (OSError, ValueError):
            pass
        try:
            record = self._fastas[i][contig]
            return _codes_in_pieces(length, lambda a, b: str(record[a:b]))
        except (struct.error, EOFError, zlib.error, OSError, ValueError) as err:
            raise ValueError(
                f"{self.paths[i]}: truncated or corrupt FASTA; contig {contig!r} cannot be read ({err}). "
                "Re-download the file and rebuild its .fai/.gzi index."
            ) from err

    def fetch_codes(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Base codes of ``chrom:start-end`` (0-based, half-open); outside the contig is N (4)."""
        if end < start:
            raise ValueError(f"Interval {chrom}:{start}-{end} has end < start.")
        contig = self.codes(chrom)
        out = np.full(end - start, 4, dtype=np.uint8)
        lo, hi = max(start, 0), min(end, len(contig))
        if hi > lo:
            out[lo - start : hi - start] = contig[lo:hi]
        return out

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Sequence of ``chrom:start-end`` (0-based, half-open), uppercase, N-padded beyond the contig ends."""
        return _BASES[self.fetch_codes(chrom, start, end)].tobytes().decode()

    def windows(self, chroms: Sequence[str], centers: Sequence[int] | np.ndarray, width: int) -> np.ndarray:
        """Base codes of ``width``-bp windows centred on each position, as an ``(n, width)`` uint8 array.

        Vectorised per contig: one gather instead of one FASTA read per locus.
        """
        chroms = np.asarray(chroms).astype(str)
        centers = np.asarray(centers, dtype=np.int64)
        out = np.full((len(chroms), width), 4, dtype=np.uint8)
        for chrom in np.unique(chroms):
            idx = np.flatnonzero(chroms == chrom)
            contig = self.codes(chrom)
            first = centers[idx] - width // 2
            inside = (first >= 0) & (first + width <= len(contig))
            if inside.any():
                # a strided view of all windows of the contig (no copy of the contig, which is called once per
                # chunk of a genome-wide prediction): gathering rows copies only n x width bytes
                view = np.lib.stride_tricks.sliding_window_view(contig, width)
                rows, starts = idx[inside], first[inside]
                for b in range(0, len(rows), 4096):  # in blocks: the gather's temporary stays a few MB
                    out[rows[b : b + 4096]] = view[starts[b : b + 4096]]
            for i, f in zip(idx[~inside], first[~inside], strict=True):
                # a window crossing a contig end: the part inside the contig, N elsewhere
                lo, hi = max(int(f), 0), min(int(f) + width, len(contig))
                if hi > lo:
                    out[i, lo - f : hi - f] = contig[lo:hi]
        return out

    def to_dict(self) -> dict:
        """Metadata stored in ``uns['deepcage']['genome']`` and with saved models."""
        return {
            "name": self.name or "",
            "fasta": [str(p) for p in self.paths],
            "chrom_sizes": self.chrom_sizes,
        }


def _stale_index_reason(path: Path, fai: Path) -> str | None:
    """Why the plain FASTA ``path`` does not match its ``.fai`` (None when it does): each indexed contig must start
    right after its ``>name`` header line and end at a line end, and no sequence may follow the last one. Reads one
    line per contig, so it costs nothing next to decoding a contig."""
    try:
        entries = [line.rstrip("\n").split("\t") for line in fai.read_text().splitlines() if line.strip()]
        size = path.stat().st_size
        with open(path, "rb") as fh:
            last_end = 0
            for fields in entries:
                name, length, offset, linebases, linewidth = (
                    fields[0],
                    int(fields[1]),
                    int(fields[2]),
                    int(fields[3]),
                    int(fields[4]),
                )
                full, rest = divmod(length, linebases) if linebases else (0, 0)
                end = offset + full * linewidth + rest
                if offset > size or end > size:
                    return f"contig {name!r} ({length:,} bp) lies past the end of the file"
                lo = max(offset - 4096, 0)  # header lines are short; a longer one is not judged
                fh.seek(lo)
                before = fh.read(offset - lo).rstrip(b"\r\n")
                complete = lo == 0 or b"\n" in before
                header = before.rsplit(b"\n", 1)[-1]
                if complete and (not header.startswith(b">") or header[1:].split()[0:1] != [name.encode()]):
                    return f"contig {name!r} is not at the offset the index gives"
                fh.seek(end)
                after = fh.read(linewidth + 2)
                if rest and after[:1] not in (b"\n", b"\r", b""):
                    return f"contig {name!r} is not {length:,} bp long"
                if not rest and after[:1] not in (b">", b"", b"\n", b"\r"):
                    return f"contig {name!r} is longer than {length:,} bp"
                last_end = max(last_end, end)
            fh.seek(last_end)
            tail = fh.read(1 << 16)
        if tail.strip() and b">" in tail:
            nxt = tail[tail.index(b">") + 1 :].split(maxsplit=1)[0].decode(errors="replace")
            return f"contig {nxt!r} is in the FASTA but not in the index"
    except (OSError, ValueError, IndexError) as err:
        return f"the index cannot be read ({err})"
    return None


def _check_index(path: Path) -> None:
    """A ``.fai`` that does not belong to the FASTA (copied from another one, or the FASTA edited after indexing)
    is rebuilt when the folder is writable, with a warning; otherwise a ValueError says what to do."""
    import warnings

    fai = Path(str(path) + ".fai")
    if not fai.exists():
        return
    if is_gzip(path):
        if path.stat().st_mtime > fai.stat().st_mtime + 1:
            raise ValueError(
                f"{fai} is older than {path}: the FASTA was changed after indexing, so contig sizes and bases may "
                f"be wrong. Rebuild the index: rm {fai} {path}.gzi; samtools faidx {path}"
            )
        return
    reason = _stale_index_reason(path, fai)
    if reason is None:
        return
    try:
        fai.unlink()
    except OSError as err:
        raise ValueError(
            f"{fai} does not match {path} ({reason}): it is from another FASTA or the FASTA was edited after "
            f"indexing, and it cannot be replaced here ({err.strerror}). Rebuild it (samtools faidx {path}) or "
            "copy the FASTA to a writable folder."
        ) from None
    warnings.warn(
        f"{fai} did not match {path} ({reason}): it was from another FASTA or the FASTA was edited after "
        "indexing; rebuilt it.",
        UserWarning,
        stacklevel=4,
    )


def _open_fasta(path: Path):
    import pyfaidx

    if not path.exists():
        raise FileNotFoundError(f"FASTA file not found: {path}")
    is_gzip(path)  # a plain file named .gz fails here with a clear message
    _check_index(path)
    try:
        return pyfaidx.Fasta(
            str(path), as_raw=True, sequence_always_upper=False, rebuild=False, build_index=True
        )
    except pyfaidx.UnsupportedCompressionFormat as err:
        raise ValueError(
            f"{path}: compressed with plain gzip, which does not allow random access. "
            f"Recompress with 'bgzip' (htslib): zcat {path.name} | bgzip > {path.stem}.bgz.fa.gz"
        ) from err
    except (struct.error, EOFError, zlib.error) as err:
        raise ValueError(
            f"{path}: truncated or corrupt compressed FASTA ({err!r}). Re-download or re-compress it with bgzip."
        ) from err
    except (pyfaidx.FastaIndexingError, ValueError, OSError) as err:
        fai = Path(str(path) + ".fai")
        if not fai.exists() and ("writable" in str(err) or isinstance(err, PermissionError)):
            raise ValueError(
                f"{path} has no index ({fai.name}) and its folder is not writable, so none can be built there. "
                f"Index it where it is writable (samtools faidx {path.name}, then put {fai.name} next to it), or "
                "copy the FASTA to a folder you can write to."
            ) from err
        raise ValueError(f"{path}: not a readable FASTA file ({err}). {_fasta_hint(str(err))}") from err


def _fasta_hint(reason: str) -> str:
    """What to do about a pyfaidx indexing error, by its reason (a wrong hint is worse than none)."""
    if "Duplicate key" in reason:
        return "A contig name occurs twice: keep one copy of each contig (e.g. seqkit rmdup -n)."
    if "Line length" in reason or "line length" in reason:
        return (
            "Its sequence lines have unequal lengths, which an index cannot address: rewrap them to one width "
            "(e.g. seqkit seq -w 60, or samtools faidx after reformatting)."
        )
    if "valid sequence" in reason or "start with '>'" in reason:
        return "Check that it starts with a '>' header line followed by sequence lines."
    if "ermission" in reason or "Read-only" in reason:
        return (
            "Its index (.fai) cannot be written next to it: build it where the FASTA is writable "
            "(samtools faidx) or copy the FASTA to a writable folder."
        )
    return "Check that the file is a (plain or bgzip) FASTA file and that its .fai/.gzi index belongs to it."
