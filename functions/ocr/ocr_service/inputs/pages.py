"""Page images for the engines: every input format decoded into upright 8-bit pages, each with
where it sits on the input page, so both engines read the same pixels and every box they give
can be laid back on the original.

Images and TIFF frames are decoded with Pillow, normalised (normalize.py) and brought down to
OCR_MAX_IMAGE_SIDE; PDF pages are rendered with PDFium (pdf.py) at PDF_DPI within
OCR_MAX_PIXELS. Pages are produced lazily, in order: a long document is never in memory whole.
"""

from __future__ import annotations

import io
import numbers
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ocr_service.core.failures import OcrError, Reason
from ocr_service.core.formats import ImageFormat
from ocr_service.document.model import IDENTITY, Transform
from ocr_service.inputs.normalize import normalize_image, pixel_limit

if TYPE_CHECKING:
    from PIL.Image import Image

    from ocr_service.inputs.pdf import PdfInput

_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError)


@dataclass(frozen=True)
class PageImage:
    """One page as the engine gets it, and how its pixels map onto the input page."""

    number: int
    """Counted from 1 in the input document."""
    image: Image
    """'L' or 'RGB', upright, dark text on light."""
    dpi: float
    """The input page's resolution (0: the file does not say)."""
    input_width: float
    input_height: float
    """The input page in pixels at `dpi`."""
    to_input: Transform = IDENTITY
    """From this image's pixels to the input page's."""


def image_pages(
    data: bytes,
    image_format: ImageFormat,
    *,
    max_pixels: int,
    max_side: int = 0,
    numbers: Collection[int] | None = None,
) -> Iterator[PageImage]:
    """The pages of an image input (a TIFF's frames, else its one image), or only `numbers`
    (from 1), normalised and scaled so the long side is at most `max_side` (0: as they are).
    OcrError (unreadable-image) when a page cannot be decoded."""
    from PIL import Image  # noqa: PLC0415

    name = image_format.value.upper()
    if image_format is ImageFormat.HEIF:
        from pi_heif import register_heif_opener  # noqa: PLC0415 - only for HEIC

        register_heif_opener()  # Pillow's opener for HEIF; calling it again changes nothing
    try:
        # Pillow's bomb limit is process-wide: it is set only while a frame is opened, sought
        # and decoded, never while a page is out with the caller (a page left unconsumed, or
        # an exception that keeps this generator alive, must not hold the lock).
        with pixel_limit(max_pixels):
            opened = Image.open(io.BytesIO(data), formats=[name])
        with opened:
            count = getattr(opened, "n_frames", 1) if image_format is ImageFormat.TIFF else 1
            for number in range(1, count + 1):
                if numbers is not None and number not in numbers:
                    if number > max(numbers, default=0):
                        break
                    continue
                with pixel_limit(max_pixels):
                    opened.seek(number - 1)
                    opened.load()
                    page = _page(number, opened, max_side)
                yield page
    except (*_DECODE_ERRORS, Image.DecompressionBombError) as error:
        raise OcrError(
            Reason.UNREADABLE_IMAGE, f"the {name} image could not be decoded: {error}"
        ) from error


def _page(number: int, frame: Image, max_side: int) -> PageImage:
    from PIL import Image as PILImage  # noqa: PLC0415

    dpi = _dpi(frame.info.get("dpi"))
    page = normalize_image(frame)
    page = page.copy() if page is frame else page  # the next frame reuses `frame`
    width, height = page.size
    longest = max(width, height)
    if not max_side or longest <= max_side:
        return PageImage(number, page, dpi, width, height)
    scale = max_side / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    scaled = page.resize(size, PILImage.Resampling.BICUBIC, reducing_gap=2.0)
    back = Transform.scaling(width / size[0], height / size[1])
    return PageImage(number, scaled, dpi, width, height, back)


def _dpi(value: object) -> float:
    """The horizontal resolution a file states (TIFF gives it as an IFDRational), else 0."""
    if isinstance(value, tuple) and value and isinstance(value[0], numbers.Real):
        return float(value[0])
    return 0.0


def pdf_pages(pdf: PdfInput, numbers: Collection[int], *, max_pixels: int) -> Iterator[PageImage]:
    """Pages `numbers` of an open PDF, rendered for recognition, in order."""
    from ocr_service.inputs.pdf import PDF_DPI  # noqa: PLC0415

    for number in sorted(numbers):
        image, dpi = pdf.render(number, max_pixels=max_pixels)
        factor = PDF_DPI / dpi
        yield PageImage(
            number,
            image,
            PDF_DPI,
            image.width * factor,
            image.height * factor,
            Transform.scaling(factor),
        )
