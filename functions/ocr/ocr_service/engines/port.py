"""The OCR engine port: what the pipeline, the command line and the benchmark need from an
engine, whichever it is (`aspose_engine.AsposeEngine`, `tesseract_engine.TesseractEngine`, or
a fake in tests). `engines.start_engine` starts the one the configuration names, once, in
Lambda's Init phase.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Protocol

from ocr_service.core.config import Preprocessing
from ocr_service.core.failures import OcrError, Reason
from ocr_service.core.formats import ImageFormat
from ocr_service.core.languages import LanguageCatalog
from ocr_service.document.model import PAGE_SEPARATOR, Page
from ocr_service.inputs.pages import PageImage, image_pages


@dataclass(frozen=True)
class Recognition:
    """An input's recognized pages, in order, as the engine-neutral model."""

    pages: tuple[Page, ...]
    image_format: ImageFormat

    @property
    def trial_limited(self) -> bool:
        """The engine cut the text because it runs without a license (Aspose only)."""
        return any(page.trial_limited for page in self.pages)

    @property
    def text(self) -> str:
        return PAGE_SEPARATOR.join(page.text for page in self.pages)

    @property
    def page_texts(self) -> tuple[str, ...]:
        return tuple(page.text for page in self.pages)


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


WARM_UP_MAX_PIXELS = 40_000_000
WARM_UP_IMAGE = "warmup.png"  # a few lines of rendered text on an A4 canvas, with the function


def warm_up(recognize: Callable[[list[PageImage]], Iterable[Page]]) -> float:
    """Recognize the warm-up image once, so the first request does not load the models; the
    seconds it took."""
    data = resources.files(__package__).joinpath(WARM_UP_IMAGE).read_bytes()
    pages = list(image_pages(data, ImageFormat.PNG, max_pixels=WARM_UP_MAX_PIXELS))
    started = time.perf_counter()
    list(recognize(pages))
    return time.perf_counter() - started


def recognize_image(
    engine: OcrEngine,
    data: bytes,
    image_format: ImageFormat,
    language: str | None = None,
    *,
    preprocessing: Preprocessing | None = None,
    max_pixels: int = WARM_UP_MAX_PIXELS,
) -> Recognition:
    """Every page of an image input (not a PDF: recognition/ plans those), as they come: for
    the engine tests, the benchmark and the warm-up."""
    pages = image_pages(data, image_format, max_pixels=max_pixels)
    recognized = engine.recognize(pages, language, preprocessing=preprocessing or NO_PREPROCESSING)
    return Recognition(tuple(recognized), image_format)


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
        pages: Iterable[PageImage],
        language: str | None = None,
        *,
        preprocessing: Preprocessing = NO_PREPROCESSING,
    ) -> Iterator[Page]:
        """Each page image, recognized, in the order given (as model pages whose `to_input`
        maps the engine's boxes onto the input page), in `language` (a name
        `languages.resolve` returned; the engine's default if None).

        Raises MissingModelError when the language needs data that is not installed, and
        OcrError (unreadable-image) when the engine cannot read a page."""
        ...
