"""Objects put into the test S3 and the events that announce them, as S3 would send them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocr_service.aws.event_shapes import ObjectRef, refs_from_notification
from tests.support.deployment import INPUT_BUCKET, OUTPUT_BUCKET
from tools.events import Upload, encode_key, s3_put_event

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def upload(s3: S3Client, key: str, body: bytes, bucket: str = INPUT_BUCKET) -> Upload:
    """Put an object and describe it as S3's event would (ETag, version, encoded key)."""
    put = s3.put_object(Bucket=bucket, Key=key, Body=body)
    return Upload(bucket, encode_key(key), len(body), put["ETag"].strip('"'), put.get("VersionId"))


def event_of(*uploads: Upload) -> list[ObjectRef]:
    """The objects an S3 put event for `uploads` names, as the handler reads them."""
    return refs_from_notification(s3_put_event(list(uploads)))


def output_keys(s3: S3Client, bucket: str = OUTPUT_BUCKET) -> list[str]:
    """Every key in the output bucket, sorted."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def text_of(s3: S3Client, key: str, bucket: str = OUTPUT_BUCKET) -> str:
    """A result's body, decoded."""
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
