"""`make load`: many uploads, a real S3 endpoint, the real handler, at-least-once delivery.

Starts moto's S3 and SQS on loopback (`ThreadedMotoServer`), creates an input and an output
bucket and configures the input bucket to notify an SQS queue on `s3:ObjectCreated:*`: moto
sends the event S3 would, one per upload, and that queue is the trigger. Then, at the same time:
- a few threads upload `--objects` objects: small rendered text labels (about 400x200, PNG, one
  in 20 as WEBP, which the function converts), a fixed share of bad inputs (empty, text named
  .png, truncated PNG, 1x1 PNG), keys with spaces, `+` and non-ASCII characters, and a share
  uploaded twice with changed content: half at once, half only after the first version's result
  exists (the result must then be replaced);
- a trigger loop plays Lambda: it imports the real handler with the environment template.yaml
  declares (Init), receives the notifications and invokes `lambda_handler` once per event,
  delivers about 10% of the events a second time (S3 delivers at least once; those must be
  skipped as duplicates), and re-invokes an event whose invocation raised, at most twice, as
  Lambda's asynchronous retries do. A few GetObject calls fail once on purpose so that path runs.
At the end both buckets are listed: every input object must have exactly one result (`.txt` xor
`.error.json`) recording its current ETag, with the failure reason its content deserves, and
nothing else may be in the output bucket. Prints a table, writes JSON, exits 1 on any mismatch.

    python -m tools.load_test [--objects 300] [--fake-engine] [--json PATH] [--timeout 1800]

Nothing leaves 127.0.0.1: the endpoint is always the local server and the credentials are fake.
`--fake-engine` replaces the OCR engine with a fast fake, so the mechanics run in seconds.
The handler's log lines and metrics go to a .log next to the JSON. Mind what this does not
model: moto's events carry no versionId or sequencer (the input bucket is unversioned, as by
default), moto sends the notification synchronously inside PutObject, and the S3 server runs in
this process, so while the real engine holds the GIL the uploads pause too. `--workers N`
invokes from N threads sharing one Init (one engine); in Lambda, concurrent invocations get
separate execution environments.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import logging
import os
import platform
import random
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TextIO
from unittest import mock
from urllib.parse import quote, unquote_plus

import boto3
from botocore.exceptions import EndpointConnectionError
from moto.server import ThreadedMotoServer
from PIL import Image

from ocr_service import engines
from ocr_service.aspose_engine import ASPOSE_SPEED
from ocr_service.engine import Recognition, SpeedModel, StartupTimings
from ocr_service.formats import ImageFormat
from ocr_service.languages import AsposeLanguages
from tools.local_run import import_handler_module, invoke, local_environment
from tools.samples import render_lines

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "bench" / "results"
INPUT_BUCKET = "load-test-input"
OUTPUT_BUCKET = "load-test-output"
QUEUE_NAME = "load-test-ocr-trigger"
REGION = "us-east-1"
TEXT_SUFFIX = ".txt"
ERROR_SUFFIX = ".error.json"

MIN_OBJECTS = 20
BAD_SHARE = 0.10  # of the objects, cycling through BAD_KINDS (at least one of each)
CHANGED_SHARE = 0.10  # uploaded twice with other content (at least one of each transition)
FAULT_SHARE = 0.03  # whose first GetObject fails once, as S3 or the network sometimes does
REDELIVERY_SHARE = 0.10  # of the events, delivered a second time
MAX_RETRIES = 2  # Lambda's default for asynchronous invocations
RETRY_DELAYS_S = (1, 2)  # Lambda waits about 1 and 2 minutes; seconds show the same thing
UPLOAD_THREADS = 4
RECEIVE_WAIT_S = 1
VISIBILITY_TIMEOUT_S = 900  # longer than any invocation: a message is deleted when done
IDLE_GRACE_S = 30.0  # after the last upload, how long to wait for a missing notification
POLL_S = 0.2
PROGRESS_EVERY_S = 15.0
LABEL_WIDTH, LABEL_FONT = 400, 20  # four lines: about 400x212 pixels
MIN_CHANGED = 6  # two timings x three transitions

# What each bad input must end as: the failure reason in its .error.json.
BAD_KINDS: dict[str, str] = {
    "empty": "empty-object",
    "text": "unsupported-format",
    "truncated": "truncated-image",
    "tiny": "image-too-small",
}
GOOD = "good"  # a rendered label as PNG
WEBP = "webp"  # a rendered label as WEBP: the engine cannot read it, the function converts it
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
    """GOOD, WEBP, or one of BAD_KINDS."""
    body: bytes
    label: str | None = None
    """The first line of a rendered label ("Label 0042 rev 1")."""


@dataclass(frozen=True)
class PlannedObject:
    key: str
    versions: tuple[Version, ...]
    change: str | None = None
    """None (one upload); "early": the new content follows at once; "late": it follows only
    once the first version's result exists."""
    fault: bool = False
    """Its first GetObject fails once with a connection error (a transient failure)."""

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


def build_plan(objects: int, seed: int = 1) -> list[PlannedObject]:
    """The objects to upload, deterministic for a seed. Every bad kind, a WEBP, both change
    timings and every change transition appear at least once."""
    if objects < MIN_OBJECTS:
        raise ValueError(f"at least {MIN_OBJECTS} objects are needed for every case")
    rng = random.Random(seed)
    order = list(range(objects))
    rng.shuffle(order)
    n_bad = max(len(BAD_KINDS), round(objects * BAD_SHARE))
    n_changed = max(MIN_CHANGED, round(objects * CHANGED_SHARE))
    n_faults = max(1, round(objects * FAULT_SHARE))
    bad = {serial: index for index, serial in enumerate(order[:n_bad])}
    changed = {serial: index for index, serial in enumerate(order[n_bad : n_bad + n_changed])}
    faults = set(order[n_bad + n_changed : n_bad + n_changed + n_faults])
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
        plan.append(PlannedObject(key, versions, change, serial in faults))
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


# --- the engine --------------------------------------------------------------------------


def fake_text(data: bytes, image_format: ImageFormat) -> str:
    """What the fake engine "recognizes": unique per content, so a stale result shows."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    return f"fake text of {len(data)} bytes of {image_format.value}, sha256 {digest}: ünïcödé ✓"


@dataclass
class FakeEngine:
    """A fast OcrEngine for --fake-engine (the pipeline's guards run as usual)."""

    name: str = "fake"
    version: str = "0.0-load-test-fake"
    licensed: bool = False
    timings: StartupTimings = field(default_factory=lambda: StartupTimings(0, 0, 0, 0, 0))
    languages: AsposeLanguages = field(
        default_factory=lambda: AsposeLanguages({"LATIN", "ENG", "DEU", "FRA", "RUS", "UKR"})
    )
    speed: SpeedModel = ASPOSE_SPEED

    def recognize(
        self, data: bytes, image_format: ImageFormat, *_: object, **__: object
    ) -> Recognition:
        """The text depends on the bytes only (options such as a scale or a language are
        accepted and ignored)."""
        return Recognition((fake_text(data, image_format),), image_format, not self.licensed)


class EngineMeter:
    """Counts and times the engine's calls, per thread too (to attribute them to invocations)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self.calls = 0
        self.seconds: list[float] = []

    def thread_calls(self) -> int:
        return int(getattr(self._local, "calls", 0))

    @contextlib.contextmanager
    def attached(self, engine: Any) -> Iterator[None]:
        original = type(engine).recognize

        def recognize(this: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(this, *args, **kwargs)
            finally:
                self._local.calls = self.thread_calls() + 1
                with self._lock:
                    self.calls += 1
                    self.seconds.append(time.perf_counter() - started)

        with mock.patch.object(type(engine), "recognize", recognize):
            yield


class FaultInjector:
    """botocore hook: the first GetObject of each chosen key fails with a connection error."""

    def __init__(self, keys: set[str]) -> None:
        self._lock = threading.Lock()
        self._pending = set(keys)
        self.injected: list[str] = []

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        key = params.get("Key")
        with self._lock:
            if params.get("Bucket") != INPUT_BUCKET or key not in self._pending:
                return
            self._pending.discard(key)
            self.injected.append(key)
        raise EndpointConnectionError(endpoint_url=f"fault-injected://{key}")


# --- the trigger loop ----------------------------------------------------------------------


@dataclass
class Invocation:
    key: str
    etag: str
    delivery: str
    """original, or redelivery (the same event sent again)."""
    attempt: int
    seconds: float
    engine_calls: int
    outcome: str
    """succeeded, skipped:<reason>, failed:<reason>, raised:<exception>, or ignored."""


class TriggerLoop:
    """Receives the notifications and invokes the handler like Lambda (see the module doc)."""

    def __init__(
        self,
        module: ModuleType,
        *,
        sqs: Any,
        queue_url: str,
        planned_notifications: int,
        meter: EngineMeter,
        deadline: float,
        seed: int,
    ) -> None:
        self._module = module
        self._sqs = sqs
        self._queue_url = queue_url
        self._planned = planned_notifications
        self._meter = meter
        self._deadline = deadline
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.uploads_finished = threading.Event()
        self._abort = threading.Event()
        self.originals_received = 0
        self.test_events = 0
        self.unexpected_messages: list[str] = []
        self._outstanding = 0  # events sent again and not received yet
        self._in_flight = 0
        self._last_message = time.monotonic()
        self.invocations: list[Invocation] = []
        self.failed_events: list[dict[str, object]] = []
        self.stopped_because: str | None = None

    def finished(self) -> bool:
        with self._lock:
            return self._finished()

    def _finished(self) -> bool:
        return (
            self.originals_received >= self._planned
            and self._outstanding == 0
            and self._in_flight == 0
        )

    def abort(self) -> None:
        self._abort.set()

    def waiting_only_for(self, uploads_to_come: int) -> bool:
        """Whether everything uploaded so far is done: only `uploads_to_come` are missing."""
        with self._lock:
            return (
                self.originals_received >= self._planned - uploads_to_come
                and self._outstanding == 0
                and self._in_flight == 0
            )

    def run(self) -> None:
        """One worker; several may run in threads (like concurrent execution environments)."""
        while not self.finished():
            if self._abort.is_set():
                self.stopped_because = "aborted"
                return
            if time.monotonic() > self._deadline:
                self.stopped_because = "timeout"
                return
            if self._idle_too_long():
                self.stopped_because = "notifications missing"
                return
            response = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=1,
                WaitTimeSeconds=RECEIVE_WAIT_S,
                VisibilityTimeout=VISIBILITY_TIMEOUT_S,
                MessageAttributeNames=["All"],
            )
            for message in response.get("Messages", []):
                self._handle(message)

    def _idle_too_long(self) -> bool:
        with self._lock:
            idle = time.monotonic() - self._last_message
            return self.uploads_finished.is_set() and idle > IDLE_GRACE_S and self._in_flight == 0

    def leftover_messages(self) -> int:
        """Messages still in the queue after the loop (there should be none)."""
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=RECEIVE_WAIT_S
        )
        return len(response.get("Messages", []))

    def _handle(self, message: Mapping[str, Any]) -> None:
        attributes = message.get("MessageAttributes", {})
        delivery = attributes.get("delivery", {}).get("StringValue", "original")
        attempt = int(attributes.get("attempt", {}).get("StringValue", "1"))
        with self._lock:
            self._last_message = time.monotonic()
            self._in_flight += 1
            if delivery == "original" and attempt == 1:
                self.originals_received += 1
            else:
                self._outstanding -= 1
        try:
            self._deliver(message["Body"], delivery, attempt)
        finally:
            self._sqs.delete_message(
                QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
            with self._lock:
                self._in_flight -= 1

    def _deliver(self, body: str, delivery: str, attempt: int) -> None:
        event = json.loads(body)
        if event.get("Event") == "s3:TestEvent":  # S3 sends one when notifications are set up
            with self._lock:
                self.test_events += 1
            return
        records = event.get("Records", [])
        if len(records) != 1:
            with self._lock:
                self.unexpected_messages.append(body[:500])
            return
        s3_object = records[0]["s3"]["object"]
        key, etag = unquote_plus(s3_object["key"]), s3_object.get("eTag", "")
        calls_before = self._meter.thread_calls()
        started = time.perf_counter()
        try:
            result = invoke(self._module, event)
            outcome = _outcome(result)
        except Exception as error:  # Lambda retries whatever the handler raises
            outcome = f"raised:{type(error).__name__}"
            self._retry_or_give_up(body, delivery, attempt, key, error)
        else:
            with self._lock:
                again = delivery == "original" and self._rng.random() < REDELIVERY_SHARE
            if again:
                self._send(body, "redelivery", 1, 0)
        seconds = time.perf_counter() - started
        with self._lock:
            self.invocations.append(
                Invocation(
                    key,
                    etag,
                    delivery,
                    attempt,
                    seconds,
                    self._meter.thread_calls() - calls_before,
                    outcome,
                )
            )

    def _retry_or_give_up(
        self, body: str, delivery: str, attempt: int, key: str, error: Exception
    ) -> None:
        if attempt <= MAX_RETRIES:
            self._send(body, delivery, attempt + 1, RETRY_DELAYS_S[attempt - 1])
            return
        with self._lock:  # Lambda would now send the event to the on-failure destination
            self.failed_events.append(
                {"key": key, "delivery": delivery, "attempts": attempt, "error": str(error)}
            )

    def _send(self, body: str, delivery: str, attempt: int, delay_s: int) -> None:
        with self._lock:
            self._outstanding += 1
        self._sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=body,
            DelaySeconds=delay_s,
            MessageAttributes={
                "delivery": {"DataType": "String", "StringValue": delivery},
                "attempt": {"DataType": "Number", "StringValue": str(attempt)},
            },
        )


def _outcome(result: Mapping[str, Any]) -> str:
    """One event holds one record: name what became of it."""
    if result.get("succeeded"):
        return "succeeded"
    if result.get("skipped"):
        return f"skipped:{result['skipped'][0]['reason']}"
    if result.get("failed"):
        return f"failed:{result['failed'][0]['reason']}"
    return "ignored"


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


def upload_late_changes(
    s3: S3Client,
    late: Sequence[PlannedObject],
    uploads: Uploads,
    loop: TriggerLoop,
    deadline: float,
) -> int:
    """Upload each "late" object's new content once its first result exists. Returns how many
    had to be uploaded without (because nothing else was left to process)."""
    pending = {planned.key: planned for planned in late}
    forced = 0
    while pending and time.monotonic() < deadline:
        for key, planned in list(pending.items()):
            first = uploads.first_etag(key)
            if first is None:
                continue
            if result_records(s3, key, first):
                pass
            elif loop.waiting_only_for(len(pending)):
                forced += 1  # its first event is done without a result: wait no longer
            else:
                continue
            uploads.put(s3, key, planned.versions[1].body)
            del pending[key]
        time.sleep(POLL_S)
    return forced


def result_records(s3: S3Client, key: str, etag: str) -> bool:
    for result_key in (key + TEXT_SUFFIX, key + ERROR_SUFFIX):
        with contextlib.suppress(s3.exceptions.ClientError):
            head = s3.head_object(Bucket=OUTPUT_BUCKET, Key=result_key)
            if head["Metadata"].get("source-etag") == etag:
                return True
    return False


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


def expectations(
    plan: Sequence[PlannedObject], uploads: Uploads, fake_engine: bool
) -> dict[str, Expectation]:
    expected = {}
    for planned in plan:
        final = planned.final
        etags = uploads.etags.get(planned.key, [""])
        if final.kind in (GOOD, WEBP):
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
    misreads), which do not, and how many show another revision's label (a stale result)."""
    shown, stale, missing = 0, 0, []
    for planned in plan:
        output = outputs.get(planned.key + TEXT_SUFFIX)
        label = planned.final.label
        if label is None or output is None or output.body is None:
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
    }


def redelivery_problems(
    invocations: Sequence[Invocation], plan: Sequence[PlannedObject]
) -> list[Mismatch]:
    """A re-delivered event of an object uploaded once must be skipped without the engine."""
    once = {planned.key for planned in plan if len(planned.versions) == 1}
    problems = []
    for call in invocations:
        if (
            call.delivery != "redelivery"
            or call.key not in once
            or call.outcome.startswith("raised")
        ):
            continue
        if call.outcome != "skipped:duplicate" or call.engine_calls:
            detail = f"{call.outcome}, {call.engine_calls} engine call(s)"
            problems.append(Mismatch(call.key, "redelivery-not-skipped", detail))
    return problems


def misattributed_failures(
    invocations: Sequence[Invocation], plan: Sequence[PlannedObject], uploads: Uploads
) -> int:
    """Invocations that reported a failure the event's own upload does not have: an event
    processed after its object was replaced answers for the newer content."""
    kinds = {
        (planned.key, etag): version.kind
        for planned in plan
        for etag, version in zip(uploads.etags.get(planned.key, []), planned.versions, strict=False)
    }
    count = 0
    for call in invocations:
        kind = kinds.get((call.key, call.etag))
        if call.outcome.startswith("failed:") and kind is not None:
            count += BAD_KINDS.get(kind) != call.outcome.removeprefix("failed:")
    return count


# --- the run -------------------------------------------------------------------------------


@dataclass
class Endpoint:
    url: str
    s3: S3Client
    sqs: Any
    queue_url: str


@contextlib.contextmanager
def local_endpoint() -> Iterator[Endpoint]:
    """moto's S3 and SQS on loopback, with the buckets and the notification configured."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        isolate_from_aws(url)
        s3 = boto3.client("s3", endpoint_url=url, region_name=REGION)
        sqs = boto3.client("sqs", endpoint_url=url, region_name=REGION)
        for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
            s3.create_bucket(Bucket=bucket)
        queue_url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        s3.put_bucket_notification_configuration(
            Bucket=INPUT_BUCKET,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "Id": "ocr-trigger",
                        "QueueArn": attributes["Attributes"]["QueueArn"],
                        "Events": ["s3:ObjectCreated:*"],
                    }
                ]
            },
        )
        yield Endpoint(url, s3, sqs, queue_url)
    finally:
        server.stop()


def isolate_from_aws(endpoint_url: str) -> None:
    """Fake credentials and the local endpoint for every client this process creates."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="load-test",
        AWS_SECRET_ACCESS_KEY="load-test",
        AWS_DEFAULT_REGION=REGION,
        AWS_ENDPOINT_URL=endpoint_url,
    )


def handler_environment(endpoint_url: str) -> dict[str, str]:
    """template.yaml's environment, with this machine's paths and the local endpoint."""
    environment = local_environment(OUTPUT_BUCKET)
    environment["AWS_ENDPOINT_URL"] = endpoint_url
    return environment


def import_handler(environment: Mapping[str, str], fake_engine: bool) -> tuple[ModuleType, float]:
    """A fresh Init of app.py, its engine replaced by a fake if asked."""
    sys.modules.pop("app", None)
    with contextlib.ExitStack() as stack:
        if fake_engine:
            stack.enter_context(
                mock.patch.object(engines, "start_engine", return_value=FakeEngine())
            )
        return import_handler_module(environment)


def percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class RunReport:
    counts: dict[str, int]
    timings: dict[str, float]
    failure_reasons: dict[str, int]
    expected_failure_reasons: dict[str, int]
    outcomes: dict[str, int]
    mismatches: list[Mismatch]
    failed_events: list[dict[str, object]]
    notes: dict[str, object]
    invocations: list[Invocation]

    def ok(self) -> bool:
        return not self.mismatches and not self.failed_events

    def as_dict(self, run: Mapping[str, object]) -> dict[str, object]:
        return {
            "run": dict(run),
            "ok": self.ok(),
            "counts": self.counts,
            "timings": self.timings,
            "failure_reasons": self.failure_reasons,
            "expected_failure_reasons": self.expected_failure_reasons,
            "outcomes": self.outcomes,
            "mismatches": [asdict(m) for m in self.mismatches],
            "failed_events": self.failed_events,
            "notes": self.notes,
            "invocations": [asdict(i) for i in self.invocations],
        }


@dataclass
class Observed:
    """Everything a run saw, for `summarize`."""

    plan: list[PlannedObject]
    fake_engine: bool
    uploads: Uploads
    loop: TriggerLoop
    meter: EngineMeter
    faults: FaultInjector
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, OutputObject] = field(default_factory=dict)
    times: dict[str, float] = field(default_factory=dict)
    late_changes_forced: int = 0
    leftover_messages: int = 0


def run(args: argparse.Namespace) -> Observed:
    plan = build_plan(args.objects, args.seed)
    planned_puts = sum(len(planned.versions) for planned in plan)
    late = [planned for planned in plan if planned.change == "late"]
    deadline = time.monotonic() + args.timeout
    with local_endpoint() as endpoint:
        _drain_test_event(endpoint)
        module, init_s = import_handler(handler_environment(endpoint.url), args.fake_engine)
        meter = EngineMeter()
        loop = TriggerLoop(
            module,
            sqs=endpoint.sqs,
            queue_url=endpoint.queue_url,
            planned_notifications=planned_puts,
            meter=meter,
            deadline=deadline,
            seed=args.seed,
        )
        seen = Observed(
            plan,
            args.fake_engine,
            Uploads(),
            loop,
            meter,
            FaultInjector({planned.key for planned in plan if planned.fault}),
        )
        module.s3_client.meta.events.register("before-parameter-build.s3.GetObject", seen.faults)
        started = time.monotonic()
        with meter.attached(module.engine), ThreadPoolExecutor(2 + args.workers) as pool:
            uploaded = pool.submit(upload_all, endpoint.s3, plan, seen.uploads, deadline)
            changed = pool.submit(
                upload_late_changes, endpoint.s3, late, seen.uploads, loop, deadline
            )
            workers = [pool.submit(loop.run) for _ in range(args.workers)]
            _watch(loop, seen.uploads, planned_puts, [uploaded, changed], workers)
            seen.late_changes_forced = changed.result()
        seen.times = {"elapsed_s": time.monotonic() - started, "init_s": init_s}
        seen.leftover_messages = loop.leftover_messages()
        seen.inputs = list_bucket(endpoint.s3, INPUT_BUCKET)
        seen.outputs = read_outputs(endpoint.s3, OUTPUT_BUCKET)
    sys.modules.pop("app", None)
    return seen


def _drain_test_event(endpoint: Endpoint) -> None:
    """Setting up notifications sends an s3:TestEvent; take it out so it is not counted."""
    for _ in range(3):
        response = endpoint.sqs.receive_message(
            QueueUrl=endpoint.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=RECEIVE_WAIT_S
        )
        messages = response.get("Messages", [])
        for message in messages:
            if '"s3:TestEvent"' not in message["Body"]:
                raise RuntimeError(f"unexpected message before any upload: {message['Body']}")
            endpoint.sqs.delete_message(
                QueueUrl=endpoint.queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
        if messages:
            return


def _watch(
    loop: TriggerLoop,
    uploads: Uploads,
    planned_puts: int,
    uploaders: Sequence[Future[Any]],
    workers: Sequence[Future[Any]],
) -> None:
    """Tell the loop when the uploads are over, print progress to stderr, and stop everything
    if a thread fails."""
    futures = [*uploaders, *workers]
    last = time.monotonic()
    while not all(future.done() for future in futures):
        time.sleep(POLL_S)
        if all(future.done() for future in uploaders):
            loop.uploads_finished.set()
        if time.monotonic() - last >= PROGRESS_EVERY_S:
            last = time.monotonic()
            print(
                f"  uploads {uploads.count}/{planned_puts}, notifications "
                f"{loop.originals_received}/{planned_puts}, invocations {len(loop.invocations)}",
                file=sys.stderr,
                flush=True,
            )
        for future in futures:
            if future.done() and future.exception() is not None:
                loop.abort()
                raise RuntimeError("a load-test thread failed") from future.exception()


def summarize(seen: Observed) -> RunReport:
    """Check the buckets and the invocations, and count."""
    plan, loop, outputs = seen.plan, seen.loop, seen.outputs
    expected = expectations(plan, seen.uploads, seen.fake_engine)
    mismatches = verify(expected, seen.inputs, outputs)
    mismatches += redelivery_problems(loop.invocations, plan)
    if loop.stopped_because:
        mismatches.append(Mismatch("*", "stopped", loop.stopped_because))
    if seen.leftover_messages or loop.unexpected_messages:
        detail = f"{seen.leftover_messages} left in the queue; {loop.unexpected_messages[:3]}"
        mismatches.append(Mismatch("*", "unexpected-messages", detail))
    calls = loop.invocations
    outcomes = Counter(call.outcome for call in calls)
    redeliveries = [call for call in calls if call.delivery == "redelivery"]
    txt = [key for key in outputs if key.endswith(TEXT_SUFFIX)]
    errors = [key for key in outputs if key.endswith(ERROR_SUFFIX)]
    counts = {
        "input_objects": len(seen.inputs),
        "uploads": seen.uploads.count,
        "changed_objects": sum(1 for planned in plan if planned.change),
        "txt_outputs": len(txt),
        "error_json_outputs": len(errors),
        "other_outputs": len(outputs) - len(txt) - len(errors),
        "expected_txt": sum(1 for want in expected.values() if want.kind == "text"),
        "expected_error_json": sum(1 for want in expected.values() if want.kind == "error"),
        "notifications": loop.originals_received,
        "invocations": len(calls),
        "redeliveries": len(redeliveries),
        "redeliveries_skipped_as_duplicate": sum(
            1 for call in redeliveries if call.outcome == "skipped:duplicate"
        ),
        "duplicates_skipped": outcomes["skipped:duplicate"],
        "superseded_skipped": outcomes["skipped:superseded"],
        "retries": sum(1 for call in calls if call.attempt > 1),
        "faults_injected": len(seen.faults.injected),
        "failed_after_retries": len(loop.failed_events),
        "engine_calls": seen.meter.calls,
        "mismatches": len(mismatches),
    }
    seconds = [call.seconds for call in calls]
    elapsed = seen.times["elapsed_s"]
    engine_seconds = seen.meter.seconds
    timings = {
        **{name: round(value, 2) for name, value in seen.times.items()},
        "objects_per_minute": round(len(seen.inputs) / elapsed * 60, 1) if elapsed else 0.0,
        "invocation_p50_s": round(percentile(seconds, 0.5), 3),
        "invocation_p95_s": round(percentile(seconds, 0.95), 3),
        "invocation_max_s": round(max(seconds, default=0.0), 3),
        "engine_mean_s": round(statistics.fmean(engine_seconds), 3) if engine_seconds else 0.0,
        "engine_total_s": round(sum(engine_seconds), 1),
    }
    stale_redeliveries = [
        call for call in redeliveries if call.engine_calls and call.outcome == "skipped:duplicate"
    ]
    notes: dict[str, object] = {
        "test_events": loop.test_events,
        "late_changes_uploaded_before_their_first_result": seen.late_changes_forced,
        "redeliveries_that_ran_the_engine": len(stale_redeliveries),
        "failures_reported_for_another_upload": misattributed_failures(calls, plan, seen.uploads),
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
        outcomes=dict(sorted(outcomes.items())),
        mismatches=mismatches,
        failed_events=loop.failed_events,
        notes=notes,
        invocations=calls,
    )


def print_report(report: RunReport, out: TextIO = sys.stdout) -> None:
    rows: list[tuple[str, object]] = [
        *report.counts.items(),
        *report.timings.items(),
        *((f"outcome {name}", n) for name, n in report.outcomes.items()),
        *((f"failure-reason {name}", n) for name, n in sorted(report.failure_reasons.items())),
        *report.notes.items(),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}", file=out)
    for mismatch in report.mismatches[:50]:
        print(f"MISMATCH {mismatch.problem}: {mismatch.key} {mismatch.detail}", file=out)
    for failed in report.failed_events:
        print(f"FAILED after retries: {failed}", file=out)
    print("OK" if report.ok() else "NOT OK", file=out)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=300, help="distinct objects to upload")
    parser.add_argument("--fake-engine", action="store_true", help="a fast fake OCR engine")
    parser.add_argument("--json", type=Path, help="default: bench/results/load-<timestamp>.json")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds for the whole run")
    parser.add_argument(
        "--workers", type=int, default=1, help="concurrent invocations (threads sharing one Init)"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.objects < MIN_OBJECTS:
        parser.error(f"--objects must be at least {MIN_OBJECTS}")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path: Path = args.json or RESULTS_DIR / f"load-{stamp}.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    log_path = json_path.with_suffix(".log")
    engine = "fake" if args.fake_engine else "aspose"
    print(f"load test: {args.objects} objects, {engine} engine; handler log: {log_path}")
    load_before = os.getloadavg()
    # The handler prints its log lines and metrics (EMF) to stdout: into the log with them.
    with log_path.open("w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        report = summarize(run(args))
    print_report(report)
    run_info = {
        "started": stamp,
        "objects": args.objects,
        "engine": engine,
        "workers": args.workers,
        "seed": args.seed,
        "timeout_s": args.timeout,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "handler_log": str(log_path),
    }
    json_path.write_text(
        json.dumps(report.as_dict(run_info), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"wrote {json_path}")
    return 0 if report.ok() else 1


if __name__ == "__main__":
    raise SystemExit(main())
