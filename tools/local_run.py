"""Run the real handler in this process, as Lambda would: import (Init), then invoke."""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from tools.lambda_context import LocalLambdaContext
from tools.template_env import function_property

FUNCTION_DIR = Path(__file__).resolve().parents[1] / "functions" / "ocr"


def import_handler_module(environment: Mapping[str, str]) -> tuple[ModuleType, float]:
    """Apply the function's environment and import app.py; return it and the Init seconds."""
    os.environ.update(environment)
    if str(FUNCTION_DIR) not in sys.path:
        sys.path.insert(0, str(FUNCTION_DIR))
    started = time.perf_counter()
    module = importlib.import_module("app")
    return module, time.perf_counter() - started


def invoke(module: ModuleType, event: Mapping[str, Any]) -> Any:
    """Call the handler once with a fresh context sized as template.yaml says."""
    context = LocalLambdaContext(
        memory_limit_in_mb=int(function_property("MemorySize")),
        timeout_seconds=int(function_property("Timeout")),
    )
    return module.lambda_handler(dict(event), context)


def print_result_text(s3: Any, bucket: str, key: str) -> None:
    """Print a result object's metadata and text the way a user wants to read them."""
    response = s3.get_object(Bucket=bucket, Key=key)
    print(f"--- s3://{bucket}/{key}  ({response['ContentType']})")
    for name, value in sorted(response["Metadata"].items()):
        print(f"    {name}: {value}")
    print(response["Body"].read().decode("utf-8"))
