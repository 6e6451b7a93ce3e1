"""The real Tesseract engine on images the tests render: exact text (no trial mode here)."""

from __future__ import annotations

import difflib
import io
import json
import os

import pypdfium2
import pytest
from PIL import Image

from bench.images import phone_photo
from ocr_service.aws.documents import pages_of, sidecar_document
from ocr_service.aws.results import ObjectVersion
from ocr_service.core.config import (
    DEFAULT_LIMITS,
    DEFAULT_MAX_IMAGE_SIDE,
    DEFAULT_PREPROCESSING,
    Preprocessing,
    load_engine_settings,
)
from ocr_service.core.formats import identify
from ocr_service.engines.port import PAGE_SEPARATOR, EngineSetupError, MissingModelError
from ocr_service.engines.tesseract import TesseractEngine, worker_count
from ocr_service.recognition.recognizer import DocumentRecognizer
from tests.support.deployment import tessdata_dir
from tests.support.samples import render_pages
from tools.samples import DEMO_LINES, render_lines

RUSSIAN = ("Съешь же ещё этих мягких", "французских булок", "да выпей чаю")
MIXED = (*RUSSIAN, "Thank you for reading this")
SECOND_PAGE = ("Second page starts here", "with more words below it", "and a third line of text")
THIRD_PAGE = ("Third page comes last", "its own words in order")


def words(lines: tuple[str, ...]) -> list[str]:
    return " ".join(lines).split()


def read(engine: TesseractEngine, data: bytes, language: str = "en") -> str:
    return engine.recognize(data, identify(data), language=engine.languages.resolve(language)).text


def test_starts_with_its_version_and_no_trial_mode(tesseract_engine: TesseractEngine) -> None:
    assert tesseract_engine.name == "tesseract"
    assert tesseract_engine.version.startswith("5.5.")
    assert tesseract_engine.licensed is True
    assert tesseract_engine.timings.warm_up_s > 0  # the warm-up recognition really ran
    assert {"eng", "rus", "ukr", "deu", "fra", "spa", "ita", "por"} <= (
        tesseract_engine.languages.installed
    )


def test_latin_page_is_read_exactly(tesseract_engine: TesseractEngine) -> None:
    recognition = tesseract_engine.recognize(render_lines(), identify(render_lines()))
    assert recognition.text.split() == words(DEMO_LINES)  # every line: nothing is cut
    assert recognition.trial_limited is False
    assert recognition.page_count == 1


def test_a_single_cyrillic_line_is_read_exactly(tesseract_engine: TesseractEngine) -> None:
    data = render_lines(("Привет мир!",), width=420, font_size=36)
    assert read(tesseract_engine, data, "ru") == "Привет мир!"


def test_russian_and_english_on_one_page_with_ru_plus_en(
    tesseract_engine: TesseractEngine,
) -> None:
    data = render_lines(MIXED, width=1100, font_size=36)
    assert read(tesseract_engine, data, "ru+en").split() == words(MIXED)


@pytest.mark.parametrize(("pil_format", "mode"), [("JPEG", "L"), ("BMP", "RGB"), ("GIF", "L")])
def test_other_single_image_formats(
    tesseract_engine: TesseractEngine, pil_format: str, mode: str
) -> None:
    data = render_lines(image_format=pil_format, mode=mode)
    assert read(tesseract_engine, data).split() == words(DEMO_LINES)


def test_webp_through_the_recognizer_input(tesseract_engine: TesseractEngine) -> None:
    image = Image.open(io.BytesIO(render_lines()))
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", lossless=True)
    assert read(tesseract_engine, buffer.getvalue()).split() == words(DEMO_LINES)


@pytest.mark.parametrize("document_format", ["TIFF", "PDF"])
def test_every_page_in_order_separated_by_form_feeds(
    tesseract_engine: TesseractEngine, document_format: str
) -> None:
    pages = (DEMO_LINES, SECOND_PAGE, THIRD_PAGE)
    # A PDF page as a 300-dpi scan would be: 32-pixel text is an 8-point font.
    data = render_pages(pages, image_format=document_format, dpi=300)
    recognition = tesseract_engine.recognize(data, identify(data))
    assert recognition.page_count == 3
    texts = recognition.text.split(PAGE_SEPARATOR)
    assert [text.split() for text in texts] == [words(page) for page in pages]
    assert len(recognition.lines) == 3
    assert [line.text for line in recognition.lines[1]] == list(SECOND_PAGE)


def test_pdf_pages_are_rendered_within_the_pixel_limit() -> None:
    settings = load_engine_settings(
        {
            "OCR_ENGINE": "tesseract",
            "OCR_TESSDATA_DIR": tessdata_dir(),
            "OCR_MAX_PIXELS": "2000000",
            "OCR_WARM_UP": "false",
            "OCR_OUTPUTS": "pdf",
        }
    )
    engine = TesseractEngine.start(settings)
    data = render_pages((DEMO_LINES,), image_format="PDF")
    recognition = engine.recognize(data, identify(data))
    _, images = recognition.native
    assert images[0].width * images[0].height <= 2_000_000
    assert "Invoice" in recognition.text


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_turned_pages_read_as_upright_ones(tesseract_engine: TesseractEngine, degrees: int) -> None:
    page = Image.open(io.BytesIO(render_lines())).rotate(degrees, expand=True)
    buffer = io.BytesIO()
    page.save(buffer, "PNG")
    assert read(tesseract_engine, buffer.getvalue()).split() == words(DEMO_LINES)


def test_small_skew_is_straightened_by_the_deskew_default(
    tesseract_engine: TesseractEngine,
) -> None:
    page = Image.open(io.BytesIO(render_lines())).rotate(4, expand=True, fillcolor=255)
    buffer = io.BytesIO()
    page.save(buffer, "PNG")
    data = buffer.getvalue()
    deskewed = tesseract_engine.recognize(
        data, identify(data), preprocessing=Preprocessing(filters=("deskew",))
    )
    assert deskewed.text.split() == words(DEMO_LINES)


def test_a_photographed_page_on_a_desk_is_not_turned_by_the_deskew_default(
    tesseract_engine: TesseractEngine,
) -> None:
    """The page's edges on a grey desk make a slope, not a text-line peak: measured, deskewing
    by it (-10.9 degrees) left Tesseract reading nothing of this photo."""
    photo = phone_photo()
    recognizer = DocumentRecognizer(
        tesseract_engine,
        DEFAULT_LIMITS,
        max_image_side=DEFAULT_MAX_IMAGE_SIDE,
        preprocessing=Preprocessing(filters=DEFAULT_PREPROCESSING),
    )
    text = recognizer.recognize(recognizer.examine(photo.data), "eng").text
    truth = photo.pages[0].split()
    matcher = difflib.SequenceMatcher(a=truth, b=text.split(), autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks())
    assert matched / len(truth) > 0.95  # measured 0.98: noise and perspective cost a few words


def test_a_language_without_data_is_model_missing_naming_package_and_variable(
    tesseract_engine: TesseractEngine,
) -> None:
    greek = tesseract_engine.languages.resolve("el")
    with pytest.raises(MissingModelError) as raised:
        tesseract_engine.recognize(render_lines(), identify(render_lines()), language=greek)
    message = str(raised.value)
    assert "tesseract-ocr-ell" in message
    assert "TESSERACT_LANGUAGES=" in message and "ell" in message


def test_lines_boxes_confidence_and_the_sidecar(tesseract_engine: TesseractEngine) -> None:
    data = render_lines()
    recognition = tesseract_engine.recognize(data, identify(data))
    lines = recognition.lines[0]
    assert [line.text for line in lines] == list(DEMO_LINES)
    first = lines[0]
    assert 20 <= first.x <= 40 and 20 <= first.y <= 50  # where render_lines draws it
    assert 0.8 <= first.confidence <= 1.0
    source = ObjectVersion("bucket", "a.png", "etag", None)
    document = json.loads(
        json.dumps(sidecar_document(source, pages_of(recognition), "eng", tesseract_engine, False))
    )
    assert document["ocr_engine"] == "tesseract"
    assert document["engine_version"] == tesseract_engine.version
    assert document["trial_limited"] is False
    assert document["pages"][0]["lines"][0]["text"] == DEMO_LINES[0]
    assert set(document["pages"][0]["lines"][0]["box"]) == {"x", "y", "width", "height"}


def test_the_searchable_pdf_has_every_page_and_its_text(
    tesseract_engine: TesseractEngine,
) -> None:
    data = render_pages((DEMO_LINES, SECOND_PAGE), image_format="TIFF")
    pdf_bytes = tesseract_engine.searchable_pdf(tesseract_engine.recognize(data, identify(data)))
    document = pypdfium2.PdfDocument(pdf_bytes)
    try:
        assert len(document) == 2
        texts = [document[index].get_textpage().get_text_range() for index in range(2)]
    finally:
        document.close()
    assert texts[0].split() == words(DEMO_LINES)
    assert texts[1].split() == words(SECOND_PAGE)


def test_missing_language_data_fails_the_start_clearly() -> None:
    settings = load_engine_settings({"OCR_ENGINE": "tesseract", "OCR_TESSDATA_DIR": "/nowhere"})
    with pytest.raises(EngineSetupError, match="OCR_TESSDATA_DIR"):
        TesseractEngine.start(settings)


@pytest.mark.parametrize(
    ("memory", "expected"), [("1769", 1), ("3538", 2), ("1024", 1), ("10240", 2)]
)
def test_threads_follow_lambdas_vcpus(memory: str, expected: int) -> None:
    cores = os.cpu_count() or 1
    assert worker_count({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": memory}) == min(expected, cores)
