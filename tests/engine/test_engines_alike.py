"""Both real engines through the same recognizer: every colour mode a scanner, phone or
screenshot produces, and pages turned by 90, 180 and 270 degrees, read as upright text.

Aspose runs in trial mode here (no license): it returns the first line of these samples and
cuts the rest, so its words are those of the first line; Tesseract must return every word."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from ocr_service.core.config import DEFAULT_LIMITS, DEFAULT_PREPROCESSING, Preprocessing
from ocr_service.engines.aspose import AsposeEngine
from ocr_service.engines.port import OcrEngine
from ocr_service.engines.tesseract import TesseractEngine
from ocr_service.recognition.recognizer import DocumentRecognizer
from tests.support.samples import RECEIPT_LINES, colour_variants
from tools.samples import DEMO_LINES, render_lines

VARIANTS = colour_variants()


@pytest.fixture(params=["aspose", "tesseract"])
def engine(
    request: pytest.FixtureRequest,
    real_engine: AsposeEngine,
    tesseract_engine: TesseractEngine,
) -> OcrEngine:
    return real_engine if request.param == "aspose" else tesseract_engine


def expected_words(engine: OcrEngine, lines: tuple[str, ...]) -> list[str]:
    """What the engine must return: all of it, or trial mode's first line."""
    shown = lines if engine.licensed else lines[:1]
    return " ".join(shown).split()


def read(engine: OcrEngine, data: bytes) -> list[str]:
    recognizer = DocumentRecognizer(
        engine, DEFAULT_LIMITS, preprocessing=Preprocessing(filters=DEFAULT_PREPROCESSING)
    )
    examined = recognizer.examine(data)
    plan = recognizer.plan(examined)
    text = recognizer.recognize(examined, engine.languages.resolve("en"), plan).text
    return text.split()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_colour_mode_reads_its_words(engine: OcrEngine, variant: str) -> None:
    got = read(engine, VARIANTS[variant])
    wanted = expected_words(engine, RECEIPT_LINES)
    assert got[: len(wanted)] == wanted


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_turned_pages_read_as_upright(engine: OcrEngine, degrees: int) -> None:
    turned = Image.open(io.BytesIO(render_lines())).rotate(degrees, expand=True)
    buffer = io.BytesIO()
    turned.save(buffer, "PNG")
    got = read(engine, buffer.getvalue())
    wanted = expected_words(engine, DEMO_LINES)
    assert got[: len(wanted)] == wanted


@pytest.mark.parametrize("pil_format", ["AVIF", "HEIF"])
def test_phone_formats_read_their_words(engine: OcrEngine, pil_format: str) -> None:
    """HEIC (an iPhone's default) and AVIF, decoded once for both engines."""
    from pillow_heif import register_heif_opener

    register_heif_opener()
    buffer = io.BytesIO()
    Image.open(io.BytesIO(render_lines())).convert("RGB").save(buffer, pil_format, quality=90)
    got = read(engine, buffer.getvalue())
    wanted = expected_words(engine, DEMO_LINES)
    assert got[: len(wanted)] == wanted
