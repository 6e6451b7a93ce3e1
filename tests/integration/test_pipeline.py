"""The per-record pipeline against an in-process S3 with a fake engine."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError
from PIL import Image

from ocr_service.aws.event_shapes import refs_from_notification
from ocr_service.aws.outcomes import Skip
from ocr_service.aws.pipeline import OcrPipeline
from ocr_service.aws.results import long_key_error_key, result_keys
from ocr_service.aws.storage import JSON_CONTENT_TYPE, TEXT_CONTENT_TYPE, S3ObjectStore
from ocr_service.core.config import DEFAULT_LIMITS, Limits
from ocr_service.core.failures import Reason
from ocr_service.core.formats import ImageFormat
from ocr_service.core.languages import LanguagePolicy
from ocr_service.engines.port import MissingModelError
from ocr_service.recognition.recognizer import DocumentRecognizer
from tests.support.deployment import INPUT_BUCKET, OUTPUT_BUCKET, PARENT_LOGGER, REPO
from tests.support.samples import CORRUPT_PNG, PNG, render_pages
from tests.support.uploads import event_of, output_keys, upload
from tools.events import SAMPLE_EVENTS, Upload, s3_put_event
from tools.fake_engine import FakeEngine, fake_text, seen
from tools.samples import render_lines


def make_pipeline(s3: Any, engine: FakeEngine, limits: Limits = DEFAULT_LIMITS) -> OcrPipeline:
    return OcrPipeline(DocumentRecognizer(engine, limits), S3ObjectStore(s3), OUTPUT_BUCKET)


def read_json(s3: Any, key: str) -> dict[str, Any]:
    response = s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)
    assert response["ContentType"] == JSON_CONTENT_TYPE
    document: dict[str, Any] = json.loads(response["Body"].read())
    return document


def test_writes_utf8_text_with_source_metadata(s3: Any, fake_engine: FakeEngine) -> None:
    uploaded = upload(s3, "a/scan.png", PNG)

    result = make_pipeline(s3, fake_engine).process_refs(event_of(uploaded))

    assert [s.output_key for s in result.succeeded] == ["a/scan.png.txt"]
    assert result.failed == []
    written = s3.get_object(Bucket=OUTPUT_BUCKET, Key="a/scan.png.txt")
    assert written["ContentType"] == TEXT_CONTENT_TYPE == "text/plain; charset=utf-8"
    assert written["Body"].read().decode("utf-8") == (fake_text(PNG, ImageFormat.PNG))
    assert written["Metadata"] == {
        "source-bucket": INPUT_BUCKET,
        "source-key": "a/scan.png",
        "source-etag": uploaded.etag,
        "source-version-id": "null",
        "ocr-engine": "fake",
        "engine-version": "0.0-fake",
        "engine-licensed": "false",
        "page-count": "1",
        "ocr-language": "LATIN",
        "text-layer-pages": "0",
        "ocr-pages": "1",
    }


def test_every_record_is_handled(s3: Any, fake_engine: FakeEngine) -> None:
    keys = ["one.png", "two.png", "three.png"]
    uploads = [upload(s3, key, render_lines((key,), width=200)) for key in keys]

    result = make_pipeline(s3, fake_engine).process_refs(event_of(*uploads))

    assert [s.key for s in result.succeeded] == keys
    assert output_keys(s3) == sorted(k + ".txt" for k in keys)


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

    result = make_pipeline(s3, fake_engine).process_refs(refs_from_notification(raw))

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
    event = refs_from_notification(s3_put_event([Upload(INPUT_BUCKET, encoded)]))

    result = make_pipeline(s3, fake_engine).process_refs(event)

    assert [s.output_key for s in result.succeeded] == [decoded + ".txt"]


def test_non_ascii_key_is_percent_encoded_in_metadata(s3: Any, fake_engine: FakeEngine) -> None:
    key = "счёт № 7.png"

    make_pipeline(s3, fake_engine).process_refs(event_of(upload(s3, key, PNG)))

    metadata = s3.head_object(Bucket=OUTPUT_BUCKET, Key=key + ".txt")["Metadata"]
    assert metadata["source-key"] == "%D1%81%D1%87%D1%91%D1%82%20%E2%84%96%207.png"


def one_pixel_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (1, 1), 255).save(buffer, "PNG")
    return buffer.getvalue()


def huge_png(side: int) -> bytes:
    """A blank square that is tiny on disk: the decompression bomb the limits stop."""
    buffer = io.BytesIO()
    Image.new("1", (side, side), 1).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


BAD_INPUTS: dict[str, tuple[bytes, str]] = {
    "empty.png": (b"", "empty-object"),
    "notes.png": (b"just some text, not a PNG", "unsupported-format"),
    "photo.webp": (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "truncated-image"),
    "corrupt.png": (CORRUPT_PNG, "unreadable-image"),
    "truncated.png": (PNG[: len(PNG) // 2], "truncated-image"),
    "dot.png": (one_pixel_png(), "image-too-small"),
    "lying.tif": (b"II*\x00" + PNG, "corrupt-image"),
    "bomb.png": (huge_png(9000), "too-many-pixels"),
}


def test_bad_records_get_failure_records_and_spare_the_others(
    s3: Any, fake_engine: FakeEngine
) -> None:
    uploads = [upload(s3, key, body) for key, (body, _) in BAD_INPUTS.items()]
    uploads.append(upload(s3, "good.png", PNG))
    missing = Upload(INPUT_BUCKET, "missing.png")
    limits = Limits(max_object_bytes=10**6, max_pixels=50_000_000, max_pages=5)

    result = make_pipeline(s3, fake_engine, limits).process_refs(event_of(missing, *uploads))

    assert [s.key for s in result.succeeded] == ["good.png"]
    expected = {key: reason for key, (_, reason) in BAD_INPUTS.items()}
    expected["missing.png"] = "object-missing"
    assert {f.key: f.reason for f in result.failed} == expected
    assert not any(f.retryable for f in result.failed)
    # Only inputs that passed every check reached the engine.
    assert fake_engine.calls == seen(CORRUPT_PNG, PNG)
    assert output_keys(s3) == sorted(["good.png.txt", *(key + ".error.json" for key in expected)])
    assert "OCR_MAX_PIXELS" in read_json(s3, "bomb.png.error.json")["message"]


def test_failure_record_says_what_why_and_which_version(s3: Any, fake_engine: FakeEngine) -> None:
    uploaded = upload(s3, "in/empty.png", b"")

    result = make_pipeline(s3, fake_engine).process_refs(event_of(uploaded))

    assert [f.record_key for f in result.failed] == ["in/empty.png.error.json"]
    record = read_json(s3, "in/empty.png.error.json")
    assert record.pop("time").endswith("+00:00")
    assert record == {
        "reason": "empty-object",
        "message": "the object is empty (0 bytes)",
        "retryable": False,
        "source": {
            "bucket": INPUT_BUCKET,
            "key": "in/empty.png",
            "etag": uploaded.etag,
            "version_id": None,
        },
        "ocr_engine": "fake",
        "engine_version": "0.0-fake",
    }
    metadata = s3.head_object(Bucket=OUTPUT_BUCKET, Key="in/empty.png.error.json")["Metadata"]
    assert metadata["failure-reason"] == "empty-object"
    assert (metadata["ocr-engine"], metadata["engine-version"]) == ("fake", "0.0-fake")
    assert metadata["source-etag"] == uploaded.etag


@pytest.mark.parametrize(
    ("limits", "body", "reason"),
    [
        (Limits(100, 10**9, 50), PNG, "too-large"),
        (Limits(10**9, 1000, 50), PNG, "too-many-pixels"),
        (Limits(10**9, 10**9, 2), render_pages([("a",), ("b",), ("c",)]), "too-many-pages"),
        (
            Limits(10**9, 10**9, 2),
            render_pages([("a",), ("b",), ("c",)], image_format="PDF"),
            "too-many-pages",
        ),
    ],
)
def test_limits_are_checked_before_the_engine(
    s3: Any, fake_engine: FakeEngine, limits: Limits, body: bytes, reason: str
) -> None:
    result = make_pipeline(s3, fake_engine, limits).process_refs(
        event_of(upload(s3, "x.bin", body))
    )

    assert [f.reason for f in result.failed] == [reason]
    assert fake_engine.calls == []


def test_reads_the_version_that_triggered_the_event(s3: Any, fake_engine: FakeEngine) -> None:
    s3.put_bucket_versioning(Bucket=INPUT_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    first = upload(s3, "doc.png", PNG)
    s3.put_object(Bucket=INPUT_BUCKET, Key="doc.png", Body=b"overwritten by text")

    result = make_pipeline(s3, fake_engine).process_refs(event_of(first))

    # The object moved on after this version: the newer upload's own event owns the result.
    assert [(s.version_id, s.reason) for s in result.skipped] == [(first.version_id, "superseded")]
    assert fake_engine.calls == seen(PNG)  # the triggering version was read, not the latest
    assert output_keys(s3) == []


def test_refuses_objects_in_the_output_bucket(s3: Any, fake_engine: FakeEngine) -> None:
    s3.put_object(Bucket=OUTPUT_BUCKET, Key="x.png", Body=PNG)

    result = make_pipeline(s3, fake_engine).process_refs(event_of(Upload(OUTPUT_BUCKET, "x.png")))

    assert [f.reason for f in result.failed] == ["output-is-input"]
    assert fake_engine.calls == []
    assert output_keys(s3) == ["x.png"]


def test_skips_events_that_are_not_uploads(s3: Any, fake_engine: FakeEngine) -> None:
    raw = s3_put_event([Upload(INPUT_BUCKET, "gone.png")])
    raw["Records"][0]["eventName"] = "ObjectRemoved:Delete"  # type: ignore[index]

    result = make_pipeline(s3, fake_engine).process_refs(refs_from_notification(raw))

    # A deletion is nothing to recognize and nothing went wrong: skipped, not failed.
    assert [s.reason for s in result.skipped] == ["not-an-upload"]
    assert result.failed == []
    assert output_keys(s3) == []


def test_over_long_key_gets_a_failure_record_under_its_hash(
    s3: Any, fake_engine: FakeEngine
) -> None:
    key = "k" * 1020  # fine for S3, but key + ".error.json" is not
    assert result_keys(key) is None

    result = make_pipeline(s3, fake_engine).process_refs(event_of(upload(s3, key, PNG)))

    assert [f.reason for f in result.failed] == ["key-too-long"]
    assert output_keys(s3) == [long_key_error_key(key)]
    assert read_json(s3, long_key_error_key(key))["source"]["key"] == key


def test_transient_storage_errors_are_retryable_and_spare_the_others(
    s3: Any, fake_engine: FakeEngine
) -> None:
    good, throttled = upload(s3, "good.png", PNG), upload(s3, "throttled.png", PNG)
    store = S3ObjectStore(s3)
    real_get = store.get_object

    def flaky_get(bucket: str, key: str, version_id: str | None, max_bytes: int) -> Any:
        if key == "throttled.png":
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow"}}, "GetObject")
        return real_get(bucket, key, version_id, max_bytes)

    with mock.patch.object(store, "get_object", side_effect=flaky_get):
        result = OcrPipeline(
            DocumentRecognizer(fake_engine, DEFAULT_LIMITS), store, OUTPUT_BUCKET
        ).process_refs(event_of(throttled, good))

    assert [s.key for s in result.succeeded] == ["good.png"]
    assert [(f.key, f.reason, f.retryable) for f in result.failed] == [
        ("throttled.png", "storage-error", True)
    ]
    assert output_keys(s3) == ["good.png.txt"]  # nothing written for the retried record


def test_redelivery_of_the_same_version_does_no_work(s3: Any, fake_engine: FakeEngine) -> None:
    event = event_of(upload(s3, "a.png", PNG), upload(s3, "bad.png", b""))
    pipeline = make_pipeline(s3, fake_engine)

    first = pipeline.process_refs(event)
    second = pipeline.process_refs(event)

    assert [s.key for s in first.succeeded] == ["a.png"]
    assert [f.key for f in first.failed] == ["bad.png"]
    assert [(s.key, s.reason) for s in second.skipped] == [
        ("a.png", "duplicate"),
        ("bad.png", "duplicate"),
    ]
    assert fake_engine.calls == seen(PNG)
    assert output_keys(s3) == ["a.png.txt", "bad.png.error.json"]


def test_concurrent_duplicates_leave_one_whole_result(s3: Any, fake_engine: FakeEngine) -> None:
    event = event_of(upload(s3, "a.png", PNG))
    pipeline = make_pipeline(s3, fake_engine)
    start = threading.Barrier(4)
    outcomes: list[Any] = []

    def deliver() -> None:
        start.wait()
        outcomes.append(pipeline.process_refs(event))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(len(o.succeeded) for o in outcomes) >= 1
    assert all(not o.failed for o in outcomes)
    assert sum(len(o.succeeded) + len(o.skipped) for o in outcomes) == 4
    assert output_keys(s3) == ["a.png.txt"]
    body = s3.get_object(Bucket=OUTPUT_BUCKET, Key="a.png.txt")["Body"].read().decode()
    assert body == fake_text(PNG, ImageFormat.PNG)


def test_a_changed_object_is_processed_again(s3: Any, fake_engine: FakeEngine) -> None:
    pipeline = make_pipeline(s3, fake_engine)
    pipeline.process_refs(event_of(upload(s3, "a.png", PNG)))
    changed = render_lines(("a new version", "of the page"), width=300)
    second = upload(s3, "a.png", changed)

    result = pipeline.process_refs(event_of(second))

    assert [s.key for s in result.succeeded] == ["a.png"]
    written = s3.get_object(Bucket=OUTPUT_BUCKET, Key="a.png.txt")
    assert written["Metadata"]["source-etag"] == second.etag
    assert written["Body"].read().decode() == fake_text(changed, ImageFormat.PNG)


def test_an_object_that_turned_bad_keeps_exactly_one_result(
    s3: Any, fake_engine: FakeEngine
) -> None:
    pipeline = make_pipeline(s3, fake_engine)
    pipeline.process_refs(event_of(upload(s3, "a.png", PNG)))
    pipeline.process_refs(event_of(upload(s3, "a.png", b"")))
    assert output_keys(s3) == ["a.png.error.json"]

    pipeline.process_refs(event_of(upload(s3, "a.png", PNG + b"")))
    assert output_keys(s3) == ["a.png.txt"]


def test_a_newer_upload_during_recognition_wins(s3: Any, fake_engine: FakeEngine) -> None:
    old = upload(s3, "a.png", PNG)
    newer = render_lines(("uploaded while", "the old one was read"), width=300)
    fake_engine.during_recognition = lambda _: s3.put_object(
        Bucket=INPUT_BUCKET, Key="a.png", Body=newer
    )

    result = make_pipeline(s3, fake_engine).process_refs(event_of(old))

    assert [s.reason for s in result.skipped] == ["superseded"]
    assert output_keys(s3) == []  # the newer upload's own event writes the result


def test_a_writer_that_wins_the_race_is_not_overwritten(s3: Any, fake_engine: FakeEngine) -> None:
    uploaded = upload(s3, "a.png", PNG)
    store = S3ObjectStore(s3)
    real_put = store.put_object
    rival_metadata = {
        "source-bucket": INPUT_BUCKET,
        "source-key": "a.png",
        "source-etag": uploaded.etag,
        "source-version-id": "null",
    }

    def put_after_a_rival(*args: Any, **kwargs: Any) -> None:
        # Another invocation for the same version writes between our look and our write.
        s3.put_object(Bucket=OUTPUT_BUCKET, Key="a.png.txt", Body=b"rival", Metadata=rival_metadata)
        real_put(*args, **kwargs)

    with mock.patch.object(store, "put_object", side_effect=put_after_a_rival):
        result = OcrPipeline(
            DocumentRecognizer(fake_engine, DEFAULT_LIMITS), store, OUTPUT_BUCKET
        ).process_refs(event_of(uploaded))

    assert [s.reason for s in result.skipped] == ["duplicate"]
    assert s3.get_object(Bucket=OUTPUT_BUCKET, Key="a.png.txt")["Body"].read() == b"rival"


def test_too_little_time_left_is_retried_and_writes_nothing(
    s3: Any, fake_engine: FakeEngine
) -> None:
    event = event_of(upload(s3, "a.png", PNG))
    remaining = iter([120_000, 6_000, 6_000, 6_000])

    result = make_pipeline(s3, fake_engine).process_refs(event, lambda: next(remaining))

    assert [(f.reason, f.retryable) for f in result.failed] == [("insufficient-time", True)]
    assert fake_engine.calls == []
    assert output_keys(s3) == []


def test_work_that_can_never_fit_the_timeout_fails_permanently(
    s3: Any, fake_engine: FakeEngine
) -> None:
    event = event_of(upload(s3, "big.png", render_lines(("x",), width=4000)))

    result = make_pipeline(s3, fake_engine).process_refs(event, lambda: 8_000)

    assert [(f.reason, f.retryable) for f in result.failed] == [("exceeds-time-limit", False)]
    assert "Timeout" in read_json(s3, "big.png.error.json")["message"]


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The service's log lines, formatted exactly as Lambda would receive them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(PARENT_LOGGER.registered_formatter)
    PARENT_LOGGER.addHandler(handler)
    yield stream
    PARENT_LOGGER.handlers.remove(handler)


def test_untrusted_keys_cannot_forge_log_lines_or_leave_the_output_bucket(
    s3: Any, fake_engine: FakeEngine, json_log: io.StringIO, tmp_path: Any
) -> None:
    forged = 'x.png\n{"level":"CRITICAL","message":"forged"}'
    traversal = "../../../tmp/evil.png"
    uploads = [upload(s3, forged, PNG), upload(s3, traversal, PNG)]

    result = make_pipeline(s3, fake_engine).process_refs(event_of(*uploads))

    assert [s.key for s in result.succeeded] == [forged, traversal]
    lines = json_log.getvalue().splitlines()
    assert len(lines) >= 2
    records = [json.loads(line) for line in lines]  # every line is one whole JSON record
    assert not any(record.get("message") == "forged" for record in records)
    assert any(record.get("key") == forged for record in records)
    # Keys only ever name objects in the output bucket; nothing touches the file system.
    assert output_keys(s3) == sorted([forged + ".txt", traversal + ".txt"])
    assert not (tmp_path / "evil.png.txt").exists()


def test_large_images_are_scaled_down_to_the_maximum_side(s3: Any, fake_engine: FakeEngine) -> None:
    large = render_lines(("a wide page",), width=4000)
    small = render_lines(("a small one",), width=400)
    recognizer = DocumentRecognizer(fake_engine, DEFAULT_LIMITS, max_image_side=2000)
    pipeline = OcrPipeline(recognizer, S3ObjectStore(s3), OUTPUT_BUCKET)

    pipeline.process_refs(event_of(upload(s3, "large.png", large), upload(s3, "small.png", small)))

    assert fake_engine.scales == [0.5, None]


def test_language_from_metadata_then_prefix_then_default(s3: Any, fake_engine: FakeEngine) -> None:
    languages = LanguagePolicy("en", {"ru/": "ru", "ru/uk/": "ukr"}, fake_engine.languages)
    recognizer = DocumentRecognizer(fake_engine, DEFAULT_LIMITS, languages=languages)
    pipeline = OcrPipeline(recognizer, S3ObjectStore(s3), OUTPUT_BUCKET)
    tagged = s3.put_object(
        Bucket=INPUT_BUCKET, Key="ru/tagged.png", Body=PNG, Metadata={"ocr-language": "de"}
    )
    uploads = [
        Upload(INPUT_BUCKET, "ru/tagged.png", etag=tagged["ETag"].strip('"')),
        upload(s3, "ru/uk/plain.png", PNG),
        upload(s3, "ru/plain.png", PNG),
        upload(s3, "other.png", PNG),
    ]

    pipeline.process_refs(event_of(*uploads))

    assert fake_engine.requested_languages == ["DEU", "UKR", "RUS", "ENG"]
    metadata = s3.head_object(Bucket=OUTPUT_BUCKET, Key="ru/tagged.png.txt")["Metadata"]
    assert metadata["ocr-language"] == "DEU"


def test_unknown_language_in_metadata_fails_with_the_accepted_names(
    s3: Any, fake_engine: FakeEngine
) -> None:
    put = s3.put_object(
        Bucket=INPUT_BUCKET, Key="x.png", Body=PNG, Metadata={"ocr-language": "klingon"}
    )

    result = make_pipeline(s3, fake_engine).process_refs(
        event_of(Upload(INPUT_BUCKET, "x.png", etag=put["ETag"].strip('"')))
    )

    assert [f.reason for f in result.failed] == ["unknown-language"]
    message = read_json(s3, "x.png.error.json")["message"]
    assert "'klingon'" in message and "ru" in message and "CYRILLIC" in message
    assert fake_engine.calls == []


def test_webp_is_converted_to_png_for_the_engine(s3: Any, fake_engine: FakeEngine) -> None:
    webp = io.BytesIO()
    Image.open(io.BytesIO(PNG)).convert("RGB").save(webp, "WEBP", lossless=True)

    result = make_pipeline(s3, fake_engine).process_refs(
        event_of(upload(s3, "photo.webp", webp.getvalue()))
    )

    assert [s.key for s in result.succeeded] == ["photo.webp"]
    width, height = Image.open(io.BytesIO(PNG)).size
    assert fake_engine.calls == seen(webp.getvalue(), image_format=ImageFormat.WEBP)
    assert fake_engine.calls[0].startswith(f"{width}x{height} RGB pixels")


def with_outputs(s3: Any, engine: FakeEngine, *outputs: str) -> OcrPipeline:
    return OcrPipeline(
        DocumentRecognizer(engine, DEFAULT_LIMITS),
        S3ObjectStore(s3),
        OUTPUT_BUCKET,
        outputs=frozenset({"txt", *outputs}),
    )


def test_every_optional_output_from_the_one_document(s3: Any, fake_engine: FakeEngine) -> None:
    uploaded = upload(s3, "a/scan.png", PNG)

    pipeline = with_outputs(s3, fake_engine, "json", "pdf", "hocr", "alto")
    result = pipeline.process_refs(event_of(uploaded))

    assert [s.key for s in result.succeeded] == ["a/scan.png"]
    assert output_keys(s3) == [
        "a/scan.png.alto.xml",
        "a/scan.png.hocr",
        "a/scan.png.json",
        "a/scan.png.pdf",
        "a/scan.png.txt",
    ]
    sidecar = read_json(s3, "a/scan.png.json")
    text = fake_text(PNG, ImageFormat.PNG)
    assert sidecar["source"] == {
        "bucket": INPUT_BUCKET,
        "key": "a/scan.png",
        "etag": uploaded.etag,
        "version_id": None,
    }
    assert (sidecar["ocr_engine"], sidecar["engine_version"]) == ("fake", "0.0-fake")
    assert (sidecar["language"], sidecar["trial_limited"]) == ("LATIN", True)
    (page,) = sidecar["pages"]
    assert (page["number"], page["source"], page["text"]) == (1, "ocr", text)
    words = [w for block in page["blocks"] for line in block["lines"] for w in line["words"]]
    assert [word["text"] for word in words] == text.split()
    assert words[0]["box"] == {"x": 10, "y": 20, "width": 300, "height": 24}
    assert words[0]["confidence"] == 0.5
    hocr = s3.get_object(Bucket=OUTPUT_BUCKET, Key="a/scan.png.hocr")["Body"].read()
    assert hocr.count(b'class="ocrx_word"') == len(text.split())
    alto = s3.get_object(Bucket=OUTPUT_BUCKET, Key="a/scan.png.alto.xml")["Body"].read()
    assert alto.count(b"<String ") == len(text.split())
    pdf = s3.get_object(Bucket=OUTPUT_BUCKET, Key="a/scan.png.pdf")
    assert pdf["ContentType"] == "application/pdf"
    assert pdf["Body"].read().startswith(b"%PDF")
    for key in output_keys(s3):
        metadata = s3.head_object(Bucket=OUTPUT_BUCKET, Key=key)["Metadata"]
        assert metadata["source-etag"] == uploaded.etag  # every output names its source
        assert (metadata["text-layer-pages"], metadata["ocr-pages"]) == ("0", "1")


def test_a_failure_removes_every_earlier_output(s3: Any, fake_engine: FakeEngine) -> None:
    pipeline = with_outputs(s3, fake_engine, "json", "pdf", "hocr", "alto")
    pipeline.process_refs(event_of(upload(s3, "a.png", PNG)))
    assert len(output_keys(s3)) == 5

    pipeline.process_refs(event_of(upload(s3, "a.png", b"")))

    assert output_keys(s3) == ["a.png.error.json"]


def test_a_stale_redelivery_of_a_changed_object_does_no_work(
    s3: Any, fake_engine: FakeEngine
) -> None:
    pipeline = make_pipeline(s3, fake_engine)
    first = upload(s3, "a.png", PNG)
    pipeline.process_refs(event_of(first))
    changed = render_lines(("second version",), width=300)
    pipeline.process_refs(event_of(upload(s3, "a.png", changed)))

    again = pipeline.process_refs(event_of(first))  # S3 re-delivers the first event late

    assert [s.reason for s in again.skipped] == ["duplicate"]
    assert fake_engine.calls == seen(PNG, changed)  # no third recognition


def test_a_failure_is_recorded_for_what_was_read(s3: Any, fake_engine: FakeEngine) -> None:
    good = upload(s3, "a.png", PNG)
    bad = upload(s3, "a.png", b"")  # overwritten before the first event is handled

    first = make_pipeline(s3, fake_engine).process_refs(event_of(good))
    second = make_pipeline(s3, fake_engine).process_refs(event_of(bad))

    assert [f.reason for f in first.failed] == ["empty-object"]
    record = read_json(s3, "a.png.error.json")
    assert record["source"]["etag"] == bad.etag  # the bytes that failed, not the event's
    assert [s.reason for s in second.skipped] == ["duplicate"]
    assert output_keys(s3) == ["a.png.error.json"]


def test_a_failure_the_deployment_caused_heals_once_the_cause_is_fixed(
    s3: Any, fake_engine: FakeEngine
) -> None:
    uploaded = upload(s3, "scans/ru.png", PNG)

    def model_not_bundled(_: str) -> None:
        raise MissingModelError("recognizing in RUS needs the model 'cyrillic'", "cyrillic")

    fake_engine.during_recognition = model_not_bundled
    first = make_pipeline(s3, fake_engine).process_refs(event_of(uploaded))
    assert [(f.reason, f.retryable) for f in first.failed] == [(Reason.MODEL_MISSING, False)]
    head = s3.head_object(Bucket=OUTPUT_BUCKET, Key="scans/ru.png.error.json")
    assert head["Metadata"]["failure-final"] == "false"

    fake_engine.during_recognition = None  # the operator bundled the model
    again = make_pipeline(s3, fake_engine).process_refs(event_of(uploaded))

    assert [s.key for s in again.succeeded] == ["scans/ru.png"]
    assert output_keys(s3) == ["scans/ru.png.txt"]  # the failure record made way


def test_a_failure_inherent_to_the_bytes_stays_final(s3: Any, fake_engine: FakeEngine) -> None:
    uploaded = upload(s3, "empty.png", b"")
    make_pipeline(s3, fake_engine).process_refs(event_of(uploaded))
    head = s3.head_object(Bucket=OUTPUT_BUCKET, Key="empty.png.error.json")
    assert head["Metadata"]["failure-final"] == "true"

    again = make_pipeline(s3, fake_engine).process_refs(event_of(uploaded))

    assert [s.reason for s in again.skipped] == [Skip.DUPLICATE]
    assert fake_engine.calls == []


def test_an_object_the_role_may_not_read_is_access_denied_and_heals(
    s3: Any, fake_engine: FakeEngine
) -> None:
    uploaded = upload(s3, "locked.png", PNG)

    def denied(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetObject")

    real_get = s3.get_object
    s3.get_object = denied
    result = make_pipeline(s3, fake_engine).process_refs(event_of(uploaded))
    s3.get_object = real_get
    [failure] = result.failed
    assert (failure.reason, failure.retryable) == (Reason.ACCESS_DENIED, False)
    assert "s3:GetObject" in failure.message
    assert failure.reason.heals
    again = make_pipeline(s3, fake_engine).process_refs(event_of(uploaded))
    assert [s.key for s in again.succeeded] == ["locked.png"]


def test_an_engine_crash_is_recorded_and_heals(s3: Any, fake_engine: FakeEngine) -> None:
    def crash(_: str) -> None:
        raise RuntimeError("native engine aborted")

    fake_engine.during_recognition = crash
    result = make_pipeline(s3, fake_engine).process_refs(event_of(upload(s3, "a.png", PNG)))
    [failure] = result.failed
    assert (failure.reason, failure.retryable) == (Reason.ENGINE_ERROR, False)
    assert "native engine aborted" in failure.message


def test_bad_pdfs_fail_clearly_and_lose_no_neighbour(s3: Any, fake_engine: FakeEngine) -> None:
    """A user-password PDF, a text layer over the limit and a damaged cross-reference table,
    in one event with an image: each ends as its own result."""
    from tools.pdf_samples import born_digital_pdf, damaged_xref_pdf, encrypted_pdf

    limits = Limits(
        max_object_bytes=10**7, max_pixels=5_000_000, max_pages=10, max_text_chars=2_000
    )
    bodies = {
        "locked.pdf": encrypted_pdf("secret", "owner"),
        "owner-only.pdf": encrypted_pdf(None, "owner"),
        "verbose.pdf": born_digital_pdf([["many words in this line"] * 40] * 3),
        "damaged.pdf": damaged_xref_pdf(),
        "photo.png": PNG,
    }
    uploads = [upload(s3, key, body) for key, body in bodies.items()]

    result = make_pipeline(s3, fake_engine, limits).process_refs(event_of(*uploads))

    assert sorted(s.key for s in result.succeeded) == ["damaged.pdf", "owner-only.pdf", "photo.png"]
    assert {f.key: f.reason for f in result.failed} == {
        "locked.pdf": Reason.ENCRYPTED_DOCUMENT,
        "verbose.pdf": Reason.TOO_MUCH_TEXT,
    }
    assert "password" in read_json(s3, "locked.pdf.error.json")["message"]
    assert "OCR_MAX_TEXT_CHARS" in read_json(s3, "verbose.pdf.error.json")["message"]
    assert fake_engine.calls == seen(PNG)  # no PDF page here needed the engine


def test_a_pdf_page_too_large_to_render_is_refused_before_rendering(
    s3: Any, fake_engine: FakeEngine
) -> None:
    """200 x 200 inches: even at 150 dpi, 900 megapixels. Its text layer would serve in
    `auto`; to be recognized (`ocr`) it would have to be rendered, and it is not."""
    from ocr_service.core.config import PdfTextMode
    from tools.pdf_samples import sized_pdf

    recognizer = DocumentRecognizer(fake_engine, DEFAULT_LIMITS, pdf_text=PdfTextMode.OCR)
    pipeline = OcrPipeline(recognizer, S3ObjectStore(s3), OUTPUT_BUCKET)
    result = pipeline.process_refs(event_of(upload(s3, "poster.pdf", sized_pdf(14_400, 14_400))))

    assert [f.reason for f in result.failed] == [Reason.TOO_MANY_PIXELS]
    assert "OCR_MAX_PIXELS" in read_json(s3, "poster.pdf.error.json")["message"]
    assert fake_engine.calls == []


def test_low_confidence_results_are_marked_for_review(s3: Any) -> None:
    """The fake engine's words score 0.5: under 0.78 the result says so; under 0.4 it does
    not; an unlicensed engine's (trial) score is never judged."""
    licensed = FakeEngine(licensed=True)
    for threshold, expected in ((0.78, "true"), (0.4, "false")):
        pipeline = OcrPipeline(
            DocumentRecognizer(licensed, DEFAULT_LIMITS),
            S3ObjectStore(s3),
            OUTPUT_BUCKET,
            min_confidence=threshold,
        )
        key = f"review-{threshold}.png"
        result = pipeline.process_refs(event_of(upload(s3, key, PNG)))
        assert [s.low_confidence for s in result.succeeded] == [expected == "true"]
        metadata = s3.head_object(Bucket=OUTPUT_BUCKET, Key=key + ".txt")["Metadata"]
        assert (metadata["ocr-confidence"], metadata["ocr-low-confidence"]) == ("0.500", expected)

    trial = OcrPipeline(
        DocumentRecognizer(FakeEngine(), DEFAULT_LIMITS),
        S3ObjectStore(s3),
        OUTPUT_BUCKET,
        min_confidence=0.78,
    )
    trial.process_refs(event_of(upload(s3, "trial.png", PNG)))
    metadata = s3.head_object(Bucket=OUTPUT_BUCKET, Key="trial.png.txt")["Metadata"]
    assert "ocr-confidence" not in metadata and "ocr-low-confidence" not in metadata
