"""The bad-input matrix through the pipeline with the real engine: each input gets its failure
record with the right reason, the process survives, and a good image in the same event still
gets its .txt. (bench/bad_inputs.py shows what the bare engine does with the same inputs.)"""

from __future__ import annotations

import io
import json
import random
from typing import Any

from PIL import Image

from ocr_service.aws.event_shapes import refs_from_notification
from ocr_service.aws.pipeline import OcrPipeline
from ocr_service.aws.storage import S3ObjectStore
from ocr_service.core.config import DEFAULT_LIMITS
from ocr_service.engines.aspose import AsposeEngine
from ocr_service.recognition.recognizer import DocumentRecognizer
from tests.support.deployment import INPUT_BUCKET, OUTPUT_BUCKET
from tests.support.samples import DEMO_WORDS, blank_png, render_pages
from tools.events import Upload, encode_key, s3_put_event
from tools.samples import render_lines


def image_bytes(image: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format)
    return buffer.getvalue()


def pdf_of_pages(count: int) -> bytes:
    """A PDF of `count` blank pages (one image, repeated: quick to make at any count)."""
    page = Image.new("L", (200, 100), 255)
    buffer = io.BytesIO()
    page.save(buffer, "PDF", save_all=True, append_images=[page] * (count - 1))
    return buffer.getvalue()


def bad_inputs() -> dict[str, tuple[bytes, str]]:
    good = render_lines()
    tiff = render_pages([("page one",), ("page two",)])
    return {
        "zero-bytes.png": (b"", "empty-object"),
        "random-bytes.png": (random.Random(1).randbytes(65536), "unsupported-format"),
        "text-named.png": (b"hello, this is not an image\n" * 50, "unsupported-format"),
        "truncated.png": (good[: len(good) // 2], "truncated-image"),
        "one-pixel.png": (image_bytes(Image.new("L", (1, 1), 255), "PNG"), "image-too-small"),
        "huge-20000.png": (blank_png(20000, 20000), "too-many-pixels"),
        "pdf-over-the-page-limit.pdf": (
            pdf_of_pages(DEFAULT_LIMITS.max_pages + 1),
            "too-many-pages",
        ),
        "tiff-lying-header.tif": (b"II*\x00\xff\xff\xff\x00" + good, "corrupt-image"),
        "tiff-png-body.tif": (b"II*\x00" + good, "corrupt-image"),
        "truncated.tif": (tiff[: len(tiff) * 6 // 10], "truncated-image"),
        "truncated.jpg": (render_lines(image_format="JPEG")[:3000], "truncated-image"),
    }


def test_every_bad_input_fails_cleanly_and_the_good_one_succeeds(
    s3: Any, real_engine: AsposeEngine
) -> None:
    inputs = bad_inputs()
    uploads = []
    webp = image_bytes(Image.open(io.BytesIO(render_lines())), "WEBP")
    good = [("good.png", (render_lines(), "")), ("good.webp", (webp, ""))]
    for key, (body, _) in [*inputs.items(), *good]:
        put = s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)
        uploads.append(Upload(INPUT_BUCKET, encode_key(key), len(body), put["ETag"].strip('"')))
    recognizer = DocumentRecognizer(real_engine, DEFAULT_LIMITS)
    pipeline = OcrPipeline(recognizer, S3ObjectStore(s3), OUTPUT_BUCKET)

    result = pipeline.process_refs(refs_from_notification(s3_put_event(uploads)))

    assert {f.key: f.reason for f in result.failed} == {k: r for k, (_, r) in inputs.items()}
    assert not any(f.retryable for f in result.failed)
    for key, (_, reason) in inputs.items():
        record = json.loads(
            s3.get_object(Bucket=OUTPUT_BUCKET, Key=key + ".error.json")["Body"].read()
        )
        assert record["reason"] == reason
        assert record["source"]["key"] == key
    assert [s.key for s in result.succeeded] == ["good.png", "good.webp"]
    for key in ("good.png.txt", "good.webp.txt"):  # WEBP: converted, then recognized
        text = s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read().decode()
        for word in DEMO_WORDS:
            assert word in text
