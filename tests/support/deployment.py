"""What a deployment gives the function, for tests: buckets, the template's environment, the
engines' files (where `make setup` puts them) and the Powertools parent logger."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from tools.lambda_context import LocalLambdaContext
from tools.template_env import function_environment as template_environment

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
SAM_BUILD_TIMEOUT_S = 1800
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


def run_sam_build(
    build_dir: Path, *arguments: str, environment: Mapping[str, str] | None = None
) -> str:
    """`sam build` of template.yaml into `build_dir` with this venv's SAM CLI (telemetry off),
    `arguments` after it (a resource, --parameter-overrides ...); its output. Fails the test,
    with the output's end, when the build fails."""
    venv_bin = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "SAM_CLI_TELEMETRY": "0",
        **(environment or {}),
    }
    command = [str(venv_bin / "sam"), "build", *arguments, "--build-dir", str(build_dir)]
    command += ["--template-file", str(TEMPLATE)]
    started = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=SAM_BUILD_TIMEOUT_S,
        check=False,
    )
    output = done.stdout + done.stderr
    if done.returncode != 0:
        pytest.fail(
            f"sam build {' '.join(arguments)} failed ({done.returncode}):\n{output[-6000:]}"
        )
    print(f"\nsam build {' '.join(arguments)}: {time.perf_counter() - started:.1f} s")
    return output


def unavailable(what: str, reason: str) -> None:
    """Skip a test that cannot run here, or fail it under CI=true: CI must never be green
    without having run it."""
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"CI=true, and {what} cannot run: {reason}", pytrace=False)
    pytest.skip(reason)
