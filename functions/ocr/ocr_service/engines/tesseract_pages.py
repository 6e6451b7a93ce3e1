"""Pages for the Tesseract engine: decoding every input format into page images, and preparing
one page for recognition (colour mode, scale, the preprocessing filters, orientation, skew).

Aspose reads encoded bytes and does these steps itself; Tesseract reads pixels, so the
adapter does them here with Pillow, PDFium (`pypdfium2`) and Tesseract's own analysis.
"""

from __future__ import annotations

import io
import math
import statistics
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ocr_service.core.config import Preprocessing
from ocr_service.core.failures import OcrError, Reason
from ocr_service.core.formats import ImageFormat
from ocr_service.engines.port import PageRange
from ocr_service.inputs.normalize import normalize_image

if TYPE_CHECKING:
    from PIL.Image import Image

# Measured on an A4 page of DejaVu text (README, "Choosing an engine"): 8 to 12 points read
# without an error from 150 dpi up, 6 points from 200, 5 points only from 250 (125 word errors
# in 900 at 200); 300 dpi keeps a margin for real scans for about 1.2x the time of 250. A4 is
# then 8.7 megapixels; a page larger than OCR_MAX_PIXELS is rendered smaller to fit it.
PDF_DPI = 300
_POINTS_PER_INCH = 72
# Orientation detection's confidence below which a page is left as it is: short or sparse
# text gives low confidence and a wrong turn would ruin a page that reads fine upright.
MIN_ORIENTATION_CONFIDENCE = 2.0
MIN_SKEW_DEGREES = 0.3  # smaller angles do not change recognition, and rotating costs time
MAX_SKEW_DEGREES = 10  # a scan or photo askew by more is an orientation problem, not skew
_COARSE_ANGLES = range(-MAX_SKEW_DEGREES, MAX_SKEW_DEGREES + 1)
_SKEW_SAMPLE_SIDE = 800  # pixels: enough for the line structure, small enough to turn often
_PEAK_OVER_MEDIAN = 2.0  # text lines measured 4.8-7.7x; a photo's slope 1.4x
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError)


def decode_pages(
    data: bytes, image_format: ImageFormat, max_pixels: int, pages: PageRange | None = None
) -> Iterator[Image]:
    """Each page of the input (or of `pages` only), decoded lazily in order;
    OcrError when a page cannot be decoded."""
    numbers = range(pages.first - 1, pages.last) if pages else None  # counted from 0
    if image_format is ImageFormat.PDF:
        yield from _pdf_pages(data, max_pixels, numbers)
        return
    from PIL import Image, ImageSequence  # noqa: PLC0415

    try:
        with Image.open(io.BytesIO(data)) as image:
            frames = ImageSequence.Iterator(image) if image_format is ImageFormat.TIFF else [image]
            for number, frame in enumerate(frames):
                if numbers is not None and number not in numbers:
                    if number >= numbers.stop:
                        break
                    continue
                frame.load()
                yield frame.copy()
    except (*_DECODE_ERRORS, Image.DecompressionBombError) as error:
        raise _unreadable(image_format, error) from error


def _pdf_pages(data: bytes, max_pixels: int, numbers: range | None) -> Iterator[Image]:
    import pypdfium2  # noqa: PLC0415

    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as error:
        raise _unreadable(ImageFormat.PDF, error) from error
    try:
        every = range(len(document))
        for index in (
            every if numbers is None else range(numbers.start, min(numbers.stop, len(every)))
        ):
            page = document[index]
            width, height = page.get_size()  # points
            scale = PDF_DPI / _POINTS_PER_INCH
            if width * height * scale * scale > max_pixels:
                # PDFium rounds each side up: leave room for that pixel.
                scale = math.sqrt(max_pixels / ((width + 1) * (height + 1)))
            yield page.render(scale=scale, grayscale=True).to_pil()
    except pypdfium2.PdfiumError as error:
        raise _unreadable(ImageFormat.PDF, error) from error
    finally:
        document.close()


def _unreadable(image_format: ImageFormat, error: Exception) -> OcrError:
    return OcrError(
        Reason.UNREADABLE_IMAGE,
        f"the engine could not read this {image_format.value.upper()} data: {error}",
    )


def prepare_page(page: Image, scale: float | None, preprocessing: Preprocessing, osd: Any) -> Image:
    """Normalized (EXIF, colour mode, transparency), scaled, filtered, turned upright by
    orientation detection, then deskewed when asked, as the Aspose path's filters do."""
    from PIL import Image as PILImage  # noqa: PLC0415

    page = normalize_image(page)
    if scale is not None:
        size = (max(1, round(page.width * scale)), max(1, round(page.height * scale)))
        page = page.resize(size, PILImage.Resampling.BICUBIC, reducing_gap=2.0)
    page = _filtered(page, preprocessing)
    page = _upright(page, osd)
    if "deskew" in preprocessing.filters:
        page = _deskewed(page)
    return page


def _filtered(page: Image, preprocessing: Preprocessing) -> Image:
    from PIL import ImageFilter, ImageOps  # noqa: PLC0415

    for name in preprocessing.filters:
        if name == "grayscale":
            page = page.convert("L")
        elif name == "contrast":
            page = ImageOps.autocontrast(page, cutoff=1)
        elif name == "denoise":
            page = page.filter(ImageFilter.MedianFilter(3))
        elif name == "binarize":
            page = page.convert("L").point(lambda value: 255 if value > 127 else 0)  # noqa: PLR2004
        elif name == "invert":
            page = ImageOps.invert(page)
    if preprocessing.upscale_small_font:
        page = page.resize((page.width * 2, page.height * 2), resample=3)  # bicubic
    return page


def _upright(page: Image, osd: Any) -> Image:
    """Turn the page by what Tesseract's orientation detection (osd.traineddata) finds."""
    osd.SetImage(page)
    found = osd.DetectOrientationScript()
    if not found or not found.get("orient_deg"):
        return page
    if found.get("orient_conf", 0.0) < MIN_ORIENTATION_CONFIDENCE:
        return page
    # Pillow turns counter-clockwise; the detected angle is how far to turn it back.
    return page.rotate(found["orient_deg"], expand=True, fillcolor=_background(page))


def skew_angle(page: Image) -> float:
    """The angle (degrees, counter-clockwise) that makes the text lines horizontal: the turn
    whose row profile is sharpest (text lines and the gaps between them), searched coarsely,
    then finely, on a small inverted copy. Tesseract's own layout analysis reports no skew
    through this API (measured: 0.0 for pages turned by 2 and 4 degrees).

    Text lines give one sharp peak, at least 4x the profile's median over the coarse angles
    (measured on turned pages); a photo of a page on a desk gives a slope that rises towards
    the end of the range instead (measured: deskewing by that slope, -10.9 degrees, left
    Tesseract reading nothing). Without a clear peak the page is left as it is."""
    from PIL import Image as PILImage  # noqa: PLC0415
    from PIL import ImageOps  # noqa: PLC0415

    small = ImageOps.invert(page.convert("L"))  # ink is bright, so the padding adds nothing
    small.thumbnail((_SKEW_SAMPLE_SIDE, _SKEW_SAMPLE_SIDE))

    def sharpness(angle: float) -> float:
        turned = small.rotate(angle, resample=PILImage.Resampling.BILINEAR, expand=True)
        profile = turned.resize((1, turned.height), PILImage.Resampling.BOX)
        return statistics.pvariance([float(value) for value in profile.tobytes()])

    coarse = {angle: sharpness(angle) for angle in _COARSE_ANGLES}
    best = max(coarse, key=lambda angle: coarse[angle])
    at_the_edge = abs(best) == MAX_SKEW_DEGREES
    if at_the_edge or coarse[best] < _PEAK_OVER_MEDIAN * statistics.median(coarse.values()):
        return 0.0
    return max((best + step / 10 for step in range(-9, 10)), key=sharpness)


def _deskewed(page: Image) -> Image:
    angle = skew_angle(page)
    if abs(angle) < MIN_SKEW_DEGREES:
        return page
    from PIL import Image as PILImage  # noqa: PLC0415

    return page.rotate(
        angle, expand=True, fillcolor=_background(page), resample=PILImage.Resampling.BICUBIC
    )


def _background(page: Image) -> int | tuple[int, ...]:
    return 255 if page.mode == "L" else (255,) * len(page.getbands())
