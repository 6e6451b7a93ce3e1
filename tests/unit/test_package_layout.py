"""ocr_service/'s folders follow the import order, so a newcomer finds where a new format or
engine goes in one look, and nothing reaches back up:

    core <- document <- inputs <- engines, outputs <- recognition <- aws <- bootstrap, cli

A module imports only from its own folder and the folders to its left; `engines` and `outputs`
do not import each other (an output is rendered from the model alone, whichever engine filled
it); no module imports a module of the package root (bootstrap, cli: the entry points).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "functions" / "ocr" / "ocr_service"
RANK = {
    "core": 0,
    "document": 1,
    "inputs": 2,
    "engines": 3,
    "outputs": 3,
    "recognition": 4,
    "aws": 5,
    "": 6,  # the package root: bootstrap.py, cli.py
}
MODULES = sorted(PACKAGE.rglob("*.py"))


def folder_of(module: str) -> str:
    """`ocr_service.engines.port` -> `engines`; `ocr_service.cli` -> ``."""
    first = module.split(".")[1]
    return first if first in RANK else ""


def imported(path: Path) -> list[str]:
    """The ocr_service modules `path` imports (relative imports are not used here)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            base = node.module or ""
            if base == "ocr_service":
                found += [f"ocr_service.{alias.name}" for alias in node.names]
            elif base.startswith("ocr_service."):
                found.append(base)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("ocr_service")]
    return found


def test_every_folder_has_a_rank() -> None:
    folders = {p.parent.name for p in MODULES if p.parent != PACKAGE}
    assert folders == set(RANK) - {""}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_down_the_layers_only(path: Path) -> None:
    here = "" if path.parent == PACKAGE else path.parent.name
    for module in imported(path):
        there = folder_of(module)
        if there == here:
            continue
        assert there != "", f"{path.name} imports the entry point {module}"
        assert RANK[there] < RANK[here], f"{here}/{path.name} imports {module} (rank {there})"
