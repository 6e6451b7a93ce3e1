"""Removing files from a layer directory, shared by both layer builds. Standard library only."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from build_steps import log
from lambda_sizes import SizeBook, files_under, fmt

TrimStep = tuple[str, Callable[[Path], list[Path]]]
"""A step's name, and what it selects for removal below the site directory."""


@dataclass(frozen=True)
class TrimResult:
    """What one trimming step removed and the layer's size after it."""

    step: str
    files: int
    removed: int
    unzipped_after: int
    zipped_after: int


def run_steps(site: Path, steps: Sequence[TrimStep], book: SizeBook) -> list[TrimResult]:
    """Run every step on ``site`` in order; print and return what each removed."""
    unzipped, zipped = book.sizes()
    log(f"as installed: {fmt(unzipped)} unzipped, {fmt(zipped)} zipped")
    results = [TrimResult("as installed", 0, 0, unzipped, zipped)]
    for name, select in steps:
        count, removed = remove(select(site))
        unzipped, zipped = book.sizes()
        results.append(TrimResult(name, count, removed, unzipped, zipped))
        log(
            f"trim {name}: removed {count} files, {fmt(removed)}; "
            f"now {fmt(unzipped)} unzipped, {fmt(zipped)} zipped"
        )
    remove_empty_dirs(site)
    return results


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
