"""Turn each record of an S3 event into a UTF-8 .txt in the output bucket.

Every record is handled on its own: a bad object is reported and skipped, and never costs the
other records their work. Failures fall in two kinds:
- permanent (the object is missing, empty, not an image): reported in the result, no retry;
- transient (S3 throttling, 5xx, network): the other records still run, then the invocation
  raises `RetryableRecordsError` so Lambda's asynchronous retries run the event again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from urllib.parse import quote, unquote_plus

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from botocore.exceptions import BotoCoreError, ClientError

from .engine import TextRecognizer
from .formats import UnreadableInputError, identify
from .storage import ObjectStore, SourceObject, SourceUnavailableError

logger = Logger(child=True)

OUTPUT_SUFFIX = ".txt"
MAX_KEY_BYTES = 1024  # S3's limit for a key, in UTF-8 bytes


@dataclass(frozen=True)
class ObjectRef:
    """Which object a record is about, with its key already URL-decoded."""

    bucket: str
    key: str
    version_id: str | None
    event_name: str

    @classmethod
    def from_record(cls, record: S3EventRecord) -> ObjectRef:
        """Decode the key as S3 encodes it in events: `+` is a space, then %XX as UTF-8."""
        s3_object = record.s3.get_object
        return cls(
            bucket=record.s3.bucket.name,
            key=unquote_plus(s3_object.key, encoding="utf-8", errors="replace"),
            version_id=s3_object.version_id,
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


@dataclass(frozen=True)
class Failed:
    bucket: str
    key: str
    version_id: str | None
    reason: str
    """A stable code: object-missing, empty-object, unsupported-format, unreadable-image, ..."""
    message: str
    retryable: bool


@dataclass
class InvocationResult:
    """Which records succeeded and which failed, in event order."""

    succeeded: list[Succeeded] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)

    @property
    def retryable(self) -> list[Failed]:
        return [failure for failure in self.failed if failure.retryable]

    def as_dict(self) -> dict[str, object]:
        return {
            "records": len(self.succeeded) + len(self.failed),
            "succeeded": [asdict(s) for s in self.succeeded],
            "failed": [asdict(f) for f in self.failed],
        }


class RetryableRecordsError(RuntimeError):
    """Some records hit transient errors; raising lets Lambda retry the event."""

    def __init__(self, result: InvocationResult) -> None:
        keys = ", ".join(f"s3://{f.bucket}/{f.key}" for f in result.retryable)
        super().__init__(f"{len(result.retryable)} record(s) failed transiently: {keys}")
        self.result = result


class PermanentRecordError(Exception):
    """This record cannot succeed as it is; retrying would not help."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def output_key_for(source_key: str) -> str:
    """`a/scan.png` -> `a/scan.png.txt`: unique per input, and never itself an image name."""
    return source_key + OUTPUT_SUFFIX


def result_metadata(source: SourceObject, engine: TextRecognizer, pages: int) -> dict[str, str]:
    """S3 user metadata naming the source and the engine. Values must be ASCII: keys are
    percent-encoded (UTF-8), as in a URL."""
    return {
        "source-bucket": source.bucket,
        "source-key": quote(source.key, safe="/"),
        "source-etag": source.etag,
        "source-version-id": source.version_id or "null",
        "engine-version": engine.version,
        "engine-licensed": "true" if engine.licensed else "false",
        "page-count": str(pages),
    }


class OcrPipeline:
    """Recognize S3 objects with one engine and write their text to one output bucket."""

    def __init__(self, engine: TextRecognizer, store: ObjectStore, output_bucket: str) -> None:
        self._engine = engine
        self._store = store
        self._output_bucket = output_bucket

    def process_event(self, event: S3Event) -> InvocationResult:
        """Handle every record of the event; one record's failure never stops the others."""
        return self.process_refs(ObjectRef.from_record(record) for record in event.records)

    def process_refs(self, refs: Iterable[ObjectRef]) -> InvocationResult:
        result = InvocationResult()
        for ref in refs:
            outcome = self._process_one(ref)
            if isinstance(outcome, Succeeded):
                result.succeeded.append(outcome)
            else:
                result.failed.append(outcome)
        return result

    def _process_one(self, ref: ObjectRef) -> Succeeded | Failed:
        with logger.append_context_keys(bucket=ref.bucket, key=ref.key, version_id=ref.version_id):
            try:
                done = self._recognize_and_store(ref)
            except PermanentRecordError as error:
                logger.error("object failed", extra={"reason": error.reason, "error": str(error)})
                return Failed(ref.bucket, ref.key, ref.version_id, error.reason, str(error), False)
            except (ClientError, BotoCoreError) as error:
                logger.exception("object failed on a transient storage error")
                return Failed(
                    ref.bucket, ref.key, ref.version_id, "storage-error", str(error), True
                )
            logger.info(
                "object recognized",
                extra={
                    "output_key": done.output_key,
                    "pages": done.pages,
                    "characters": done.characters,
                },
            )
            return done

    def _recognize_and_store(self, ref: ObjectRef) -> Succeeded:
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
        output_key = output_key_for(ref.key)
        if len(output_key.encode("utf-8")) > MAX_KEY_BYTES:
            raise PermanentRecordError(
                "key-too-long",
                f"the result key would exceed S3's {MAX_KEY_BYTES}-byte limit for keys",
            )
        try:
            source = self._store.get_object(ref.bucket, ref.key, ref.version_id)
            recognition = self._engine.recognize(source.body, identify(source.body))
        except SourceUnavailableError as error:
            raise PermanentRecordError("object-missing", str(error)) from error
        except UnreadableInputError as error:
            raise PermanentRecordError(error.reason, str(error)) from error
        if recognition.trial_limited:
            logger.warning("trial mode: the text was cut to at most 300 characters per page")
        self._store.put_text(
            self._output_bucket,
            output_key,
            recognition.text,
            result_metadata(source, self._engine, recognition.page_count),
        )
        return Succeeded(
            ref.bucket,
            ref.key,
            source.version_id,
            output_key,
            recognition.page_count,
            len(recognition.text),
        )
