"""Reading source objects from and writing results to S3, behind a small interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
# Without s3:ListBucket (least privilege) S3 answers 403, not 404, for a missing key.
_MISSING_CODES = {"NoSuchKey", "NoSuchVersion", "NoSuchBucket", "404", "AccessDenied", "403"}


class SourceUnavailableError(LookupError):
    """The source object is gone or not readable by this function. Retrying cannot help."""


@dataclass(frozen=True)
class SourceObject:
    """One version of an uploaded object, read whole."""

    bucket: str
    key: str
    version_id: str | None
    etag: str
    body: bytes


class ObjectStore(Protocol):
    """What the pipeline needs from storage."""

    def get_object(self, bucket: str, key: str, version_id: str | None) -> SourceObject: ...

    def put_text(self, bucket: str, key: str, text: str, metadata: dict[str, str]) -> None: ...


class S3ObjectStore:
    """ObjectStore over an S3 client (which honours AWS_ENDPOINT_URL for local endpoints)."""

    def __init__(self, client: S3Client) -> None:
        self._client = client

    def get_object(self, bucket: str, key: str, version_id: str | None) -> SourceObject:
        """Read the object; the exact version that triggered the event when it is known."""
        request = {"Bucket": bucket, "Key": key}
        if version_id:
            request["VersionId"] = version_id
        try:
            response = self._client.get_object(**request)  # type: ignore[arg-type]
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _MISSING_CODES:
                raise SourceUnavailableError(
                    f"s3://{bucket}/{key} does not exist (any more) or is not readable ({code})"
                ) from error
            raise
        with response["Body"] as body:
            data = body.read()
        return SourceObject(
            bucket=bucket,
            key=key,
            version_id=response.get("VersionId") or version_id,
            etag=str(response.get("ETag", "")).strip('"'),
            body=data,
        )

    def put_text(self, bucket: str, key: str, text: str, metadata: dict[str, str]) -> None:
        """Write UTF-8 text; S3 makes the object visible only once it is complete."""
        self._client.put_object(
            Bucket=bucket,
            Key=key,
            Body=text.encode("utf-8"),
            ContentType=TEXT_CONTENT_TYPE,
            Metadata=metadata,
        )
