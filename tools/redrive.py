"""`make redrive`: move the dead-letter queue's messages back to the ingest queue.

S3 notifies IngestQueue, the function consumes it through an event source mapping, and a
message that failed MaxReceiveCount times lands in IngestDeadLetterQueue. Once the cause is
fixed, this tool asks SQS to move them back with its own redrive (StartMessageMoveTask, what the
console's "Start DLQ redrive" does), prints the task handle and follows the task with
ListMessageMoveTasks until it ends. The function then receives the messages as new deliveries;
objects whose result already exists are skipped by its duplicate check.

    python -m tools.redrive --stack NAME                      # move all, follow the task
    python -m tools.redrive --stack NAME --dry-run            # count and peek, move nothing
    python -m tools.redrive --stack NAME --max-per-second 20 --no-wait
    python -m tools.redrive --source-arn DLQ_ARN --destination-arn INGEST_ARN
    python -m tools.redrive --local [--max N]                 # AWS_ENDPOINT_URL's ocr-ingest-dlq

Queues come from the stack's outputs (DeadLetterQueueArn/Url, IngestQueueArn/Url) or from
--source-*/--destination-* (an ARN or a URL; the other is looked up). SQS's task moves every
message, at most --max-per-second (1-500) if given; it cannot stop after N messages.

--local moves the messages itself instead (moto has no StartMessageMoveTask): it receives up to
10 at a time, sends each to the destination with its body and message attributes, and deletes
it from the source only after that send succeeded; it stops after --max messages, or when the
source gave nothing new for --idle-timeout seconds. A message whose send failed stays in the
source and is made visible again. Without a queue option it uses the local topology's queues
`ocr-ingest-dlq` -> `ocr-ingest` on AWS_ENDPOINT_URL; with --stack it works against AWS too.

--dry-run moves nothing: it prints the source's approximate message count and peeks at up to
10 messages (received with a short visibility timeout, then made visible again at once).

Exit status: 0 when the move completed (or after a dry run), 1 when the task FAILED or was
cancelled or a local move left messages behind, 2 for a usage error or a queue that cannot be
resolved, 130 when interrupted while following a task (the task goes on in SQS).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import boto3
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import (
        ListMessageMoveTasksResultEntryTypeDef,
        MessageAttributeValueOutputTypeDef,
        MessageAttributeValueTypeDef,
        MessageTypeDef,
        SendMessageBatchRequestEntryTypeDef,
    )

SOURCE_ARN_OUTPUT = "DeadLetterQueueArn"
SOURCE_URL_OUTPUT = "DeadLetterQueueUrl"
DESTINATION_ARN_OUTPUT = "IngestQueueArn"
DESTINATION_URL_OUTPUT = "IngestQueueUrl"
OLD_QUEUE_OUTPUT = "FailedEventsQueueUrl"  # the asynchronous-invocation stack, before SQS
LOCAL_SOURCE_QUEUE = "ocr-ingest-dlq"
LOCAL_DESTINATION_QUEUE = "ocr-ingest"
PAGE_TASK_KEY = "ocrPageTask"  # the body of a long document's page-range task (fanout.py)

BATCH_SIZE = 10  # SQS's maximum per ReceiveMessage and per batch call
MAX_RATE = 500  # StartMessageMoveTask's MaxNumberOfMessagesPerSecond limit
PEEK_VISIBILITY_TIMEOUT = 10  # a dry run makes its peeked messages visible again at once anyway
DEFAULT_VISIBILITY_TIMEOUT = 60  # a local move holds a batch this long while it sends and deletes
DEFAULT_WAIT_SECONDS = 1
DEFAULT_IDLE_TIMEOUT = 5.0
DEFAULT_POLL_SECONDS = 5.0
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}
INTERRUPTED = 130

Report = Callable[[str], None]
Clock = Callable[[], float]
Sleep = Callable[[float], None]


class ResolveError(Exception):
    """The queues cannot be determined (exit status 2)."""


@dataclass(frozen=True)
class Queue:
    """One queue: what is known of its URL and ARN."""

    url: str | None = None
    arn: str | None = None


def stack_outputs(cloudformation: CloudFormationClient, stack_name: str) -> dict[str, str]:
    """The stack's outputs by key."""
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {
        output["OutputKey"]: output["OutputValue"]
        for output in stack.get("Outputs", [])
        if "OutputKey" in output and "OutputValue" in output
    }


def require_outputs(outputs: dict[str, str], stack_name: str, keys: Sequence[str]) -> None:
    """Raise ResolveError naming the outputs the stack lacks (and why, for the old stack)."""
    missing = [key for key in keys if key not in outputs]
    if not missing:
        return
    message = f"stack {stack_name} has no output {', '.join(missing)}"
    if OLD_QUEUE_OUTPUT in outputs:
        message += (
            f" (it still has {OLD_QUEUE_OUTPUT}: deploy the SQS-ingestion template first; "
            "that stack's failed events are no longer redriven by this tool)"
        )
    raise ResolveError(message)


def queues_from_stack(cloudformation: CloudFormationClient, stack_name: str) -> tuple[Queue, Queue]:
    """(dead-letter queue, ingest queue) from the stack's outputs."""
    outputs = stack_outputs(cloudformation, stack_name)
    keys = (SOURCE_ARN_OUTPUT, SOURCE_URL_OUTPUT, DESTINATION_ARN_OUTPUT, DESTINATION_URL_OUTPUT)
    require_outputs(outputs, stack_name, keys)
    return (
        Queue(url=outputs[SOURCE_URL_OUTPUT], arn=outputs[SOURCE_ARN_OUTPUT]),
        Queue(url=outputs[DESTINATION_URL_OUTPUT], arn=outputs[DESTINATION_ARN_OUTPUT]),
    )


def queue_url(sqs: SQSClient, queue: Queue) -> str:
    """The queue's URL, looked up from its ARN (arn:aws:sqs:region:account:name) if needed."""
    if queue.url:
        return queue.url
    if not queue.arn:
        raise ResolveError("a queue needs a URL or an ARN")
    parts = queue.arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":  # noqa: PLR2004 (the six fields of an SQS ARN)
        raise ResolveError(f"not an SQS queue ARN: {queue.arn}")
    return sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]


def queue_arn(sqs: SQSClient, queue: Queue) -> str:
    """The queue's ARN, looked up from its URL if needed."""
    if queue.arn:
        return queue.arn
    if not queue.url:
        raise ResolveError("a queue needs a URL or an ARN")
    attributes = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


# --- SQS's own redrive ------------------------------------------------------------------------


def start_move(
    sqs: SQSClient, source_arn: str, destination_arn: str, max_per_second: int | None = None
) -> str:
    """Start SQS's message move task; return its handle."""
    if max_per_second is None:
        response = sqs.start_message_move_task(SourceArn=source_arn, DestinationArn=destination_arn)
    else:
        response = sqs.start_message_move_task(
            SourceArn=source_arn,
            DestinationArn=destination_arn,
            MaxNumberOfMessagesPerSecond=max_per_second,
        )
    return response["TaskHandle"]


def find_task(
    results: Sequence[ListMessageMoveTasksResultEntryTypeDef], task_handle: str
) -> ListMessageMoveTasksResultEntryTypeDef | None:
    """Our task among a source's most recent ones (newest first).

    SQS returns a TaskHandle only while a task is RUNNING, and a source has at most one running
    task; so once ours is no longer listed by handle, it is the newest task that has ended.
    """
    for result in results:
        if result.get("TaskHandle") == task_handle:
            return result
    for result in results:
        if result.get("Status") in TERMINAL:
            return result
    return None


def follow_task(
    sqs: SQSClient,
    source_arn: str,
    task_handle: str,
    *,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    sleep: Sleep = time.sleep,
    report: Report = print,
) -> ListMessageMoveTasksResultEntryTypeDef:
    """Poll ListMessageMoveTasks until the task ends; return its last entry."""
    last_line = ""
    while True:
        results = sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=10)["Results"]
        task = find_task(results, task_handle)
        if task is not None:
            line = describe_task(task)
            if line != last_line:
                report(line)
                last_line = line
            if task.get("Status") in TERMINAL:
                return task
        sleep(poll_seconds)


def describe_task(task: ListMessageMoveTasksResultEntryTypeDef) -> str:
    status = task.get("Status", "?")
    moved = task.get("ApproximateNumberOfMessagesMoved", 0)
    line = f"{status}: moved {moved}"
    if "ApproximateNumberOfMessagesToMove" in task:
        line += f" of about {task['ApproximateNumberOfMessagesToMove']}"
    if "MaxNumberOfMessagesPerSecond" in task:
        line += f" (at most {task['MaxNumberOfMessagesPerSecond']}/s)"
    if task.get("FailureReason"):
        line += f": {task['FailureReason']}"
    return line


def how_to_follow(source_arn: str, task_handle: str) -> str:
    return (
        f"follow: aws sqs list-message-move-tasks --source-arn {source_arn}\n"
        f"cancel: aws sqs cancel-message-move-task --task-handle {task_handle}"
    )


# --- a move by hand (local endpoints) ---------------------------------------------------------


@dataclass
class MoveSummary:
    received: int = 0
    moved: int = 0
    send_failed: int = 0
    not_deleted: int = 0
    """Sent, but still in the source: a later move sends them again (a harmless duplicate)."""

    @property
    def ok(self) -> bool:
        return self.send_failed == 0 and self.not_deleted == 0

    def line(self) -> str:
        return (
            f"received {self.received}, moved {self.moved}, send failed {self.send_failed} "
            f"(left in the source), sent but not deleted {self.not_deleted}"
        )


def move_by_hand(
    sqs: SQSClient,
    source_url: str,
    destination_url: str,
    *,
    max_messages: int | None = None,
    wait_seconds: int = DEFAULT_WAIT_SECONDS,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
    report: Report = print,
) -> MoveSummary:
    """Move messages with receive, send, delete: a message leaves the source only once its copy
    is in the destination. Stops after `max_messages` received, or when nothing new came for
    `idle_timeout` seconds. Messages it could not move are made visible again at the end."""
    summary = MoveSummary()
    seen: set[str] = set()
    left: list[str] = []  # receipt handles of messages that stay in the source
    last_new = clock()
    while max_messages is None or summary.received < max_messages:
        wanted = BATCH_SIZE
        if max_messages is not None:
            wanted = min(BATCH_SIZE, max_messages - summary.received)
        messages = sqs.receive_message(
            QueueUrl=source_url,
            MaxNumberOfMessages=wanted,
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=visibility_timeout,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        new = [message for message in messages if message["MessageId"] not in seen]
        # One that comes back (its earlier delete failed) was sent already: leave it.
        left.extend(m["ReceiptHandle"] for m in messages if m["MessageId"] in seen)
        if not new:
            if clock() - last_new >= idle_timeout:
                break
            if wait_seconds == 0:
                sleep(0.2)  # no long poll to wait in
            continue
        last_new = clock()
        seen.update(message["MessageId"] for message in new)
        summary.received += len(new)
        left.extend(
            _move_batch(
                sqs,
                source_url=source_url,
                destination_url=destination_url,
                messages=new,
                summary=summary,
                report=report,
            )
        )
    release(sqs, source_url, left)
    return summary


def _move_batch(
    sqs: SQSClient,
    *,
    source_url: str,
    destination_url: str,
    messages: list[MessageTypeDef],
    summary: MoveSummary,
    report: Report,
) -> list[str]:
    """Send one received batch, delete what was sent; return the receipt handles left behind."""
    by_id = {str(index): message for index, message in enumerate(messages)}
    entries: list[SendMessageBatchRequestEntryTypeDef] = []
    for entry_id, message in by_id.items():
        entry: SendMessageBatchRequestEntryTypeDef = {
            "Id": entry_id,
            "MessageBody": message["Body"],
        }
        attributes = copy_attributes(message.get("MessageAttributes", {}))
        if attributes:
            entry["MessageAttributes"] = attributes
        entries.append(entry)
    try:
        response = sqs.send_message_batch(QueueUrl=destination_url, Entries=entries)
    except (ClientError, BotoCoreError) as error:
        summary.send_failed += len(messages)
        report(f"send failed for {len(messages)} messages ({error}); left in the source")
        return [message["ReceiptHandle"] for message in messages]
    left: list[str] = []
    for failure in response.get("Failed", []):
        message = by_id[failure["Id"]]
        summary.send_failed += 1
        left.append(message["ReceiptHandle"])
        report(
            f"send failed {message['MessageId']} ({failure.get('Code')}: "
            f"{failure.get('Message', '')}); left in the source"
        )
    sent = [by_id[success["Id"]] for success in response.get("Successful", [])]
    if not sent:
        return left
    deleted = sqs.delete_message_batch(
        QueueUrl=source_url,
        Entries=[
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(sent)
        ],
    )
    for failure in deleted.get("Failed", []):
        message = sent[int(failure["Id"])]
        summary.not_deleted += 1
        left.append(message["ReceiptHandle"])
        report(
            f"sent {message['MessageId']} but could not delete it ({failure.get('Code')}); "
            "a later move sends it again (the function skips the duplicate)"
        )
    summary.moved += len(deleted.get("Successful", []))
    for message in sent:
        report(f"moved {message['MessageId']}: {describe_body(message['Body'])}")
    return left


def copy_attributes(
    attributes: dict[str, MessageAttributeValueOutputTypeDef],
) -> dict[str, MessageAttributeValueTypeDef]:
    """Received message attributes as SendMessage takes them (type and value only)."""
    copied: dict[str, MessageAttributeValueTypeDef] = {}
    for name, value in attributes.items():
        attribute: MessageAttributeValueTypeDef = {"DataType": value["DataType"]}
        if "StringValue" in value:
            attribute["StringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            attribute["BinaryValue"] = value["BinaryValue"]
        copied[name] = attribute
    return copied


def release(sqs: SQSClient, url: str, receipt_handles: list[str]) -> None:
    """Make received messages visible again at once."""
    for start in range(0, len(receipt_handles), BATCH_SIZE):
        batch = receipt_handles[start : start + BATCH_SIZE]
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for index, handle in enumerate(batch)
            ],
        )


# --- dry run ----------------------------------------------------------------------------------


def approximate_count(sqs: SQSClient, url: str) -> tuple[int, int, int]:
    """(visible, in flight, delayed) messages, as SQS approximates them."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return (
        int(attributes.get("ApproximateNumberOfMessages", "0")),
        int(attributes.get("ApproximateNumberOfMessagesNotVisible", "0")),
        int(attributes.get("ApproximateNumberOfMessagesDelayed", "0")),
    )


def peek(
    sqs: SQSClient, url: str, limit: int = BATCH_SIZE, report: Report = print
) -> list[MessageTypeDef]:
    """Receive up to `limit` (at most 10) messages, print what each is, make them visible again."""
    messages = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=max(1, min(BATCH_SIZE, limit)),
        WaitTimeSeconds=0,
        VisibilityTimeout=PEEK_VISIBILITY_TIMEOUT,
        AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
    ).get("Messages", [])
    try:
        for message in messages:
            receives = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
            report(
                f"  {message['MessageId']} ({receives} receives): {describe_body(message['Body'])}"
            )
    finally:
        release(sqs, url, [message["ReceiptHandle"] for message in messages])
    return messages


def describe_body(body: str) -> str:
    """What a message is: the S3 objects of a notification (keys decoded), or a short excerpt."""
    try:
        document: Any = json.loads(body)
    except ValueError:
        return f"not JSON: {body[:80]!r}"
    if isinstance(document, dict) and document.get("Event") == "s3:TestEvent":
        return "s3:TestEvent"
    if isinstance(document, dict) and PAGE_TASK_KEY in document:
        return f"page task {json.dumps(document[PAGE_TASK_KEY], ensure_ascii=False)[:160]}"
    records = document.get("Records") if isinstance(document, dict) else None
    if isinstance(records, list):
        objects = []
        for record in records:
            try:
                bucket, key = record["s3"]["bucket"]["name"], record["s3"]["object"]["key"]
            except (KeyError, TypeError):
                objects.append("(a record without an S3 object)")
                continue
            name = unquote_plus(str(key), encoding="utf-8", errors="replace")
            objects.append(f"{record.get('eventName', '?')} s3://{bucket}/{name}")
        return ", ".join(objects) or "no records"
    return f"other message: {body[:120]}"


# --- command line -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.redrive",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stack", help="take the queues from this stack's outputs")
    parser.add_argument("--source-arn", help="the dead-letter queue's ARN")
    parser.add_argument("--destination-arn", help="the ingest queue's ARN")
    parser.add_argument("--source-url", help="the dead-letter queue's URL")
    parser.add_argument("--destination-url", help="the ingest queue's URL")
    parser.add_argument(
        "--local",
        action="store_true",
        help="move by receive/send/delete (moto has no StartMessageMoveTask)",
    )
    parser.add_argument("--dry-run", action="store_true", help="count and peek, move nothing")
    parser.add_argument("--max", type=int, metavar="N", help="--local: move at most N messages")
    parser.add_argument(
        "--max-per-second",
        type=int,
        metavar="N",
        help=f"SQS's task: MaxNumberOfMessagesPerSecond (1-{MAX_RATE}; default: SQS's own)",
    )
    parser.add_argument("--no-wait", action="store_true", help="start the task, do not follow it")
    parser.add_argument("--poll-seconds", type=float, default=DEFAULT_POLL_SECONDS)
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=DEFAULT_IDLE_TIMEOUT,
        help="--local: stop when nothing new arrived for this many seconds",
    )
    parser.add_argument("--wait-seconds", type=int, default=DEFAULT_WAIT_SECONDS, help="long poll")
    args = parser.parse_args(argv)
    explicit = (args.source_arn or args.source_url, args.destination_arn or args.destination_url)
    if args.stack and any(explicit):
        parser.error("--stack and --source-*/--destination-* exclude each other")
    if not args.stack and not all(explicit) and (any(explicit) or not args.local):
        parser.error(
            "name the queues: --stack NAME, or a --source-arn/--source-url and a "
            "--destination-arn/--destination-url (or --local for ocr-ingest-dlq -> ocr-ingest)"
        )
    if args.max is not None and args.max < 1:
        parser.error("--max must be at least 1")
    if args.max is not None and not (args.local or args.dry_run):
        parser.error(
            "--max needs --local: SQS's move task moves every message (--max-per-second only "
            "slows it); --local moves at most N by receive/send/delete, against AWS too"
        )
    if args.max_per_second is not None and not 1 <= args.max_per_second <= MAX_RATE:
        parser.error(f"--max-per-second must be between 1 and {MAX_RATE}")
    return args


def resolve(args: argparse.Namespace, sqs: SQSClient) -> tuple[Queue, Queue]:
    if args.stack:
        return queues_from_stack(boto3.client("cloudformation"), args.stack)
    if args.source_arn or args.source_url:
        return (
            Queue(url=args.source_url, arn=args.source_arn),
            Queue(url=args.destination_url, arn=args.destination_arn),
        )
    return (  # --local on its own: the local topology's queues
        Queue(url=sqs.get_queue_url(QueueName=LOCAL_SOURCE_QUEUE)["QueueUrl"]),
        Queue(url=sqs.get_queue_url(QueueName=LOCAL_DESTINATION_QUEUE)["QueueUrl"]),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sqs = boto3.client("sqs")
    try:
        source, destination = resolve(args, sqs)
        if args.dry_run:
            return dry_run(sqs, args, source, destination)
        if args.local:
            return local_move(sqs, args, source, destination)
        return sqs_move(sqs, args, queue_arn(sqs, source), queue_arn(sqs, destination))
    except ResolveError as error:
        print(error, file=sys.stderr)
        return 2
    except ClientError as error:
        print(f"cannot resolve the queues: {error}", file=sys.stderr)
        return 2


def sqs_move(
    sqs: SQSClient, args: argparse.Namespace, source_arn: str, destination_arn: str
) -> int:
    """SQS's own redrive: start the task, then follow it (or say how to)."""
    if source_arn == destination_arn:
        raise ResolveError("the source and the destination are the same queue")
    try:
        task_handle = start_move(sqs, source_arn, destination_arn, args.max_per_second)
    except ClientError as error:
        print(f"StartMessageMoveTask failed: {error}", file=sys.stderr)
        return 1
    print(f"started SQS message move task {task_handle}\n  {source_arn}\n  -> {destination_arn}")
    if args.no_wait:
        print(how_to_follow(source_arn, task_handle))
        return 0
    try:
        task = follow_task(sqs, source_arn, task_handle, poll_seconds=args.poll_seconds)
    except KeyboardInterrupt:
        print(
            "\nstopped following; the task goes on in SQS\n"
            + how_to_follow(source_arn, task_handle)
        )
        return INTERRUPTED
    except ClientError as error:
        print(f"ListMessageMoveTasks failed: {error}", file=sys.stderr)
        print(how_to_follow(source_arn, task_handle))
        return 1
    return 0 if task.get("Status") == "COMPLETED" else 1


def dry_run(sqs: SQSClient, args: argparse.Namespace, source: Queue, destination: Queue) -> int:
    source_url = queue_url(sqs, source)
    visible, in_flight, delayed = approximate_count(sqs, source_url)
    print(f"{source_url}: about {visible} messages ({in_flight} in flight, {delayed} delayed)")
    messages = peek(sqs, source_url, min(args.max or BATCH_SIZE, BATCH_SIZE))
    print(f"peeked at {len(messages)} (made visible again)")
    if args.local:
        bound = f"at most {args.max}" if args.max else "all"
        target = queue_url(sqs, destination)
        print(f"would move {bound} by receive/send/delete to {target}; moved nothing")
    else:
        call = f"SourceArn={queue_arn(sqs, source)}, DestinationArn={queue_arn(sqs, destination)}"
        if args.max_per_second is not None:
            call += f", MaxNumberOfMessagesPerSecond={args.max_per_second}"
        print(f"would call StartMessageMoveTask({call}); moved nothing")
    return 0


def local_move(sqs: SQSClient, args: argparse.Namespace, source: Queue, destination: Queue) -> int:
    source_url, destination_url = queue_url(sqs, source), queue_url(sqs, destination)
    if source_url == destination_url:
        raise ResolveError("the source and the destination are the same queue")
    print(f"moving by hand: {source_url} -> {destination_url}")
    summary = move_by_hand(
        sqs,
        source_url,
        destination_url,
        max_messages=args.max,
        wait_seconds=args.wait_seconds,
        idle_timeout=args.idle_timeout,
    )
    print(summary.line())
    return 0 if summary.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
