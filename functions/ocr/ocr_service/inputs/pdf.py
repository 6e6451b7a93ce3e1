"""A PDF as input: each page's own text layer read with PDFium, the decision whether that text
is usable or the page must be recognized, and the page rendered for the engine when it must.

A born-digital page's text is exact and costs milliseconds; OCR of the same page costs
seconds and makes mistakes. A scan has no text (or an earlier OCR run's invisible layer); some
born-digital text is garbage (a font without a Unicode map). `decide` tells them apart from
a page's measured `PageTextProfile`. PDFium runs no JavaScript and opens no attachments unless
a form environment is set up, which nothing here does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import pypdfium2
import pypdfium2.raw as pdfium_c

from ocr_service.core.config import PdfTextMode
from ocr_service.core.failures import OcrError, Reason
from ocr_service.document.model import Page, PageSource, Transform
from ocr_service.inputs import pdf_text
from ocr_service.inputs.pdf_text import PageGeometry, PageObjects

if TYPE_CHECKING:
    from PIL.Image import Image

PDF_DPI = 300  # every PDF page is expressed in pixels at this resolution in the model
# Measured on an A4 page of DejaVu text: 8 to 12 points read without an error from 150 dpi up
# (README, "Choosing an engine"); a page too large for OCR_MAX_PIXELS even there is refused.
MIN_RENDER_DPI = 150
POINTS_PER_INCH = 72

# The decision rule's thresholds, set between the values measured with PDFium on the PDFs of
# tools/pdf_samples.py (tests/unit/test_pdf_input.py checks every one's decision):
# - unmapped share: every born-digital, encrypted, repaired, OCR-layer and stamped page 0.00;
#   the font without a ToUnicode map 1.00 (95 of 95 characters; 1855 of 1855 on a full page).
#   A few symbols without Unicode (a symbol font's bullets) stay far below a tenth, and a
#   tenth of the characters wrong reads worse than OCR.
MAX_UNMAPPED_SHARE = 0.10
# - image coverage: scans, with or without a layer or stamp, and text on a background image
#   1.00; born-digital pages 0.00. At least half the page under images is "mostly an image".
MOSTLY_IMAGE_COVERAGE = 0.5
# - visible characters on a mostly-image page: a stamped page number 1, "Page 2 of 9" 8, a
#   20-line letter on a letterhead image 970 (10x either way). Fewer are words stamped on a
#   scan, whose own text only OCR can read.
MIN_VISIBLE_CHARS_OVER_IMAGE = 80
# - invisible characters on a mostly-image page: an earlier OCR run's layer 58 and 131 per
#   page (also inside nested Form XObjects), every other fixture 0. Nothing but OCR writes
#   invisible text over a scan, so any of it is taken for a layer and kept.
MIN_OCR_LAYER_CHARS = 1


@dataclass(frozen=True)
class PageTextProfile:
    """What one page's text layer looks like, measured. Characters are those that are not
    whitespace (PDFium's generated spaces and line breaks are not counted)."""

    number: int  # from 1
    width_pt: float  # as displayed: the crop box, /Rotate applied
    height_pt: float
    rotation: int  # /Rotate, degrees clockwise
    chars: int
    visible_chars: int  # drawn in a render mode other than 3 (invisible) or 7 (clip only)
    invisible_chars: int  # render mode 3 or 7: an OCR layer (Form XObjects included)
    unmapped_chars: int  # no usable Unicode value (estimated from a sample on long pages)
    image_coverage: float  # 0..1: the union of the images' bounding boxes (forms included)
    images: int  # image objects drawn on the page

    @property
    def unmapped_share(self) -> float:
        return self.unmapped_chars / self.chars if self.chars else 0.0


def ocr_reason(profile: PageTextProfile) -> str | None:
    """Why AUTO recognizes this page (for logs), or None when its text layer is used."""
    if not profile.chars:
        return "the page has no text layer"
    if profile.unmapped_share > MAX_UNMAPPED_SHARE:
        return f"{profile.unmapped_share:.0%} of its characters have no Unicode value"
    if (
        profile.image_coverage >= MOSTLY_IMAGE_COVERAGE
        and profile.invisible_chars < MIN_OCR_LAYER_CHARS
        and profile.visible_chars < MIN_VISIBLE_CHARS_OVER_IMAGE
    ):
        return (
            f"the page is {profile.image_coverage:.0%} image with only "
            f"{profile.visible_chars} characters of text on it"
        )
    return None


def decide(profile: PageTextProfile, mode: PdfTextMode) -> PageSource:
    """TEXT_LAYER or OCR: mode OCR always recognizes; AUTO reads the text layer when usable."""
    if mode is PdfTextMode.OCR or ocr_reason(profile) is not None:
        return PageSource.OCR
    return PageSource.TEXT_LAYER


def render_dpi(width_pt: float, height_pt: float, dpi: float, max_pixels: int) -> float:
    """`dpi`, or the highest resolution at which a page this size stays within `max_pixels`
    (PDFium rounds each side up to whole pixels); OcrError when that is below MIN_RENDER_DPI."""
    if _pixels(width_pt, height_pt, dpi) <= max_pixels:
        return float(dpi)
    # (w s + 1)(h s + 1) <= max_pixels bounds the rounded-up size; solve it for the scale s.
    area, sides = width_pt * height_pt, width_pt + height_pt
    scale = (-sides + math.sqrt(sides * sides + 4 * area * max(0, max_pixels - 1))) / (2 * area)
    fitted = min(dpi, scale * POINTS_PER_INCH)
    while fitted > 0 and _pixels(width_pt, height_pt, fitted) > max_pixels:  # float rounding
        fitted *= 0.9999
    if fitted < MIN_RENDER_DPI:
        needed = _pixels(width_pt, height_pt, MIN_RENDER_DPI)
        raise OcrError(
            Reason.TOO_MANY_PIXELS,
            f"the page is {width_pt / POINTS_PER_INCH:.1f} x {height_pt / POINTS_PER_INCH:.1f} "
            f"inches: {needed:,} pixels even at {MIN_RENDER_DPI} dpi; the limit is "
            f"{max_pixels:,} per page (OCR_MAX_PIXELS)",
        )
    return fitted


def _pixels(width_pt: float, height_pt: float, dpi: float) -> int:
    scale = dpi / POINTS_PER_INCH
    return math.ceil(width_pt * scale) * math.ceil(height_pt * scale)


@dataclass(frozen=True)
class _PageText:
    """One loaded page with its PDFium text page, kept while the caller works on it."""

    number: int
    page: Any  # pypdfium2.PdfPage
    textpage: Any  # pypdfium2.PdfTextPage
    geometry: PageGeometry
    objects: PageObjects
    text: str

    @property
    def handle(self) -> Any:
        """The raw FPDF_TEXTPAGE: ctypes converts the wrapper on every call otherwise."""
        return self.textpage.raw

    def close(self) -> None:
        self.textpage.close()
        self.page.close()


class PdfInput:
    """One open PDF: each page's text profile, text layer and rendering. Pages are loaded
    one at a time (the last one stays loaded for the next call); close() releases PDFium's
    document. Not thread-safe, as PDFium is not."""

    def __init__(self, document: Any, max_text_chars: int) -> None:
        """Use `PdfInput.open`."""
        self._document = document
        self._max_text_chars = max_text_chars
        self._counted: dict[int, int] = {}  # characters per page read so far
        self._current: _PageText | None = None
        self.page_count: int = len(document)

    @classmethod
    def open(cls, data: bytes, *, max_text_chars: int) -> PdfInput:
        """OcrError when the PDF needs a user password or cannot be read (PDFium repairs a
        damaged cross-reference table on loading where it can, and opens a PDF encrypted
        with an owner password only, which restricts nothing it does)."""
        try:
            document = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as error:
            raise _open_error(error) from error
        return cls(document, max_text_chars)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._release()
        self._document.close()

    def profile(self, number: int) -> PageTextProfile:
        """The page's text layer measured for `decide`."""
        read = self._read(number)
        visible, invisible = pdf_text.visible_and_invisible(read.handle, read.text, read.objects)
        chars = visible + invisible
        return PageTextProfile(
            number=number,
            width_pt=read.geometry.width,
            height_pt=read.geometry.height,
            rotation=read.geometry.rotation,
            chars=chars,
            visible_chars=visible,
            invisible_chars=invisible,
            unmapped_chars=pdf_text.unmapped_chars(read.handle, read.text, chars),
            image_coverage=pdf_text.image_coverage(read.objects.images, read.geometry),
            images=len(read.objects.images),
        )

    def text_page(self, number: int) -> Page:
        """The page's text layer as a model page: boxes in points on the page as displayed
        (y down from its top-left corner), mapped to PDF_DPI pixels by `to_input`."""
        read = self._read(number)
        scale = PDF_DPI / POINTS_PER_INCH
        return Page(
            number=number,
            width=read.geometry.width * scale,
            height=read.geometry.height * scale,
            dpi=PDF_DPI,
            source=PageSource.TEXT_LAYER,
            blocks=pdf_text.blocks(read.handle, read.text, read.geometry),
            to_input=Transform.scaling(scale),
        )

    def render(self, number: int, *, max_pixels: int, dpi: int = PDF_DPI) -> tuple[Image, float]:
        """The page as displayed, grayscale, at `dpi` or, when that passes `max_pixels`, the
        highest dpi that fits (OcrError TOO_MANY_PIXELS, before rendering, when even
        MIN_RENDER_DPI does not); returns the image and the dpi used."""
        current = self._current if self._current and self._current.number == number else None
        page = current.page if current else self._load(number)
        try:
            width, height = page.get_size()
            if width <= 0 or height <= 0:
                raise OcrError(
                    Reason.CORRUPT_IMAGE, f"the PDF data is corrupt: page {number} has no area"
                )
            used = render_dpi(width, height, dpi, max_pixels)
            image = page.render(scale=used / POINTS_PER_INCH, grayscale=True).to_pil()
        finally:
            if current is None:
                page.close()
        return image, used

    def _load(self, number: int) -> Any:
        if not 1 <= number <= self.page_count:
            raise ValueError(f"page {number} is not in 1..{self.page_count}")
        try:
            return self._document[number - 1]
        except pypdfium2.PdfiumError as error:
            raise OcrError(
                Reason.CORRUPT_IMAGE, f"the PDF data is corrupt: page {number}: {error}"
            ) from error

    def _read(self, number: int) -> _PageText:
        if self._current is not None and self._current.number == number:
            return self._current
        self._release()
        page = self._load(number)
        textpage, current = None, None
        try:
            objects = pdf_text.page_objects(page)
            # Each text object holds a character at least: a page that would pass the limit
            # fails before PDFium builds its text page (about 160 bytes per character).
            self._count(number, objects.visible_text + objects.invisible_text, final=False)
            textpage = page.get_textpage()
            count = max(0, pdfium_c.FPDFText_CountChars(textpage))
            self._count(number, count, final=True)
            current = _PageText(
                number=number,
                page=page,
                textpage=textpage,
                geometry=_geometry(page),
                objects=objects,
                text=pdf_text.page_text(textpage.raw, count),
            )
        except pypdfium2.PdfiumError as error:
            raise OcrError(
                Reason.CORRUPT_IMAGE, f"the PDF data is corrupt: page {number}: {error}"
            ) from error
        finally:
            if current is None:  # failed: release what was loaded
                if textpage is not None:
                    textpage.close()
                page.close()
        self._current = current
        return current

    def _count(self, number: int, chars: int, *, final: bool) -> None:
        """OcrError once the pages read so far hold more than max_text_chars characters."""
        if number in self._counted:
            return
        total = sum(self._counted.values()) + chars
        if total > self._max_text_chars:
            raise OcrError(
                Reason.TOO_MUCH_TEXT,
                f"the PDF's text layer holds more than {self._max_text_chars:,} characters "
                f"(OCR_MAX_TEXT_CHARS): {total:,} or more by page {number}",
            )
        if final:
            self._counted[number] = chars

    def _release(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None


def _geometry(page: Any) -> PageGeometry:
    left, bottom, right, top = page.get_bbox()  # the crop box within the media box
    return PageGeometry(left, bottom, right, top, rotation=page.get_rotation())


def _open_error(error: Any) -> OcrError:
    """PDFium's load error as the failure it means (FPDF_GetLastError's codes)."""
    code = getattr(error, "err_code", None)
    if code == pdfium_c.FPDF_ERR_PASSWORD:
        return OcrError(
            Reason.ENCRYPTED_DOCUMENT,
            "the PDF is encrypted with a user password: it opens only with that password",
        )
    if code == pdfium_c.FPDF_ERR_SECURITY:
        return OcrError(
            Reason.ENCRYPTED_DOCUMENT,
            "the PDF is encrypted with a security handler PDFium does not support",
        )
    if code == pdfium_c.FPDF_ERR_SUCCESS:  # it loaded, but holds no page
        return OcrError(Reason.CORRUPT_IMAGE, "the PDF data is corrupt: it has no pages")
    return OcrError(Reason.CORRUPT_IMAGE, f"the PDF data is corrupt: {error}")
