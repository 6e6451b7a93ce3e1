"""What operators see: structured logs and EMF metrics, read from the function's stdout the way
CloudWatch receives them (the handler runs in a fresh process, as in a cold start)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

from conftest import REPO

DRIVER = textwrap.dedent(
    """
    import os, json
    from unittest import mock
    import boto3
    from moto import mock_aws
    from tests.conftest import PNG, FakeEngine
    from tools.events import Upload, s3_put_event
    from tools.local_run import import_handler_module, invoke
    from tools.template_env import function_environment
    from ocr_service import engines

    with mock_aws(), mock.patch.object(engines, "start_engine", return_value=FakeEngine()):
        s3 = boto3.client("s3")
        for bucket in ("in-bucket", "out-bucket"):
            s3.create_bucket(Bucket=bucket)
        uploads = []
        for key, body in (("good.png", PNG), ("empty.png", b"")):
            etag = s3.put_object(Bucket="in-bucket", Key=key, Body=body)["ETag"].strip('"')
            uploads.append(Upload("in-bucket", key, len(body), etag))
        module, _ = import_handler_module(function_environment({"OutputBucket": "out-bucket"}))
        invoke(module, s3_put_event(uploads))
        invoke(module, s3_put_event(uploads))
    """
)


def run_function() -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.update(
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="x",
        AWS_DEFAULT_REGION="us-east-1",
        PYTHONPATH=f"{REPO}{os.pathsep}{REPO / 'functions/ocr'}",
    )
    ran = subprocess.run(
        [sys.executable, "-c", DRIVER],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    return [json.loads(line) for line in ran.stdout.splitlines() if line.startswith("{")]


def test_logs_and_metrics_tell_what_happened() -> None:
    lines = run_function()
    logs = [line for line in lines if "_aws" not in line]
    emf = [line for line in lines if "_aws" in line]

    started = next(line for line in logs if line["message"] == "engine started")
    assert started["engine_version"] == "0.0-fake"
    assert started["licensed"] is False
    assert started["limits"]["max_pages"] == 2000  # as template.yaml sets it
    assert started["license_source"] == "none"
    assert any("TRIAL MODE" in line["message"] for line in logs)

    per_object = [line for line in logs if line.get("outcome")]
    assert {(line["key"], line["outcome"]) for line in per_object} == {
        ("good.png", "succeeded"),
        ("empty.png", "failed"),
        ("good.png", "skipped"),
        ("empty.png", "skipped"),
    }
    for line in per_object:
        assert line["bucket"] == "in-bucket"
        assert "version_id" in line
        assert line["function_request_id"]  # the Lambda context is injected
    assert [line["cold_start"] for line in logs if line["message"] == "event done"] == [
        True,
        False,
    ]

    def metrics_of(document: dict[str, Any]) -> set[str]:
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "AsposeOcr"
        return {metric["Name"] for metric in directive["Metrics"]}

    names = [metrics_of(document) for document in emf]
    first_invocation = set().union(*names)
    assert {
        "ObjectsSucceeded",
        "ObjectsFailed",
        "RecognitionSeconds",
        "CharactersRecognized",
        "InputBytes",
        "PagesRecognized",
        "TrialMode",
        "ColdStart",
        "ObjectsSkipped",
        "FailuresByReason",
    } <= first_invocation
    by_reason = next(d for d in emf if "FailuresByReason" in metrics_of(d))
    assert by_reason["reason"] == "empty-object"
    assert by_reason["service"] == "aspose-ocr"
    assert all(document["service"] == "aspose-ocr" for document in emf)
    trial = [d["TrialMode"] for d in emf if "TrialMode" in d]
    assert trial == [[1.0], [1.0]]  # a gauge on every invocation while unlicensed
