"""File checks shared by every reader (no deepcage imports: the bottom of the import graph)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["is_bgzf", "is_gzip"]

# compressed or binary formats that text readers meet in practice: name them instead of failing on the bytes
_OTHER_FORMATS = (
    (b"BZh", "compressed with bzip2", "Decompress it (bunzip2) or recompress it with gzip."),
    (b"\xfd7zXZ\x00", "compressed with xz", "Decompress it (unxz) or recompress it with gzip."),
    (b"\x28\xb5\x2f\xfd", "compressed with zstd", "Decompress it (unzstd) or recompress it with gzip."),
    (
        b"PK\x03\x04",
        "a zip archive (or an Excel .xlsx workbook)",
        "Unzip it, or save the sheet as TSV/CSV text.",
    ),
)


def is_gzip(path) -> bool:
    """Whether ``path`` is gzip-compressed (by its magic bytes); a ``.gz`` suffix on a plain file is an error, and
    so are other compressions and archives (bzip2, xz, zstd, zip/xlsx), named in the message."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"File not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, expected a file.")
    with open(path, "rb") as fh:
        head = fh.read(6)
    gz = head[:2] == b"\x1f\x8b"
    for magic, kind, fix in _OTHER_FORMATS:
        if head.startswith(magic):
            raise ValueError(f"{path}: {kind}, which deepcage does not read. {fix}")
    if path.suffix == ".gz" and not gz:
        raise ValueError(
            f"{path}: has a .gz suffix but is not gzip-compressed. Rename it without '.gz' or compress it."
        )
    return gz


def is_bgzf(path) -> bool:
    """Whether ``path`` is BGZF (bgzip) compressed: gzip with the ``BC`` extra field, which allows random access."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    return len(head) >= 14 and head[:2] == b"\x1f\x8b" and head[3] & 4 != 0 and head[12:14] == b"BC"


def swap_in(partial: Path, out: Path) -> None:
    """Put the finished folder ``partial`` in the place of ``out``; an old ``out`` is removed only then, so a failure
    part-way never leaves a half-written folder under the final name."""
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        partial.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        partial.rename(out)
