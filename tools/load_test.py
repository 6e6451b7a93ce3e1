"""`make load`: many uploads through the local topology (`make up`), the real handler in worker
processes, at-least-once delivery, and a check of every result.

Starts the topology of tools/local_stack in this process (moto's S3 and SQS in their own
process, the buckets, the ingest queue with its redrive policy to the dead-letter queue, the
input bucket notifying the queue, an SQS event source mapping stand-in and `--workers` worker
processes, each its own Init of app.py). Then, at the same time:
- a few threads upload `--objects` objects: small rendered text labels (about 400x200, PNG, one
  in 20 as WEBP, which the function converts), a fixed share of bad inputs (empty, text named
  .png, truncated PNG, 1x1 PNG), keys with spaces, `+` and non-ASCII characters, a share
  uploaded twice with changed content (half at once, half only after the first version's result
  exists: the result must then be replaced), and `--long-documents` multi-page TIFFs and PDFs of
  25-40 pages, which the function fans out as page tasks through the same queue;
- about 10% of the uploads get their notification sent a second time once their result exists
  (S3 delivers at least once): the function must skip them as duplicates;
- the first GetObject of a few objects fails (a fault armed for the workers): their message is
  reported in batchItemFailures and delivered again after the visibility timeout.
When everything is uploaded and the queue is empty, both buckets are listed: every input object
must have exactly one result (`.txt` xor `.error.json`) recording its current ETag, with the
failure reason its content deserves (the fake engine's exact text, and every page of a long
document in order), nothing else may be in the output bucket, nothing may be left in the
dead-letter queue, and no object uploaded once may have been recognized twice. Prints a table,
writes JSON (the per-batch records are in the stack's poller.log beside it), exits 1 on any
mismatch.

    python -m tools.load_test [--objects 300] [--engine aspose|tesseract] [--workers 2]
        [--batch-size N] [--visibility-timeout S] [--long-documents 2] [--fake-engine]
        [--json PATH] [--timeout 1800]

Nothing leaves 127.0.0.1: the endpoint is a local server on a free port, the credentials fake.
`--fake-engine` replaces the OCR engine with a fast fake, so the mechanics run in seconds. The
function's logs, the poller's JSON lines and moto's log go to a directory next to the JSON.
Mind what this does not model: moto's events carry no versionId or sequencer (the input bucket
is unversioned, as by default), and moto sends the notification synchronously inside PutObject.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote

from PIL import Image

from ocr_service.formats import ImageFormat
from tools.events import Upload, encode_key, s3_put_event
from tools.fake_engine import fake_document_text, fake_text
from tools.local_stack import faults, settings, topology
from tools.local_stack.faults import Faults
from tools.local_stack.poller import BatchRecord
from tools.local_stack.stack import LocalStack, StackOptions
from tools.samples import render_document, render_lines

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "bench" / "results"
INPUT_BUCKET = settings.INPUT_BUCKET
OUTPUT_BUCKET = settings.OUTPUT_BUCKET
TEXT_SUFFIX = ".txt"
ERROR_SUFFIX = ".error.json"

MIN_OBJECTS = 20
BAD_SHARE = 0.10  # of the objects, cycling through BAD_KINDS (at least one of each)
CHANGED_SHARE = 0.10  # uploaded twice with other content (at least one of each transition)
FAULT_SHARE = 0.03  # whose first GetObject fails once, as S3 or the network sometimes does
DUPLICATE_SHARE = 0.10  # of the objects uploaded once, whose notification comes twice
UPLOAD_THREADS = 4
POLL_S = 0.5
PROGRESS_EVERY_S = 15.0
LABEL_WIDTH, LABEL_FONT = 400, 20  # four lines: about 400x212 pixels
MIN_CHANGED = 6  # two timings x three transitions
LONG_PAGES = (25, 40)
# Long enough for the slowest batch (a task of OCR_PAGES_PER_TASK pages) on a busy machine, and
# short enough that a retried message comes back within the run. The template's own (six times
# the function's Timeout) would hold a retry for 30 or 90 minutes.
VISIBILITY_TIMEOUT_S = {"fake": 5, "tesseract": 60, "aspose": 180}

# What each bad input must end as: the failure reason in its .error.json.
BAD_KINDS: dict[str, str] = {
    "empty": "empty-object",
    "text": "unsupported-format",
    "truncated": "truncated-image",
    "tiny": "image-too-small",
}
GOOD = "good"  # a rendered label as PNG
WEBP = "webp"  # a rendered label as WEBP: the engine cannot read it, the function converts it
LONG_TIFF, LONG_PDF = "long-tiff", "long-pdf"  # multi-page documents, fanned out by pages
LONG_FORMATS = {LONG_TIFF: ImageFormat.TIFF, LONG_PDF: ImageFormat.PDF}
WEBP_EVERY = 20  # of the objects uploaded once
TRANSITIONS = ((GOOD, GOOD), (GOOD, "bad"), ("bad", GOOD))
KEY_STYLES = (
    "load/label-{n:04d}.{ext}",
    "load/scan {n:04d} (copy).{ext}",
    "load/счёт № {n:04d}.{ext}",
    "load/a+b=c {n:04d}.{ext}",
    "load/領収書-{n:04d}.{ext}",
    "load/reçu été ✓ {n:04d}.{ext}",
)
PHRASES = (
    "total amount paid in cash",
    "order number and date",
    "customer account balance",
    "shipping address street",
    "quick brown fox jumps",
    "lazy dog near the river",
    "office paper and window",
    "market station ticket",
    "seven eleven ninety",
    "thank you for the receipt",
    "green yellow morning",
    "garden evening city bank",
)


# --- what is uploaded ---------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    """One upload of an object."""

    kind: str
    """GOOD, WEBP, LONG_TIFF, LONG_PDF, or one of BAD_KINDS."""
    body: bytes
    label: str | None = None
    """The first line of a rendered label ("Label 0042 rev 1")."""
    pages: int = 1


@dataclass(frozen=True)
class PlannedObject:
    key: str
    versions: tuple[Version, ...]
    change: str | None = None
    """None (one upload); "early": the new content follows at once; "late": it follows only
    once the first version's result exists."""
    fault: bool = False
    """Its first GetObject fails once with a connection error (a transient failure)."""
    duplicate: bool = False
    """Its notification is sent again once its result exists."""

    @property
    def final(self) -> Version:
        return self.versions[-1]


def label_image(serial: int, revision: int, rng: random.Random, kind: str = GOOD) -> Version:
    label = f"Label {serial:04d} rev {revision}"
    lines = [label, *rng.sample(PHRASES, 3)]
    image_format = "WEBP" if kind == WEBP else "PNG"
    body = render_lines(lines, width=LABEL_WIDTH, font_size=LABEL_FONT, image_format=image_format)
    return Version(kind, body, label)


def bad_version(kind: str, serial: int, revision: int) -> Version:
    """Bad content that differs between objects and revisions (except `empty`)."""
    if kind == "empty":
        return Version(kind, b"")
    if kind == "text":
        return Version(kind, f"not an image: note {serial} rev {revision}\n".encode() * 3)
    label = (f"Broken {serial:04d} rev {revision}", "this part is lost")
    if kind == "truncated":
        png = render_lines(label, width=LABEL_WIDTH, font_size=LABEL_FONT)
        return Version(kind, png[: len(png) // 2])
    if kind == "tiny":
        buffer = io.BytesIO()
        Image.new("L", (1, 1), (serial * 7 + revision) % 256).save(buffer, "PNG")
        return Version(kind, buffer.getvalue())
    raise ValueError(f"unknown kind {kind!r}")


def long_document(index: int, rng: random.Random) -> PlannedObject:
    """A TIFF (even index) or PDF of 25-40 pages whose page N says "Page N of the long report"."""
    kind = LONG_TIFF if index % 2 == 0 else LONG_PDF
    pages = rng.randint(*LONG_PAGES)
    image_format = LONG_FORMATS[kind].value.upper()
    body = render_document(pages, image_format)
    ext = "tif" if kind == LONG_TIFF else "pdf"
    return PlannedObject(f"load/long/report {index:02d}.{ext}", (Version(kind, body, None, pages),))


def build_plan(objects: int, seed: int = 1, long_documents: int = 2) -> list[PlannedObject]:
    """The objects to upload, deterministic for a seed. Every bad kind, a WEBP, both change
    timings and every change transition appear at least once; `long_documents` multi-page
    documents (TIFF and PDF by turns) come on top of `objects`."""
    if objects < MIN_OBJECTS:
        raise ValueError(f"at least {MIN_OBJECTS} objects are needed for every case")
    rng = random.Random(seed)
    order = list(range(objects))
    rng.shuffle(order)
    n_bad = max(len(BAD_KINDS), round(objects * BAD_SHARE))
    n_changed = max(MIN_CHANGED, round(objects * CHANGED_SHARE))
    n_faults = max(1, round(objects * FAULT_SHARE))
    n_duplicates = max(1, round(objects * DUPLICATE_SHARE))
    bad = {serial: index for index, serial in enumerate(order[:n_bad])}
    changed = {serial: index for index, serial in enumerate(order[n_bad : n_bad + n_changed])}
    once = order[n_bad + n_changed :]
    faults_at = set(once[:n_faults])
    duplicates = set(once[n_faults : n_faults + n_duplicates]) | set(order[:1])  # and a bad one
    kinds = list(BAD_KINDS)
    plan = []
    for serial in range(objects):
        change: str | None = None
        if serial in bad:
            versions: tuple[Version, ...] = (
                bad_version(kinds[bad[serial] % len(kinds)], serial, 1),
            )
        elif serial in changed:
            index = changed[serial]
            change = "early" if index % 2 == 0 else "late"
            bad_kind = kinds[index % len(kinds)]
            versions = tuple(
                label_image(serial, revision, rng)
                if kind == GOOD
                else bad_version(bad_kind, serial, revision)
                for revision, kind in enumerate(TRANSITIONS[(index // 2) % len(TRANSITIONS)], 1)
            )
        else:
            kind = WEBP if serial % WEBP_EVERY == WEBP_EVERY // 2 else GOOD
            versions = (label_image(serial, 1, rng, kind),)
        ext = "webp" if versions[0].kind == WEBP else "png"
        key = KEY_STYLES[serial % len(KEY_STYLES)].format(n=serial, ext=ext)
        plan.append(PlannedObject(key, versions, change, serial in faults_at, serial in duplicates))
    for index in range(long_documents):
        document = long_document(index, rng)
        plan.append(PlannedObject(document.key, document.versions, duplicate=index == 0))
    return plan


class Uploads:
    """Every PutObject made, in order per key (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.etags: dict[str, list[str]] = {}
        self.count = 0

    def put(self, s3: S3Client, key: str, body: bytes) -> str:
        etag = s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)["ETag"].strip('"')
        with self._lock:
            self.etags.setdefault(key, []).append(etag)
            self.count += 1
        return etag

    def first_etag(self, key: str) -> str | None:
        with self._lock:
            etags = self.etags.get(key)
            return etags[0] if etags else None


# --- uploading, and what S3 does twice -----------------------------------------------------


def upload_all(
    s3: S3Client, plan: Sequence[PlannedObject], uploads: Uploads, deadline: float
) -> None:
    """First versions (and "early" second versions right after) from a few threads."""

    def upload(planned: PlannedObject) -> None:
        if time.monotonic() > deadline:
            return
        uploads.put(s3, planned.key, planned.versions[0].body)
        if planned.change == "early":
            uploads.put(s3, planned.key, planned.versions[1].body)

    with ThreadPoolExecutor(UPLOAD_THREADS, thread_name_prefix="upload") as pool:
        list(pool.map(upload, plan))


def result_records(s3: S3Client, key: str, etag: str) -> bool:
    """Whether a result (of either kind) records this ETag."""
    for result_key in (key + TEXT_SUFFIX, key + ERROR_SUFFIX):
        try:
            head = s3.head_object(Bucket=OUTPUT_BUCKET, Key=result_key)
        except s3.exceptions.ClientError:
            continue
        if head["Metadata"].get("source-etag") == etag:
            return True
    return False


def after_first_results(
    s3: S3Client,
    planned: Sequence[PlannedObject],
    *,
    uploads: Uploads,
    act: Callable[[PlannedObject, str], None],
    idle: Callable[[], bool],
    deadline: float,
) -> int:
    """Call `act(object, first etag)` once each object's first upload has its result. Returns
    how many were acted on without one (the pipeline was idle and no result came)."""
    pending = {p.key: p for p in planned}
    forced = 0
    while pending and time.monotonic() < deadline:
        for key, item in list(pending.items()):
            first = uploads.first_etag(key)
            if first is None:
                continue
            if not result_records(s3, key, first):
                if not idle():
                    continue
                forced += 1  # its first event is done without a result: wait no longer
            act(item, first)
            del pending[key]
        time.sleep(POLL_S)
    return forced


def duplicate_notification(key: str, etag: str, size: int) -> str:
    """The notification S3 sent for this upload, as a second delivery would carry it."""
    return json.dumps(s3_put_event([Upload(INPUT_BUCKET, encode_key(key), size, etag)]))


# --- checking the buckets ------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    kind: str
    """text or error."""
    reason: str | None
    etag: str
    """The ETag of the last upload."""
    text: str | None = None
    """The exact text (fake engine only)."""
    pages: int = 1


@dataclass(frozen=True)
class OutputObject:
    metadata: Mapping[str, str]
    body: bytes | None = None


@dataclass(frozen=True)
class Mismatch:
    key: str
    problem: str
    detail: str = ""


def verify(
    expected: Mapping[str, Expectation],
    inputs: Mapping[str, str],
    outputs: Mapping[str, OutputObject],
) -> list[Mismatch]:
    """Every input has exactly one result recording its current ETag, of the expected kind and
    reason; nothing is missing and nothing else is in the output bucket."""
    mismatches: list[Mismatch] = []
    claimed: set[str] = set()
    for key in sorted(expected.keys() | inputs.keys()):
        if key not in inputs:
            mismatches.append(Mismatch(key, "input-missing", "uploaded but not in the bucket"))
            continue
        if key not in expected:
            mismatches.append(Mismatch(key, "unexpected-input", "in the bucket, never uploaded"))
            continue
        want = expected[key]
        if inputs[key] != want.etag:
            mismatches.append(
                Mismatch(key, "input-etag", f"bucket has {inputs[key]}, last upload {want.etag}")
            )
        candidates = {"text": key + TEXT_SUFFIX, "error": key + ERROR_SUFFIX}
        claimed.update(candidates.values())
        present = {kind: outputs[name] for kind, name in candidates.items() if name in outputs}
        if not present:
            mismatches.append(Mismatch(key, "no-result"))
        elif len(present) > 1:
            mismatches.append(Mismatch(key, "two-results", "both .txt and .error.json"))
        else:
            ((kind, output),) = present.items()
            mismatches.extend(_check_result(key, want, inputs[key], kind, output))
    for name in sorted(outputs.keys() - claimed):
        mismatches.append(Mismatch(name, "unexpected-output", "no input object owns it"))
    return mismatches


def _check_result(
    key: str, want: Expectation, current_etag: str, kind: str, output: OutputObject
) -> list[Mismatch]:
    found: list[Mismatch] = []
    metadata = output.metadata
    if kind != want.kind:
        detail = f"expected {want.kind} ({want.reason}), found {kind}"
        found.append(Mismatch(key, "wrong-kind", f"{detail} ({metadata.get('failure-reason')})"))
    if metadata.get("source-etag") != current_etag:
        found.append(
            Mismatch(
                key,
                "stale-result",
                f"records {metadata.get('source-etag')}, input has {current_etag}",
            )
        )
    if metadata.get("source-key") != quote(key, safe="/"):
        found.append(Mismatch(key, "wrong-source-key", str(metadata.get("source-key"))))
    if kind == want.kind == "error" and metadata.get("failure-reason") != want.reason:
        found.append(
            Mismatch(
                key,
                "wrong-reason",
                f"expected {want.reason}, found {metadata.get('failure-reason')}",
            )
        )
    if kind == want.kind == "text" and want.pages > 1:
        pages = (output.body or b"").decode("utf-8", "replace").split("\f")
        if metadata.get("page-count") != str(want.pages) or len(pages) != want.pages:
            detail = f"{len(pages)} pages ({metadata.get('page-count')}), expected {want.pages}"
            found.append(Mismatch(key, "wrong-page-count", detail))
    if kind == want.kind == "text" and want.text is not None:
        text = (output.body or b"").decode("utf-8", "replace")
        if text != want.text:
            found.append(Mismatch(key, "wrong-text", f"{text[:80]!r} != {want.text[:80]!r}"))
    return found


def list_bucket(s3: S3Client, bucket: str) -> dict[str, str]:
    """Key -> ETag of every object."""
    objects: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            objects[item["Key"]] = item["ETag"].strip('"')
    return objects


def read_outputs(s3: S3Client, bucket: str) -> dict[str, OutputObject]:
    """Each result's metadata, and the text of each .txt."""
    outputs = {}
    for key in list_bucket(s3, bucket):
        if key.endswith(TEXT_SUFFIX):
            response = s3.get_object(Bucket=bucket, Key=key)
            outputs[key] = OutputObject(response["Metadata"], response["Body"].read())
        else:
            outputs[key] = OutputObject(s3.head_object(Bucket=bucket, Key=key)["Metadata"])
    return outputs


def percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def expectations(
    plan: Sequence[PlannedObject], uploads: Uploads, fake_engine: bool
) -> dict[str, Expectation]:
    expected = {}
    for planned in plan:
        final = planned.final
        etags = uploads.etags.get(planned.key, [""])
        if final.kind in LONG_FORMATS:
            image_format = LONG_FORMATS[final.kind]
            document = fake_document_text(final.body, image_format, final.pages)
            expected[planned.key] = Expectation(
                "text", None, etags[-1], document if fake_engine else None, final.pages
            )
        elif final.kind in (GOOD, WEBP):
            # The fake's text of a WEBP depends on the function's conversion: not predicted.
            exact = fake_engine and final.kind == GOOD
            text = fake_text(final.body, ImageFormat.PNG) if exact else None
            expected[planned.key] = Expectation("text", None, etags[-1], text)
        else:
            expected[planned.key] = Expectation("error", BAD_KINDS[final.kind], etags[-1])
    return expected


def label_check(
    plan: Sequence[PlannedObject], outputs: Mapping[str, OutputObject]
) -> dict[str, object]:
    """Real engine: how many texts show their label's first line (trial mode cuts texts, OCR
    misreads), which do not, how many show another revision's label (a stale result), and how
    many pages of the long documents say their own number, in order."""
    shown, stale, missing = 0, 0, []
    pages_shown, pages_total = 0, 0
    for planned in plan:
        output = outputs.get(planned.key + TEXT_SUFFIX)
        if output is None or output.body is None:
            continue
        if planned.final.kind in LONG_FORMATS:
            pages = output.body.decode("utf-8", "replace").split("\f")
            pages_total += planned.final.pages
            pages_shown += sum(
                # Trial mode cuts the rest; Aspose reads these PDF pages without spaces.
                f"Page{number}of" in "".join(page.split())
                for number, page in enumerate(pages, 1)
            )
            continue
        label = planned.final.label
        if label is None:
            continue
        text = " ".join(output.body.decode("utf-8", "replace").split())
        if label in text:
            shown += 1
        else:
            missing.append(f"{planned.key}: {text[:60]!r}")
        stale += any(v.label and v.label in text for v in planned.versions[:-1])
    return {
        "texts_showing_their_label": shown,
        "texts_showing_a_stale_label": stale,
        "texts_missing_their_label": missing[:10],
        "long_document_pages_showing_their_number": f"{pages_shown}/{pages_total}",
    }


def recognitions(log_records: Sequence[Mapping[str, Any]]) -> Counter[str]:
    """Per key, how many results the function wrote ("object recognized", or "object failed"
    with a failure record): at most one per uploaded version when duplicates are skipped."""
    counts: Counter[str] = Counter()
    for record in log_records:
        message = record.get("message")
        if message == "object recognized" or (
            message == "object failed" and record.get("outcome") == "failed"
        ):
            counts[str(record.get("key"))] += 1
    return counts


def duplicate_problems(
    plan: Sequence[PlannedObject], written: Mapping[str, int], duplicated: set[str]
) -> list[Mismatch]:
    """An object uploaded once whose notification came twice must have one result written."""
    problems = []
    for planned in plan:
        if planned.key in duplicated and len(planned.versions) == 1:
            count = written.get(planned.key, 0)
            if count != 1:
                detail = f"{count} results written for one upload delivered twice"
                problems.append(Mismatch(planned.key, "duplicate-not-skipped", detail))
    return problems


@dataclass
class RunReport:
    counts: dict[str, int]
    timings: dict[str, float]
    failure_reasons: dict[str, int]
    expected_failure_reasons: dict[str, int]
    mismatches: list[Mismatch]
    notes: dict[str, object]

    def ok(self) -> bool:
        return not self.mismatches

    def as_dict(self, run: Mapping[str, object]) -> dict[str, object]:
        return {
            "run": dict(run),
            "ok": self.ok(),
            "counts": self.counts,
            "timings": self.timings,
            "failure_reasons": self.failure_reasons,
            "expected_failure_reasons": self.expected_failure_reasons,
            "mismatches": [asdict(m) for m in self.mismatches],
            "notes": self.notes,
        }


@dataclass
class Observed:
    """Everything a run saw, for `summarize`."""

    plan: list[PlannedObject]
    fake_engine: bool
    uploads: Uploads
    batches: list[BatchRecord] = field(default_factory=list)
    log_records: list[dict[str, Any]] = field(default_factory=list)
    duplicated: set[str] = field(default_factory=set)
    faults_armed: int = 0
    faults_left: int = 0
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, OutputObject] = field(default_factory=dict)
    times: dict[str, float] = field(default_factory=dict)
    late_changes_forced: int = 0
    dead_letters: int = 0
    leftover_messages: int = 0
    stopped_because: str | None = None
    worker_events: list[str] = field(default_factory=list)


def stack_options(args: argparse.Namespace, state_dir: Path) -> StackOptions:
    mode = "fake" if args.fake_engine else args.engine
    return StackOptions(
        engine=args.engine,
        workers=args.workers,
        batch_size=args.batch_size,
        visibility_timeout=args.visibility_timeout or VISIBILITY_TIMEOUT_S[mode],
        port=0,
        state_dir=state_dir,
        fake_engine=args.fake_engine,
        faults_dir=state_dir / "faults",
        wait_seconds=1,
    )


def run(args: argparse.Namespace, state_dir: Path) -> Observed:
    plan = build_plan(args.objects, args.seed, args.long_documents)
    seen = Observed(plan, args.fake_engine, Uploads())
    deadline = time.monotonic() + args.timeout
    options = stack_options(args, state_dir)
    assert options.faults_dir is not None
    armed = Faults(options.faults_dir)
    for planned in plan:
        if planned.fault:
            armed.arm(faults.GET_FAIL, faults.key_tag(planned.key))
    seen.faults_armed = len(armed.armed())
    with LocalStack(options) as stack:
        seen.times["init_s"] = max(stack.init_seconds(), default=0.0)
        _exercise(stack, seen, deadline)
        seen.batches = list(stack.journal.batches)
        seen.worker_events = [e for e in stack.journal.events if "ready" not in e]
        seen.log_records = stack.function_log_records()
        sqs = topology.sqs_client(stack.topology.endpoint_url)
        seen.dead_letters = sum(topology.queue_depth(sqs, stack.topology.dead_letter_url))
        seen.leftover_messages = sum(topology.queue_depth(sqs, stack.topology.queue_url))
        s3 = topology.s3_client(stack.topology.endpoint_url)
        seen.inputs = list_bucket(s3, INPUT_BUCKET)
        seen.outputs = read_outputs(s3, OUTPUT_BUCKET)
    seen.faults_left = len(armed.armed())
    return seen


def _exercise(stack: LocalStack, seen: Observed, deadline: float) -> None:
    """Upload everything, send the duplicates, wait until the queue is empty."""
    s3 = topology.s3_client(stack.topology.endpoint_url)
    sqs: SQSClient = topology.sqs_client(stack.topology.endpoint_url)
    plan, uploads = seen.plan, seen.uploads
    planned_puts = sum(len(planned.versions) for planned in plan)

    def idle() -> bool:
        visible, in_flight = topology.queue_depth(sqs, stack.topology.queue_url)
        return visible == 0 and in_flight == 0 and stack.running_batches == 0

    def change(planned: PlannedObject, _: str) -> None:
        uploads.put(s3, planned.key, planned.versions[1].body)

    def duplicate(planned: PlannedObject, etag: str) -> None:
        body = duplicate_notification(planned.key, etag, len(planned.versions[0].body))
        sqs.send_message(QueueUrl=stack.topology.queue_url, MessageBody=body)
        seen.duplicated.add(planned.key)

    late = [planned for planned in plan if planned.change == "late"]
    twice = [planned for planned in plan if planned.duplicate and not planned.change]
    started = time.monotonic()
    with ThreadPoolExecutor(3) as pool:
        futures: list[Future[Any]] = [
            pool.submit(upload_all, s3, plan, uploads, deadline),
            pool.submit(
                after_first_results,
                s3,
                late,
                uploads=uploads,
                act=change,
                idle=idle,
                deadline=deadline,
            ),
            pool.submit(
                after_first_results,
                s3,
                twice,
                uploads=uploads,
                act=duplicate,
                idle=idle,
                deadline=deadline,
            ),
        ]
        _watch(stack, uploads, planned_puts, futures, deadline)
        seen.late_changes_forced = futures[1].result()
    if not stack.wait_idle(max(1.0, deadline - time.monotonic()), settle_s=2.0):
        seen.stopped_because = "timeout"
    seen.times["elapsed_s"] = time.monotonic() - started


def _watch(
    stack: LocalStack,
    uploads: Uploads,
    planned_puts: int,
    futures: Sequence[Future[Any]],
    deadline: float,
) -> None:
    """Print progress to stderr until the uploading threads are done; re-raise their errors."""
    last = time.monotonic()
    while not all(future.done() for future in futures) and time.monotonic() < deadline:
        time.sleep(POLL_S)
        if time.monotonic() - last >= PROGRESS_EVERY_S:
            last = time.monotonic()
            batches = list(stack.journal.batches)
            print(
                f"  uploads {uploads.count}/{planned_puts}, batches {len(batches)}, messages "
                f"{sum(len(b.message_ids) for b in batches)}, dead letters "
                f"{stack.dead_letter_count}",
                file=sys.stderr,
                flush=True,
            )
    for future in futures:
        if future.done() and future.exception() is not None:
            raise RuntimeError("a load-test thread failed") from future.exception()


def delivery_counts(batches: Sequence[BatchRecord]) -> dict[str, int]:
    deliveries = [
        (kind, count, message_id in batch.failed)
        for batch in batches
        for kind, count, message_id in zip(
            batch.kinds, batch.receive_counts, batch.message_ids, strict=True
        )
    ]
    return {
        "batches": len(batches),
        "deliveries": len(deliveries),
        "upload_deliveries": sum(1 for kind, _, _ in deliveries if kind == "upload"),
        "page_task_deliveries": sum(1 for kind, _, _ in deliveries if kind == "page-task"),
        "test_events": sum(1 for kind, _, _ in deliveries if kind == "test-event"),
        "retries": sum(1 for _, count, _ in deliveries if count > 1),
        "failed_deliveries": sum(1 for _, _, failed in deliveries if failed),
        "batches_with_errors": sum(1 for batch in batches if batch.error),
    }


def summarize(seen: Observed) -> RunReport:
    """Check the buckets and the deliveries, and count."""
    plan, outputs = seen.plan, seen.outputs
    expected = expectations(plan, seen.uploads, seen.fake_engine)
    mismatches = verify(expected, seen.inputs, outputs)
    written = recognitions(seen.log_records)
    mismatches += duplicate_problems(plan, written, seen.duplicated)
    if seen.stopped_because:
        mismatches.append(Mismatch("*", "stopped", seen.stopped_because))
    if seen.leftover_messages:
        mismatches.append(Mismatch("*", "queue-not-empty", f"{seen.leftover_messages} left"))
    if seen.dead_letters:
        mismatches.append(Mismatch("*", "dead-letters", f"{seen.dead_letters} in the DLQ"))
    if seen.faults_left:
        mismatches.append(Mismatch("*", "faults-not-met", f"{seen.faults_left} never fired"))
    txt = [key for key in outputs if key.endswith(TEXT_SUFFIX)]
    errors = [key for key in outputs if key.endswith(ERROR_SUFFIX)]
    once = {planned.key for planned in plan if len(planned.versions) == 1}
    counts = {
        "input_objects": len(seen.inputs),
        "uploads": seen.uploads.count,
        "changed_objects": sum(1 for planned in plan if planned.change),
        "long_documents": sum(1 for planned in plan if planned.final.kind in LONG_FORMATS),
        "long_document_pages": sum(
            planned.final.pages for planned in plan if planned.final.kind in LONG_FORMATS
        ),
        "txt_outputs": len(txt),
        "error_json_outputs": len(errors),
        "other_outputs": len(outputs) - len(txt) - len(errors),
        "expected_txt": sum(1 for want in expected.values() if want.kind == "text"),
        "expected_error_json": sum(1 for want in expected.values() if want.kind == "error"),
        **delivery_counts(seen.batches),
        "duplicates_sent": len(seen.duplicated),
        "duplicates_skipped": sum(
            1
            for record in seen.log_records
            if record.get("message") == "object skipped" and record.get("reason") == "duplicate"
        ),
        "faults_injected": seen.faults_armed - seen.faults_left,
        "dead_letters": seen.dead_letters,
        "worker_restarts": sum(1 for event in seen.worker_events if "starting a new" in event),
        "mismatches": len(mismatches),
    }
    elapsed = seen.times.get("elapsed_s", 0.0)
    seconds = [batch.seconds for batch in seen.batches]
    latencies = [
        batch.started_at + batch.seconds - sent
        for batch in seen.batches
        for sent, kind, message_id in zip(
            batch.sent_at, batch.kinds, batch.message_ids, strict=True
        )
        if kind == "upload" and message_id not in batch.failed
    ]
    timings = {
        **{name: round(value, 2) for name, value in seen.times.items()},
        "objects_per_minute": round(len(seen.inputs) / elapsed * 60, 1) if elapsed else 0.0,
        "batch_p50_s": round(percentile(seconds, 0.5), 3),
        "batch_p95_s": round(percentile(seconds, 0.95), 3),
        "batch_max_s": round(max(seconds, default=0.0), 3),
        "batch_mean_s": round(statistics.fmean(seconds), 3) if seconds else 0.0,
        "upload_message_latency_p50_s": round(percentile(latencies, 0.5), 2),
        "upload_message_latency_p95_s": round(percentile(latencies, 0.95), 2),
    }
    notes: dict[str, object] = {
        "late_changes_uploaded_before_their_first_result": seen.late_changes_forced,
        "uploaded_once_but_written_more_than_once": sorted(
            key for key in once if written.get(key, 0) > 1
        )[:10],
        "worker_events": seen.worker_events[:10],
    }
    if not seen.fake_engine:
        notes.update(label_check(plan, outputs))
    return RunReport(
        counts=counts,
        timings=timings,
        failure_reasons=dict(
            Counter(outputs[key].metadata.get("failure-reason", "?") for key in errors)
        ),
        expected_failure_reasons=dict(
            Counter(want.reason for want in expected.values() if want.reason)
        ),
        mismatches=mismatches,
        notes=notes,
    )


def print_report(report: RunReport, out: TextIO = sys.stdout) -> None:
    rows: list[tuple[str, object]] = [
        *report.counts.items(),
        *report.timings.items(),
        *((f"failure-reason {name}", n) for name, n in sorted(report.failure_reasons.items())),
        *report.notes.items(),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}", file=out)
    for mismatch in report.mismatches[:50]:
        print(f"MISMATCH {mismatch.problem}: {mismatch.key} {mismatch.detail}", file=out)
    print("OK" if report.ok() else "NOT OK", file=out)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=300, help="distinct small objects")
    parser.add_argument(
        "--long-documents", type=int, default=2, help="25-40 page TIFFs and PDFs on top"
    )
    parser.add_argument("--engine", choices=settings.ENGINES, default="aspose")
    parser.add_argument("--fake-engine", action="store_true", help="a fast fake OCR engine")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--batch-size", type=int, help="default: the template's BatchSize")
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        help=f"the ingest queue's, seconds (default {VISIBILITY_TIMEOUT_S}); the template's "
        "would hold a retried message 30-90 minutes",
    )
    parser.add_argument("--json", type=Path, help="default: bench/results/load-<timestamp>.json")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds for the whole run")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.objects < MIN_OBJECTS:
        parser.error(f"--objects must be at least {MIN_OBJECTS}")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.long_documents < 0:
        parser.error("--long-documents must be 0 or more")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path: Path = args.json or RESULTS_DIR / f"load-{stamp}.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    state_dir = json_path.with_suffix("")
    engine = "fake" if args.fake_engine else args.engine
    print(
        f"load test: {args.objects} objects + {args.long_documents} long documents, {engine} "
        f"engine, {args.workers} worker(s); logs: {state_dir}/",
        flush=True,
    )
    load_before = os.getloadavg()
    seen = run(args, state_dir)
    report = summarize(seen)
    print_report(report)
    run_info = {
        "started": stamp,
        "objects": args.objects,
        "long_documents": args.long_documents,
        "engine": engine,
        "workers": args.workers,
        "batch_size": args.batch_size,
        "visibility_timeout": stack_options(args, state_dir).visibility_timeout,
        "seed": args.seed,
        "timeout_s": args.timeout,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "logs": str(state_dir),
    }
    json_path.write_text(
        json.dumps(report.as_dict(run_info), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"wrote {json_path}")
    return 0 if report.ok() else 1


if __name__ == "__main__":
    raise SystemExit(main())
