"""Measuring instruments: wall and CPU seconds of a block, this process's resident memory,
and the machine and its load.

Times are wall-clock (`time.perf_counter`) and CPU (`time.process_time`, all threads of the
process, an engine's native threads included). Peak memory is the kernel's high-water mark of
the process's resident set (`VmHWM`), which is what Lambda's memory limit is measured against.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path


class Timer:
    """Wall and CPU seconds of one `with` block."""

    def __init__(self) -> None:
        self.wall_s = 0.0
        self.cpu_s = 0.0
        self._wall = self._cpu = 0.0

    def __enter__(self) -> Timer:
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = round(time.perf_counter() - self._wall, 4)
        self.cpu_s = round(time.process_time() - self._cpu, 4)


def _status_mb(name: str) -> float:
    """A memory field of /proc/self/status in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def rss_mb() -> float:
    """This process's resident set now."""
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    """The highest resident set this process has had."""
    return _status_mb("VmHWM")


def load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages (a shared machine's noise)."""
    return [round(value, 2) for value in os.getloadavg()]


@dataclass(frozen=True)
class Machine:
    cpus: int
    cpu_model: str
    memory_gb: float
    python: str
    platform: str


def _proc_field(path: str, prefix: str) -> str | None:
    """The value after the first `prefix...:` line of a /proc file, if any."""
    source = Path(path)
    if not source.is_file():
        return None
    for line in source.read_text().splitlines():
        if line.startswith(prefix):
            return line.split(":", 1)[1].strip()
    return None


def machine_info() -> Machine:
    memory_kb = int((_proc_field("/proc/meminfo", "MemTotal:") or "0 kB").split()[0])
    return Machine(
        cpus=os.cpu_count() or 1,
        cpu_model=_proc_field("/proc/cpuinfo", "model name") or "unknown",
        memory_gb=round(memory_kb / 1024 / 1024, 1),
        python=platform.python_version(),
        platform=platform.platform(),
    )
