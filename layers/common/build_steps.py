"""What both layer builds say and run: one error type for the person running the build, one
log line format, one way to run a command. Standard library only."""

from __future__ import annotations

import subprocess


class BuildError(RuntimeError):
    """Raised with a message meant for the person running the build."""


def log(message: str) -> None:
    """Print a build message, flushed so it interleaves with subprocess output."""
    print(f"build_layer: {message}", flush=True)


def run(command: list[str]) -> None:
    """Run ``command``; raise :class:`BuildError` if it fails."""
    log("$ " + " ".join(command))
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        raise BuildError(f"command failed with exit code {result.returncode}: {command[0]} ...")
