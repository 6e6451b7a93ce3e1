"""Long documents fan out by pages: page-range tasks through the ingest queue, their parts in
the output bucket, and exactly one assembly of the parts into the document's results.

A TIFF or PDF with more pages than OCR_PAGES_PER_TASK is split into tasks of that many pages,
sent back to the queue the object's own event came from (OCR_TASK_QUEUE_URL), so up to the
queue's MaximumConcurrency invocations recognize one document at once. Each task writes its
part under `.ocr-parts/` (a prefix no result lives under; a lifecycle rule expires what a
crash leaves). The task that finds every part present claims the assembly with an S3
conditional write (create-if-absent), so exactly one task assembles even when several finish
together or a task is delivered twice; a claim older than the function's timeout is taken over,
because its holder can no longer be running.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ocr_service.aws.event_shapes import PAGE_TASK_KEY, UnsupportedEventError
from ocr_service.aws.results import ObjectVersion
from ocr_service.aws.storage import (
    JSON_CONTENT_TYPE,
    PDF_CONTENT_TYPE,
    ObjectStore,
    PreconditionFailedError,
)
from ocr_service.core.failures import Reason
from ocr_service.engines.port import PageRange

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

PARTS_PREFIX = ".ocr-parts/"
_PART_MAX_BYTES = 1 << 30
_SEND_ATTEMPTS = 4
_CLAIM = "assembly.claim"


@dataclass(frozen=True)
class PageTask:
    """Recognize `pages` of one version of a document of `page_count` pages."""

    source: ObjectVersion
    pages: PageRange
    page_count: int
    pages_per_task: int
    """As the document was split: every task of a document agrees on its ranges."""

    def body(self) -> str:
        source = self.source
        fields = {
            "bucket": source.bucket,
            "key": source.key,
            "etag": source.etag,
            "versionId": source.version_id,
            "firstPage": self.pages.first,
            "lastPage": self.pages.last,
            "pageCount": self.page_count,
            "pagesPerTask": self.pages_per_task,
        }
        return json.dumps({PAGE_TASK_KEY: fields}, ensure_ascii=False)

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> PageTask:
        try:
            source = ObjectVersion(
                str(fields["bucket"]), str(fields["key"]), str(fields["etag"]), fields["versionId"]
            )
            pages = PageRange(int(fields["firstPage"]), int(fields["lastPage"]))
            return cls(source, pages, int(fields["pageCount"]), int(fields["pagesPerTask"]))
        except (KeyError, TypeError, ValueError) as error:
            raise UnsupportedEventError(f"a page task without {error}: {dict(fields)}") from error

    @property
    def ranges(self) -> list[PageRange]:
        return plan(self.page_count, self.pages_per_task)


def plan(page_count: int, pages_per_task: int) -> list[PageRange]:
    """`pages_per_task` pages a task, the last one shorter."""
    return [
        PageRange(first, min(first + pages_per_task - 1, page_count))
        for first in range(1, page_count + 1, pages_per_task)
    ]


class TaskQueue(Protocol):
    """Where page tasks go (the ingest queue)."""

    def send(self, bodies: Sequence[str]) -> None: ...


class TaskQueueError(RuntimeError):
    """Tasks could not be sent; the document's record is retried (sending again is safe)."""


class SqsTaskQueue:
    """Sends page tasks to the ingest queue, ten per request, retrying only what failed."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, bodies: Sequence[str]) -> None:
        for start in range(0, len(bodies), 10):
            pending = {str(index): body for index, body in enumerate(bodies[start : start + 10])}
            for attempt in range(_SEND_ATTEMPTS):
                entries: list[SendMessageBatchRequestEntryTypeDef] = [
                    {"Id": id_, "MessageBody": body} for id_, body in pending.items()
                ]
                response = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
                pending = {f["Id"]: pending[f["Id"]] for f in response.get("Failed", [])}
                if not pending:
                    break
                time.sleep(0.2 * 2**attempt)
            if pending:
                raise TaskQueueError(f"{len(pending)} page task(s) could not be sent to the queue")


class Parts:
    """The parts of one version of one document, in the output bucket."""

    def __init__(self, store: ObjectStore, bucket: str, source: ObjectVersion) -> None:
        self._store = store
        self._bucket = bucket
        identity = f"{source.bucket}/{source.key}".encode()
        version = f"{source.version_id or 'null'}-{source.etag}"
        self.prefix = f"{PARTS_PREFIX}{hashlib.sha256(identity).hexdigest()}/{version}/"

    def _key(self, pages: PageRange, suffix: str) -> str:
        return f"{self.prefix}{pages.first:05d}-{pages.last:05d}{suffix}"

    def write(self, pages: PageRange, document: Mapping[str, Any], pdf: bytes | None) -> None:
        """The PDF first: a part's JSON marks it complete."""
        if pdf is not None:
            self._create(self._key(pages, ".pdf"), pdf, PDF_CONTENT_TYPE)
        self._create(self._key(pages, ".json"), _json(document), JSON_CONTENT_TYPE)

    def write_failure(self, pages: PageRange, reason: Reason, message: str) -> None:
        failure = {"first_page": pages.first, "last_page": pages.last, "reason": reason}
        self._create(
            self._key(pages, ".error.json"),
            _json({**failure, "message": message}),
            JSON_CONTENT_TYPE,
        )

    def _create(self, key: str, body: bytes, content_type: str) -> None:
        # PreconditionFailed: a duplicate delivery of the same task wrote it already, the same.
        with contextlib.suppress(PreconditionFailedError):
            self._store.put_object(self._bucket, key, body, content_type, {}, replaces_etag=None)

    def has(self, pages: PageRange) -> bool:
        """Whether this range's part (or its failure) is written: a redelivery skips the work."""
        present = self._store.list_keys(self._bucket, self._key(pages, ""))
        return any(key.endswith((".json", ".error.json")) for key in present)

    def complete(self, ranges: Sequence[PageRange]) -> bool:
        present = set(self._store.list_keys(self._bucket, self.prefix))
        return all(
            self._key(pages, ".json") in present or self._key(pages, ".error.json") in present
            for pages in ranges
        )

    def claim(self, stale_after_s: float, now: float | None = None) -> bool:
        """Whether this task assembles: it created the claim, or took over a stale one."""
        now = time.time() if now is None else now
        key = self.prefix + _CLAIM
        stamp = {"claimed-at": f"{now:.3f}"}
        try:
            self._store.put_object(self._bucket, key, b"", "text/plain", stamp, replaces_etag=None)
            return True
        except PreconditionFailedError:
            current = self._store.head_object(self._bucket, key)
        if current is None:
            return False  # assembled and cleaned up meanwhile
        claimed_at = float(current.metadata.get("claimed-at", "0") or 0)
        if now - claimed_at < stale_after_s:
            return False  # another task is assembling
        try:
            self._store.put_object(
                self._bucket, key, b"", "text/plain", stamp, replaces_etag=current.etag
            )
            return True
        except PreconditionFailedError:
            return False

    def read(self, ranges: Sequence[PageRange], with_pdf: bool) -> list[AssembledPart]:
        """Every range's part, in page order."""
        present = set(self._store.list_keys(self._bucket, self.prefix))
        parts: list[AssembledPart] = []
        for pages in ranges:
            failed = self._key(pages, ".error.json")
            if failed in present:
                parts.append(AssembledPart(pages, self._get_json(failed), None, failed=True))
                continue
            pdf = self._get(self._key(pages, ".pdf")) if with_pdf else None
            parts.append(AssembledPart(pages, self._get_json(self._key(pages, ".json")), pdf))
        return parts

    def _get(self, key: str) -> bytes:
        return self._store.get_object(self._bucket, key, None, _PART_MAX_BYTES).body

    def _get_json(self, key: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self._get(key))
        return document

    def delete(self) -> None:
        """Every part, the claim last (a late duplicate then finds the result and stops)."""
        keys = sorted(
            self._store.list_keys(self._bucket, self.prefix), key=lambda k: k.endswith(_CLAIM)
        )
        for key in keys:
            self._store.delete_object(self._bucket, key)


@dataclass(frozen=True)
class AssembledPart:
    pages: PageRange
    document: dict[str, Any]
    pdf: bytes | None
    failed: bool = False


def merge_pdfs(documents: Sequence[bytes]) -> bytes:
    """One PDF with every page of `documents`, in order (pypdf: pure Python, maintained)."""
    import io  # noqa: PLC0415

    from pypdf import PdfWriter  # noqa: PLC0415 - only assemblies that write a PDF need it

    writer = PdfWriter()
    for document in documents:
        writer.append(io.BytesIO(document))
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _json(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")
