"""The one fake OCR engine: for the tests, `make up --fake-engine` and `make load --fake-engine`.

The pipeline's checks run as usual (the header is read, the pages counted), and the text
identifies the bytes (and the page) it was given, so a stale or misplaced result shows:
`fake_text` and `fake_document_text` say what a result must read.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

from ocr_service.core.config import DEFAULT_LIMITS, DEFAULT_MAX_IMAGE_SIDE, Preprocessing
from ocr_service.core.failures import OcrError, Reason
from ocr_service.core.formats import ImageFormat
from ocr_service.core.languages import AsposeLanguages
from ocr_service.document.model import Block, Box, Line, Page, PageSource, Word
from ocr_service.engines.aspose import ASPOSE_SPEED
from ocr_service.engines.port import NO_PREPROCESSING, SpeedModel, StartupTimings
from ocr_service.engines.tesseract import TESSERACT_SPEED
from ocr_service.inputs.pages import PageImage, image_pages, pdf_pages
from ocr_service.inputs.pdf import PdfInput

FAKE_VERSION = "0.0-fake"
FAKE_LANGUAGES = frozenset({"LATIN", "CYRILLIC", "ENG", "DEU", "FRA", "RUS", "UKR"})


def page_identity(image: Image) -> str:
    """What the fake "sees" of a page: its size, mode and a digest of its pixels."""
    digest = hashlib.sha256(image.tobytes()).hexdigest()[:16]
    return f"{image.width}x{image.height} {image.mode} pixels, sha256 {digest}"


def decoded_pages(data: bytes, image_format: ImageFormat) -> list[PageImage]:
    """The pages the pipeline hands an engine for an image input or a text-less PDF (with the
    default OCR_MAX_IMAGE_SIDE and OCR_MAX_PIXELS), for tests to predict the fake's text."""
    max_pixels = DEFAULT_LIMITS.max_pixels
    if image_format is not ImageFormat.PDF:
        return list(
            image_pages(data, image_format, max_pixels=max_pixels, max_side=DEFAULT_MAX_IMAGE_SIDE)
        )
    pdf = PdfInput.open(data, max_text_chars=DEFAULT_LIMITS.max_text_chars)
    try:
        return list(pdf_pages(pdf, range(1, pdf.page_count + 1), max_pixels=max_pixels))
    finally:
        pdf.close()


def fake_page_text(data: bytes, image_format: ImageFormat, page: int) -> str:
    """What the fake engine "recognizes" on page `page` (from 1) of an input."""
    image = decoded_pages(data, image_format)[page - 1].image
    return _text(page, image)


def fake_text(data: bytes, image_format: ImageFormat) -> str:
    """A single image's text: unique per content."""
    return fake_page_text(data, image_format, 1)


def fake_document_text(data: bytes, image_format: ImageFormat, page_count: int) -> str:
    """A whole multi-page document's text, pages separated by a form feed."""
    pages = decoded_pages(data, image_format)[:page_count]
    return "\f".join(_text(number, page.image) for number, page in enumerate(pages, start=1))


def seen(*inputs: bytes, image_format: ImageFormat = ImageFormat.PNG) -> list[str]:
    """What `FakeEngine.calls` holds after recognizing `inputs` (their first pages)."""
    return [page_identity(decoded_pages(data, image_format)[0].image) for data in inputs]


def _text(number: int, image: Image) -> str:
    return f"page {number} of fake text of {page_identity(image)}: ünïcödé ✓"


def speed_of(engine: str) -> SpeedModel:
    """The speed model of the engine the fake stands in for: the function's time checks
    (estimate against the engine's Timeout) then decide as they would for that engine."""
    return TESSERACT_SPEED if engine == "tesseract" else ASPOSE_SPEED


@dataclass
class FakeEngine:
    """An OcrEngine whose text depends on the pixels it is given only (`fake_page_text`).

    `page_seconds` of sleep per page; pages of the `unreadable` inputs are refused as the real
    engines refuse undecodable pixel data; with `record`, each call's first page (`calls`, as
    `page_identity` says), the scale it was given at (`scales`: None when unscaled), the
    language (`requested_languages`) and the page numbers (`page_sets`) are kept for tests to
    read; `during_recognition` is a hook to change the world while the engine works (races,
    faults), given the first page's identity.
    """

    page_seconds: float = 0.0
    record: bool = False
    unreadable: Collection[bytes] = ()
    during_recognition: Callable[[str], None] | None = None
    name: str = "fake"
    version: str = FAKE_VERSION
    licensed: bool = False
    timings: StartupTimings = field(default_factory=lambda: StartupTimings(0, 0, 0, 0, 0))
    languages: AsposeLanguages = field(default_factory=lambda: AsposeLanguages(FAKE_LANGUAGES))
    speed: SpeedModel = ASPOSE_SPEED
    calls: list[str] = field(default_factory=list)
    scales: list[float | None] = field(default_factory=list)
    requested_languages: list[str | None] = field(default_factory=list)
    page_sets: list[tuple[int, ...]] = field(default_factory=list)
    _refused: set[str] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        self._refused = {
            page_identity(page.image)
            for data in self.unreadable
            for page in decoded_pages(data, ImageFormat.PNG)
        }

    def recognize(
        self,
        pages: Iterable[PageImage],
        language: str | None = None,
        *,
        preprocessing: Preprocessing = NO_PREPROCESSING,
    ) -> Iterator[Page]:
        """Language and preprocessing are recorded (with `record`) and otherwise ignored."""
        given = list(pages)
        if not given:
            return iter(())
        first = page_identity(given[0].image)
        if self.record:
            self.calls.append(first)
            scale = given[0].image.width / given[0].input_width
            self.scales.append(None if round(scale, 4) == 1 else round(scale, 4))
            self.requested_languages.append(language)
            self.page_sets.append(tuple(page.number for page in given))
        if self.during_recognition is not None:
            self.during_recognition(first)
        if first in self._refused:
            raise OcrError(Reason.UNREADABLE_IMAGE, "fake engine: corrupt image")
        time.sleep(self.page_seconds * len(given))
        return iter([self._page(page, language) for page in given])

    def _page(self, page: PageImage, language: str | None) -> Page:
        box = Box(10, 20, 310, 44)
        words = tuple(Word(text, box, 0.5) for text in _text(page.number, page.image).split())
        return Page(
            number=page.number,
            width=page.input_width,
            height=page.input_height,
            dpi=page.dpi,
            source=PageSource.OCR,
            blocks=(Block((Line(words, box, 0.5),), box),),
            to_input=page.to_input,
            language=language or "",
            trial_limited=not self.licensed,
        )
