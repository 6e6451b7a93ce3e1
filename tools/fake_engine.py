"""The one fake OCR engine: for the tests, `make up --fake-engine` and `make load --fake-engine`.

The pipeline's checks run as usual (the header is read, the pages counted), and the text
identifies the bytes (and the page) it was given, so a stale or misplaced result shows:
`fake_text` and `fake_document_text` say what a result must read.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from ocr_service.core.config import Preprocessing
from ocr_service.core.failures import OcrError, Reason
from ocr_service.core.formats import ImageFormat
from ocr_service.core.languages import AsposeLanguages
from ocr_service.engines.aspose import ASPOSE_SPEED
from ocr_service.engines.port import (
    NO_PREPROCESSING,
    Line,
    PageRange,
    Recognition,
    SpeedModel,
    StartupTimings,
)
from ocr_service.engines.tesseract import TESSERACT_SPEED
from ocr_service.inputs.image_info import inspect_image

FAKE_VERSION = "0.0-fake"
FAKE_LANGUAGES = frozenset({"LATIN", "CYRILLIC", "ENG", "DEU", "FRA", "RUS", "UKR"})


def fake_text(data: bytes, image_format: ImageFormat) -> str:
    """What the fake engine "recognizes" in a single image: unique per content."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    return f"fake text of {len(data)} bytes of {image_format.value}, sha256 {digest}: ünïcödé ✓"


def fake_page_text(data: bytes, image_format: ImageFormat, page: int) -> str:
    """Page `page` of a multi-page document (TIFF, PDF)."""
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
    """An OcrEngine whose text depends on the bytes only (`fake_text`, `fake_page_text`).

    `page_seconds` of sleep per page; `unreadable` bytes are refused as the real engines refuse
    undecodable pixel data; with `record`, each call's arguments are kept (`calls`, `scales`,
    `requested_languages`, `page_ranges`) for tests to read; `during_recognition` is a hook to
    change the world while the engine works (races, faults).
    """

    page_seconds: float = 0.0
    record: bool = False
    unreadable: Collection[bytes] = ()
    during_recognition: Callable[[bytes], None] | None = None
    name: str = "fake"
    version: str = FAKE_VERSION
    licensed: bool = False
    timings: StartupTimings = field(default_factory=lambda: StartupTimings(0, 0, 0, 0, 0))
    languages: AsposeLanguages = field(default_factory=lambda: AsposeLanguages(FAKE_LANGUAGES))
    speed: SpeedModel = ASPOSE_SPEED
    calls: list[bytes] = field(default_factory=list)
    scales: list[float | None] = field(default_factory=list)
    requested_languages: list[str | None] = field(default_factory=list)
    page_ranges: list[PageRange | None] = field(default_factory=list)

    def recognize(
        self,
        data: bytes,
        image_format: ImageFormat,
        scale: float | None = None,
        language: str | None = None,
        *,
        preprocessing: Preprocessing = NO_PREPROCESSING,
        pages: PageRange | None = None,
    ) -> Recognition:
        """Scale, language and preprocessing are recorded (with `record`) and otherwise ignored."""
        if self.record:
            self.calls.append(data)
            self.scales.append(scale)
            self.requested_languages.append(language)
            self.page_ranges.append(pages)
        if self.during_recognition is not None:
            self.during_recognition(data)
        if data in self.unreadable:
            raise OcrError(Reason.UNREADABLE_IMAGE, "fake engine: corrupt image")
        if image_format.is_multi_page:
            count = inspect_image(data, image_format).pages
            numbers = range(pages.first, pages.last + 1) if pages else range(1, count + 1)
            texts = tuple(fake_page_text(data, image_format, n) for n in numbers)
        else:
            texts = (fake_text(data, image_format),)
        time.sleep(self.page_seconds * len(texts))
        return Recognition(
            page_texts=texts,
            image_format=image_format,
            trial_limited=not self.licensed,
            lines=tuple((Line(page, 10, 20, 300, 24, 0.5),) for page in texts),
        )

    def searchable_pdf(self, recognition: Recognition) -> bytes:
        return b"%PDF-1.7 fake searchable " + recognition.text.encode()
