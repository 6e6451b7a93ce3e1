"""The Lambda handler: Init-time wiring, the invocation's result, retries, bad configuration."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import EndpointConnectionError

from conftest import INPUT_BUCKET, OUTPUT_BUCKET, PNG, FakeEngine
from ocr_service import engines
from ocr_service.config import ConfigError
from ocr_service.outcomes import RetryableRecordsError
from tools.events import Upload, encode_key, s3_put_event
from tools.lambda_context import LocalLambdaContext


def fresh_app() -> ModuleType:
    sys.modules.pop("app", None)
    return importlib.import_module("app")


@pytest.fixture
def app(
    s3: Any, fake_engine: FakeEngine, function_environment: dict[str, str]
) -> Iterator[tuple[ModuleType, mock.MagicMock]]:
    with mock.patch.object(engines, "start_engine", return_value=fake_engine) as start:
        yield fresh_app(), start
    sys.modules.pop("app", None)


def test_engine_is_started_once_at_import_and_reused(
    app: tuple[ModuleType, mock.MagicMock], s3: Any, fake_engine: FakeEngine
) -> None:
    module, start = app
    assert start.call_count == 1  # Init phase, before any request
    put = s3.put_object(Bucket=INPUT_BUCKET, Key="a.png", Body=PNG)
    event = s3_put_event([Upload(INPUT_BUCKET, "a.png", etag=put["ETag"].strip('"'))])

    first = module.lambda_handler(event, LocalLambdaContext())
    second = module.lambda_handler(event, LocalLambdaContext())

    assert start.call_count == 1
    assert len(first["succeeded"]) == 1
    assert [s["reason"] for s in second["skipped"]] == ["duplicate"]
    assert len(fake_engine.calls) == 1


def test_result_lists_succeeded_and_failed_records(
    app: tuple[ModuleType, mock.MagicMock], s3: Any
) -> None:
    module, _ = app
    s3.put_object(Bucket=INPUT_BUCKET, Key="my scan.png", Body=PNG)
    event = s3_put_event(
        [Upload(INPUT_BUCKET, encode_key("my scan.png")), Upload(INPUT_BUCKET, "nope.png")]
    )

    result = module.lambda_handler(event, LocalLambdaContext())

    assert result["records"] == 2
    assert result["skipped"] == []
    assert [(s["key"], s["output_key"]) for s in result["succeeded"]] == [
        ("my scan.png", "my scan.png.txt")
    ]
    assert [(f["key"], f["reason"], f["retryable"]) for f in result["failed"]] == [
        ("nope.png", "object-missing", False)
    ]


def test_transient_failure_raises_for_retry_after_the_other_records(
    app: tuple[ModuleType, mock.MagicMock], s3: Any
) -> None:
    module, _ = app
    s3.put_object(Bucket=INPUT_BUCKET, Key="good.png", Body=PNG)
    real_get = module.s3_client.get_object

    def get(**request: Any) -> Any:
        if request["Key"] == "unlucky.png":
            raise EndpointConnectionError(endpoint_url="https://s3.example")
        return real_get(**request)

    event = s3_put_event([Upload(INPUT_BUCKET, "unlucky.png"), Upload(INPUT_BUCKET, "good.png")])
    with (
        mock.patch.object(module.s3_client, "get_object", side_effect=get),
        pytest.raises(RetryableRecordsError, match=r"unlucky\.png"),
    ):
        module.lambda_handler(event, LocalLambdaContext())

    assert s3.head_object(Bucket=OUTPUT_BUCKET, Key="good.png.txt")


def test_missing_output_bucket_fails_the_cold_start_clearly(
    aws_credentials: None, monkeypatch: pytest.MonkeyPatch, fake_engine: FakeEngine
) -> None:
    monkeypatch.delenv("OUTPUT_BUCKET", raising=False)
    with (
        mock.patch.object(engines, "start_engine", return_value=fake_engine) as start,
        pytest.raises(ConfigError, match="OUTPUT_BUCKET is not set"),
    ):
        fresh_app()
    start.assert_not_called()  # configuration is checked before the engine pays its start-up
    sys.modules.pop("app", None)
