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
from urllib.parse import unquote_plus

import boto3

from tools.local_run import import_handler_module, invoke, local_environment, print_result_text
from tools.samples import render_lines

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Paths that differ between this machine and Lambda: the caller's values win when set.
DEFAULT_OUTPUT_BUCKET = "aspose-ocr-output-example"


def seed(s3: S3Client, event: dict[str, Any], output_bucket: str) -> None:
    """Create the buckets and upload a sample page at every record's (decoded) key."""
    uploads = [
        (record["s3"]["bucket"]["name"], unquote_plus(record["s3"]["object"]["key"]))
        for record in event["Records"]
    ]
    for bucket in sorted({output_bucket, *(bucket for bucket, _ in uploads)}):
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=bucket)
    for bucket, key in uploads:
        s3.put_object(Bucket=bucket, Key=key, Body=render_lines())
        print(f"seeded s3://{bucket}/{key}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--event", type=Path, required=True, help="an S3 event in SAM's format")
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
    result = invoke(module, event)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    for done in result["succeeded"]:
        print_result_text(s3, output_bucket, done["output_key"])
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
