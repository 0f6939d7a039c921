"""File checks shared by every reader (no deepcage imports: the bottom of the import graph)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["is_bgzf", "is_gzip"]


def is_gzip(path) -> bool:
    """Whether ``path`` is gzip-compressed (by its magic bytes); a ``.gz`` suffix on a plain file is an error."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"File not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, expected a file.")
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
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
