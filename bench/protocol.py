"""What the parent asks a worker process to measure, and what the worker answers.

`bench.running` writes a Task as JSON and starts `python -m bench.worker TASK.json RESULT.json`;
the worker writes a ColdStartResult or a MeasureResult back. These types are the only thing
the two sides share.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Task:
    """One measurement, as the parent asks for it."""

    kind: str
    """"cold_start" (Init only) or "measure" (Init, then requests)."""
    environment: dict[str, str]
    """The function's environment (template.yaml for the engine, local paths, local S3)."""
    spawned_at: float = 0.0
    run_id: str = ""
    input_bucket: str = ""
    output_bucket: str = ""
    name: str = ""
    image: str = ""
    extension: str = ""
    repeat: int = 0
    """Warm requests after the first: each a bare engine call (if `bare`) then a handler call."""
    bare: bool = True
    cpus: list[int] | None = None
    """Pin the process to these cores (Lambda's vCPUs for the engine's memory size)."""
    threads: int | None = None
    """The Tesseract engine's page threads (default: as the memory size gives)."""
    language: str | None = None
    """The object's `ocr-language` metadata (a user's name, e.g. `eng+deu`); None: default."""

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def read(cls, path: Path) -> Task:
        return cls(**json.loads(path.read_text()))


@dataclass(frozen=True)
class Call:
    """One timed recognition."""

    wall_s: float
    cpu_s: float
    pages: int
    recognition_s: float | None = None
    """Through the handler: the pipeline's own measure of its engine call."""
    s3_requests: int | None = None
    """Through the handler: the requests its S3 client sent (each a round trip)."""


@dataclass(frozen=True)
class ColdStartResult:
    engine: str
    engine_version: str
    licensed: bool
    interpreter_start_s: float
    init_s: float
    """Importing app.py: settings, engine start (the steps below), S3 client."""
    steps: dict[str, float]
    """The engine's own StartupTimings (native setup, import, create, license, warm-up)."""
    rss_after_init_mb: float

    @classmethod
    def read(cls, path: Path) -> ColdStartResult:
        return cls(**json.loads(path.read_text()))


@dataclass(frozen=True)
class MeasureResult:
    engine: str
    engine_version: str
    licensed: bool
    cpus: list[int]
    threads: int
    init_s: float
    scale: float | None
    language: str
    """The engine's name for the language both paths used."""
    language_note: str
    first_request: Call
    handler: list[Call]
    bare: list[Call] = field(default_factory=list)
    rss_after_init_mb: float = 0.0
    peak_rss_mb: float = 0.0
    text: str = ""
    """The bare engine's last text (the handler's when there was no bare call)."""
    handler_text_matches_bare: bool | None = None

    @classmethod
    def read(cls, path: Path) -> MeasureResult:
        fields = json.loads(path.read_text())
        return cls(
            **{
                **fields,
                "first_request": Call(**fields["first_request"]),
                "handler": [Call(**call) for call in fields["handler"]],
                "bare": [Call(**call) for call in fields["bare"]],
            }
        )


def write_result(result: ColdStartResult | MeasureResult, path: Path) -> None:
    path.write_text(json.dumps(asdict(result)))
