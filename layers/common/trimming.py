"""Removing files from a layer directory, shared by both layer builds. Standard library only."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from lambda_sizes import files_under


def tree_entries(root: Path) -> Iterator[Path]:
    """Yield every file and directory below ``root``, parents before children."""
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            yield Path(directory, name)


def remove(paths: Iterable[Path]) -> tuple[int, int]:
    """Delete ``paths`` (files or whole directories); return ``(files, bytes)`` removed."""
    count = removed = 0
    for path in paths:
        inner = files_under(path) if path.is_dir() else [path]
        count += len(inner)
        removed += sum(item.stat().st_size for item in inner)
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    return count, removed


def remove_empty_dirs(root: Path) -> None:
    """Remove directories below ``root`` that trimming left empty."""
    for directory, _, _ in sorted(os.walk(root), key=lambda item: -len(item[0])):
        path = Path(directory)
        if path != root and not any(path.iterdir()):
            path.rmdir()
