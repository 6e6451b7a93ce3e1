"""`make reprocess`: recognize again the objects whose failure records match, once the cause
of their failure is fixed (a model bundled, the timeout raised, the role fixed).

Lists the output bucket's failure records (`<key>.error.json`, optionally under --prefix, and
those of over-long keys under `_long-keys/`), reads each record's metadata (its reason and the
source object), and puts an S3-notification-shaped message per matching source object into the
ingest queue, exactly as `make backfill` does (tools/backfill.py: ten per request, rate-bounded,
failed entries retried alone).

    python -m tools.reprocess --stack NAME [--reason model-missing] [--prefix scans/]
    python -m tools.reprocess --local [--reason ...]     # make up's ocr-output -> ocr-ingest

By default every reason that heals (failures.Reason.heals: model-missing, exceeds-time-limit,
access-denied, engine-error) matches: the function does not count those records as results,
so it recognizes the object again. A record of a failure inherent to the bytes (empty, corrupt,
over a limit) stays the object's result until the object changes; naming such a reason
re-enqueues the objects anyway, and the function skips them as duplicates (said on the
console). Exit status: 0 when every matching object was enqueued, 1 when some could not be
sent, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

import boto3

from ocr_service.aws.results import ERROR_SUFFIX, LONG_KEYS_PREFIX
from ocr_service.core.failures import Reason
from tools.backfill import (
    BATCH_SIZE,
    DEFAULT_RATE,
    LOCAL_QUEUE,
    ListedObject,
    Pacer,
    Sender,
    SendError,
    message_body,
)
from tools.redrive import require_outputs, stack_outputs

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

LOCAL_OUTPUT_BUCKET = "ocr-output"
OUTPUTS = ("OutputBucketName", "IngestQueueUrl")
HEALING = tuple(reason for reason in Reason if reason.heals)


@dataclass(frozen=True)
class FailedObject:
    """A source object its failure record names."""

    bucket: str
    key: str
    etag: str
    reason: Reason


def failure_records(s3: S3Client, bucket: str, prefix: str) -> Iterator[str]:
    """The keys of the failure records under `prefix` (and of over-long keys)."""
    paginator = s3.get_paginator("list_objects_v2")
    for where in dict.fromkeys((prefix, LONG_KEYS_PREFIX)):
        for page in paginator.paginate(Bucket=bucket, Prefix=where):
            for item in page.get("Contents", []):
                if item["Key"].endswith(ERROR_SUFFIX):
                    yield item["Key"]


def failed_object(s3: S3Client, bucket: str, record_key: str) -> FailedObject | None:
    """The source object and reason a failure record names (from its metadata), or None for
    a record that no longer exists or does not name its source (over-long keys are hashed)."""
    try:
        metadata = s3.head_object(Bucket=bucket, Key=record_key)["Metadata"]
    except s3.exceptions.ClientError:
        return None
    source_key = metadata.get("source-key", "")
    if not source_key or source_key.startswith("sha256:"):
        return None
    try:
        reason = Reason(metadata.get("failure-reason", ""))
    except ValueError:
        return None
    return FailedObject(
        metadata.get("source-bucket", ""),
        unquote(source_key),  # percent-encoded UTF-8 in the record's metadata
        metadata.get("source-etag", ""),
        reason,
    )


def matching(
    s3: S3Client, bucket: str, prefix: str, reasons: frozenset[Reason]
) -> Iterator[FailedObject]:
    for record_key in failure_records(s3, bucket, prefix):
        failed = failed_object(s3, bucket, record_key)
        if failed is not None and failed.reason in reasons:
            yield failed


def reprocess(
    s3: S3Client,
    sender: Sender,
    output_bucket: str,
    *,
    prefix: str,
    reasons: frozenset[Reason],
    pacer: Pacer,
) -> tuple[int, int]:
    """Enqueue every matching object; (enqueued, not sent)."""
    enqueued = unsent = 0
    batch: list[FailedObject] = []

    def flush() -> None:
        nonlocal enqueued, unsent
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {
                "Id": str(index),
                "MessageBody": message_body(
                    failed.bucket, ListedObject(failed.key, 0, failed.etag)
                ),
            }
            for index, failed in enumerate(batch)
        ]
        pacer.wait(len(entries))
        try:
            sender.send(entries)
            enqueued += len(entries)
        except SendError as error:
            unsent += len(error.failed)
            enqueued += len(entries) - len(error.failed)
        batch.clear()

    for failed in matching(s3, output_bucket, prefix, reasons):
        print(f"{failed.reason}: s3://{failed.bucket}/{failed.key}")
        batch.append(failed)
        if len(batch) == BATCH_SIZE:
            flush()
    if batch:
        flush()
    return enqueued, unsent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.reprocess",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stack", help="take the output bucket and queue from the stack")
    parser.add_argument("--local", action="store_true", help="make up's ocr-output, ocr-ingest")
    parser.add_argument("--bucket", help="the output bucket (with --local)")
    parser.add_argument("--queue-url", help="the ingest queue (with --local)")
    parser.add_argument(
        "--reason",
        action="append",
        choices=[reason.value for reason in Reason],
        help="only records of this reason (repeatable; default: every reason that heals)",
    )
    parser.add_argument("--prefix", default="", help="only records under this key prefix")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE, help="messages per second")
    args = parser.parse_args(argv)
    if bool(args.stack) == bool(args.local):
        parser.error("name the deployment: --stack NAME, or --local")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    reasons = frozenset(Reason(value) for value in args.reason) if args.reason else None
    reasons = reasons or frozenset(HEALING)
    if final := sorted(reason.value for reason in reasons if not reason.heals):
        print(
            f"note: {', '.join(final)} records are final results; the function skips those "
            "objects as duplicates unless they changed",
            file=sys.stderr,
        )
    s3 = boto3.client("s3")
    sqs = boto3.client("sqs")
    if args.stack:
        outputs = stack_outputs(boto3.client("cloudformation"), args.stack)
        require_outputs(outputs, args.stack, OUTPUTS)
        bucket, queue_url = outputs[OUTPUTS[0]], outputs[OUTPUTS[1]]
    else:
        bucket = args.bucket or LOCAL_OUTPUT_BUCKET
        queue_url = args.queue_url or sqs.get_queue_url(QueueName=LOCAL_QUEUE)["QueueUrl"]
    pacer = Pacer(args.rate, time.monotonic, time.sleep)
    enqueued, unsent = reprocess(
        s3, Sender(sqs, queue_url), bucket, prefix=args.prefix, reasons=reasons, pacer=pacer
    )
    print(f"re-enqueued {enqueued} object(s); {unsent} could not be sent", file=sys.stderr)
    return 1 if unsent else 0


if __name__ == "__main__":
    raise SystemExit(main())
