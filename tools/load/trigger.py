"""Driving the local topology: the uploads (a few threads), the changed objects' second
uploads, the notifications S3 sends twice, the armed GetObject faults; then what the run saw
(batches, the function's log, the queues, both buckets) for `report.summarize`."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.events import Upload, encode_key, s3_put_event
from tools.load.plan import PlannedObject, build_plan
from tools.load.verify import ERROR_SUFFIX, TEXT_SUFFIX, OutputObject, list_bucket, read_outputs
from tools.local_stack import faults, settings, topology
from tools.local_stack.faults import Faults
from tools.local_stack.poller import BatchRecord
from tools.local_stack.stack import LocalStack, StackOptions

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

INPUT_BUCKET = settings.INPUT_BUCKET
OUTPUT_BUCKET = settings.OUTPUT_BUCKET
UPLOAD_THREADS = 4
POLL_S = 0.5
PROGRESS_EVERY_S = 15.0
# Long enough for the slowest batch (a task of OCR_PAGES_PER_TASK pages) on a busy machine, and
# short enough that a retried message comes back within the run. The template's own (six times
# the function's Timeout) would hold a retry for 30 or 90 minutes.
VISIBILITY_TIMEOUT_S = {"fake": 5, "tesseract": 60, "aspose": 180}


@dataclass(frozen=True)
class RunOptions:
    """What `cli` was asked for."""

    objects: int
    long_documents: int
    engine: str
    fake_engine: bool
    workers: int
    batch_size: int | None
    visibility_timeout: int | None
    timeout: float
    seed: int

    @property
    def engine_name(self) -> str:
        return "fake" if self.fake_engine else self.engine

    def stack_options(self, state_dir: Path) -> StackOptions:
        return StackOptions(
            engine=self.engine,
            workers=self.workers,
            batch_size=self.batch_size,
            visibility_timeout=self.visibility_timeout or VISIBILITY_TIMEOUT_S[self.engine_name],
            port=0,
            state_dir=state_dir,
            fake_engine=self.fake_engine,
            faults_dir=state_dir / "faults",
            wait_seconds=1,
        )


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


@dataclass
class Observed:
    """Everything a run saw, for `summarize`."""

    plan: list[PlannedObject]
    fake_engine: bool
    uploads: Uploads
    batches: list[BatchRecord] = field(default_factory=list)
    log_records: list[dict[str, Any]] = field(default_factory=list)
    """The function's JSON log lines, as LocalStack parses them."""
    duplicated: set[str] = field(default_factory=set)
    faults_armed: int = 0
    faults_left: int = 0
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, OutputObject] = field(default_factory=dict)
    init_s: float = 0.0
    """The slowest worker's Init."""
    elapsed_s: float = 0.0
    """From the first upload until the queue was empty."""
    late_changes_forced: int = 0
    dead_letters: int = 0
    leftover_messages: int = 0
    stopped_because: str | None = None
    worker_events: list[str] = field(default_factory=list)


def run(run_options: RunOptions, state_dir: Path) -> Observed:
    """Start the stack, exercise it, and collect what it did."""
    plan = build_plan(run_options.objects, run_options.seed, run_options.long_documents)
    seen = Observed(plan, run_options.fake_engine, Uploads())
    deadline = time.monotonic() + run_options.timeout
    options = run_options.stack_options(state_dir)
    assert options.faults_dir is not None
    armed = Faults(options.faults_dir)
    for planned in plan:
        if planned.fault:
            armed.arm(faults.GET_FAIL, faults.key_tag(planned.key))
    seen.faults_armed = len(armed.armed())
    with LocalStack(options) as stack:
        seen.init_s = max(stack.init_seconds(), default=0.0)
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
    seen.elapsed_s = time.monotonic() - started


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
