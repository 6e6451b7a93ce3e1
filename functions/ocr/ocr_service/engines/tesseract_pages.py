"""Preparing one page for Tesseract: the preprocessing filters, orientation and skew, each
step's geometry kept so the engine's boxes can be mapped back to the page it was given.

Aspose applies its own filters; Tesseract reads pixels, so the adapter does these steps here
with Pillow and Tesseract's own orientation detection.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ocr_service.core.config import Preprocessing
from ocr_service.document.model import IDENTITY, Page, Transform
from ocr_service.engines.page_photo import evened, find_sheet, sheet_image

if TYPE_CHECKING:
    from PIL.Image import Image

# Orientation detection's confidence below which a page is left as it is: short or sparse
# text gives low confidence and a wrong turn would ruin a page that reads fine upright.
MIN_ORIENTATION_CONFIDENCE = 2.0
MIN_SKEW_DEGREES = 0.3  # smaller angles do not change recognition, and rotating costs time
MAX_SKEW_DEGREES = 10  # a scan or photo askew by more is an orientation problem, not skew
_COARSE_ANGLES = range(-MAX_SKEW_DEGREES, MAX_SKEW_DEGREES + 1)
_SKEW_SAMPLE_SIDE = 800  # pixels: enough for the line structure, small enough to turn often
# The coarse search (1-degree steps) on a copy half as large, 4x fewer pixels to turn: measured on
# the 35 development-set images and 5 turned A4 pages, the same angle to 0.1 degree for every
# one, in 54 % of the time (0.15 -> 0.08 s an image on one core).
_COARSE_SAMPLE_SIDE = 400
_FINE_ANGLES = [step / 10 for step in range(-7, 8)]  # around the coarse best
_PEAK_OVER_MEDIAN = 2.0  # text lines measured 4.8-7.7x; a photo's slope 1.4x

# Small text (x-height): a page whose words (of three letters or more) are a median of fewer
# than SMALL_TEXT_PX pixels high is read again scaled to TEXT_PX, and that reading kept
# (README, "Accuracy on real inputs": receipts photographed from afar; no other page of the
# development set is that small).
SMALL_TEXT_PX = 18
TEXT_PX = 30
MIN_TEXT_SCALE = 1.1  # less would cost a reading for nothing


@dataclass(frozen=True)
class PreparedPage:
    """A page ready for Tesseract, and the way back to the image it was made from."""

    image: Image
    to_given: Transform
    """From the prepared image's pixels to the given image's (undoing turns and upscaling)."""
    rotation: int
    """Degrees (counter-clockwise) orientation detection turned the page: 0, 90, 180, 270."""
    light_evened: bool = False
    """Whether its light was evened (page_photo.evened): a photo's, unevenly lit."""


def prepare_page(
    page: Image, preprocessing: Preprocessing, osd: Any | None, *, even_light: bool = True
) -> PreparedPage:
    """A photo's sheet cut out (and seen square-on) and its light evened (unless not
    `even_light`), filtered, turned upright by orientation detection (`osd`; None: left as it
    is), then deskewed when asked, as the Aspose path's filters do; each step's geometry is
    kept so boxes map back."""
    forward = IDENTITY  # given -> prepared
    sheet = find_sheet(page)
    if sheet is not None:  # a photo of a page on a darker surface: read the page alone
        page, to_photo = sheet_image(page, sheet)
        forward = to_photo.inverse()
    light = evened(page) if even_light else None
    if light is not None:  # light falling off across a photo, a shadow
        page = light
    width, height = page.size
    page = _filtered(page, preprocessing)
    if page.size != (width, height):  # upscale-small-font
        forward = forward.then(Transform.scaling(page.width / width, page.height / height))
    turned, rotation = _upright(page, osd) if osd is not None else (page, 0)
    if rotation:
        forward = forward.then(Transform.rotation(rotation, page.width, page.height))
    page = turned
    if "deskew" in preprocessing.filters:
        angle = skew_angle(page)
        if abs(angle) >= MIN_SKEW_DEGREES:
            forward = forward.then(Transform.rotation(angle, page.width, page.height))
            page = _turned(page, angle)
    return PreparedPage(page, forward.inverse(), rotation, light is not None)


def text_scale(reading: Page, pixels: int, max_pixels: int) -> float:
    """How much to enlarge a page whose text is small (1: it is not): TEXT_PX over the median
    height of its words of three letters or more, when that is under SMALL_TEXT_PX; never past
    `max_pixels` (OCR_MAX_PIXELS, what memory was sized for)."""
    heights = [
        word.box.height
        for word in reading.words()
        if sum(character.isalpha() for character in word.text) >= 3  # noqa: PLR2004
    ]
    if not heights:
        return 1.0
    height = statistics.median(heights)
    if not 0 < height < SMALL_TEXT_PX:
        return 1.0
    scale = min(TEXT_PX / height, (max_pixels / max(1, pixels)) ** 0.5)
    return scale if scale >= MIN_TEXT_SCALE else 1.0


def upscaled(prepared: PreparedPage, factor: float) -> PreparedPage:
    """`prepared` enlarged `factor` times (bicubic), its way back scaled down first."""
    if factor <= 1:
        return prepared
    from PIL import Image as PILImage  # noqa: PLC0415

    image = prepared.image
    size = (round(image.width * factor), round(image.height * factor))
    back = Transform.scaling(image.width / size[0], image.height / size[1])
    return replace(
        prepared,
        image=image.resize(size, PILImage.Resampling.BICUBIC),
        to_given=back.then(prepared.to_given),
    )


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


def _upright(page: Image, osd: Any) -> tuple[Image, int]:
    """The page turned by what Tesseract's orientation detection (osd.traineddata) finds,
    and the degrees it was turned (counter-clockwise)."""
    osd.SetImage(page)
    found = osd.DetectOrientationScript()
    if not found or not found.get("orient_deg"):
        return page, 0
    if found.get("orient_conf", 0.0) < MIN_ORIENTATION_CONFIDENCE:
        return page, 0
    # Pillow turns counter-clockwise; the detected angle is how far to turn it back.
    degrees = int(found["orient_deg"])
    return page.rotate(degrees, expand=True, fillcolor=_background(page)), degrees


def skew_angle(page: Image) -> float:
    """The angle (degrees, counter-clockwise) that makes the text lines horizontal: the turn
    whose row profile is sharpest (text lines and the gaps between them), searched coarsely on
    a small inverted copy, then finely on a larger one. Tesseract's own layout analysis reports
    no skew through this API (measured: 0.0 for pages turned by 2 and 4 degrees).

    Text lines give one sharp peak, at least 4x the profile's median over the coarse angles
    (measured on turned pages); a photo of a page on a desk gives a slope that rises towards
    the end of the range instead (measured: deskewing by that slope, -10.9 degrees, left
    Tesseract reading nothing). Without a clear peak the page is left as it is."""
    from PIL import Image as PILImage  # noqa: PLC0415
    from PIL import ImageOps  # noqa: PLC0415

    fine = ImageOps.invert(page.convert("L"))  # ink is bright, so the padding adds nothing
    fine.thumbnail((_SKEW_SAMPLE_SIDE, _SKEW_SAMPLE_SIDE))
    coarse_copy = fine.copy()
    coarse_copy.thumbnail((_COARSE_SAMPLE_SIDE, _COARSE_SAMPLE_SIDE))

    def sharpness(sample: Image, angle: float) -> float:
        turned = sample.rotate(angle, resample=PILImage.Resampling.BILINEAR, expand=True)
        profile = turned.resize((1, turned.height), PILImage.Resampling.BOX)
        return statistics.pvariance([float(value) for value in profile.tobytes()])

    coarse = {angle: sharpness(coarse_copy, angle) for angle in _COARSE_ANGLES}
    best = max(coarse, key=lambda angle: coarse[angle])
    at_the_edge = abs(best) == MAX_SKEW_DEGREES
    if at_the_edge or coarse[best] < _PEAK_OVER_MEDIAN * statistics.median(coarse.values()):
        return 0.0
    return max((best + step for step in _FINE_ANGLES), key=lambda angle: sharpness(fine, angle))


def _turned(page: Image, angle: float) -> Image:
    from PIL import Image as PILImage  # noqa: PLC0415

    return page.rotate(
        angle, expand=True, fillcolor=_background(page), resample=PILImage.Resampling.BICUBIC
    )


def _background(page: Image) -> int | tuple[int, ...]:
    return 255 if page.mode == "L" else (255,) * len(page.getbands())
