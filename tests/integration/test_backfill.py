"""`make backfill`: objects already in the input bucket become S3-notification-shaped messages in
the ingest queue, 10 per SendMessageBatch, rate-bounded, resumable after the last acknowledged
batch. On moto (in-process); the clock and sleep are injected, so nothing here is timed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote_plus

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from tools import backfill
from tools.redrive import ResolveError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BUCKET = "ocr-input"
QUEUE = "ocr-ingest"


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[tuple[Any, Any, str]]:
    """(s3, sqs, queue URL): the local topology's bucket and queue, in process."""
    with mock_aws():
        s3 = boto3.client("s3")
        sqs = boto3.client("sqs")
        s3.create_bucket(Bucket=BUCKET)
        queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        yield s3, sqs, queue_url


def put(s3: Any, *keys: str) -> dict[str, str]:
    """Upload each key (body = the key) and return key -> ETag as S3 notifications carry it."""
    return {
        key: s3.put_object(Bucket=BUCKET, Key=key, Body=key.encode())["ETag"].strip('"')
        for key in keys
    }


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message body in the queue, parsed."""
    bodies: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300
        ).get("Messages", [])
        if not messages:
            return bodies
        bodies.extend(json.loads(message["Body"]) for message in messages)


def decoded_keys(bodies: list[dict[str, Any]]) -> list[str]:
    return [unquote_plus(body["Records"][0]["s3"]["object"]["key"]) for body in bodies]


class Clock:
    """A fake clock whose sleep advances it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Recording:
    """The sqs client, recording each SendMessageBatch (its size and the fake time), and
    raising on the call numbered `fail_on` (1-based) to play an interruption."""

    def __init__(self, sqs: Any, clock: Clock | None = None, fail_on: int | None = None) -> None:
        self.sqs, self.clock, self.fail_on = sqs, clock, fail_on
        self.sizes: list[int] = []
        self.times: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)

    def send_message_batch(self, **request: Any) -> Any:
        if self.fail_on is not None and len(self.sizes) + 1 == self.fail_on:
            raise KeyboardInterrupt  # not a send failure the tool handles: the process dies
        self.sizes.append(len(request["Entries"]))
        self.times.append(self.clock() if self.clock else 0.0)
        return self.sqs.send_message_batch(**request)


def run(aws: tuple[Any, Any, str], tmp_path: Path, **options: Any) -> backfill.Summary:
    s3, sqs, queue_url = aws
    options.setdefault("rate", 0)
    options.setdefault("report", lambda line: None)
    sqs = options.pop("sqs", sqs)
    prefix = options.get("prefix", "")
    state_path = options.pop("state_path", backfill.default_state_path(BUCKET, prefix, tmp_path))
    return backfill.backfill(s3, sqs, BUCKET, queue_url, state_path=state_path, **options)


# Keys S3 encodes differently: a space (`+`), a literal `+` (`%2B`), UTF-8 and punctuation.
AWKWARD_KEYS = (
    "scans/my scan 2024.png",
    "scans/a+b.png",
    "scans/счёт № 7 (c++).png",
    "scans/100% & done?.tif",
    "plain.png",
)


def test_messages_are_s3_notifications_whose_keys_decode_back(
    aws: tuple[Any, Any, str], tmp_path: Path
) -> None:
    s3, sqs, queue_url = aws
    etags = put(s3, *AWKWARD_KEYS)
    s3.put_object(Bucket=BUCKET, Key="scans/", Body=b"")  # a folder marker

    summary = run(aws, tmp_path)

    assert (summary.listed, summary.folders, summary.sent) == (6, 1, 5)
    bodies = drain(sqs, queue_url)
    assert sorted(decoded_keys(bodies)) == sorted(AWKWARD_KEYS)
    for body in bodies:
        key = unquote_plus(body["Records"][0]["s3"]["object"]["key"])
        assert body == {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Backfill",
                    "s3": {
                        "bucket": {"name": BUCKET},
                        "object": {
                            "key": body["Records"][0]["s3"]["object"]["key"],
                            "size": len(key.encode()),
                            "eTag": etags[key],
                        },
                    },
                }
            ]
        }
    encoded = {unquote_plus(k): k for k in (b["Records"][0]["s3"]["object"]["key"] for b in bodies)}
    assert encoded["scans/my scan 2024.png"] == "scans/my+scan+2024.png"
    assert encoded["scans/a+b.png"] == "scans/a%2Bb.png"
    assert encoded["scans/счёт № 7 (c++).png"].isascii()


def test_messages_go_out_ten_per_batch(aws: tuple[Any, Any, str], tmp_path: Path) -> None:
    s3, sqs, queue_url = aws
    put(s3, *(f"k{n:03}.png" for n in range(25)))
    recording = Recording(sqs)

    summary = run(aws, tmp_path, sqs=recording)

    assert recording.sizes == [10, 10, 5]
    assert summary.batches == 3
    assert len(drain(sqs, queue_url)) == 25


def test_max_stops_and_a_rerun_continues_exactly_after_the_last_key(
    aws: tuple[Any, Any, str], tmp_path: Path
) -> None:
    s3, sqs, queue_url = aws
    keys = sorted(f"scans/p {n:03}+x.png" for n in range(37))
    put(s3, *keys)
    state_path = tmp_path / "state.json"

    first = run(aws, tmp_path, max_messages=15, state_path=state_path)

    assert (first.outcome, first.sent) == ("max", 15)
    state = json.loads(state_path.read_text())
    assert state["last_key"] == keys[14] and state["sent"] == 15 and not state["completed"]

    second = run(aws, tmp_path, state_path=state_path)

    assert (second.outcome, second.sent, second.resumed_after) == ("complete", 22, keys[14])
    sent = decoded_keys(drain(sqs, queue_url))
    assert sorted(sent) == keys  # each exactly once: none twice, none skipped


def test_an_interrupted_run_resumes_after_the_last_acknowledged_batch(
    aws: tuple[Any, Any, str], tmp_path: Path
) -> None:
    s3, sqs, queue_url = aws
    keys = sorted(["счёт 1.png", "a b.png", "a+b.png", *(f"n{n:02}.png" for n in range(40))])
    put(s3, *keys)
    state_path = tmp_path / "state.json"

    with pytest.raises(KeyboardInterrupt):  # the third batch never reaches SQS
        run(aws, tmp_path, sqs=Recording(sqs, fail_on=3), state_path=state_path)

    assert json.loads(state_path.read_text())["last_key"] == keys[19]
    assert run(aws, tmp_path, state_path=state_path).sent == len(keys) - 20
    assert sorted(decoded_keys(drain(sqs, queue_url))) == keys


def test_stop_request_ends_after_the_current_batch(
    aws: tuple[Any, Any, str], tmp_path: Path
) -> None:
    s3, sqs, queue_url = aws
    keys = sorted(f"k{n:02}" for n in range(30))
    put(s3, *keys)
    asked = iter([False, True])

    summary = run(aws, tmp_path, should_stop=lambda: next(asked))

    assert (summary.outcome, summary.sent) == ("interrupted", 20)
    assert run(aws, tmp_path).sent == 10
    assert sorted(decoded_keys(drain(sqs, queue_url))) == keys


def test_a_finished_backfill_is_not_repeated_unless_restarted(
    aws: tuple[Any, Any, str], tmp_path: Path
) -> None:
    s3, sqs, queue_url = aws
    put(s3, "a.png", "b.png")
    lines: list[str] = []
    assert run(aws, tmp_path).sent == 2

    again = run(aws, tmp_path, report=lines.append)

    assert (again.outcome, again.sent) == ("already-complete", 0)
    assert "RESTART=1" in lines[0]
    assert run(aws, tmp_path, restart=True).sent == 2
    assert sorted(decoded_keys(drain(sqs, queue_url))) == ["a.png", "a.png", "b.png", "b.png"]


def test_prefix_is_honoured_and_has_its_own_state(
    aws: tuple[Any, Any, str], tmp_path: Path
) -> None:
    s3, sqs, queue_url = aws
    put(s3, "a/1.png", "a/2.png", "ab.png", "b/1.png", "a.png")

    summary = run(aws, tmp_path, prefix="a/")

    assert summary.sent == 2
    assert sorted(decoded_keys(drain(sqs, queue_url))) == ["a/1.png", "a/2.png"]
    assert backfill.default_state_path(BUCKET, "a/", tmp_path).exists()
    assert not backfill.default_state_path(BUCKET, "", tmp_path).exists()
    assert run(aws, tmp_path).sent == 5  # the whole bucket is another backfill


def test_state_path_names_bucket_and_prefix_hash(tmp_path: Path) -> None:
    path = backfill.default_state_path("my-bucket", "scans/", tmp_path)
    assert path == tmp_path / "my-bucket-e9cee4a1212a693fa13b3b907fc783423b9e528c.json"
    assert backfill.STATE_DIR.name == ".backfill"


def test_a_state_file_of_another_bucket_or_prefix_is_refused(
    aws: tuple[Any, Any, str], tmp_path: Path
) -> None:
    s3, _, _ = aws
    put(s3, "a.png")
    state_path = tmp_path / "state.json"
    backfill.save_state(state_path, backfill.State("other-bucket", "", last_key="z"))

    with pytest.raises(ResolveError, match="other-bucket"):
        run(aws, tmp_path, state_path=state_path)


def test_the_rate_is_bounded(aws: tuple[Any, Any, str], tmp_path: Path) -> None:
    s3, sqs, queue_url = aws
    put(s3, *(f"k{n:02}" for n in range(50)))
    clock = Clock()
    recording = Recording(sqs, clock)

    run(aws, tmp_path, sqs=recording, rate=20, clock=clock, sleep=clock.sleep)

    # 10 messages at 20/s: one batch every half second, the first at once.
    assert recording.times == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])
    assert len(drain(sqs, queue_url)) == 50


def test_the_pacer_allows_no_burst_after_a_pause() -> None:
    clock = Clock()
    pacer = backfill.Pacer(10, clock, clock.sleep)
    pacer.wait(10)
    clock.now += 5  # a slow listing page
    pacer.wait(10)
    pacer.wait(10)
    assert clock.sleeps == [pytest.approx(1.0)]  # after the pause: one interval, not zero


def test_no_rate_means_no_sleeping(aws: tuple[Any, Any, str], tmp_path: Path) -> None:
    s3, _, _ = aws
    put(s3, *(f"k{n:02}" for n in range(30)))
    clock = Clock()

    run(aws, tmp_path, rate=0, clock=clock, sleep=clock.sleep)

    assert clock.sleeps == []


def entries(*ids: int) -> list[dict[str, str]]:
    return [{"Id": str(i), "MessageBody": f"body {i}"} for i in ids]


@pytest.fixture
def stubbed_sqs(aws_credentials: None) -> Iterator[Stubber]:
    with Stubber(boto3.client("sqs", region_name="us-east-1")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def ok(*ids: int) -> list[dict[str, str]]:
    return [{"Id": str(i), "MessageId": f"m{i}", "MD5OfMessageBody": "x"} for i in ids]


def failed(*ids: int, sender_fault: bool = False) -> list[dict[str, Any]]:
    return [
        {"Id": str(i), "SenderFault": sender_fault, "Code": "InternalError", "Message": "try again"}
        for i in ids
    ]


def test_only_the_failed_entries_are_retried_with_backoff(stubbed_sqs: Stubber) -> None:
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/ocr-ingest"
    everything = entries(*range(10))
    stubbed_sqs.add_response(
        "send_message_batch",
        {"Successful": ok(0, 1, 2, 4, 5, 6, 8, 9), "Failed": failed(3, 7)},
        {"QueueUrl": url, "Entries": everything},
    )
    stubbed_sqs.add_response(
        "send_message_batch",
        {"Successful": ok(7), "Failed": failed(3)},
        {"QueueUrl": url, "Entries": entries(3, 7)},
    )
    stubbed_sqs.add_response(
        "send_message_batch",
        {"Successful": ok(3), "Failed": []},
        {"QueueUrl": url, "Entries": entries(3)},
    )
    clock = Clock()
    sender = backfill.Sender(cast("SQSClient", stubbed_sqs.client), url, sleep=clock.sleep)

    sender.send(everything)  # type: ignore[arg-type]

    assert clock.sleeps == [0.1, 0.2]
    assert sender.retried == 3


def test_sender_faults_are_not_retried_and_persistent_failures_give_up(
    stubbed_sqs: Stubber,
) -> None:
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/ocr-ingest"
    stubbed_sqs.add_response(
        "send_message_batch",
        {"Successful": ok(0), "Failed": [*failed(1, sender_fault=True), *failed(2)]},
    )
    for _ in range(2):
        stubbed_sqs.add_response("send_message_batch", {"Successful": [], "Failed": failed(2)})
    sender = backfill.Sender(
        cast("SQSClient", stubbed_sqs.client), url, sleep=lambda _: None, max_attempts=3
    )

    with pytest.raises(backfill.SendError) as error:
        sender.send(entries(0, 1, 2))  # type: ignore[arg-type]

    assert sorted(error.value.failed) == ["1", "2"]


class FlakySends(Recording):
    """The sqs client, but SendMessageBatch fails the entries of the keys named, always."""

    def __init__(self, sqs: Any, bad: str) -> None:
        super().__init__(sqs)
        self.bad = bad

    def send_message_batch(self, **request: Any) -> Any:
        good = [e for e in request["Entries"] if self.bad not in e["MessageBody"]]
        bad = [e for e in request["Entries"] if self.bad in e["MessageBody"]]
        response = self.sqs.send_message_batch(QueueUrl=request["QueueUrl"], Entries=good)
        response["Failed"] = failed(*(int(e["Id"]) for e in bad))
        return response


def test_a_batch_that_cannot_be_sent_stops_the_run_before_its_first_failure(
    aws: tuple[Any, Any, str], tmp_path: Path
) -> None:
    s3, sqs, queue_url = aws
    keys = sorted(f"k{n:02}" for n in range(25))
    put(s3, *keys)
    state_path = tmp_path / "state.json"

    summary = run(
        aws, tmp_path, sqs=FlakySends(sqs, "k13"), sleep=lambda _: None, state_path=state_path
    )

    assert summary.outcome == "failed"
    assert summary.failed_keys == ["k13"]
    assert summary.sent == 13  # the first batch and k10..k12
    assert json.loads(state_path.read_text())["last_key"] == "k12"
    first = decoded_keys(drain(sqs, queue_url))
    assert sorted(first) == [k for k in keys[:20] if k != "k13"]  # k14..k19 did go out

    assert run(aws, tmp_path, state_path=state_path).sent == 12  # k13..k24
    assert sorted(decoded_keys(drain(sqs, queue_url))) == keys[13:]  # k14..k19 twice in all


def test_dry_run_sends_nothing_and_saves_nothing(aws: tuple[Any, Any, str], tmp_path: Path) -> None:
    s3, sqs, queue_url = aws
    put(s3, "a b.png", "c.png", "d/")
    lines: list[str] = []

    summary = run(aws, tmp_path, dry_run=True, report=lines.append)

    assert summary.sent == 2
    assert lines == [
        "would send s3://ocr-input/a b.png (7 bytes)",
        "would send s3://ocr-input/c.png (5 bytes)",
    ]
    assert drain(sqs, queue_url) == []
    assert list(tmp_path.iterdir()) == []


def test_main_local_uses_the_local_topology(
    aws: tuple[Any, Any, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3, sqs, queue_url = aws
    put(s3, *(f"k{n}" for n in range(12)))
    state = tmp_path / "s.json"

    status = backfill.main(["--local", "--rate", "0", "--state", str(state)])

    out = capsys.readouterr().out
    assert status == 0
    assert "complete: listed 12" in out and "sent 12 in 2 batches" in out
    assert len(drain(sqs, queue_url)) == 12
    assert json.loads(state.read_text())["completed"] is True


def test_main_reads_bucket_and_queue_from_the_stack(
    aws: tuple[Any, Any, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3, sqs, queue_url = aws
    put(s3, "x.png")
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    real_client = boto3.client
    monkeypatch.setattr(
        "tools.backfill.boto3.client",
        lambda name, **kw: cloudformation if name == "cloudformation" else real_client(name, **kw),
    )
    outputs = {"InputBucketName": BUCKET, "IngestQueueUrl": queue_url, "DeadLetterQueueUrl": "x"}
    with Stubber(cloudformation) as stubber:
        stubber.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "ocr",
                        "CreationTime": "2024-05-01T12:00:00Z",
                        "StackStatus": "CREATE_COMPLETE",
                        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
                    }
                ]
            },
            {"StackName": "ocr"},
        )
        status = backfill.main(["--stack", "ocr", "--state", str(tmp_path / "s.json")])

    assert status == 0
    assert decoded_keys(drain(sqs, queue_url)) == ["x.png"]


def test_main_refuses_a_foreign_state_file(
    aws: tuple[Any, Any, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "s.json"
    backfill.save_state(state, backfill.State(BUCKET, "other/"))

    assert backfill.main(["--local", "--state", str(state)]) == 2
    assert "other/" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [[], ["--bucket", "b"], ["--stack", "s", "--bucket", "b"], ["--local", "--rate", "-1"]],
)
def test_usage_errors(aws_credentials: None, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        backfill.main(argv)
    assert exit_info.value.code == 2


def test_help_explains_the_rate_and_the_duplicate_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        backfill.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "MaximumConcurrency" in text
    assert "duplicate check" in text
