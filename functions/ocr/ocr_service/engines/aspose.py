"""The Aspose.OCR adapter of the engine port, started once per execution environment and reused
by every request.

`AsposeEngine.start` belongs in Lambda's Init phase: it prepares the native runtime, imports the
engine, applies the license, and runs a small warm-up recognition so that model loading is paid
before the first request rather than by it.
"""

from __future__ import annotations

import io
import re
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

from ocr_service.core.config import PREPROCESSING_FILTERS, EngineSettings, Preprocessing
from ocr_service.core.failures import OcrError, Reason
from ocr_service.core.formats import ImageFormat, identify
from ocr_service.core.languages import AsposeLanguages
from ocr_service.engines.licensing import LicenseError, fetch_license
from ocr_service.engines.native import prepare_runtime_environment
from ocr_service.engines.port import (
    NO_PREPROCESSING,
    PAGE_SEPARATOR,
    Line,
    MissingModelError,
    PageRange,
    Recognition,
    SpeedModel,
    StartupTimings,
    warm_up,
)

# The engine appends this to each page's text and to `warnings` when it runs unlicensed.
TRIAL_WARNING = "Trial Licenses"
# How the engine says a model is missing once downloads are off.
_MISSING_MODEL = re.compile(r"install the '([^']+\.ocr)'")


# Measured on two vCPUs (README, "Limits"): an A4 page of 8.7 megapixels takes about 14 s, and
# the engine renders PDF pages at about A4, 300 dpi.
ASPOSE_SPEED = SpeedModel(seconds_per_megapixel=1.7, pdf_page_megapixels=8.7)


def missing_model(model: str, needed_for: str) -> MissingModelError:
    """The engine wants a model file that is not in the model directory."""
    return MissingModelError(
        f"{needed_for} needs the engine model {model!r}, which is not installed in the "
        f"model directory (OCR_RESOURCES_DIR): bundle it into the layer with "
        f'`make build OCR_MODELS={model}` (README, "Languages and models")',
        model,
    )


class AsposeEngine:
    """One Aspose.OCR instance with its settings; use `AsposeEngine.start` to create it."""

    name = "aspose"
    speed = ASPOSE_SPEED

    def __init__(
        self, ocr: ModuleType, api: Any, licensed: bool, startup: StartupTimings, *, warm: bool
    ) -> None:
        """`startup`: the steps `start` took; `warm`: recognize the warm-up image now."""
        self._ocr = ocr
        self._api = api
        self._licensed = licensed
        self.languages = AsposeLanguages({name for name in dir(ocr.Language) if name.isupper()})
        warm_up_s = warm_up(lambda image: self.recognize(image, identify(image))) if warm else 0.0
        self.timings = replace(startup, warm_up_s=warm_up_s)

    @property
    def version(self) -> str:
        """The engine's version, as it reports it (for example 26.10.0.0)."""
        return str(getattr(self._ocr, "VERSION", "unknown"))

    @property
    def licensed(self) -> bool:
        """False in trial mode, where each page's text is cut to at most 300 characters."""
        return self._licensed

    @classmethod
    def start(cls, settings: EngineSettings) -> AsposeEngine:
        """Prepare the runtime, import and configure the engine, and warm it up."""
        started = time.perf_counter()
        prepare_runtime_environment(settings.openssl_lib_dir)
        native_done = time.perf_counter()
        from aspose import ocr  # noqa: PLC0415 - only once the runtime's environment is ready

        imported = time.perf_counter()
        # In a read-only working directory (/var/task) the engine's log write would fail and
        # replace the real error with UnauthorizedAccessException.
        ocr.Logging.set_file_system(False)
        # The default resources path is under the working directory; models are never
        # downloaded into a Lambda unless explicitly allowed.
        ocr.Resources.set_local_path(str(settings.resources_dir))
        ocr.Resources.allow_automatic_downloads(settings.allow_model_downloads)
        api = ocr.AsposeOcr()
        created = time.perf_counter()
        licensed = _apply_license(ocr, settings)
        licensed_at = time.perf_counter()
        startup = StartupTimings(
            native_setup_s=native_done - started,
            import_s=imported - native_done,
            create_s=created - imported,
            license_s=licensed_at - created,
            warm_up_s=0.0,
        )
        return cls(ocr, api, licensed, startup, warm=settings.warm_up)

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
        """Recognize every page of an image or document (see `formats.identify`), resized by
        `scale` first if given (the engine's own filter: no decoding in Python), in `language`
        (a name `languages.resolve` returned; the engine's default, LATIN, if None).

        Raises MissingModelError when the language needs a model that is not installed, and
        OcrError (unreadable-image) when the engine rejects the data.
        """
        ocr = self._ocr
        input_type = {
            ImageFormat.TIFF: ocr.InputType.TIFF,
            ImageFormat.PDF: ocr.InputType.PDF,
        }.get(image_format, ocr.InputType.SINGLE_IMAGE)
        ocr_input = ocr.OcrInput(input_type, self._filters(scale, preprocessing))
        if pages is None or input_type == ocr.InputType.SINGLE_IMAGE:
            ocr_input.add(io.BytesIO(data))  # a stream: no temporary file
        else:
            ocr_input.add(io.BytesIO(data), pages.first - 1, pages.count)  # counted from 0
        try:
            settings = ocr.RecognitionSettings()
            settings.upscale_small_font = preprocessing.upscale_small_font
            settings.automatic_color_inversion = preprocessing.auto_invert
            if language is not None:
                settings.language = getattr(ocr.Language, language)
            results = self._api.recognize(ocr_input, settings)
            recognized = list(results)
        except RuntimeError as error:  # every engine-side failure surfaces as RuntimeError
            missing = _MISSING_MODEL.search(str(error))
            if missing:
                needed_for = f"recognizing in {language or 'LATIN'}"
                if preprocessing.filters or preprocessing.upscale_small_font:
                    needed_for += f" with preprocessing {preprocessing.filters}"
                raise missing_model(missing.group(1), needed_for) from error
            raise OcrError(
                Reason.UNREADABLE_IMAGE,
                f"the engine could not read this {image_format.value.upper()} data: {error}",
            ) from error
        return Recognition(
            # A form feed inside a page's text would read as a page break: make it a newline.
            page_texts=tuple(
                str(page.recognition_text).replace(PAGE_SEPARATOR, "\n") for page in recognized
            ),
            image_format=image_format,
            trial_limited=any(
                TRIAL_WARNING in str(w) for page in recognized for w in page.warnings
            ),
            lines=tuple(_lines(page) for page in recognized),
            native=results,
        )

    def _filters(self, scale: float | None, preprocessing: Preprocessing) -> Any:
        """The engine's filter chain: scaling first (fewer pixels for every later filter)."""
        filter_type = self._ocr.models.preprocessingfilters.PreprocessingFilter
        chain = filter_type()
        if scale is not None:
            chain.add(filter_type.scale(scale))
        for name in preprocessing.filters:
            chain.add(getattr(filter_type, PREPROCESSING_FILTERS[name])())
        return chain

    def searchable_pdf(self, recognition: Recognition) -> bytes:
        """The pages as a PDF with the recognized text under the images (selectable,
        searchable). The engine writes only to a path: a private directory under /tmp."""
        with tempfile.TemporaryDirectory(prefix="ocr-pdf-") as scratch:
            path = Path(scratch) / "searchable.pdf"
            self._api.save_multipage_document(
                str(path), self._ocr.SaveFormat.PDF, recognition.native
            )
            return path.read_bytes()


def _lines(page: Any) -> tuple[Line, ...]:
    return tuple(
        Line(
            text=str(line.text_in_line),
            x=int(line.line.x),
            y=int(line.line.y),
            width=int(line.line.width),
            height=int(line.line.height),
            confidence=float(line.confidence),  # the engine's own score (0 in trial mode)
        )
        for line in page.recognition_lines_result
    )


def _apply_license(ocr: ModuleType, settings: EngineSettings) -> bool:
    license_api = ocr.License()
    source = settings.license_source
    if source is None:
        return bool(license_api.is_licensed)
    license_bytes = fetch_license(source)
    where = f"{source.variable}={source.name!r}"
    try:
        license_api.set_license(io.BytesIO(license_bytes))
    except RuntimeError as error:
        raise LicenseError(
            f"the license from {where} was rejected by the engine ({error}); refusing to run "
            "in trial mode with a license configured"
        ) from error
    if not license_api.is_licensed:
        raise LicenseError(
            f"the license from {where} was accepted but the engine still reports trial mode; "
            "refusing to run in trial mode with a license configured"
        )
    return True
