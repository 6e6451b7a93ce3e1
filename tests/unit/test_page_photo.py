"""Photos of pages (engines/page_photo.py): the sheet found on a darker surface, seen square-on
when its corners show, and its light evened."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageOps, ImageStat

from ocr_service.engines.page_photo import evened, find_sheet, perspective_coefficients, sheet_image
from tools.photo_samples import TEXTS, light_falloff, on_desk, page_image
from tools.samples import render_lines


def on_a_table(background: int) -> tuple[Image.Image, tuple[int, int, int, int]]:
    page = Image.open(io.BytesIO(render_lines())).convert("L")
    photo = Image.new("L", (page.width + 300, page.height + 120), background)
    photo.paste(page, (200, 40))
    return photo, (200, 40, 200 + page.width, 40 + page.height)


def test_a_page_on_a_dark_table_is_cropped_to_the_paper() -> None:
    photo, where = on_a_table(background=40)
    found = find_sheet(photo)
    assert found is not None
    assert all(abs(a - b) <= 6 for a, b in zip(found.box, where, strict=True)), (found, where)
    assert found.corners is None  # square-on: cropped, not warped


def test_a_scan_a_screenshot_or_a_light_table_is_left_whole() -> None:
    page = Image.open(io.BytesIO(render_lines())).convert("L")
    assert find_sheet(page) is None
    light, _ = on_a_table(background=235)  # no contrast to the paper: nothing to gain
    assert find_sheet(light) is None
    framed = page.copy()
    ImageDraw.Draw(framed).rectangle((0, 0, framed.width - 1, 3), fill=0)  # a thin dark edge
    assert find_sheet(framed) is None


def test_perspective_coefficients_map_the_target_corners_onto_the_source_ones() -> None:
    target = [(0.0, 0.0), (99.0, 0.0), (99.0, 149.0), (0.0, 149.0)]
    source = [(30.0, 20.0), (140.0, 10.0), (160.0, 190.0), (15.0, 200.0)]
    a, b, c, d, e, f, g, h = perspective_coefficients(target, source)
    for (x, y), (u, v) in zip(target, source, strict=True):
        divisor = g * x + h * y + 1
        assert abs((a * x + b * y + c) / divisor - u) < 1e-6
        assert abs((d * x + e * y + f) / divisor - v) < 1e-6


def test_a_page_seen_at_an_angle_is_found_by_its_corners_and_seen_square_on() -> None:
    page, text = page_image(TEXTS[0])  # an A4 page at 150 dpi
    corners = [(260.0, 235.0), (1270.0, 190.0), (1345.0, 1650.0), (190.0, 1695.0)]
    photo = on_desk(page, corners, size=(1512, 2016))
    sheet = find_sheet(photo)
    assert sheet is not None and sheet.corners is not None
    for found, placed in zip(sheet.corners, corners, strict=True):
        assert abs(found[0] - placed[0]) <= 12 and abs(found[1] - placed[1]) <= 12, sheet
    square, to_photo = sheet_image(photo, sheet)
    # Square-on: as wide and high as the sheet's sides are long on average (without the
    # camera's focal length, the page's own proportions are not known); its corners map back.
    assert abs(square.width - (1010 + 1155) / 2) < 15 and abs(square.height - 1460) < 15
    assert _close(to_photo.point(0, 0), sheet.corners[0])
    assert _close(to_photo.point(square.width, 0), sheet.corners[1])
    # The text lines run level again: each is a run of inked rows between blank ones (on the
    # sheet merely cropped, its tilt runs the nine lines into one).
    inner = square.crop((20, 20, square.width - 20, square.height - 20))
    ink = ImageOps.invert(inner).point(lambda value: 255 if value > 100 else 0)
    inked = [value > 0 for value in ink.resize((1, ink.height), Image.Resampling.BOX).tobytes()]
    runs = sum(1 for above, row in zip([False, *inked], inked, strict=False) if row and not above)
    assert runs == len(text.splitlines()) == 9


def test_a_dark_cornered_page_is_evened_and_a_scan_is_left_alone() -> None:
    page = Image.open(io.BytesIO(render_lines())).convert("L")
    assert evened(page) is None  # a scan's paper is evenly lit
    dark = light_falloff(page, darkest=70)
    light = evened(dark)
    assert light is not None
    corner = (dark.width - 40, dark.height - 40, dark.width, dark.height)  # paper, no ink
    assert ImageStat.Stat(dark.crop(corner)).mean[0] < 110
    assert ImageStat.Stat(light.crop(corner)).mean[0] > 230  # paper again
    # Ink stays ink: the text's darkest pixels are as dark as before.
    darkest, _ = ImageStat.Stat(light.crop((0, 0, dark.width, dark.height // 2))).extrema[0]
    assert darkest < 60


def _close(point: tuple[float, float], expected: tuple[float, float]) -> bool:
    return abs(point[0] - expected[0]) <= 2 and abs(point[1] - expected[1]) <= 2
