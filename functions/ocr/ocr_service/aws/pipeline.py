"""Turn each object an event names into exactly one result in the output bucket.

Every object is handled on its own and ends in one of three ways:
- succeeded: `<key>.txt` holds the text;
- failed (missing, empty, not an image, corrupt, over a limit, or a cause in the deployment):
  `<key>.error.json` says why (failures.py says which failures heal);
- failed transiently (S3 throttling, 5xx, network, not enough time left): nothing is written,
  the other objects still run, and the caller has it retried (the queue redelivers that message
  alone; a direct invocation raises).
An object whose result already records the same source version is skipped: events arrive at
least once. A long document is split into page-range tasks (page_tasks.py).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable

from aws_lambda_powertools import Logger

from ocr_service.aws.event_shapes import ObjectRef
from ocr_service.aws.fanout import PageTask
from ocr_service.aws.outcomes import InvocationResult, Outcome, Skip, Skipped, report
from ocr_service.aws.page_tasks import (
    PageTaskRunner,
    Splitter,
    ocr_work,
    outcome_of,
    publication_of,
)
from ocr_service.aws.publishing import STORAGE_ERRORS, Publisher
from ocr_service.aws.results import ObjectVersion, ResultKeys, ResultWriter, result_keys
from ocr_service.aws.storage import DownloadedObject, ObjectStore
from ocr_service.aws.telemetry import NoTelemetry, PipelineTelemetry
from ocr_service.aws.time_budget import Clock, RemainingMillis
from ocr_service.core.failures import OcrError, Reason
from ocr_service.recognition.recognizer import DocumentRecognizer

logger = Logger(child=True)


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
        min_confidence: float = 0.0,
    ) -> None:
        self._recognizer = recognizer
        self._telemetry = telemetry or NoTelemetry()
        self._store = store
        self._output_bucket = output_bucket
        self._publisher = Publisher(
            ResultWriter(store, output_bucket), recognizer.engine, outputs, min_confidence
        )
        self._splitter = splitter
        self._tasks = PageTaskRunner(
            recognizer,
            store,
            output_bucket,
            self._publisher,
            telemetry=self._telemetry,
            download=self._download,
        )

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
        work = functools.partial(self._tasks.run, task, clock)
        return self._observed(source.bucket, source.key, source.version_id, work)

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
        source = ref.version
        if not ref.is_upload:
            # A deletion, restore or expiry: there is nothing to recognize or answer for.
            return Skipped(ref.bucket, ref.key, ref.version_id, Skip.NOT_AN_UPLOAD)
        try:
            keys = self._check_record(ref)
            if self._publisher.results.recorded_result(source) is not None:
                return Skipped(ref.bucket, ref.key, ref.version_id, Skip.DUPLICATE)
            return self._recognize_and_publish(ref, keys, clock)
        except OcrError as error:
            return self._publisher.failed(source, error)
        except STORAGE_ERRORS as error:
            return self._publisher.failed(source, OcrError(Reason.STORAGE_ERROR, str(error)))

    def _check_record(self, ref: ObjectRef) -> ResultKeys:
        """Refuse records this function must not process; return where the result goes."""
        if ref.bucket == self._output_bucket:
            # A trigger on the output bucket would recognize our own results forever.
            raise OcrError(
                Reason.OUTPUT_IS_INPUT,
                f"the object is in the output bucket {ref.bucket!r}; refusing to process results",
            )
        keys = result_keys(ref.key)
        if keys is None:
            raise OcrError(
                Reason.KEY_TOO_LONG, "the key is too long to add a result suffix within S3's limit"
            )
        return keys

    def _download(
        self, bucket: str, key: str, version_id: str | None, clock: Clock
    ) -> DownloadedObject:
        clock.check_start()
        max_bytes = self._recognizer.limits.max_object_bytes
        with self._telemetry.span("download"):
            return self._store.get_object(bucket, key, version_id, max_bytes)

    def _recognize_and_publish(self, ref: ObjectRef, keys: ResultKeys, clock: Clock) -> Outcome:
        source_object = self._download(ref.bucket, ref.key, ref.version_id, clock)
        # What was read may be newer than what the event announced (an unversioned key was
        # overwritten): results are about what was read, and it may already have one.
        source = ObjectVersion(
            ref.bucket, ref.key, source_object.etag, source_object.version_id or ref.version_id
        )
        results = self._publisher.results
        if source.etag != ref.etag and results.recorded_result(source) is not None:
            return Skipped(ref.bucket, ref.key, source.version_id, Skip.DUPLICATE)
        recognizer = self._recognizer
        try:
            examined = recognizer.examine(source_object.body)
            plan = recognizer.plan(examined)
            if self._splitter is not None and self._splitter.splits(plan):
                tasks = self._splitter.split(source, plan)
                logger.info("document split into page tasks", extra={"tasks": tasks})
                return Skipped(source.bucket, source.key, source.version_id, Skip.SPLIT)
            clock.check(ocr_work(examined.info, plan), recognizer.engine.speed)
            language = recognizer.language_for(ref.key, source_object.metadata).name
            started = time.perf_counter()
            with self._telemetry.span("recognize", format=examined.info.image_format.value):
                document = recognizer.recognize(examined, language, plan)
            seconds = time.perf_counter() - started
        except OcrError as error:  # about the version read, which may be newer than the event's
            return self._publisher.failed(source, error)
        if document.trial_limited:
            logger.warning("trial mode: the text was cut to at most 300 characters per page")
        publication = publication_of(document, source, examined, recognizer)
        with self._telemetry.span("upload"):
            published = self._publisher.publish(source, keys, publication)
        return outcome_of(
            source,
            keys,
            document,
            published,
            input_bytes=len(source_object.body),
            seconds=seconds,
            low_confidence=self._publisher.low_confidence(document),
        )
