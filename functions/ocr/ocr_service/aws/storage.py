"""Reading source objects from and writing results to S3, behind a small interface."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from ocr_service.core.failures import OcrError, Reason

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
PDF_CONTENT_TYPE = "application/pdf"
_MISSING_CODES = {"NoSuchKey", "NoSuchVersion", "NoSuchBucket", "404"}
# The role may list the input bucket, so S3 answers 404 for a missing key there and 403 only
# when the role may not read it; result keys are looked up without that right (403 = absent).
_DENIED_CODES = {"AccessDenied", "403"}


class PreconditionFailedError(RuntimeError):
    """A conditional write lost a race: the target changed since it was read."""


@dataclass(frozen=True)
class DownloadedObject:
    """One version of an uploaded object, read whole (its identity: pipeline builds the
    ObjectVersion of what was read from these fields)."""

    bucket: str
    key: str
    version_id: str | None
    etag: str
    body: bytes
    metadata: Mapping[str, str] = field(default_factory=dict)
    """The object's user metadata (x-amz-meta-*), lower-case names."""


@dataclass(frozen=True)
class ObjectHead:
    """An object's identity and user metadata, without its body."""

    etag: str
    version_id: str | None
    metadata: Mapping[str, str] = field(default_factory=dict)


class ObjectStore(Protocol):
    """What the pipeline needs from storage."""

    def get_object(
        self, bucket: str, key: str, version_id: str | None, max_bytes: int
    ) -> DownloadedObject: ...

    def head_object(self, bucket: str, key: str) -> ObjectHead | None: ...

    def put_object(
        self,
        bucket: str,
        key: str,
        body: bytes,
        content_type: str,
        metadata: Mapping[str, str],
        *,
        replaces_etag: str | None,
    ) -> None: ...

    def delete_object(self, bucket: str, key: str) -> None: ...

    def list_keys(self, bucket: str, prefix: str) -> list[str]: ...


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3ObjectStore:
    """ObjectStore over an S3 client (which honours AWS_ENDPOINT_URL for local endpoints)."""

    def __init__(self, client: S3Client) -> None:
        self._client = client

    def get_object(
        self, bucket: str, key: str, version_id: str | None, max_bytes: int
    ) -> DownloadedObject:
        """Read the object, the exact version that triggered the event when it is known.

        The size is checked from the response headers before the body is read."""
        request: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            request["VersionId"] = version_id
        try:
            response = self._client.get_object(**request)
        except ClientError as error:
            code = _error_code(error)
            if code in _MISSING_CODES:
                raise OcrError(
                    Reason.OBJECT_MISSING, f"s3://{bucket}/{key} does not exist (any more) ({code})"
                ) from error
            if code in _DENIED_CODES:
                raise OcrError(
                    Reason.ACCESS_DENIED,
                    f"the function's role may not read s3://{bucket}/{key} ({code}): grant it "
                    "s3:GetObject (and s3:GetObjectVersion, and kms:Decrypt for a KMS key)",
                ) from error
            raise
        with response["Body"] as body:
            size = int(response.get("ContentLength", 0))
            if size > max_bytes:
                raise OcrError(
                    Reason.TOO_LARGE,
                    f"the object is {size:,} bytes; the limit is {max_bytes:,} "
                    "(OCR_MAX_OBJECT_BYTES)",
                )
            data = body.read()
        return DownloadedObject(
            bucket=bucket,
            key=key,
            version_id=response.get("VersionId") or version_id,
            etag=str(response.get("ETag", "")).strip('"'),
            body=data,
            metadata=response.get("Metadata", {}),
        )

    def head_object(self, bucket: str, key: str) -> ObjectHead | None:
        """The object's identity and metadata, or None when there is no such object."""
        try:
            response = self._client.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if _error_code(error) in _MISSING_CODES | _DENIED_CODES | {"NotFound"}:
                return None  # 403 too: without s3:ListBucket that is how S3 says "no such key"
            raise
        return ObjectHead(
            etag=str(response.get("ETag", "")).strip('"'),
            version_id=response.get("VersionId"),
            metadata=response.get("Metadata", {}),
        )

    def put_object(
        self,
        bucket: str,
        key: str,
        body: bytes,
        content_type: str,
        metadata: Mapping[str, str],
        *,
        replaces_etag: str | None,
    ) -> None:
        """Write the whole object in one request (S3 never shows a partial object), and only
        if the target is still what the caller saw: absent (`replaces_etag` None) or the object
        with that ETag. Raise PreconditionFailedError when another writer got there first."""
        condition: dict[str, str] = (
            {"IfMatch": f'"{replaces_etag}"'} if replaces_etag else {"IfNoneMatch": "*"}
        )
        try:
            self._client.put_object(
                Bucket=bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                Metadata=dict(metadata),
                **condition,  # type: ignore[arg-type]
            )
        except ClientError as error:
            if _error_code(error) in {"PreconditionFailed", "ConditionalRequestConflict", "412"}:
                raise PreconditionFailedError(f"s3://{bucket}/{key} changed meanwhile") from error
            raise

    def delete_object(self, bucket: str, key: str) -> None:
        self._client.delete_object(Bucket=bucket, Key=key)

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        """Every key under `prefix` (the role may list only the parts prefix)."""
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]
