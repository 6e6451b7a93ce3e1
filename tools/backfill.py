"""`make backfill`: recognize objects that were in the input bucket before its notifications.

Lists the bucket (ListObjectsV2, in key order, optionally under --prefix) and puts one message
per object into the ingest queue, shaped exactly like S3's own notification (eventName
`ObjectCreated:Backfill`, the key URL-encoded as S3 encodes it, eTag and size from the listing,
no versionId): the function handles it like an upload. Objects that already have their result
are skipped by the function's own duplicate check; this tool never reads the output bucket.
Keys ending with `/` (folder markers) are skipped.

    python -m tools.backfill --stack NAME [--prefix scans/] [--rate 50] [--restart]
    python -m tools.backfill --bucket B --queue-url URL
    python -m tools.backfill --local        # AWS_ENDPOINT_URL's ocr-input -> ocr-ingest
    python -m tools.backfill --stack NAME --dry-run      # list what would be sent

Messages go out with SendMessageBatch, 10 per call; entries SQS refuses are retried alone, with
backoff. The rate is bounded by --rate messages per second (default 50, 0 for no bound). The
default is not what protects the function: the event source mapping's MaximumConcurrency caps
how many copies of it run, whatever the backlog, and the queue holds the rest. The rate keeps
that backlog sensible: fresh uploads queue behind the backfill, and a message the function has
not taken within the ingest queue's retention period (4 days) is dropped, so a backfill much
larger than the function can work off in that time should go in slices (--prefix, --max) or at
a rate near the function's throughput (MaxConcurrency / seconds per object); it also paces the
S3 LIST requests (one per 1,000 keys; their total does not depend on the rate).

Resumable: after each batch SQS acknowledged, the last key sent is written to a state file
(default .backfill/<bucket>-<sha1 of prefix>.json). A rerun continues after that key, unless
--restart; a run that reached the end records that, and a rerun then sends nothing. Ctrl-C stops
after the current batch with the state saved (a second Ctrl-C aborts at once; the state still
names the last acknowledged batch). Exit status: 0 when done or stopped by --max or Ctrl-C,
1 when messages could not be sent (the state lets a rerun resend them), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from tools.events import encode_key
from tools.redrive import ResolveError, require_outputs, stack_outputs

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import PaginatorConfigTypeDef
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

REPO = Path(__file__).resolve().parents[1]
STATE_DIR = REPO / ".backfill"
BUCKET_OUTPUT = "InputBucketName"
QUEUE_OUTPUT = "IngestQueueUrl"
LOCAL_BUCKET = "ocr-input"
LOCAL_QUEUE = "ocr-ingest"
EVENT_NAME = "ObjectCreated:Backfill"
BATCH_SIZE = 10  # SendMessageBatch's maximum
DEFAULT_RATE = 50.0
LIST_PAGE_SIZE = 1000
MAX_ATTEMPTS = 8
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 5.0
PROGRESS_SECONDS = 5.0

Clock = Callable[[], float]
Sleep = Callable[[float], None]
Report = Callable[[str], None]


@dataclass(frozen=True)
class ListedObject:
    key: str
    size: int
    etag: str
    """Without the quotes ListObjectsV2 puts around it, as notifications carry it."""


def message_body(bucket: str, listed: ListedObject) -> str:
    """The S3 notification S3 would have sent for this object (one record, as S3 sends)."""
    return json.dumps(
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": EVENT_NAME,
                    "s3": {
                        "bucket": {"name": bucket},
                        "object": {
                            "key": encode_key(listed.key),
                            "size": listed.size,
                            "eTag": listed.etag,
                        },
                    },
                }
            ]
        },
        separators=(",", ":"),
    )


def list_objects(
    s3: S3Client, bucket: str, prefix: str = "", start_after: str | None = None
) -> Iterator[ListedObject]:
    """The bucket's objects under `prefix`, in key order, after `start_after`."""
    paginator = s3.get_paginator("list_objects_v2")
    config: PaginatorConfigTypeDef = {"PageSize": LIST_PAGE_SIZE}
    if start_after:
        pages = paginator.paginate(
            Bucket=bucket, Prefix=prefix, StartAfter=start_after, PaginationConfig=config
        )
    else:
        pages = paginator.paginate(Bucket=bucket, Prefix=prefix, PaginationConfig=config)
    for page in pages:
        for item in page.get("Contents", []):
            yield ListedObject(item["Key"], item.get("Size", 0), item.get("ETag", "").strip('"'))


# --- state ------------------------------------------------------------------------------------


@dataclass
class State:
    bucket: str
    prefix: str
    last_key: str | None = None
    """The last key of the last batch SQS acknowledged: a rerun lists after it."""
    sent: int = 0
    completed: bool = False
    updated: str = ""


def default_state_path(bucket: str, prefix: str, directory: Path = STATE_DIR) -> Path:
    digest = hashlib.sha1(prefix.encode("utf-8"), usedforsecurity=False).hexdigest()
    return directory / f"{bucket}-{digest}.json"


def load_state(path: Path, bucket: str, prefix: str) -> State | None:
    """The saved state, or None; ResolveError when it belongs to another bucket or prefix."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    state = State(**document)
    if (state.bucket, state.prefix) != (bucket, prefix):
        raise ResolveError(
            f"{path} is the state of s3://{state.bucket}/{state.prefix}, not s3://{bucket}/{prefix}"
        )
    return state


def save_state(path: Path, state: State) -> None:
    """Write the state atomically (a crash leaves the old file or the new one)."""
    state.updated = datetime.now(UTC).isoformat(timespec="seconds")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(asdict(state), ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(temporary, path)


# --- sending ----------------------------------------------------------------------------------


class SendError(RuntimeError):
    """Entries that still failed after the retries (or that SQS refused as the sender's fault)."""

    def __init__(self, failed: dict[str, str]) -> None:
        self.failed = failed
        """Entry id -> why."""
        reasons = "; ".join(f"{entry_id}: {why}" for entry_id, why in sorted(failed.items()))
        super().__init__(f"{len(failed)} messages not sent ({reasons})")


class Pacer:
    """At most `rate` messages per second on average, without bursts after a pause."""

    def __init__(self, rate: float, clock: Clock, sleep: Sleep) -> None:
        self.rate, self.clock, self.sleep = rate, clock, sleep
        self.next_at: float | None = None

    def wait(self, messages: int) -> None:
        if self.rate <= 0:
            return
        now = self.clock()
        if self.next_at is not None and self.next_at > now:
            self.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = now + messages / self.rate


@dataclass
class Sender:
    """SendMessageBatch with retries of the entries that failed, and only those."""

    sqs: SQSClient
    queue_url: str
    sleep: Sleep = time.sleep
    max_attempts: int = MAX_ATTEMPTS
    retried: int = 0
    """Entries sent again after a failure, over the whole run."""

    def send(self, entries: Sequence[SendMessageBatchRequestEntryTypeDef]) -> None:
        """Return once every entry was accepted; SendError with those that never were."""
        pending = list(entries)
        permanent: dict[str, str] = {}
        failed: dict[str, str] = {}
        for attempt in range(self.max_attempts):
            if attempt:
                self.retried += len(pending)
                self.sleep(min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (attempt - 1)))
            try:
                response = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=pending)
            except (ClientError, BotoCoreError) as error:  # botocore retried already
                failed = {entry["Id"]: str(error) for entry in pending}
                continue
            failed = {}
            for failure in response.get("Failed", []):
                why = f"{failure.get('Code')}: {failure.get('Message', '')}"
                if failure.get("SenderFault"):
                    permanent[failure["Id"]] = why  # the same request fails again
                else:
                    failed[failure["Id"]] = why
            pending = [entry for entry in pending if entry["Id"] in failed]
            if not pending:
                break
        if failed or permanent:
            raise SendError({**failed, **permanent})


# --- the backfill -----------------------------------------------------------------------------


@dataclass
class Summary:
    listed: int = 0
    folders: int = 0
    sent: int = 0
    batches: int = 0
    retried: int = 0
    seconds: float = 0.0
    resumed_after: str | None = None
    outcome: str = "complete"
    """complete, already-complete, max, interrupted or failed."""
    failed_keys: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    def line(self, dry_run: bool = False) -> str:
        sent = "would send" if dry_run else "sent"
        return (
            f"{self.outcome}: listed {self.listed} (skipped {self.folders} folder markers), "
            f"{sent} {self.sent} in {self.batches} batches, {self.retried} entries retried, "
            f"{self.seconds:.1f} s, {self.per_second:.0f} messages/s"
        )


def backfill(
    s3: S3Client,
    sqs: SQSClient,
    bucket: str,
    queue_url: str,
    *,
    state_path: Path,
    prefix: str = "",
    restart: bool = False,
    rate: float = DEFAULT_RATE,
    max_messages: int | None = None,
    dry_run: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
    report: Report = print,
) -> Summary:
    """Send a notification for every object under `prefix` after the saved state's last key."""
    state = None if restart else load_state(state_path, bucket, prefix)
    if state is not None and state.completed:
        report(
            f"{state_path} says s3://{bucket}/{prefix} was done ({state.sent} sent, "
            f"{state.updated}); --restart (RESTART=1) to go through it again"
        )
        return Summary(outcome="already-complete")
    run = _Run(
        s3=s3,
        bucket=bucket,
        state=state or State(bucket, prefix),
        state_path=state_path,
        sender=Sender(sqs, queue_url, sleep=sleep),
        pacer=Pacer(rate, clock, sleep),
        dry_run=dry_run,
        clock=clock,
        report=report,
    )
    return run.run(max_messages, should_stop)


@dataclass
class _Run:
    s3: S3Client
    bucket: str
    state: State
    state_path: Path
    sender: Sender
    pacer: Pacer
    dry_run: bool
    clock: Clock
    report: Report
    summary: Summary = field(default_factory=Summary)

    def run(self, max_messages: int | None, should_stop: Callable[[], bool]) -> Summary:
        summary, state = self.summary, self.state
        if state.last_key is not None:
            summary.resumed_after = state.last_key
            self.report(f"continuing after {state.last_key!r} ({state.sent} sent before)")
        started = last_progress = self.clock()
        batch: list[ListedObject] = []
        try:
            for listed in list_objects(self.s3, self.bucket, state.prefix, state.last_key):
                summary.listed += 1
                if listed.key.endswith("/"):
                    summary.folders += 1
                    continue
                batch.append(listed)
                room = BATCH_SIZE if max_messages is None else max_messages - summary.sent
                if len(batch) < min(BATCH_SIZE, room):
                    continue
                self.flush(batch)
                batch = []
                if self.clock() - last_progress >= PROGRESS_SECONDS:
                    last_progress = self.clock()
                    self.report(_progress(summary, last_progress - started))
                if max_messages is not None and summary.sent >= max_messages:
                    summary.outcome = "max"
                    break
                if should_stop():
                    summary.outcome = "interrupted"
                    break
            else:
                if batch:
                    self.flush(batch)
                if not self.dry_run:
                    state.completed = True
                    save_state(self.state_path, state)
        except SendError as error:
            summary.outcome = "failed"
            self.report(f"{error}; the state names the last key SQS took, a rerun resends the rest")
        finally:
            summary.retried = self.sender.retried
            summary.seconds = self.clock() - started
        return summary

    def flush(self, batch: list[ListedObject]) -> None:
        """Send one batch (wait for the pacer first) and record it once SQS took all of it."""
        self.summary.batches += 1
        if self.dry_run:
            for listed in batch:
                self.report(f"would send s3://{self.bucket}/{listed.key} ({listed.size} bytes)")
            self.summary.sent += len(batch)
            return
        self.pacer.wait(len(batch))
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {"Id": str(index), "MessageBody": message_body(self.bucket, listed)}
            for index, listed in enumerate(batch)
        ]
        try:
            self.sender.send(entries)
        except SendError as error:
            # Keep what SQS took up to the first failure: a rerun resends from there (the
            # function skips the duplicates of later entries that did go out).
            first_failed = min(int(entry_id) for entry_id in error.failed)
            self.acknowledge(batch[:first_failed])
            self.summary.failed_keys = [batch[int(i)].key for i in sorted(error.failed, key=int)]
            raise
        self.acknowledge(batch)

    def acknowledge(self, sent: list[ListedObject]) -> None:
        if not sent:
            return
        self.state.last_key = sent[-1].key
        self.state.sent += len(sent)
        self.summary.sent += len(sent)
        save_state(self.state_path, self.state)


def _progress(summary: Summary, seconds: float) -> str:
    rate = summary.sent / seconds if seconds > 0 else 0.0
    return f"listed {summary.listed}, sent {summary.sent}, {rate:.0f}/s"


# --- command line -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.backfill",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stack", help="take the bucket and the queue from this stack's outputs")
    parser.add_argument("--bucket", help="the input bucket")
    parser.add_argument("--queue-url", help="the ingest queue")
    parser.add_argument(
        "--local",
        action="store_true",
        help=f"default to {LOCAL_BUCKET} and {LOCAL_QUEUE} (on AWS_ENDPOINT_URL)",
    )
    parser.add_argument("--prefix", default="", help="only keys starting with this")
    parser.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE,
        help="messages per second, 0 for no bound (default %(default)s; see above for why)",
    )
    parser.add_argument("--restart", action="store_true", help="ignore the saved state")
    parser.add_argument("--state", type=Path, help="the state file (default: .backfill/...)")
    parser.add_argument("--max", type=int, metavar="N", help="send at most N messages this run")
    parser.add_argument("--dry-run", action="store_true", help="list what would be sent")
    args = parser.parse_args(argv)
    if args.stack and (args.bucket or args.queue_url):
        parser.error("--stack and --bucket/--queue-url exclude each other")
    if not args.stack and not args.local and not (args.bucket and args.queue_url):
        parser.error(
            "name the bucket and the queue: --stack NAME, --bucket and --queue-url, or --local"
        )
    if args.rate < 0:
        parser.error("--rate must be 0 (no bound) or more")
    if args.max is not None and args.max < 1:
        parser.error("--max must be at least 1")
    return args


def resolve(args: argparse.Namespace, sqs: SQSClient) -> tuple[str, str]:
    """(bucket, queue URL)."""
    if args.stack:
        outputs = stack_outputs(boto3.client("cloudformation"), args.stack)
        require_outputs(outputs, args.stack, (BUCKET_OUTPUT, QUEUE_OUTPUT))
        return outputs[BUCKET_OUTPUT], outputs[QUEUE_OUTPUT]
    bucket = args.bucket or LOCAL_BUCKET
    queue_url = args.queue_url or sqs.get_queue_url(QueueName=LOCAL_QUEUE)["QueueUrl"]
    return bucket, queue_url


class StopFlag:
    """The first Ctrl-C asks to stop after the current batch; the second one aborts."""

    def __init__(self) -> None:
        self.stop = False

    def __call__(self) -> bool:
        return self.stop

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.stop = True
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("\nstopping after the current batch (Ctrl-C again to abort)", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sqs = boto3.client("sqs")
    try:
        bucket, queue_url = resolve(args, sqs)
        state_path: Path = args.state or default_state_path(bucket, args.prefix)
        if not args.restart:  # refuse a foreign state file before anything is sent
            load_state(state_path, bucket, args.prefix)
    except (ResolveError, ClientError) as error:
        print(error, file=sys.stderr)
        return 2
    rate = "no bound" if args.rate == 0 else f"at most {args.rate:g}/s"
    print(f"backfill s3://{bucket}/{args.prefix} -> {queue_url} ({rate}); state {state_path}")
    stop = StopFlag()
    previous = signal.signal(signal.SIGINT, stop.handle)
    try:
        summary = backfill(
            boto3.client("s3"),
            sqs,
            bucket,
            queue_url,
            state_path=state_path,
            prefix=args.prefix,
            restart=args.restart,
            rate=args.rate,
            max_messages=args.max,
            dry_run=args.dry_run,
            should_stop=stop,
        )
    except KeyboardInterrupt:
        print(f"aborted; {state_path} names the last batch SQS acknowledged", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
    print(summary.line(args.dry_run))
    if summary.outcome in {"max", "interrupted"}:
        print("run it again to continue after the last key sent")
    return 1 if summary.outcome == "failed" else 0


if __name__ == "__main__":
    raise SystemExit(main())
