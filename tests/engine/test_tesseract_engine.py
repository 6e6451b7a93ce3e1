"""The real Tesseract engine on images the tests render: exact text (no trial mode here)."""

from __future__ import annotations

import dataclasses
import difflib
import io
import os

import pytest
from PIL import Image

from bench.images import phone_photo
from ocr_service.core.config import (
    DEFAULT_LIMITS,
    DEFAULT_MAX_IMAGE_SIDE,
    DEFAULT_PREPROCESSING,
    Preprocessing,
    load_engine_settings,
)
from ocr_service.document.model import PAGE_SEPARATOR, Box, Page
from ocr_service.engines.port import EngineSetupError, MissingModelError
from ocr_service.engines.tesseract import UPRIGHT_CONFIDENCE, TesseractEngine, worker_count
from ocr_service.engines.tesseract_pages import TEXT_PX, PreparedPage
from ocr_service.inputs.pages import PageImage
from ocr_service.recognition.recognizer import DocumentRecognizer
from tests.support.reading import read_document
from tests.support.samples import render_pages
from tools.photo_samples import sample_photos
from tools.samples import DEMO_LINES, render_lines

RUSSIAN = ("Съешь же ещё этих мягких", "французских булок", "да выпей чаю")
MIXED = (*RUSSIAN, "Thank you for reading this")
SECOND_PAGE = ("Second page starts here", "with more words below it", "and a third line of text")
THIRD_PAGE = ("Third page comes last", "its own words in order")


def words(lines: tuple[str, ...]) -> list[str]:
    return " ".join(lines).split()


def read(engine: TesseractEngine, data: bytes, language: str = "en") -> str:
    return read_document(engine, data, language).text


def test_starts_with_its_version_and_no_trial_mode(tesseract_engine: TesseractEngine) -> None:
    assert tesseract_engine.name == "tesseract"
    assert tesseract_engine.version.startswith("5.5.")
    assert tesseract_engine.licensed is True
    assert tesseract_engine.timings.warm_up_s > 0  # the warm-up recognition really ran
    assert {"eng", "rus", "ukr", "deu", "fra", "spa", "ita", "por"} <= (
        tesseract_engine.languages.installed
    )


def test_latin_page_is_read_exactly(tesseract_engine: TesseractEngine) -> None:
    document = read_document(tesseract_engine, render_lines())
    assert document.text.split() == words(DEMO_LINES)  # every line: nothing is cut
    assert document.trial_limited is False
    assert document.page_count == 1


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
    document = read_document(tesseract_engine, data)
    assert document.page_count == 3
    texts = document.text.split(PAGE_SEPARATOR)
    assert [text.split() for text in texts] == [words(page) for page in pages]
    assert [line.text for line in document.pages[1].lines()] == list(SECOND_PAGE)


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_turned_pages_read_as_upright_ones(tesseract_engine: TesseractEngine, degrees: int) -> None:
    turned = Image.open(io.BytesIO(render_lines())).rotate(degrees, expand=True)
    buffer = io.BytesIO()
    turned.save(buffer, "PNG")
    document = read_document(tesseract_engine, buffer.getvalue())
    assert document.text.split() == words(DEMO_LINES)
    (page,) = document.pages
    # Turned back by orientation detection, or (a page turned 270 degrees) read well enough as
    # it is that detection is skipped: either way, the words and their boxes are right.
    assert page.rotation in {(360 - degrees) % 360, 0}
    assert page.rotation or (page.confidence or 0) >= UPRIGHT_CONFIDENCE
    # Each word's box, laid back on the turned input, is where the turned page shows it.
    upright = read_document(tesseract_engine, render_lines()).pages[0]
    for turned_word, upright_word in zip(page.words(), upright.words(), strict=True):
        expected = _turned_box(upright_word.box, degrees, page.width, page.height)
        assert _close(page.input_box(turned_word.box), expected, 4), turned_word.text


def _turned_box(box: Box, degrees: int, width: float, height: float) -> Box:
    """Where a box of the upright page lands once the page is turned `degrees`
    counter-clockwise (width x height: the turned page's size)."""
    if degrees == 90:
        return Box(box.top, height - box.right, box.bottom, height - box.left)
    if degrees == 180:
        return Box(width - box.right, height - box.bottom, width - box.left, height - box.top)
    return Box(width - box.bottom, box.left, width - box.top, box.right)


def _close(found: Box, expected: Box, pixels: float) -> bool:
    return all(
        abs(a - b) <= pixels
        for a, b in zip(
            (found.left, found.top, found.right, found.bottom),
            (expected.left, expected.top, expected.right, expected.bottom),
            strict=True,
        )
    )


def test_small_skew_is_straightened_by_the_deskew_default(
    tesseract_engine: TesseractEngine,
) -> None:
    page = Image.open(io.BytesIO(render_lines())).rotate(4, expand=True, fillcolor=255)
    buffer = io.BytesIO()
    page.save(buffer, "PNG")
    data = buffer.getvalue()
    deskewed = read_document(
        tesseract_engine, data, preprocessing=Preprocessing(filters=("deskew",))
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
    examined = recognizer.examine(photo.data)
    text = recognizer.recognize(examined, "eng", recognizer.plan(examined)).text
    truth = photo.pages[0].split()
    matcher = difflib.SequenceMatcher(a=truth, b=text.split(), autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks())
    assert matched / len(truth) > 0.95  # measured 0.98: noise and perspective cost a few words


def test_a_language_without_data_is_model_missing_naming_package_and_variable(
    tesseract_engine: TesseractEngine,
) -> None:
    greek = tesseract_engine.languages.resolve("el")
    with pytest.raises(MissingModelError) as raised:
        read_document(tesseract_engine, render_lines(), greek)
    message = str(raised.value)
    assert "tesseract-ocr-ell" in message
    assert "TESSERACT_LANGUAGES=" in message and "ell" in message


def test_words_with_boxes_and_confidences_in_lines_and_blocks(
    tesseract_engine: TesseractEngine,
) -> None:
    document = read_document(tesseract_engine, render_lines())
    (page,) = document.pages
    assert [line.text for line in page.lines()] == list(DEMO_LINES)
    assert [word.text for word in page.words()] == words(DEMO_LINES)
    first = next(page.words())
    # render_lines draws the first line at (30, 30) in a 32-pixel font.
    assert 25 <= first.box.left <= 35 and 28 <= first.box.top <= 45
    assert first.box.width > 50 and 15 <= first.box.height <= 40
    assert all(0.8 <= (word.confidence or 0) <= 1.0 for word in page.words())
    lefts = [word.box.left for word in next(page.lines()).words]
    assert lefts == sorted(lefts)  # left to right, each with its own box
    assert (page.width, page.height) == (900, 60 + 60 * len(DEMO_LINES))


def test_boxes_of_a_scaled_image_are_on_the_input(tesseract_engine: TesseractEngine) -> None:
    # Type large enough to stay above SMALL_TEXT_PX at half the size (else it is enlarged).
    data = render_lines(font_size=48, width=1350)
    full = read_document(tesseract_engine, data).pages[0]
    halved = read_document(tesseract_engine, data, max_image_side=675).pages[0]
    assert halved.to_input.a == pytest.approx(2.0)
    for small, large in zip(halved.words(), full.words(), strict=True):
        mapped = halved.input_box(small.box)
        # Tesseract's boxes at half the size are coarser (a word may get its line's height):
        # the sides and the centre line must still land on the full-size word.
        assert abs(mapped.left - large.box.left) <= 8, small.text  # 4 pixels at half size
        assert abs(mapped.right - large.box.right) <= 8, small.text
        centre = (mapped.top + mapped.bottom) / 2
        assert abs(centre - (large.box.top + large.box.bottom) / 2) <= 8, small.text


RECEIPT = (
    "RECEIPT 0042 KEDAI RUNCIT",
    "2 x Teh Tarik 3.00",
    "1 x Roti Canai 1.50",
    "Nasi Lemak Ayam 8.90",
    "SUBTOTAL 13.40",
    "SST 6% 0.80",
    "TOTAL RM 14.20",
    "CASH 20.00 CHANGE 5.80",
    "Thank you please come again",
)


def test_a_receipts_small_type_is_read_at_tesseracts_x_height(
    tesseract_engine: TesseractEngine,
) -> None:
    """13-pixel type, a receipt's at 150 dpi: its words are under SMALL_TEXT_PX high, so the
    page is read again scaled to TEXT_PX (measured: read at its own size, "2 x" came back as
    "2x" at 12, 13 and 14 pixels); the boxes still land on the input image."""
    font_size = 13
    data = render_lines(RECEIPT, width=22 * font_size, font_size=font_size, image_format="JPEG")
    page = read_document(tesseract_engine, data).pages[0]
    assert page.text.split() == words(RECEIPT)
    assert page.to_input.a == pytest.approx(1 / (TEXT_PX / 12), rel=0.3)  # read enlarged
    line_height = int(font_size * 1.9)  # render_lines' line pitch, from y = 30
    for index, line in enumerate(page.lines()):
        box = page.input_box(line.box)
        assert abs(box.top - (30 + index * line_height)) <= 6, line.text
        assert box.bottom - box.top <= font_size + 6, line.text


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


@pytest.mark.parametrize("name", ["sideways", "uneven-light", "dim"])
def test_phone_photos_of_a_page_are_read_exactly(
    tesseract_engine: TesseractEngine, name: str
) -> None:
    """tools/photo_samples.py's 12-megapixel JPEGs: turned a quarter without EXIF (turned back
    by orientation detection), lit from one corner (light evened: CER 0.33 without), and dim
    on a desk at an angle (cut out, seen square-on and evened: CER 0.54 without)."""
    (photo,) = sample_photos([name])
    assert read(tesseract_engine, photo.data).split() == photo.text.split()


def _scored(page: Page, confidence: float) -> Page:
    """`page` with every word's confidence set to `confidence`."""
    return dataclasses.replace(
        page,
        blocks=tuple(
            dataclasses.replace(
                block,
                lines=tuple(
                    dataclasses.replace(
                        line,
                        words=tuple(
                            dataclasses.replace(word, confidence=confidence) for word in line.words
                        ),
                    )
                    for line in block.lines
                ),
            )
            for block in page.blocks
        ),
    )


@pytest.mark.parametrize(("evened_score", "readings"), [(0.5, [True, False]), (0.9, [True])])
def test_an_evened_photo_that_reads_badly_is_read_as_lit_too_and_the_better_kept(
    tesseract_engine: TesseractEngine,
    monkeypatch: pytest.MonkeyPatch,
    evened_score: float,
    readings: list[bool],
) -> None:
    """Evening the light helped photos and hurt a receipt on a dark table, whose evened reading
    scored lower: a page read evened under UPRIGHT_CONFIDENCE is read as lit too (scored 0.7
    here), and the better-scored reading kept; one read well is read once."""
    (photo,) = sample_photos(["uneven-light"])
    read = tesseract_engine._read
    evened: list[bool] = []

    def scored_read(page: PageImage, prepared: PreparedPage, language: str, invert: bool) -> Page:
        evened.append(prepared.light_evened)
        reading = read(page, prepared, language, invert)
        return _scored(reading, evened_score if prepared.light_evened else 0.7)

    monkeypatch.setattr(tesseract_engine, "_read", scored_read)
    page = read_document(tesseract_engine, photo.data).pages[0]
    assert evened == readings  # upright already: orientation detection turns nothing
    assert page.confidence == (0.7 if evened_score < UPRIGHT_CONFIDENCE else evened_score)
