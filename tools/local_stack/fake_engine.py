"""A fast fake OCR engine for worker processes (`--fake-engine`): the pipeline's checks run as
usual, and the text identifies the bytes (and the page) it was given, so a stale or misplaced
result shows."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from ocr_service.aspose_engine import ASPOSE_SPEED
from ocr_service.engine import PageRange, Recognition, SpeedModel, StartupTimings
from ocr_service.formats import ImageFormat
from ocr_service.image_info import inspect_image
from ocr_service.languages import AsposeLanguages
from ocr_service.tesseract_engine import TESSERACT_SPEED

MULTI_PAGE = (ImageFormat.TIFF, ImageFormat.PDF)


def fake_text(data: bytes, image_format: ImageFormat) -> str:
    """What the fake engine "recognizes" in a single image: unique per content."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    return f"fake text of {len(data)} bytes of {image_format.value}, sha256 {digest}: ünïcödé ✓"


def fake_page_text(data: bytes, image_format: ImageFormat, page: int) -> str:
    return f"page {page} of {fake_text(data, image_format)}"


def fake_document_text(data: bytes, image_format: ImageFormat, page_count: int) -> str:
    """A whole multi-page document's text, pages separated by a form feed."""
    return "\f".join(fake_page_text(data, image_format, n) for n in range(1, page_count + 1))


def speed_of(engine: str) -> SpeedModel:
    """The speed model of the engine the fake stands in for: the function's time checks
    (estimate against the engine's Timeout) then decide as they would for that engine."""
    return TESSERACT_SPEED if engine == "tesseract" else ASPOSE_SPEED


@dataclass
class FakeEngine:
    """An OcrEngine whose text depends on the bytes only; `page_seconds` of sleep per page."""

    page_seconds: float = 0.0
    name: str = "fake"
    version: str = "0.0-local-fake"
    licensed: bool = False
    timings: StartupTimings = field(default_factory=lambda: StartupTimings(0, 0, 0, 0, 0))
    languages: AsposeLanguages = field(
        default_factory=lambda: AsposeLanguages({"LATIN", "ENG", "DEU", "FRA", "RUS", "UKR"})
    )
    speed: SpeedModel = ASPOSE_SPEED

    def recognize(
        self,
        data: bytes,
        image_format: ImageFormat,
        *_: object,
        pages: PageRange | None = None,
        **__: object,
    ) -> Recognition:
        """Options such as a scale or a language are accepted and ignored."""
        if image_format not in MULTI_PAGE:
            time.sleep(self.page_seconds)
            return Recognition((fake_text(data, image_format),), image_format, not self.licensed)
        count = inspect_image(data, image_format).pages
        numbers = range(pages.first, pages.last + 1) if pages else range(1, count + 1)
        time.sleep(self.page_seconds * len(numbers))
        texts = tuple(fake_page_text(data, image_format, n) for n in numbers)
        return Recognition(texts, image_format, not self.licensed)

    def searchable_pdf(self, recognition: Recognition) -> bytes:
        return b"%PDF-1.7 fake searchable " + recognition.text.encode()
