"""Running a script of a built layer the way the function will use the layer: a fresh,
isolated interpreter (``-I -S -B``: no user or system site-packages, no PYTHON* variables, not
even the script's directory on ``sys.path``, no bytecode written), in a scratch directory and
home, reading back the one result line the script prints. Shared by both layers' builds, which
judge the result themselves. Standard library only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_sizes import files_under


@dataclass(frozen=True)
class IsolatedRun:
    """What the script printed on its result line (None if it printed none), its exit code,
    its output and how long it took."""

    report: dict[str, Any] | None
    returncode: int
    output: list[str]
    seconds: float


def run_isolated(
    script: Path,
    arguments: Sequence[str],
    *,
    scratch: str,
    mark: str,
    timeout: float,
    environment: Mapping[str, str] | None = None,
    interpreter: Sequence[str] | None = None,
) -> IsolatedRun:
    """Run ``script`` isolated on this interpreter, or on ``interpreter`` (a command that starts
    another Python, e.g. an emulated one for another architecture); raise TimeoutError after
    ``timeout``."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": scratch,
        "TMPDIR": scratch,
        "LANG": "C.UTF-8",
        **(environment or {}),
    }
    command = [*(interpreter or [sys.executable]), "-I", "-S", "-B", str(script), *arguments]
    started = time.monotonic()
    try:
        child = subprocess.run(
            command,
            cwd=scratch,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise TimeoutError(f"no result after {error.timeout} s") from error
    lines = child.stdout.splitlines()
    marked = [line for line in lines if line.startswith(mark)]
    report = json.loads(marked[-1][len(mark) :]) if marked and child.returncode == 0 else None
    return IsolatedRun(report, child.returncode, lines, time.monotonic() - started)


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Return ``{relative path: (size, mtime_ns)}`` of every file below ``root``: a self-test
    must leave the layer as it found it."""
    return {
        path.relative_to(root).as_posix(): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in files_under(root)
    }
