"""Every event a user can route to the function, read into the objects it names.

Accepted shapes (README, "Events the function accepts"):
- an S3 notification (`{"Records": [{"eventSource": "aws:s3", ...}]}`): `sam local invoke`,
  `make invoke`, or a bucket notifying the function directly;
- SQS messages (`{"Records": [{"eventSource": "aws:sqs", ...}]}`) whose bodies are S3
  notifications (the deployed path: InputBucket -> IngestQueue -> function), S3's
  `s3:TestEvent`, or page-range tasks of a long document (fanout.py);
- an EventBridge `Object Created` event (buckets with EventBridge notifications on);
- an S3 Batch Operations invocation (schema 1.0 or 2.0), for backfills of millions of objects.
Keys are URL-decoded (`+` is a space, then %XX as UTF-8) in every shape, as S3 encodes them in
notifications and Batch Operations tasks, and as Powertools reads EventBridge's.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import (
    S3BatchOperationEvent,
    S3Event,
    S3EventBridgeNotificationEvent,
)

from ocr_service.aws.results import ObjectVersion

CREATED = "ObjectCreated:"
BATCH_OPERATIONS_EVENT = "ObjectCreated:BatchOperations"  # not S3's own: names the route
PAGE_TASK_KEY = "ocrPageTask"  # the body of a page-range task (fanout.py)


class EventShape(enum.StrEnum):
    S3 = "S3 notification"
    SQS = "SQS messages"
    EVENTBRIDGE = "EventBridge Object Created"
    BATCH_OPERATIONS = "S3 Batch Operations"


ACCEPTED = (
    "an S3 notification ({'Records': [{'eventSource': 'aws:s3', ...}]}), SQS messages "
    "({'Records': [{'eventSource': 'aws:sqs', ...}]}) holding S3 notifications or page tasks, "
    "an EventBridge 'Object Created' event (source aws.s3), or an S3 Batch Operations "
    "invocation ('invocationSchemaVersion' 1.0 or 2.0)"
)


class UnsupportedEventError(ValueError):
    """An event or message of a shape the function does not handle; the message says which
    shapes it accepts. Retrying cannot help."""


@dataclass(frozen=True)
class ObjectRef:
    """Which object a record is about, with its key already URL-decoded."""

    bucket: str
    key: str
    version_id: str | None
    etag: str
    """Empty when the event does not say (Batch Operations): the version read is recorded."""
    event_name: str

    @property
    def is_upload(self) -> bool:
        return self.event_name.startswith(CREATED)

    @property
    def version(self) -> ObjectVersion:
        """The version the event announced (its ETag is empty when the event does not say)."""
        return ObjectVersion(self.bucket, self.key, self.etag, self.version_id)


def shape_of(event: Mapping[str, Any]) -> EventShape:
    """Which accepted shape `event` has; UnsupportedEventError naming them otherwise."""
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], Mapping):
        source = records[0].get("eventSource")
        if source == "aws:s3":
            return EventShape.S3
        if source == "aws:sqs":
            return EventShape.SQS
    if event.get("source") == "aws.s3" and "detail-type" in event:
        return EventShape.EVENTBRIDGE
    if "invocationSchemaVersion" in event and "tasks" in event:
        return EventShape.BATCH_OPERATIONS
    raise UnsupportedEventError(f"unsupported event {_describe(event)}; accepted: {ACCEPTED}")


def refs_from_notification(notification: Mapping[str, Any]) -> list[ObjectRef]:
    """Every record of an S3 notification (created, deleted, restored, ...)."""
    return [_ref_from_s3_record(record) for record in S3Event(dict(notification)).records]


def _ref_from_s3_record(record: Any) -> ObjectRef:
    # S3 encodes keys in notifications: `+` is a space, then %XX as UTF-8.
    s3_object = record.s3.get_object
    return ObjectRef(
        bucket=record.s3.bucket.name,
        key=unquote_plus(s3_object.key, encoding="utf-8", errors="replace"),
        version_id=s3_object.version_id,
        etag=(s3_object.etag or "").strip('"'),
        event_name=record.event_name,
    )


def ref_from_eventbridge(event: Mapping[str, Any]) -> ObjectRef:
    """The object of an EventBridge S3 event (Powertools URL-decodes its key)."""
    notification = S3EventBridgeNotificationEvent(dict(event))
    detail = notification.detail
    s3_object = detail.object  # optional fields by .get: Powertools' properties raise KeyError
    # "Object Created" + reason "PutObject" -> "ObjectCreated:PutObject", as notifications say
    event_name = f"{notification.detail_type.replace(' ', '')}:{detail.get('reason') or ''}"
    return ObjectRef(
        bucket=detail.bucket.name,
        key=s3_object.key,
        version_id=s3_object.get("version-id"),
        etag=str(s3_object.get("etag") or "").strip('"'),
        event_name=event_name,
    )


@dataclass(frozen=True)
class BatchTask:
    """One task of an S3 Batch Operations job: the object, and the id to answer it by."""

    task_id: str
    ref: ObjectRef


def batch_tasks(event: Mapping[str, Any]) -> list[BatchTask]:
    """Schema 1.0 names the bucket by ARN, 2.0 by name; keys are URL-encoded in both."""
    tasks: list[BatchTask] = []
    for task in S3BatchOperationEvent(dict(event)).tasks:
        raw = task.raw_event
        bucket = raw.get("s3Bucket") or str(raw.get("s3BucketArn", "")).rsplit(":", 1)[-1]
        ref = ObjectRef(bucket, task.s3_key, task.s3_version_id, "", BATCH_OPERATIONS_EVENT)
        tasks.append(BatchTask(task.task_id, ref))
    return tasks


@dataclass(frozen=True)
class TestMessage:
    """S3's `s3:TestEvent`, sent once when a notification is configured."""

    bucket: str


Message = list[ObjectRef] | TestMessage | Mapping[str, Any]


def read_message(body: str) -> Message:
    """An SQS message body: S3 notification records, S3's test event, or a page task's
    fields (a mapping). UnsupportedEventError for anything else."""
    try:
        document = json.loads(body)
    except json.JSONDecodeError as error:
        raise UnsupportedEventError(
            f"an SQS message that is not JSON ({body[:80]!r}); accepted: {ACCEPTED}"
        ) from error
    if not isinstance(document, Mapping):
        raise UnsupportedEventError(
            f"an SQS message that is not a JSON object; accepted: {ACCEPTED}"
        )
    if document.get("Event") == "s3:TestEvent":
        return TestMessage(str(document.get("Bucket", "")))
    if PAGE_TASK_KEY in document:
        task: Mapping[str, Any] = document[PAGE_TASK_KEY]
        return task
    records = document.get("Records")
    if isinstance(records, list) and records and records[0].get("eventSource") == "aws:s3":
        return refs_from_notification(document)
    raise UnsupportedEventError(f"an SQS message {_describe(document)}; accepted: {ACCEPTED}")


def _describe(document: Mapping[str, Any]) -> str:
    return "with keys " + ", ".join(sorted(str(key) for key in document)[:8])
