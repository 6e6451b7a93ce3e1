"""`make up` (tools/local_stack): the deployed topology on loopback, end to end.

One stack serves most tests: moto's S3 and SQS in their own process, the buckets, the queues
with their redrive policy and the notification, and two worker processes running app.py with
the fake engine (a short visibility timeout, so retries come back in seconds). The fan-out,
duplicate, crash and redrive cases go through it as uploads and messages, exactly as deployed.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ocr_service.aws.fanout import PARTS_PREFIX, PageTask
from ocr_service.aws.results import ObjectVersion
from ocr_service.core.formats import ImageFormat
from tests.support.deployment import REPO
from tools.events import s3_test_message, sqs_event
from tools.fake_engine import fake_document_text, fake_text
from tools.local_stack import faults, settings, topology
from tools.local_stack.faults import Faults
from tools.local_stack.poller import describe_body, failed_message_ids, lambda_record
from tools.local_stack.stack import LocalStack, StackOptions
from tools.samples import render_document, render_lines

VISIBILITY_S = 4
PAGES_PER_TASK = 10  # template.yaml's OCR_PAGES_PER_TASK
WAIT_S = 90.0


# --- pieces, without processes ------------------------------------------------------------


def test_the_template_decides_queue_and_mapping_settings_per_engine() -> None:
    aspose, tesseract = (settings.template_values(engine) for engine in settings.ENGINES)

    assert (aspose.timeout_s, aspose.visibility_timeout) == (900, 5400)
    assert (tesseract.timeout_s, tesseract.visibility_timeout) == (300, 1800)
    for values in (aspose, tesseract):
        assert values.visibility_timeout == 6 * values.timeout_s
        assert (values.batch_size, values.max_receive_count) == (1, 3)


def test_records_have_the_shape_lambda_sends() -> None:
    message: Any = {
        "MessageId": "m-1",
        "ReceiptHandle": "r-1",
        "Body": "{}",
        "MD5OfBody": "99914b932bd37a50b983c5e7c90ae93b",
        "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1700000000000"},
        "MessageAttributes": {"origin": {"DataType": "String", "StringValue": "test"}},
    }
    record = lambda_record(message, "arn:aws:sqs:us-east-1:123456789012:ocr-ingest", "us-east-1")
    records = sqs_event(["{}"])["Records"]
    assert isinstance(records, list)
    (reference,) = records

    assert set(record) == set(reference)
    assert record["attributes"]["ApproximateReceiveCount"] == "2"
    assert record["messageAttributes"]["origin"] == {
        "stringValue": "test",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert (record["eventSource"], record["md5OfBody"]) == ("aws:sqs", message["MD5OfBody"])


def test_batch_item_failures_are_read_as_lambda_reads_them() -> None:
    ids = ["a", "b", "c"]

    assert failed_message_ids({"batchItemFailures": []}, None, ids) == set()
    assert failed_message_ids(None, None, ids) == set()
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, None, ids) == {"b"}
    assert failed_message_ids({}, "RuntimeError: boom", ids) == set(ids)  # the handler raised
    unknown = {"batchItemFailures": [{"itemIdentifier": "zzz"}]}
    assert failed_message_ids(unknown, None, ids) == set(ids)
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, None, ids) == set(
        ids
    )


def test_messages_are_described_for_the_console() -> None:
    task = PageTask(ObjectVersion("b", "d/x.tif", "e", None), tuple(range(11, 21)), 1, 3, 30)

    assert describe_body(s3_test_message("ocr-input"))[0] == "test-event"
    assert describe_body(task.body()) == ("page-task", "d/x.tif p11-20")
    assert describe_body("not json")[0] == "other"


# --- the running topology -------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    state = tmp_path_factory.mktemp("local-stack")
    options = StackOptions(
        engine="tesseract",  # its Timeout (300 s) bounds a batch; the engine itself is fake
        workers=2,
        batch_size=10,
        visibility_timeout=VISIBILITY_S,
        max_receive_count=3,
        batch_timeout_s=60,
        port=0,
        state_dir=state,
        fake_engine=True,
        fake_page_seconds=0.02,
        faults_dir=state / "faults",
        wait_seconds=1,
    )
    with LocalStack(options) as running:
        yield running


@pytest.fixture(scope="module")
def s3(stack: LocalStack) -> Any:
    return topology.s3_client(stack.topology.endpoint_url)


@pytest.fixture(scope="module")
def sqs(stack: LocalStack) -> Any:
    return topology.sqs_client(stack.topology.endpoint_url)


@pytest.fixture
def armed(stack: LocalStack) -> Faults:
    assert stack.options.faults_dir is not None
    return Faults(stack.options.faults_dir)


def wait_for(condition: Callable[[], Any], timeout_s: float = WAIT_S, what: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what or condition}")


def output_keys(s3: Any, prefix: str = "") -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=settings.OUTPUT_BUCKET, Prefix=prefix
    )
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def result(s3: Any, key: str) -> tuple[str, dict[str, str]] | None:
    try:
        response = s3.get_object(Bucket=settings.OUTPUT_BUCKET, Key=key + ".txt")
    except s3.exceptions.NoSuchKey:
        return None
    return response["Body"].read().decode("utf-8"), response["Metadata"]


def upload(s3: Any, key: str, body: bytes) -> str:
    etag: str = s3.put_object(Bucket=settings.INPUT_BUCKET, Key=key, Body=body)["ETag"]
    return etag.strip('"')


def recognitions(stack: LocalStack, key: str) -> int:
    """How many times the function wrote a result for `key` (its "object recognized" lines)."""
    return sum(
        1
        for record in stack.function_log_records()
        if record.get("message") == "object recognized" and record.get("key") == key
    )


def batches_with(stack: LocalStack, text: str) -> list[tuple[Any, str, bool, int]]:
    """(batch, description, failed, receive count) for every delivery whose description has
    `text`."""
    found = []
    for batch in list(stack.journal.batches):
        for message_id, description, count in zip(
            batch.message_ids, batch.descriptions, batch.receive_counts, strict=True
        ):
            if text in description:
                found.append((batch, description, message_id in batch.failed, count))
    return found


def dead_letters(sqs: Any, stack: LocalStack) -> int:
    visible, in_flight = topology.queue_depth(sqs, stack.topology.dead_letter_url)
    return visible + in_flight


def test_uploads_become_results_and_the_test_event_is_acknowledged(
    stack: LocalStack, s3: Any, sqs: Any
) -> None:
    images = {
        "scans/plain.png": render_lines(("plain upload",), width=300, font_size=18),
        "scans/my scan (1).png": render_lines(("spaces",), width=300, font_size=18),
        "scans/счёт № 7 a+b.png": render_lines(("unicode",), width=300, font_size=18),
    }
    for key, body in images.items():
        upload(s3, key, body)

    for key, body in images.items():
        text, metadata = wait_for(functools.partial(result, s3, key), what=key)
        assert text == fake_text(body, ImageFormat.PNG)
        assert metadata["source-etag"] == s3.head_object(Bucket="ocr-input", Key=key)["ETag"][1:-1]
    # S3's s3:TestEvent came first, and was answered with no failure
    tests = [b for b in stack.journal.batches if "test-event" in b.kinds]
    assert tests and tests[0].batch_id == 1 and not tests[0].failed and tests[0].error is None
    assert not [key for key in output_keys(s3) if key.endswith(".error.json")]
    assert dead_letters(sqs, stack) == 0


def test_a_transient_failure_retries_its_record_alone(
    stack: LocalStack, s3: Any, armed: Faults
) -> None:
    keys = [f"partial/{name}.png" for name in ("first", "flaky", "last")]
    armed.arm(faults.GET_FAIL, faults.key_tag(keys[1]))  # its first GetObject fails
    with stack.paused():  # the three notifications wait in the queue: one batch takes them
        for key in keys:
            upload(s3, key, render_lines((key,), width=300, font_size=18))

    for key in keys:
        wait_for(functools.partial(result, s3, key), what=key)
    first, flaky, last = (batches_with(stack, key) for key in keys)
    # the others were delivered once and deleted; the flaky one failed, alone, then succeeded
    assert [(failed, count) for _, _, failed, count in first] == [(False, 1)]
    assert [(failed, count) for _, _, failed, count in last] == [(False, 1)]
    assert [(failed, count) for _, _, failed, count in flaky] == [(True, 1), (False, 2)]
    batch = flaky[0][0]
    assert len(batch.message_ids) == 3 and len(batch.failed) == 1 and batch.succeeded == 2
    assert armed.armed() == []


def test_poison_and_failing_messages_reach_the_dlq_and_a_redrive_brings_an_upload_back(
    stack: LocalStack, s3: Any, sqs: Any, armed: Faults
) -> None:
    key = "dlq/comes-back.png"
    body = render_lines((key,), width=300, font_size=18)
    armed.arm(faults.GET_FAIL, faults.key_tag(key), times=3)  # fails maxReceiveCount times
    sqs.send_message(QueueUrl=stack.topology.queue_url, MessageBody="not json {")
    upload(s3, key, body)

    wait_for(lambda: dead_letters(sqs, stack) == 2, what="two messages in the DLQ")
    poison = batches_with(stack, "not JSON")
    assert [(failed, count) for _, _, failed, count in poison] == [(True, 1), (True, 2), (True, 3)]
    assert [count for _, _, _, count in batches_with(stack, key)] == [1, 2, 3]
    assert result(s3, key) is None and not output_keys(s3, key)  # no result, no failure record

    # take the poison message out; the upload's notification stays for the redrive
    in_dlq: list[Any] = []
    while len(in_dlq) < 2:
        in_dlq += sqs.receive_message(
            QueueUrl=stack.topology.dead_letter_url, MaxNumberOfMessages=10, VisibilityTimeout=30
        ).get("Messages", [])
    assert "not json {" in {message["Body"] for message in in_dlq}
    for message in in_dlq:
        if message["Body"] == "not json {":
            sqs.delete_message(
                QueueUrl=stack.topology.dead_letter_url, ReceiptHandle=message["ReceiptHandle"]
            )
        else:
            assert json.loads(message["Body"])["Records"][0]["eventSource"] == "aws:s3"
            sqs.change_message_visibility(
                QueueUrl=stack.topology.dead_letter_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=0,
            )
    redrive = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.redrive",
            "--local",
            "--source-url",
            stack.topology.dead_letter_url,
            "--destination-url",
            stack.topology.queue_url,
            "--idle-timeout",
            "2",
        ],
        cwd=REPO,
        env={**os.environ, **local_aws(stack)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert redrive.returncode == 0, redrive.stdout + redrive.stderr
    assert "moved 1" in redrive.stdout
    text, _ = wait_for(lambda: result(s3, key), what="the redriven upload's result")
    assert text == fake_text(body, ImageFormat.PNG)
    assert dead_letters(sqs, stack) == 0


def local_aws(stack: LocalStack) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": stack.topology.endpoint_url,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def assert_assembled_once(
    stack: LocalStack, s3: Any, key: str, document: bytes, image_format: ImageFormat
) -> None:
    text, metadata = wait_for(lambda: result(s3, key), what=key)
    assert text == fake_document_text(document, image_format, 30)
    assert len(text.split("\f")) == 30 and metadata["page-count"] == "30"
    assert stack.wait_idle(WAIT_S)
    assert recognitions(stack, key) == 1
    assert not output_keys(s3, key + ".error")


def page_task(key: str, etag: str, first: int) -> str:
    source = ObjectVersion(settings.INPUT_BUCKET, key, etag, None)
    pages = tuple(range(first, first + PAGES_PER_TASK))
    return PageTask(source, pages, first // PAGES_PER_TASK, 30 // PAGES_PER_TASK, 30).body()


def test_long_documents_fan_out_and_are_assembled_once_even_with_duplicate_tasks(
    stack: LocalStack, s3: Any, sqs: Any
) -> None:
    tiff, pdf = render_document(30, "TIFF"), render_document(30, "PDF")
    tiff_etag = upload(s3, "long/report.tif", tiff)
    # a task delivered twice: once now (alongside the original), once after the assembly
    sqs.send_message(
        QueueUrl=stack.topology.queue_url, MessageBody=page_task("long/report.tif", tiff_etag, 11)
    )
    upload(s3, "long/report.pdf", pdf)

    assert_assembled_once(stack, s3, "long/report.tif", tiff, ImageFormat.TIFF)
    assert_assembled_once(stack, s3, "long/report.pdf", pdf, ImageFormat.PDF)
    late = page_task("long/report.tif", tiff_etag, 1)
    sqs.send_message(QueueUrl=stack.topology.queue_url, MessageBody=late)
    assert stack.wait_idle(WAIT_S)
    assert recognitions(stack, "long/report.tif") == 1
    assert output_keys(s3, PARTS_PREFIX) == []
    tasks = [d for _, d, _, _ in batches_with(stack, "long/report.tif p")]
    assert sorted(tasks) == sorted(
        [f"long/report.tif p{first}-{first + 9}" for first in (1, 11, 21)]
        + ["long/report.tif p11-20", "long/report.tif p1-10"]
    )


def test_a_worker_killed_mid_task_is_replaced_and_its_task_comes_back(
    stack: LocalStack, s3: Any, armed: Faults
) -> None:
    document = render_document(30, "TIFF")
    armed.arm(faults.HANG, faults.data_tag(document, 11))
    upload(s3, "crash/report.tif", document)
    (pid,) = wait_for(armed.hanging_pids, what="a worker recognizing pages 11-20")
    assert pid in stack.worker_pids()

    os.kill(pid, signal.SIGKILL)

    assert_assembled_once(stack, s3, "crash/report.tif", document, ImageFormat.TIFF)
    pids = wait_for(lambda: len(now := stack.worker_pids()) == 2 and now, what="a new worker")
    assert pid not in pids
    deliveries = batches_with(stack, "crash/report.tif p11-20")
    assert [(failed, count) for _, _, failed, count in deliveries] == [(True, 1), (False, 2)]
    assert "died (killed by SIGKILL)" in str(deliveries[0][0].error)
    assert output_keys(s3, PARTS_PREFIX) == []


def test_a_newer_upload_during_a_fan_out_wins(stack: LocalStack, s3: Any) -> None:
    key = "race/report.tif"
    upload(s3, key, render_document(30, "TIFF"))
    wait_for(lambda: batches_with(stack, f"{key} p"), what="the first page task")
    newer = render_lines(("the newer content",), width=300, font_size=18)
    etag = upload(s3, key, newer)

    assert stack.wait_idle(WAIT_S)
    text, metadata = wait_for(lambda: result(s3, key), what=key)
    assert text == fake_text(newer, ImageFormat.PNG)
    assert metadata["source-etag"] == etag
    assert not output_keys(s3, key + ".error")


# --- the command ------------------------------------------------------------------------------


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_the_command_serves_uploads_and_stops_cleanly(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    command = [sys.executable, "-m", "tools.local_stack", "--fake-engine", "--port", "0"]
    command += ["--workers", "1", "--state-dir", str(tmp_path), "--wait-seconds", "1"]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    try:
        lines: list[str] = []
        while not lines or not lines[-1].startswith("ready:"):
            line = process.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        url = lines[-1].split("endpoint ")[1].strip()
        s3 = topology.s3_client(url)
        image = render_lines(("command line",), width=300, font_size=18)
        s3.put_object(Bucket="ocr-input", Key="scans/scan.png", Body=image)
        text, _ = wait_for(lambda: result(s3, "scans/scan.png"), timeout_s=60)
        assert text == fake_text(image, ImageFormat.PNG)

        process.send_signal(stop_signal)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 0, output
    assert "stopped" in output and "batch 2 [worker-1]: 1 messages (1 upload)" in output
    host, port = url.removeprefix("http://").split(":")
    with pytest.raises(ConnectionRefusedError):  # the server is gone with it
        socket.create_connection((host, int(port)), timeout=5).close()
    assert '"message":"object recognized"' in (tmp_path / "function.log").read_text()


# --- a real engine ----------------------------------------------------------------------------


@pytest.mark.engine
def test_tesseract_reads_every_page_of_a_long_tiff_through_the_topology(tmp_path: Path) -> None:
    options = StackOptions(
        engine="tesseract", workers=2, visibility_timeout=120, port=0, state_dir=tmp_path
    )
    document = render_document(30, "TIFF")
    with LocalStack(options) as running:
        s3 = topology.s3_client(running.topology.endpoint_url)
        upload(s3, "long/real.tif", document)
        text, metadata = wait_for(lambda: result(s3, "long/real.tif"), timeout_s=600)
        assert running.wait_idle(60)
        parts = output_keys(s3, PARTS_PREFIX)

    pages = text.split("\f")
    assert len(pages) == 30 and metadata["page-count"] == "30"
    for number, page in enumerate(pages, 1):
        assert f"Page {number} of the long report" in page
    assert parts == []
