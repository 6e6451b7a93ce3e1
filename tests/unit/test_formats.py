"""Formats are recognized from the bytes, never from the key or Content-Type."""

from __future__ import annotations

import pytest

from ocr_service.core.failures import OcrError
from ocr_service.core.formats import ImageFormat, identify
from tests.support.samples import render_pages
from tools.samples import render_lines


@pytest.mark.parametrize(
    ("pil_format", "expected"),
    [
        ("PNG", ImageFormat.PNG),
        ("JPEG", ImageFormat.JPEG),
        ("BMP", ImageFormat.BMP),
        ("GIF", ImageFormat.GIF),
        ("TIFF", ImageFormat.TIFF),
        ("WEBP", ImageFormat.WEBP),
    ],
)
def test_rendered_images_are_identified(pil_format: str, expected: ImageFormat) -> None:
    assert identify(render_lines(("x",), image_format=pil_format)) is expected


def test_pdf_and_multi_page_tiff() -> None:
    assert identify(render_pages([("a",), ("b",)], image_format="PDF")) is ImageFormat.PDF
    assert identify(render_pages([("a",), ("b",)])) is ImageFormat.TIFF
    assert ImageFormat.PDF.is_multi_page and not ImageFormat.PNG.is_multi_page


@pytest.mark.parametrize(
    ("data", "reason", "words"),
    [
        (b"", "empty-object", "0 bytes"),
        (b"hello, I am text named .png", "unsupported-format", "68 65 6c 6c 6f"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "unsupported-format", "52 49 46 46"),
    ],
)
def test_unreadable_inputs_are_named(data: bytes, reason: str, words: str) -> None:
    with pytest.raises(OcrError, match=words) as raised:
        identify(data)
    assert raised.value.reason == reason
