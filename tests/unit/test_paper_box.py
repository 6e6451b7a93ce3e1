"""Finding the page in a photo of it on a darker surface (engines/tesseract_pages.paper_box)."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from ocr_service.engines.tesseract_pages import paper_box
from tools.samples import render_lines


def on_a_table(background: int) -> tuple[Image.Image, tuple[int, int, int, int]]:
    page = Image.open(io.BytesIO(render_lines())).convert("L")
    photo = Image.new("L", (page.width + 300, page.height + 120), background)
    photo.paste(page, (200, 40))
    return photo, (200, 40, 200 + page.width, 40 + page.height)


def test_a_page_on_a_dark_table_is_cropped_to_the_paper() -> None:
    photo, where = on_a_table(background=40)
    found = paper_box(photo)
    assert found is not None
    assert all(abs(a - b) <= 6 for a, b in zip(found, where, strict=True)), (found, where)


def test_a_scan_a_screenshot_or_a_light_table_is_left_whole() -> None:
    page = Image.open(io.BytesIO(render_lines())).convert("L")
    assert paper_box(page) is None
    light, _ = on_a_table(background=235)  # no contrast to the paper: nothing to gain
    assert paper_box(light) is None
    framed = page.copy()
    ImageDraw.Draw(framed).rectangle((0, 0, framed.width - 1, 3), fill=0)  # a thin dark edge
    assert paper_box(framed) is None
