"""The benchmark's smoke test: `python -m bench.bench --quick --samples DIR` runs end to end for
both engines (real engines, real handler, local S3) and writes JSON of the documented shape.
Nothing here asserts a time: timings belong in the benchmark's report, not in pass/fail."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bench import costs, images
from bench.analysis import text_quality
from bench.bench import ENGINES
from bench.report import default_json_path
from bench.results import SCHEMA_VERSION
from bench.running import engine_setup
from tests.support.deployment import REPO, openssl_dir
from tools.local_run import engine_parameters
from tools.template_env import function_property

SCAN = "scans/receipt.png"
SCAN_LINES = ("Fresh rye bread 2 loaves", "Harbour Road market stall 7")
COLD_START_STEPS = (
    "interpreter_start_s",
    "function_modules_s",
    "native_setup_s",
    "import_s",
    "create_s",
    "license_s",
    "warm_up_s",
)
ROW_NUMBERS = (
    "bare_s",
    "bare_cpu_s",
    "handler_s",
    "handler_cpu_s",
    "handler_ratio",
    "handler_cpu_ratio",
    "first_request_s",
    "peak_rss_mb",
    "rss_after_init_mb",
    "cost_per_1000_pages_usd",
)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real-scan stand-in with its ground truth, in two languages' names."""
    directory = tmp_path_factory.mktemp("samples")
    page = images.render_page(SCAN_LINES, (900, 240), font_size=40, margin=30)
    (directory / SCAN).parent.mkdir()
    page.save(directory / SCAN)
    truth = {
        SCAN: {"expected_text": "\n".join(SCAN_LINES), "match": "exact_trimmed", "lang": "en+de"}
    }
    (directory / "groundtruth.json").write_text(json.dumps(truth), encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, samples: Path) -> tuple[dict[str, Any], str]:
    target = tmp_path_factory.mktemp("bench") / "nested" / "quick.json"
    environment = {**os.environ, "OCR_OPENSSL_LIB_DIR": openssl_dir()}
    command = [sys.executable, "-m", "bench.bench", "--quick", "--samples", str(samples)]
    completed = subprocess.run(
        [*command, "--json", str(target)],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-3000:]
    report: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
    return report, completed.stdout


@pytest.fixture(scope="module")
def report(run: tuple[dict[str, Any], str]) -> dict[str, Any]:
    return run[0]


def rows_by_key(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(row["engine"], row["input"]): row for row in report["rows"]}


def test_run_metadata_and_load(report: dict[str, Any]) -> None:
    assert report["schema"] == SCHEMA_VERSION
    assert report["options"]["quick"] is True and report["options"]["repeat"] == 1
    assert report["errors"] == {}
    load = report["load"]
    assert len(load["before"]) == 3 and len(load["after"]) == 3
    # One sample per worker process: a cold start, the label and the scan for each engine.
    assert len(load["samples"]) == 3 * len(ENGINES)
    assert load["max"] == max(load["samples"])


def test_each_engine_runs_at_its_template_memory_size(report: dict[str, Any]) -> None:
    assert set(report["engines"]) == set(ENGINES)
    for name, info in report["engines"].items():
        memory = int(function_property("MemorySize", parameters={"OcrEngine": name}))
        timeout = int(function_property("Timeout", parameters={"OcrEngine": name}))
        assert (info["memory_mb"], info["timeout_s"]) == (memory, timeout)
        assert info["cores"] == costs.cores_for(memory, os.cpu_count() or 1)
        assert info["version"] and isinstance(info["licensed"], bool)
    for row in report["rows"]:
        assert row["memory_mb"] == report["engines"][row["engine"]]["memory_mb"]
        assert row["cores"] == report["engines"][row["engine"]]["cores"]
        assert len(row["measurement"]["cpus"]) == row["cores"]  # the worker was pinned


def test_cold_start_is_split_into_steps_for_both_engines(report: dict[str, Any]) -> None:
    assert set(report["cold_start"]) == set(ENGINES)
    for start in report["cold_start"].values():
        assert len(start["runs"]) == 1
        assert all(is_number(start[step]) for step in COLD_START_STEPS)
        run = start["runs"][0]
        assert start["function_modules_s"] == pytest.approx(
            run["init_s"] - sum(run["steps"].values()), abs=1e-3
        )
        assert start["warm_up_s"] > 0  # both engines warm up in Init
        assert start["init_cost_usd"] > 0


def test_both_engines_measure_the_label_and_the_scan(report: dict[str, Any]) -> None:
    rows = rows_by_key(report)
    assert set(rows) == {(engine, name) for engine in ENGINES for name in ("label", SCAN)}
    assert set(report["images"]) == {"label"}
    for row in rows.values():
        assert all(is_number(row[name]) for name in ROW_NUMBERS), row
        measured = row["measurement"]
        assert len(measured["bare"]) == 1 and len(measured["handler"]) == 1
        assert row["handler_text_matches_bare"] is True
        assert row["handler_ratio"] == pytest.approx(row["handler_s"] / row["bare_s"], abs=2e-3)
        assert row["pages"] == 1
    # Without a license Aspose keeps about 30 % of two short lines, sometimes nothing: the
    # scan's text may be empty (its trial banner is not text); the 3-line label is not.
    assert all(row["chars"] > 0 for (engine, _), row in rows.items() if engine == "tesseract")
    assert rows["aspose", "label"]["chars"] > 0
    assert rows["aspose", SCAN]["kind"] == "scan" and rows["aspose", "label"]["kind"] == "class"
    # The scan's languages reach both paths: Tesseract reads both, Aspose its Latin model.
    assert rows["tesseract", SCAN]["language"] == "eng+deu"
    assert rows["aspose", SCAN]["language"] == "LATIN"


def test_cer_basis_follows_the_trial_mode(report: dict[str, Any]) -> None:
    for row in report["rows"]:
        quality = row["quality"]
        licensed = report["engines"][row["engine"]]["licensed"]
        assert quality["basis"] == ("full" if licensed else "trial prefix")
        assert set(quality) >= {"cer", "prefix_cer", "edits", "reference_chars"}
    tesseract = rows_by_key(report)["tesseract", SCAN]["quality"]
    assert tesseract["cer"] is not None and tesseract["cer"] < 0.2  # clear text reads


def test_cost_per_1000_pages_follows_the_handler_time(report: dict[str, Any]) -> None:
    for row in report["rows"]:
        per_request = (
            row["handler_s"] * row["memory_mb"] / 1024 * costs.PRICE_PER_GB_SECOND
            + costs.PRICE_PER_REQUEST
        )
        assert row["cost_per_1000_pages_usd"] == pytest.approx(
            1000 / row["pages"] * per_request, abs=1e-4
        )
    assert report["textract"]["cost_per_1000_pages_usd"] == costs.TEXTRACT_DETECT_PER_1000_PAGES_USD


def test_the_table_shows_both_engines_the_reference_and_the_trial_note(
    run: tuple[dict[str, Any], str],
) -> None:
    report, printed = run
    table = printed.split("Side by side", 1)[1]
    for row in report["rows"]:
        assert f"@{row['memory_mb']}" in table
    assert "Textract" in table and "trial" in table
    assert printed.count("Handler overhead") == len(ENGINES)
    assert "Sizing: skipped (--quick)" in printed and report["sizing"] is None


def test_text_quality_bases() -> None:
    truth = "alpha beta gamma\fdelta epsilon"
    full = text_quality("alpha beta gamma\fdelta epsilon", truth, trial_limited=False, match=None)
    assert (full.basis, full.cer) == ("full", 0.0)
    cut = text_quality("alpha be\fdelta", truth, trial_limited=True, match=None)
    assert (cut.basis, cut.cer) == ("trial prefix", 0.0)  # a cut text is no error in trial
    assert text_quality("alpha be\fdelta", truth, trial_limited=False, match=None).cer
    part = text_quality("xx beta gamma yy", "beta gamma", trial_limited=False, match="substring")
    assert (part.basis, part.cer, part.found) == ("substring", 0.0, True)
    assert part.prefix_cer is None  # a part of the page is no prefix of it


def test_cores_follow_lambda_vcpus() -> None:
    assert [costs.cores_for(memory, 2) for memory in (1024, 1769, 3538, 5307)] == [1, 1, 2, 2]
    assert costs.cores_for(3538, 1) == 1


def test_tesseract_at_another_memory_size_gets_its_cores_and_tells_the_function(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--tesseract-memory: TesseractMemorySize for the setup, the worker's cores, and the
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE the function sizes its threads (and bands) by."""
    monkeypatch.setenv("OCR_OPENSSL_LIB_DIR", str(openssl_dir()))
    default = engine_setup("tesseract", "http://127.0.0.1:1", 2)
    larger = engine_setup("tesseract", "http://127.0.0.1:1", 2, 3538)
    aspose = engine_setup("aspose", "http://127.0.0.1:1", 2, 7076)
    assert (default.memory_mb, default.cpus) == (1769, [0])
    assert (larger.memory_mb, larger.cpus) == (3538, [0, 1])
    assert aspose.memory_mb == 3538  # Aspose's memory is no parameter
    assert larger.environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "3538"
    assert engine_parameters(larger.environment) == {
        "OcrEngine": "tesseract",
        "TesseractMemorySize": "3538",
    }
    assert engine_parameters({"OCR_ENGINE": "aspose", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "9"}) == {
        "OcrEngine": "aspose"
    }


def test_long_tiff_has_the_pages_asked_for() -> None:
    image = images.tiff_document(5, "tiff-5")
    with Image.open(io.BytesIO(image.data)) as opened:
        assert getattr(opened, "n_frames", 1) == len(image.pages) == 5


def test_default_output_goes_to_an_ignored_directory() -> None:
    path = default_json_path(datetime.now(UTC))
    ignored = subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=REPO, check=False)
    assert ignored.returncode == 0, f"{path} would be committed"


def test_the_documents_benchmark_runs_both_engines_through_the_handler(
    tmp_path: Path,
) -> None:
    """`python -m bench.documents --quick`: a born-digital PDF through each engine's handler;
    its pages come from the text layer, and its searchable PDF is the input's size."""
    target = tmp_path / "documents.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench.documents", "--quick", "--json", str(target)],
        cwd=REPO,
        env={**os.environ, "OCR_OPENSSL_LIB_DIR": openssl_dir()},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    rows = json.loads(target.read_text(encoding="utf-8"))
    assert [(row["engine"], row["pages"]) for row in rows] == [("aspose", 10), ("tesseract", 10)]
    assert all(row["text_layer_pages"] == 10 and row["ocr_pages"] == 0 for row in rows)
    assert all(row["pdf_bytes"] == row["input_bytes"] for row in rows)  # nothing to add
    assert "| aspose | born-digital, 10 pages | auto | 10 / 0 |" in completed.stdout


def test_the_accuracy_benchmark_scores_a_users_own_folder(tmp_path: Path) -> None:
    """`make bench-accuracy SAMPLES=<folder>`: images with .gt.txt beside them, by category;
    Tesseract reads rendered pages exactly."""
    from tools.samples import DEMO_LINES, render_lines

    (tmp_path / "letters").mkdir()
    (tmp_path / "letters" / "a.png").write_bytes(render_lines(DEMO_LINES))
    (tmp_path / "letters" / "a.gt.txt").write_text("\n".join(DEMO_LINES), encoding="utf-8")
    target = tmp_path / "accuracy.json"
    command = [sys.executable, "-m", "bench.accuracy", "--samples", str(tmp_path)]
    completed = subprocess.run(
        [*command, "--engines", "tesseract", "--check", "--json", str(target)],
        cwd=REPO,
        env={**os.environ, "POWERTOOLS_LOG_LEVEL": "ERROR"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(target.read_text(encoding="utf-8"))
    (line,) = report["summary"]
    assert (line["engine"], line["category"], line["images"], line["mean_cer"]) == (
        "tesseract",
        "letters",
        1,
        0.0,
    )
    assert line["confidence"] > 0.8
    assert "| tesseract | letters | 1 (0) | 0.000 |" in completed.stdout
