"""S3 failing or vanishing mid-run, against a real S3 HTTP endpoint on loopback: the handler
raises for Lambda's retry, nothing half-written remains, and a rerun completes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Metrics, Tracer
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.config import Config

from ocr_service.aws.outcomes import RetryableRecordsError
from ocr_service.bootstrap import Handler, build_service, lambda_handler_for
from ocr_service.core.formats import ImageFormat
from tests.support.deployment import INPUT_BUCKET, OUTPUT_BUCKET, PARENT_LOGGER, lambda_context
from tools.events import Upload, s3_put_event
from tools.fake_engine import FakeEngine, fake_text
from tools.moto_server import LocalMotoServer, moto_server
from tools.samples import render_lines

KEYS = ["one.png", "two.png", "three.png"]
IMAGES = {key: render_lines((key,), width=200) for key in KEYS}


@pytest.fixture
def endpoint(
    aws_credentials: None, monkeypatch: pytest.MonkeyPatch, function_environment: dict[str, str]
) -> Iterator[LocalMotoServer]:
    """A real S3 endpoint on loopback, empty, in AWS_ENDPOINT_URL."""
    with moto_server() as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
        yield server


@dataclass(frozen=True)
class App:
    """The handler as Init builds it, and the S3 client it uses."""

    lambda_handler: Handler
    s3_client: Any


@pytest.fixture
def app(
    endpoint: LocalMotoServer, fake_engine: FakeEngine, function_environment: dict[str, str]
) -> App:
    # Fail fast: the default connect timeout and retries would only slow the test down.
    s3_client = boto3.client("s3", config=Config(retries={"max_attempts": 1}))
    metrics, tracer = Metrics(), Tracer()
    service = build_service(
        PARENT_LOGGER,
        metrics,
        tracer,
        function_environment,
        engine=fake_engine,
        s3_client=s3_client,
    )
    return App(lambda_handler_for(service, PARENT_LOGGER, metrics, tracer), s3_client)


def seed(url: str) -> dict[str, Any]:
    s3 = boto3.client("s3", endpoint_url=url)
    for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
        s3.create_bucket(Bucket=bucket)
    uploads = []
    for key in KEYS:
        put = s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=IMAGES[key])
        uploads.append(Upload(INPUT_BUCKET, key, etag=put["ETag"].strip('"')))
    return s3_put_event(uploads)


def results(url: str) -> dict[str, bytes]:
    s3 = boto3.client("s3", endpoint_url=url)
    listed = s3.list_objects_v2(Bucket=OUTPUT_BUCKET).get("Contents", [])
    return {
        item["Key"]: s3.get_object(Bucket=OUTPUT_BUCKET, Key=item["Key"])["Body"].read()
        for item in listed
    }


def test_s3_vanishing_mid_run_is_retried_and_the_rerun_completes(
    app: App, endpoint: LocalMotoServer, fake_engine: FakeEngine
) -> None:
    event = seed(endpoint.url)

    def vanish_during_the_second_object(_: str) -> None:
        if len(fake_engine.calls) == 2:
            endpoint.stop()

    fake_engine.during_recognition = vanish_during_the_second_object
    with pytest.raises(RetryableRecordsError) as raised:
        app.lambda_handler(event, lambda_context())
    assert [(f.key, f.reason) for f in raised.value.result.retryable] == [
        ("two.png", "storage-error"),
        ("three.png", "storage-error"),
    ]

    # S3 comes back (moto keeps its state in this process); Lambda retries the event.
    endpoint.start()  # on the same port, with moto's state as it was
    assert sorted(results(endpoint.url)) == ["one.png.txt"]  # nothing half-written
    fake_engine.during_recognition = None

    rerun = app.lambda_handler(event, lambda_context())

    assert [s["key"] for s in rerun["skipped"]] == ["one.png"]
    assert [s["key"] for s in rerun["succeeded"]] == ["two.png", "three.png"]
    written = results(endpoint.url)
    assert sorted(written) == sorted(key + ".txt" for key in KEYS)
    assert all(
        written[key + ".txt"] == fake_text(image, ImageFormat.PNG).encode()
        for key, image in IMAGES.items()
    )


def test_s3_errors_on_write_are_retried_not_recorded_as_failures(
    app: App, endpoint: LocalMotoServer
) -> None:
    event = seed(endpoint.url)
    client = app.s3_client

    class EmptyBody:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield b""

    def service_unavailable(request: Any, **_: Any) -> AWSResponse | None:
        """S3 answering 503 Service Unavailable to every write of one object."""
        if request.method == "PUT" and "two.png" in request.url:
            return AWSResponse(request.url, 503, HTTPHeaders(), EmptyBody())
        return None

    client.meta.events.register("before-send.s3.PutObject", service_unavailable)
    try:
        with pytest.raises(RetryableRecordsError, match=r"two\.png"):
            app.lambda_handler(event, lambda_context())
    finally:
        client.meta.events.unregister("before-send.s3.PutObject", service_unavailable)
    assert sorted(results(endpoint.url)) == ["one.png.txt", "three.png.txt"]

    rerun = app.lambda_handler(event, lambda_context())

    assert [s["key"] for s in rerun["succeeded"]] == ["two.png"]
    assert sorted(results(endpoint.url)) == sorted(key + ".txt" for key in KEYS)
