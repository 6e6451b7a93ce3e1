"""`make redrive`: re-run the S3 events that failed after Lambda's asynchronous retries.

After its retries, Lambda sends an invocation record of each failed event to the stack's
failed-events queue (template.yaml, `EventInvokeConfig`). Once the cause is fixed, this tool reads
those records, re-runs each one's `requestPayload` (the original S3 event) and deletes a message
only after its re-run succeeded; a message that fails again, or that is not an invocation record,
stays in the queue and is reported. Re-running is safe: the pipeline skips objects whose result
already records the same source version.

    python -m tools.redrive --stack NAME                      # the stack's queue and function
    python -m tools.redrive --queue-url URL --function-name NAME
    python -m tools.redrive --stack NAME --local              # run the handler in this process

By default each event is sent to the function again as an asynchronous invocation (a failure
then goes through Lambda's retries and back to the queue). `--local` runs the real handler in
this process instead, with the environment template.yaml declares, like `make invoke`, against
AWS_ENDPOINT_URL or real AWS. Exit status: 0 when every message received was re-run, 1 when any
failed or was not an invocation record, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import boto3

from tools.invoke import DEFAULT_OUTPUT_BUCKET
from tools.local_run import import_handler_module, invoke, local_environment

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

QUEUE_OUTPUT = "FailedEventsQueueUrl"
FUNCTION_OUTPUT = "OcrFunctionName"
OUTPUT_BUCKET_OUTPUT = "OutputBucketName"
BATCH_SIZE = 10  # SQS's maximum per ReceiveMessage
DEFAULT_WAIT_SECONDS = 2
# How long a received message stays hidden: enough for a batch of re-runs (ten asynchronous
# invocations take a second; ten local recognitions a few minutes). A message left in the queue
# becomes visible again after it.
DEFAULT_VISIBILITY_TIMEOUT = 300
ASYNC_ACCEPTED = 202

Event = dict[str, Any]
Rerun = Callable[[Event], None]
"""Re-runs one S3 event; returning means success, raising means failure."""
Report = Callable[[str], None]


class NotAnInvocationRecordError(ValueError):
    """A message body that is not a Lambda invocation record of an S3 event."""


class RerunError(RuntimeError):
    """The re-run was not accepted."""


@dataclass(frozen=True)
class InvocationRecord:
    """What the tool needs from one of Lambda's asynchronous invocation records."""

    payload: Event
    """The original event (`requestPayload`)."""
    request_id: str
    condition: str
    """Why Lambda gave up: RetriesExhausted, EventAgeExceeded, ..."""
    invoke_count: int | None

    def describe(self) -> str:
        """One line: the objects of the event and why it landed in the queue."""
        objects = ", ".join(_object_urls(self.payload)) or "no records"
        attempts = f", {self.invoke_count} attempts" if self.invoke_count is not None else ""
        return f"{objects} (request {self.request_id}: {self.condition}{attempts})"


@dataclass
class Summary:
    """Counts of one run; `rerun` counts what would be re-run in a dry run."""

    received: int = 0
    rerun: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.skipped == 0

    def line(self, dry_run: bool) -> str:
        rerun = "would re-run" if dry_run else "re-run"
        return (
            f"received {self.received}, {rerun} {self.rerun}, failed {self.failed}, "
            f"skipped {self.skipped} (not invocation records)"
        )


def parse_invocation_record(body: str) -> InvocationRecord:
    """Read a destination message; raise NotAnInvocationRecordError when it is not one."""
    try:
        document = json.loads(body)
    except ValueError as error:
        raise NotAnInvocationRecordError(f"not JSON: {error}") from error
    if not isinstance(document, dict):
        raise NotAnInvocationRecordError("not a JSON object")
    payload = document.get("requestPayload")
    if not isinstance(payload, dict):
        raise NotAnInvocationRecordError("no requestPayload object")
    if not isinstance(payload.get("Records"), list):
        raise NotAnInvocationRecordError("requestPayload is not an S3 event (no Records list)")
    context = document.get("requestContext")
    context = context if isinstance(context, dict) else {}
    count = context.get("approximateInvokeCount")
    return InvocationRecord(
        payload=payload,
        request_id=str(context.get("requestId", "?")),
        condition=str(context.get("condition", "?")),
        invoke_count=count if isinstance(count, int) else None,
    )


def _object_urls(event: Mapping[str, Any]) -> list[str]:
    """Each record's object, its key decoded as the pipeline decodes it."""
    urls = []
    for record in event.get("Records", []):
        try:
            bucket, key = record["s3"]["bucket"]["name"], record["s3"]["object"]["key"]
            urls.append(f"s3://{bucket}/{unquote_plus(key, encoding='utf-8', errors='replace')}")
        except (KeyError, TypeError):
            urls.append("(a record without an S3 object)")
    return urls


def lambda_rerun(client: LambdaClient, function_name: str) -> Rerun:
    """Re-run events as new asynchronous invocations of the function, as S3 invokes it."""

    def rerun(event: Event) -> None:
        response = client.invoke(
            FunctionName=function_name,
            InvocationType="Event",
            Payload=json.dumps(event).encode("utf-8"),
        )
        if response["StatusCode"] != ASYNC_ACCEPTED:
            raise RerunError(f"Lambda answered {response['StatusCode']}, not {ASYNC_ACCEPTED}")

    return rerun


def local_rerun(environment: Mapping[str, str]) -> Rerun:
    """Import the handler now (its Init phase, engine start included) and call it per event."""
    module, init_seconds = import_handler_module(environment)
    print(f"Init: {init_seconds:.2f} s", file=sys.stderr)

    def rerun(event: Event) -> None:
        invoke(module, event)  # raises (RetryableRecordsError, say) when a retry could help

    return rerun


def redrive(
    sqs: SQSClient,
    queue_url: str,
    rerun: Rerun,
    *,
    max_messages: int | None = None,
    dry_run: bool = False,
    wait_seconds: int = DEFAULT_WAIT_SECONDS,
    visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT,
    report: Report = print,
) -> Summary:
    """Re-run the queue's invocation records until it is empty or `max_messages` were received.

    A message that comes back during the run (its visibility timeout ran out) is not re-run
    twice; a batch with nothing new ends the run. A dry run re-runs and deletes nothing, and
    makes what it received visible again at the end.
    """
    run = _Run(sqs, queue_url, rerun, dry_run, report)
    seen: set[str] = set()
    held: list[str] = []  # receipt handles a dry run gives back
    while max_messages is None or run.summary.received < max_messages:
        wanted = BATCH_SIZE
        if max_messages is not None:
            wanted = min(BATCH_SIZE, max_messages - run.summary.received)
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=wanted,
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=visibility_timeout,
        ).get("Messages", [])
        held.extend(message["ReceiptHandle"] for message in messages)
        new = [message for message in messages if message["MessageId"] not in seen]
        if not new:
            break
        for message in new:
            seen.add(message["MessageId"])
            run.handle(message)
    if dry_run:
        _release(sqs, queue_url, held)
    return run.summary


@dataclass
class _Run:
    """One redrive: what to do with each message, and the counts so far."""

    sqs: SQSClient
    queue_url: str
    rerun: Rerun
    dry_run: bool
    report: Report
    summary: Summary = field(default_factory=Summary)

    def handle(self, message: MessageTypeDef) -> None:
        """Re-run one message and delete it on success; count and report what happened."""
        self.summary.received += 1
        message_id = message["MessageId"]
        try:
            record = parse_invocation_record(message["Body"])
        except NotAnInvocationRecordError as error:
            self.summary.skipped += 1
            self.report(f"skipped   {message_id}: not an invocation record ({error}); left as is")
            return
        if self.dry_run:
            self.summary.rerun += 1
            self.report(f"would run {message_id}: {record.describe()}")
            return
        try:
            self.rerun(record.payload)
        except Exception as error:  # whatever the re-run raised, the message must stay
            self.summary.failed += 1
            self.report(
                f"failed    {message_id}: {record.describe()}: {type(error).__name__}: {error}; "
                "left in the queue"
            )
            return
        try:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        except Exception as error:  # it was re-run: running it again when it comes back is safe
            self.summary.failed += 1
            self.report(f"failed    {message_id}: re-run, not deleted ({error}); it will come back")
            return
        self.summary.rerun += 1
        self.report(f"re-run    {message_id}: {record.describe()}")


def _release(sqs: SQSClient, queue_url: str, receipt_handles: list[str]) -> None:
    """Make received messages visible again at once (a dry run must not hide them)."""
    for start in range(0, len(receipt_handles), BATCH_SIZE):
        batch = receipt_handles[start : start + BATCH_SIZE]
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for index, handle in enumerate(batch)
            ],
        )


def stack_outputs(cloudformation: CloudFormationClient, stack_name: str) -> dict[str, str]:
    """The stack's outputs by key."""
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {
        output["OutputKey"]: output["OutputValue"]
        for output in stack.get("Outputs", [])
        if "OutputKey" in output and "OutputValue" in output
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.redrive",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack", help="read the queue and function from this stack's outputs")
    target.add_argument("--queue-url", help="the failed-events queue")
    parser.add_argument("--function-name", help="the function to invoke (with --queue-url)")
    parser.add_argument("--local", action="store_true", help="run the handler in this process")
    parser.add_argument("--max", type=int, metavar="N", help="handle at most N messages")
    parser.add_argument("--dry-run", action="store_true", help="list, re-run and delete nothing")
    parser.add_argument("--wait-seconds", type=int, default=DEFAULT_WAIT_SECONDS, help="long poll")
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        default=DEFAULT_VISIBILITY_TIMEOUT,
        help="seconds a received message stays hidden (a failed one reappears after it)",
    )
    args = parser.parse_args(argv)
    if args.queue_url and not (args.function_name or args.local or args.dry_run):
        parser.error("--queue-url needs --function-name (or --local, or --dry-run)")
    if args.max is not None and args.max < 1:
        parser.error("--max must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    queue_url: str = args.queue_url
    function_name: str | None = args.function_name
    output_bucket = os.environ.get("OUTPUT_BUCKET", DEFAULT_OUTPUT_BUCKET)
    if args.stack:
        outputs = stack_outputs(boto3.client("cloudformation"), args.stack)
        missing = [key for key in (QUEUE_OUTPUT, FUNCTION_OUTPUT) if key not in outputs]
        if missing:
            print(f"stack {args.stack} has no output {', '.join(missing)}", file=sys.stderr)
            return 2
        queue_url, function_name = outputs[QUEUE_OUTPUT], outputs[FUNCTION_OUTPUT]
        output_bucket = outputs.get(OUTPUT_BUCKET_OUTPUT, output_bucket)
    rerun: Rerun
    if args.dry_run:
        rerun = _never
    elif args.local:
        rerun = local_rerun(local_environment(output_bucket))
    else:
        assert function_name is not None  # parse_args requires it without --local, --dry-run
        rerun = lambda_rerun(boto3.client("lambda"), function_name)
    summary = redrive(
        boto3.client("sqs"),
        queue_url,
        rerun,
        max_messages=args.max,
        dry_run=args.dry_run,
        wait_seconds=args.wait_seconds,
        visibility_timeout=args.visibility_timeout,
    )
    print(summary.line(args.dry_run))
    return 0 if summary.ok else 1


def _never(event: Event) -> None:
    raise AssertionError("a dry run re-runs nothing")


if __name__ == "__main__":
    raise SystemExit(main())
