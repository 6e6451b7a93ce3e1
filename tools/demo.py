"""`make demo`: one image through an in-process S3 (moto), the real handler and the real engine.

Renders a sample page (or takes --image), uploads it to a local input bucket, invokes the
handler with an S3 put event in SAM's format, and prints the .txt from the output bucket.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import boto3
from moto import mock_aws

from tools.events import Upload, encode_key, s3_put_event
from tools.local_run import import_handler_module, invoke, local_environment, print_result_text
from tools.samples import render_lines

INPUT_BUCKET = "demo-input"
OUTPUT_BUCKET = "demo-output"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--image", type=Path, help="an image to recognize instead of the sample")
    parser.add_argument(
        "--engine",
        choices=("aspose", "tesseract"),
        help="the OCR engine (template parameter OcrEngine; default: OCR_ENGINE, else aspose)",
    )
    args = parser.parse_args()
    if args.image:
        key, body = f"uploads/{args.image.name}", args.image.read_bytes()
    else:
        key, body = "scans/invoice 4821.png", render_lines()

    # An in-process S3: no endpoint, fake credentials, nothing leaves this machine.
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="demo", AWS_SECRET_ACCESS_KEY="demo", AWS_DEFAULT_REGION="us-east-1"
    )
    environment = local_environment(OUTPUT_BUCKET, args.engine)
    print(f"engine: {environment['OCR_ENGINE']}")
    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
            s3.create_bucket(Bucket=bucket)
        put = s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)
        print(f"uploaded s3://{INPUT_BUCKET}/{key} ({len(body)} bytes)")
        module, init_seconds = import_handler_module(environment)
        print(f"Init (import, engine start, warm-up): {init_seconds:.2f} s")
        event = s3_put_event(
            [Upload(INPUT_BUCKET, encode_key(key), len(body), put["ETag"].strip('"'))]
        )
        result = invoke(module, event)
        print(json.dumps(result, indent=2, ensure_ascii=False))
        for done in result["succeeded"]:
            print_result_text(s3, OUTPUT_BUCKET, done["output_key"])
        return 1 if result["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
