"""The page-range tasks of a long document (fanout.py has the parts and the claim): splitting
a document into tasks, recognizing one range, and assembling the document's results once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ocr_service.aws.documents import pages_of, sidecar_document
from ocr_service.aws.fanout import PageTask, Parts, TaskQueue, merge_pdfs, plan
from ocr_service.aws.outcomes import Outcome, Skip, Skipped, Succeeded
from ocr_service.aws.publishing import STORAGE_ERRORS, Publication, Publisher
from ocr_service.aws.results import ObjectVersion, Published, ResultKeys, result_keys
from ocr_service.aws.storage import DownloadedObject, ObjectStore
from ocr_service.aws.telemetry import PipelineTelemetry
from ocr_service.aws.time_budget import Clock
from ocr_service.core.failures import OcrError, Reason
from ocr_service.engines.port import PAGE_SEPARATOR
from ocr_service.inputs.image_info import ImageInfo
from ocr_service.recognition.recognizer import DocumentRecognizer

Download = Callable[[str, str, str | None, Clock], DownloadedObject]


@dataclass(frozen=True)
class Splitter:
    """Where long documents' page tasks go, and how many pages a task gets."""

    queue: TaskQueue
    pages_per_task: int

    def splits(self, info: ImageInfo) -> bool:
        return info.image_format.is_multi_page and info.pages > self.pages_per_task

    def split(self, source: ObjectVersion, page_count: int) -> int:
        """Send the document's page tasks; how many."""
        per_task = self.pages_per_task
        ranges = plan(page_count, per_task)
        self.queue.send([PageTask(source, pages, page_count, per_task).body() for pages in ranges])
        return len(ranges)


class PageTaskRunner:
    """Runs one page task: its range's part, then the assembly if the set is complete."""

    def __init__(
        self,
        recognizer: DocumentRecognizer,
        store: ObjectStore,
        output_bucket: str,
        publisher: Publisher,
        *,
        telemetry: PipelineTelemetry,
        download: Download,
    ) -> None:
        self._recognizer = recognizer
        self._store = store
        self._bucket = output_bucket
        self._publisher = publisher
        self._telemetry = telemetry
        self._download = download

    def run(self, task: PageTask, clock: Clock) -> Outcome:
        source = task.source

        def skipped(reason: Skip) -> Skipped:
            return Skipped(source.bucket, source.key, source.version_id, reason)

        keys = result_keys(source.key)
        if keys is None or self._publisher.results.recorded_result(source) is not None:
            return skipped(Skip.DUPLICATE)
        parts = Parts(self._store, self._bucket, source)
        try:
            if not parts.has(task.pages):  # a redelivery finds its part written already
                done = self._recognize_range(task, parts, clock)
                if done is not None:  # superseded: this version's parts will never assemble
                    parts.delete()
                    return done
            # Every task looks; the one that finds the set complete and wins the claim
            # assembles (a claim older than the function's timeout is taken over).
            if not parts.complete(task.ranges) or not parts.claim(clock.budget_ms / 1000):
                return skipped(Skip.PART_WRITTEN)
            return self._assemble(task, keys, parts)
        except OcrError as error:  # only transient ones leave _recognize_range
            return self._publisher.failed(source, error)
        except STORAGE_ERRORS as error:
            return self._publisher.failed(source, OcrError(Reason.STORAGE_ERROR, str(error)))

    def _recognize_range(self, task: PageTask, parts: Parts, clock: Clock) -> Outcome | None:
        """Write the range's part (or its failure); an outcome when there is nothing to write."""
        source = task.source
        try:
            source_object = self._download(source.bucket, source.key, source.version_id, clock)
            if source_object.etag != source.etag:  # overwritten: the newer upload owns the key
                return Skipped(source.bucket, source.key, source.version_id, Skip.SUPERSEDED)
            examined = self._recognizer.examine(source_object.body)
            info = examined.info
            clock.check(
                ImageInfo(info.image_format, info.width, info.height, task.pages.count),
                self._recognizer.engine.speed,
            )
            language = self._recognizer.language_for(source.key, source_object.metadata).name
            with self._telemetry.span("recognize", format=info.image_format.value):
                recognition = self._recognizer.recognize(examined, language, pages=task.pages)
        except OcrError as error:
            if error.retryable:
                raise  # only this range's message comes back
            parts.write_failure(task.pages, error.reason, error.message)
            return None
        engine = self._recognizer.engine
        pdf = engine.searchable_pdf(recognition) if "pdf" in self._publisher.outputs else None
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
        assembled = parts.read(task.ranges, with_pdf="pdf" in self._publisher.outputs)
        if failures := [part for part in assembled if part.failed]:
            details = [part.document for part in failures]
            message = "; ".join(
                f"pages {part.pages}: {part.document['reason']} ({part.document['message']})"
                for part in failures
            )
            outcome: Outcome = self._publisher.fail_permanently(
                source, Reason(details[0]["reason"]), message, {"failed_pages": details}
            )
        else:
            pages = [page for part in assembled for page in part.document["pages"]]
            first = assembled[0].document
            language, trial_limited = str(first["language"]), bool(first["trial_limited"])
            engine = self._recognizer.engine
            text = PAGE_SEPARATOR.join(str(page["text"]) for page in pages)
            published = self._publisher.publish(
                source,
                keys,
                Publication(
                    text,
                    len(pages),
                    language,
                    lambda: sidecar_document(source, pages, language, engine, trial_limited),
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
                    len(text),
                    int(first.get("input_bytes", 0)),
                    0.0,
                )
            )
        parts.delete()
        return outcome
