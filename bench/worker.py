"""The benchmark's child side: every measurement runs here, in a fresh interpreter.

The engine's start-up and its memory are process-wide, so `bench.bench` starts this module once
per measurement (`python -m bench.worker TASK.json RESULT.json`) and reads back a JSON result.
Nothing here prints results: the handler logs to stdout, which the parent keeps in a log file.

Times are wall-clock (`time.perf_counter`) and CPU (`time.process_time`, all threads of this
process, the engine's native threads included). Peak memory is the kernel's high-water mark of
this process's resident set (`VmHWM`), which is what Lambda's memory limit is measured against.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTION_DIR = REPO_ROOT / "functions" / "ocr"
Task = dict[str, Any]
Result = dict[str, Any]


def _status_mb(field: str) -> float:
    """A memory field of /proc/self/status (VmRSS, VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return _status_mb("VmHWM")


def rss_mb() -> float:
    return _status_mb("VmRSS")


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
        self.wall_s = time.perf_counter() - self._wall
        self.cpu_s = time.process_time() - self._cpu

    def as_dict(self) -> dict[str, float]:
        return {"wall_s": round(self.wall_s, 4), "cpu_s": round(self.cpu_s, 4)}


def summarize(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of a list of timed calls (empty list: no medians)."""
    if not calls:
        return {"calls": []}
    summary: dict[str, Any] = {"calls": calls}
    for name in ("wall_s", "cpu_s", "recognition_s", "outside_engine_s", "s3_requests"):
        if all(name in call for call in calls):
            summary[f"median_{name}"] = round(statistics.median(c[name] for c in calls), 4)
    return summary


def downscale(width: int, height: int, max_side: int) -> float | None:
    """The factor the pipeline applies (OcrPipeline._downscale): long side to ``max_side``."""
    longest = max(width, height)
    if not max_side or longest <= max_side:
        return None
    return max_side / longest


def _engine_settings(task: Task, warm_up: bool = True) -> Any:
    from ocr_service.config import load_engine_settings  # noqa: PLC0415

    return load_engine_settings(
        {
            "OCR_OPENSSL_LIB_DIR": task["openssl_lib_dir"],
            "OCR_RESOURCES_DIR": task["resources_dir"],
            "OCR_WARM_UP": "true" if warm_up else "false",
        }
    )


# --------------------------------------------------------------------------- cold start


def cold_start(task: Task) -> Result:
    """Lambda's Init as the function runs it: import app.py (settings, engine, S3 client)."""
    from tools.local_run import import_handler_module  # noqa: PLC0415

    started = time.time()
    module, init_s = import_handler_module(task["environment"])
    timings = asdict(module.engine.timings)
    return {
        "interpreter_start_s": round(started - task["spawned_at"], 4),
        "init_s": round(init_s, 4),
        "engine_steps_s": {name: round(value, 4) for name, value in timings.items()},
        "function_modules_s": round(init_s - sum(timings.values()), 4),
        "rss_after_init_mb": round(rss_mb(), 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "engine_version": module.engine.version,
        "licensed": module.engine.licensed,
    }


# --------------------------------------------------------------------------- one image class


def image_class(task: Task) -> Result:
    """Init, then the first request through the handler, then warm requests alternating
    between the bare engine (`OcrEngine.recognize`, same scale as the pipeline) and the handler
    (S3 download, checks, recognition, S3 upload), each upload a fresh key."""
    import boto3  # noqa: PLC0415

    from ocr_service.formats import identify  # noqa: PLC0415
    from ocr_service.image_info import inspect_image  # noqa: PLC0415
    from ocr_service.languages import engine_name  # noqa: PLC0415
    from tools.events import Upload, encode_key, s3_put_event  # noqa: PLC0415
    from tools.local_run import import_handler_module, invoke  # noqa: PLC0415

    if task.get("cpus"):
        os.sched_setaffinity(0, set(task["cpus"]))
    init = Timer()
    with init:
        module, _ = import_handler_module(task["environment"])
    rss_after_init = rss_mb()
    data = Path(task["image"]).read_bytes()
    image_format = identify(data)
    info = inspect_image(data, image_format)
    # The bare engine gets exactly the arguments the handler's DocumentRecognizer passes:
    # its scale, its language for an object without metadata, its preprocessing filters.
    scale = downscale(info.width, info.height, module.settings.max_image_side)
    language = engine_name(module.settings.language, module.engine.language_names)
    preprocessing = module.settings.preprocessing
    s3 = boto3.client("s3")  # AWS_ENDPOINT_URL points at the parent's local S3
    bucket = task["input_bucket"]
    keys: list[str] = []
    s3_requests = [0]  # what the handler's own client sends: each is a round trip to S3

    def count_request(**_: Any) -> None:
        s3_requests[0] += 1

    module.s3_client.meta.events.register("before-send.s3", count_request)

    def through_handler() -> dict[str, Any]:
        key = f"{task['run_id']}/{task['name']}/{len(keys)}.{task['extension']}"
        keys.append(key)
        put = s3.put_object(Bucket=bucket, Key=key, Body=data)
        event = s3_put_event([Upload(bucket, encode_key(key), len(data), put["ETag"].strip('"'))])
        requests_before = s3_requests[0]
        with Timer() as timer:
            result = invoke(module, event)
        if len(result["succeeded"]) != 1:
            raise RuntimeError(f"the handler did not succeed: {json.dumps(result)[:2000]}")
        # The pipeline's own measurement of the engine call inside this request.
        recognition_s = result["succeeded"][0]["recognition_seconds"]
        return {
            **timer.as_dict(),
            "recognition_s": recognition_s,
            "outside_engine_s": round(timer.wall_s - recognition_s, 4),
            "s3_requests": s3_requests[0] - requests_before,
        }

    def bare() -> tuple[dict[str, Any], str]:
        with Timer() as timer:
            recognition = module.engine.recognize(
                data, image_format, scale, language, preprocessing
            )
        return {**timer.as_dict(), "pages": recognition.page_count}, recognition.text

    first = through_handler()
    engine_calls: list[dict[str, Any]] = []
    handler_calls: list[dict[str, Any]] = []
    text = ""
    for _ in range(task["repeat"]):
        if task.get("bare", True):
            call, text = bare()
            engine_calls.append(call)
        handler_calls.append(through_handler())
    output = s3.get_object(Bucket=task["output_bucket"], Key=keys[-1] + ".txt")
    handler_text = output["Body"].read().decode("utf-8")
    return {
        "cpus": sorted(os.sched_getaffinity(0)),
        "init": init.as_dict(),
        "engine_steps_s": asdict(module.engine.timings),
        "scale": scale,
        "language": language,
        "preprocessing": asdict(preprocessing),
        "max_image_side": module.settings.max_image_side,
        "first_request": first,
        "engine": summarize(engine_calls),
        "handler": summarize(handler_calls),
        "rss_after_init_mb": round(rss_after_init, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "text": text or handler_text,
        "handler_text_matches_engine": (not text) or handler_text == text,
        "licensed": module.engine.licensed,
        "engine_version": module.engine.version,
    }


# --------------------------------------------------------------------------- tutorial code


def naive(task: Task) -> Result:
    """What a tutorial shows: a new AsposeOcr() for every image, the file path as input."""
    from ocr_service.native import prepare_runtime_environment  # noqa: PLC0415

    prepare_runtime_environment(Path(task["openssl_lib_dir"]))  # the platform's setup, untimed
    with Timer() as imported:
        from aspose import ocr  # noqa: PLC0415

    input_type = {"tiff": ocr.InputType.TIFF, "pdf": ocr.InputType.PDF}.get(
        task["format"], ocr.InputType.SINGLE_IMAGE
    )
    calls: list[dict[str, Any]] = []
    text = ""
    pages = 0
    for _ in range(1 + task["repeat"]):
        with Timer() as timer:
            api = ocr.AsposeOcr()
            ocr_input = ocr.OcrInput(input_type)
            ocr_input.add(task["image"])
            results = api.recognize(ocr_input, ocr.RecognitionSettings())
            text = "\f".join(str(page.recognition_text) for page in results)
        pages = len(results)
        calls.append(timer.as_dict())
    return {
        "pages": pages,
        "import": imported.as_dict(),
        "first": calls[0],
        "later": summarize(calls[1:]),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "text": text,
    }


# --------------------------------------------------------------------------- warm-up variants


def warm_up(task: Task) -> Result:
    """Start the engine without its own warm-up, run the variant's warm-up image (if any),
    then the first and later recognitions of the target page."""
    from ocr_service.config import load_settings  # noqa: PLC0415
    from ocr_service.engine import NO_PREPROCESSING, OcrEngine  # noqa: PLC0415
    from ocr_service.formats import identify  # noqa: PLC0415

    # The page is recognized as the function would (its preprocessing, e.g. deskew).
    production = load_settings(task["environment"]).preprocessing
    engine = OcrEngine.start(_engine_settings(task, warm_up=False))
    warm_up_call: dict[str, Any] | None = None
    if task.get("warm_up_image"):
        warm = Path(task["warm_up_image"]).read_bytes()
        filters = production if task.get("warm_up_preprocessing") else NO_PREPROCESSING
        with Timer() as timer:
            engine.recognize(warm, identify(warm), None, None, filters)
        warm_up_call = timer.as_dict()
    data = Path(task["image"]).read_bytes()
    image_format = identify(data)
    calls = []
    for _ in range(1 + task["repeat"]):
        with Timer() as timer:
            engine.recognize(data, image_format, None, None, production)
        calls.append(timer.as_dict())
    return {
        "preprocessing": asdict(production),
        "warm_up": warm_up_call,
        "first": calls[0],
        "later": summarize(calls[1:]),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


# --------------------------------------------------------------------------- engine options


def _aspose_input(ocr: Any, data: bytes, case: dict[str, Any], path: str) -> Any:
    """The engine's input for a case: its format, the scale, then its filters (by
    PreprocessingFilter's method names), in OcrEngine.recognize's order; the bytes as a
    stream, or with ``route: path`` the file's path (as tutorials do)."""
    input_type = {"tiff": ocr.InputType.TIFF, "pdf": ocr.InputType.PDF}.get(
        case["format"], ocr.InputType.SINGLE_IMAGE
    )
    filter_class = ocr.models.preprocessingfilters.PreprocessingFilter
    steps = [] if case.get("scale") is None else [filter_class.scale(case["scale"])]
    steps += [getattr(filter_class, name)() for name in case.get("filters", [])]
    if steps:
        filters = filter_class()
        for step in steps:
            filters.add(step)
        ocr_input = ocr.OcrInput(input_type, filters)
    else:
        ocr_input = ocr.OcrInput(input_type)
    if case.get("route") == "path":
        ocr_input.add(path)
    else:
        ocr_input.add(io.BytesIO(data))
    return ocr_input


def _recognizer(ocr: Any, api: Any, variant: dict[str, Any]) -> Callable[[Any], str]:
    """A function from an OcrInput to its text, under the variant's engine options."""
    if variant.get("fast"):
        return lambda ocr_input: "\f".join(str(page) for page in api.recognize_fast(ocr_input))
    settings = ocr.RecognitionSettings()
    if "threads_count" in variant:
        settings.threads_count = variant["threads_count"]
    if "detect_areas_mode" in variant:
        settings.detect_areas_mode = getattr(ocr.DetectAreasMode, variant["detect_areas_mode"])

    def recognize(ocr_input: Any) -> str:
        pages = api.recognize(ocr_input, settings)
        return "\f".join(str(page.recognition_text) for page in pages)

    return recognize


def options(task: Task) -> Result:
    """Each image under each engine option (and each scale), interleaved over repetitions so
    that a change in the machine's load spreads over all of them alike."""
    from ocr_service.engine import OcrEngine  # noqa: PLC0415

    if task.get("cpus"):
        os.sched_setaffinity(0, set(task["cpus"]))
    engine = OcrEngine.start(_engine_settings(task))
    from aspose import ocr  # noqa: PLC0415 - after the engine's runtime set-up

    api = ocr.AsposeOcr()
    paths: dict[str, str] = task["images"]
    images = {name: Path(path).read_bytes() for name, path in paths.items()}
    runs: dict[str, dict[str, Any]] = {}
    for case in task["cases"]:
        runs[case["id"]] = {**case, "calls": [], "text": "", "error": None}
    if task.get("settle"):  # one unmeasured run: the first big recognition of a process
        case = task["cases"][0]
        image = case["image"]
        _recognizer(ocr, api, case)(_aspose_input(ocr, images[image], case, paths[image]))
    for _ in range(task["repeat"]):
        for case in task["cases"]:
            run = runs[case["id"]]
            if run["error"]:
                continue
            recognize = _recognizer(ocr, api, case)
            image = case["image"]
            ocr_input = _aspose_input(ocr, images[image], case, paths[image])
            try:
                with Timer() as timer:
                    run["text"] = recognize(ocr_input)
            except RuntimeError as error:
                run["error"] = str(error).splitlines()[0][:300]
                continue
            run["calls"].append(timer.as_dict())
    for run in runs.values():
        run.update(summarize(run.pop("calls")))
        run["pages"] = run["text"].count("\f") + 1 if run["text"] else 0
    return {
        "engine_version": engine.version,
        "cpus": sorted(os.sched_getaffinity(0)),
        "runs": runs,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


TASKS: dict[str, Callable[[Task], Result]] = {
    "cold_start": cold_start,
    "image_class": image_class,
    "naive": naive,
    "warm_up": warm_up,
    "options": options,
}


def main(argv: list[str]) -> int:
    task_path, result_path = Path(argv[1]), Path(argv[2])
    task = json.loads(task_path.read_text())
    for path in (str(REPO_ROOT), str(FUNCTION_DIR)):
        if path not in sys.path:
            sys.path.insert(0, path)
    result = TASKS[task["kind"]](task)
    result_path.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
