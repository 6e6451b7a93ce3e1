"""Bring every decoded page to what both OCR engines read well: upright, 8-bit 'L' or 'RGB',
dark text on a light background.

Measured without this step: Aspose.OCR refuses a CMYK JPEG ("The conversion between 8207 and
Format32bppArgb is not allowed"), and both engines return nothing for white text on a
transparent PNG, which flattened onto white is invisible. Pillow is imported inside the
functions, so cold starts that never need it do not pay for it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

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


def _orientation(image: Image.Image) -> int:
    """The EXIF (or XMP) orientation, from what the header held. Pillow's PNG reader would
    decode the whole image to look for an eXIf chunk after the pixel data; such a rare late
    chunk is not seen."""
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


@contextmanager
def pixel_limit(max_pixels: int) -> Iterator[None]:
    """Pillow's limit set to the caller's (OCR_MAX_PIXELS, already checked from the headers)
    while one frame is opened and decoded, then put back: Pillow's own bomb check then neither
    refuses what the pipeline allowed nor decodes more than twice the limit."""
    from PIL import Image  # noqa: PLC0415

    with _PIXEL_LIMIT_LOCK:
        previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max_pixels
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = previous
