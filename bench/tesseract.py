"""The Tesseract 5 command line (Debian's `tesseract-ocr`) on the same image files, for scale.

Each run is one `tesseract IMAGE stdout` process, as a shell script would call it; its wall
time, CPU time (user + system, all threads) and peak RSS come from the kernel's accounting of
that child (`os.wait4`). Tesseract reads PNG, JPEG and (multi-page) TIFF, not PDF.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

INSTALL_HINT = "apt-get install -y tesseract-ocr   (Debian/Ubuntu: Tesseract 5 with English)"
UNSUPPORTED_EXTENSIONS = {"pdf": "tesseract reads no PDF (rasterize it first)"}


def executable() -> str | None:
    return shutil.which("tesseract")


def version() -> str | None:
    """The first line of `tesseract --version`, or None when it is not installed."""
    binary = executable()
    if binary is None:
        return None
    completed = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, check=False, timeout=30
    )
    lines = (completed.stdout or completed.stderr).splitlines()
    return lines[0].strip() if lines else "tesseract (unknown version)"


def run_once(image: Path, lang: str = "eng") -> dict[str, Any]:
    """One recognition: the text and the child's wall, CPU and peak memory."""
    binary = executable()
    if binary is None:
        raise FileNotFoundError("tesseract is not installed: " + INSTALL_HINT)
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            [binary, str(image), "stdout", "-l", lang],
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        assert process.stdout is not None
        output = process.stdout.read()
        # wait4 reaps the child and returns its own resource usage (Popen.wait would not).
        _, status, usage = os.wait4(process.pid, 0)
        wall_s = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        process.stdout.close()
        if process.returncode != 0:
            errors.seek(0)
            message = errors.read().decode("utf-8", "replace").strip()[-500:]
            raise RuntimeError(f"tesseract exited with {process.returncode}: {message}")
    return {
        "wall_s": round(wall_s, 4),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 4),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "text": output.decode("utf-8", "replace"),
    }


def measure(image: Path, repeat: int, lang: str = "eng") -> dict[str, Any]:
    """``repeat`` runs (at least one): medians, the largest peak RSS and the last text,
    or a reason why there are no numbers."""
    extension = image.suffix.lstrip(".").lower()
    if extension in UNSUPPORTED_EXTENSIONS:
        return {"status": "n/a", "reason": UNSUPPORTED_EXTENSIONS[extension]}
    if executable() is None:
        return {"status": "n/a", "reason": "tesseract not installed: " + INSTALL_HINT}
    runs = [run_once(image, lang) for _ in range(max(1, repeat))]
    return {
        "status": "ok",
        "calls": [{key: run[key] for key in ("wall_s", "cpu_s")} for run in runs],
        "median_wall_s": round(statistics.median(run["wall_s"] for run in runs), 4),
        "median_cpu_s": round(statistics.median(run["cpu_s"] for run in runs), 4),
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
        "text": runs[-1]["text"],
    }
