"""Size of a Lambda deployment directory: unzipped (what Lambda limits) and zipped as SAM zips it.

Shared by ``build_layer.py`` (which imports it as a sibling module: SAM copies only this
directory when it builds the layer, and Python puts a script's own directory on ``sys.path``)
and ``tools/check_sizes.py`` (which loads it from this file's path). Standard library only.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

#: Lambda's limit for a function plus all its layers, unzipped, in bytes.
LAMBDA_UNZIPPED_LIMIT = 262_144_000

#: Bytes a ZIP archive spends per file besides the compressed data and twice the name: local
#: file header (30) and central directory entry (46), as Python's zipfile writes them for SAM
#: (seekable output, no extra fields, no zip64 for files under 2 GiB). Plus the
#: end-of-central-directory record once per archive.
ZIP_PER_FILE = 30 + 46
ZIP_END = 22


def files_under(root: Path) -> list[Path]:
    """Return all regular files below ``root`` (following directory symlinks, as SAM does)."""
    found: list[Path] = []
    for directory, _, names in os.walk(root, followlinks=True):
        for name in names:
            path = Path(directory, name)
            if path.is_file():
                found.append(path)
    return sorted(found)


def deflated_size(path: Path) -> int:
    """Return the size of ``path``'s content deflated as ``zipfile.ZIP_DEFLATED`` does it."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    size = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            size += len(compressor.compress(chunk))
    return size + len(compressor.flush())


def zip_entry_size(name: str, path: Path) -> int:
    """Return the bytes that file ``path`` stored as ``name`` adds to a ZIP archive."""
    return ZIP_PER_FILE + 2 * len(name.encode("utf-8")) + deflated_size(path)
