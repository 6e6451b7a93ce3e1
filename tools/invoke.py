"""`make invoke EVENT=...`: the Docker-free twin of `sam local invoke OcrFunction -e EVENT`.

Runs the real handler in this process on an event file, with the environment template.yaml
declares, against the S3 endpoint in AWS_ENDPOINT_URL (a local moto_server, say) or, when it is
unset, against real AWS with your credentials. `--seed` first creates the event's buckets and
uploads a rendered sample page at each record's key; it refuses to run without a local endpoint.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from ocr_service.aws.event_shapes import (
    EventShape,
    UnsupportedEventError,
    batch_tasks,
    read_message,
    ref_from_eventbridge,
    refs_from_notification,
    shape_of,
)
from tools.local_run import import_handler_module, invoke, local_environment, print_result_text
from tools.samples import render_lines

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Paths that differ between this machine and Lambda: the caller's values win when set.
DEFAULT_OUTPUT_BUCKET = "aspose-ocr-output-example"


def named_objects(event: dict[str, Any]) -> list[tuple[str, str]]:
    """(bucket, key) of every object the event names, read as the handler reads it."""
    shape = shape_of(event)
    if shape is EventShape.S3:
        refs = refs_from_notification(event)
    elif shape is EventShape.EVENTBRIDGE:
        refs = [ref_from_eventbridge(event)]
    elif shape is EventShape.BATCH_OPERATIONS:
        refs = [task.ref for task in batch_tasks(event)]
    else:
        messages = [read_message(record["body"]) for record in event["Records"]]
        refs = [ref for message in messages if isinstance(message, list) for ref in message]
    return [(ref.bucket, ref.key) for ref in refs if ref.is_upload]


def seed(s3: S3Client, event: dict[str, Any], output_bucket: str) -> None:
    """Create the buckets and upload a sample page at every object the event names."""
    uploads = named_objects(event)
    for bucket in sorted({output_bucket, *(bucket for bucket, _ in uploads)}):
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=bucket)
    for bucket, key in uploads:
        s3.put_object(Bucket=bucket, Key=key, Body=render_lines())
        print(f"seeded s3://{bucket}/{key}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--event",
        type=Path,
        required=True,
        help="an event of any shape the function accepts (events/*.json)",
    )
    parser.add_argument("--seed", action="store_true", help="create buckets and sample objects")
    args = parser.parse_args()
    event = json.loads(args.event.read_text(encoding="utf-8"))
    output_bucket = os.environ.get("OUTPUT_BUCKET", DEFAULT_OUTPUT_BUCKET)
    environment = local_environment(output_bucket)
    s3 = boto3.client("s3")
    if args.seed:
        if not os.environ.get("AWS_ENDPOINT_URL"):
            print("--seed needs AWS_ENDPOINT_URL (a local S3: `make local-s3`)", file=sys.stderr)
            return 2
        seed(s3, event, output_bucket)
    module, init_seconds = import_handler_module(environment)
    print(f"Init: {init_seconds:.2f} s", file=sys.stderr)
    try:
        result = invoke(module, event)
    except UnsupportedEventError as error:
        print(f"invoke: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, ensure_ascii=False))
    for _, key in named_objects(event):
        for suffix in (".txt", ".error.json"):
            with contextlib.suppress(s3.exceptions.NoSuchKey):
                print_result_text(s3, output_bucket, key + suffix)
    # A direct event lists failures; an SQS batch lists the messages to retry; Batch Operations
    # answers each task.
    failed = result.get("failed") or result.get("batchItemFailures")
    answers = result.get("results", [])
    return 1 if failed or any(a.get("resultCode") != "Succeeded" for a in answers) else 0


if __name__ == "__main__":
    raise SystemExit(main())
