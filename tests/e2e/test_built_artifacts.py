"""The `sam build` output, run the way Lambda runs it: S3 put event in, UTF-8 .txt out.

One `sam build` per session, shared by both engines' deployments. For each engine
(template parameter OcrEngine), tests/e2e/sandbox/lambda_sandbox.py runs the built function (at
/var/task) with ONLY the layer template.yaml attaches for that engine (at /opt), read-only, with
the runtime's Python (python3.12, from the template), Lambda's sys.path and environment only
(the function's memory, timeout and variables resolved from template.yaml for that engine), an
unprivileged user, a fresh /tmp, and no network but a local S3 (moto) in its own network
namespace. See that module for the details.

- Aspose (the default): one cold start and two invocations: a page (trial mode, so only the
  words it reliably keeps are checked), and a born-digital PDF, read from its text layer
  exactly (no engine, so no trial cut).
- Tesseract: one cold start and four invocations in the same process (a cold one, then warm
  ones), each from its own S3 put event: a Latin page, a Russian+English page whose object
  asks for `ru+en` in its metadata, an iPhone's HEIC photo of a page, and the born-digital
  PDF. No trial mode here: every text must be exact.

Needs root (namespaces, mounts, chroot): elsewhere these tests skip, except with CI=true, where
they fail rather than pass without having run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from ocr_service.aws.storage import TEXT_CONTENT_TYPE
from tests.e2e.sandbox.lambda_sandbox import (
    FunctionConfig,
    SandboxError,
    UploadSpec,
    find_runtime_python,
    prepare_runtime_dir,
    sandbox_unavailable_reason,
)
from tests.support.deployment import REPO, TEMPLATE, run_sam_build, unavailable
from tests.support.samples import DEMO_WORDS
from tools.pdf_samples import born_digital_pdf
from tools.samples import DEMO_LINES, render_lines
from tools.template_env import function_property, function_runtime, load_template

FUNCTION = "OcrFunction"
ENGINES = ("aspose", "tesseract")
# A space, a literal plus sign and non-ASCII letters: S3 form-encodes all three in events.
KEY = "scans/счёт 7 + notes.png"
# Russian and English on one page, for an object that asks for ru+en in its metadata.
MIXED_LINES = (
    "Съешь же ещё этих мягких",
    "французских булок",
    "да выпей чаю",
    "Thank you for reading this",
)
MIXED_KEY = "letters/письмо ru+en.png"
MIXED_METADATA = {"ocr-language": "ru+en"}  # x-amz-meta-ocr-language
PDF_KEY = "reports/born digital.pdf"
HEIC_KEY = "photos/IMG_0001.HEIC"  # an iPhone's photo of a page


def heic_of(png: bytes) -> bytes:
    import io

    from PIL import Image
    from pillow_heif import register_heif_opener

    register_heif_opener()
    buffer = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(buffer, "HEIF", quality=90)
    return buffer.getvalue()


PDF_PAGES = (
    ("Quarterly report for Acme", "Revenue grew by 12 percent", "Grüße aus Köln, привет"),
    ("Second page", "the end"),
)
PDF_TEXT = "\f".join("\n".join(lines) for lines in PDF_PAGES)
SANDBOX_TIMEOUT_S = 900


def parameters_for(engine: str) -> dict[str, str]:
    """The template parameters of a deployment of ``engine``."""
    return {"OcrEngine": engine}


def attached_layers(engine: str) -> list[str]:
    """The logical ids of the layers template.yaml attaches to the function for ``engine``."""
    layers = function_property("Layers", FUNCTION, parameters_for(engine))
    return [layer["Ref"] for layer in layers]


def words(lines: Sequence[str]) -> list[str]:
    return " ".join(lines).split()


def _unavailable(reason: str) -> None:
    unavailable("the Lambda sandbox", reason)


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
    """`sam build` of template.yaml into a fresh directory (both engines' layers); its path."""
    build_dir = tmp_path_factory.mktemp("sam-build") / "build"
    run_sam_build(build_dir)
    return build_dir


@pytest.fixture(scope="session")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """boto3 and botocore (this environment's versions), as Lambda's /var/runtime has them."""
    return prepare_runtime_dir(tmp_path_factory.mktemp("lambda-runtime"))


def run_deployment(
    engine: str,
    uploads: Sequence[UploadSpec],
    *,
    build_dir: Path,
    runtime_dir: Path,
    probes: Sequence[str] = (),
) -> dict[str, Any]:
    """Run the built function with the layer the template attaches for ``engine``, the
    template resolved for that engine; one invocation per upload, all in one process."""
    [layer] = attached_layers(engine)  # the sandbox mounts exactly one layer at /opt
    command = [
        sys.executable, "-m", "tests.e2e.sandbox.lambda_sandbox",
        "--function-dir", str(build_dir / FUNCTION),
        "--layer-dir", str(build_dir / layer),
        "--runtime-dir", str(runtime_dir),
    ]  # fmt: skip
    for name, value in parameters_for(engine).items():
        command += ["--parameter", f"{name}={value}"]
    for upload in uploads:
        command += ["--upload", upload.to_json()]
    for module in probes:
        command += ["--probe-import", module]
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=SANDBOX_TIMEOUT_S, check=False
    )
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        pytest.fail(
            f"the {engine} sandbox printed no report (exit {done.returncode}):\n"
            f"stdout: {done.stdout[-3000:]}\nstderr: {done.stderr[-3000:]}"
        )
    if "sandbox_error" in report:  # root and unshare are there (checked above): a real failure
        pytest.fail(f"the {engine} sandbox could not be set up: {report['sandbox_error']}")
    startup = (report["lambda_process"].get("engine_started_log") or {}).get("startup_seconds")
    invokes = ", ".join(f"{i['invoke_seconds']:.2f}" for i in report["invocations"])
    print(
        f"\n{engine} sandbox: Init {report['init_seconds']} s (engine: {startup}), "
        f"Invoke {invokes} s, process {report['lambda_process']['wall_seconds']} s"
    )
    return report


@pytest.fixture(scope="session")
def aspose_report(
    sandbox_available: None,
    sam_build: Path,
    runtime_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """The Aspose deployment: one cold start and one invocation on an uploaded PNG."""
    inputs = tmp_path_factory.mktemp("aspose-input")
    image, pdf = inputs / "page.png", inputs / "born.pdf"
    image.write_bytes(render_lines())
    pdf.write_bytes(born_digital_pdf(PDF_PAGES))
    return run_deployment(
        "aspose",
        [UploadSpec(KEY, image), UploadSpec(PDF_KEY, pdf)],
        build_dir=sam_build,
        runtime_dir=runtime_dir,
        probes=["tesserocr"],
    )


@pytest.fixture(scope="session")
def tesseract_report(
    sandbox_available: None,
    sam_build: Path,
    runtime_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """The Tesseract deployment: one cold start, then an invocation per uploaded PNG (a Latin
    page; a Russian+English page with x-amz-meta-ocr-language: ru+en)."""
    inputs = tmp_path_factory.mktemp("tesseract-input")
    latin, mixed, pdf = inputs / "latin.png", inputs / "mixed.png", inputs / "born.pdf"
    heic = inputs / "photo.heic"
    heic.write_bytes(heic_of(render_lines(DEMO_LINES)))
    latin.write_bytes(render_lines(DEMO_LINES))
    mixed.write_bytes(render_lines(MIXED_LINES, width=1100, font_size=36))
    pdf.write_bytes(born_digital_pdf(PDF_PAGES))
    return run_deployment(
        "tesseract",
        [
            UploadSpec(KEY, latin),
            UploadSpec(MIXED_KEY, mixed, MIXED_METADATA),
            UploadSpec(HEIC_KEY, heic),
            UploadSpec(PDF_KEY, pdf),
        ],
        build_dir=sam_build,
        runtime_dir=runtime_dir,
        probes=["aspose", "tesserocr"],
    )


@pytest.fixture(scope="session", params=ENGINES)
def deployment_report(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Each engine's deployment in turn (for the checks both must pass): engine, report."""
    engine: str = request.param
    return engine, request.getfixturevalue(f"{engine}_report")


def describe(report: dict[str, Any]) -> str:
    """What to look at when an assertion fails: the error and the process's output tails."""
    process = report["lambda_process"]
    return (
        f"exit code {process['exit_code']} (timed out: {process['timed_out']}), "
        f"error: {report['error']}\n--- stdout\n{process['stdout_tail']}\n"
        f"--- stderr\n{process['stderr_tail']}"
    )


def output_for(report: dict[str, Any], invocation: int, key: str) -> dict[str, Any]:
    """The .txt that invocation ``invocation`` (0: the cold one) wrote for ``key``."""
    assert report["lambda_process"]["exit_code"] == 0, describe(report)
    assert report["error"] is None, describe(report)
    # The SQS batch the stack delivers: no message to retry.
    assert report["invocations"][invocation]["result"] == {"batchItemFailures": []}
    outputs = {output["key"]: output for output in report["outputs"]}
    assert key + ".txt" in outputs, sorted(outputs)
    output: dict[str, Any] = outputs[key + ".txt"]
    assert output["content_type"] == TEXT_CONTENT_TYPE == "text/plain; charset=utf-8"
    metadata = output["metadata"]
    assert metadata["source-bucket"] == report["input"]["bucket"]
    assert metadata["source-key"] == quote(key, safe="/")
    assert metadata["source-key"].isascii()
    return output


# --- Aspose (the default deployment) -------------------------------------------------------------


def test_put_event_becomes_text_in_output_bucket(aspose_report: dict[str, Any]) -> None:
    report = aspose_report
    assert len(report["invocations"]) == 2, describe(report)
    output = output_for(report, 0, KEY)
    assert sorted(o["key"] for o in report["outputs"]) == sorted([KEY + ".txt", PDF_KEY + ".txt"])
    metadata = output["metadata"]
    engine_log = report["lambda_process"]["engine_started_log"]
    assert engine_log is not None, describe(report)
    assert metadata["ocr-engine"] == "aspose"
    assert metadata["engine-licensed"] == "false"  # no license in this repository
    assert re.fullmatch(r"\d+(\.\d+)+", metadata["engine-version"])
    assert metadata["engine-version"] == engine_log["engine_version"]

    text = output["body"]
    missing = [word for word in DEMO_WORDS if word not in text]
    assert missing == [], f"words {missing} not in {text!r}"
    assert len(text) <= 300  # trial mode: the metadata says engine-licensed false


def test_aspose_deployment_runs_the_aspose_layer_only(aspose_report: dict[str, Any]) -> None:
    runtime = aspose_report["runtime"]
    assert runtime is not None, describe(aspose_report)
    modules = runtime["modules"]
    assert modules["aspose.ocr"].startswith("/opt/python/aspose/")
    libssl_1_1 = [lib for lib in runtime["openssl_libraries"] if lib.endswith(".so.1.1")]
    assert libssl_1_1 == ["/opt/lib/libssl.so.1.1", "/opt/lib/libcrypto.so.1.1"]
    # The Tesseract layer is built too, but not attached: its engine is not there.
    assert modules["tesserocr"] is None
    assert runtime["probes"]["tesserocr"]["error"].startswith("ModuleNotFoundError")
    assert "tessdata" not in runtime["opt"]["/opt"]


def test_each_deployment_reads_a_born_digital_pdf_exactly(
    deployment_report: tuple[str, dict[str, Any]],
) -> None:
    """Its text layer, read with the function's own PDFium: exact in both deployments, with
    no engine call (so no trial cut with Aspose)."""
    engine, report = deployment_report
    invocation = len(report["invocations"]) - 1  # the PDF is each deployment's last upload
    output = output_for(report, invocation, PDF_KEY)
    assert output["body"] == PDF_TEXT
    metadata = output["metadata"]
    assert (metadata["page-count"], metadata["text-layer-pages"], metadata["ocr-pages"]) == (
        "2",
        "2",
        "0",
    )
    assert metadata["ocr-engine"] == engine


# --- Tesseract (OcrEngine=tesseract) -------------------------------------------------------------


def test_tesseract_put_event_becomes_the_exact_text(tesseract_report: dict[str, Any]) -> None:
    report = tesseract_report
    assert [i["error"] for i in report["invocations"]] == [None] * 4, describe(report)
    assert sorted(o["key"] for o in report["outputs"]) == sorted(
        [KEY + ".txt", MIXED_KEY + ".txt", HEIC_KEY + ".txt", PDF_KEY + ".txt"]
    )
    output = output_for(report, 0, KEY)
    # No trial mode: every word of every line, in order.
    assert output["body"].split() == words(DEMO_LINES), output["body"]
    metadata = output["metadata"]
    engine_log = report["lambda_process"]["engine_started_log"]
    assert engine_log is not None, describe(report)
    assert engine_log["ocr_engine"] == "tesseract"
    assert metadata["ocr-engine"] == "tesseract"
    assert metadata["engine-version"].startswith("5.5.")
    assert metadata["engine-version"] == engine_log["engine_version"]
    assert metadata["engine-licensed"] == "true"  # nothing to license
    assert metadata["ocr-language"] == "eng"  # the template's default (latin), for Tesseract
    assert metadata["page-count"] == "1"


def test_tesseract_reads_russian_and_english_when_the_object_asks_for_ru_plus_en(
    tesseract_report: dict[str, Any],
) -> None:
    report = tesseract_report
    [mixed_input] = [i for i in report["inputs"] if i["key"] == MIXED_KEY]
    assert mixed_input["metadata"] == {"ocr-language": "ru+en"}  # the object's own metadata
    output = output_for(report, 1, MIXED_KEY)  # the second, warm invocation
    assert output["body"].split() == words(MIXED_LINES), output["body"]
    metadata = output["metadata"]
    assert metadata["ocr-language"] == "rus+eng"  # Tesseract's name for what it asked
    assert metadata["ocr-engine"] == "tesseract"
    assert metadata["engine-version"].startswith("5.5.")


def test_tesseract_reads_an_iphone_heic_photo_exactly(tesseract_report: dict[str, Any]) -> None:
    output = output_for(tesseract_report, 2, HEIC_KEY)  # the third, warm invocation
    assert output["body"].split() == words(DEMO_LINES), output["body"]


def test_tesseract_deployment_is_configured_from_the_template(
    tesseract_report: dict[str, Any], sam_build: Path
) -> None:
    report = tesseract_report
    template = load_template(TEMPLATE)["Resources"][FUNCTION]["Properties"]
    # The !If's Tesseract branches, whatever their values become (memory: a parameter's default).
    assert template["MemorySize"]["Fn::If"][0] == template["Timeout"]["Fn::If"][0] == "UseTesseract"
    memory = int(function_property("MemorySize", parameters={"OcrEngine": "tesseract"}))
    timeout = int(function_property("Timeout", parameters={"OcrEngine": "tesseract"}))
    function = report["function"]
    assert function["parameters"] == {"OcrEngine": "tesseract"}
    assert (function["memory_mb"], function["timeout_s"]) == (memory, timeout) == (1769, 300)
    environment = report["sandbox"]["environment"]
    assert environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == str(memory)
    assert environment["OCR_ENGINE"] == "tesseract"
    assert environment["OCR_TESSDATA_DIR"] == "/opt/tessdata"
    command = report["lambda_process"]["command"]
    assert command[command.index("--timeout") + 1] == str(timeout)
    # Only the Tesseract layer's build output, read-only, at /opt.
    assert attached_layers("tesseract") == ["TesseractLayer"]
    [opt] = [m for m in report["sandbox"]["root_mounts"] if m["target"] == "/opt"]
    assert (opt["source"], opt["options"]) == (str(sam_build / "TesseractLayer"), "ro,bind")


def test_tesseract_deployment_runs_the_tesseract_layer_only(
    tesseract_report: dict[str, Any], sam_build: Path
) -> None:
    runtime = tesseract_report["runtime"]
    assert runtime is not None, describe(tesseract_report)
    modules = runtime["modules"]
    assert modules["tesserocr"].startswith("/opt/python/tesserocr/"), describe(tesseract_report)
    assert runtime["probes"]["tesserocr"]["file"] == modules["tesserocr"]
    assert "tessdata" in runtime["opt"]["/opt"]
    # The Aspose layer is built too, but not attached: `import aspose` fails, and nothing of its
    # build output (python/aspose, lib/libssl.so.1.1, ocr-models, ...) is in /opt.
    assert modules["aspose"] is None and modules["aspose.ocr"] is None
    assert runtime["probes"]["aspose"] == {
        "file": None,
        "error": "ModuleNotFoundError: No module named 'aspose'",
    }
    aspose_layer = sam_build / "AsposeOcrLayer"
    assert (aspose_layer / "python" / "aspose").is_dir()  # so the checks below mean something
    opt = runtime["opt"]
    for directory, visible in (("python", opt["/opt/python"]), ("lib", opt["/opt/lib"])):
        aspose_entries = {p.name for p in (aspose_layer / directory).iterdir()}
        assert aspose_entries & set(visible or []) == set(), directory
    others = {p.name for p in aspose_layer.iterdir()} - {"python", "lib"}
    assert others & set(opt["/opt"]) == set()
    assert [lib for lib in runtime["openssl_libraries"] if lib.endswith(".so.1.1")] == []


def test_tesseract_init_fits_lambdas_init_limit(tesseract_report: dict[str, Any]) -> None:
    assert tesseract_report["init_within_lambda_limit"], tesseract_report["init_seconds"]


# --- both deployments ----------------------------------------------------------------------------


def test_runs_the_artifacts_as_lambdas_python_runtime(
    deployment_report: tuple[str, dict[str, Any]],
) -> None:
    engine, report = deployment_report
    runtime = report["runtime"]
    assert runtime is not None, describe(report)
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
    # Each piece from where Lambda has it: function, runtime, layer.
    modules = runtime["modules"]
    assert modules["app"] == "/var/task/app.py", describe(report)
    assert modules["aws_lambda_powertools"].startswith("/var/task/")
    assert modules["boto3"].startswith("/var/runtime/")
    function = report["function"]
    config = FunctionConfig.from_template(
        FUNCTION, report["output_bucket"], parameters_for(engine), function["resources"]
    )
    assert function["environment"] == config.environment
    assert config.environment["OCR_ENGINE"] == engine
    assert (function["memory_mb"], function["timeout_s"]) == (config.memory_mb, config.timeout_s)


def test_writes_nothing_outside_tmp_and_has_no_home(
    deployment_report: tuple[str, dict[str, Any]],
) -> None:
    _, report = deployment_report
    runtime = report["runtime"]
    # Only a completed Init and Invoke make the checks below mean anything.
    assert runtime is not None and runtime["invoke_seconds"] is not None, describe(report)
    filesystem = report["filesystem"]
    assert filesystem["created_outside_tmp"] == []
    assert filesystem["changed_outside_tmp"] == []
    attempts = filesystem["write_attempts"]
    if attempts is not None:  # traced with strace: native code's attempts too
        assert attempts["outside_tmp_succeeded"] == []
        # Python's bytecode cache is the only thing tried (and refused: /var/task and /opt are
        # read-only, as in Lambda). Anything else would fail in Lambda, or hide a real error.
        unexpected = [a for a in attempts["outside_tmp"] if "/__pycache__" not in a["path"]]
        assert unexpected == [], unexpected
    # Exactly Lambda's environment (plus LC_CTYPE: CPython's own locale coercion), no HOME.
    given = set(report["sandbox"]["environment"])
    assert "HOME" not in given
    assert set(runtime["environment_at_start"]) - given <= {"LC_CTYPE"}
    assert runtime["home"] is None
    assert "OCR_OPENSSL_LIB_DIR" not in given  # OpenSSL 1.1 must come from the layer's lib/


@pytest.mark.parametrize("engine", ENGINES)
def test_function_and_layer_fit_lambdas_size_limit(sam_build: Path, engine: str) -> None:
    from tools.check_sizes import LAMBDA_UNZIPPED_LIMIT, check, format_report, main

    layers = [sam_build / layer for layer in attached_layers(engine)]
    result = check(sam_build / FUNCTION, layers, zipped=False)
    assert result.ok, format_report(result)
    assert result.total.unzipped < LAMBDA_UNZIPPED_LIMIT
    assert result.function[1].files > 0 and result.layers[0][1].files > 0
    engine_option = f"{engine}={','.join(attached_layers(engine))}"
    assert main([str(sam_build), "--no-zip", "--engine", engine_option]) == 0
