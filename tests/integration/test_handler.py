"""The Lambda handler as bootstrap.py builds it: Init-time wiring, the invocation's result,
retries, bad configuration, and app.py as the thin module Lambda imports."""

from __future__ import annotations

import importlib
import sys
from typing import Any
from unittest import mock

import pytest
from aws_lambda_powertools import Metrics, Tracer
from botocore.exceptions import EndpointConnectionError

from ocr_service import engines
from ocr_service.aws.outcomes import RetryableRecordsError
from ocr_service.bootstrap import Handler, build_service, lambda_handler_for
from ocr_service.core.config import ConfigError
from tests.support.deployment import INPUT_BUCKET, OUTPUT_BUCKET, PARENT_LOGGER, lambda_context
from tests.support.samples import PNG
from tools.events import Upload, encode_key, s3_put_event
from tools.fake_engine import FakeEngine


def handler_for(environment: dict[str, str], **built: Any) -> Handler:
    metrics, tracer = Metrics(), Tracer()
    service = build_service(PARENT_LOGGER, metrics, tracer, environment, **built)
    return lambda_handler_for(service, PARENT_LOGGER, metrics, tracer)


def test_engine_is_started_once_at_init_and_reused(
    s3: Any, fake_engine: FakeEngine, function_environment: dict[str, str]
) -> None:
    with mock.patch.object(engines, "start_engine", return_value=fake_engine) as start:
        handler = handler_for(function_environment, s3_client=s3)
    assert start.call_count == 1  # Init phase, before any request
    put = s3.put_object(Bucket=INPUT_BUCKET, Key="a.png", Body=PNG)
    event = s3_put_event([Upload(INPUT_BUCKET, "a.png", etag=put["ETag"].strip('"'))])

    first = handler(event, lambda_context())
    second = handler(event, lambda_context())

    assert start.call_count == 1
    assert len(first["succeeded"]) == 1
    assert [s["reason"] for s in second["skipped"]] == ["duplicate"]
    assert len(fake_engine.calls) == 1


def test_result_lists_succeeded_and_failed_records(
    s3: Any, fake_engine: FakeEngine, function_environment: dict[str, str]
) -> None:
    handler = handler_for(function_environment, engine=fake_engine, s3_client=s3)
    s3.put_object(Bucket=INPUT_BUCKET, Key="my scan.png", Body=PNG)
    event = s3_put_event(
        [Upload(INPUT_BUCKET, encode_key("my scan.png")), Upload(INPUT_BUCKET, "nope.png")]
    )

    result = handler(event, lambda_context())

    assert result["records"] == 2
    assert result["skipped"] == []
    assert [(s["key"], s["output_key"]) for s in result["succeeded"]] == [
        ("my scan.png", "my scan.png.txt")
    ]
    assert [(f["key"], f["reason"], f["retryable"]) for f in result["failed"]] == [
        ("nope.png", "object-missing", False)
    ]


def test_transient_failure_raises_for_retry_after_the_other_records(
    s3: Any, fake_engine: FakeEngine, function_environment: dict[str, str]
) -> None:
    handler = handler_for(function_environment, engine=fake_engine, s3_client=s3)
    s3.put_object(Bucket=INPUT_BUCKET, Key="good.png", Body=PNG)
    real_get = s3.get_object

    def get(**request: Any) -> Any:
        if request["Key"] == "unlucky.png":
            raise EndpointConnectionError(endpoint_url="https://s3.example")
        return real_get(**request)

    event = s3_put_event([Upload(INPUT_BUCKET, "unlucky.png"), Upload(INPUT_BUCKET, "good.png")])
    with (
        mock.patch.object(s3, "get_object", side_effect=get),
        pytest.raises(RetryableRecordsError, match=r"unlucky\.png"),
    ):
        handler(event, lambda_context())

    assert s3.head_object(Bucket=OUTPUT_BUCKET, Key="good.png.txt")


def test_missing_output_bucket_fails_the_cold_start_clearly(
    aws_credentials: None, fake_engine: FakeEngine, function_environment: dict[str, str]
) -> None:
    environment = {k: v for k, v in function_environment.items() if k != "OUTPUT_BUCKET"}
    with (
        mock.patch.object(engines, "start_engine", return_value=fake_engine) as start,
        pytest.raises(ConfigError, match="OUTPUT_BUCKET is not set"),
    ):
        handler_for(environment)
    start.assert_not_called()  # configuration is checked before the engine pays its start-up


def test_unknown_engine_fails_the_cold_start_naming_the_accepted_ones(
    aws_credentials: None, function_environment: dict[str, str]
) -> None:
    with pytest.raises(ConfigError, match=r"OCR_ENGINE='paddle'.*aspose, tesseract"):
        handler_for({**function_environment, "OCR_ENGINE": "paddle"})


def test_app_builds_the_service_once_at_import(
    s3: Any, fake_engine: FakeEngine, function_environment: dict[str, str]
) -> None:
    """app.py is what Lambda imports: it wires, and exposes the handler and the Init objects."""
    sys.modules.pop("app", None)
    try:
        with mock.patch.object(engines, "start_engine", return_value=fake_engine) as start:
            app = importlib.import_module("app")
        assert start.call_count == 1
        assert app.engine is fake_engine
        assert app.settings.output_bucket == OUTPUT_BUCKET
        s3.put_object(Bucket=INPUT_BUCKET, Key="a.png", Body=PNG)
        event = s3_put_event([Upload(INPUT_BUCKET, "a.png")])
        result = app.lambda_handler(event, lambda_context())
        assert [s["key"] for s in result["succeeded"]] == ["a.png"]
    finally:
        sys.modules.pop("app", None)
