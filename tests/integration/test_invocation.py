"""Every event shape a user can route to the function, answered as its source expects:
SQS batches with partial failures, S3's test message, EventBridge, S3 Batch Operations, direct
S3 notifications, deletions, and shapes the function does not take (moto S3, fake engine)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from ocr_service.aws.event_shapes import UnsupportedEventError
from ocr_service.aws.invocation import EventRouter
from ocr_service.aws.outcomes import RetryableRecordsError
from ocr_service.aws.pipeline import OcrPipeline
from ocr_service.aws.storage import S3ObjectStore
from ocr_service.core.config import DEFAULT_LIMITS
from ocr_service.recognition.recognizer import DocumentRecognizer
from tests.support.deployment import INPUT_BUCKET, OUTPUT_BUCKET, lambda_context
from tests.support.samples import PNG
from tests.support.uploads import upload
from tools.events import (
    batch_operations_event,
    encode_key,
    eventbridge_created,
    s3_delete_event,
    s3_put_event,
    s3_test_message,
    sqs_event,
)
from tools.fake_engine import FakeEngine

KEY = "scans/my scan+1.png"


@pytest.fixture
def router(s3: Any, fake_engine: FakeEngine) -> EventRouter:
    store = S3ObjectStore(s3)
    return EventRouter(
        OcrPipeline(DocumentRecognizer(fake_engine, DEFAULT_LIMITS), store, OUTPUT_BUCKET)
    )


def has_text(s3: Any, key: str) -> bool:
    listed = s3.list_objects_v2(Bucket=OUTPUT_BUCKET, Prefix=key).get("Contents", [])
    return key + ".txt" in {item["Key"] for item in listed}


def unreachable_for(s3: Any, key: str) -> None:
    """From now on, S3 cannot be reached for `key` (a transient failure); other keys work."""
    real_get = s3.get_object

    def get(**request: Any) -> Any:
        if request["Key"] == key:
            raise EndpointConnectionError(endpoint_url="https://s3.example")
        return real_get(**request)

    s3.get_object = get


def test_sqs_batch_reports_only_the_transiently_failed_message(
    s3: Any, router: EventRouter
) -> None:
    good, unlucky = upload(s3, "good.png", PNG), upload(s3, "unlucky.png", PNG)
    event = sqs_event(
        [
            json.dumps(s3_put_event([good])),
            json.dumps(s3_put_event([unlucky])),
            s3_test_message(INPUT_BUCKET),
            json.dumps(s3_put_event([upload(s3, "empty.png", b"")])),
        ]
    )
    unreachable_for(s3, "unlucky.png")
    response = router.handle(event, lambda_context())

    # Only the unlucky message comes back; the empty object's failure record is its answer.
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}  # type: ignore[index]
    assert has_text(s3, "good.png")
    assert not has_text(s3, "unlucky.png")
    assert s3.head_object(Bucket=OUTPUT_BUCKET, Key="empty.png.error.json")


def test_s3_test_event_is_acknowledged_with_a_log_line_and_no_record(
    s3: Any, router: EventRouter, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = router.handle(sqs_event([s3_test_message(INPUT_BUCKET)]), lambda_context())
    assert response == {"batchItemFailures": []}
    assert "s3:TestEvent acknowledged" in caplog.text
    assert s3.list_objects_v2(Bucket=OUTPUT_BUCKET).get("KeyCount", 0) == 0


def test_an_unreadable_message_is_retried_and_named(
    s3: Any, router: EventRouter, caplog: pytest.LogCaptureFixture
) -> None:
    event = sqs_event(["not json at all", json.dumps(s3_put_event([upload(s3, KEY, PNG)]))])
    with caplog.at_level(logging.ERROR):
        response = router.handle(event, lambda_context())
    first_id = event["Records"][0]["messageId"]  # type: ignore[index]
    assert response == {"batchItemFailures": [{"itemIdentifier": first_id}]}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == ["unsupported message"]
    assert "accepted:" in getattr(errors[0], "error", "")
    assert has_text(s3, KEY)


def test_eventbridge_object_created_is_recognized_and_a_deletion_skipped(
    s3: Any, router: EventRouter
) -> None:
    uploaded = upload(s3, KEY, PNG)
    created = router.handle(eventbridge_created(uploaded), lambda_context())
    assert [s["key"] for s in created["succeeded"]] == [KEY]
    deleted = eventbridge_created(uploaded)
    deleted["detail-type"] = "Object Deleted"
    skipped = router.handle(deleted, lambda_context())
    assert [(s["reason"], s["key"]) for s in skipped["skipped"]] == [("not-an-upload", KEY)]


def test_s3_delete_notification_is_skipped_not_failed(s3: Any, router: EventRouter) -> None:
    response = router.handle(s3_delete_event(upload(s3, KEY, PNG)), lambda_context())
    assert [s["reason"] for s in response["skipped"]] == ["not-an-upload"]
    assert response["failed"] == []


def test_direct_notification_raises_after_the_others_when_one_is_transient(
    s3: Any, router: EventRouter
) -> None:
    event = s3_put_event([upload(s3, "good.png", PNG), upload(s3, "unlucky.png", PNG)])
    unreachable_for(s3, "unlucky.png")
    with pytest.raises(RetryableRecordsError, match=r"unlucky\.png"):
        router.handle(event, lambda_context())
    assert has_text(s3, "good.png")


@pytest.mark.parametrize("schema", ["1.0", "2.0"])
def test_batch_operations_answers_each_task(s3: Any, router: EventRouter, schema: str) -> None:
    upload(s3, KEY, PNG)
    upload(s3, "empty.png", b"")

    def answer(encoded_key: str) -> tuple[str, str, str]:
        # Batch Operations sends one task per invocation.
        event = batch_operations_event(INPUT_BUCKET, [encoded_key], schema=schema)
        response = router.handle(event, lambda_context())
        assert response["invocationSchemaVersion"] == schema
        assert response["invocationId"] == event["invocationId"]
        (result,) = response["results"]
        return result["taskId"], result["resultCode"], result["resultString"]

    assert answer(encode_key(KEY)) == ("task-0", "Succeeded", KEY + ".txt")
    assert answer(encode_key(KEY))[1:] == ("Succeeded", "skipped: duplicate")
    _, code, reason = answer("empty.png")
    assert (code, reason.split(":")[0]) == ("PermanentFailure", "empty-object")
    _, code, reason = answer("missing.png")
    assert (code, reason.split(":")[0]) == ("PermanentFailure", "object-missing")


def test_batch_operations_transient_failure_is_temporary(s3: Any, router: EventRouter) -> None:
    upload(s3, KEY, PNG)
    s3.get_object = lambda **_: (_ for _ in ()).throw(
        EndpointConnectionError(endpoint_url="https://s3.example")
    )
    response = router.handle(
        batch_operations_event(INPUT_BUCKET, [encode_key(KEY)]), lambda_context()
    )
    assert response["results"][0]["resultCode"] == "TemporaryFailure"


def test_any_other_shape_fails_with_one_line_naming_the_accepted_ones(
    router: EventRouter, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR), pytest.raises(UnsupportedEventError) as raised:
        router.handle({"hello": "world"}, lambda_context())
    for accepted in ("S3 notification", "SQS", "EventBridge", "Batch Operations"):
        assert accepted in str(raised.value)
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1
