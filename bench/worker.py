"""The benchmark's child side: every measurement runs here, in a fresh interpreter.

An engine's start-up and its memory are process-wide, so `bench.running` starts this module
once per measurement (`python -m bench.worker TASK.json RESULT.json`) and reads back a JSON
result (`bench.protocol`). Nothing here prints results: the handler logs to stdout, which the
parent keeps in a log file. The function's modules are imported only inside Init (`_start`), so
the cold start measures them.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from bench.measuring import Timer, peak_rss_mb, rss_mb
from bench.protocol import Call, ColdStartResult, MeasureResult, Task, write_result

if TYPE_CHECKING:
    from ocr_service.core.config import Settings
    from ocr_service.engines.port import OcrEngine

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTION_DIR = REPO_ROOT / "functions" / "ocr"


def _start(task: Task) -> tuple[ModuleType, float]:
    """Lambda's Init: import app.py with the function's environment, on the task's cores
    and with its thread count."""
    from tools.local_run import import_handler_module  # noqa: PLC0415

    if task.cpus:
        os.sched_setaffinity(0, set(task.cpus))
    if task.threads is not None:
        from ocr_service.engines import tesseract as tesseract_engine  # noqa: PLC0415

        threads = task.threads
        tesseract_engine.worker_count = lambda environ=None: threads
    return import_handler_module(task.environment)


def cold_start(task: Task) -> ColdStartResult:
    started = time.time()
    module, init_s = _start(task)
    engine: OcrEngine = module.engine
    return ColdStartResult(
        engine=engine.name,
        engine_version=engine.version,
        licensed=engine.licensed,
        interpreter_start_s=round(started - task.spawned_at, 4),
        init_s=round(init_s, 4),
        steps={name: round(value, 4) for name, value in asdict(engine.timings).items()},
        rss_after_init_mb=rss_mb(),
    )


def _language(
    engine: OcrEngine, settings: Settings, requested: str | None
) -> tuple[dict[str, str], str, str]:
    """The object's metadata, the engine's name for its language (as the handler chooses it),
    and a note when the engine refuses the requested language and the default is used."""
    from ocr_service.core.languages import LanguagePolicy, UnknownLanguageError  # noqa: PLC0415

    policy = LanguagePolicy(settings.language, settings.language_by_prefix, engine.languages)
    metadata = {"ocr-language": requested} if requested else {}
    try:
        return metadata, policy.choose("", metadata).name, ""
    except UnknownLanguageError as error:  # e.g. Aspose reads one script at a time
        note = f"{requested!r} refused ({str(error)[:70]}...): the default language"
        return {}, policy.choose("", {}).name, note


def _scale(data: bytes, max_side: int) -> float | None:
    """The factor the pipeline brings an image down by (inputs/pages.py): long side to
    `max_side`; None for PDFs (rendered at their own resolution) and smaller images."""
    from ocr_service.core.formats import identify  # noqa: PLC0415
    from ocr_service.inputs.image_info import inspect_image  # noqa: PLC0415

    info = inspect_image(data, identify(data))
    longest = max(info.width, info.height)
    if not max_side or not longest or longest <= max_side:
        return None
    return max_side / longest


class Session:
    """One Init'ed function in this process, the task's image and a client of the local S3."""

    def __init__(self, task: Task, module: ModuleType) -> None:
        import boto3  # noqa: PLC0415

        self.task, self.module = task, module
        self.engine: OcrEngine = module.engine
        self.settings: Settings = module.settings
        self.data = Path(task.image).read_bytes()
        self.scale = _scale(self.data, self.settings.max_image_side)
        self.metadata, self.language, self.language_note = _language(
            self.engine, self.settings, task.language
        )
        self.s3 = boto3.client("s3")  # AWS_ENDPOINT_URL points at the parent's local S3
        self.keys: list[str] = []
        self.s3_requests = 0  # what the handler's own client sends
        module.s3_client.meta.events.register("before-send.s3", self._count_request)

    def _count_request(self, **_: object) -> None:
        self.s3_requests += 1

    def through_handler(self) -> Call:
        """Upload the image under a fresh key and hand the handler its S3 notification."""
        from tools.events import Upload, encode_key, s3_put_event  # noqa: PLC0415
        from tools.local_run import invoke  # noqa: PLC0415

        task = self.task
        key = f"{task.run_id}/{self.engine.name}/{task.name}/{len(self.keys)}.{task.extension}"
        self.keys.append(key)
        put = self.s3.put_object(
            Bucket=task.input_bucket, Key=key, Body=self.data, Metadata=self.metadata
        )
        upload = Upload(task.input_bucket, encode_key(key), len(self.data), put["ETag"].strip('"'))
        before = self.s3_requests
        with Timer() as timer:
            result = invoke(self.module, s3_put_event([upload]))
        if len(result["succeeded"]) != 1:
            raise RuntimeError(f"the handler did not succeed: {json.dumps(result)[:2000]}")
        succeeded = result["succeeded"][0]
        return Call(
            timer.wall_s,
            timer.cpu_s,
            pages=int(succeeded.get("pages", 0)),
            recognition_s=succeeded["recognition_seconds"],
            s3_requests=self.s3_requests - before,
        )

    def bare(self) -> tuple[Call, str]:
        """Without S3: the handler's recognizer (decoding, planning, the engine), as
        configured, on the same bytes."""
        from ocr_service.recognition.recognizer import DocumentRecognizer  # noqa: PLC0415

        recognizer = DocumentRecognizer.configured(self.engine, self.settings)
        with Timer() as timer:
            examined = recognizer.examine(self.data)
            document = recognizer.recognize(examined, self.language, recognizer.plan(examined))
        return Call(timer.wall_s, timer.cpu_s, document.page_count), document.text

    def last_handler_text(self) -> str:
        output = self.s3.get_object(Bucket=self.task.output_bucket, Key=self.keys[-1] + ".txt")
        return output["Body"].read().decode("utf-8")


def measure(task: Task) -> MeasureResult:
    """Init, then the first request through the handler, then warm requests alternating
    between the bare engine and the handler (S3 download, checks, normalisation,
    recognition, S3 upload), each upload a fresh key."""
    with Timer() as init:
        module, _ = _start(task)
    rss_after_init = rss_mb()
    session = Session(task, module)
    first = session.through_handler()
    bare_calls: list[Call] = []
    handler_calls: list[Call] = []
    text = ""
    for _ in range(task.repeat):
        if task.bare:
            call, text = session.bare()
            bare_calls.append(call)
        handler_calls.append(session.through_handler())
    handler_text = session.last_handler_text()
    return MeasureResult(
        engine=session.engine.name,
        engine_version=session.engine.version,
        licensed=session.engine.licensed,
        cpus=sorted(os.sched_getaffinity(0)),
        threads=int(getattr(session.engine, "workers", 0)),
        init_s=init.wall_s,
        scale=session.scale,
        language=session.language,
        language_note=session.language_note,
        first_request=first,
        handler=handler_calls,
        bare=bare_calls,
        rss_after_init_mb=rss_after_init,
        peak_rss_mb=peak_rss_mb(),
        text=text if bare_calls else handler_text,
        # Trial mode may return no text at all for a short image: "" must still match "".
        handler_text_matches_bare=handler_text == text if bare_calls else None,
    )


def main(argv: list[str]) -> int:
    task_path, result_path = Path(argv[1]), Path(argv[2])
    task = Task.read(task_path)
    for path in (str(REPO_ROOT), str(FUNCTION_DIR)):
        if path not in sys.path:
            sys.path.insert(0, path)
    result = cold_start(task) if task.kind == "cold_start" else measure(task)
    write_result(result, result_path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
