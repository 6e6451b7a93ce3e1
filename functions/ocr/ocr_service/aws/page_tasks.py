"""The page tasks of a long document (fanout.py has the parts and the claim): splitting a
document's pages that need the engine into tasks, recognizing one task's pages, and assembling
the document's results once, from the document model of every part.

Only pages that need recognition fan out: a PDF's pages with a usable text layer are read by the
assembler (milliseconds a page), so a 2,000-page born-digital PDF is one invocation and a mixed
one fans out its scanned pages only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from ocr_service.aws.documents import sidecar_header
from ocr_service.aws.fanout import AssembledPart, PageTask, Parts, TaskQueue, split_pages
from ocr_service.aws.outcomes import Outcome, Skip, Skipped, Succeeded
from ocr_service.aws.publishing import STORAGE_ERRORS, Publication, Publisher
from ocr_service.aws.results import ObjectVersion, Published, ResultKeys, result_keys
from ocr_service.aws.storage import DownloadedObject, ObjectStore
from ocr_service.aws.telemetry import PipelineTelemetry
from ocr_service.aws.time_budget import Clock
from ocr_service.core.failures import OcrError, Reason
from ocr_service.document.codec import page_from_json, page_to_json
from ocr_service.document.model import Document, PageSource
from ocr_service.inputs.image_info import ImageInfo
from ocr_service.recognition.recognizer import DocumentRecognizer, Examined, PagePlan
from ocr_service.recognition.rendering import EngineInfo, SourceInput, render_output

Download = Callable[[str, str, str | None, Clock], DownloadedObject]
ReadSource = Callable[[], tuple[DownloadedObject, Examined]]


def ocr_work(info: ImageInfo, plan: PagePlan) -> ImageInfo:
    """What the time check weighs: only the pages the engine must recognize."""
    return ImageInfo(info.image_format, info.width, info.height, len(plan.ocr))


def publication_of(
    document: Document, source: ObjectVersion, examined: Examined, recognizer: DocumentRecognizer
) -> Publication:
    """The document's outputs, each rendered from the model when it is written."""
    engine = recognizer.engine
    source_input = SourceInput(
        examined.data, examined.info.image_format, source.key, recognizer.limits.max_pixels
    )
    header = sidecar_header(source, document, engine)
    info = EngineInfo(engine.name, engine.version)
    return Publication(
        document, lambda kind: render_output(kind, document, source_input, info, header)
    )


def outcome_of(
    source: ObjectVersion,
    keys: ResultKeys,
    document: Document,
    published: Published,
    *,
    input_bytes: int,
    seconds: float,
    low_confidence: bool | None = None,
) -> Outcome:
    """What publishing a document's results made of the object."""
    if published is not Published.WRITTEN:
        return Skipped(source.bucket, source.key, source.version_id, Skip(published.value))
    return Succeeded(
        source.bucket,
        source.key,
        source.version_id,
        keys.text,
        document.page_count,
        len(document.text),
        input_bytes,
        round(seconds, 3),
        text_layer_pages=document.count(PageSource.TEXT_LAYER),
        low_confidence=bool(low_confidence),
    )


@dataclass(frozen=True)
class Splitter:
    """Where long documents' page tasks go, and how many pages a task gets."""

    queue: TaskQueue
    pages_per_task: int

    def splits(self, plan: PagePlan) -> bool:
        return len(plan.ocr) > self.pages_per_task

    def split(self, source: ObjectVersion, plan: PagePlan) -> int:
        """Send the document's page tasks; how many."""
        chunks = split_pages(plan.ocr, self.pages_per_task)
        self.queue.send(
            [
                PageTask(source, pages, part, len(chunks), plan.page_count).body()
                for part, pages in enumerate(chunks)
            ]
        )
        return len(chunks)


class PageTaskRunner:
    """Runs one page task: its part, then the assembly if the set is complete."""

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
        # Read at most once per run: the task that recognizes its part and then assembles
        # needs the same source twice.
        read = functools.cache(lambda: self._read_source(task, clock))
        try:
            if not parts.has(task.part):  # a redelivery finds its part written already
                done = self._recognize_part(task, parts, clock, read)
                if done is not None:  # superseded: this version's parts will never assemble
                    parts.delete()
                    return done
            # Every task looks; the one that finds the set complete and wins the claim
            # assembles (a claim older than the function's timeout is taken over).
            if not parts.complete(task.parts) or not parts.claim(clock.budget_ms / 1000):
                return skipped(Skip.PART_WRITTEN)
            return self._assemble(task, keys, parts, read)
        except OcrError as error:  # only transient ones leave _recognize_part
            return self._publisher.failed(source, error)
        except STORAGE_ERRORS as error:
            return self._publisher.failed(source, OcrError(Reason.STORAGE_ERROR, str(error)))

    def _read_source(self, task: PageTask, clock: Clock) -> tuple[DownloadedObject, Examined]:
        source = task.source
        source_object = self._download(source.bucket, source.key, source.version_id, clock)
        if source_object.etag != source.etag:  # overwritten: the newer upload owns the key
            raise _SupersededError
        return source_object, self._recognizer.examine(source_object.body)

    def _recognize_part(
        self, task: PageTask, parts: Parts, clock: Clock, read: ReadSource
    ) -> Outcome | None:
        """Write the task's part (or its failure); an outcome when there is nothing to write."""
        source = task.source
        recognizer = self._recognizer
        try:
            source_object, examined = read()
            # The pages were planned when the document was split: recognized, not re-planned.
            plan = PagePlan(task.page_count, (), task.pages)
            clock.check(ocr_work(examined.info, plan), recognizer.engine.speed)
            language = recognizer.language_for(source.key, source_object.metadata).name
            with self._telemetry.span("recognize", format=examined.info.image_format.value):
                document = recognizer.recognize(examined, language, plan)
        except _SupersededError:
            return Skipped(source.bucket, source.key, source.version_id, Skip.SUPERSEDED)
        except OcrError as error:
            if error.retryable:
                raise  # only this task's message comes back
            parts.write_failure(task.part, task.pages, error.reason, error.message)
            return None
        part = {
            "language": language,
            "input_bytes": len(source_object.body),
            "pages": [page_to_json(page) for page in document.pages],
        }
        parts.write(task.part, part)
        return None

    def _assemble(
        self, task: PageTask, keys: ResultKeys, parts: Parts, read: ReadSource
    ) -> Outcome:
        source = task.source
        assembled = parts.read(task.parts)
        if failures := [part for part in assembled if part.failed]:
            outcome = self._fail(source, failures)
        else:
            try:
                outcome = self._publish(task, keys, assembled, read)
            except _SupersededError:
                outcome = Skipped(source.bucket, source.key, source.version_id, Skip.SUPERSEDED)
            except OcrError as error:
                if error.retryable:
                    raise
                outcome = self._publisher.fail_permanently(source, error.reason, error.message)
        parts.delete()
        return outcome

    def _fail(self, source: ObjectVersion, failures: list[AssembledPart]) -> Outcome:
        details = [part.document for part in failures]
        message = "; ".join(
            f"pages {part.document['pages']}: {part.document['reason']} "
            f"({part.document['message']})"
            for part in failures
        )
        return self._publisher.fail_permanently(
            source, Reason(details[0]["reason"]), message, {"failed_pages": details}
        )

    def _publish(
        self, task: PageTask, keys: ResultKeys, assembled: list[AssembledPart], read: ReadSource
    ) -> Outcome:
        """The document from every part's pages and the text-layer pages (read now, from the
        source), and its outputs rendered from it."""
        source = task.source
        recognizer = self._recognizer
        source_object, examined = read()
        recognized = [page_from_json(page) for part in assembled for page in part.document["pages"]]
        numbers = {page.number for page in recognized}
        language = str(assembled[0].document["language"])
        text_layer = tuple(
            number for number in recognizer.plan(examined).text_layer if number not in numbers
        )
        from_text = recognizer.recognize(
            examined, language, PagePlan(task.page_count, text_layer, ())
        )
        pages = tuple(sorted((*recognized, *from_text.pages), key=lambda page: page.number))
        document = Document(pages, language, any(page.trial_limited for page in pages))
        published = self._publisher.publish(
            source, keys, publication_of(document, source, examined, recognizer)
        )
        return outcome_of(
            source,
            keys,
            document,
            published,
            input_bytes=len(source_object.body),
            seconds=0.0,
            low_confidence=self._publisher.low_confidence(document),
        )


class _SupersededError(Exception):
    """The source was overwritten since the task was sent: the newer upload owns the key."""
