"""The deployed resources on a local endpoint: two buckets, the ingest queue with its redrive
policy to the dead-letter queue, and the input bucket's notification to the ingest queue."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3

from tools.local_stack import settings
from tools.local_stack.settings import TemplateValues

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

LOCAL_KEY = "local"  # moto accepts any credentials; never real ones


@dataclass(frozen=True)
class QueueSettings:
    """The ingest queue's settings as the local run uses them."""

    visibility_timeout: int
    max_receive_count: int
    retention_s: int
    dead_letter_retention_s: int

    @classmethod
    def from_template(
        cls,
        values: TemplateValues,
        visibility_timeout: int | None = None,
        max_receive_count: int | None = None,
    ) -> QueueSettings:
        return cls(
            visibility_timeout or values.visibility_timeout,
            max_receive_count or values.max_receive_count,
            values.retention_s,
            values.dead_letter_retention_s,
        )


@dataclass(frozen=True)
class Topology:
    endpoint_url: str
    input_bucket: str
    output_bucket: str
    queue_url: str
    queue_arn: str
    dead_letter_url: str
    dead_letter_arn: str
    region: str = settings.REGION


def s3_client(endpoint_url: str) -> S3Client:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=settings.REGION,
        aws_access_key_id=LOCAL_KEY,
        aws_secret_access_key=LOCAL_KEY,
    )


def sqs_client(endpoint_url: str) -> SQSClient:
    return boto3.client(
        "sqs",
        endpoint_url=endpoint_url,
        region_name=settings.REGION,
        aws_access_key_id=LOCAL_KEY,
        aws_secret_access_key=LOCAL_KEY,
    )


def create(endpoint_url: str, queue: QueueSettings) -> Topology:
    """Create everything on `endpoint_url` (a fresh moto server)."""
    s3, sqs = s3_client(endpoint_url), sqs_client(endpoint_url)
    for bucket in (settings.INPUT_BUCKET, settings.OUTPUT_BUCKET):
        s3.create_bucket(Bucket=bucket)
    dead_letter_url = sqs.create_queue(
        QueueName=settings.DEAD_LETTER_QUEUE,
        Attributes={"MessageRetentionPeriod": str(queue.dead_letter_retention_s)},
    )["QueueUrl"]
    dead_letter_arn = _arn(sqs, dead_letter_url)
    redrive: dict[str, Any] = {
        "deadLetterTargetArn": dead_letter_arn,
        "maxReceiveCount": queue.max_receive_count,
    }
    queue_url = sqs.create_queue(
        QueueName=settings.INGEST_QUEUE,
        Attributes={
            "VisibilityTimeout": str(queue.visibility_timeout),
            "MessageRetentionPeriod": str(queue.retention_s),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    queue_arn = _arn(sqs, queue_url)
    # S3 sends its s3:TestEvent to the queue now, as it does in AWS.
    s3.put_bucket_notification_configuration(
        Bucket=settings.INPUT_BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"Id": "ocr-ingest", "QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    return Topology(
        endpoint_url,
        settings.INPUT_BUCKET,
        settings.OUTPUT_BUCKET,
        queue_url,
        queue_arn,
        dead_letter_url,
        dead_letter_arn,
    )


def _arn(sqs: SQSClient, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


def queue_depth(sqs: SQSClient, url: str) -> tuple[int, int]:
    """(visible, in flight) messages, as SQS approximates them."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes.get("ApproximateNumberOfMessages", "0")),
        int(attributes.get("ApproximateNumberOfMessagesNotVisible", "0")),
    )
