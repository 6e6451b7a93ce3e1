"""`make reprocess`: objects whose failures healed are enqueued again and then recognized;
failures inherent to the bytes stay final (moto S3 and SQS, the fake engine)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from ocr_service.aws.event_shapes import refs_from_notification
from ocr_service.aws.invocation import EventRouter
from ocr_service.aws.pipeline import OcrPipeline
from ocr_service.aws.storage import S3ObjectStore
from ocr_service.core.config import DEFAULT_LIMITS
from ocr_service.core.failures import Reason
from ocr_service.engines.port import MissingModelError
from ocr_service.recognition.recognizer import DocumentRecognizer
from tests.support.deployment import INPUT_BUCKET, OUTPUT_BUCKET, lambda_context
from tests.support.samples import PNG
from tools.backfill import Pacer, Sender
from tools.events import Upload, encode_key, s3_put_event, sqs_event
from tools.fake_engine import FakeEngine
from tools.reprocess import HEALING, main, reprocess

KEYS = {"ru/письмо 1+1.png": PNG, "empty.png": b"", "ok.png": PNG}


@pytest.fixture
def queue_url(s3: Any) -> str:
    return str(boto3.client("sqs").create_queue(QueueName="ocr-ingest")["QueueUrl"])


def received(queue_url: str) -> list[str]:
    sqs = boto3.client("sqs")
    bodies: list[str] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        bodies += [message["Body"] for message in messages]
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def failing_run(s3: Any, engine: FakeEngine) -> OcrPipeline:
    """Every key uploaded and processed once, the Russian page without its model."""

    def no_cyrillic_model(_: str) -> None:
        if engine.requested_languages[-1] == "RUS":
            raise MissingModelError("RUS needs the model 'cyrillic'", "cyrillic")

    engine.during_recognition = no_cyrillic_model
    pipeline = OcrPipeline(
        DocumentRecognizer(engine, DEFAULT_LIMITS), S3ObjectStore(s3), OUTPUT_BUCKET
    )
    for key, body in KEYS.items():
        metadata = {"ocr-language": "ru"} if key.startswith("ru/") else {}
        put = s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body, Metadata=metadata)
        upload = Upload(INPUT_BUCKET, encode_key(key), len(body), put["ETag"].strip('"'))
        pipeline.process_refs(refs_from_notification(s3_put_event([upload])))
    return pipeline


def test_only_failures_that_heal_are_enqueued_by_default(
    s3: Any, fake_engine: FakeEngine, queue_url: str
) -> None:
    failing_run(s3, fake_engine)
    sender = Sender(boto3.client("sqs"), queue_url)

    no_pause = Pacer(0, lambda: 0.0, lambda _: None)
    enqueued, unsent = reprocess(
        s3, sender, OUTPUT_BUCKET, prefix="", reasons=frozenset(HEALING), pacer=no_pause
    )

    assert (enqueued, unsent) == (1, 0)
    [body] = received(queue_url)
    [ref] = refs_from_notification(json.loads(body))
    assert (ref.bucket, ref.key) == (INPUT_BUCKET, "ru/письмо 1+1.png")


def test_a_reprocessed_object_is_recognized_once_the_model_is_there(
    s3: Any, fake_engine: FakeEngine, queue_url: str
) -> None:
    pipeline = failing_run(s3, fake_engine)
    assert main(["--local", "--bucket", OUTPUT_BUCKET, "--rate", "0"]) == 0
    fake_engine.during_recognition = None  # the operator bundled the model

    response = EventRouter(pipeline).handle(sqs_event(received(queue_url)), lambda_context())

    assert response == {"batchItemFailures": []}
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=OUTPUT_BUCKET)["Contents"]}
    assert listed == {"ru/письмо 1+1.png.txt", "empty.png.error.json", "ok.png.txt"}


def test_naming_a_final_reason_enqueues_but_the_function_skips_it(
    s3: Any, fake_engine: FakeEngine, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline = failing_run(s3, fake_engine)
    arguments = ["--local", "--bucket", OUTPUT_BUCKET, "--rate", "0"]
    assert main([*arguments, "--reason", Reason.EMPTY_OBJECT.value]) == 0
    assert "final results" in capsys.readouterr().err

    response = EventRouter(pipeline).handle(sqs_event(received(queue_url)), lambda_context())

    assert response == {"batchItemFailures": []}
    head = s3.head_object(Bucket=OUTPUT_BUCKET, Key="empty.png.error.json")
    assert head["Metadata"]["failure-final"] == "true"
