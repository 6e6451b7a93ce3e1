"""`make redrive`: failed S3 events are re-run from the on-failure queue, and only then deleted."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.stub import Stubber

from conftest import INPUT_BUCKET, OUTPUT_BUCKET, PNG, FakeEngine
from ocr_service import engines
from tools import redrive
from tools.events import Upload, s3_put_event

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:ocr-OcrFunction-abc:$LATEST"


def invocation_record(event: dict[str, Any], request_id: str = "req-1") -> str:
    """A message body as Lambda sends it to an SQS on-failure destination."""
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": "2024-05-01T12:00:00.000Z",
            "requestContext": {
                "requestId": request_id,
                "functionArn": FUNCTION_ARN,
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {"errorMessage": "1 record(s) failed transiently: ..."},
        }
    )


def event_for(key: str) -> dict[str, Any]:
    return s3_put_event([Upload(INPUT_BUCKET, key)])


@pytest.fixture
def sqs(s3: Any) -> Any:
    """An in-process SQS (inside the same moto mock as the `s3` fixture)."""
    return boto3.client("sqs")


@pytest.fixture
def queue_url(sqs: Any) -> str:
    url: str = sqs.create_queue(QueueName="failed-events")["QueueUrl"]
    return url


def send(sqs: Any, queue_url: str, *bodies: str) -> None:
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)


def counts(sqs: Any, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def bodies_left(sqs: Any, queue_url: str) -> list[str]:
    """Every message body still in the queue (the run must have left them visible)."""
    found: list[str] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30
        ).get("Messages", [])
        if not messages:
            return sorted(found)
        found.extend(message["Body"] for message in messages)


class Recorder:
    """A re-run step that records each event and fails for the keys it is told to."""

    def __init__(self, failing_keys: tuple[str, ...] = ()) -> None:
        self.events: list[dict[str, Any]] = []
        self.failing_keys = failing_keys

    def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if len(self.events) > 100:  # BaseException: the redrive cannot swallow it and loop on
            pytest.fail("re-run over and over: the redrive does not end")
        if event["Records"][0]["s3"]["object"]["key"] in self.failing_keys:
            raise RuntimeError("still broken")


def run(sqs: Any, queue_url: str, rerun: Recorder, **options: Any) -> redrive.Summary:
    lines: list[str] = options.pop("lines", [])
    return redrive.redrive(sqs, queue_url, rerun, wait_seconds=0, report=lines.append, **options)


def test_records_are_rerun_with_exactly_their_payload_then_deleted(
    sqs: Any, queue_url: str
) -> None:
    events = [event_for(f"scans/page-{n}.png") for n in range(3)]
    send(sqs, queue_url, *(invocation_record(event, f"req-{n}") for n, event in enumerate(events)))
    rerun = Recorder()

    summary = run(sqs, queue_url, rerun)

    assert sorted(rerun.events, key=json.dumps) == sorted(events, key=json.dumps)
    assert summary == redrive.Summary(received=3, rerun=3, failed=0, skipped=0)
    assert summary.ok
    assert counts(sqs, queue_url) == (0, 0)  # deleted, not merely hidden


def test_a_failing_rerun_leaves_its_message_in_the_queue(sqs: Any, queue_url: str) -> None:
    broken = invocation_record(event_for("broken.png"))
    send(sqs, queue_url, broken, invocation_record(event_for("fine.png")))
    rerun = Recorder(failing_keys=("broken.png",))
    lines: list[str] = []

    # Visibility timeout 0: the failed message is visible again at once, during the run too.
    summary = run(sqs, queue_url, rerun, visibility_timeout=0, lines=lines)

    assert summary == redrive.Summary(received=2, rerun=1, failed=1, skipped=0)
    assert not summary.ok
    assert len(rerun.events) == 2  # each re-run once, although the failed one came back
    assert bodies_left(sqs, queue_url) == [broken]
    assert any(
        line.startswith("failed")
        and "s3://test-input/broken.png" in line
        and "still broken" in line
        for line in lines
    )


def test_a_failed_message_is_hidden_until_its_visibility_timeout(sqs: Any, queue_url: str) -> None:
    send(sqs, queue_url, invocation_record(event_for("broken.png")))

    run(sqs, queue_url, Recorder(failing_keys=("broken.png",)), visibility_timeout=300)

    assert counts(sqs, queue_url) == (0, 1)  # still in the queue, comes back later


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("not json {", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"version": "1.0", "requestContext": {}}), "no requestPayload"),
        (json.dumps({"requestPayload": {"hello": "world"}}), "no Records"),
    ],
)
def test_messages_that_are_not_invocation_records_are_left_and_reported(
    sqs: Any, queue_url: str, body: str, why: str
) -> None:
    good = event_for("fine.png")
    send(sqs, queue_url, body, invocation_record(good))
    rerun = Recorder()
    lines: list[str] = []

    summary = run(sqs, queue_url, rerun, visibility_timeout=0, lines=lines)

    assert rerun.events == [good]
    assert summary == redrive.Summary(received=2, rerun=1, failed=0, skipped=1)
    assert not summary.ok
    assert bodies_left(sqs, queue_url) == [body]
    assert [line for line in lines if line.startswith("skipped")] == [mock.ANY]
    assert why in next(line for line in lines if line.startswith("skipped"))


def test_dry_run_reruns_and_deletes_nothing_and_leaves_messages_visible(
    sqs: Any, queue_url: str
) -> None:
    bodies = [invocation_record(event_for(f"page-{n}.png"), f"req-{n}") for n in range(12)]
    send(sqs, queue_url, *bodies)
    rerun = Recorder()
    lines: list[str] = []

    summary = run(sqs, queue_url, rerun, dry_run=True, lines=lines)

    assert rerun.events == []
    assert summary == redrive.Summary(received=12, rerun=12, failed=0, skipped=0)
    assert sum("would run" in line and "s3://test-input/page-" in line for line in lines) == 12
    assert counts(sqs, queue_url) == (12, 0)  # visible at once for the real run
    assert bodies_left(sqs, queue_url) == sorted(bodies)


def test_max_is_honoured_across_batches(sqs: Any, queue_url: str) -> None:
    send(sqs, queue_url, *(invocation_record(event_for(f"p{n}.png")) for n in range(25)))
    rerun = Recorder()

    summary = run(sqs, queue_url, rerun, max_messages=12)

    assert len(rerun.events) == 12
    assert summary.received == 12
    assert counts(sqs, queue_url) == (13, 0)


def test_an_empty_queue_is_a_clean_run(sqs: Any, queue_url: str) -> None:
    assert run(sqs, queue_url, Recorder()) == redrive.Summary()


def test_lambda_rerun_invokes_asynchronously_with_the_payload() -> None:
    client = boto3.client("lambda", region_name="us-east-1")
    event = event_for("scans/my+scan.png")
    with Stubber(client) as stubber:
        stubber.add_response(
            "invoke",
            {"StatusCode": 202},
            {
                "FunctionName": "ocr-fn",
                "InvocationType": "Event",
                "Payload": json.dumps(event).encode("utf-8"),
            },
        )
        redrive.lambda_rerun(client, "ocr-fn")(event)
        stubber.assert_no_pending_responses()


def test_lambda_rerun_fails_unless_the_invocation_is_accepted() -> None:
    client = boto3.client("lambda", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_response("invoke", {"StatusCode": 200})
        with pytest.raises(redrive.RerunError, match="200"):
            redrive.lambda_rerun(client, "ocr-fn")(event_for("a.png"))


def test_stack_outputs_name_the_queue_and_the_function() -> None:
    client = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "ocr",
                        "CreationTime": "2024-05-01T12:00:00Z",
                        "StackStatus": "CREATE_COMPLETE",
                        "Outputs": [
                            {"OutputKey": "FailedEventsQueueUrl", "OutputValue": "https://q"},
                            {"OutputKey": "OcrFunctionName", "OutputValue": "ocr-fn"},
                        ],
                    }
                ]
            },
            {"StackName": "ocr"},
        )
        outputs = redrive.stack_outputs(client, "ocr")
    assert outputs[redrive.QUEUE_OUTPUT] == "https://q"
    assert outputs[redrive.FUNCTION_OUTPUT] == "ocr-fn"


def test_main_exits_non_zero_when_a_rerun_failed(
    sqs: Any, queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    send(sqs, queue_url, invocation_record(event_for("broken.png")))
    monkeypatch.setattr(
        redrive, "lambda_rerun", lambda client, name: Recorder(failing_keys=("broken.png",))
    )

    status = redrive.main(["--queue-url", queue_url, "--function-name", "f", "--wait-seconds", "0"])

    assert status == 1


def test_main_dry_run_needs_no_function_and_lists_decoded_keys(
    sqs: Any, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    send(sqs, queue_url, invocation_record(event_for("scans/my+scan.png")))

    status = redrive.main(["--queue-url", queue_url, "--dry-run", "--wait-seconds", "0"])

    assert status == 0
    out = capsys.readouterr().out
    assert "would run" in out and "s3://test-input/scans/my scan.png" in out
    assert "would re-run 1" in out
    assert counts(sqs, queue_url) == (1, 0)


def test_main_refuses_to_guess_the_function(aws_credentials: None) -> None:
    with pytest.raises(SystemExit) as exit_info:
        redrive.main(["--queue-url", "https://queue"])
    assert exit_info.value.code == 2


@pytest.fixture
def restored_environment() -> Iterator[None]:
    """Local mode applies the template's environment to os.environ, as Lambda would."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_local_mode_recognizes_the_failed_upload_and_empties_the_queue(
    s3: Any,
    sqs: Any,
    queue_url: str,
    fake_engine: FakeEngine,
    monkeypatch: pytest.MonkeyPatch,
    restored_environment: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OUTPUT_BUCKET", OUTPUT_BUCKET)
    put = s3.put_object(Bucket=INPUT_BUCKET, Key="scans/lost.png", Body=PNG)
    event = s3_put_event([Upload(INPUT_BUCKET, "scans/lost.png", etag=put["ETag"].strip('"'))])
    send(sqs, queue_url, invocation_record(event))
    sys.modules.pop("app", None)
    try:
        with mock.patch.object(engines, "start_engine", return_value=fake_engine):
            status = redrive.main(["--queue-url", queue_url, "--local", "--wait-seconds", "0"])
    finally:
        sys.modules.pop("app", None)

    assert status == 0, capsys.readouterr()
    assert len(fake_engine.calls) == 1
    text = s3.get_object(Bucket=OUTPUT_BUCKET, Key="scans/lost.png.txt")["Body"].read()
    assert text.decode("utf-8").startswith("recognized")
    assert counts(sqs, queue_url) == (0, 0)
    assert "re-run 1" in capsys.readouterr().out
