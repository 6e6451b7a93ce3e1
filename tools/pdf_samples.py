"""PDFs the PDF-input tests and the benchmark build in memory: born-digital text (fpdf2 with an
embedded DejaVu font, so the text has a ToUnicode map), scans (Pillow renders the same lines at
300 dpi and the page holds only that image), scans with an old invisible OCR layer, text whose
font maps to no Unicode, encrypted and damaged files.

Every text page is laid out alike (`LEFT`, `FIRST_BASELINE`, `LINE_HEIGHT`, in points from the
top-left corner) so a test knows where fpdf2 put each word."""

from __future__ import annotations

import datetime
import io
import re
from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import TextMode
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    RectangleObject,
    TextStringObject,
)

FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
A4 = (595.28, 841.89)  # points
FONT_SIZE = 11.0  # points
LEFT = 72.0  # every line starts an inch from the left edge
FIRST_BASELINE = 100.0  # points down from the top edge
LINE_HEIGHT = 16.0
STAMP_BASELINE = 40.0  # words stamped on a scan sit above the scanned lines
SCAN_DPI = 300
TITLE = "PDF input test document"
LINK_URL = "https://example.com/ocr"

_FIXED_DATE = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)  # the same bytes every run

PAGE_LINES: tuple[tuple[str, ...], ...] = (
    (
        "Invoice number 4821 for Acme",
        "The quick brown fox jumps over",
        "the lazy dog near the river bank",
        "Payment is due within thirty days",
        "Thank you for your business today",
    ),
    (
        "Corner Bakery receipt",
        "Two rye loaves paid in cash",
        "Thank you come again",
    ),
)


REPORT_WORDS = (
    *("the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog"),
    *("invoice", "payment", "due", "within", "thirty", "days"),
)


def report_pages(count: int, lines_per_page: int = 45) -> list[list[str]]:
    """A long born-digital report's pages (the benchmark's): full A4 pages of 11-word lines,
    about 2,500 characters and 540 words each, every line different."""
    words = REPORT_WORDS
    return [
        [
            " ".join(words[(page * 7 + line * 3 + k) % len(words)] for k in range(11))
            + f" {page + 1}.{line + 1}"
            for line in range(lines_per_page)
        ]
        for page in range(count)
    ]


def string_width(text: str) -> float:
    """How wide fpdf2 sets `text` in the pages' font, in points."""
    pdf = _new_pdf()
    return float(pdf.get_string_width(text))


def born_digital_pdf(pages: Sequence[Sequence[str]]) -> bytes:
    """Each page's lines as real text, with a title, an outline entry per page and a link on
    the first line of the first page (the searchable-PDF output must keep them)."""
    pdf = _new_pdf()
    for number, lines in enumerate(pages, start=1):
        pdf.add_page()
        pdf.start_section(f"Page {number}")
        _write_lines(pdf, lines)
        if number == 1 and lines:
            pdf.link(LEFT, FIRST_BASELINE - FONT_SIZE, 200, FONT_SIZE * 1.3, LINK_URL)
    return _output(pdf)


def scanned_pdf(pages: Sequence[Sequence[str]]) -> bytes:
    """Each page only an image of its lines, rendered at 300 dpi, filling the page."""
    pdf = _new_pdf()
    for lines in pages:
        pdf.add_page()
        _draw_scan(pdf, lines)
    return _output(pdf)


def scanned_with_ocr_layer_pdf(
    pages: Sequence[Sequence[str]],
    layer_text: Sequence[Sequence[str]] | None = None,
    *,
    in_forms: bool = False,
    stamp: str | None = None,
) -> bytes:
    """Scans carrying an invisible text layer (render mode 3), as an earlier OCR run leaves
    it: `layer_text` per page (the scanned lines themselves by default). With `in_forms`,
    each page's content (image and layer) sits two Form XObjects deep; a `stamp` is printed
    visibly at the top of each page."""
    layers = pages if layer_text is None else layer_text
    pdf = _new_pdf()
    for lines, layer in zip(pages, layers, strict=True):
        pdf.add_page()
        _draw_scan(pdf, lines)
        # In a saved graphics state: fpdf2 sets no "0 Tr" when the mode goes back to FILL,
        # and a render mode lasts past ET, so the stamp would be invisible too.
        with pdf.local_context(text_mode=TextMode.INVISIBLE):
            _write_lines(pdf, layer)
        if stamp:
            pdf.text(LEFT, STAMP_BASELINE, stamp)
    data = _output(pdf)
    return _nest_in_forms(data, depth=2) if in_forms else data


def no_unicode_pdf(lines: Sequence[str]) -> bytes:
    """`lines` drawn in a font without a ToUnicode map: fpdf2 numbers the subset's glyphs
    1, 2, 3 ... in order of use (Identity-H), so without the map the codes mean nothing and
    PDFium extracts control characters; the page still renders the right words."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(born_digital_pdf([lines]))))
    for page in writer.pages:
        fonts = page["/Resources"]["/Font"]  # type: ignore[index]
        for font in fonts.values():
            del font.get_object()[NameObject("/ToUnicode")]
    return _written(writer)


def image_with_few_words_pdf(lines: Sequence[str], words: str = "Page 2 of 9") -> bytes:
    """A scanned page of `lines` with a few printed words (a header a tool stamped on it)."""
    pdf = _new_pdf()
    pdf.add_page()
    _draw_scan(pdf, lines)
    pdf.text(LEFT, STAMP_BASELINE, words)
    return _output(pdf)


def text_on_image_pdf(lines: Sequence[str]) -> bytes:
    """Born-digital text over a page-sized background image (a letterhead with its own
    lettering, as some word processors export it)."""
    pdf = _new_pdf()
    pdf.add_page()
    scale = SCAN_DPI / 72
    background = Image.new("L", (round(A4[0] * scale), round(A4[1] * scale)), 250)
    font = ImageFont.truetype(str(FONT_PATH), round(20 * scale))
    ImageDraw.Draw(background).text((LEFT * scale, 20 * scale), "ACME Corporation", font=font)
    pdf.image(background, x=0, y=0, w=pdf.w, h=pdf.h)
    _write_lines(pdf, lines)
    return _output(pdf)


def mixed_pdf(pages: Sequence[Sequence[str]]) -> bytes:
    """Born-digital and scanned pages interleaved: odd page numbers are text, even ones scans."""
    pdf = _new_pdf()
    for number, lines in enumerate(pages, start=1):
        pdf.add_page()
        if number % 2:
            _write_lines(pdf, lines)
        else:
            _draw_scan(pdf, lines)
    return _output(pdf)


def encrypted_pdf(user_password: str | None, owner_password: str) -> bytes:
    """The born-digital sample encrypted with AES-256; no user password opens it for anyone
    (the owner password only restricts what a viewer allows)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(born_digital_pdf(PAGE_LINES))))
    writer.encrypt(user_password or "", owner_password, algorithm="AES-256")
    return _written(writer)


def damaged_xref_pdf(pages: Sequence[Sequence[str]] = PAGE_LINES) -> bytes:
    """Born-digital, with every cross-reference offset wrong (a comment shifts all objects)
    and a startxref that points nowhere: readers must rebuild the table by scanning."""
    data = born_digital_pdf(pages)
    header_end = data.index(b"\n") + 1
    data = data[:header_end] + b"% inserted by a broken tool\n" + data[header_end:]
    found = re.search(rb"startxref\s+(\d+)", data)
    assert found is not None
    digits = found.group(1)
    wrong = str(len(data) * 7).encode()[: len(digits)].rjust(len(digits), b"9")
    return data[: found.start(1)] + wrong + data[found.end(1) :]


def rotated_pdf(lines: Sequence[str], degrees: int = 90) -> bytes:
    """A born-digital page shown turned clockwise by `degrees` (/Rotate)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(born_digital_pdf([lines]))))
    writer.pages[0].rotate(degrees)
    return _written(writer)


def sized_pdf(width_pt: float, height_pt: float, lines: Sequence[str] = ("Large page",)) -> bytes:
    """A page of any size (a MediaBox beyond what fpdf2 lays out, up to PDF's 200 inches)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(born_digital_pdf([lines]))))
    writer.pages[0].mediabox = RectangleObject((0, 0, width_pt, height_pt))
    return _written(writer)


def javascript_pdf() -> bytes:
    """The born-digital sample with JavaScript run on opening (a viewer that runs it would
    show an alert); reading the text must not run it."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(born_digital_pdf(PAGE_LINES))))
    action = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Action"),
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.alert('opened');"),
        }
    )
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    return _written(writer)


def render_scan(lines: Sequence[str], size: tuple[float, float] = A4) -> Image.Image:
    """The page a scanner would see: `lines` laid out as the text pages lay them out, black
    on white, at 300 dpi."""
    scale = SCAN_DPI / 72
    image = Image.new("L", (round(size[0] * scale), round(size[1] * scale)), 255)
    font = ImageFont.truetype(str(FONT_PATH), round(FONT_SIZE * scale))
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        baseline = (FIRST_BASELINE + index * LINE_HEIGHT) * scale
        draw.text((LEFT * scale, baseline), line, fill=0, font=font, anchor="ls")
    return image


def _new_pdf() -> FPDF:
    pdf = FPDF(unit="pt", format=A4)
    pdf.set_title(TITLE)
    pdf.set_creation_date(_FIXED_DATE)
    pdf.add_font("DejaVu", fname=str(FONT_PATH))
    pdf.set_font("DejaVu", size=FONT_SIZE)
    pdf.set_auto_page_break(auto=False)
    return pdf


def _write_lines(pdf: FPDF, lines: Sequence[str]) -> None:
    for index, line in enumerate(lines):
        pdf.text(LEFT, FIRST_BASELINE + index * LINE_HEIGHT, line)


def _draw_scan(pdf: FPDF, lines: Sequence[str]) -> None:
    pdf.image(render_scan(lines), x=0, y=0, w=pdf.w, h=pdf.h)


def _output(pdf: FPDF) -> bytes:
    return bytes(pdf.output())


def _written(writer: PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _nest_in_forms(data: bytes, depth: int) -> bytes:
    """Each page's content moved into a Form XObject, `depth` times over."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    for page in writer.pages:
        for level in range(depth):
            content = page.get_contents()
            assert content is not None
            form = DecodedStreamObject()
            form.set_data(content.get_data())
            form.update(
                {
                    NameObject("/Type"): NameObject("/XObject"),
                    NameObject("/Subtype"): NameObject("/Form"),
                    NameObject("/BBox"): ArrayObject(FloatObject(v) for v in page.mediabox),
                    NameObject("/Resources"): page["/Resources"],
                }
            )
            name = NameObject(f"/Nest{level}")
            resources = DictionaryObject(
                {NameObject("/XObject"): DictionaryObject({name: writer._add_object(form)})}
            )
            page[NameObject("/Resources")] = writer._add_object(resources)
            body = DecodedStreamObject()
            body.set_data(f"q {name} Do Q".encode())
            page[NameObject("/Contents")] = writer._add_object(body)
    return _written(writer)
