"""The benchmark's smoke test: `python -m bench.bench --quick` runs end to end (real engine,
real handler, local S3) and writes JSON of the documented shape. Nothing here asserts a time:
timings belong in the benchmark's report, not in pass/fail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.bench import RESULTS_DIR
from conftest import REPO, openssl_dir

pytestmark = pytest.mark.engine

COLD_START_STEPS = {
    "interpreter_start_s",
    "function_modules_s",
    "native_setup_s",
    "import_s",
    "create_s",
    "license_s",
    "warm_up_s",
    "init_s",
    "rss_after_init_mb",
}
CLASS_NUMBERS = {
    "engine_warm_s",
    "engine_cpu_s",
    "handler_warm_s",
    "handler_cpu_s",
    "overhead_ratio",
    "first_request_s",
    "first_vs_warm",
    "peak_rss_mb",
    "rss_after_init_mb",
}


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    target = tmp_path_factory.mktemp("bench") / "nested" / "quick.json"
    environment = {**os.environ, "OCR_OPENSSL_LIB_DIR": openssl_dir()}
    completed = subprocess.run(
        [sys.executable, "-m", "bench.bench", "--quick", "--json", str(target)],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "This function" in completed.stdout  # the table is printed
    report: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
    return report


def test_run_metadata(quick_report: dict[str, Any]) -> None:
    assert quick_report["schema"] == 1
    assert quick_report["options"]["quick"] is True
    assert quick_report["options"]["repeat"] == 1
    machine = quick_report["machine"]
    assert len(machine["load_before"]) == 3 and len(machine["load_after"]) == 3
    assert machine["cpus"] >= 1
    assert quick_report["engine"]["version"]
    assert isinstance(quick_report["engine"]["licensed"], bool)


def test_only_the_label_is_rendered_and_measured(quick_report: dict[str, Any]) -> None:
    assert set(quick_report["images"]) == {"label"}
    assert set(quick_report["classes"]) == {"label"}
    image = quick_report["images"]["label"]
    assert (image["width"], image["height"], image["pages"]) == (400, 200, 1)


def test_cold_start_is_split_into_steps(quick_report: dict[str, Any]) -> None:
    cold = quick_report["cold_start"]
    assert len(cold["runs"]) == 1
    assert set(cold["median"]) >= COLD_START_STEPS
    assert all(is_number(cold["median"][step]) for step in COLD_START_STEPS)


def test_label_has_engine_handler_naive_and_tesseract_columns(
    quick_report: dict[str, Any],
) -> None:
    label = quick_report["classes"]["label"]
    assert all(is_number(label[name]) for name in CLASS_NUMBERS), label
    measurements = label["measurements"]
    assert len(measurements["engine"]["calls"]) == 1
    assert len(measurements["handler"]["calls"]) == 1
    assert measurements["handler_text_matches_engine"] is True
    assert set(label["text"]["prefix"]) == {
        "cer",
        "edits",
        "reference_chars",
        "recognized_chars",
    }
    assert label["text"]["chars"] > 0  # three lines: trial mode returns some of them
    naive = label["naive"]
    assert is_number(naive["first_s"]) and is_number(naive["later_s"])
    assert len(naive["measurements"]["later"]["calls"]) == 1
    tesseract = label["tesseract"]
    if tesseract["status"] == "ok":
        assert is_number(tesseract["median_wall_s"]) and is_number(tesseract["peak_rss_mb"])
        assert {"prefix", "full"} <= set(tesseract["text"])
    else:
        assert tesseract["status"] == "n/a" and "apt-get install" in tesseract["reason"]


def test_cost_is_estimated_with_its_assumptions(quick_report: dict[str, Any]) -> None:
    cost = quick_report["cost"]
    assert cost["assumptions"]["price_per_gb_second_usd"] == 0.0000166667
    assert cost["assumptions"]["price_per_million_requests_usd"] == pytest.approx(0.20)
    rows = cost["per_class"]["label"]
    assert [row["memory_mb"] for row in rows] == [1024, 1769, 2654, 3538, 5307]
    assert all(is_number(row["cost_per_1000_pages_usd"]) for row in rows)
    # No A4 page in a quick run, so no memory size is recommended, and it says why.
    assert cost["recommendation"]["memory_mb"] is None
    assert cost["recommendation"]["reason"]


def test_the_long_parts_are_marked_skipped(quick_report: dict[str, Any]) -> None:
    assert quick_report["one_vcpu"] == {"skipped": "skipped (--quick)"}
    for name in ("warm_up", "scaling", "engine_options", "input_route", "largest_allowed"):
        assert quick_report["experiments"][name] == {"skipped": "skipped (--quick)"}
    assert quick_report["scans"] is None
    assert quick_report["targets"]["basis"] == "label"
    assert set(quick_report["targets"]["handler_overhead"]) == {"value", "target", "met"}


def test_default_output_goes_to_the_ignored_results_directory() -> None:
    assert Path(REPO) / "bench" / "results" == RESULTS_DIR
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(RESULTS_DIR / "x.json")], cwd=REPO, check=False
    )
    assert ignored.returncode == 0
