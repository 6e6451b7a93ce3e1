"""The arm64 (Graviton) deployment, built and run on this x86_64 machine under emulation.

`sam build OcrFunction --parameter-overrides OcrEngine=tesseract Architecture=arm64` with
LAMBDA_ARCHITECTURE=arm64, as `make build ARCH=arm64` runs it (its TesseractLayer build runs its
own self-test under emulation), then ONE S3 put event, delivered in an SQS message as the stack
delivers it, through the built function with its built layer: Debian's python3.13 for arm64
(layers/common/arm64_sysroot.py) runs tests/e2e/sandbox/bootstrap.py under qemu-aarch64-static,
in a root where /opt is the layer, /var/task the function, /var/runtime boto3 and /usr the
sysroot's (qemu's ``-L``: those paths resolve there first, every other path is the host's), with
Lambda's environment resolved from template.yaml for these parameters, against a local moto S3.

Not the x86_64 sandbox (no namespaces, no read-only mounts: the layer and function are checked
unchanged afterwards instead), and 30 to 40 times slower than native: a check that the arm64
artifacts work, never of their speed. One small image. Skips when qemu-user-static is missing
(`make emulator` installs it), except with CI=true, where it fails rather than pass unrun.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ocr_service.aws.storage import TEXT_CONTENT_TYPE
from tests.e2e.sandbox.lambda_sandbox import (
    BOOTSTRAP,
    INPUT_BUCKET,
    OUTPUT_BUCKET,
    REGION,
    FunctionConfig,
    lambda_environment,
    local_client,
    local_s3,
    prepare_runtime_dir,
    read_bucket,
    stand_ins,
    structured_logs,
)
from tests.support.deployment import run_sam_build, unavailable
from tests.support.layers import layer_script
from tools.check_sizes import check_architecture
from tools.samples import render_lines
from tools.template_env import function_property

PARAMETERS = {"OcrEngine": "tesseract", "Architecture": "arm64"}
FUNCTION = "OcrFunction"
LAYER = "TesseractLayer"
KEY = "graviton/счёт 1.png"
LINES = ("Graviton invoice 42", "Total due 17 EUR")
#: Emulation is 30 to 40 times slower: the handler's deadline (the template's 300 s) is stretched so
#: that its time checks judge the work, not the emulator.
EMULATION_FACTOR = 10
PROCESS_TIMEOUT_S = 1500


arm64_sysroot: ModuleType = layer_script("common", "arm64_sysroot")


def _unavailable(reason: str) -> None:
    unavailable("the arm64 deployment", reason)


@pytest.fixture(scope="module")
def sysroot() -> Path:
    reason = arm64_sysroot.unavailable_reason()
    if reason is not None:
        _unavailable(reason)
    try:
        root: Path = arm64_sysroot.assemble()
    except arm64_sysroot.SysrootError as error:
        _unavailable(f"the arm64 sysroot cannot be assembled: {error}")
    return root


@pytest.fixture(scope="module")
def arm64_build(sysroot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make build ARCH=arm64`'s sam build, into a fresh directory."""
    build_dir = tmp_path_factory.mktemp("sam-build-arm64") / "build"
    overrides = [f"{name}={value}" for name, value in PARAMETERS.items()]
    output = run_sam_build(
        build_dir,
        FUNCTION,
        "--parameter-overrides",
        *overrides,
        environment={"LAMBDA_ARCHITECTURE": "arm64"},
    )
    selftest = [line for line in output.splitlines() if "self-test passed" in line]
    # SAM's cache may reuse a layer built (and self-tested) before: then there is no line.
    print("\n".join(selftest) or "TesseractLayer from SAM's build cache")
    return build_dir


def lambda_root(base: Path, sysroot: Path, build: Path, runtime: Path) -> Path:
    """The root qemu's -L looks in first: the sysroot's /usr, and Lambda's paths."""
    root = base / "root"
    links = {
        "usr": sysroot / "usr",
        "lib": Path("usr/lib"),
        "opt": build / LAYER,
        "var/task": build / FUNCTION,
        "var/runtime": runtime,
        "var/rapid/bootstrap.py": BOOTSTRAP,
    }
    for name, target in links.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).symlink_to(target)
    return root


def snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    return {
        path.relative_to(directory).as_posix(): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def arm64_report(
    sysroot: Path, arm64_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """One cold start and one invocation of the arm64 function on one uploaded PNG."""
    work = tmp_path_factory.mktemp("arm64-run")
    runtime = prepare_runtime_dir(work / "runtime")
    root = lambda_root(work, sysroot, arm64_build, runtime)
    before = {name: snapshot(arm64_build / name) for name in (FUNCTION, LAYER)}
    image = render_lines(LINES, width=640, font_size=32)
    from tools.events import Upload, encode_key, s3_put_event, sqs_event

    with local_s3() as (endpoint, s3):
        for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
            s3.create_bucket(Bucket=bucket)
        resources, _ = stand_ins(FUNCTION, s3, local_client("sqs", endpoint))
        config = FunctionConfig.from_template(FUNCTION, OUTPUT_BUCKET, PARAMETERS, resources)
        put = s3.put_object(Bucket=INPUT_BUCKET, Key=KEY, Body=image)
        upload = Upload(INPUT_BUCKET, encode_key(KEY), len(image), put["ETag"].strip('"'))
        event = sqs_event([json.dumps(s3_put_event([upload], region=REGION))])
        environment = lambda_environment(config, endpoint)
        report_path = work / "bootstrap-report.json"
        with report_path.open("w+", encoding="utf-8") as report_file:
            command = [
                *arm64_sysroot.python_command(root),
                "-S", "/var/rapid/bootstrap.py",
                "--timeout", str(config.timeout_s * EMULATION_FACTOR),
                "--report-fd", str(report_file.fileno()),
            ]  # fmt: skip
            # qemu's -L is the root: the guest's /opt, /var/task, /usr... are its links.
            started = time.perf_counter()
            done = subprocess.run(
                command,
                input=(json.dumps(event) + "\n").encode(),
                capture_output=True,
                env=environment,
                cwd=arm64_build / FUNCTION,
                pass_fds=(report_file.fileno(),),
                timeout=PROCESS_TIMEOUT_S,
                check=False,
            )
            wall = time.perf_counter() - started
            report_file.seek(0)
            raw = report_file.read()
        outputs = read_bucket(s3, OUTPUT_BUCKET)
    stdout = done.stdout.decode("utf-8", "replace")
    runtime_report = json.loads(raw) if raw.strip() else None
    print(
        f"\narm64 (emulated): process {wall:.1f} s, Init "
        f"{runtime_report and runtime_report.get('init_seconds')} s, Invoke "
        f"{runtime_report and runtime_report.get('invoke_seconds')} s"
    )
    return {
        "config": config,
        "exit_code": done.returncode,
        "stdout": stdout,
        "stderr": done.stderr.decode("utf-8", "replace"),
        "runtime": runtime_report,
        "outputs": outputs,
        "logs": structured_logs(stdout),
        "unchanged": all(snapshot(arm64_build / name) == files for name, files in before.items()),
        "build": arm64_build,
    }


def describe(report: dict[str, Any]) -> str:
    return (
        f"exit code {report['exit_code']}\n--- stdout\n{report['stdout'][-4000:]}\n"
        f"--- stderr\n{report['stderr'][-4000:]}"
    )


def test_the_template_gives_arm64_python313_and_the_tesseract_layer() -> None:
    assert function_property("Runtime", FUNCTION, PARAMETERS) == "python3.13"
    assert function_property("Layers", FUNCTION, PARAMETERS) == [{"Ref": LAYER}]


def test_the_arm64_build_holds_aarch64_code_only_and_no_aspose_layer(arm64_build: Path) -> None:
    assert check_architecture([arm64_build / FUNCTION, arm64_build / LAYER], "arm64") is None
    assert list((arm64_build / LAYER / "python/tesserocr").glob("*.cpython-313-aarch64-*.so"))
    assert not (arm64_build / "AsposeOcrLayer").exists()


def test_an_upload_becomes_exact_text_on_emulated_graviton(arm64_report: dict[str, Any]) -> None:
    report = arm64_report
    assert report["exit_code"] == 0, describe(report)
    runtime = report["runtime"]
    assert runtime is not None and runtime["error"] is None, describe(report)
    assert runtime["invocations"][0]["result"] == {"batchItemFailures": []}, describe(report)
    # The layer's and the function's arm64 code, on Lambda's paths, in the runtime's python.
    modules = runtime["modules"]
    assert modules["tesserocr"].startswith("/opt/python/tesserocr/")
    assert modules["app"] == "/var/task/app.py"
    assert report["config"].runtime == "python3.13"

    outputs = {output["key"]: output for output in report["outputs"]}
    assert KEY + ".txt" in outputs, sorted(outputs)
    output = outputs[KEY + ".txt"]
    assert output["content_type"] == TEXT_CONTENT_TYPE
    assert output["metadata"]["ocr-engine"] == "tesseract"
    lines = [" ".join(line.split()) for line in output["body"].splitlines() if line.strip()]
    assert lines == list(LINES), output["body"]


def test_the_run_left_the_function_and_layer_unchanged(arm64_report: dict[str, Any]) -> None:
    assert arm64_report["unchanged"]
