"""The Aspose.OCR adapter of the engine port, started once per execution environment and reused
by every request.

`AsposeEngine.start` belongs in Lambda's Init phase: it prepares the native runtime, imports the
engine, applies the license, and runs a small warm-up recognition so that model loading is paid
before the first request rather than by it.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ocr_service.core.config import PREPROCESSING_FILTERS, EngineSettings, Preprocessing
from ocr_service.core.failures import OcrError, Reason
from ocr_service.core.languages import AsposeLanguages
from ocr_service.document.model import PAGE_SEPARATOR, Block, Box, Line, Page, PageSource, Word
from ocr_service.engines.licensing import LicenseError, fetch_license
from ocr_service.engines.native import prepare_runtime_environment
from ocr_service.engines.port import (
    NO_PREPROCESSING,
    MissingModelError,
    SpeedModel,
    StartupTimings,
    warm_up,
)
from ocr_service.engines.word_boxes import word_boxes
from ocr_service.inputs.pages import PageImage

if TYPE_CHECKING:
    from PIL.Image import Image

# The engine appends this to each page's text and to `warnings` when it runs unlicensed.
TRIAL_WARNING = "Trial Licenses"
_TRIAL_BANNER = "*************"  # starts the banner the engine appends to a cut text
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
        warm_up_s = warm_up(self.recognize) if warm else 0.0
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
        pages: Iterable[PageImage],
        language: str | None = None,
        *,
        preprocessing: Preprocessing = NO_PREPROCESSING,
    ) -> Iterator[Page]:
        """Recognize each page image in `language` (a name `languages.resolve` returned; the
        engine's default, LATIN, if None), one page per engine call.

        Raises MissingModelError when the language needs a model that is not installed, and
        OcrError (unreadable-image) when the engine rejects the data.
        """
        for page in pages:
            yield self._recognize_page(page, language, preprocessing)

    def _recognize_page(
        self, page: PageImage, language: str | None, preprocessing: Preprocessing
    ) -> Page:
        ocr = self._ocr
        ocr_input = ocr.OcrInput(ocr.InputType.SINGLE_IMAGE, self._filters(preprocessing))
        ocr_input.add(io.BytesIO(_encoded(page.image)))  # a stream: no temporary file
        try:
            settings = ocr.RecognitionSettings()
            settings.upscale_small_font = preprocessing.upscale_small_font
            settings.automatic_color_inversion = preprocessing.auto_invert
            if language is not None:
                settings.language = getattr(ocr.Language, language)
            (result,) = list(self._api.recognize(ocr_input, settings))
        except RuntimeError as error:  # every engine-side failure surfaces as RuntimeError
            missing = _MISSING_MODEL.search(str(error))
            if missing:
                needed_for = f"recognizing in {language or 'LATIN'}"
                if preprocessing.filters or preprocessing.upscale_small_font:
                    needed_for += f" with preprocessing {preprocessing.filters}"
                raise missing_model(missing.group(1), needed_for) from error
            raise OcrError(
                Reason.UNREADABLE_IMAGE, f"the engine could not read page {page.number}: {error}"
            ) from error
        trial = any(TRIAL_WARNING in str(warning) for warning in result.warnings)
        lines = _lines(result, page.image)
        if trial:
            lines = _within(lines, str(result.recognition_text).split(_TRIAL_BANNER)[0])
        return Page(
            number=page.number,
            width=page.input_width,
            height=page.input_height,
            dpi=page.dpi,
            source=PageSource.OCR,
            blocks=(Block(lines, Box.enclosing(line.box for line in lines)),) if lines else (),
            to_input=page.to_input,
            language=language or "LATIN",
            trial_limited=trial,
        )

    def _filters(self, preprocessing: Preprocessing) -> Any:
        """The engine's filter chain (pages come already scaled: inputs/pages.py)."""
        filter_type = self._ocr.models.preprocessingfilters.PreprocessingFilter
        chain = filter_type()
        for name in preprocessing.filters:
            chain.add(getattr(filter_type, PREPROCESSING_FILTERS[name])())
        return chain


def _encoded(image: Image) -> bytes:
    """The page as the engine reads it: PNG at the fastest compression (never stored)."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _lines(result: Any, image: Image) -> tuple[Line, ...]:
    """The engine's lines (text, box, its own confidence: 0 in trial mode), each split into
    words whose boxes are measured from the line's pixels (word_boxes.py)."""
    lines: list[Line] = []
    for found in result.recognition_lines_result:
        texts = str(found.text_in_line).replace(PAGE_SEPARATOR, " ").split()
        if not texts:
            continue
        rect = found.line
        box = Box(
            int(rect.x), int(rect.y), int(rect.x) + int(rect.width), int(rect.y) + int(rect.height)
        )
        boxes = word_boxes(image, box, texts)
        words = tuple(Word(text, word_box) for text, word_box in zip(texts, boxes, strict=True))
        lines.append(Line(words, box, float(found.confidence)))
    return tuple(lines)


def _within(lines: tuple[Line, ...], cut_text: str) -> tuple[Line, ...]:
    """Only the words inside the text the engine returned: without a license it cuts each
    page's text (to at most 300 characters) but still reports every line, and the cut is the
    license's, not ours to undo."""
    allowed = len(" ".join(cut_text.split()))
    used = 0
    kept: list[Line] = []
    for line in lines:
        words: list[Word] = []
        for word in line.words:
            if used + len(word.text) > allowed:
                break
            words.append(word)
            used += len(word.text) + 1
        if words:
            kept.append(Line(tuple(words), line.box, line.confidence))
        if len(words) < len(line.words):
            break
    return tuple(kept)


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
