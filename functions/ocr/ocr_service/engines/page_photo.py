"""Photos of pages: the sheet found on the surface it lies on, seen square-on when its corners
show, and its light evened out.

Pillow only (the function ships no numpy): masks and measurements are made on small copies;
only the final crop or warp and the division by the background touch the full image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ocr_service.document.model import Transform
from ocr_service.engines.grey_levels import otsu

if TYPE_CHECKING:
    from PIL.Image import Image

Point = tuple[float, float]

# A photo's dark border must be at least this share of the image, and the paper this many grey
# levels brighter than it, before the page is cut out (find_sheet).
MIN_PAPER_CROP = 0.05
PAPER_CONTRAST = 40
PAPER_SHARE_INSIDE = 0.9  # of the bright pixels, inside the sheet's box
_PAPER_SAMPLE_SIDE = 400
# The sheet is straightened (warped square-on) when a corner lies further than this share of
# the sheet's size from its box's corner, and its four corners hold the sheet: the quadrilateral
# covers QUAD_FIT of the bright pixels and they fill QUAD_FIT of it.
MIN_CORNER_OFFSET = 0.02
QUAD_FIT = 0.9
# Light is evened when the paper's background varies by more than this many grey levels
# (between its 5th and 95th percentiles); a scan's varies by a few.
MIN_LIGHT_SPREAD = 40
_LIGHT_SAMPLE_SIDE = 160  # a text line's strokes vanish under the max filter at this size
_LIGHT_FILTER = 5


@dataclass(frozen=True)
class Sheet:
    """Where the page lies in a photo of it: its box, and its corners when it is seen at an
    angle (top-left, top-right, bottom-right, bottom-left), in the photo's pixels."""

    box: tuple[int, int, int, int]
    corners: tuple[Point, Point, Point, Point] | None = None


def perspective_coefficients(target: Sequence[Point], source: Sequence[Point]) -> list[float]:
    """Pillow's eight PERSPECTIVE coefficients that map the four points `target` (in the image
    being made) to the four points `source` (in the image read): the 8x8 linear system solved
    by Gaussian elimination with partial pivoting."""
    rows: list[list[float]] = []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows.append([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u])
        rows.append([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v])
    size = 8
    for column in range(size):
        pivot = max(range(column, size), key=lambda row: abs(rows[row][column]))
        rows[column], rows[pivot] = rows[pivot], rows[column]
        if rows[column][column] == 0:
            raise ValueError("three of the four corners are on one line")
        for row in range(size):
            if row != column:
                factor = rows[row][column] / rows[column][column]
                rows[row] = [a - factor * b for a, b in zip(rows[row], rows[column], strict=True)]
    return [rows[index][size] / rows[index][index] for index in range(size)]


def sheet_image(page: Image, sheet: Sheet) -> tuple[Image, Transform]:
    """The sheet alone, and the map from its pixels to the photo's. Seen at an angle, it is
    warped square-on; the map back is then the affine one through three of its corners (the
    perspective's own map is not affine: boxes on the photo are approximate, words are not)."""
    from PIL import Image as PILImage  # noqa: PLC0415

    if sheet.corners is None:
        left, top, _, _ = sheet.box
        return page.crop(sheet.box), Transform(e=left, f=top)
    top_left, top_right, bottom_right, bottom_left = sheet.corners
    width = round((_distance(top_left, top_right) + _distance(bottom_left, bottom_right)) / 2)
    height = round((_distance(top_left, bottom_left) + _distance(top_right, bottom_right)) / 2)
    target = [(0.0, 0.0), (width - 1.0, 0.0), (width - 1.0, height - 1.0), (0.0, height - 1.0)]
    coefficients = perspective_coefficients(target, sheet.corners)
    warped = page.transform(
        (width, height), PILImage.Transform.PERSPECTIVE, coefficients, PILImage.Resampling.BICUBIC
    )
    to_photo = Transform(
        a=(top_right[0] - top_left[0]) / width,
        b=(top_right[1] - top_left[1]) / width,
        c=(bottom_left[0] - top_left[0]) / height,
        d=(bottom_left[1] - top_left[1]) / height,
        e=top_left[0],
        f=top_left[1],
    )
    return warped, to_photo


def _distance(one: Point, other: Point) -> float:
    return float(((one[0] - other[0]) ** 2 + (one[1] - other[1]) ** 2) ** 0.5)


def find_sheet(page: Image) -> Sheet | None:
    """The sheet in a photo of it on a darker surface, or None when the image is the page (a
    scan, a screenshot): the rows and columns at least half as bright (above Otsu's threshold)
    as the brightest, holding nine tenths of the bright pixels, kept only when the border they
    leave out is at least MIN_PAPER_CROP of the image and darker than the paper by
    PAPER_CONTRAST; with the sheet's corners when they show (`_corners`).

    Measured on ../shared/real-samples: a receipt photographed on a dark table (sroie_230) went
    from a CER of 0.93 to 0.57 (the receipts' mean from 0.226 to 0.190); no other image there
    was cropped, and no other score moved."""
    from PIL import Image as PILImage  # noqa: PLC0415
    from PIL import ImageStat  # noqa: PLC0415

    small = page.convert("L")
    small.thumbnail((_PAPER_SAMPLE_SIDE, _PAPER_SAMPLE_SIDE))
    threshold = otsu(small.histogram())
    bright = small.point(lambda value: 255 if value > threshold else 0)
    columns = _span(bright.resize((small.width, 1), PILImage.Resampling.BOX).tobytes())
    rows = _span(bright.resize((1, small.height), PILImage.Resampling.BOX).tobytes())
    if columns is None or rows is None:
        return None
    inside = (columns[1] - columns[0]) * (rows[1] - rows[0])
    if inside > (1 - MIN_PAPER_CROP) * small.width * small.height:
        return None
    box = (columns[0], rows[0], columns[1], rows[1])
    bright_inside = bright.crop(box).histogram()[255]
    if bright_inside < PAPER_SHARE_INSIDE * bright.histogram()[255]:
        return None  # the bright pixels are not one sheet: scattered light, several papers
    paper = ImageStat.Stat(small.crop(box)).mean[0]
    whole = ImageStat.Stat(small).mean[0]
    border = (whole * small.width * small.height - paper * inside) / (
        small.width * small.height - inside
    )
    if paper - border < PAPER_CONTRAST:
        return None
    scale = page.width / small.width
    corners = _corners(bright, box)
    return Sheet(
        (
            max(0, round(box[0] * scale)),
            max(0, round(box[1] * scale)),
            min(page.width, round(box[2] * scale)),
            min(page.height, round(box[3] * scale)),
        ),
        None if corners is None else _scaled(corners, scale),
    )


def _corners(
    bright: Image, box: tuple[int, int, int, int]
) -> tuple[Point, Point, Point, Point] | None:
    """The sheet's four corners on the small mask `bright`, when the sheet is seen at an angle:
    its bright pixels furthest towards each corner of the image (least and most x + y and
    x - y), kept only when they are a quadrilateral that holds the sheet (QUAD_FIT) and
    one of them is off its box's corner by more than MIN_CORNER_OFFSET of the box."""
    from PIL import Image as PILImage  # noqa: PLC0415
    from PIL import ImageChops, ImageDraw, ImageFilter  # noqa: PLC0415

    # An opening removes specks of light on the surface, which would pull a corner out.
    sheet = bright.filter(ImageFilter.MinFilter(5)).filter(ImageFilter.MaxFilter(5))
    width = sheet.width
    points = [(i % width, i // width) for i, v in enumerate(sheet.tobytes()) if v]
    if not points:
        return None
    top_left = min(points, key=lambda p: p[0] + p[1])
    bottom_right = max(points, key=lambda p: p[0] + p[1])
    top_right = max(points, key=lambda p: p[0] - p[1])
    bottom_left = min(points, key=lambda p: p[0] - p[1])
    quad = (top_left, top_right, bottom_right, bottom_left)
    left, top, right, bottom = box
    square = ((left, top), (right - 1, top), (right - 1, bottom - 1), (left, bottom - 1))
    reach = MIN_CORNER_OFFSET * max(right - left, bottom - top)
    if all(_distance(found, corner) <= reach for found, corner in zip(quad, square, strict=True)):
        return None  # square-on already: a crop does
    drawn = PILImage.new("L", sheet.size, 0)
    ImageDraw.Draw(drawn).polygon(quad, fill=255)
    both = ImageChops.multiply(drawn, sheet).histogram()[255]
    if both < QUAD_FIT * sheet.histogram()[255] or both < QUAD_FIT * drawn.histogram()[255]:
        return None  # not a four-cornered sheet: torn, folded, a hand over a corner
    return (
        (float(top_left[0]), float(top_left[1])),
        (float(top_right[0]), float(top_right[1])),
        (float(bottom_right[0]), float(bottom_right[1])),
        (float(bottom_left[0]), float(bottom_left[1])),
    )


def _scaled(
    corners: tuple[Point, Point, Point, Point], scale: float
) -> tuple[Point, Point, Point, Point]:
    # Pixel centres: a small pixel's centre is (x + 0.5) small pixels from the edge.
    a, b, c, d = (((x + 0.5) * scale, (y + 0.5) * scale) for x, y in corners)
    return a, b, c, d


def _span(profile: bytes) -> tuple[int, int] | None:
    """First and last (exclusive) row or column that is at least half as bright as the
    brightest one: the sheet's extent, whatever share of the photo it fills."""
    if not profile or max(profile) == 0:
        return None
    on = [index for index, value in enumerate(profile) if value >= max(profile) / 2]
    return on[0], on[-1] + 1


def evened(page: Image) -> Image | None:
    """The page in grey with its light made even, or None when it is even already (a scan):
    each pixel divided by the paper's brightness around it, estimated on a small copy where a
    max filter removes the ink and a blur smooths what is left (background normalisation)."""
    from PIL import Image as PILImage  # noqa: PLC0415
    from PIL import ImageFilter, ImageMath  # noqa: PLC0415

    grey = page.convert("L")
    small = grey.copy()
    small.thumbnail((_LIGHT_SAMPLE_SIDE, _LIGHT_SAMPLE_SIDE), PILImage.Resampling.BOX)
    paper = small.filter(ImageFilter.MaxFilter(_LIGHT_FILTER)).filter(ImageFilter.GaussianBlur(2))
    levels = sorted(paper.tobytes())
    spread = levels[len(levels) * 95 // 100] - levels[len(levels) * 5 // 100]
    if spread <= MIN_LIGHT_SPREAD:
        return None
    background = paper.resize(grey.size, PILImage.Resampling.BILINEAR)
    quotient = ImageMath.lambda_eval(
        lambda names: names["ink"] * 255.0 / (names["paper"] + 1.0), ink=grey, paper=background
    )
    # lambda_eval is typed Any: an expression of images gives an image.
    if not isinstance(quotient, PILImage.Image):
        raise TypeError(f"background division gave {type(quotient).__name__}, not an image")
    return quotient.convert("L")
