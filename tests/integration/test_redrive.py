"""`make redrive`: the dead-letter queue goes back to the ingest queue through SQS's own redrive
(StartMessageMoveTask, checked with botocore's Stubber), or by receive/send/delete on a local
endpoint (checked on moto, which has no move task)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from tools import redrive
from tools.events import Upload, encode_key, s3_put_event

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_sqs import SQSClient

REGION = "us-east-1"
ACCOUNT = "123456789012"
DLQ_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:ocr-IngestDeadLetterQueue-abc"
INGEST_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:ocr-IngestQueue-abc"
DLQ_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/ocr-IngestDeadLetterQueue-abc"
INGEST_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/ocr-IngestQueue-abc"
STACK_OUTPUTS = {
    "InputBucketName": "ocr-input-x",
    "OutputBucketName": "ocr-output-x",
    "OcrFunctionName": "ocr-fn",
    "IngestQueueUrl": INGEST_URL,
    "IngestQueueArn": INGEST_ARN,
    "DeadLetterQueueUrl": DLQ_URL,
    "DeadLetterQueueArn": DLQ_ARN,
}


def notification(key: str, bucket: str = "ocr-input") -> str:
    """A message body as S3 sends it to the ingest queue (and SQS on to the dead-letter queue)."""
    return json.dumps(s3_put_event([Upload(bucket, encode_key(key))]))


def describe_stacks_response(outputs: dict[str, str]) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": "ocr",
                "CreationTime": "2024-05-01T12:00:00Z",
                "StackStatus": "UPDATE_COMPLETE",
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
            }
        ]
    }


def task(status: str, moved: int, handle: str | None = None, **more: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "Status": status,
        "SourceArn": DLQ_ARN,
        "DestinationArn": INGEST_ARN,
        "ApproximateNumberOfMessagesMoved": moved,
        "ApproximateNumberOfMessagesToMove": 42,
        "StartedTimestamp": 1714564800000,
        **more,
    }
    if handle is not None:
        entry["TaskHandle"] = handle
    return entry


# --- SQS's own redrive: the requests, with Stubber --------------------------------------------


@pytest.fixture
def stubbed(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Stubbed sqs and cloudformation clients, which the tool's boto3.client calls return."""
    clients = {
        "sqs": boto3.client("sqs", region_name=REGION),
        "cloudformation": boto3.client("cloudformation", region_name=REGION),
    }
    stubbers = {name: Stubber(client) for name, client in clients.items()}
    monkeypatch.setattr("tools.redrive.boto3.client", lambda name, **_: clients[name])
    for stubber in stubbers.values():
        stubber.activate()
    yield stubbers
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()
        stubber.deactivate()


def test_start_move_sends_the_arns_and_the_rate(stubbed: dict[str, Stubber]) -> None:
    sqs = cast("SQSClient", stubbed["sqs"].client)
    stubbed["sqs"].add_response(
        "start_message_move_task",
        {"TaskHandle": "handle-1"},
        {"SourceArn": DLQ_ARN, "DestinationArn": INGEST_ARN, "MaxNumberOfMessagesPerSecond": 20},
    )
    stubbed["sqs"].add_response(
        "start_message_move_task",
        {"TaskHandle": "handle-2"},
        {"SourceArn": DLQ_ARN, "DestinationArn": INGEST_ARN},  # no rate: SQS's own
    )

    assert redrive.start_move(sqs, DLQ_ARN, INGEST_ARN, 20) == "handle-1"
    assert redrive.start_move(sqs, DLQ_ARN, INGEST_ARN) == "handle-2"


def test_follow_task_polls_until_the_task_ends(stubbed: dict[str, Stubber]) -> None:
    sqs = cast("SQSClient", stubbed["sqs"].client)
    request = {"SourceArn": DLQ_ARN, "MaxResults": 10}
    older = task("COMPLETED", 7)  # an earlier redrive of the same queue
    stubbed["sqs"].add_response("list_message_move_tasks", {"Results": []}, request)
    stubbed["sqs"].add_response(
        "list_message_move_tasks", {"Results": [task("RUNNING", 10, "h"), older]}, request
    )
    # Once it has ended SQS no longer returns its handle: it is the newest task.
    stubbed["sqs"].add_response(
        "list_message_move_tasks", {"Results": [task("COMPLETED", 42), older]}, request
    )
    sleeps: list[float] = []
    lines: list[str] = []

    final = redrive.follow_task(
        sqs, DLQ_ARN, "h", poll_seconds=3, sleep=sleeps.append, report=lines.append
    )

    assert final["Status"] == "COMPLETED"
    assert sleeps == [3, 3]
    assert lines == ["RUNNING: moved 10 of about 42", "COMPLETED: moved 42 of about 42"]


def stub_stack(stubbed: dict[str, Stubber], outputs: dict[str, str] = STACK_OUTPUTS) -> None:
    stubbed["cloudformation"].add_response(
        "describe_stacks", describe_stacks_response(outputs), {"StackName": "ocr"}
    )


def test_main_redrives_the_stacks_dead_letter_queue_into_its_ingest_queue(
    stubbed: dict[str, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    stub_stack(stubbed)
    stubbed["sqs"].add_response(
        "start_message_move_task",
        {"TaskHandle": "handle-9"},
        {"SourceArn": DLQ_ARN, "DestinationArn": INGEST_ARN, "MaxNumberOfMessagesPerSecond": 50},
    )
    stubbed["sqs"].add_response(
        "list_message_move_tasks",
        {"Results": [task("COMPLETED", 42)]},
        {"SourceArn": DLQ_ARN, "MaxResults": 10},
    )

    status = redrive.main(["--stack", "ocr", "--max-per-second", "50", "--poll-seconds", "0"])

    out = capsys.readouterr().out
    assert status == 0, out
    assert "handle-9" in out and "COMPLETED: moved 42" in out


def test_main_exits_non_zero_when_the_task_failed(
    stubbed: dict[str, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    stub_stack(stubbed)
    stubbed["sqs"].add_response("start_message_move_task", {"TaskHandle": "h"})
    reason = "AWS.SimpleQueueService.NonExistentQueue"
    stubbed["sqs"].add_response(
        "list_message_move_tasks", {"Results": [task("FAILED", 3, FailureReason=reason)]}
    )

    status = redrive.main(["--stack", "ocr", "--poll-seconds", "0"])

    assert status == 1
    assert f"FAILED: moved 3 of about 42: {reason}" in capsys.readouterr().out


def test_main_no_wait_prints_how_to_follow_the_task(
    stubbed: dict[str, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    stubbed["sqs"].add_response(
        "start_message_move_task",
        {"TaskHandle": "handle-3"},
        {"SourceArn": DLQ_ARN, "DestinationArn": INGEST_ARN},
    )

    status = redrive.main(["--source-arn", DLQ_ARN, "--destination-arn", INGEST_ARN, "--no-wait"])

    out = capsys.readouterr().out
    assert status == 0
    assert f"aws sqs list-message-move-tasks --source-arn {DLQ_ARN}" in out
    assert "aws sqs cancel-message-move-task --task-handle handle-3" in out


def test_a_refused_start_is_reported(
    stubbed: dict[str, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    stubbed["sqs"].add_client_error(
        "start_message_move_task",
        service_error_code="UnsupportedOperation",
        service_message="a move task is already running",
    )

    status = redrive.main(["--source-arn", DLQ_ARN, "--destination-arn", INGEST_ARN])

    assert status == 1
    assert "already running" in capsys.readouterr().err


def test_queues_from_the_stack_outputs(stubbed: dict[str, Stubber]) -> None:
    stub_stack(stubbed)

    source, destination = redrive.queues_from_stack(
        cast("CloudFormationClient", stubbed["cloudformation"].client), "ocr"
    )

    assert source == redrive.Queue(url=DLQ_URL, arn=DLQ_ARN)
    assert destination == redrive.Queue(url=INGEST_URL, arn=INGEST_ARN)


def test_a_stack_from_before_sqs_ingestion_is_named_as_such(
    stubbed: dict[str, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    stub_stack(stubbed, {"FailedEventsQueueUrl": "https://q", "OcrFunctionName": "ocr-fn"})

    status = redrive.main(["--stack", "ocr"])

    err = capsys.readouterr().err
    assert status == 2
    assert "no output DeadLetterQueueArn, DeadLetterQueueUrl, IngestQueueArn" in err
    assert "FailedEventsQueueUrl" in err


@pytest.mark.parametrize(
    "argv",
    [
        [],  # no queues
        ["--stack", "ocr", "--max", "5"],  # a move task cannot stop after N
        ["--stack", "ocr", "--source-arn", DLQ_ARN],
        ["--source-arn", DLQ_ARN],  # no destination
        ["--stack", "ocr", "--max-per-second", "501"],
        ["--local", "--max", "0"],
    ],
)
def test_usage_errors(aws_credentials: None, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        redrive.main(argv)
    assert exit_info.value.code == 2


def test_describe_body_decodes_keys_and_names_test_events() -> None:
    assert redrive.describe_body(notification("scans/my scan+1 №.png")) == (
        "ObjectCreated:Put s3://ocr-input/scans/my scan+1 №.png"
    )
    test_event = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"})
    assert redrive.describe_body(test_event) == "s3:TestEvent"
    assert redrive.describe_body("{oops").startswith("not JSON")
    assert redrive.describe_body('{"task": "pages"}').startswith("other message")
    page_task = json.dumps({"ocrPageTask": {"key": "long.pdf", "first": 11, "last": 20}})
    assert redrive.describe_body(page_task).startswith('page task {"key": "long.pdf"')


# --- on moto: the move by hand, the dry run, queue lookups -----------------------------------


@pytest.fixture
def sqs(aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs")


@pytest.fixture
def queues(sqs: Any) -> tuple[str, str]:
    """The local topology: ocr-ingest with its dead-letter queue ocr-ingest-dlq."""
    dlq = sqs.create_queue(QueueName=redrive.LOCAL_SOURCE_QUEUE)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    ingest = sqs.create_queue(
        QueueName=redrive.LOCAL_DESTINATION_QUEUE,
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
        },
    )["QueueUrl"]
    return dlq, ingest


def send(sqs: Any, url: str, *bodies: str, attributes: dict[str, Any] | None = None) -> None:
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes or {})


def counts(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) messages."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message in the queue (received and hidden for the rest of the test)."""
    found: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=300,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return found
        found.extend(messages)


def move(sqs: Any, queues: tuple[str, str], **options: Any) -> redrive.MoveSummary:
    lines: list[str] = options.pop("lines", [])
    return redrive.move_by_hand(
        sqs, *queues, wait_seconds=0, idle_timeout=0, report=lines.append, **options
    )


def test_local_move_moves_every_message_once_with_its_attributes(
    sqs: Any, queues: tuple[str, str]
) -> None:
    dlq, ingest = queues
    bodies = [notification(f"scans/page {n}+x.png") for n in range(23)]
    send(sqs, dlq, *bodies[:20])
    attributes = {"origin": {"DataType": "String", "StringValue": "s3"}}
    send(sqs, dlq, *bodies[20:], attributes=attributes)
    lines: list[str] = []

    summary = move(sqs, queues, lines=lines)

    assert summary == redrive.MoveSummary(received=23, moved=23)
    assert counts(sqs, dlq) == (0, 0)
    moved = drain(sqs, ingest)
    assert sorted(m["Body"] for m in moved) == sorted(bodies)  # none lost, none duplicated
    with_attributes = [m for m in moved if m.get("MessageAttributes")]
    assert sorted(m["Body"] for m in with_attributes) == sorted(bodies[20:])
    assert all(m["MessageAttributes"]["origin"]["StringValue"] == "s3" for m in with_attributes)
    assert sum("s3://ocr-input/scans/page 3+x.png" in line for line in lines) == 1


def test_local_move_honours_max(sqs: Any, queues: tuple[str, str]) -> None:
    dlq, ingest = queues
    send(sqs, dlq, *(notification(f"p{n}.png") for n in range(25)))

    summary = move(sqs, queues, max_messages=12)

    assert summary.moved == 12
    assert counts(sqs, ingest) == (12, 0)
    assert counts(sqs, dlq) == (13, 0)  # the rest untouched and visible


class FailingSends:
    """The sqs client, but SendMessageBatch refuses the entries whose body names a bad key."""

    def __init__(self, sqs: Any, bad: str) -> None:
        self.sqs, self.bad = sqs, bad

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        good = [entry for entry in Entries if self.bad not in entry["MessageBody"]]
        failed = [
            {"Id": entry["Id"], "SenderFault": False, "Code": "InternalError", "Message": "boom"}
            for entry in Entries
            if self.bad in entry["MessageBody"]
        ]
        response: dict[str, Any] = self.sqs.send_message_batch(QueueUrl=QueueUrl, Entries=good)
        response["Failed"] = failed
        return response


def test_a_message_whose_send_failed_stays_in_the_source_visible(
    sqs: Any, queues: tuple[str, str]
) -> None:
    dlq, ingest = queues
    bad = notification("bad.png")
    send(sqs, dlq, bad, *(notification(f"ok-{n}.png") for n in range(4)))

    summary = move(FailingSends(sqs, "bad.png"), queues)

    assert summary == redrive.MoveSummary(received=5, moved=4, send_failed=1)
    assert not summary.ok
    assert counts(sqs, dlq) == (1, 0)  # not lost, and visible again at once
    assert [m["Body"] for m in drain(sqs, dlq)] == [bad]
    assert counts(sqs, ingest) == (4, 0)


def test_dry_run_moves_nothing_and_shows_what_would_move(
    sqs: Any, queues: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    dlq, ingest = queues
    send(sqs, dlq, *(notification(f"scans/счёт {n}.png") for n in range(12)))

    status = redrive.main(["--local", "--dry-run"])

    out = capsys.readouterr().out
    assert status == 0
    assert "about 12 messages" in out
    assert sum("s3://ocr-input/scans/счёт " in line for line in out.splitlines()) == 10
    assert "moved nothing" in out
    assert counts(sqs, dlq) == (12, 0)  # all visible again
    assert counts(sqs, ingest) == (0, 0)


def test_main_local_uses_the_local_topology_queues(
    sqs: Any, queues: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    dlq, ingest = queues
    send(sqs, dlq, *(notification(f"k{n}.png") for n in range(3)))

    status = redrive.main(["--local", "--wait-seconds", "0", "--idle-timeout", "0"])

    assert status == 0
    assert "moved 3" in capsys.readouterr().out
    assert counts(sqs, dlq) == (0, 0)
    assert counts(sqs, ingest) == (3, 0)


def test_main_local_with_urls(sqs: Any, queues: tuple[str, str]) -> None:
    dlq, ingest = queues
    send(sqs, dlq, *(notification(f"k{n}.png") for n in range(15)))

    argv = ["--local", "--source-url", dlq, "--destination-url", ingest, "--max", "11"]
    status = redrive.main([*argv, "--wait-seconds", "0", "--idle-timeout", "0"])

    assert status == 0
    assert counts(sqs, ingest) == (11, 0)
    assert counts(sqs, dlq) == (4, 0)


def test_queue_url_and_arn_are_looked_up(sqs: Any, queues: tuple[str, str]) -> None:
    dlq, _ = queues
    arn = redrive.queue_arn(sqs, redrive.Queue(url=dlq))
    assert arn.endswith(":ocr-ingest-dlq")
    assert redrive.queue_url(sqs, redrive.Queue(arn=arn)) == dlq
    with pytest.raises(redrive.ResolveError, match="not an SQS queue ARN"):
        redrive.queue_url(sqs, redrive.Queue(arn="arn:aws:sns:us-east-1:1:topic"))
