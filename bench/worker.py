"""The benchmark's child side: every measurement runs here, in a fresh interpreter.

An engine's start-up and its memory are process-wide, so `bench.bench` starts this module once
per measurement (`python -m bench.worker TASK.json RESULT.json`) and reads back a JSON result.
Nothing here prints results: the handler logs to stdout, which the parent keeps in a log file.

Times are wall-clock (`time.perf_counter`) and CPU (`time.process_time`, all threads of this
process, the engine's native threads included). Peak memory is the kernel's high-water mark of
this process's resident set (`VmHWM`), which is what Lambda's memory limit is measured against.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTION_DIR = REPO_ROOT / "functions" / "ocr"


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


@dataclass(frozen=True)
class Call:
    """One timed recognition."""

    wall_s: float
    cpu_s: float
    pages: int
    recognition_s: float | None = None
    """Through the handler: the pipeline's own measure of its engine call."""
    s3_requests: int | None = None


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


def _status_mb(name: str) -> float:
    """A memory field of /proc/self/status (VmRSS, VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


class Timer:
    """Wall and CPU seconds of one block."""

    def __init__(self) -> None:
        self.wall_s = 0.0
        self.cpu_s = 0.0

    def __enter__(self) -> Timer:
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = round(time.perf_counter() - self._wall, 4)
        self.cpu_s = round(time.process_time() - self._cpu, 4)


def downscale(width: int, height: int, max_side: int) -> float | None:
    """The factor the pipeline applies (DocumentRecognizer._scale): long side to `max_side`."""
    longest = max(width, height)
    if not max_side or longest <= max_side:
        return None
    return max_side / longest


def _start(task: Task) -> tuple[ModuleType, float]:
    """Lambda's Init: import app.py with the function's environment, on the task's cores
    and with its thread count."""
    from tools.local_run import import_handler_module  # noqa: PLC0415

    if task.cpus:
        os.sched_setaffinity(0, set(task.cpus))
    if task.threads is not None:
        from ocr_service import tesseract_engine  # noqa: PLC0415

        threads = task.threads
        tesseract_engine.worker_count = lambda environ=None: threads
    return import_handler_module(task.environment)


def cold_start(task: Task) -> ColdStartResult:
    started = time.time()
    module, init_s = _start(task)
    engine = module.engine
    return ColdStartResult(
        engine=engine.name,
        engine_version=engine.version,
        licensed=engine.licensed,
        interpreter_start_s=round(started - task.spawned_at, 4),
        init_s=round(init_s, 4),
        steps={name: round(value, 4) for name, value in asdict(engine.timings).items()},
        rss_after_init_mb=_status_mb("VmRSS"),
    )


def _language(module: ModuleType, requested: str | None) -> tuple[dict[str, str], str, str]:
    """The object's metadata, the engine's name for its language (as the handler chooses it),
    and a note when the engine refuses the requested language and the default is used."""
    from ocr_service.formats import UnreadableInputError  # noqa: PLC0415
    from ocr_service.recognition import DocumentRecognizer  # noqa: PLC0415

    recognizer = DocumentRecognizer.configured(module.engine, module.settings)
    metadata = {"ocr-language": requested} if requested else {}
    try:
        return metadata, recognizer.language_for("", metadata).name, ""
    except UnreadableInputError as error:  # e.g. Aspose reads one script at a time
        note = f"{requested!r} refused ({str(error)[:70]}...): the default language"
        return {}, recognizer.language_for("", {}).name, note


def measure(task: Task) -> MeasureResult:
    """Init, then the first request through the handler, then warm requests alternating
    between the bare engine (`engine.recognize` with the handler's scale, language and
    preprocessing) and the handler (S3 download, checks, normalisation, recognition, S3
    upload), each upload a fresh key."""
    import boto3  # noqa: PLC0415

    from ocr_service.formats import identify  # noqa: PLC0415
    from ocr_service.image_info import inspect_image  # noqa: PLC0415
    from tools.events import Upload, encode_key, s3_put_event  # noqa: PLC0415
    from tools.local_run import invoke  # noqa: PLC0415

    with Timer() as init:
        module, _ = _start(task)
    rss_after_init = _status_mb("VmRSS")
    engine, settings = module.engine, module.settings
    data = Path(task.image).read_bytes()
    image_format = identify(data)
    info = inspect_image(data, image_format)
    metadata, language, note = _language(module, task.language)
    scale = downscale(info.width, info.height, settings.max_image_side)
    s3 = boto3.client("s3")  # AWS_ENDPOINT_URL points at the parent's local S3
    keys: list[str] = []
    s3_requests = [0]  # what the handler's own client sends: each is a round trip to S3

    def count_request(**_: Any) -> None:
        s3_requests[0] += 1

    module.s3_client.meta.events.register("before-send.s3", count_request)

    def through_handler() -> Call:
        key = f"{task.run_id}/{engine.name}/{task.name}/{len(keys)}.{task.extension}"
        keys.append(key)
        put = s3.put_object(Bucket=task.input_bucket, Key=key, Body=data, Metadata=metadata)
        upload = Upload(task.input_bucket, encode_key(key), len(data), put["ETag"].strip('"'))
        before = s3_requests[0]
        with Timer() as timer:
            result = invoke(module, s3_put_event([upload]))
        if len(result["succeeded"]) != 1:
            raise RuntimeError(f"the handler did not succeed: {json.dumps(result)[:2000]}")
        succeeded = result["succeeded"][0]
        return Call(
            timer.wall_s,
            timer.cpu_s,
            pages=int(succeeded.get("pages", 0)),
            recognition_s=succeeded["recognition_seconds"],
            s3_requests=s3_requests[0] - before,
        )

    def bare() -> tuple[Call, str]:
        with Timer() as timer:
            recognition = engine.recognize(
                data, image_format, scale, language, settings.preprocessing
            )
        return Call(timer.wall_s, timer.cpu_s, recognition.page_count), recognition.text

    first = through_handler()
    bare_calls: list[Call] = []
    handler_calls: list[Call] = []
    text = ""
    for _ in range(task.repeat):
        if task.bare:
            call, text = bare()
            bare_calls.append(call)
        handler_calls.append(through_handler())
    output = s3.get_object(Bucket=task.output_bucket, Key=keys[-1] + ".txt")
    handler_text = output["Body"].read().decode("utf-8")
    return MeasureResult(
        engine=engine.name,
        engine_version=engine.version,
        licensed=engine.licensed,
        cpus=sorted(os.sched_getaffinity(0)),
        threads=int(getattr(engine, "workers", 0)),
        init_s=init.wall_s,
        scale=scale,
        language=language,
        language_note=note,
        first_request=first,
        handler=handler_calls,
        bare=bare_calls,
        rss_after_init_mb=rss_after_init,
        peak_rss_mb=_status_mb("VmHWM"),
        text=text or handler_text,
        handler_text_matches_bare=handler_text == text if text else None,
    )


def main(argv: list[str]) -> int:
    task_path, result_path = Path(argv[1]), Path(argv[2])
    task = Task(**json.loads(task_path.read_text()))
    for path in (str(REPO_ROOT), str(FUNCTION_DIR)):
        if path not in sys.path:
            sys.path.insert(0, path)
    result = cold_start(task) if task.kind == "cold_start" else measure(task)
    result_path.write_text(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
