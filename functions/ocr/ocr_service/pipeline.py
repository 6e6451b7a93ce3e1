"""Turn each object an event names into exactly one result in the output bucket.

Every object is handled on its own and ends in one of three ways:
- succeeded: `<key>.txt` holds the text;
- failed permanently (missing, empty, not an image, corrupt, over a limit): `<key>.error.json`
  says why, and nothing is retried;
- failed transiently (S3 throttling, 5xx, network, not enough time left): nothing is written,
  the other objects still run, and the caller has it retried (the queue redelivers that message
  alone; a direct invocation raises).
An object whose result already records the same source version is skipped: events arrive at
least once. A long document is split into page-range tasks (fanout.py); each task writes its
part, and the task that completes the set assembles the document's results.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from .documents import failure_record, json_bytes, pages_of, sidecar_document
from .engine import PAGE_SEPARATOR, OcrEngine, SpeedModel
from .event_shapes import ObjectRef
from .failures import OcrError, Reason
from .fanout import PageTask, Parts, TaskQueue, merge_pdfs, plan
from .formats import ImageFormat
from .image_info import ImageInfo
from .outcomes import Failed, InvocationResult, Outcome, Skip, Skipped, Succeeded, report
from .recognition import DocumentRecognizer
from .results import (
    FINAL_METADATA,
    Published,
    ResultKeys,
    ResultWriter,
    SourceVersion,
    long_key_error_key,
)
from .results import result_keys as keys_for
from .storage import (
    JSON_CONTENT_TYPE,
    PDF_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    ObjectStore,
    PreconditionFailedError,
    SourceObject,
)
from .telemetry import NoTelemetry, PipelineTelemetry

logger = Logger(child=True)

# Time a record may need: the engine's own speed model (measured, README "Limits"), doubled,
# and a fixed allowance for I/O.
IO_ALLOWANCE_S = 5.0
SAFETY_FACTOR = 2.0
_STORAGE_ERRORS = (ClientError, BotoCoreError, PreconditionFailedError)

RemainingMillis = Callable[[], int]


@dataclass(frozen=True)
class Clock:
    """The time left in this invocation, and what a fresh invocation has in all."""

    remaining_ms: RemainingMillis
    budget_ms: int

    @classmethod
    def starting(cls, remaining_ms: RemainingMillis | None) -> Clock:
        remaining = remaining_ms or (lambda: 1 << 62)
        return cls(remaining, remaining())


def estimated_seconds(info: ImageInfo, speed: SpeedModel) -> float:
    """A generous estimate of recognizing `info` with an engine of this speed, writing
    included."""
    if info.image_format is ImageFormat.PDF:
        megapixels = info.pages * speed.pdf_page_megapixels
    else:
        megapixels = info.pages * info.pixels_per_page / 1e6
    return IO_ALLOWANCE_S + SAFETY_FACTOR * (1.0 + speed.seconds_per_megapixel * megapixels)


@dataclass(frozen=True)
class Publication:
    """An object's results, each made only when its output is configured."""

    text: str
    page_count: int
    language: str
    sidecar: Callable[[], Mapping[str, object]]
    pdf: Callable[[], bytes]


@dataclass(frozen=True)
class Splitter:
    """Where long documents' page tasks go, and how many pages a task gets."""

    queue: TaskQueue
    pages_per_task: int

    def splits(self, info: ImageInfo) -> bool:
        multi_page = info.image_format in (ImageFormat.TIFF, ImageFormat.PDF)
        return multi_page and info.pages > self.pages_per_task


class OcrPipeline:
    """Recognize S3 objects with one engine and write their results to one output bucket."""

    def __init__(
        self,
        recognizer: DocumentRecognizer,
        store: ObjectStore,
        output_bucket: str,
        *,
        telemetry: PipelineTelemetry | None = None,
        outputs: frozenset[str] = frozenset({"txt"}),
        splitter: Splitter | None = None,
    ) -> None:
        self._outputs = outputs
        self._recognizer = recognizer
        self._engine: OcrEngine = recognizer.engine
        self._telemetry = telemetry or NoTelemetry()
        self._store = store
        self._results = ResultWriter(store, output_bucket)
        self._output_bucket = output_bucket
        self._limits = recognizer.limits
        self._splitter = splitter

    def process_refs(
        self, refs: Iterable[ObjectRef], remaining_ms: RemainingMillis | Clock | None = None
    ) -> InvocationResult:
        """Handle every object; one object's failure never stops the others."""
        clock = remaining_ms if isinstance(remaining_ms, Clock) else Clock.starting(remaining_ms)
        result = InvocationResult()
        for ref in refs:
            work = functools.partial(self._one, ref, clock)
            result.add(self._observed(ref.bucket, ref.key, ref.version_id, work))
        return result

    def process_task(self, task: PageTask, clock: Clock) -> Outcome:
        """Recognize one page range of a long document; assemble it if it is the last."""
        source = task.source
        return self._observed(
            source.bucket, source.key, source.version_id, lambda: self._task(task, clock)
        )

    def _observed(
        self, bucket: str, key: str, version_id: str | None, work: Callable[[], Outcome]
    ) -> Outcome:
        # "null" is S3's own version ID for objects in unversioned buckets.
        with (
            logger.append_context_keys(bucket=bucket, key=key, version_id=version_id or "null"),
            self._telemetry.span("object", key=key) as annotate,
        ):
            outcome = work()
            annotate("outcome", type(outcome).__name__.lower())
            report(outcome, self._telemetry)
        return outcome

    def _one(self, ref: ObjectRef, clock: Clock) -> Outcome:
        source = SourceVersion(ref.bucket, ref.key, ref.etag, ref.version_id)
        if not ref.is_upload:
            # A deletion, restore or expiry: there is nothing to recognize or answer for.
            return Skipped(ref.bucket, ref.key, ref.version_id, Skip.NOT_AN_UPLOAD)
        try:
            keys = self._check_record(ref)
            if self._results.recorded_result(source) is not None:
                return Skipped(ref.bucket, ref.key, ref.version_id, Skip.DUPLICATE)
            return self._recognize_and_publish(ref, keys, clock)
        except OcrError as error:
            return self._failed(source, error)
        except _STORAGE_ERRORS as error:
            return self._failed(source, OcrError(Reason.STORAGE_ERROR, str(error)))

    def _failed(self, source: SourceVersion, error: OcrError) -> Failed | Skipped:
        if error.retryable:
            return Failed(
                source.bucket, source.key, source.version_id, error.reason, error.message, True
            )
        return self._fail_permanently(source, error.reason, error.message)

    def _check_record(self, ref: ObjectRef) -> ResultKeys:
        """Refuse records this function must not process; return where the result goes."""
        if ref.bucket == self._output_bucket:
            # A trigger on the output bucket would recognize our own results forever.
            raise OcrError(
                Reason.OUTPUT_IS_INPUT,
                f"the object is in the output bucket {ref.bucket!r}; refusing to process results",
            )
        keys = keys_for(ref.key)
        if keys is None:
            raise OcrError(
                Reason.KEY_TOO_LONG, "the key is too long to add a result suffix within S3's limit"
            )
        return keys

    def _download(
        self, bucket: str, key: str, version_id: str | None, clock: Clock
    ) -> SourceObject:
        if clock.remaining_ms() < IO_ALLOWANCE_S * 1000:
            raise OcrError(Reason.INSUFFICIENT_TIME, "too little time left to start")
        with self._telemetry.span("download"):
            return self._store.get_object(bucket, key, version_id, self._limits.max_object_bytes)

    def _recognize_and_publish(self, ref: ObjectRef, keys: ResultKeys, clock: Clock) -> Outcome:
        source_object = self._download(ref.bucket, ref.key, ref.version_id, clock)
        # What was read may be newer than what the event announced (an unversioned key was
        # overwritten): results are about what was read, and it may already have one.
        source = SourceVersion(
            ref.bucket, ref.key, source_object.etag, source_object.version_id or ref.version_id
        )
        if source.etag != ref.etag and self._results.recorded_result(source) is not None:
            return Skipped(ref.bucket, ref.key, source.version_id, Skip.DUPLICATE)
        try:
            examined = self._recognizer.examine(source_object.body)
            if self._splitter is not None and self._splitter.splits(examined.info):
                return self._split(source, examined.info.pages)
            self._check_time(examined.info, clock)
            language = self._recognizer.language_for(ref.key, source_object.metadata).name
            started = time.perf_counter()
            with self._telemetry.span("recognize", format=examined.info.image_format.value):
                recognition = self._recognizer.recognize(examined, language)
            seconds = time.perf_counter() - started
        except OcrError as error:  # about the version read, which may be newer than the event's
            return self._failed(source, error)
        if recognition.trial_limited:
            logger.warning("trial mode: the text was cut to at most 300 characters per page")
        with self._telemetry.span("upload"):
            published = self._publish(
                source,
                keys,
                Publication(
                    recognition.text,
                    recognition.page_count,
                    language,
                    lambda: sidecar_document(
                        source,
                        pages_of(recognition),
                        language,
                        self._engine,
                        recognition.trial_limited,
                    ),
                    lambda: self._engine.searchable_pdf(recognition),
                ),
            )
        if published is not Published.WRITTEN:
            return Skipped(ref.bucket, ref.key, source.version_id, Skip(published.value))
        return Succeeded(
            ref.bucket,
            ref.key,
            source.version_id,
            keys.text,
            recognition.page_count,
            len(recognition.text),
            len(source_object.body),
            round(seconds, 3),
        )

    def _split(self, source: SourceVersion, page_count: int) -> Outcome:
        assert self._splitter is not None
        per_task = self._splitter.pages_per_task
        tasks = [
            PageTask(source, pages, page_count, per_task) for pages in plan(page_count, per_task)
        ]
        self._splitter.queue.send([task.body() for task in tasks])
        logger.info(
            "document split into page tasks", extra={"pages": page_count, "tasks": len(tasks)}
        )
        return Skipped(source.bucket, source.key, source.version_id, Skip.SPLIT)

    def _task(self, task: PageTask, clock: Clock) -> Outcome:
        source = task.source

        def skipped(reason: Skip) -> Skipped:
            return Skipped(source.bucket, source.key, source.version_id, reason)

        keys = keys_for(source.key)
        if keys is None or self._results.recorded_result(source) is not None:
            return skipped(Skip.DUPLICATE)
        parts = Parts(self._store, self._output_bucket, source)
        try:
            if not parts.has(task.pages):  # a redelivery finds its part written already
                done = self._recognize_range(task, parts, clock)
                if done is not None:
                    return done
            # Every task looks; the one that finds the set complete and wins the claim
            # assembles (a claim older than the function's timeout is taken over).
            if not parts.complete(task.ranges) or not parts.claim(clock.budget_ms / 1000):
                return skipped(Skip.PART_WRITTEN)
            return self._assemble(task, keys, parts)
        except OcrError as error:  # only transient ones leave _recognize_range
            return self._failed(source, error)
        except _STORAGE_ERRORS as error:
            return self._failed(source, OcrError(Reason.STORAGE_ERROR, str(error)))

    def _recognize_range(self, task: PageTask, parts: Parts, clock: Clock) -> Outcome | None:
        """Write the range's part (or its failure); an outcome when there is nothing to write."""
        source = task.source
        try:
            source_object = self._download(source.bucket, source.key, source.version_id, clock)
            if source_object.etag != source.etag:  # overwritten: the newer upload owns the key
                return Skipped(source.bucket, source.key, source.version_id, Skip.SUPERSEDED)
            examined = self._recognizer.examine(source_object.body)
            range_info = ImageInfo(
                examined.info.image_format,
                examined.info.width,
                examined.info.height,
                task.pages.count,
            )
            self._check_time(range_info, clock)
            language = self._recognizer.language_for(source.key, source_object.metadata).name
            with self._telemetry.span("recognize", format=examined.info.image_format.value):
                recognition = self._recognizer.recognize(examined, language, pages=task.pages)
        except OcrError as error:
            if error.retryable:
                raise  # only this range's message comes back
            parts.write_failure(task.pages, error.reason, error.message)
            return None
        pdf = self._engine.searchable_pdf(recognition) if "pdf" in self._outputs else None
        part = {
            "language": language,
            "trial_limited": recognition.trial_limited,
            "input_bytes": len(source_object.body),
            "pages": pages_of(recognition, task.pages.first),
        }
        parts.write(task.pages, part, pdf)
        return None

    def _assemble(self, task: PageTask, keys: ResultKeys, parts: Parts) -> Outcome:
        source = task.source
        assembled = parts.read(task.ranges, with_pdf="pdf" in self._outputs)
        if failures := [part for part in assembled if part.failed]:
            details = [part.document for part in failures]
            message = "; ".join(
                f"pages {part.pages}: {part.document['reason']} ({part.document['message']})"
                for part in failures
            )
            outcome: Outcome = self._fail_permanently(
                source, Reason(details[0]["reason"]), message, {"failed_pages": details}
            )
        else:
            pages = [page for part in assembled for page in part.document["pages"]]
            first = assembled[0].document
            language, trial_limited = str(first["language"]), bool(first["trial_limited"])
            published = self._publish(
                source,
                keys,
                Publication(
                    PAGE_SEPARATOR.join(str(page["text"]) for page in pages),
                    len(pages),
                    language,
                    lambda: sidecar_document(source, pages, language, self._engine, trial_limited),
                    lambda: merge_pdfs([part.pdf or b"" for part in assembled]),
                ),
            )
            outcome = (
                Skipped(source.bucket, source.key, source.version_id, Skip(published.value))
                if published is not Published.WRITTEN
                else Succeeded(
                    source.bucket,
                    source.key,
                    source.version_id,
                    keys.text,
                    len(pages),
                    sum(len(str(page["text"])) for page in pages) + len(pages) - 1,
                    int(first.get("input_bytes", 0)),
                    0.0,
                )
            )
        parts.delete()
        return outcome

    def _publish(
        self, source: SourceVersion, keys: ResultKeys, publication: Publication
    ) -> Published:
        """The optional outputs first, the .txt last: the .txt marks the object done."""
        metadata = {
            "ocr-engine": self._engine.name,
            "engine-version": self._engine.version,
            "engine-licensed": "true" if self._engine.licensed else "false",
            "page-count": str(publication.page_count),
            "ocr-language": publication.language,
        }
        outputs: list[tuple[str, Callable[[], bytes], str]] = []
        if "json" in self._outputs:
            sidecar = publication.sidecar
            outputs.append((keys.json, lambda: json_bytes(sidecar()), JSON_CONTENT_TYPE))
        if "pdf" in self._outputs:
            outputs.append((keys.pdf, publication.pdf, PDF_CONTENT_TYPE))
        text = publication.text
        outputs.append((keys.text, lambda: text.encode("utf-8"), TEXT_CONTENT_TYPE))
        published = Published.WRITTEN
        for key, body, content_type in outputs:
            published = self._results.publish(
                source,
                key,
                body(),
                content_type=content_type,
                metadata=metadata,
                replaces=[keys.error] if key == keys.text else [],
            )
            if published is Published.SUPERSEDED:
                return published
        return published

    def _check_time(self, info: ImageInfo, clock: Clock) -> None:
        needed_ms = int(estimated_seconds(info, self._engine.speed) * 1000)
        if needed_ms > clock.budget_ms:
            raise OcrError(
                Reason.EXCEEDS_TIME_LIMIT,
                f"recognizing this needs about {needed_ms / 1000:.0f} s, more than the "
                f"function's {clock.budget_ms / 1000:.0f} s: raise its Timeout or split the "
                "document (OCR_PAGES_PER_TASK)",
            )
        if needed_ms > clock.remaining_ms():
            raise OcrError(
                Reason.INSUFFICIENT_TIME,
                f"about {needed_ms / 1000:.0f} s needed, {clock.remaining_ms() / 1000:.0f} s "
                "left: retrying in a fresh invocation",
            )

    def _fail_permanently(
        self,
        source: SourceVersion,
        reason: Reason,
        message: str,
        details: Mapping[str, object] | None = None,
    ) -> Failed | Skipped:
        failed = Failed(source.bucket, source.key, source.version_id, reason, message, False)
        if not reason.writes_record:
            return failed  # not an upload of ours: there is nothing to answer for
        keys = keys_for(source.key)
        record_key = keys.error if keys else long_key_error_key(source.key)
        try:
            published = self._results.publish(
                source,
                record_key,
                json_bytes(failure_record(source, reason, message, self._engine, details)),
                content_type=JSON_CONTENT_TYPE,
                metadata={
                    "failure-reason": reason,
                    # A failure the deployment caused is not the object's final result: once
                    # the cause is fixed, a redelivery or `make reprocess` recognizes it.
                    FINAL_METADATA: "false" if reason.heals else "true",
                    "ocr-engine": self._engine.name,
                    "engine-version": self._engine.version,
                },
                replaces=[keys.text, keys.json, keys.pdf] if keys else [],
            )
        except _STORAGE_ERRORS as error:
            return self._failed(source, OcrError(Reason.STORAGE_ERROR, str(error)))
        if published is not Published.WRITTEN:
            # The object changed meanwhile (its newer event answers for it), or the same
            # version's record was just written by a concurrent duplicate.
            return Skipped(source.bucket, source.key, source.version_id, Skip(published.value))
        return Failed(
            source.bucket, source.key, source.version_id, reason, message, False, record_key
        )
