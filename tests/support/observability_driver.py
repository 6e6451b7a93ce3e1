"""The function in a fresh process, as in a cold start, for test_observability.py to read its
stdout the way CloudWatch receives it: Init (app.py imported with template.yaml's environment,
a fake engine), then the same S3 notification, a good image and an empty object, twice.

    PYTHONPATH=<repo>:<repo>/functions/ocr python tests/support/observability_driver.py

Before each invocation it prints a marker line, {"driver_invocation": N}, so that what each
invocation logged can be told apart from Init's lines and from the other's.
"""

from __future__ import annotations

import json
from unittest import mock

import boto3
from moto import mock_aws

from ocr_service import engines
from tests.support.samples import PNG
from tools.events import Upload, s3_put_event
from tools.fake_engine import FakeEngine
from tools.local_run import import_handler_module, invoke
from tools.template_env import function_environment

MARKER = "driver_invocation"
INPUT_BUCKET, OUTPUT_BUCKET = "in-bucket", "out-bucket"
OBJECTS = (("good.png", PNG), ("empty.png", b""))
INVOCATIONS = 2


def main() -> None:
    with mock_aws(), mock.patch.object(engines, "start_engine", return_value=FakeEngine()):
        s3 = boto3.client("s3")
        for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
            s3.create_bucket(Bucket=bucket)
        uploads = []
        for key, body in OBJECTS:
            etag = s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)["ETag"].strip('"')
            uploads.append(Upload(INPUT_BUCKET, key, len(body), etag))
        environment = function_environment({"OutputBucket": OUTPUT_BUCKET})
        module, _ = import_handler_module(environment)
        for number in range(1, INVOCATIONS + 1):
            print(json.dumps({MARKER: number}), flush=True)
            invoke(module, s3_put_event(uploads))


if __name__ == "__main__":
    main()
