"""From an object's bytes to its text: format, headers, limits, language, normalisation,
scaling, and the engine. Shared by the Lambda pipeline and the local command line, so both
refuse the same inputs with the same reasons and recognize the rest the same way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ocr_service.core.config import Limits, Preprocessing, Settings
from ocr_service.core.failures import OcrError, Reason
from ocr_service.core.formats import identify
from ocr_service.core.languages import (
    DEFAULT_LANGUAGE,
    LanguageChoice,
    LanguagePolicy,
    UnknownLanguageError,
)
from ocr_service.engines.port import NO_PREPROCESSING, OcrEngine, PageRange, Recognition
from ocr_service.inputs.image_info import ImageInfo, inspect_image
from ocr_service.inputs.normalize import normalize_bytes


@dataclass(frozen=True)
class Examined:
    """An input that passed every check, ready for the engine."""

    data: bytes
    info: ImageInfo


class DocumentRecognizer:
    """Checks inputs against the limits and recognizes them with one engine."""

    def __init__(
        self,
        engine: OcrEngine,
        limits: Limits,
        *,
        languages: LanguagePolicy | None = None,
        max_image_side: int = 0,
        preprocessing: Preprocessing = NO_PREPROCESSING,
    ) -> None:
        self._preprocessing = preprocessing
        self.engine = engine
        self.limits = limits
        self._languages = languages or LanguagePolicy(DEFAULT_LANGUAGE, {}, engine.languages)
        self._max_image_side = max_image_side

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

    def recognize(
        self, examined: Examined, language: str, pages: PageRange | None = None
    ) -> Recognition:
        """Recognize an examined input; raise OcrError when the engine cannot.

        Whatever the engine, the input is normalised first (EXIF orientation, colour modes a
        scanner, phone or screenshot produces, transparency, WEBP); inputs that need none of
        it reach the engine as they came, undecoded."""
        data, image_format = normalize_bytes(
            examined.data, examined.info.image_format, max_pixels=self.limits.max_pixels
        )
        try:
            return self.engine.recognize(
                data,
                image_format,
                self._scale(examined.info),
                language,
                preprocessing=self._preprocessing,
                pages=pages,
            )
        except OcrError:
            raise
        except RuntimeError as error:  # the native engine failed in a way it does not name
            raise OcrError(
                Reason.ENGINE_ERROR, f"the {self.engine.name} engine failed: {error}"
            ) from error

    def _scale(self, info: ImageInfo) -> float | None:
        """The factor that brings an image's long side down to the configured maximum:
        fewer pixels, faster recognition, text still legible (README, "Sizing")."""
        longest = max(info.width, info.height)
        if not self._max_image_side or longest <= self._max_image_side:
            return None  # PDF pages have no known size (0) and are never scaled here
        return self._max_image_side / longest
