"""The searchable PDF (ocr_service/outputs/pdf.py): the original file with an invisible text
layer under its recognized pages, each word where its box is, checked with PDFium (what
Chrome and the page renderer use): `get_text_bounded(<the word's box>)` gives the word back.

The PDFs are built here with fpdf2 (real text in DejaVu, a link, an outline, a title) and a
"scanned" page: an image Pillow draws the words on at 300 dpi, so each word's box in the model is
where its ink is."""

from __future__ import annotations

import ctypes
import io
import re
from collections.abc import Sequence

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from fpdf import FPDF
from PIL import Image, ImageChops, ImageDraw, ImageFont
from pypdf import PageObject, PdfReader, PdfWriter
from pypdf.generic import (
    Destination,
    DictionaryObject,
    IndirectObject,
    NameObject,
    NumberObject,
    PdfObject,
    RectangleObject,
    StreamObject,
)

from ocr_service.core.failures import OcrError, Reason
from ocr_service.document.model import IDENTITY, Block, Box, Line, Page, PageSource, Transform, Word
from ocr_service.outputs.pdf import searchable_pdf_from_images, searchable_pdf_from_pdf

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
DPI = 300
PAGE_PT = (576.0, 720.0)  # 8 x 10 inches: whole pixels at 300 dpi (2400 x 3000)
TITLE = "Searchable PDF test"
URL = "https://example.com/ocr"
CYRILLIC = "Привет"
ASTRAL = "𝔸lgebra"  # noqa: RUF001 (U+1D538, beyond the BMP)
SCAN_LINES = (("Invoice", "number", "4821"), (CYRILLIC, "Grüße", ASTRAL), ("Thank", "you"))
SCAN_TEXT = "\n".join(" ".join(words) for words in SCAN_LINES)

WordBoxes = list[list[tuple[str, Box]]]


def _scan(size: tuple[int, int], lines: Sequence[Sequence[str]]) -> tuple[Image.Image, WordBoxes]:
    """A white page with `lines` drawn on it, and each word's ink box in its pixels."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 64)
    boxes: WordBoxes = []
    for row, words in enumerate(lines):
        x: float = 200
        placed = []
        for word in words:
            left, top, right, bottom = draw.textbbox((x, 300 + 150 * row), word, font=font)
            draw.text((x, 300 + 150 * row), word, fill=0, font=font)
            placed.append((word, Box(left, top, right, bottom)))
            x = right + 40
        boxes.append(placed)
    return image, boxes


def _page(
    number: int,
    boxes: WordBoxes,
    size: tuple[float, float],
    *,
    dpi: float = DPI,
    to_input: Transform = IDENTITY,
) -> Page:
    lines = tuple(
        Line(tuple(Word(text, box) for text, box in row), Box.enclosing(b for _, b in row))
        for row in boxes
    )
    block = Block(lines, Box.enclosing(line.box for line in lines))
    return Page(number, size[0], size[1], dpi, PageSource.OCR, (block,), to_input=to_input)


def _pixels(points: tuple[float, float]) -> tuple[int, int]:
    return round(points[0] * DPI / 72), round(points[1] * DPI / 72)


def _born_digital(scan: Image.Image) -> bytes:
    """Three pages: text with a link, an outline entry per page and a title; page 2 is the
    scan (an image filling the page) with a vector frame and a link of its own."""
    pdf = FPDF(unit="pt", format=PAGE_PT)
    pdf.set_title(TITLE)
    pdf.add_font("DejaVu", fname=FONT)
    pdf.set_font("DejaVu", size=14)
    for number in (1, 2, 3):
        pdf.add_page()
        pdf.start_section(f"Chapter {number}")
        if number == 2:
            pdf.image(scan, x=0, y=0, w=PAGE_PT[0], h=PAGE_PT[1])
            pdf.rect(20, 20, 536, 680)
        else:
            pdf.text(72, 600, f"Born-digital page {number} with real text")
        pdf.link(72, 650, 200, 20, URL)
    return bytes(pdf.output())


def _blank_pdf(count: int) -> bytes:
    pdf = FPDF(unit="pt", format=PAGE_PT)
    pdf.add_font("DejaVu", fname=FONT)
    pdf.set_font("DejaVu", size=10)
    for _ in range(count):
        pdf.add_page()
        pdf.text(30, 30, "header")
    return bytes(pdf.output())


def _bounded(page: pdfium.PdfPage, box: Box, displayed_px: tuple[int, int]) -> str:
    """The text PDFium finds in `box` (pixels on the page as displayed), the box mapped to
    user space by PDFium itself (FPDF_DeviceToPage: the crop box and /Rotate it renders)."""
    xs, ys = [], []
    for x, y in ((box.left, box.top), (box.right, box.bottom)):
        page_x, page_y = ctypes.c_double(), ctypes.c_double()
        assert pdfium_c.FPDF_DeviceToPage(
            page.raw, 0, 0, *displayed_px, 0, round(x), round(y), page_x, page_y
        )
        xs.append(page_x.value)
        ys.append(page_y.value)
    text: str = page.get_textpage().get_text_bounded(min(xs), min(ys), max(xs), max(ys))
    return text.strip()


def _check_words(page: pdfium.PdfPage, model: Page, displayed_px: tuple[int, int]) -> None:
    for word in model.words():
        assert _bounded(page, model.input_box(word.box), displayed_px) == word.text


def _text(page: pdfium.PdfPage) -> str:
    return str(page.get_textpage().get_text_range()).replace("\r\n", "\n")


@pytest.fixture(scope="module")
def scan() -> tuple[Image.Image, WordBoxes]:
    return _scan(_pixels(PAGE_PT), SCAN_LINES)


@pytest.fixture(scope="module")
def born_digital(scan: tuple[Image.Image, WordBoxes]) -> tuple[bytes, bytes, Page]:
    original = _born_digital(scan[0])
    model = _page(2, scan[1], _pixels(PAGE_PT))
    return original, searchable_pdf_from_pdf(original, [model]), model


def test_the_scanned_page_gets_each_word_at_its_box(
    born_digital: tuple[bytes, bytes, Page],
) -> None:
    _, output, model = born_digital
    page = pdfium.PdfDocument(output)[1]
    _check_words(page, model, _pixels(PAGE_PT))
    assert _text(page).split("\n") == [
        " ".join(word for word, _ in row) for row in model_rows(model)
    ]


def model_rows(model: Page) -> list[list[tuple[str, Box]]]:
    return [[(word.text, word.box) for word in line.words] for line in model.lines()]


def test_cyrillic_accented_and_astral_words_extract_as_written(
    born_digital: tuple[bytes, bytes, Page],
) -> None:
    line = f"{CYRILLIC} Grüße {ASTRAL}"
    assert line in _text(pdfium.PdfDocument(born_digital[1])[1])
    # pypdf reads the ToUnicode map too (another reader, another CMap parser).
    assert line in PdfReader(io.BytesIO(born_digital[1])).pages[1].extract_text()


def test_the_original_is_kept_byte_for_byte_with_its_links_outline_and_title(
    born_digital: tuple[bytes, bytes, Page],
) -> None:
    original, output, _ = born_digital
    assert output.startswith(original)  # an incremental update: appended, nothing rewritten
    assert len(output) <= len(original) + 40_000
    before, after = PdfReader(io.BytesIO(original)), PdfReader(io.BytesIO(output))
    assert after.metadata is not None and after.metadata.title == TITLE
    assert (
        _titles(after.outline) == _titles(before.outline) == ["Chapter 1", "Chapter 2", "Chapter 3"]
    )
    for number, (old, new) in enumerate(zip(before.pages, after.pages, strict=True), start=1):
        assert [str(_dict(_dict(link)["/A"])["/URI"]) for link in _array(new["/Annots"])] == [URL]
        old_streams = _content_streams(old)
        new_streams = _content_streams(new)
        if number == 2:
            assert new_streams[1:] == old_streams  # the layer's stream first, then all of them
        else:
            assert new_streams == old_streams
        old_resources, new_resources = _dict(old["/Resources"]), _dict(new["/Resources"])
        for key in old_resources:  # the same fonts, images... (the very same objects)
            if key == "/ProcSet":
                assert new_resources[key] == old_resources[key]
                continue
            old_refs, new_refs = _references(old_resources[key]), _references(new_resources[key])
            assert old_refs.items() <= new_refs.items()
            assert old_refs == new_refs or (number == 2 and key == "/XObject")
    # The update rewrites page 2's dictionary, not the others'.
    rewritten = {int(n) for n in re.findall(rb"(\d+) 0 obj", output[len(original) :])}
    pages = [page.indirect_reference.idnum for page in before.pages]  # type: ignore[union-attr]
    assert [idnum in rewritten for idnum in pages] == [False, True, False]


def _titles(outline: object) -> list[str]:
    return [str(item.title) for item in _array(outline) if isinstance(item, Destination)]


def _dict(value: object) -> DictionaryObject:
    resolved = value.get_object() if isinstance(value, PdfObject) else value
    assert isinstance(resolved, DictionaryObject)
    return resolved


def _array(value: object) -> list[object]:
    resolved = value.get_object() if isinstance(value, PdfObject) else value
    assert isinstance(resolved, list)
    return resolved


def _references(resources: object) -> dict[str, object]:
    """A resource dictionary's entries, objects by number (they come from different readers)."""
    return {
        name: value.idnum if isinstance(value, IndirectObject) else value
        for name, value in _dict(resources).items()
    }


def _content_streams(page: PageObject) -> list[bytes]:
    """The page's content streams as stored (still compressed)."""
    contents = page["/Contents"]
    streams = list(contents) if isinstance(contents, list) else [contents]
    stored = [stream.get_object() for stream in streams]
    assert all(isinstance(stream, StreamObject) for stream in stored)
    return [stream._data for stream in stored]  # type: ignore[union-attr]


def test_the_layer_is_invisible(born_digital: tuple[bytes, bytes, Page]) -> None:
    original, output, _ = born_digital
    for index in range(3):
        before = pdfium.PdfDocument(original)[index].render(scale=1).to_pil()
        after = pdfium.PdfDocument(output)[index].render(scale=1).to_pil()
        assert ImageChops.difference(before, after).getbbox() is None


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_a_rotated_page_gets_the_words_where_it_displays_them(rotate: int) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_blank_pdf(1))))
    writer.pages[0][NameObject("/Rotate")] = NumberObject(rotate)
    shown = PAGE_PT if rotate == 180 else PAGE_PT[::-1]
    _, boxes = _scan(_pixels(shown), SCAN_LINES)
    model = _page(1, boxes, _pixels(shown))
    output = searchable_pdf_from_pdf(_written(writer), [model])
    page = pdfium.PdfDocument(output)[0]
    _check_words(page, model, _pixels(shown))
    assert SCAN_TEXT in _text(page)


@pytest.mark.parametrize("rotate", [0, 90])
def test_a_crop_box_away_from_the_origin_and_a_smaller_recognized_image(rotate: int) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_blank_pdf(2))))
    crop = (36.0, 72.0, 540.0, 720.0)  # 504 x 648 pt shown, from (36, 72)
    writer.pages[1][NameObject("/CropBox")] = RectangleObject(crop)
    writer.pages[1][NameObject("/Rotate")] = NumberObject(rotate)
    shown = (crop[2] - crop[0], crop[3] - crop[1])
    shown = shown[::-1] if rotate else shown
    _, boxes = _scan(_pixels(shown), SCAN_LINES)
    # Recognized at half the resolution: boxes in the half-size image, to_input doubles them.
    half = [
        [(text, Box(b.left / 2, b.top / 2, b.right / 2, b.bottom / 2)) for text, b in row]
        for row in boxes
    ]
    model = _page(2, half, _pixels(shown), to_input=Transform.scaling(2))
    page = pdfium.PdfDocument(searchable_pdf_from_pdf(_written(writer), [model]))[1]
    _check_words(page, model, _pixels(shown))


def test_text_the_engine_read_sideways_lies_sideways_on_the_page() -> None:
    """The page was turned 90 degrees to be read: the words run up the displayed page."""
    shown = _pixels(PAGE_PT)
    _, boxes = _scan((shown[1], shown[0]), SCAN_LINES)  # the upright (turned) image
    to_input = Transform.rotation(90, shown[0], shown[1]).inverse()
    model = _page(1, boxes, shown, to_input=to_input)
    page = pdfium.PdfDocument(searchable_pdf_from_pdf(_blank_pdf(1), [model]))[0]
    _check_words(page, model, shown)


def test_a_right_to_left_line_extracts_in_reading_order() -> None:
    # Reading order: the first word is the right-hand one.
    rows = [[("שלום", Box(1200, 400, 1500, 470)), ("עולם", Box(850, 400, 1150, 470))]]
    model = _page(1, rows, _pixels(PAGE_PT))
    page = pdfium.PdfDocument(searchable_pdf_from_pdf(_blank_pdf(1), [model]))[0]
    _check_words(page, model, _pixels(PAGE_PT))
    assert _text(page).split("\n")[0].strip() == "שלום עולם"


def test_pages_not_recognized_or_without_words_leave_the_file_as_it_was() -> None:
    original = _blank_pdf(2)
    text_layer = Page(1, 2400, 3000, DPI, PageSource.TEXT_LAYER)
    empty = Page(2, 2400, 3000, DPI, PageSource.OCR)
    assert searchable_pdf_from_pdf(original, [text_layer, empty]) == original


def test_an_owner_password_pdf_becomes_a_searchable_decrypted_copy(
    scan: tuple[Image.Image, WordBoxes],
) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_born_digital(scan[0]))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-128")
    model = _page(2, scan[1], _pixels(PAGE_PT))
    output = searchable_pdf_from_pdf(_written(writer), [model])
    assert not PdfReader(io.BytesIO(output)).is_encrypted
    document = pdfium.PdfDocument(output)
    _check_words(document[1], model, _pixels(PAGE_PT))
    assert "Born-digital page 3" in _text(document[2])

    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")
    with pytest.raises(OcrError) as raised:
        searchable_pdf_from_pdf(_written(writer), [model])
    assert raised.value.reason is Reason.ENCRYPTED_DOCUMENT


def _written(writer: PdfWriter) -> bytes:
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def test_images_become_pages_of_their_size_with_the_words_on_them() -> None:
    with_dpi, boxes = _scan((1800, 1200), SCAN_LINES)
    png = io.BytesIO()
    with_dpi.convert("RGB").save(png, "PNG", dpi=(DPI, DPI))
    first = Image.open(io.BytesIO(png.getvalue()))
    second, second_boxes = _scan((1000, 1400), [("no", "dpi", "given")])
    pages = [
        _page(1, boxes, first.size, dpi=DPI),
        _page(2, second_boxes, second.size, dpi=0),  # taken as 300 dpi
    ]
    output = searchable_pdf_from_images([first, second], pages)
    document = pdfium.PdfDocument(output)
    assert len(document) == 2
    for page, model in zip(document, pages, strict=True):
        width, height = page.get_size()
        assert (width, height) == pytest.approx((model.width * 72 / DPI, model.height * 72 / DPI))
        _check_words(page, model, (round(model.width), round(model.height)))
    assert _text(document[0]) == SCAN_TEXT
    assert _text(document[1]) == "no dpi given"
    # One layer per page, and a greyscale image stays small (JPEG, not raw pixels).
    assert len(output) < 120_000


def test_a_one_bit_image_stays_one_bit() -> None:
    image, boxes = _scan((1200, 800), [("black", "and", "white")])
    output = searchable_pdf_from_images([image.convert("1")], [_page(1, boxes, image.size)])
    page = PdfReader(io.BytesIO(output)).pages[0]
    (embedded,) = (
        _dict(item)
        for item in _dict(_dict(page["/Resources"])["/XObject"]).values()
        if str(_dict(item)["/Subtype"]) == "/Image"
    )
    assert int(embedded["/BitsPerComponent"]) == 1  # type: ignore[call-overload]
    assert _array(embedded["/Filter"]) == ["/CCITTFaxDecode"]  # Group 4 fax compression
    assert _text(pdfium.PdfDocument(output)[0]) == "black and white"


def test_the_image_pdf_layer_is_invisible() -> None:
    image, boxes = _scan((1200, 800), SCAN_LINES)
    bare = searchable_pdf_from_images([image], [Page(1, 1200, 800, DPI, PageSource.OCR)])
    layered = searchable_pdf_from_images([image], [_page(1, boxes, image.size)])
    before = pdfium.PdfDocument(bare)[0].render(scale=1).to_pil()
    after = pdfium.PdfDocument(layered)[0].render(scale=1).to_pil()
    assert ImageChops.difference(before, after).getbbox() is None
