"""The Tesseract adapter of the engine port: Tesseract 5.5 through the `tesserocr` wheel, with
its language data from the TesseractLayer (`/opt/tessdata`).

The wheel's libtesseract is built without OpenMP, so one page uses one core; tesserocr
releases the GIL while it works, so the pages of a document are spread over the function's
vCPUs in threads, one API object per thread and language (an API object is not thread-safe),
and the results are put back in page order. Started once, in Lambda's Init.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ocr_service.core.config import EngineSettings, Preprocessing
from ocr_service.core.formats import ImageFormat
from ocr_service.core.languages import TESSERACT_KNOWN, TESSERACT_PACKAGE, TesseractLanguages
from ocr_service.engines.port import (
    NO_PREPROCESSING,
    PAGE_SEPARATOR,
    EngineSetupError,
    Line,
    MissingModelError,
    PageRange,
    Recognition,
    SpeedModel,
    StartupTimings,
    warm_up,
)
from ocr_service.engines.tesseract_pages import decode_pages, prepare_page

if TYPE_CHECKING:
    from PIL.Image import Image

# Measured (make bench, one core): an A4 page of 8.7 megapixels takes about 2 s, orientation
# detection included; PDF pages are rendered at PDF_DPI (tesseract_pages.py).
TESSERACT_SPEED = SpeedModel(seconds_per_megapixel=0.35, pdf_page_megapixels=8.7)
_OSD = "osd"  # orientation and script detection data, always in the layer
_VCPU_MEMORY_MB = 1769  # Lambda gives one full vCPU per 1,769 MB of memory


def worker_count(environ: dict[str, str] | None = None) -> int:
    """Threads for the pages of one document: the vCPUs Lambda gives this memory size, or the
    machine's cores outside Lambda (more threads than vCPUs would only contend)."""
    environ = dict(os.environ) if environ is None else environ
    cores = os.cpu_count() or 1
    memory = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    if memory.isdigit():
        return max(1, min(cores, round(int(memory) / _VCPU_MEMORY_MB)))
    return cores


@dataclass(frozen=True)
class _PageResult:
    text: str
    lines: tuple[Line, ...]
    image: Image | None


class TesseractEngine:
    """Tesseract with a pool of page threads; use `TesseractEngine.start` to create it."""

    name = "tesseract"
    licensed = True  # Apache-2.0: no trial mode, no text cut
    speed = TESSERACT_SPEED

    def __init__(
        self,
        tesserocr: ModuleType,
        settings: EngineSettings,
        workers: int,
        import_s: float,
    ) -> None:
        """Load the data's catalogue, start the page threads and, if the settings say so, warm
        up in the default language (`start` checks the data first)."""
        created = time.perf_counter()
        self._tesserocr = tesserocr
        self._tessdata = settings.tessdata_dir
        installed = {path.stem for path in self._tessdata.glob("*.traineddata")} - {_OSD}
        self.languages = TesseractLanguages(TESSERACT_KNOWN, installed)
        self._default = self.languages.resolve("LATIN")
        self._keep_images = settings.searchable_pdf
        self._max_page_pixels = settings.max_page_pixels
        self._local = threading.local()  # per thread: {language: API object}, and the OSD one
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tesseract")
        self.workers = workers
        self.version = str(tesserocr.tesseract_version()).split()[1]
        default = self.languages.resolve(settings.default_language)
        language = None if self.languages.missing(default) else default
        create_s = time.perf_counter() - created
        warm_up_s = (
            warm_up(lambda image: self.recognize(image, ImageFormat.PNG, language=language))
            if settings.warm_up
            else 0.0
        )
        self.timings = StartupTimings(0.0, import_s, create_s, 0.0, warm_up_s)

    @classmethod
    def start(cls, settings: EngineSettings) -> TesseractEngine:
        """Import the engine, check its data, and warm it up in the default language."""
        started = time.perf_counter()
        import tesserocr  # noqa: PLC0415 - only the chosen engine is imported

        import_s = time.perf_counter() - started
        tessdata = settings.tessdata_dir
        if not (tessdata / f"{_OSD}.traineddata").is_file():
            raise EngineSetupError(
                f"Tesseract's language data is not in {tessdata} (OCR_TESSDATA_DIR): deploy the "
                "TesseractLayer (OcrEngine=tesseract), or run `make setup`, which puts it in "
                ".cache/tessdata"
            )
        return cls(tesserocr, settings, worker_count(), import_s)

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
        language = language or self._default
        if missing := self.languages.missing(language):
            raise self._missing(language, missing)
        decoded = decode_pages(data, image_format, self._max_page_pixels, pages)

        def one(page: Image) -> _PageResult:
            return self._recognize_page(page, scale, language, preprocessing)

        results = list(self._in_page_order(decoded, one))
        return Recognition(
            page_texts=tuple(result.text for result in results),
            image_format=image_format,
            trial_limited=False,
            lines=tuple(result.lines for result in results),
            native=(language, tuple(r.image for r in results)) if self._keep_images else None,
        )

    def _in_page_order(
        self, pages: Iterator[Image], work: Callable[[Image], _PageResult]
    ) -> Iterator[_PageResult]:
        """Run `work` on up to `workers` pages at once, decoding the next ones meanwhile (never
        all pages in memory at once); results in page order. One page runs on this thread."""
        first = next(pages, None)
        if first is None:
            return
        second = next(pages, None)
        if second is None:
            yield work(first)
            return
        pending = [self._pool.submit(work, first), self._pool.submit(work, second)]
        for page in pages:
            if len(pending) >= self.workers:
                yield pending.pop(0).result()
            pending.append(self._pool.submit(work, page))
        for future in pending:
            yield future.result()

    def _recognize_page(
        self, page: Image, scale: float | None, language: str, preprocessing: Preprocessing
    ) -> _PageResult:
        api = self._api(language)
        osd = self._api(_OSD)
        prepared = prepare_page(page, scale, preprocessing, osd)
        api.SetVariable("tessedit_do_invert", "1" if preprocessing.auto_invert else "0")
        api.SetImage(prepared)
        api.Recognize()
        text = (api.GetUTF8Text() or "").replace(PAGE_SEPARATOR, "\n").rstrip()
        return _PageResult(text, self._lines(api), prepared if self._keep_images else None)

    def _lines(self, api: Any) -> tuple[Line, ...]:
        level = self._tesserocr.RIL.TEXTLINE
        lines: list[Line] = []
        for item in self._tesserocr.iterate_level(api.GetIterator(), level):
            box = item.BoundingBox(level)
            text = item.GetUTF8Text(level)
            if box is None or not text or not text.strip():
                continue
            x1, y1, x2, y2 = box
            confidence = round(item.Confidence(level) / 100, 4)  # Tesseract says 0..100
            lines.append(Line(text.strip(), x1, y1, x2 - x1, y2 - y1, confidence))
        return tuple(lines)

    def _api(self, language: str) -> Any:
        """This thread's API object for `language`, created on first use."""
        apis: dict[str, Any] | None = getattr(self._local, "apis", None)
        if apis is None:
            apis = self._local.apis = {}
        api = apis.get(language)
        if api is None:
            tesserocr = self._tesserocr
            psm = tesserocr.PSM.OSD_ONLY if language == _OSD else tesserocr.PSM.AUTO
            api = tesserocr.PyTessBaseAPI(
                path=str(self._tessdata), lang=language, psm=psm, oem=tesserocr.OEM.LSTM_ONLY
            )
            apis[language] = api
        return api

    def _missing(self, language: str, missing: Sequence[str]) -> MissingModelError:
        packages = ", ".join(TESSERACT_PACKAGE.format(code=code) for code in missing)
        wanted = " ".join(sorted(self.languages.installed | set(missing)))
        return MissingModelError(
            f"recognizing in {language} needs Tesseract's data for {', '.join(missing)}, which "
            f"is not in {self._tessdata} (OCR_TESSDATA_DIR): add it to the layer with "
            f'`make build TESSERACT_LANGUAGES="{wanted}"` (Debian package {packages}; README, '
            '"Languages and models")',
            ", ".join(f"{code}.traineddata" for code in missing),
        )

    def searchable_pdf(self, recognition: Recognition) -> bytes:
        """Tesseract's own PDF renderer: each page image with its text underneath. It reads
        pages from a file and recognizes them again, so it costs about one more recognition."""
        if recognition.native is None:
            raise RuntimeError("the engine was started without searchable PDF output")
        language, images = recognition.native
        with tempfile.TemporaryDirectory(prefix="ocr-pdf-") as scratch:
            pages = Path(scratch) / "pages.tiff"
            images[0].save(pages, "TIFF", save_all=True, append_images=list(images[1:]))
            with self._tesserocr.PyTessBaseAPI(path=str(self._tessdata), lang=language) as api:
                api.SetVariable("tessedit_create_pdf", "1")
                if not api.ProcessPages(str(Path(scratch) / "searchable"), str(pages)):
                    raise RuntimeError("Tesseract's PDF renderer failed")
            return (Path(scratch) / "searchable.pdf").read_bytes()
