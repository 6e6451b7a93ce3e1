"""The OCR engine port: what the pipeline, the command line and the benchmark need from an
engine, whichever it is (`aspose_engine.AsposeEngine`, `tesseract_engine.TesseractEngine`, or
a fake in tests). `engines.start_engine` starts the one the configuration names, once, in
Lambda's Init phase.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Protocol

from ocr_service.core.config import Preprocessing
from ocr_service.core.failures import OcrError, Reason
from ocr_service.core.formats import ImageFormat
from ocr_service.core.languages import LanguageCatalog

PAGE_SEPARATOR = "\f"  # form feed: the plain-text convention for a page break


@dataclass(frozen=True)
class Line:
    """One recognized line and where it is on its page, in pixels."""

    text: str
    x: int
    y: int
    width: int
    height: int
    confidence: float
    """As the engine estimates it: Tesseract's 0..100 scaled to 0..1; Aspose's own score (0 in
    trial mode)."""


@dataclass(frozen=True)
class Recognition:
    """The text of one object's pages, in order."""

    page_texts: tuple[str, ...]
    image_format: ImageFormat
    trial_limited: bool
    """The engine cut the text because it runs without a license (Aspose only)."""
    lines: tuple[tuple[Line, ...], ...] = ()
    """Each page's lines, in order."""
    native: Any = field(default=None, repr=False, compare=False)
    """What the engine needs to export the same recognition again (the searchable PDF)."""

    @property
    def text(self) -> str:
        """The pages separated by form feeds (no page's own text holds one)."""
        return PAGE_SEPARATOR.join(self.page_texts)

    @property
    def page_count(self) -> int:
        return len(self.page_texts)


@dataclass(frozen=True)
class StartupTimings:
    """Seconds spent in each step of starting an engine (0 for steps it does not have)."""

    native_setup_s: float
    import_s: float
    create_s: float
    license_s: float
    warm_up_s: float


@dataclass(frozen=True)
class SpeedModel:
    """How long an engine takes, for the time check before recognition (README, "Limits")."""

    seconds_per_megapixel: float
    pdf_page_megapixels: float
    """What one PDF page costs: its size is unknown until the engine renders it."""


@dataclass(frozen=True, order=True)
class PageRange:
    """Pages `first` to `last` of a document, counted from 1, both included."""

    first: int
    last: int

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


WARM_UP_IMAGE = "warmup.png"  # a few lines of rendered text on an A4 canvas, with the function


def warm_up(recognize: Callable[[bytes], object]) -> float:
    """Recognize the warm-up image once, so the first request does not load the models; the
    seconds it took."""
    image = resources.files(__package__).joinpath(WARM_UP_IMAGE).read_bytes()
    started = time.perf_counter()
    recognize(image)
    return time.perf_counter() - started


NO_PREPROCESSING = Preprocessing(filters=(), upscale_small_font=False, auto_invert=True)


class EngineSetupError(RuntimeError):
    """The engine cannot start here (a library or its data is missing); the message says what
    to deploy or install. Raised during Init: the cold start fails with it."""


class MissingModelError(OcrError):
    """A language or preprocessing option needs model data that is not installed (and may
    not be downloaded); the message says what to add and how."""

    def __init__(self, message: str, model: str) -> None:
        super().__init__(Reason.MODEL_MISSING, message)
        self.model = model


class OcrEngine(Protocol):
    """What the pipeline needs from an OCR engine."""

    @property
    def name(self) -> str:
        """`aspose` or `tesseract`, as OCR_ENGINE names it (recorded on every result)."""
        ...

    @property
    def version(self) -> str: ...

    @property
    def licensed(self) -> bool:
        """False only for Aspose in trial mode (each page cut to 300 characters)."""
        ...

    @property
    def languages(self) -> LanguageCatalog: ...

    @property
    def speed(self) -> SpeedModel: ...

    @property
    def timings(self) -> StartupTimings: ...

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
        """Every page of an image or document (or of `pages` only, for TIFF and PDF), resized
        by `scale` first if given, in `language` (a name `languages.resolve` returned; the
        engine's default if None).

        Raises MissingModelError when the language needs data that is not installed, and
        OcrError (unreadable-image) when the engine cannot read the data."""
        ...

    def searchable_pdf(self, recognition: Recognition) -> bytes:
        """The pages as a PDF with the recognized text under the images."""
        ...
