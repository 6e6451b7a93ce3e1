"""The pipeline with customer-managed keys, as the stack runs with KmsKeyArn (README,
"Customer-managed keys"): both buckets encrypt by default with SSE-KMS, a moto KMS key and
Bucket Keys (the `s3` fixture, parametrized "sse-kms"), and the ingest queue with that key.

The handler, as Lambda runs it, takes S3's notifications from that queue, sends a long
document's page tasks to it and reads them back from it; every object it writes (texts,
sidecars, failure records) is stored SSE-KMS with that key, and nothing is left behind.
One representative run of the paths that write (a result, a failure record, fan-out and
assembly) rather than the whole suite again."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from aws_lambda_powertools import Metrics, Tracer

from ocr_service.bootstrap import Handler, build_service, lambda_handler_for
from tests.support.deployment import INPUT_BUCKET, OUTPUT_BUCKET, PARENT_LOGGER, lambda_context
from tests.support.samples import CORRUPT_PNG, PNG
from tests.support.uploads import output_keys, text_of, upload
from tools.events import s3_put_event, sqs_event
from tools.fake_engine import FakeEngine
from tools.samples import render_document

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

pytestmark = pytest.mark.parametrize("s3", ["sse-kms"], indirect=True)


@pytest.fixture
def ingest_queue(s3: S3Client, bucket_kms_key: str) -> tuple[SQSClient, str]:
    """The ingest queue, encrypted with the buckets' key (KmsMasterKeyId)."""
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="ocr-ingest", Attributes={"KmsMasterKeyId": bucket_kms_key})
    return sqs, url["QueueUrl"]


@pytest.fixture
def handler(
    s3: S3Client,
    fake_engine: FakeEngine,
    function_environment: dict[str, str],
    ingest_queue: tuple[SQSClient, str],
) -> Handler:
    sqs, url = ingest_queue
    environment = {**function_environment, "OCR_TASK_QUEUE_URL": url, "OCR_OUTPUTS": "txt,json"}
    metrics, tracer = Metrics(), Tracer()
    service = build_service(
        PARENT_LOGGER,
        metrics,
        tracer,
        environment,
        engine=fake_engine,
        s3_client=s3,
        sqs_client=sqs,
    )
    return lambda_handler_for(service, PARENT_LOGGER, metrics, tracer)


def drain(handler: Handler, queue: tuple[SQSClient, str]) -> int:
    """Deliver the queue's messages to the handler as the event source mapping would, deleting
    those it did not report as failed, until the queue is empty. Returns the invocations."""
    sqs, url = queue
    invocations = 0
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages"):
        (message,) = messages
        response = handler(sqs_event([message["Body"]]), lambda_context())
        assert response == {"batchItemFailures": []}
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        invocations += 1
        assert invocations < 20
    return invocations


def assert_encrypted_with(s3: S3Client, bucket: str, keys: list[str], key_arn: str) -> None:
    assert keys
    for key in keys:
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms", key
        assert head["SSEKMSKeyId"] == key_arn, key
        assert head.get("BucketKeyEnabled") is True, key


def test_uploads_through_an_encrypted_queue_give_sse_kms_results(
    s3: S3Client,
    handler: Handler,
    ingest_queue: tuple[SQSClient, str],
    bucket_kms_key: str,
) -> None:
    sqs, url = ingest_queue
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["KmsMasterKeyId"])[
        "Attributes"
    ] == {"KmsMasterKeyId": bucket_kms_key}
    good, corrupt = upload(s3, "scans/good.png", PNG), upload(s3, "scans/bad.png", CORRUPT_PNG)
    # S3's notifications, one message per upload
    for one in (good, corrupt):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(s3_put_event([one])))

    assert drain(handler, ingest_queue) == 2

    assert_encrypted_with(s3, INPUT_BUCKET, ["scans/good.png", "scans/bad.png"], bucket_kms_key)
    written = output_keys(s3)
    assert written == ["scans/bad.png.error.json", "scans/good.png.json", "scans/good.png.txt"]
    assert_encrypted_with(s3, OUTPUT_BUCKET, written, bucket_kms_key)
    assert text_of(s3, "scans/good.png.txt")


def test_page_tasks_go_through_the_encrypted_queue_and_parts_are_sse_kms(
    s3: S3Client,
    handler: Handler,
    ingest_queue: tuple[SQSClient, str],
    fake_engine: FakeEngine,
    bucket_kms_key: str,
) -> None:
    sqs, url = ingest_queue
    document = upload(s3, "long/report.tif", render_document(25))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(s3_put_event([document])))
    parts: list[str] = []
    real_put = s3.put_object

    def put_and_note(**request: Any) -> Any:
        if request["Key"].startswith(".ocr-parts/"):
            parts.append(request["Key"])
        return real_put(**request)

    s3.put_object = put_and_note  # type: ignore[method-assign]
    original_delete = s3.delete_object
    encrypted_parts: list[str] = []

    def check_then_delete(**request: Any) -> Any:
        # The parts are checked while they exist: the assembly deletes them.
        if request["Key"].startswith(".ocr-parts/"):
            assert_encrypted_with(s3, OUTPUT_BUCKET, [request["Key"]], bucket_kms_key)
            encrypted_parts.append(request["Key"])
        return original_delete(**request)

    s3.delete_object = check_then_delete  # type: ignore[method-assign]

    # The upload, then its three page tasks (pages 1-10, 11-20, 21-25), all through the queue
    assert drain(handler, ingest_queue) == 4

    assert sorted(fake_engine.page_sets) == [
        tuple(range(1, 11)),
        tuple(range(11, 21)),
        tuple(range(21, 26)),
    ]
    assert len(text_of(s3, "long/report.tif.txt").split("\f")) == 25
    assert output_keys(s3) == ["long/report.tif.json", "long/report.tif.txt"]  # no parts left
    assert_encrypted_with(s3, OUTPUT_BUCKET, output_keys(s3), bucket_kms_key)
    assert parts and sorted(set(encrypted_parts)) == sorted(set(parts))
