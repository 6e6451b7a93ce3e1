"""What operators see: structured logs and EMF metrics, read from the function's stdout the way
CloudWatch receives them. tests/support/observability_driver.py runs the handler in a fresh
process (a cold start) and invokes it twice with the same two objects, a good image and an empty
one: the first invocation recognizes one and fails the other, the second skips both (results
exist).
Each claim is checked for each invocation, on that invocation's lines alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.deployment import REPO

DRIVER = REPO / "tests" / "support" / "observability_driver.py"
MARKER = "driver_invocation"
OBJECTS = ("good.png", "empty.png")
#: Per invocation: each object's outcome.
OUTCOMES = (
    {"good.png": "succeeded", "empty.png": "failed"},
    {"good.png": "skipped", "empty.png": "skipped"},
)
#: Per invocation: metrics it must emit, and metrics of work it did not do.
METRICS_EMITTED = (
    {
        "ObjectsSucceeded",
        "ObjectsFailed",
        "FailuresByReason",
        "RecognitionSeconds",
        "CharactersRecognized",
        "InputBytes",
        "PagesRecognized",
        "TextLayerPages",
        "LowConfidenceObjects",
        "TrialMode",
        "ColdStart",
    },
    {"ObjectsSkipped", "TrialMode"},
)
METRICS_ABSENT = (
    {"ObjectsSkipped"},
    {"ObjectsSucceeded", "ObjectsFailed", "FailuresByReason", "RecognitionSeconds", "ColdStart"},
)

Line = dict[str, Any]


@dataclass
class Part:
    """The lines of Init, or of one invocation."""

    logs: list[Line] = field(default_factory=list)
    emf: list[Line] = field(default_factory=list)

    def metrics(self) -> dict[str, list[float]]:
        """Every metric this part emitted, with all its values."""
        values: dict[str, list[float]] = {}
        for document in self.emf:
            for name in metric_names(document):
                value = document[name]
                values.setdefault(name, []).extend(value if isinstance(value, list) else [value])
        return values

    def summaries(self) -> list[Line]:
        return [line for line in self.logs if line["message"] == "event done"]

    def outcomes(self) -> list[Line]:
        return [line for line in self.logs if line.get("outcome")]


def metric_names(document: Line) -> set[str]:
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "OcrPipeline"
    return {metric["Name"] for metric in directive["Metrics"]}


@pytest.fixture(scope="module")
def parts() -> list[Part]:
    """Init's lines, then each invocation's, split at the driver's markers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.update(
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="x",
        AWS_DEFAULT_REGION="us-east-1",
        PYTHONPATH=f"{REPO}{os.pathsep}{REPO / 'functions/ocr'}",
    )
    ran = subprocess.run(
        [sys.executable, str(DRIVER)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    found = [Part()]
    for text in ran.stdout.splitlines():
        if not text.startswith("{"):
            continue
        line = json.loads(text)
        if MARKER in line:
            assert line[MARKER] == len(found)
            found.append(Part())
        else:
            (found[-1].emf if "_aws" in line else found[-1].logs).append(line)
    assert len(found) == 1 + len(OUTCOMES), "Init and each invocation"
    return found


def test_init_logs_the_engine_its_limits_and_the_trial_mode(parts: list[Part]) -> None:
    init = parts[0]
    started = [line for line in init.logs if line["message"] == "engine started"]
    assert len(started) == 1
    assert started[0]["engine_version"] == "0.0-fake"
    assert started[0]["licensed"] is False
    assert started[0]["limits"]["max_pages"] == 2000  # as template.yaml sets it
    assert started[0]["license_source"] == "none"
    assert any("TRIAL MODE" in line["message"] for line in init.logs)
    assert init.outcomes() == [] and init.emf == []  # nothing about objects before a request


def test_every_invocation_logs_each_object_once_with_its_outcome(parts: list[Part]) -> None:
    request_ids = []
    for invocation, expected in zip(parts[1:], OUTCOMES, strict=True):
        lines = invocation.outcomes()
        assert sorted(line["key"] for line in lines) == sorted(OBJECTS)
        assert {line["key"]: line["outcome"] for line in lines} == expected
        (summary,) = invocation.summaries()
        for line in lines:
            assert line["bucket"] == "in-bucket"
            assert "version_id" in line
            # The Lambda context is injected: this invocation's request id on every line.
            assert line["function_request_id"] == summary["function_request_id"]
        request_ids.append(summary["function_request_id"])
    assert all(request_ids) and len(set(request_ids)) == len(request_ids)


def test_every_invocation_ends_with_a_summary_that_says_whether_it_was_a_cold_start(
    parts: list[Part],
) -> None:
    for number, (invocation, expected) in enumerate(zip(parts[1:], OUTCOMES, strict=True)):
        (summary,) = invocation.summaries()
        assert summary["cold_start"] is (number == 0)
        assert invocation.logs[-1] is summary  # the last line of the invocation
        counts = Counter(expected.values())
        for outcome in ("succeeded", "skipped", "failed"):
            assert summary[outcome] == counts[outcome], outcome


def test_every_invocation_emits_metrics_of_what_it_did_and_only_that(parts: list[Part]) -> None:
    invocations = zip(parts[1:], OUTCOMES, METRICS_EMITTED, METRICS_ABSENT, strict=True)
    for invocation, expected, emitted, absent in invocations:
        metrics = invocation.metrics()
        assert emitted <= set(metrics), emitted - set(metrics)
        assert not absent & set(metrics), absent & set(metrics)
        assert all(document["service"] == "ocr-pipeline" for document in invocation.emf)
        counts = Counter(expected.values())
        for name, outcome in (
            ("ObjectsSucceeded", "succeeded"),
            ("ObjectsFailed", "failed"),
            ("ObjectsSkipped", "skipped"),
        ):
            assert sum(metrics.get(name, [])) == counts[outcome], name
        assert metrics["TrialMode"] == [1.0]  # a gauge on every invocation while unlicensed


def test_failures_are_counted_by_reason_in_the_invocation_that_failed(parts: list[Part]) -> None:
    by_reason = [d for d in parts[1].emf if "FailuresByReason" in metric_names(d)]
    assert [(d["reason"], d["FailuresByReason"]) for d in by_reason] == [("empty-object", [1.0])]
    assert [d for d in parts[2].emf if "FailuresByReason" in metric_names(d)] == []
