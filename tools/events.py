"""Events of every shape the function accepts, as AWS sends them, and the repo's samples.

S3 notifications in the format `sam local generate-event s3 put` writes; the same wrapped in
SQS messages (the deployed path), S3's test message, EventBridge `Object Created`, and S3 Batch
Operations invocations. `python -m tools.events` rewrites events/*.json.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus

EXAMPLE_BUCKET = "aspose-ocr-input-example"
EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"


@dataclass(frozen=True)
class Upload:
    """One uploaded object, as a record describes it. `encoded_key` is the key as S3 sends it."""

    bucket: str
    encoded_key: str
    size: int = 1024
    etag: str = "0123456789abcdef0123456789abcdef"
    version_id: str | None = None


def encode_key(key: str) -> str:
    """Encode a key the way S3 does in event notifications (form encoding: space is `+`)."""
    return quote_plus(key, safe="/")


def s3_put_event(uploads: Sequence[Upload], region: str = "us-east-1") -> dict[str, object]:
    """An `ObjectCreated:Put` event with one record per upload."""
    return {"Records": [_record(upload, region) for upload in uploads]}


def _record(upload: Upload, region: str) -> dict[str, object]:
    s3_object: dict[str, object] = {
        "key": upload.encoded_key,
        "size": upload.size,
        "eTag": upload.etag,
        "sequencer": "0A1B2C3D4E5F678901",
    }
    if upload.version_id is not None:
        s3_object["versionId"] = upload.version_id
    return {
        "eventVersion": "2.0",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": "1970-01-01T00:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": "EXAMPLE123456789",
            "x-amz-id-2": "EXAMPLE123/5678abcdefghijklambdaisawesome/mnopqrstuvwxyzABCDEFGH",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "testConfigRule",
            "bucket": {
                "name": upload.bucket,
                "ownerIdentity": {"principalId": "EXAMPLE"},
                "arn": f"arn:aws:s3:::{upload.bucket}",
            },
            "object": s3_object,
        },
    }


# file name -> the encoded keys of its records (decoded key in the comment)
SAMPLE_EVENTS: dict[str, tuple[str, ...]] = {
    "s3-put.json": ("scans/invoice-4821.png",),
    # scans/my scan 2024.png, spaces encoded as S3 does ...
    "s3-put-spaces-plus.json": ("scans/my+scan+2024.png",),
    # ... and as a hand-written event might
    "s3-put-spaces-percent.json": ("scans/my%20scan%202024.png",),
    # scans/счёт № 7 (c++).png: UTF-8 bytes, a space and a literal plus sign
    "s3-put-unicode.json": (encode_key("scans/счёт № 7 (c++).png"),),
    "s3-put-two-records.json": ("scans/page-1.png", "scans/page-2.png"),
}


def sqs_event(bodies: Sequence[str], queue: str = "ocr-ingest") -> dict[str, object]:
    """An SQS event source mapping's event: one record per message body."""
    arn = f"arn:aws:sqs:us-east-1:123456789012:{queue}"
    return {
        "Records": [
            {
                "messageId": f"0000000{index}-aaaa-bbbb-cccc-ddddeeeeffff",
                "receiptHandle": f"receipt-{index}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1700000000000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1700000000001",
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "us-east-1",
            }
            for index, body in enumerate(bodies)
        ]
    }


def s3_test_message(bucket: str) -> str:
    """The message S3 sends once when a notification to a queue is configured."""
    return json.dumps(
        {
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": "1970-01-01T00:00:00.000Z",
            "Bucket": bucket,
            "RequestId": "EXAMPLE",
            "HostId": "EXAMPLE",
        }
    )


def eventbridge_created(upload: Upload) -> dict[str, object]:
    """EventBridge's `Object Created` event, its key encoded as in S3's notifications."""
    s3_object: dict[str, object] = {
        "key": upload.encoded_key,
        "size": upload.size,
        "etag": upload.etag,
    }
    if upload.version_id is not None:
        s3_object["version-id"] = upload.version_id
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "1970-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{upload.bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": upload.bucket},
            "object": s3_object,
            "request-id": "EXAMPLE",
            "requester": "123456789012",
            "reason": "PutObject",
        },
    }


def batch_operations_event(
    bucket: str, encoded_keys: Sequence[str], schema: str = "2.0"
) -> dict[str, object]:
    """An S3 Batch Operations invocation; keys URL-encoded, as Batch Operations sends them."""
    bucket_field = (
        {"s3Bucket": bucket} if schema == "2.0" else {"s3BucketArn": f"arn:aws:s3:::{bucket}"}
    )
    return {
        "invocationSchemaVersion": schema,
        "invocationId": "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
        "job": {"id": "f3cc4f60-61f6-4a2b-8a21-d07600c373ce"},
        "tasks": [
            {"taskId": f"task-{index}", "s3Key": key, "s3VersionId": None, **bucket_field}
            for index, key in enumerate(encoded_keys)
        ],
    }


def s3_delete_event(upload: Upload) -> dict[str, object]:
    event = s3_put_event([upload])
    record = event["Records"][0]  # type: ignore[index]
    record["eventName"] = "ObjectRemoved:Delete"
    return event


def _other_shapes() -> dict[str, object]:
    upload = Upload(EXAMPLE_BUCKET, SAMPLE_EVENTS["s3-put.json"][0])
    notification = json.dumps(s3_put_event([upload]))
    return {
        "sqs-s3-put.json": sqs_event([notification]),
        "sqs-s3-test-event.json": sqs_event([s3_test_message(EXAMPLE_BUCKET)]),
        "eventbridge-object-created.json": eventbridge_created(upload),
        "batch-operations.json": batch_operations_event(EXAMPLE_BUCKET, [upload.encoded_key]),
        "s3-delete.json": s3_delete_event(upload),
    }


def write_sample_events(directory: Path = EVENTS_DIR) -> list[Path]:
    events: dict[str, object] = {
        name: s3_put_event([Upload(EXAMPLE_BUCKET, key) for key in keys])
        for name, keys in SAMPLE_EVENTS.items()
    }
    events.update(_other_shapes())
    written = []
    for name, event in events.items():
        path = directory / name
        path.write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_sample_events():
        print(f"wrote {path}")
