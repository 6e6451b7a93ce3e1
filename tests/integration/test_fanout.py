"""Long documents fan out by pages: split, page tasks in any order, duplicates, crashes, a
newer upload, permanent and transient failures of one range (moto S3, the fake engine)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Sequence
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from pypdf import PdfReader

from ocr_service.aws.event_shapes import PAGE_TASK_KEY
from ocr_service.aws.fanout import PARTS_PREFIX, PageTask, Parts, split_pages
from ocr_service.aws.outcomes import Failed, Skipped, Succeeded
from ocr_service.aws.page_tasks import Splitter
from ocr_service.aws.pipeline import OcrPipeline
from ocr_service.aws.results import ObjectVersion
from ocr_service.aws.storage import S3ObjectStore
from ocr_service.aws.time_budget import Clock
from ocr_service.core.config import DEFAULT_LIMITS
from ocr_service.core.failures import OcrError, Reason
from ocr_service.recognition.recognizer import DocumentRecognizer
from tests.support.deployment import INPUT_BUCKET, OUTPUT_BUCKET
from tests.support.uploads import event_of, output_keys, text_of, upload
from tools.fake_engine import FakeEngine
from tools.pdf_samples import born_digital_pdf, mixed_pdf, report_pages
from tools.samples import render_document

CLOCK = Clock(lambda: 900_000, 900_000)


class ListQueue:
    """The ingest queue, as a list of message bodies."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send(self, bodies: Sequence[str]) -> None:
        self.bodies.extend(bodies)

    def tasks(self) -> list[PageTask]:
        return [PageTask.from_fields(json.loads(body)[PAGE_TASK_KEY]) for body in self.bodies]


def make(s3: Any, engine: FakeEngine, queue: ListQueue, *outputs: str) -> OcrPipeline:
    return OcrPipeline(
        DocumentRecognizer(engine, DEFAULT_LIMITS),
        S3ObjectStore(s3),
        OUTPUT_BUCKET,
        outputs=frozenset({"txt", *outputs}),
        splitter=Splitter(queue, pages_per_task=10),
    )


@pytest.mark.parametrize("document_format", ["TIFF", "PDF"])
def test_a_long_document_is_split_and_assembled_once_in_page_order(
    s3: Any, fake_engine: FakeEngine, document_format: str
) -> None:
    queue = ListQueue()
    pipeline = make(s3, fake_engine, queue, "json", "pdf")
    refs = event_of(upload(s3, "long/report.doc", render_document(30, document_format)))

    split = pipeline.process_refs(refs, CLOCK)

    assert [s.reason for s in split.skipped] == ["split-into-page-tasks"]
    assert fake_engine.calls == []  # the splitting record recognizes nothing
    tasks = queue.tasks()
    assert [t.pages for t in tasks] == split_pages(range(1, 31), 10)
    outcomes = [pipeline.process_task(task, CLOCK) for task in reversed(tasks)]
    assert [type(o) for o in outcomes] == [Skipped, Skipped, Succeeded]  # exactly one assembly
    assert sorted(fake_engine.page_sets) == split_pages(range(1, 31), 10)
    pages = text_of(s3, "long/report.doc.txt").split("\f")
    assert [p.split(" of ")[0] for p in pages] == [f"page {n}" for n in range(1, 31)]
    head = s3.head_object(Bucket=OUTPUT_BUCKET, Key="long/report.doc.txt")
    assert head["Metadata"]["page-count"] == "30"
    sidecar = json.loads(text_of(s3, "long/report.doc.json"))
    assert [p["number"] for p in sidecar["pages"]] == list(range(1, 31))
    pdf = s3.get_object(Bucket=OUTPUT_BUCKET, Key="long/report.doc.pdf")["Body"].read()
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 30  # rendered once, from the whole model
    # no parts left
    assert output_keys(s3) == ["long/report.doc.json", "long/report.doc.pdf", "long/report.doc.txt"]


def test_a_task_delivered_twice_changes_nothing(s3: Any, fake_engine: FakeEngine) -> None:
    queue = ListQueue()
    pipeline = make(s3, fake_engine, queue)
    pipeline.process_refs(event_of(upload(s3, "doc.tif", render_document(25))), CLOCK)
    first, second, third = queue.tasks()

    assert isinstance(pipeline.process_task(first, CLOCK), Skipped)
    assert isinstance(pipeline.process_task(first, CLOCK), Skipped)  # before the assembly
    assert isinstance(pipeline.process_task(second, CLOCK), Skipped)
    assert isinstance(pipeline.process_task(third, CLOCK), Succeeded)
    late = pipeline.process_task(second, CLOCK)  # after the assembly

    assert (late.reason if isinstance(late, Skipped) else None) == "duplicate"
    assert output_keys(s3) == ["doc.tif.txt"]
    assert len(text_of(s3, "doc.tif.txt").split("\f")) == 25


def test_exactly_one_task_claims_the_assembly(s3: Any) -> None:
    source = ObjectVersion(INPUT_BUCKET, "doc.tif", "etag", None)
    parts = [Parts(S3ObjectStore(s3), OUTPUT_BUCKET, source) for _ in range(3)]
    assert [p.claim(stale_after_s=900) for p in parts] == [True, False, False]
    # A claim older than the function's timeout belongs to an invocation that is gone.
    assert parts[1].claim(stale_after_s=0.0) is True


def test_a_crash_during_assembly_is_finished_by_the_redelivery(
    s3: Any, fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = ListQueue()
    pipeline = make(s3, fake_engine, queue)
    pipeline.process_refs(event_of(upload(s3, "doc.tif", render_document(20))), CLOCK)
    first, last = queue.tasks()
    pipeline.process_task(first, CLOCK)
    real_put = s3.put_object

    def dies_writing_the_text(**request: Any) -> Any:
        if request["Key"] == "doc.tif.txt":
            raise EndpointConnectionError(endpoint_url="https://s3.example")
        return real_put(**request)

    s3.put_object = dies_writing_the_text
    crashed = pipeline.process_task(last, CLOCK)
    s3.put_object = real_put
    assert isinstance(crashed, Failed) and crashed.retryable  # its message comes back

    assert isinstance(pipeline.process_task(last, CLOCK), Skipped)  # the claim is held
    # Redelivered after the queue's visibility timeout (six function timeouts): the claim is
    # stale by then, so the redelivery takes it over, without recognizing its pages again.
    calls = len(fake_engine.calls)
    now = time.time()
    monkeypatch.setattr("ocr_service.aws.fanout.time.time", lambda: now + 6 * 900)
    assert isinstance(pipeline.process_task(last, CLOCK), Succeeded)
    assert len(fake_engine.calls) == calls
    assert output_keys(s3) == ["doc.tif.txt"]


def test_a_newer_upload_during_a_fan_out_wins(s3: Any, fake_engine: FakeEngine) -> None:
    queue = ListQueue()
    pipeline = make(s3, fake_engine, queue)
    pipeline.process_refs(event_of(upload(s3, "doc.tif", render_document(20))), CLOCK)
    old_first, old_last = queue.tasks()
    pipeline.process_task(old_first, CLOCK)

    queue.bodies.clear()
    pipeline.process_refs(event_of(upload(s3, "doc.tif", render_document(30))), CLOCK)
    stale = pipeline.process_task(old_last, CLOCK)
    for task in queue.tasks():
        pipeline.process_task(task, CLOCK)

    assert (stale.reason if isinstance(stale, Skipped) else None) == "superseded"
    assert len(text_of(s3, "doc.tif.txt").split("\f")) == 30
    current = s3.head_object(Bucket=INPUT_BUCKET, Key="doc.tif")["ETag"].strip('"')
    head = s3.head_object(Bucket=OUTPUT_BUCKET, Key="doc.tif.txt")
    assert head["Metadata"]["source-etag"] == current
    # The old version's task that found the object changed removed that version's parts.
    assert [k for k in output_keys(s3) if k.startswith(PARTS_PREFIX)] == []


def test_a_page_range_that_fails_permanently_fails_the_document_once(
    s3: Any, fake_engine: FakeEngine
) -> None:
    queue = ListQueue()
    pipeline = make(s3, fake_engine, queue)
    pipeline.process_refs(event_of(upload(s3, "doc.pdf", render_document(30, "PDF"))), CLOCK)

    def refuse_the_middle(_: str) -> None:
        if fake_engine.page_sets[-1] == tuple(range(11, 21)):
            raise OcrError(Reason.UNREADABLE_IMAGE, "page 14 is garbage")

    fake_engine.during_recognition = refuse_the_middle
    outcomes = [pipeline.process_task(task, CLOCK) for task in queue.tasks()]

    assert [type(o) for o in outcomes] == [Skipped, Skipped, Failed]
    assert output_keys(s3) == ["doc.pdf.error.json"]
    record = json.loads(text_of(s3, "doc.pdf.error.json"))
    assert record["reason"] == "unreadable-image"
    assert "pages 11-20" in record["message"] and "page 14 is garbage" in record["message"]
    assert [p["pages"] for p in record["failed_pages"]] == ["11-20"]


def test_a_transient_failure_retries_only_its_range(s3: Any, fake_engine: FakeEngine) -> None:
    queue = ListQueue()
    pipeline = make(s3, fake_engine, queue)
    pipeline.process_refs(event_of(upload(s3, "doc.tif", render_document(20))), CLOCK)
    first, last = queue.tasks()
    short_of_time = Clock(lambda: 3_000, 900_000)

    retried = pipeline.process_task(first, short_of_time)
    assert isinstance(retried, Failed) and retried.retryable
    assert isinstance(pipeline.process_task(last, CLOCK), Skipped)  # waits for the first
    assert isinstance(pipeline.process_task(first, CLOCK), Succeeded)
    assert len(text_of(s3, "doc.tif.txt").split("\f")) == 20


def test_short_documents_and_images_are_not_split(s3: Any, fake_engine: FakeEngine) -> None:
    queue = ListQueue()
    pipeline = make(s3, fake_engine, queue)
    result = pipeline.process_refs(event_of(upload(s3, "short.tif", render_document(10))), CLOCK)
    assert [s.key for s in result.succeeded] == ["short.tif"]
    assert queue.bodies == []


def test_only_the_pages_that_need_the_engine_fan_out(s3: Any, fake_engine: FakeEngine) -> None:
    """A mixed PDF: its 12 scanned pages go to two tasks; its 12 text pages are read by the
    assembler, exactly, and the document comes out whole and in order."""
    lines = [[f"Page {number} line {line}" for line in range(3)] for number in range(1, 25)]
    queue = ListQueue()
    pipeline = make(s3, fake_engine, queue, "json")
    pipeline.process_refs(event_of(upload(s3, "mixed.pdf", mixed_pdf(lines))), CLOCK)

    tasks = queue.tasks()
    assert [t.pages for t in tasks] == [tuple(range(2, 21, 2)), (22, 24)]
    outcomes = [pipeline.process_task(task, CLOCK) for task in tasks]
    assert [type(o) for o in outcomes] == [Skipped, Succeeded]
    assert sorted(fake_engine.page_sets) == [tuple(range(2, 21, 2)), (22, 24)]
    pages = text_of(s3, "mixed.pdf.txt").split("\f")
    assert len(pages) == 24
    assert all(pages[n - 1] == "\n".join(lines[n - 1]) for n in range(1, 25, 2))
    assert all(pages[n - 1].startswith(f"page {n} of fake text") for n in range(2, 25, 2))
    metadata = s3.head_object(Bucket=OUTPUT_BUCKET, Key="mixed.pdf.txt")["Metadata"]
    assert (metadata["text-layer-pages"], metadata["ocr-pages"]) == ("12", "12")
    sidecar = json.loads(text_of(s3, "mixed.pdf.json"))
    assert [p["source"] for p in sidecar["pages"][:2]] == ["text-layer", "ocr"]


def test_a_long_born_digital_pdf_is_read_in_one_invocation(
    s3: Any, fake_engine: FakeEngine
) -> None:
    """60 pages with a text layer: no task, no engine, and the time check counts no page
    (60 recognized pages would need far more than this invocation's minute)."""
    queue = ListQueue()
    pipeline = make(s3, fake_engine, queue)
    pages = report_pages(60, lines_per_page=5)
    one_minute = Clock(lambda: 60_000, 60_000)

    result = pipeline.process_refs(
        event_of(upload(s3, "book.pdf", born_digital_pdf(pages))), one_minute
    )

    assert [s.key for s in result.succeeded] == ["book.pdf"]
    assert queue.bodies == [] and fake_engine.calls == []
    text = text_of(s3, "book.pdf.txt")
    assert text == "\f".join("\n".join(page) for page in pages)
    metadata = s3.head_object(Bucket=OUTPUT_BUCKET, Key="book.pdf.txt")["Metadata"]
    assert (metadata["page-count"], metadata["text-layer-pages"]) == ("60", "60")


def test_the_task_that_assembles_reads_the_source_once(s3: Any, fake_engine: FakeEngine) -> None:
    """Recognizing its own pages and then assembling needs the document twice: one download."""
    queue = ListQueue()
    pipeline = make(s3, fake_engine, queue, "pdf")
    pipeline.process_refs(event_of(upload(s3, "doc.tif", render_document(20))), CLOCK)
    first, last = queue.tasks()
    pipeline.process_task(first, CLOCK)
    reads: list[str] = []
    real_get = s3.get_object

    def counted(**request: Any) -> Any:
        if request["Bucket"] == INPUT_BUCKET:
            reads.append(request["Key"])
        return real_get(**request)

    s3.get_object = counted
    assert isinstance(pipeline.process_task(last, CLOCK), Succeeded)
    s3.get_object = real_get
    assert reads == ["doc.tif"]
