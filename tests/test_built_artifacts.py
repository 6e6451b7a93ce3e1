"""The `sam build` output, run the way Lambda runs it: S3 put event in, UTF-8 .txt out.

One `sam build` per session; then tests/sandbox/lambda_sandbox.py runs the built function (at
/var/task) and layer (at /opt), read-only, with the runtime's Python (python3.12, from the
template), Lambda's sys.path and environment only, an unprivileged user, a fresh /tmp, and no
network but a local S3 (moto) in its own network namespace. See that module for the details.

Needs root (namespaces, mounts, chroot): elsewhere these tests skip, except with CI=true, where
they fail rather than pass without having run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from ocr_service.aspose_engine import TRIAL_WARNING
from ocr_service.storage import TEXT_CONTENT_TYPE
from tests.sandbox.lambda_sandbox import (
    FunctionConfig,
    SandboxError,
    find_runtime_python,
    prepare_runtime_dir,
    sandbox_unavailable_reason,
)
from tools.samples import DEMO_WORDS, render_lines
from tools.template_env import function_runtime

pytestmark = pytest.mark.built

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "template.yaml"
FUNCTION = "OcrFunction"
LAYER = "AsposeOcrLayer"
# A space, a literal plus sign and non-ASCII letters: S3 form-encodes all three in events.
KEY = "scans/счёт 7 + notes.png"
SAM_BUILD_TIMEOUT_S = 1800
SANDBOX_TIMEOUT_S = 900


def _unavailable(reason: str) -> None:
    """Skip, or fail under CI=true: CI must never be green without having run these tests."""
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"CI=true, and the Lambda sandbox cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def sandbox_available() -> None:
    """Root, unshare and the runtime's interpreter are there (checked before the slow build)."""
    reason = sandbox_unavailable_reason()
    if reason is None:
        try:
            find_runtime_python(function_runtime(FUNCTION))
        except SandboxError as error:
            reason = str(error)
    if reason is not None:
        _unavailable(reason)


@pytest.fixture(scope="session")
def sam_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sam build` of template.yaml into a fresh directory; its path."""
    build_dir = tmp_path_factory.mktemp("sam-build") / "build"
    venv_bin = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "SAM_CLI_TELEMETRY": "0",
    }
    command = [str(venv_bin / "sam"), "build", "--build-dir", str(build_dir)]
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
    if done.returncode != 0:
        pytest.fail(f"sam build failed ({done.returncode}):\n{(done.stdout + done.stderr)[-6000:]}")
    print(f"\nsam build: {time.perf_counter() - started:.1f} s")
    return build_dir


@pytest.fixture(scope="session")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """boto3 and botocore (this environment's versions), as Lambda's /var/runtime has them."""
    return prepare_runtime_dir(tmp_path_factory.mktemp("lambda-runtime"))


@pytest.fixture(scope="session")
def sandbox_report(
    sandbox_available: None,
    sam_build: Path,
    runtime_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """One cold start and one invocation of the built function on an uploaded PNG."""
    image = tmp_path_factory.mktemp("sandbox-input") / "page.png"
    image.write_bytes(render_lines())
    command = [
        sys.executable, "-m", "tests.sandbox.lambda_sandbox",
        "--function-dir", str(sam_build / FUNCTION),
        "--layer-dir", str(sam_build / LAYER),
        "--runtime-dir", str(runtime_dir),
        "--image", str(image),
        "--key", KEY,
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=SANDBOX_TIMEOUT_S, check=False
    )
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        pytest.fail(
            f"the sandbox printed no report (exit {done.returncode}):\n"
            f"stdout: {done.stdout[-3000:]}\nstderr: {done.stderr[-3000:]}"
        )
    if "sandbox_error" in report:  # root and unshare are there (checked above): a real failure
        pytest.fail(f"the sandbox could not be set up: {report['sandbox_error']}")
    startup = (report["lambda_process"].get("engine_started_log") or {}).get("startup_seconds")
    print(
        f"\nsandbox: Init {report['init_seconds']} s (engine: {startup}), "
        f"Invoke {report['invoke_seconds']} s, process {report['lambda_process']['wall_seconds']} s"
    )
    return report


def describe(report: dict[str, Any]) -> str:
    """What to look at when an assertion fails: the error and the process's output tails."""
    process = report["lambda_process"]
    return (
        f"exit code {process['exit_code']} (timed out: {process['timed_out']}), "
        f"error: {report['error']}\n--- stdout\n{process['stdout_tail']}\n"
        f"--- stderr\n{process['stderr_tail']}"
    )


def test_put_event_becomes_text_in_output_bucket(sandbox_report: dict[str, Any]) -> None:
    report = sandbox_report
    assert report["lambda_process"]["exit_code"] == 0, describe(report)
    assert report["error"] is None, describe(report)
    result = report["result"]
    assert result["failed"] == [], describe(report)
    [succeeded] = result["succeeded"]
    assert (succeeded["key"], succeeded["output_key"]) == (KEY, KEY + ".txt")

    outputs = {output["key"]: output for output in report["outputs"]}
    assert list(outputs) == [KEY + ".txt"]
    output = outputs[KEY + ".txt"]
    assert output["content_type"] == TEXT_CONTENT_TYPE == "text/plain; charset=utf-8"
    metadata = output["metadata"]
    engine_log = report["lambda_process"]["engine_started_log"]
    assert engine_log is not None, describe(report)
    assert metadata["source-bucket"] == report["input"]["bucket"]
    assert metadata["source-key"] == quote(KEY, safe="/")
    assert metadata["source-key"].isascii()
    assert metadata["engine-licensed"] == "false"  # no license in this repository
    assert re.fullmatch(r"\d+(\.\d+)+", metadata["engine-version"])
    assert metadata["engine-version"] == engine_log["engine_version"]

    text = output["body"]
    missing = [word for word in DEMO_WORDS if word not in text]
    assert missing == [], f"words {missing} not in {text!r}"
    assert TRIAL_WARNING in text  # trial mode says so in the text itself


def test_runs_the_artifacts_as_lambdas_python_runtime(sandbox_report: dict[str, Any]) -> None:
    runtime = sandbox_report["runtime"]
    assert runtime is not None, describe(sandbox_report)
    python = runtime["python"]
    assert python["version"].startswith(function_runtime(FUNCTION).removeprefix("python") + ".")
    assert python["sys_path"][:4] == [
        "/var/task",
        "/opt/python/lib/python3.12/site-packages",
        "/opt/python",
        "/var/runtime",
    ]
    assert all(p.startswith(("/var/", "/opt/")) for p in python["sys_path"])
    assert not python["site_imported"]
    assert runtime["process"] == {"uid": 993, "gid": 990, "cwd": "/var/task"}
    # Each piece from where Lambda has it: function, runtime, layer; OpenSSL 1.1 from the layer.
    modules = runtime["modules"]
    assert modules["app"] == "/var/task/app.py", describe(sandbox_report)
    assert modules["aws_lambda_powertools"].startswith("/var/task/")
    assert modules["boto3"].startswith("/var/runtime/")
    assert modules["aspose.ocr"].startswith("/opt/python/aspose/")
    libssl_1_1 = [lib for lib in runtime["openssl_libraries"] if lib.endswith(".so.1.1")]
    assert libssl_1_1 == ["/opt/lib/libssl.so.1.1", "/opt/lib/libcrypto.so.1.1"]
    config = FunctionConfig.from_template(FUNCTION, sandbox_report["output_bucket"])
    assert sandbox_report["function"]["environment"] == config.environment


def test_writes_nothing_outside_tmp_and_has_no_home(sandbox_report: dict[str, Any]) -> None:
    runtime = sandbox_report["runtime"]
    # Only a completed Init and Invoke make the checks below mean anything.
    assert runtime is not None and runtime["invoke_seconds"] is not None, describe(sandbox_report)
    filesystem = sandbox_report["filesystem"]
    assert filesystem["created_outside_tmp"] == []
    assert filesystem["changed_outside_tmp"] == []
    attempts = filesystem["write_attempts"]
    if attempts is not None:  # traced with strace: the .NET runtime's attempts too
        assert attempts["outside_tmp_succeeded"] == []
        # Python's bytecode cache is the only thing tried (and refused: /var/task and /opt are
        # read-only, as in Lambda). Anything else would fail in Lambda, or hide a real error.
        unexpected = [a for a in attempts["outside_tmp"] if "/__pycache__" not in a["path"]]
        assert unexpected == [], unexpected
    # Exactly Lambda's environment (plus LC_CTYPE: CPython's own locale coercion), no HOME.
    given = set(sandbox_report["sandbox"]["environment"])
    assert "HOME" not in given
    assert set(runtime["environment_at_start"]) - given <= {"LC_CTYPE"}
    assert runtime["home"] is None
    assert "OCR_OPENSSL_LIB_DIR" not in given  # OpenSSL 1.1 must come from the layer's lib/


def test_function_and_layer_fit_lambdas_size_limit(sam_build: Path) -> None:
    from tools.check_sizes import LAMBDA_UNZIPPED_LIMIT, check, format_report, main

    result = check(sam_build / FUNCTION, [sam_build / LAYER], zipped=False)
    assert LAMBDA_UNZIPPED_LIMIT == 262_144_000
    assert result.ok, format_report(result)
    assert result.total.unzipped < LAMBDA_UNZIPPED_LIMIT
    assert result.function[1].files > 0 and result.layers[0][1].files > 0
    assert main([str(sam_build), "--no-zip"]) == 0
