"""The Tesseract adapter of the engine port: Tesseract 5.5 through the `tesserocr` wheel, with
its language data from the TesseractLayer (`/opt/tessdata`).

The wheel's libtesseract is built without OpenMP, so one page uses one core; tesserocr
releases the GIL while it works, so the pages of a document are spread over the function's
vCPUs in threads, one API object per thread and language (an API object is not thread-safe),
and the results are put back in page order. Started once, in Lambda's Init.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ocr_service.core.config import EngineSettings, Preprocessing
from ocr_service.core.languages import TESSERACT_KNOWN, TESSERACT_PACKAGE, TesseractLanguages
from ocr_service.document.model import PAGE_SEPARATOR, Block, Box, Line, Page, PageSource, Word
from ocr_service.engines.port import (
    NO_PREPROCESSING,
    EngineSetupError,
    MissingModelError,
    SpeedModel,
    StartupTimings,
    warm_up,
)
from ocr_service.engines.tesseract_bands import PageSpread, band_cuts, shifted, split
from ocr_service.engines.tesseract_pages import PreparedPage, prepare_page, text_scale, upscaled
from ocr_service.inputs.pages import PageImage

if TYPE_CHECKING:
    from PIL.Image import Image

# Measured (make bench, one core): an A4 page of 8.7 megapixels takes about 2 s, orientation
# detection included; PDF pages are rendered at PDF_DPI (tesseract_pages.py).
TESSERACT_SPEED = SpeedModel(seconds_per_megapixel=0.35, pdf_page_megapixels=8.7)
_OSD = "osd"  # orientation and script detection data, always in the layer
_VCPU_MEMORY_MB = 1769  # Lambda gives one full vCPU per 1,769 MB of memory
# A page read as it is with at least this mean word confidence is upright: orientation
# detection is skipped (measured on ../shared/real-samples: scans and screenshots 0.95, printed
# test pages 0.9 and more; a page turned 90 or 180 degrees reads as garbage well below).
UPRIGHT_CONFIDENCE = 0.8


def worker_count(environ: dict[str, str] | None = None) -> int:
    """Threads for the pages of one document: the vCPUs Lambda gives this memory size, or the
    machine's cores outside Lambda (more threads than vCPUs would only contend)."""
    environ = dict(os.environ) if environ is None else environ
    cores = os.cpu_count() or 1
    memory = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    if memory.isdigit():
        return max(1, min(cores, round(int(memory) / _VCPU_MEMORY_MB)))
    return cores


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
        self._max_page_pixels = settings.max_page_pixels
        self._local = threading.local()  # per thread: {language: API object}, and the OSD one
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tesseract")
        # Bands of a page run on their own threads, never on the page threads: a page waits for
        # its bands, and bands waiting behind pages in one bounded pool could deadlock it.
        self._band_pool = (
            ThreadPoolExecutor(max_workers=workers - 1, thread_name_prefix="tesseract-band")
            if settings.page_bands and workers > 1
            else None
        )
        self.workers = workers
        self.version = str(tesserocr.tesseract_version()).split()[1]
        default = self.languages.resolve(settings.default_language)
        language = None if self.languages.missing(default) else default
        create_s = time.perf_counter() - created
        warm_up_s = (
            warm_up(lambda pages: self.recognize(pages, language)) if settings.warm_up else 0.0
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
        pages: Iterable[PageImage],
        language: str | None = None,
        *,
        preprocessing: Preprocessing = NO_PREPROCESSING,
    ) -> Iterator[Page]:
        language = language or self._default
        if missing := self.languages.missing(language):
            raise self._missing(language, missing)

        def one(page: PageImage) -> Page:
            return self._recognize_page(page, language, preprocessing)

        return self._in_page_order(iter(pages), one)

    def _in_page_order(
        self, pages: Iterator[PageImage], work: Callable[[PageImage], Page]
    ) -> Iterator[Page]:
        """Run `work` on up to `workers` pages at once, decoding the next ones meanwhile (never
        all pages in memory at once); results in page order. One page runs on this thread.
        A document of fewer pages than workers shares the idle ones out as bands of its pages
        (PageSpread: settled before any page is waited for)."""
        spread = PageSpread(self.workers)

        def spread_work(page: PageImage) -> Page:
            self._local.spread = spread  # read by _read_blocks on this thread
            try:
                return work(page)
            finally:
                self._local.spread = None

        try:
            first = next(pages, None)
            if first is None:
                return
            second = next(pages, None)
            if second is None:
                spread.settle(1)
                yield spread_work(first)
                return
            pending = [
                self._pool.submit(spread_work, first),
                self._pool.submit(spread_work, second),
            ]
            for page in pages:
                if len(pending) >= self.workers:
                    spread.settle(None)
                    yield pending.pop(0).result()
                pending.append(self._pool.submit(spread_work, page))
            spread.settle(len(pending))
            for future in pending:
                yield future.result()
        finally:
            spread.settle(None)  # a page that failed to decode must not leave the others waiting

    def _recognize_page(self, page: PageImage, language: str, preprocessing: Preprocessing) -> Page:
        """Read as it is first (small text scaled up and read again: `text_scale`); only a
        page that reads badly (mean word confidence under UPRIGHT_CONFIDENCE) gets orientation
        detection, and is read again if it was turned, and again without evened light if its
        light was evened: the best-scored reading is kept (the first on a tie). Measured:
        detection was 0.39 s of an A4 page's 2.41 s, and an upright page of print scores 0.9
        and more; evening made a receipt on a dark table read worse (CER 0.57 -> 0.83,
        confidence 0.60 -> 0.36) and photos in uneven light read better (README, "Accuracy on
        real inputs")."""
        invert = preprocessing.auto_invert
        prepared = prepare_page(page.image, preprocessing, None)
        first = self._read(page, prepared, language, invert)
        scale = text_scale(
            first, prepared.image.width * prepared.image.height, self._max_page_pixels
        )
        if scale > 1:
            prepared = upscaled(prepared, scale)
            first = self._read(page, prepared, language, invert)
        if (first.confidence or 0.0) >= UPRIGHT_CONFIDENCE:
            return first
        readings = [first]
        turned = prepare_page(page.image, preprocessing, self._api(_OSD))
        if turned.rotation:
            readings.append(self._read(page, upscaled(turned, scale), language, invert))
        if prepared.light_evened:
            as_lit = prepare_page(page.image, preprocessing, None, even_light=False)
            readings.append(self._read(page, upscaled(as_lit, scale), language, invert))
        return max(readings, key=lambda reading: reading.confidence or 0.0)

    def _read(self, page: PageImage, prepared: PreparedPage, language: str, invert: bool) -> Page:
        return Page(
            number=page.number,
            width=page.input_width,
            height=page.input_height,
            dpi=page.dpi,
            source=PageSource.OCR,
            blocks=self._read_blocks(prepared.image, language, invert),
            to_input=prepared.to_given.then(page.to_input),
            language=language,
            rotation=prepared.rotation,
        )

    def _read_blocks(self, image: Image, language: str, invert: bool) -> tuple[Block, ...]:
        """The image read whole, or, when its page has idle vCPUs to share (PageSpread) and safe
        rows to cut at (tesseract_bands.py), in bands read at once, one on this thread and the
        others on band threads, each with its own API object; the same words in the same order."""
        spread: PageSpread | None = getattr(self._local, "spread", None)
        pool = self._band_pool
        parts = spread.parts() if spread is not None and pool is not None else 1
        cuts = band_cuts(image, parts) if pool is not None and parts > 1 else []
        if pool is None or not cuts:
            return self._read_image(image, language, invert)
        (first, _), *rest = split(image, cuts)
        later = [(pool.submit(self._read_image, band, language, invert), top) for band, top in rest]
        blocks = list(self._read_image(first, language, invert))
        for future, top in later:
            blocks += shifted(future.result(), top)
        return tuple(blocks)

    def _read_image(self, image: Image, language: str, invert: bool) -> tuple[Block, ...]:
        api = self._api(language)
        api.SetVariable("tessedit_do_invert", "1" if invert else "0")
        api.SetImage(image)
        api.Recognize()
        return self._blocks(api)

    def _blocks(self, api: Any) -> tuple[Block, ...]:
        """Blocks, lines and words from Tesseract's result iterator, at word level."""
        ril = self._tesserocr.RIL
        blocks: list[Block] = []
        lines: list[Line] = []
        words: list[Word] = []
        block_box = line_box = None
        line_conf: float | None = None

        def close_line() -> None:
            if words and line_box is not None:
                lines.append(Line(tuple(words), line_box, line_conf))
            words.clear()

        def close_block() -> None:
            close_line()
            if lines and block_box is not None:
                blocks.append(Block(tuple(lines), block_box))
            lines.clear()

        for item in self._tesserocr.iterate_level(api.GetIterator(), ril.WORD):
            if item.IsAtBeginningOf(ril.BLOCK):
                close_block()
                block_box = _box(item.BoundingBox(ril.BLOCK))
            if item.IsAtBeginningOf(ril.TEXTLINE):
                close_line()
                line_box = _box(item.BoundingBox(ril.TEXTLINE))
                line_conf = round(item.Confidence(ril.TEXTLINE) / 100, 4)
            text = (item.GetUTF8Text(ril.WORD) or "").replace(PAGE_SEPARATOR, " ").strip()
            box = _box(item.BoundingBox(ril.WORD))
            if text and box is not None:
                # Tesseract says 0..100; the model says 0..1.
                words.append(Word(text, box, round(item.Confidence(ril.WORD) / 100, 4)))
        close_block()
        return tuple(blocks)

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


def _box(box: tuple[int, int, int, int] | None) -> Box | None:
    if box is None:
        return None
    left, top, right, bottom = box
    return Box(left, top, right, bottom)
