"""The per-record pipeline against an in-process S3 with a fake engine."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import pytest
from aws_lambda_powertools.utilities.data_classes import S3Event
from botocore.exceptions import ClientError

from conftest import CORRUPT_PNG, INPUT_BUCKET, OUTPUT_BUCKET, REPO, FakeEngine
from ocr_service.pipeline import OcrPipeline, output_key_for
from ocr_service.storage import TEXT_CONTENT_TYPE, S3ObjectStore
from tools.events import SAMPLE_EVENTS, Upload, encode_key, s3_put_event

PNG = b"\x89PNG\r\n\x1a\n" + b"fake image body"


def make_pipeline(s3: Any, engine: FakeEngine) -> OcrPipeline:
    return OcrPipeline(engine, S3ObjectStore(s3), OUTPUT_BUCKET)


def event_for(*keys: str, bucket: str = INPUT_BUCKET, **extra: Any) -> S3Event:
    return S3Event(s3_put_event([Upload(bucket, encode_key(key), **extra) for key in keys]))


def test_writes_utf8_text_with_source_metadata(s3: Any, fake_engine: FakeEngine) -> None:
    put = s3.put_object(Bucket=INPUT_BUCKET, Key="a/scan.png", Body=PNG)

    result = make_pipeline(s3, fake_engine).process_event(event_for("a/scan.png"))

    assert [s.output_key for s in result.succeeded] == ["a/scan.png.txt"]
    assert result.failed == []
    written = s3.get_object(Bucket=OUTPUT_BUCKET, Key="a/scan.png.txt")
    assert written["ContentType"] == TEXT_CONTENT_TYPE == "text/plain; charset=utf-8"
    assert written["Body"].read().decode("utf-8") == (
        f"recognized {len(PNG)} bytes of png: ünïcödé ✓"
    )
    assert written["Metadata"] == {
        "source-bucket": INPUT_BUCKET,
        "source-key": "a/scan.png",
        "source-etag": put["ETag"].strip('"'),
        "source-version-id": "null",
        "engine-version": "0.0-fake",
        "engine-licensed": "false",
        "page-count": "1",
    }


def test_every_record_is_handled(s3: Any, fake_engine: FakeEngine) -> None:
    keys = ["one.png", "two.png", "three.png"]
    for key in keys:
        s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=PNG + key.encode())

    result = make_pipeline(s3, fake_engine).process_event(event_for(*keys))

    assert [s.key for s in result.succeeded] == keys
    listed = s3.list_objects_v2(Bucket=OUTPUT_BUCKET)["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted(k + ".txt" for k in keys)


@pytest.mark.parametrize("event_file", sorted(SAMPLE_EVENTS))
def test_sample_events_decode_to_the_uploaded_keys(
    s3: Any, fake_engine: FakeEngine, event_file: str
) -> None:
    raw = json.loads((REPO / "events" / event_file).read_text(encoding="utf-8"))
    decoded = {
        "scans/invoice-4821.png",
        "scans/my scan 2024.png",
        "scans/счёт № 7 (c++).png",
        "scans/page-1.png",
        "scans/page-2.png",
    }
    for record in raw["Records"]:
        record["s3"]["bucket"]["name"] = INPUT_BUCKET
    for key in decoded:
        s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=PNG)

    result = make_pipeline(s3, fake_engine).process_event(S3Event(raw))

    assert result.failed == []
    assert len(result.succeeded) == len(raw["Records"])
    for done in result.succeeded:
        assert done.key in decoded
        assert s3.head_object(Bucket=OUTPUT_BUCKET, Key=done.key + ".txt")


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("my+scan.png", "my scan.png"),
        ("my%20scan.png", "my scan.png"),
        ("c%2B%2B.png", "c++.png"),
        ("%D1%81%D1%87%D1%91%D1%82.png", "счёт.png"),
        ("a%2Fb/c.png", "a/b/c.png"),
    ],
)
def test_keys_are_url_decoded(s3: Any, fake_engine: FakeEngine, encoded: str, decoded: str) -> None:
    s3.put_object(Bucket=INPUT_BUCKET, Key=decoded, Body=PNG)
    event = S3Event(s3_put_event([Upload(INPUT_BUCKET, encoded)]))

    result = make_pipeline(s3, fake_engine).process_event(event)

    assert [s.output_key for s in result.succeeded] == [decoded + ".txt"]


def test_non_ascii_key_is_percent_encoded_in_metadata(s3: Any, fake_engine: FakeEngine) -> None:
    key = "счёт № 7.png"
    s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=PNG)

    make_pipeline(s3, fake_engine).process_event(event_for(key))

    metadata = s3.head_object(Bucket=OUTPUT_BUCKET, Key=key + ".txt")["Metadata"]
    assert metadata["source-key"] == "%D1%81%D1%87%D1%91%D1%82%20%E2%84%96%207.png"


def test_bad_records_fail_clearly_and_spare_the_others(s3: Any, fake_engine: FakeEngine) -> None:
    s3.put_object(Bucket=INPUT_BUCKET, Key="empty.png", Body=b"")
    s3.put_object(Bucket=INPUT_BUCKET, Key="notes.png", Body=b"just some text, not a PNG")
    s3.put_object(Bucket=INPUT_BUCKET, Key="photo.webp", Body=b"RIFF\x10\x00\x00\x00WEBPVP8 ")
    s3.put_object(Bucket=INPUT_BUCKET, Key="corrupt.png", Body=CORRUPT_PNG)
    s3.put_object(Bucket=INPUT_BUCKET, Key="good.png", Body=PNG)
    keys = ["missing.png", "empty.png", "notes.png", "photo.webp", "corrupt.png", "good.png"]

    result = make_pipeline(s3, fake_engine).process_event(event_for(*keys))

    assert [s.key for s in result.succeeded] == ["good.png"]
    reasons = {f.key: f.reason for f in result.failed}
    assert reasons == {
        "missing.png": "object-missing",
        "empty.png": "empty-object",
        "notes.png": "unsupported-format",
        "photo.webp": "unsupported-format",
        "corrupt.png": "unreadable-image",
    }
    messages = {f.key: f.message for f in result.failed}
    assert "WEBP" in messages["photo.webp"]
    assert "0 bytes" in messages["empty.png"]
    assert "missing.png" in messages["missing.png"]
    assert not any(f.retryable for f in result.failed)
    # Only images that passed the checks reached the engine.
    assert fake_engine.calls == [CORRUPT_PNG, PNG]
    outputs = [o["Key"] for o in s3.list_objects_v2(Bucket=OUTPUT_BUCKET)["Contents"]]
    assert outputs == ["good.png.txt"]


def test_reads_the_version_that_triggered_the_event(s3: Any, fake_engine: FakeEngine) -> None:
    s3.put_bucket_versioning(Bucket=INPUT_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=INPUT_BUCKET, Key="doc.png", Body=PNG)
    s3.put_object(Bucket=INPUT_BUCKET, Key="doc.png", Body=b"overwritten by text")

    result = make_pipeline(s3, fake_engine).process_event(
        event_for("doc.png", version_id=first["VersionId"])
    )

    assert [s.version_id for s in result.succeeded] == [first["VersionId"]]
    metadata = s3.head_object(Bucket=OUTPUT_BUCKET, Key="doc.png.txt")["Metadata"]
    assert metadata["source-version-id"] == first["VersionId"]


def test_refuses_objects_in_the_output_bucket(s3: Any, fake_engine: FakeEngine) -> None:
    s3.put_object(Bucket=OUTPUT_BUCKET, Key="x.png", Body=PNG)

    result = make_pipeline(s3, fake_engine).process_event(event_for("x.png", bucket=OUTPUT_BUCKET))

    assert [f.reason for f in result.failed] == ["output-is-input"]
    assert fake_engine.calls == []


def test_ignores_events_that_are_not_uploads(s3: Any, fake_engine: FakeEngine) -> None:
    raw = s3_put_event([Upload(INPUT_BUCKET, "gone.png")])
    raw["Records"][0]["eventName"] = "ObjectRemoved:Delete"  # type: ignore[index]

    result = make_pipeline(s3, fake_engine).process_event(S3Event(raw))

    assert [f.reason for f in result.failed] == ["not-an-upload"]


def test_key_whose_result_key_would_be_too_long_fails(s3: Any, fake_engine: FakeEngine) -> None:
    key = "k" * 1022  # fine for S3, but key + ".txt" is 1026 bytes
    s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=PNG)

    result = make_pipeline(s3, fake_engine).process_event(event_for(key))

    assert [f.reason for f in result.failed] == ["key-too-long"]


def test_transient_storage_errors_are_retryable_and_spare_the_others(
    s3: Any, fake_engine: FakeEngine
) -> None:
    s3.put_object(Bucket=INPUT_BUCKET, Key="good.png", Body=PNG)
    s3.put_object(Bucket=INPUT_BUCKET, Key="throttled.png", Body=PNG)
    store = S3ObjectStore(s3)
    real_get = store.get_object

    def flaky_get(bucket: str, key: str, version_id: str | None) -> Any:
        if key == "throttled.png":
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow"}}, "GetObject")
        return real_get(bucket, key, version_id)

    with mock.patch.object(store, "get_object", side_effect=flaky_get):
        result = OcrPipeline(fake_engine, store, OUTPUT_BUCKET).process_event(
            event_for("throttled.png", "good.png")
        )

    assert [s.key for s in result.succeeded] == ["good.png"]
    assert [(f.key, f.reason, f.retryable) for f in result.failed] == [
        ("throttled.png", "storage-error", True)
    ]


def test_output_key_keeps_the_whole_input_key() -> None:
    assert output_key_for("a/scan.png") == "a/scan.png.txt"
    assert output_key_for("a/scan.jpg") != output_key_for("a/scan.png")
