"""Long documents fan out by pages: page-range tasks through the ingest queue, their parts in
the output bucket, and exactly one assembly of the parts into the document's results.

A TIFF or PDF with more pages that need the engine than OCR_PAGES_PER_TASK (a PDF's pages with
a usable text layer do not count: the assembler reads them) is split into tasks of that many,
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
    ObjectStore,
    PreconditionFailedError,
)
from ocr_service.core.failures import Reason

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

PARTS_PREFIX = ".ocr-parts/"
_PART_MAX_BYTES = 1 << 30
_SEND_ATTEMPTS = 4
_CLAIM = "assembly.claim"


@dataclass(frozen=True)
class PageTask:
    """Recognize `pages` of one version of a document: part `part` of `parts`."""

    source: ObjectVersion
    pages: tuple[int, ...]
    """Page numbers from 1, ascending: the pages of the document that need the engine (a PDF's
    pages with a usable text layer are read by the assembler instead)."""
    part: int
    parts: int
    """How many tasks the document was split into: every task of a document agrees."""
    page_count: int

    def body(self) -> str:
        source = self.source
        fields = {
            "bucket": source.bucket,
            "key": source.key,
            "etag": source.etag,
            "versionId": source.version_id,
            "pages": format_pages(self.pages),
            "part": self.part,
            "parts": self.parts,
            "pageCount": self.page_count,
        }
        return json.dumps({PAGE_TASK_KEY: fields}, ensure_ascii=False)

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> PageTask:
        try:
            source = ObjectVersion(
                str(fields["bucket"]), str(fields["key"]), str(fields["etag"]), fields["versionId"]
            )
            pages = parse_pages(str(fields["pages"]))
            part, parts = int(fields["part"]), int(fields["parts"])
            if not pages or not 0 <= part < parts:
                raise ValueError(f"part {part} of {parts} with pages {fields['pages']!r}")
            return cls(source, pages, part, parts, int(fields["pageCount"]))
        except (KeyError, TypeError, ValueError) as error:
            raise UnsupportedEventError(f"a page task without {error}: {dict(fields)}") from error


def split_pages(pages: Sequence[int], pages_per_task: int) -> list[tuple[int, ...]]:
    """`pages_per_task` pages a task, in order, the last one shorter."""
    ordered = sorted(pages)
    return [
        tuple(ordered[start : start + pages_per_task])
        for start in range(0, len(ordered), pages_per_task)
    ]


def format_pages(pages: Sequence[int]) -> str:
    """`(1, 2, 3, 7, 9, 10)` -> `1-3,7,9-10`: short enough for any message."""
    runs: list[str] = []
    ordered = sorted(pages)
    start = 0
    for index in range(1, len(ordered) + 1):
        if index == len(ordered) or ordered[index] != ordered[index - 1] + 1:
            first, last = ordered[start], ordered[index - 1]
            runs.append(str(first) if first == last else f"{first}-{last}")
            start = index
    return ",".join(runs)


def parse_pages(text: str) -> tuple[int, ...]:
    """The inverse of `format_pages`; ValueError for anything else."""
    pages: list[int] = []
    for run in filter(None, text.split(",")):
        first, _, last = run.partition("-")
        low, high = int(first), int(last or first)
        if low < 1 or high < low:
            raise ValueError(f"no pages in {run!r}")
        pages.extend(range(low, high + 1))
    return tuple(sorted(set(pages)))


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

    def _key(self, part: int, suffix: str) -> str:
        return f"{self.prefix}part-{part:05d}{suffix}"

    def write(self, part: int, document: Mapping[str, Any]) -> None:
        self._create(self._key(part, ".json"), _json(document), JSON_CONTENT_TYPE)

    def write_failure(self, part: int, pages: Sequence[int], reason: Reason, message: str) -> None:
        failure = {"pages": format_pages(pages), "reason": reason, "message": message}
        self._create(self._key(part, ".error.json"), _json(failure), JSON_CONTENT_TYPE)

    def _create(self, key: str, body: bytes, content_type: str) -> None:
        # PreconditionFailed: a duplicate delivery of the same task wrote it already, the same.
        with contextlib.suppress(PreconditionFailedError):
            self._store.put_object(self._bucket, key, body, content_type, {}, replaces_etag=None)

    def has(self, part: int) -> bool:
        """Whether this part (or its failure) is written: a redelivery skips the work."""
        present = self._store.list_keys(self._bucket, self._key(part, ""))
        return any(key.endswith((".json", ".error.json")) for key in present)

    def complete(self, parts: int) -> bool:
        present = set(self._store.list_keys(self._bucket, self.prefix))
        return all(
            self._key(part, ".json") in present or self._key(part, ".error.json") in present
            for part in range(parts)
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

    def read(self, parts: int) -> list[AssembledPart]:
        """Every part, in order."""
        present = set(self._store.list_keys(self._bucket, self.prefix))
        assembled: list[AssembledPart] = []
        for part in range(parts):
            failed = self._key(part, ".error.json")
            if failed in present:
                assembled.append(AssembledPart(part, self._get_json(failed), failed=True))
            else:
                assembled.append(AssembledPart(part, self._get_json(self._key(part, ".json"))))
        return assembled

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
    part: int
    document: dict[str, Any]
    failed: bool = False


def _json(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")
