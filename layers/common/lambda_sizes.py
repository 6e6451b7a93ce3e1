"""Size of a Lambda deployment directory: unzipped (what Lambda limits) and zipped as SAM zips it;
and the processor its native files are built for (Lambda's x86_64 or arm64).

Shared by both layer builds (``layers/aspose-ocr/build_layer.py`` and
``layers/tesseract/build_layer.py`` put this directory on ``sys.path`` from their own path: SAM
runs each layer's original Makefile, so ``layers/common`` is reachable from there) and by
``tools/check_sizes.py`` (which loads it from this file's path). Standard library only.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

#: Bytes of an ELF header up to and including e_machine.
ELF_HEADER = 20
#: e_machine of each Lambda architecture's native code.
ELF_MACHINES: dict[str, int] = {"x86_64": 62, "arm64": 183}


def elf_machine(path: Path) -> int | None:
    """The ELF ``e_machine`` of the file at ``path`` (62: x86_64, 183: aarch64), or None if it
    is not an ELF file."""
    with path.open("rb") as handle:
        header = handle.read(ELF_HEADER)
    if len(header) < ELF_HEADER or header[:4] != b"\x7fELF":
        return None
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


def foreign_binaries(directory: Path, architecture: str) -> list[str]:
    """The ELF files below ``directory`` (relative paths, sorted) not built for the Lambda
    ``architecture``: a wheel for the other processor installs silently and fails only when
    Lambda loads it."""
    wanted = ELF_MACHINES[architecture]
    return sorted(
        path.relative_to(directory).as_posix()
        for path in files_under(directory)
        if (machine := elf_machine(path)) is not None and machine != wanted
    )


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


class SizeBook:
    """Unzipped and zipped sizes of files in a layer directory, each file deflated only once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._zipped: dict[Path, int] = {}

    def zip_entry(self, path: Path) -> int:
        """Return the bytes ``path`` adds to a ZIP of ``root`` (headers plus deflated data)."""
        if path not in self._zipped:
            self._zipped[path] = zip_entry_size(path.relative_to(self.root).as_posix(), path)
        return self._zipped[path]

    def sizes(self, files: Iterable[Path] | None = None) -> tuple[int, int]:
        """Return ``(unzipped, zipped)`` for ``files`` (default: every file under ``root``).

        ``zipped`` includes the archive's end record once, as if ``files`` were zipped alone.
        """
        paths = files_under(self.root) if files is None else list(files)
        unzipped = sum(path.stat().st_size for path in paths)
        new = [path for path in paths if path not in self._zipped]
        # zlib releases the GIL while compressing: threads use every core.
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(self.zip_entry, new))
        zipped = sum(self.zip_entry(path) for path in paths) + ZIP_END
        return unzipped, zipped


def fmt(size: int) -> str:
    """Return ``size`` bytes as ``'123,456,789 B (117.7 MiB)'``."""
    return f"{size:,} B ({size / 1048576:.1f} MiB)"
