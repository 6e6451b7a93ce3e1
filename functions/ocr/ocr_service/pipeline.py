"""Turn each record of an S3 event into exactly one result in the output bucket.

Every record is handled on its own and ends in one of three ways:
- succeeded: `<key>.txt` holds the text;
- failed permanently (missing, empty, not an image, corrupt, over a limit): `<key>.error.json`
  says why, and nothing is retried;
- failed transiently (S3 throttling, 5xx, network, not enough time left): nothing is written,
  the other records still run, then the invocation raises `RetryableRecordsError` so Lambda's
  asynchronous retries (and, after them, the on-failure queue) take over.
A record whose result already records the same source version is skipped: S3 delivers events
at least once, and retries re-deliver the records that had succeeded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from botocore.exceptions import BotoCoreError, ClientError

from .engine import PAGE_SEPARATOR, OcrEngine, Recognition, SpeedModel
from .formats import ImageFormat, UnreadableInputError
from .image_info import ImageInfo
from .recognition import DocumentRecognizer
from .results import (
    Published,
    ResultKeys,
    ResultWriter,
    SourceVersion,
    long_key_error_key,
    result_keys,
)
from .storage import (
    JSON_CONTENT_TYPE,
    PDF_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    ObjectStore,
    ObjectTooLargeError,
    PreconditionFailedError,
    SourceUnavailableError,
)
from .telemetry import NoTelemetry, PipelineTelemetry, WorkDone

logger = Logger(child=True)

# Time a record may need: the engine's own speed model (measured, README "Limits"), doubled,
# and a fixed allowance for I/O.
IO_ALLOWANCE_S = 5.0
SAFETY_FACTOR = 2.0

RemainingMillis = Callable[[], int]


@dataclass(frozen=True)
class ObjectRef:
    """Which object a record is about, with its key already URL-decoded."""

    bucket: str
    key: str
    version_id: str | None
    etag: str
    event_name: str

    @classmethod
    def from_record(cls, record: S3EventRecord) -> ObjectRef:
        """Decode the key as S3 encodes it in events: `+` is a space, then %XX as UTF-8."""
        s3_object = record.s3.get_object
        return cls(
            bucket=record.s3.bucket.name,
            key=unquote_plus(s3_object.key, encoding="utf-8", errors="replace"),
            version_id=s3_object.version_id,
            etag=s3_object.etag.strip('"'),
            event_name=record.event_name,
        )


@dataclass(frozen=True)
class Succeeded:
    bucket: str
    key: str
    version_id: str | None
    output_key: str
    pages: int
    characters: int
    input_bytes: int
    recognition_seconds: float


@dataclass(frozen=True)
class Skipped:
    bucket: str
    key: str
    version_id: str | None
    reason: str
    """duplicate (already has its result) or superseded (a newer upload owns the result)."""


@dataclass(frozen=True)
class Failed:
    bucket: str
    key: str
    version_id: str | None
    reason: str
    """A stable code: object-missing, empty-object, unsupported-format, too-large, ..."""
    message: str
    retryable: bool
    record_key: str | None = None
    """Where the failure record was written (permanent failures)."""


Outcome = Succeeded | Skipped | Failed


@dataclass
class InvocationResult:
    """What became of each record, in event order."""

    succeeded: list[Succeeded] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)

    @property
    def retryable(self) -> list[Failed]:
        return [failure for failure in self.failed if failure.retryable]

    def add(self, outcome: Outcome) -> None:
        if isinstance(outcome, Succeeded):
            self.succeeded.append(outcome)
        elif isinstance(outcome, Skipped):
            self.skipped.append(outcome)
        else:
            self.failed.append(outcome)

    def as_dict(self) -> dict[str, object]:
        return {
            "records": len(self.succeeded) + len(self.skipped) + len(self.failed),
            "succeeded": [asdict(s) for s in self.succeeded],
            "skipped": [asdict(s) for s in self.skipped],
            "failed": [asdict(f) for f in self.failed],
        }


class RetryableRecordsError(RuntimeError):
    """Some records hit transient errors; raising lets Lambda retry the event."""

    def __init__(self, result: InvocationResult) -> None:
        keys = ", ".join(f"s3://{f.bucket}/{f.key} ({f.reason})" for f in result.retryable)
        super().__init__(f"{len(result.retryable)} record(s) failed transiently: {keys}")
        self.result = result


class PermanentRecordError(Exception):
    """This record cannot succeed as it is; retrying would not help."""

    def __init__(self, reason: str, message: str, source: SourceVersion | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.source = source
        """The version that was read and found wanting, when it was read."""


class TransientRecordError(Exception):
    """This record may succeed later; the invocation must be retried."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def estimated_seconds(info: ImageInfo, speed: SpeedModel) -> float:
    """A generous estimate of recognizing `info` with an engine of this speed, writing
    included."""
    if info.image_format is ImageFormat.PDF:
        megapixels = info.pages * speed.pdf_page_megapixels
    else:
        megapixels = info.pages * info.pixels_per_page / 1e6
    return IO_ALLOWANCE_S + SAFETY_FACTOR * (1.0 + speed.seconds_per_megapixel * megapixels)


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
    ) -> None:
        self._outputs = outputs
        self._recognizer = recognizer
        self._engine: OcrEngine = recognizer.engine
        self._telemetry = telemetry or NoTelemetry()
        self._store = store
        self._results = ResultWriter(store, output_bucket)
        self._output_bucket = output_bucket
        self._limits = recognizer.limits

    def process_event(
        self, event: S3Event, remaining_ms: RemainingMillis | None = None
    ) -> InvocationResult:
        """Handle every record of the event; one record's failure never stops the others."""
        refs = [ObjectRef.from_record(record) for record in event.records]
        return self.process_refs(refs, remaining_ms)

    def process_refs(
        self, refs: Iterable[ObjectRef], remaining_ms: RemainingMillis | None = None
    ) -> InvocationResult:
        clock = remaining_ms or (lambda: 1 << 62)
        budget_ms = clock()  # what a fresh invocation has: more can never be available
        result = InvocationResult()
        for ref in refs:
            with (
                logger.append_context_keys(
                    # "null" is S3's own version ID for objects in unversioned buckets.
                    bucket=ref.bucket,
                    key=ref.key,
                    version_id=ref.version_id or "null",
                ),
                self._telemetry.span("object", key=ref.key) as annotate,
            ):
                outcome = self._process_one(ref, clock, budget_ms)
                annotate("outcome", type(outcome).__name__.lower())
                _log(outcome)
                self._report(outcome)
            result.add(outcome)
        return result

    def _report(self, outcome: Outcome) -> None:
        if isinstance(outcome, Succeeded):
            self._telemetry.succeeded(
                WorkDone(
                    outcome.input_bytes,
                    outcome.pages,
                    outcome.recognition_seconds,
                    outcome.characters,
                )
            )
        elif isinstance(outcome, Skipped):
            self._telemetry.skipped()
        else:
            self._telemetry.failed(outcome.reason, outcome.retryable)

    def _process_one(self, ref: ObjectRef, clock: RemainingMillis, budget_ms: int) -> Outcome:
        source = SourceVersion(ref.bucket, ref.key, ref.etag, ref.version_id)
        try:
            keys = self._check_record(ref)
            if self._results.recorded_result(source) is not None:
                return Skipped(ref.bucket, ref.key, ref.version_id, "duplicate")
            return self._recognize_and_publish(ref, keys, clock, budget_ms)
        except PermanentRecordError as error:
            return self._fail_permanently(ref, error.source or source, error.reason, str(error))
        except TransientRecordError as error:
            return Failed(ref.bucket, ref.key, ref.version_id, error.reason, str(error), True)
        except (ClientError, BotoCoreError, PreconditionFailedError) as error:
            return Failed(ref.bucket, ref.key, ref.version_id, "storage-error", str(error), True)

    def _check_record(self, ref: ObjectRef) -> ResultKeys:
        """Refuse records this function must not process; return where the result goes."""
        if not ref.event_name.startswith("ObjectCreated:"):
            raise PermanentRecordError(
                "not-an-upload",
                f"event {ref.event_name!r} is not an object creation; nothing to do",
            )
        if ref.bucket == self._output_bucket:
            # A trigger on the output bucket would recognize our own results forever.
            raise PermanentRecordError(
                "output-is-input",
                f"the object is in the output bucket {ref.bucket!r}; refusing to process results",
            )
        keys = result_keys(ref.key)
        if keys is None:
            raise PermanentRecordError(
                "key-too-long", "the key is too long to add a result suffix within S3's limit"
            )
        return keys

    def _recognize_and_publish(
        self, ref: ObjectRef, keys: ResultKeys, clock: RemainingMillis, budget_ms: int
    ) -> Outcome:
        if clock() < IO_ALLOWANCE_S * 1000:
            raise TransientRecordError("insufficient-time", "too little time left to start")
        try:
            with self._telemetry.span("download"):
                source_object = self._store.get_object(
                    ref.bucket, ref.key, ref.version_id, self._limits.max_object_bytes
                )
        except SourceUnavailableError as error:
            raise PermanentRecordError("object-missing", str(error)) from error
        except ObjectTooLargeError as error:
            raise PermanentRecordError("too-large", str(error)) from error
        # What was read may be newer than what the event announced (an unversioned key was
        # overwritten): results are about what was read, and it may already have one.
        source = SourceVersion(
            ref.bucket, ref.key, source_object.etag, source_object.version_id or ref.version_id
        )
        if source.etag != ref.etag and self._results.recorded_result(source) is not None:
            return Skipped(ref.bucket, ref.key, source.version_id, "duplicate")
        try:
            examined = self._recognizer.examine(source_object.body)
            self._check_time(examined.info, clock, budget_ms)
            language = self._recognizer.language_for(ref.key, source_object.metadata)
            started = time.perf_counter()
            with self._telemetry.span("recognize", format=examined.info.image_format.value):
                recognition = self._recognizer.recognize(examined, language.name)
            recognition_seconds = time.perf_counter() - started
        except UnreadableInputError as error:
            raise PermanentRecordError(error.reason, str(error), source) from error
        except PermanentRecordError as error:  # from the time check
            raise PermanentRecordError(error.reason, str(error), source) from error
        if recognition.trial_limited:
            logger.warning("trial mode: the text was cut to at most 300 characters per page")
        with self._telemetry.span("upload"):
            published = self._publish(source, keys, recognition, language.name)
        if published is not Published.WRITTEN:
            return Skipped(ref.bucket, ref.key, source.version_id, published.value)
        return Succeeded(
            ref.bucket,
            ref.key,
            source.version_id,
            keys.text,
            recognition.page_count,
            len(recognition.text),
            len(source_object.body),
            round(recognition_seconds, 3),
        )

    def _publish(
        self, source: SourceVersion, keys: ResultKeys, recognition: Recognition, language: str
    ) -> Published:
        """The optional outputs first, the .txt last: the .txt marks the object done."""
        metadata = {
            "ocr-engine": self._engine.name,
            "engine-version": self._engine.version,
            "engine-licensed": "true" if self._engine.licensed else "false",
            "page-count": str(recognition.page_count),
            "ocr-language": language,
        }
        outputs: list[tuple[str, Callable[[], bytes], str]] = []
        if "json" in self._outputs:
            document = sidecar_document(source, recognition, language, self._engine)
            outputs.append((keys.json, lambda: _json_bytes(document), JSON_CONTENT_TYPE))
        if "pdf" in self._outputs:
            outputs.append(
                (keys.pdf, lambda: self._engine.searchable_pdf(recognition), PDF_CONTENT_TYPE)
            )
        outputs.append((keys.text, lambda: recognition.text.encode("utf-8"), TEXT_CONTENT_TYPE))
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

    def _check_time(self, info: ImageInfo, clock: RemainingMillis, budget_ms: int) -> None:
        needed_ms = int(estimated_seconds(info, self._engine.speed) * 1000)
        if needed_ms > budget_ms:
            raise PermanentRecordError(
                "exceeds-time-limit",
                f"recognizing this needs about {needed_ms / 1000:.0f} s, more than the "
                f"function's {budget_ms / 1000:.0f} s: raise its Timeout or split the document",
            )
        if needed_ms > clock():
            raise TransientRecordError(
                "insufficient-time",
                f"about {needed_ms / 1000:.0f} s needed, {clock() / 1000:.0f} s left: "
                "retrying in a fresh invocation",
            )

    def _fail_permanently(
        self, ref: ObjectRef, source: SourceVersion, reason: str, message: str
    ) -> Failed | Skipped:
        failed = Failed(ref.bucket, ref.key, ref.version_id, reason, message, False)
        if reason in ("not-an-upload", "output-is-input"):
            return failed  # not an upload of ours: there is nothing to answer for
        keys = result_keys(ref.key)
        record_key = keys.error if keys else long_key_error_key(ref.key)
        record = {
            "reason": reason,
            "message": message,
            "retryable": False,
            "source": {
                "bucket": ref.bucket,
                "key": ref.key,
                "etag": source.etag,
                "version_id": source.version_id,
            },
            "ocr_engine": self._engine.name,
            "engine_version": self._engine.version,
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        try:
            published = self._results.publish(
                source,
                record_key,
                _json_bytes(record),
                content_type=JSON_CONTENT_TYPE,
                metadata={
                    "failure-reason": reason,
                    "ocr-engine": self._engine.name,
                    "engine-version": self._engine.version,
                },
                replaces=[keys.text, keys.json, keys.pdf] if keys else [],
            )
        except (ClientError, BotoCoreError, PreconditionFailedError) as error:
            return Failed(ref.bucket, ref.key, ref.version_id, "storage-error", str(error), True)
        if published is not Published.WRITTEN:
            # The object changed meanwhile (its newer event answers for it), or the same
            # version's record was just written by a concurrent duplicate.
            return Skipped(ref.bucket, ref.key, source.version_id, published.value)
        return Failed(ref.bucket, ref.key, ref.version_id, reason, message, False, record_key)


def _json_bytes(document: Mapping[str, object]) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


def sidecar_document(
    source: SourceVersion, recognition: Recognition, language: str, engine: OcrEngine
) -> dict[str, object]:
    """The JSON sidecar: pages, their lines, bounding boxes (pixels) and confidence."""
    return {
        "source": {
            "bucket": source.bucket,
            "key": source.key,
            "etag": source.etag,
            "version_id": source.version_id,
        },
        "ocr_engine": engine.name,
        "engine_version": engine.version,
        "language": language,
        "trial_limited": recognition.trial_limited,
        "pages": [
            {
                "number": number,
                "text": text,
                "lines": [
                    {
                        "text": line.text,
                        "box": {
                            "x": line.x,
                            "y": line.y,
                            "width": line.width,
                            "height": line.height,
                        },
                        "confidence": line.confidence,
                    }
                    for line in lines
                ],
            }
            for number, (text, lines) in enumerate(
                zip(recognition.text.split(PAGE_SEPARATOR), recognition.lines, strict=False),
                start=1,
            )
        ],
    }


def _log(outcome: Outcome) -> None:
    if isinstance(outcome, Succeeded):
        logger.info(
            "object recognized",
            extra={
                "outcome": "succeeded",
                "output_key": outcome.output_key,
                "pages": outcome.pages,
                "characters": outcome.characters,
            },
        )
    elif isinstance(outcome, Skipped):
        logger.info("object skipped", extra={"outcome": "skipped", "reason": outcome.reason})
    elif outcome.retryable:
        logger.warning(
            "object failed transiently; the event will be retried",
            extra={"outcome": "retry", "reason": outcome.reason, "error": outcome.message},
        )
    else:
        logger.error(
            "object failed",
            extra={"outcome": "failed", "reason": outcome.reason, "error": outcome.message},
        )
