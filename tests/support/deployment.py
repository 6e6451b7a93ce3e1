"""What a deployment gives the function, for tests: buckets, the template's environment, the
engines' files (where `make setup` puts them) and the Powertools parent logger."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from tools.lambda_context import LocalLambdaContext
from tools.template_env import function_environment as template_environment

REPO = Path(__file__).resolve().parents[2]
INPUT_BUCKET = "test-input"
OUTPUT_BUCKET = "test-output"

# The modules log through Powertools child loggers; in Lambda app.py creates their parent.
PARENT_LOGGER = Logger()


def openssl_dir() -> str:
    """Where `make setup` puts OpenSSL 1.1 for the engine (the Makefile exports it)."""
    return os.environ.get("OCR_OPENSSL_LIB_DIR", str(REPO / ".cache/openssl11/lib"))


def tessdata_dir() -> str:
    """Where `make setup` puts Tesseract's language data (the Makefile exports it)."""
    return os.environ.get("OCR_TESSDATA_DIR", str(REPO / ".cache/tessdata"))


def set_function_environment(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The function's environment from template.yaml, as Lambda sets it (with our output
    bucket), set in this process until the test ends; returned too."""
    environment = template_environment({"OutputBucket": OUTPUT_BUCKET})
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


def lambda_context(**attributes: Any) -> LambdaContext:
    """tools/lambda_context.py's context as the handlers' type: it has every attribute and
    method they and Powertools use, without being Powertools' own class."""
    return cast("LambdaContext", LocalLambdaContext(**attributes))
