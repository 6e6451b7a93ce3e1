"""A local stand-in for Lambda's SQS event source mapping, one slot per worker process.

Each slot long-polls the ingest queue (ReceiveMessage, up to BatchSize messages, all system
attributes, so ApproximateReceiveCount is there), hands the batch as the event Lambda sends to
its worker, deletes the messages that succeeded and leaves the ones the function listed in
batchItemFailures: SQS makes them visible again after the queue's visibility timeout, and its
redrive policy moves a message to the dead-letter queue once it was received maxReceiveCount
times. A handler exception, a timeout (the function's Timeout) or a worker that died fails every
message of the batch; a dead or timed-out worker is replaced by a new process (a new Init).
A slot receives only when its worker is idle, as MaximumConcurrency makes Lambda's pollers do.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import unquote_plus

from tools.local_stack.pool import InitFailedError, WorkerDied, WorkerProcess, WorkerTimedOut
from tools.local_stack.topology import Topology, sqs_client
from tools.local_stack.worker import WorkerSpec

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

RETRY_RECEIVE_S = 1.0
INIT_RETRY_S = (5.0, 15.0, 30.0)


@dataclass(frozen=True)
class MappingSettings:
    batch_size: int
    batch_timeout_s: float
    """The function's Timeout: a batch that takes longer fails, and its worker is replaced."""
    max_receive_count: int
    wait_seconds: int = 2
    """Long poll; Lambda waits up to 20 s, shorter lets Ctrl-C stop polling sooner."""
    init_timeout_s: float = 600.0


# --- the event Lambda sends -------------------------------------------------------------------


def lambda_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """A message attribute as Lambda's SQS records carry it (camelCase, list fields)."""
    attribute: dict[str, Any] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value.get("DataType", "String"),
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        import base64  # noqa: PLC0415

        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    return attribute


def lambda_record(message: MessageTypeDef, queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: lambda_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def lambda_event(messages: Sequence[MessageTypeDef], queue_arn: str, region: str) -> dict[str, Any]:
    return {"Records": [lambda_record(message, queue_arn, region) for message in messages]}


def failed_message_ids(response: Any, error: str | None, message_ids: Sequence[str]) -> set[str]:
    """Which messages failed, read as Lambda reads a ReportBatchItemFailures response: an
    exception fails all; no list (or an empty one) fails none; an entry that is not one of the
    batch's message IDs fails all."""
    everything = set(message_ids)
    if error is not None:
        return everything
    if not isinstance(response, Mapping):
        return set()
    failures = response.get("batchItemFailures")
    if not failures:
        return set()
    if not isinstance(failures, list):
        return everything
    failed: set[str] = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, Mapping) else None
        if not identifier or identifier not in everything:
            return everything
        failed.add(str(identifier))
    return failed


def describe_body(body: str) -> tuple[str, str]:
    """(kind, short description) of a message: upload, page-task, test-event or other."""
    try:
        document = json.loads(body)
    except json.JSONDecodeError:
        return "other", f"not JSON: {body[:40]!r}"
    if not isinstance(document, dict):
        return "other", f"JSON {type(document).__name__}"
    if document.get("Event") == "s3:TestEvent":
        return "test-event", f"s3:TestEvent {document.get('Bucket', '')}"
    task = document.get("ocrPageTask")
    if isinstance(task, dict):
        return "page-task", f"{task.get('key')} p{task.get('pages')}"
    records = document.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], dict):
        keys = [
            unquote_plus(str(record.get("s3", {}).get("object", {}).get("key", "?")))
            for record in records
        ]
        return "upload", ", ".join(keys)
    return "other", "keys " + ",".join(sorted(document)[:4])


# --- what happened --------------------------------------------------------------------------


@dataclass
class BatchRecord:
    batch_id: int
    worker: str
    pid: int | None
    started_at: float
    """time.time() when the batch was handed to the worker."""
    seconds: float
    message_ids: list[str]
    receive_counts: list[int]
    sent_at: list[float]
    """Each message's SentTimestamp (seconds since the epoch)."""
    kinds: list[str]
    descriptions: list[str]
    failed: list[str]
    error: str | None = None
    not_deleted: int = 0

    @property
    def succeeded(self) -> int:
        return len(self.message_ids) - len(self.failed)

    def summary(self, max_receive_count: int) -> str:
        kinds: dict[str, int] = {}
        for kind in self.kinds:
            kinds[kind] = kinds.get(kind, 0) + 1
        what = ", ".join(f"{n} {kind}" for kind, n in kinds.items())
        line = (
            f"batch {self.batch_id} [{self.worker}]: {len(self.message_ids)} messages ({what}), "
            f"{self.succeeded} succeeded, {len(self.failed)} retried, {self.seconds:.2f} s"
        )
        if self.error:
            line += f"; {self.error.splitlines()[0][:160]}"
        last = [
            count
            for message_id, count in zip(self.message_ids, self.receive_counts, strict=True)
            if message_id in self.failed and count >= max_receive_count
        ]
        if last:
            line += f"; {len(last)} to the dead-letter queue on the next receive"
        shown = "; ".join(self.descriptions[:2])
        more = len(self.descriptions) - 2
        return f"{line}  {shown}{f' (+{more})' if more > 0 else ''}"


@dataclass
class Journal:
    """Every batch and event of a run; prints one line per batch, logs JSON lines."""

    console: TextIO | None
    log: TextIO | None
    max_receive_count: int
    batches: list[BatchRecord] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    listeners: list[Callable[[BatchRecord], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next_id: int = 0
    in_flight: int = 0

    def begin(self) -> int:
        with self._lock:
            self._next_id += 1
            self.in_flight += 1
            return self._next_id

    def record(self, batch: BatchRecord) -> None:
        with self._lock:
            self.batches.append(batch)
            self.in_flight -= 1
            self._write(batch.summary(self.max_receive_count), {"batch": asdict(batch)})
        for listener in list(self.listeners):
            listener(batch)

    def note(self, line: str) -> None:
        with self._lock:
            self.events.append(line)
            self._write(line, {"event": line})

    def _write(self, line: str, document: dict[str, Any]) -> None:
        stamp = time.strftime("%H:%M:%S")
        if self.console is not None:
            print(f"{stamp} {line}", file=self.console, flush=True)
        if self.log is not None:
            document["time"] = time.time()
            print(json.dumps(document, ensure_ascii=False), file=self.log, flush=True)


# --- a slot: one worker and its poller ---------------------------------------------------------


class Slot:
    """Polls for its worker and keeps it alive. `ready` is set once its first Init finished
    (or failed: `init_error`)."""

    def __init__(  # noqa: PLR0917
        self,
        index: int,
        spec: WorkerSpec,
        topology: Topology,
        mapping: MappingSettings,
        journal: Journal,
        stopping: threading.Event,
        paused: threading.Event,
    ) -> None:
        self._thread = threading.Thread(target=self._run, name=f"slot-{index}", daemon=True)
        self.index = index
        self._spec = spec
        self._topology = topology
        self._mapping = mapping
        self._journal = journal
        self._stopping = stopping
        self._paused = paused
        self._sqs: SQSClient = sqs_client(topology.endpoint_url)
        self._starts = 0
        self.worker: WorkerProcess | None = None
        self.ready = threading.Event()
        self.init_error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout_s: float | None = None) -> None:
        self._thread.join(timeout_s)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            if not self._start_worker(first=True):
                return
            while not self._stopping.is_set():
                if self._paused.is_set():
                    time.sleep(0.1)
                    continue
                if (self.worker is None or not self.worker.alive()) and not self._replace(
                    "died while idle"
                ):
                    continue
                messages = self._receive()
                if not messages:
                    continue
                if self._stopping.is_set():
                    self._release(messages)
                    break
                self._handle(messages)
        except Exception as error:  # a bug here must not leave a silent, workerless slot
            self.init_error = self.init_error or f"slot-{self.index} failed: {error!r}"
            self._journal.note(f"slot-{self.index} stopped: {error!r}")
            raise
        finally:
            self.ready.set()
            if self.worker is not None:
                self.worker.stop()

    def _start_worker(self, first: bool = False) -> bool:
        self._starts += 1
        name = f"worker-{self.index}" + (f".{self._starts - 1}" if self._starts > 1 else "")
        attempt = 0
        while not self._stopping.is_set():
            worker = WorkerProcess(self._spec, name)
            try:
                worker.start(self._mapping.init_timeout_s)
            except (InitFailedError, WorkerDied, WorkerTimedOut) as error:
                message = f"{name}: Init failed: {error}"
                if first:
                    self.init_error = message
                    self.ready.set()
                    return False
                delay = INIT_RETRY_S[min(attempt, len(INIT_RETRY_S) - 1)]
                self._journal.note(f"{message.splitlines()[-1]}; trying again in {delay:.0f} s")
                attempt += 1
                self._stopping.wait(delay)
                continue
            self.worker = worker
            self._journal.note(
                f"{name} (pid {worker.pid}) ready: {worker.engine} engine, "
                f"Init {worker.init_seconds:.1f} s"
            )
            self.ready.set()
            return True
        return False

    def _replace(self, why: str) -> bool:
        old = self.worker
        if old is not None:
            self._journal.note(f"{old.name} (pid {old.pid}) {why}: starting a new worker")
            old.stop(grace_s=1.0)
        self.worker = None
        return self._start_worker()

    def _receive(self) -> list[MessageTypeDef]:
        try:
            response = self._sqs.receive_message(
                QueueUrl=self._topology.queue_url,
                MaxNumberOfMessages=self._mapping.batch_size,
                WaitTimeSeconds=self._mapping.wait_seconds,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        except Exception as error:  # the server may be going away, or busy: try again
            if not self._stopping.is_set():
                self._journal.note(f"slot-{self.index}: ReceiveMessage failed: {error}")
                self._stopping.wait(RETRY_RECEIVE_S)
            return []
        return list(response.get("Messages", []))

    def _release(self, messages: Sequence[MessageTypeDef]) -> None:
        """Received while stopping: visible again at once (the receive still counted)."""
        entries = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
            for index, message in enumerate(messages)
        ]
        try:
            self._sqs.change_message_visibility_batch(
                QueueUrl=self._topology.queue_url,
                Entries=entries,  # type: ignore[arg-type]
            )
        except Exception as error:
            self._journal.note(f"slot-{self.index}: could not release messages: {error}")

    def _handle(self, messages: Sequence[MessageTypeDef]) -> None:
        assert self.worker is not None
        worker = self.worker
        batch_id = self._journal.begin()
        ids = [message["MessageId"] for message in messages]
        described = [describe_body(message["Body"]) for message in messages]
        event = lambda_event(messages, self._topology.queue_arn, self._topology.region)
        started_at, started = time.time(), time.monotonic()
        error: str | None = None
        try:
            answer = worker.invoke(batch_id, event, self._mapping.batch_timeout_s)
            failed = failed_message_ids(answer.response, answer.error, ids)
            if answer.error:
                error = f"handler raised {answer.error}"
        except WorkerDied as died:
            failed, error = set(ids), f"{worker.name} died ({died})"
        except WorkerTimedOut as timed_out:
            failed, error = set(ids), f"timed out ({timed_out})"
            worker.kill()
        seconds = time.monotonic() - started
        not_deleted = self._delete_messages([m for m in messages if m["MessageId"] not in failed])
        self._journal.record(
            BatchRecord(
                batch_id=batch_id,
                worker=worker.name,
                pid=worker.pid,
                started_at=started_at,
                seconds=seconds,
                message_ids=ids,
                receive_counts=[
                    int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
                    for m in messages
                ],
                sent_at=[
                    int(m.get("Attributes", {}).get("SentTimestamp", "0")) / 1000 for m in messages
                ],
                kinds=[kind for kind, _ in described],
                descriptions=[description for _, description in described],
                failed=[message_id for message_id in ids if message_id in failed],
                error=error,
                not_deleted=not_deleted,
            )
        )
        if error and not worker.alive() and not self._stopping.is_set():
            self._replace("is gone")

    def _delete_messages(self, messages: Sequence[MessageTypeDef]) -> int:
        """Delete what succeeded; how many could not be deleted (they come back)."""
        if not messages:
            return 0
        entries = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(messages)
        ]
        try:
            response = self._sqs.delete_message_batch(
                QueueUrl=self._topology.queue_url,
                Entries=entries,  # type: ignore[arg-type]
            )
        except Exception as error:
            self._journal.note(f"slot-{self.index}: DeleteMessageBatch failed: {error}")
            return len(messages)
        return len(response.get("Failed", []))
