"""Bring every decoded page to what both OCR engines read well: upright, 8-bit 'L' or 'RGB',
dark text on a light background.

Measured without this step: Aspose.OCR refuses a CMYK JPEG ("The conversion between 8207 and
Format32bppArgb is not allowed"), and both engines return nothing for white text on a
transparent PNG, which flattened onto white is invisible. Pillow is imported inside the
functions, so cold starts that never need it do not pay for it.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ocr_service.core.failures import OcrError, Reason
from ocr_service.core.formats import ImageFormat

if TYPE_CHECKING:
    from PIL import Image

_READY_MODES = frozenset({"L", "RGB"})
_GREY_MODES = frozenset({"1", "L", "LA", "La"})
_ALPHA_MODES = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})
_JPEG = frozenset({"JPEG", "MPO"})  # Pillow opens multi-picture JPEGs as MPO
_ORIENTATION = 0x0112  # EXIF tag
_UPRIGHT = 1
_OPAQUE = 255
_DARK = 128  # mean luminance below which content counts as dark
# Pillow's bomb limit is a module global, read at open and again when a TIFF page decodes;
# the lock keeps two threads from saving and restoring it out of order.
_PIXEL_LIMIT_LOCK = threading.Lock()


def needs_normalizing(image: Image.Image) -> bool:
    """Whether normalize_image would change ``image``, from its header alone (no decoding)."""
    return (
        image.mode not in _READY_MODES
        or "transparency" in image.info
        or _orientation(image) != _UPRIGHT
    )


def normalize_image(image: Image.Image) -> Image.Image:
    """One decoded page, EXIF orientation applied, as 'L' or 'RGB' with dark text on light.
    An upright 'L' or 'RGB' image without transparency comes back as the same object."""
    from PIL import ImageChops, ImageOps  # noqa: PLC0415

    # Pillow reads every CMYK JPEG with Adobe's inverted polarity. Writers that add no Adobe
    # APP14 marker store plain polarity (browsers decide the same way): read as Adobe, such a
    # page turns entirely black, its text lost. Decided before transposing: a copy forgets it
    # was a JPEG.
    plain_cmyk = image.mode == "CMYK" and image.format in _JPEG and "adobe" not in image.info
    if _orientation(image) != _UPRIGHT:
        image = ImageOps.exif_transpose(image)
    if image.mode in _READY_MODES and "transparency" not in image.info:
        return image
    if plain_cmyk:
        image = ImageChops.invert(image)
    mode = image.mode
    if mode.startswith("I") or mode == "F":  # 16- and 32-bit: any transparency key is ignored
        return _to_grey(image)
    if "transparency" in image.info or mode in _ALPHA_MODES:
        return _flatten(image.convert("LA" if mode in _GREY_MODES else "RGBA"))
    return image.convert("L" if mode == "1" else "RGB")  # P, CMYK (and YCCK), YCbCr, LAB, HSV


def normalize_bytes(
    data: bytes, image_format: ImageFormat, *, max_pixels: int
) -> tuple[bytes, ImageFormat]:
    """Encoded input for engines that read bytes (Aspose): ``(data, image_format)`` itself when
    nothing needs changing (headers read, nothing decoded), else the normalized page as PNG;
    a TIFF stays one TIFF. WEBP always becomes PNG (the engine cannot read it); GIF keeps its
    first frame; PDF passes through (engines render its pages themselves).

    ``max_pixels`` is the per-page limit the caller already checked from the headers
    (OCR_MAX_PIXELS): Pillow's own bomb check uses it instead of its default (89 million
    pixels warn, twice that refuses), so it neither refuses what the pipeline allowed nor lets
    a caller that skipped the check decode more than twice the limit."""
    if image_format is ImageFormat.PDF:
        return data, image_format
    from PIL import Image  # noqa: PLC0415

    name = image_format.value.upper()
    try:
        with pixel_limit(max_pixels), Image.open(io.BytesIO(data), formats=[name]) as image:
            if image_format is ImageFormat.TIFF:
                return _normalize_tiff(image, data), image_format
            if image_format is not ImageFormat.WEBP and not needs_normalizing(image):
                return data, image_format
            return _encode_png(normalize_image(image), image.info.get("dpi")), ImageFormat.PNG
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise OcrError(
            Reason.UNREADABLE_IMAGE, f"the {name} image could not be decoded: {error}"
        ) from error


def _orientation(image: Image.Image) -> int:
    """The EXIF (or XMP) orientation, from what the header held. Pillow's PNG reader would
    decode the whole image to look for an eXIf chunk after the pixel data; such a rare late
    chunk is not seen, by needs_normalizing and normalize_image alike."""
    from PIL import Image  # noqa: PLC0415

    value = Image.Image.getexif(image).get(_ORIENTATION, _UPRIGHT)
    return value if isinstance(value, int) else _UPRIGHT


def _to_grey(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float pages to 8 bits, scaled from their range: Pillow's own
    conversion clips, which leaves a 16-bit page white wherever it is lighter than 255/65535."""
    if image.mode.startswith("I;16"):
        image, low, high = image.convert("I"), 0.0, 65535.0
    else:
        extrema = image.getextrema()
        low, high = float(extrema[0]), float(extrema[1])  # type: ignore[arg-type]
        # The nominal range the values came from (0-1 float, 8 or 16 bits), else their own.
        for top in (1.0, 255.0, 65535.0):
            if low >= 0 and high <= top and (top > 1 or image.mode == "F"):
                low, high = 0.0, top
                break
    scale = 255 / (high - low or 1)
    return image.point(lambda value: value * scale - low * scale).convert("L")


def _flatten(image: Image.Image) -> Image.Image:
    """An 'LA' or 'RGBA' page on an opaque background that keeps its text visible."""
    from PIL import Image, ImageChops, ImageStat  # noqa: PLC0415

    alpha = image.getchannel("A")
    low, high = alpha.getextrema()
    base_mode = image.mode[:-1]
    if low == _OPAQUE or high == 0:  # opaque; or an unused alpha channel (BMP writers leave 0s)
        return image.convert(base_mode)
    visible = alpha.point(lambda value: 255 if value else 0)
    light = ImageStat.Stat(image.convert("L"), visible).mean[0] >= _DARK
    # Mostly transparent: the transparency is the background and the visible pixels are the
    # text, so light text is drawn on black and inverted. Mostly opaque (a screenshot with
    # clear corners): the visible pixels hold their own page; fill the rest to match it.
    text_only = alpha.histogram()[0] > image.width * image.height / 2
    fill = "black" if light == text_only else "white"
    background = Image.new(base_mode, image.size, fill)
    background.paste(image.convert(base_mode), mask=alpha)
    return ImageChops.invert(background) if light and text_only else background


def _normalize_tiff(image: Image.Image, data: bytes) -> bytes:
    """The TIFF's own bytes when no page needs normalizing, else every page normalized, in
    order, as one TIFF. PackBits: lossless, the fastest to write and read of Pillow's TIFF
    compressions (measured, A4 text page: 7-21 ms against 43-123 ms for LZW), and the
    result is never stored."""
    frames = getattr(image, "n_frames", 1)
    changed = False
    for index in range(frames):  # seeking reads a page's directory, not its pixels
        image.seek(index)
        changed = changed or needs_normalizing(image)
    if not changed:
        return data
    pages = []
    for index in range(frames):
        image.seek(index)
        page = normalize_image(image)
        pages.append(page.copy() if page is image else page)  # the next seek reuses `image`
    buffer = io.BytesIO()
    pages[0].save(
        buffer,
        "TIFF",
        save_all=True,
        append_images=pages[1:],
        compression="packbits",
        **_resolution(pages[0].info.get("dpi")),
    )
    return buffer.getvalue()


def _encode_png(image: Image.Image, dpi: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1, **_resolution(dpi))  # never stored: speed
    return buffer.getvalue()


def _resolution(dpi: object) -> dict[str, object]:
    """Keep the page's dpi: engines judge text size by it (Tesseract assumes 70 without)."""
    return {"dpi": dpi} if dpi else {}


@contextmanager
def pixel_limit(max_pixels: int) -> Iterator[None]:
    """Pillow's limit set to the caller's while one input is opened and decoded, then put
    back. Decodes in one process run one at a time: Lambda sends one event at a time."""
    from PIL import Image  # noqa: PLC0415

    with _PIXEL_LIMIT_LOCK:
        previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max_pixels
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = previous
