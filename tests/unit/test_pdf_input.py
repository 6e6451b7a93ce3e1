"""A PDF's own text layer read with PDFium: each kind of page gets the decision its measured
profile calls for, text and word boxes come out where fpdf2 put them (on the page as shown,
/Rotate included), and bad, encrypted, huge or text-bombed PDFs fail clearly."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import pypdfium2
import pytest
from PIL import Image, ImageChops, ImageOps

from ocr_service.core.config import PdfTextMode
from ocr_service.core.failures import OcrError, Reason
from ocr_service.document.model import Box, Page, PageSource, Transform
from ocr_service.inputs import pdf_text
from ocr_service.inputs.pdf import (
    MIN_RENDER_DPI,
    PDF_DPI,
    PageTextProfile,
    PdfInput,
    decide,
    render_dpi,
)
from ocr_service.inputs.pdf_text import PageGeometry
from tools import pdf_samples as pdfs
from tools.pdf_samples import FIRST_BASELINE, FONT_SIZE, LEFT, LINE_HEIGHT, PAGE_LINES

TEXT, OCR = PageSource.TEXT_LAYER, PageSource.OCR
LIMIT = 20_000_000
INK = 128  # a pixel darker than this is ink
REPORT = pdfs.report_pages(2)
BODY = [f"Paragraph line {n} of the letter body, written as real text." for n in range(20)]

FIXTURES: dict[str, tuple[Callable[[], bytes], list[PageSource]]] = {
    "born-digital": (lambda: pdfs.born_digital_pdf(PAGE_LINES), [TEXT, TEXT]),
    "scanned": (lambda: pdfs.scanned_pdf(PAGE_LINES), [OCR, OCR]),
    "scanned-with-ocr-layer": (lambda: pdfs.scanned_with_ocr_layer_pdf(PAGE_LINES), [TEXT, TEXT]),
    "ocr-layer-in-nested-forms": (
        lambda: pdfs.scanned_with_ocr_layer_pdf(PAGE_LINES, in_forms=True),
        [TEXT, TEXT],
    ),
    "ocr-layer-and-visible-stamp": (
        lambda: pdfs.scanned_with_ocr_layer_pdf(PAGE_LINES, stamp="COPY 7"),
        [TEXT, TEXT],
    ),
    "no-unicode-font": (lambda: pdfs.no_unicode_pdf(PAGE_LINES[0]), [OCR]),
    "no-unicode-font-full-page": (lambda: pdfs.no_unicode_pdf(REPORT[0]), [OCR]),
    "image-with-few-words": (lambda: pdfs.image_with_few_words_pdf(PAGE_LINES[0]), [OCR]),
    "image-with-page-number": (lambda: pdfs.image_with_few_words_pdf(PAGE_LINES[0], "7"), [OCR]),
    "few-vector-words": (lambda: pdfs.born_digital_pdf([["Page 3"]]), [TEXT]),
    "text-on-background-image": (lambda: pdfs.text_on_image_pdf(BODY), [TEXT]),
    "mixed": (lambda: pdfs.mixed_pdf([*PAGE_LINES, *PAGE_LINES]), [TEXT, OCR, TEXT, OCR]),
    "owner-password-only": (lambda: pdfs.encrypted_pdf(None, "owner"), [TEXT, TEXT]),
    "damaged-xref": (pdfs.damaged_xref_pdf, [TEXT, TEXT]),
}


@pytest.fixture(scope="module")
def born_digital() -> bytes:
    return pdfs.born_digital_pdf(PAGE_LINES)


def profiles(data: bytes) -> list[PageTextProfile]:
    with PdfInput.open(data, max_text_chars=LIMIT) as document:
        return [document.profile(n) for n in range(1, document.page_count + 1)]


def text_page(data: bytes, number: int = 1) -> Page:
    with PdfInput.open(data, max_text_chars=LIMIT) as document:
        return document.text_page(number)


@pytest.mark.parametrize("name", FIXTURES)
def test_each_kind_of_page_gets_its_decision_in_both_modes(name: str) -> None:
    build, expected = FIXTURES[name]
    measured = profiles(build())
    assert [decide(profile, PdfTextMode.AUTO) for profile in measured] == expected, measured
    assert all(decide(profile, PdfTextMode.OCR) is OCR for profile in measured)


def test_invisible_text_and_images_count_inside_nested_forms() -> None:
    nested = profiles(pdfs.scanned_with_ocr_layer_pdf(PAGE_LINES, in_forms=True))
    flat = profiles(pdfs.scanned_with_ocr_layer_pdf(PAGE_LINES))
    assert nested == flat
    first = nested[0]
    assert first.chars == first.invisible_chars == len("".join("".join(PAGE_LINES[0]).split()))
    assert (first.visible_chars, first.unmapped_chars, first.images) == (0, 0, 1)
    assert first.image_coverage == pytest.approx(1.0, abs=0.01)


def test_a_page_mixing_visible_and_invisible_text_counts_each_character() -> None:
    first = profiles(pdfs.scanned_with_ocr_layer_pdf(PAGE_LINES, stamp="COPY 7"))[0]
    assert first.visible_chars == len("COPY7")
    assert first.invisible_chars == len("".join("".join(PAGE_LINES[0]).split()))


def test_image_coverage_is_the_union_of_the_images_on_the_page() -> None:
    page = PageGeometry(0, 0, 600, 800, rotation=0)
    left_half, top_half = (0.0, 0.0, 300.0, 800.0), (0.0, 400.0, 600.0, 800.0)
    off_page = (-500.0, -500.0, -10.0, -10.0)
    assert pdf_text.image_coverage((), page) == 0.0
    assert pdf_text.image_coverage((left_half,), page) == 0.5
    assert pdf_text.image_coverage((left_half, left_half, off_page), page) == 0.5
    assert pdf_text.image_coverage((left_half, top_half), page) == pytest.approx(0.75, abs=0.01)
    assert pdf_text.image_coverage(((-100.0, -100.0, 900.0, 900.0),), page) == 1.0


def test_a_font_without_unicode_extracts_garbage_but_renders_the_words() -> None:
    garbled = pdfs.no_unicode_pdf(PAGE_LINES[0])
    (profile,) = profiles(garbled)
    assert profile.unmapped_share == 1.0
    assert not set(text_page(garbled).text.split()) & set(" ".join(PAGE_LINES[0]).split())
    assert _render(garbled).tobytes() == _render(pdfs.born_digital_pdf([PAGE_LINES[0]])).tobytes()


def test_born_digital_text_is_the_lines_written(born_digital: bytes) -> None:
    with PdfInput.open(born_digital, max_text_chars=LIMIT) as document:
        pages = [document.text_page(n) for n in (1, 2)]
    for number, (page, lines) in enumerate(zip(pages, PAGE_LINES, strict=True), start=1):
        assert page.text == "\n".join(lines)
        assert (page.number, page.source, page.dpi) == (number, TEXT, PDF_DPI)
        assert (page.width, page.height) == pytest.approx((2480.3, 3507.9), abs=0.1)
        assert page.to_input == Transform.scaling(PDF_DPI / 72)
        assert all(word.confidence is None for word in page.words())


def test_whitespace_runs_are_normalised_and_paragraphs_become_blocks() -> None:
    lines = ["Total:   42  EUR    due", "", "Second   paragraph here", "and its second line"]
    page = text_page(pdfs.born_digital_pdf([lines]))
    assert page.text == "Total: 42 EUR due\n\nSecond paragraph here\nand its second line"
    assert [len(block.lines) for block in page.blocks] == [1, 2]


def test_word_boxes_lie_on_the_page_where_fpdf2_put_them(born_digital: bytes) -> None:
    page = text_page(born_digital)
    width, height = page.width * 72 / PDF_DPI, page.height * 72 / PDF_DPI
    for word in page.words():
        assert 0 <= word.box.left < word.box.right <= width
        assert 0 <= word.box.top < word.box.bottom <= height
    words = {word.text: word.box for word in page.words()}
    acme = words["Acme"]
    assert acme.left == pytest.approx(LEFT + pdfs.string_width("Invoice number 4821 for "), abs=1)
    assert acme.right == pytest.approx(
        LEFT + pdfs.string_width("Invoice number 4821 for Acme"), abs=1
    )
    # Loose boxes: from the font's ascent above the baseline to its descent below.
    assert acme.top == pytest.approx(FIRST_BASELINE - 0.93 * FONT_SIZE, abs=1)
    assert acme.bottom == pytest.approx(FIRST_BASELINE + 0.24 * FONT_SIZE, abs=1)
    assert words["Payment"].top == pytest.approx(acme.top + 3 * LINE_HEIGHT, abs=0.1)


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_a_rotated_page_gives_boxes_on_the_page_as_displayed(degrees: int) -> None:
    data = pdfs.rotated_pdf(PAGE_LINES[0], degrees)
    (profile,) = profiles(data)
    upright = text_page(pdfs.born_digital_pdf([PAGE_LINES[0]]))
    turned = text_page(data)
    sideways = degrees in (90, 270)
    assert (profile.rotation, profile.width_pt > profile.height_pt) == (degrees, sideways)
    assert (turned.width, turned.height) == (
        (upright.height, upright.width) if sideways else (upright.width, upright.height)
    )
    # The same words, each box turned clockwise with the page (pixels at 300 dpi).
    turn = Transform.rotation(-degrees, upright.width, upright.height)
    expected: dict[str, list[Box]] = {}
    for word in upright.words():
        expected.setdefault(word.text, []).append(turn.box(upright.input_box(word.box)))
    for word in turned.words():
        shown = turned.input_box(word.box)
        assert any(_close(shown, box, tolerance=1.0) for box in expected[word.text]), word
    # And the ink PDFium draws lies inside those boxes, all of it.
    image, dpi = _render_with_dpi(data, dpi=72)
    assert dpi == 72
    _assert_ink_inside(image, [word.box for word in turned.words()])


def test_a_user_password_is_an_encrypted_document() -> None:
    with pytest.raises(OcrError) as raised:
        PdfInput.open(pdfs.encrypted_pdf("user", "owner"), max_text_chars=LIMIT)
    assert raised.value.reason is Reason.ENCRYPTED_DOCUMENT
    assert "password" in raised.value.message


def test_an_owner_password_alone_does_not_stop_reading() -> None:
    assert text_page(pdfs.encrypted_pdf(None, "owner")).text == "\n".join(PAGE_LINES[0])


def test_a_damaged_cross_reference_table_is_repaired() -> None:
    data = pdfs.damaged_xref_pdf()
    found = re.search(rb"startxref\s+(\d+)", data)
    assert found is not None
    offset = int(found.group(1))
    assert not data[offset:].startswith(b"xref"), "the fixture must be damaged"
    with PdfInput.open(data, max_text_chars=LIMIT) as document:
        assert document.page_count == 2
        assert document.text_page(2).text == "\n".join(PAGE_LINES[1])


def test_text_past_the_limit_fails_before_it_is_extracted(
    born_digital: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Page 1 holds 164 PDFium characters (generated line breaks included), page 2 72.
    with PdfInput.open(born_digital, max_text_chars=200) as document:
        document.profile(1)
        document.text_page(1)  # read again: not counted twice
        monkeypatch.setattr(pdf_text, "page_text", _must_not_run)
        with pytest.raises(OcrError) as raised:
            document.profile(2)
    assert raised.value.reason is Reason.TOO_MUCH_TEXT
    assert "200" in raised.value.message
    # Page 1 draws 5 text objects: more than 3 characters before PDFium builds its text page.
    monkeypatch.setattr(pypdfium2.PdfPage, "get_textpage", _must_not_run)
    document = PdfInput.open(born_digital, max_text_chars=3)
    with document, pytest.raises(OcrError) as raised:
        document.text_page(1)
    assert raised.value.reason is Reason.TOO_MUCH_TEXT


def test_a_page_too_large_even_at_the_lowest_dpi_fails_before_rendering(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pypdfium2.PdfPage, "render", _must_not_run)
    huge = pdfs.sized_pdf(200 * 72, 200 * 72)  # 200 x 200 inches
    document = PdfInput.open(huge, max_text_chars=LIMIT)
    with document, pytest.raises(OcrError) as raised:
        document.render(1, max_pixels=100_000_000)
    assert raised.value.reason is Reason.TOO_MANY_PIXELS
    assert "200.0 x 200.0 inches" in raised.value.message


def test_a_large_page_renders_at_the_highest_dpi_that_fits() -> None:
    max_pixels = 30_000_000
    image, dpi = _render_with_dpi(pdfs.sized_pdf(30 * 72, 30 * 72), max_pixels=max_pixels)
    assert MIN_RENDER_DPI <= dpi < PDF_DPI
    assert image.width * image.height <= max_pixels
    assert image.width * image.height > 0.99 * max_pixels
    assert (image.mode, image.width) == ("L", math.ceil(30 * dpi))


def test_a4_renders_at_300_dpi_in_grayscale(born_digital: bytes) -> None:
    image, dpi = _render_with_dpi(born_digital)
    assert (image.mode, image.size, dpi) == ("L", (2481, 3508), 300.0)


def test_render_dpi_fits_any_page_size_exactly() -> None:
    for width, height in [(595.28, 841.89), (10_000, 137), (1, 14_400), (14_400, 14_400)]:
        for max_pixels in (1_000_000, 8_000_000, 40_000_000, 100_000_000):
            try:
                dpi = render_dpi(width, height, PDF_DPI, max_pixels)
            except OcrError as error:
                assert error.reason is Reason.TOO_MANY_PIXELS
                continue
            scale = dpi / 72
            pixels = -(-width * scale // 1) * -(-height * scale // 1)
            assert MIN_RENDER_DPI <= dpi <= PDF_DPI
            assert pixels <= max_pixels


@pytest.mark.parametrize(
    "data", [b"", b"not a PDF at all", b"%PDF-1.7\n1 0 obj << /Type /Catalog", b"%PDF" + bytes(999)]
)
def test_garbage_is_corrupt_not_a_crash(data: bytes) -> None:
    with pytest.raises(OcrError) as raised:
        PdfInput.open(data, max_text_chars=LIMIT)
    assert raised.value.reason is Reason.CORRUPT_IMAGE
    assert raised.value.message.startswith("the PDF data is corrupt")


def test_javascript_is_never_run_and_the_pdf_reads() -> None:
    data = pdfs.javascript_pdf()
    assert b"/JavaScript" in data
    with PdfInput.open(data, max_text_chars=LIMIT) as document:
        assert document.text_page(1).text == "\n".join(PAGE_LINES[0])
        image, _ = document.render(1, max_pixels=LIMIT, dpi=72)
    assert image.getextrema() == (0, 255)  # it rendered: black text on white


def test_the_born_digital_fixture_carries_a_title_an_outline_and_a_link(
    born_digital: bytes,
) -> None:
    document = pypdfium2.PdfDocument(born_digital)
    try:
        assert document.get_metadata_value("Title") == pdfs.TITLE
        assert [item.get_title() for item in document.get_toc()] == ["Page 1", "Page 2"]
        assert pdfs.LINK_URL.encode() in born_digital
    finally:
        document.close()


def test_a_hundred_born_digital_pages_are_each_read_from_the_text_layer() -> None:
    """Speed is the benchmark's (bench/documents.py: 9-12 ms a page through the handler)."""
    pages = pdfs.report_pages(100)
    with PdfInput.open(pdfs.born_digital_pdf(pages), max_text_chars=LIMIT) as document:
        for number in range(1, document.page_count + 1):
            assert decide(document.profile(number), PdfTextMode.AUTO) is TEXT
            assert document.text_page(number).text == "\n".join(pages[number - 1])


def _must_not_run(*args: object, **kwargs: object) -> None:
    raise AssertionError("must not run")


def _render_with_dpi(
    data: bytes, *, max_pixels: int = LIMIT, dpi: int = PDF_DPI
) -> tuple[Image.Image, float]:
    with PdfInput.open(data, max_text_chars=LIMIT) as document:
        image, used = document.render(1, max_pixels=max_pixels, dpi=dpi)
        image.load()
        return image.copy(), used


def _render(data: bytes) -> Image.Image:
    return _render_with_dpi(data, dpi=72)[0]


def _close(box: Box, other: Box, tolerance: float) -> bool:
    pairs = zip(box.rounded(), other.rounded(), strict=True)
    return all(abs(a - b) <= tolerance + 1 for a, b in pairs)


def _assert_ink_inside(image: Image.Image, boxes: list[Box]) -> None:
    """Every dark pixel of the page (rendered at 72 dpi: a pixel a point) lies in a box."""
    ink = ImageOps.invert(image).point(lambda value: 255 if value > 255 - INK else 0)
    assert ink.getbbox() is not None
    mask = Image.new("L", image.size, 0)
    for box in boxes:
        left, top, right, bottom = box.rounded()
        mask.paste(255, (left - 1, top - 1, right + 1, bottom + 1))
    assert ImageChops.subtract(ink, mask).getbbox() is None
