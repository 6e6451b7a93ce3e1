"""From an object's bytes to its document: format, headers, limits, language, which pages need
the engine, and the engine. Shared by the Lambda pipeline, the page tasks and the local command
line, so all refuse the same inputs with the same reasons and read the rest the same way.

A PDF page whose own text layer is usable is read from it (exact, milliseconds, no engine);
only the other pages are rendered and recognized (OCR_PDF_TEXT, inputs/pdf.py's `decide`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from ocr_service.core.config import Limits, PdfTextMode, Preprocessing, Settings
from ocr_service.core.failures import OcrError, Reason
from ocr_service.core.formats import ImageFormat, identify
from ocr_service.core.languages import (
    DEFAULT_LANGUAGE,
    LanguageChoice,
    LanguagePolicy,
    UnknownLanguageError,
)
from ocr_service.document.model import Document, Page, PageSource
from ocr_service.engines.port import NO_PREPROCESSING, OcrEngine
from ocr_service.inputs.image_info import ImageInfo, inspect_image
from ocr_service.inputs.pages import image_pages, pdf_pages
from ocr_service.inputs.pdf import PdfInput, decide


@dataclass(frozen=True)
class Examined:
    """An input that passed every header check, ready to plan."""

    data: bytes
    info: ImageInfo


@dataclass(frozen=True)
class PagePlan:
    """Which pages of an input are read from its text layer, and which are recognized."""

    page_count: int
    text_layer: tuple[int, ...]
    ocr: tuple[int, ...]


class DocumentRecognizer:
    """Checks inputs against the limits, plans their pages and reads them with one engine."""

    def __init__(
        self,
        engine: OcrEngine,
        limits: Limits,
        *,
        languages: LanguagePolicy | None = None,
        max_image_side: int = 0,
        preprocessing: Preprocessing = NO_PREPROCESSING,
        pdf_text: PdfTextMode = PdfTextMode.AUTO,
    ) -> None:
        self._preprocessing = preprocessing
        self.engine = engine
        self.limits = limits
        self._languages = languages or LanguagePolicy(DEFAULT_LANGUAGE, {}, engine.languages)
        self._max_image_side = max_image_side
        self.pdf_text = pdf_text

    @classmethod
    def configured(cls, engine: OcrEngine, settings: Settings) -> DocumentRecognizer:
        """As the settings say. An unknown default or prefix language raises
        UnknownLanguageError, listing the accepted names: a cold start must fail on it."""
        return cls(
            engine,
            settings.limits,
            languages=LanguagePolicy(
                settings.language, settings.language_by_prefix, engine.languages
            ),
            max_image_side=settings.max_image_side,
            preprocessing=settings.preprocessing,
            pdf_text=settings.pdf_text,
        )

    def examine(self, data: bytes) -> Examined:
        """Identify the format and read the headers; raise OcrError (with its
        reason code) for anything the engine must not see."""
        info = inspect_image(data, identify(data))
        limits = self.limits
        if info.pages > limits.max_pages:
            raise OcrError(
                Reason.TOO_MANY_PAGES,
                f"the document has {info.pages} pages; the limit is {limits.max_pages} "
                "(OCR_MAX_PAGES)",
            )
        if info.pixels_per_page > limits.max_pixels:
            raise OcrError(
                Reason.TOO_MANY_PIXELS,
                f"the image is {info.width}x{info.height} = {info.pixels_per_page:,} pixels; "
                f"the limit is {limits.max_pixels:,} per page (OCR_MAX_PIXELS)",
            )
        return Examined(data, info)

    def language_for(self, key: str, metadata: Mapping[str, str]) -> LanguageChoice:
        """The object's language (metadata, then key prefix, then default)."""
        try:
            return self._languages.choose(key, metadata)
        except UnknownLanguageError as error:
            raise OcrError(Reason.UNKNOWN_LANGUAGE, str(error)) from error

    def plan(self, examined: Examined, pages: Collection[int] | None = None) -> PagePlan:
        """Which of `pages` (default: all) come from the text layer and which need the engine.
        Images have no text layer; a PDF's pages are profiled one by one (milliseconds each)."""
        info = examined.info
        wanted = sorted(pages) if pages is not None else range(1, info.pages + 1)
        if info.image_format is not ImageFormat.PDF:
            return PagePlan(info.pages, (), tuple(wanted))
        with self._pdf(examined) as pdf:
            wanted = [number for number in wanted if number <= pdf.page_count]
            sources = {number: decide(pdf.profile(number), self.pdf_text) for number in wanted}
            return PagePlan(
                pdf.page_count,
                tuple(n for n in wanted if sources[n] is PageSource.TEXT_LAYER),
                tuple(n for n in wanted if sources[n] is PageSource.OCR),
            )

    def recognize(self, examined: Examined, language: str, plan: PagePlan) -> Document:
        """The planned pages, in page order: text-layer pages read, the others recognized.
        Raises OcrError when a page cannot be read or the engine cannot recognize it."""
        try:
            pages = self._read(examined, language, plan)
        except OcrError:
            raise
        except RuntimeError as error:  # the native engine failed in a way it does not name
            raise OcrError(
                Reason.ENGINE_ERROR, f"the {self.engine.name} engine failed: {error}"
            ) from error
        ordered = tuple(sorted(pages, key=lambda page: page.number))
        return Document(ordered, language, any(page.trial_limited for page in ordered))

    def _read(self, examined: Examined, language: str, plan: PagePlan) -> list[Page]:
        limits = self.limits
        info = examined.info
        preprocessing = self._preprocessing
        if info.image_format is not ImageFormat.PDF:
            images = image_pages(
                examined.data,
                info.image_format,
                max_pixels=limits.max_pixels,
                max_side=self._max_image_side,
                numbers=None if len(plan.ocr) == info.pages else plan.ocr,
            )
            return list(self.engine.recognize(images, language, preprocessing=preprocessing))
        with self._pdf(examined) as pdf:
            read = [pdf.text_page(number) for number in plan.text_layer]
            if plan.ocr:
                rendered = pdf_pages(pdf, plan.ocr, max_pixels=limits.max_pixels)
                read += self.engine.recognize(rendered, language, preprocessing=preprocessing)
            return read

    @contextmanager
    def _pdf(self, examined: Examined) -> Iterator[PdfInput]:
        pdf = PdfInput.open(examined.data, max_text_chars=self.limits.max_text_chars)
        try:
            yield pdf
        finally:
            pdf.close()
