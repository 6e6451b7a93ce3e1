"""Run the real handler in this process, as Lambda would: import (Init), then invoke."""

from __future__ import annotations

import functools
import importlib
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from tools.lambda_context import LocalLambdaContext
from tools.template_env import function_environment, function_property

REPO = Path(__file__).resolve().parents[1]
FUNCTION_DIR = REPO / "functions" / "ocr"
# Lambda's paths (/opt/...) replaced by this machine's: the caller's, else where `make setup`
# puts the engines' native libraries and data.
LOCAL_PATHS = {
    "OCR_OPENSSL_LIB_DIR": REPO / ".cache" / "openssl11" / "lib",
    "OCR_RESOURCES_DIR": REPO / ".cache" / "ocr-models",
    "OCR_TESSDATA_DIR": REPO / ".cache" / "tessdata",
}
LOCAL_OVERRIDES = ("OCR_LICENSE_PATH", "OUTPUT_BUCKET")


def local_environment(
    output_bucket: str, engine: str | None = None, queue_url: str = ""
) -> dict[str, str]:
    """template.yaml's environment for the engine (default: OCR_ENGINE, else the template's),
    with this machine's paths: what `make demo`, `make invoke`, `make up` and `make load` run
    the handler with. Without a queue, long documents are recognized in one go."""
    parameters = {"OcrEngine": engine} if engine else engine_parameters()
    resources = {"OutputBucket": output_bucket, "IngestQueue": queue_url}
    environment = function_environment(resources, parameters)
    for name, default in LOCAL_PATHS.items():
        environment[name] = os.environ.get(name) or str(default)
    environment.update({name: os.environ[name] for name in LOCAL_OVERRIDES if name in os.environ})
    environment["OUTPUT_BUCKET"] = output_bucket
    return environment


def engine_parameters(environment: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The template parameters a local run stands for: the engine its environment names, and
    for Tesseract the memory AWS_LAMBDA_FUNCTION_MEMORY_SIZE names, when set (TesseractMemorySize:
    the benchmark's --tesseract-memory)."""
    parameters = {"OcrEngine": environment.get("OCR_ENGINE", "") or "aspose"}
    memory = environment.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    if parameters["OcrEngine"] == "tesseract" and memory.isdigit():
        parameters["TesseractMemorySize"] = memory
    return parameters


def import_handler_module(environment: Mapping[str, str]) -> tuple[ModuleType, float]:
    """Apply the function's environment and import app.py; return it and the Init seconds.
    Lambda also tells the function its memory size, which sets the Tesseract engine's threads."""
    os.environ.update(environment)
    memory = function_property("MemorySize", parameters=engine_parameters(environment))
    os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(memory)
    if str(FUNCTION_DIR) not in sys.path:
        sys.path.insert(0, str(FUNCTION_DIR))
    started = time.perf_counter()
    module = importlib.import_module("app")
    return module, time.perf_counter() - started


def invoke(module: ModuleType, event: Mapping[str, Any]) -> Any:
    """Call the handler once with a fresh context sized as template.yaml says."""
    memory_mb, timeout_s = _limits(tuple(sorted(engine_parameters().items())))
    context = LocalLambdaContext(memory_limit_in_mb=memory_mb, timeout_seconds=timeout_s)
    return module.lambda_handler(dict(event), context)


@functools.cache
def _limits(parameters: tuple[tuple[str, str], ...]) -> tuple[int, int]:
    """The function's memory and timeout for these parameters, read from template.yaml once:
    parsing it takes about 0.05 s (twice per call before), which the benchmark timed as the
    handler's."""
    resolved = dict(parameters)
    return (
        int(function_property("MemorySize", parameters=resolved)),
        int(function_property("Timeout", parameters=resolved)),
    )


def print_result_text(s3: Any, bucket: str, key: str) -> None:
    """Print a result object's metadata and text the way a user wants to read them."""
    response = s3.get_object(Bucket=bucket, Key=key)
    print(f"--- s3://{bucket}/{key}  ({response['ContentType']})")
    for name, value in sorted(response["Metadata"].items()):
        print(f"    {name}: {value}")
    print(response["Body"].read().decode("utf-8"))
