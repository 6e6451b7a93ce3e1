"""Where an object's one result goes, and how it is written exactly once.

Each uploaded object ends as exactly one result in the output bucket: `<key>.txt` with its
text, or `<key>.error.json` saying why it could not be recognized. Both carry the source's
bucket, key, ETag and version in their metadata, which is what makes re-delivery cheap:
S3 delivers events at least once, and a result already recording the same source version means
the work is done.

Writes are compare-and-swap (S3 conditional writes): a result is created only if absent, or
replaced only if it is still the one that was read. Before writing, the source is checked
once more: if it has changed since (a newer upload), the newer upload's own event owns the
result, and this one steps aside. So concurrent duplicates cannot interleave, and a slow
older run can never overwrite a newer version's result.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from ocr_service.aws.storage import ObjectStore, PreconditionFailedError

TEXT_SUFFIX = ".txt"
ERROR_SUFFIX = ".error.json"
MAX_KEY_BYTES = 1024  # S3's limit for a key, in UTF-8 bytes
LONG_KEYS_PREFIX = "_long-keys/"  # failure records of keys too long to take a suffix
_MAX_METADATA_KEY_CHARS = 1024  # S3 allows 2 KB of user metadata in all
_WRITE_ATTEMPTS = 5
# A failure record's metadata: "false" for a failure the deployment caused (a missing model, a
# timeout too short, ...), which does not count as the object's result (failures.py).
FINAL_METADATA = "failure-final"


class Published(enum.Enum):
    WRITTEN = "written"
    DUPLICATE = "duplicate"  # the same source version already has this result
    SUPERSEDED = "superseded"  # the source changed meanwhile; its newer event owns the result


@dataclass(frozen=True)
class ObjectVersion:
    """One version of one uploaded object: what a result is about, what a page task reads,
    and what an event names once its key is decoded (event_shapes.ObjectRef.version)."""

    bucket: str
    key: str
    etag: str
    version_id: str | None

    def metadata(self) -> dict[str, str]:
        """S3 user metadata (ASCII only): the key percent-encoded as UTF-8, or its SHA-256
        when even that would not fit S3's metadata limit."""
        encoded_key = quote(self.key, safe="/")
        if len(encoded_key) > _MAX_METADATA_KEY_CHARS:
            encoded_key = "sha256:" + hashlib.sha256(self.key.encode("utf-8")).hexdigest()
        return {
            "source-bucket": self.bucket,
            "source-key": encoded_key,
            "source-etag": self.etag,
            "source-version-id": self.version_id or "null",
        }

    def is_recorded_in(self, metadata: Mapping[str, str]) -> bool:
        """Whether a result's metadata names exactly this version of this object."""
        return bool(self.etag) and all(
            metadata.get(name) == value for name, value in self.metadata().items()
        )


@dataclass(frozen=True)
class ResultKeys:
    text: str
    error: str
    source_key: str

    def output(self, suffix: str) -> str:
        """Where an optional output goes (`a/scan.png` + `.alto.xml`)."""
        return self.source_key + suffix


def result_keys(source_key: str) -> ResultKeys | None:
    """`a/scan.png` -> `a/scan.png.txt` and `a/scan.png.error.json`: unique per input, never
    an image name. None when the key is too long to take the suffixes within S3's limit."""
    if len((source_key + ERROR_SUFFIX).encode("utf-8")) > MAX_KEY_BYTES:
        return None
    return ResultKeys(
        text=source_key + TEXT_SUFFIX,
        error=source_key + ERROR_SUFFIX,
        source_key=source_key,
    )


def long_key_error_key(source_key: str) -> str:
    """Where the failure record of an over-long key goes (its full key is in the record)."""
    return LONG_KEYS_PREFIX + hashlib.sha256(source_key.encode("utf-8")).hexdigest() + ERROR_SUFFIX


class ResultWriter:
    """Finds and writes results in one output bucket."""

    def __init__(self, store: ObjectStore, output_bucket: str) -> None:
        self._store = store
        self._bucket = output_bucket

    def recorded_result(self, source: ObjectVersion) -> str | None:
        """The key of a result that already records this source version, if there is one. A
        failure record of a failure that heals (FINAL_METADATA "false") is no result: the
        object is recognized again."""
        keys = result_keys(source.key)
        candidates = [keys.text, keys.error] if keys else [long_key_error_key(source.key)]
        for key in candidates:
            head = self._store.head_object(self._bucket, key)
            if head is None or not source.is_recorded_in(head.metadata):
                continue
            if head.metadata.get(FINAL_METADATA) != "false":
                return key
        return None

    def publish(
        self,
        source: ObjectVersion,
        key: str,
        body: bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        replaces: Sequence[str] = (),
    ) -> Published:
        """Write `key` for `source` unless it is a duplicate or the source moved on; then
        delete `replaces` (results of the other kind, left by an earlier version)."""
        full_metadata = {**metadata, **source.metadata()}
        for _ in range(_WRITE_ATTEMPTS):
            current = self._store.head_object(self._bucket, key)
            if current is not None and source.is_recorded_in(current.metadata):
                return Published.DUPLICATE
            if self._source_moved_on(source):
                return Published.SUPERSEDED
            try:
                self._store.put_object(
                    self._bucket,
                    key,
                    body,
                    content_type,
                    full_metadata,
                    replaces_etag=current.etag if current is not None else None,
                )
                break
            except PreconditionFailedError:
                continue  # another writer got there first: look again
        else:
            raise PreconditionFailedError(f"s3://{self._bucket}/{key} kept changing; retry later")
        for stale in replaces:
            if self._store.head_object(self._bucket, stale) is not None:
                self._store.delete_object(self._bucket, stale)
        return Published.WRITTEN

    def _source_moved_on(self, source: ObjectVersion) -> bool:
        current = self._store.head_object(source.bucket, source.key)
        if current is None or not source.etag:
            return False  # deleted meanwhile, or nothing to compare: record what we read
        if source.version_id and current.version_id:
            return current.version_id != source.version_id
        return current.etag != source.etag
