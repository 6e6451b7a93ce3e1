"""Pages in one or two columns, drawn with Pillow and DejaVu, for the band tests: each column's
lines are known, so a reading's order can be checked."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from bench.images import DOCUMENT_TEXT, FONT_PATH, wrap

WIDTH = 2480  # A4 at 300 dpi
MARGIN = 150
GUTTER = 160
FONT_SIZE = 40
STEP = 60  # pixels from one line to the next: the rows between lines are blank
# A second text, so no word of the right column is also in the left one.
OTHER_TEXT = (
    "Quarterly harvest figures show barley yields rising eleven percent while orchards "
    "recovered slowly after frost; cooperative members voted unanimously for drainage "
    "improvements, solar pumps, cheaper fertiliser contracts, warehouse repairs, veterinary "
    "visits, apprentice wages, tractor leasing, seed banks, honey cooperatives, rural "
    "broadband, village markets, riverside fencing, school gardens and cheese exports."
)


def _font() -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_PATH), FONT_SIZE)


def text_lines(text: str, width: int, count: int) -> list[str]:
    lines = wrap(text, _font(), width)
    return [lines[index % len(lines)] for index in range(count)]


def column_page(
    header: Sequence[str], left: Sequence[str], right: Sequence[str], mode: str = "L"
) -> Image.Image:
    """Full-width `header` lines, then `left` and `right` side by side, lines aligned."""
    rows = len(header) + max(len(left), len(right))
    image = Image.new(mode, (WIDTH, 2 * MARGIN + rows * STEP + STEP), "white")
    draw = ImageDraw.Draw(image)
    font = _font()
    column = (WIDTH - 2 * MARGIN - GUTTER) // 2
    top = MARGIN
    for index, line in enumerate(header):
        draw.text((MARGIN, top + index * STEP), line, fill="black", font=font)
    top += len(header) * STEP + (STEP if header else 0)
    for x, lines in ((MARGIN, left), (MARGIN + column + GUTTER, right)):
        for index, line in enumerate(lines):
            draw.text((x, top + index * STEP), line, fill="black", font=font)
    return image


def single_column(count: int) -> tuple[Image.Image, list[str]]:
    lines = text_lines(DOCUMENT_TEXT, WIDTH - 2 * MARGIN, count)
    return column_page(lines, [], []), lines


def two_columns(count: int) -> tuple[Image.Image, list[str], list[str]]:
    column = (WIDTH - 2 * MARGIN - GUTTER) // 2
    left = text_lines(DOCUMENT_TEXT, column, count)
    right = text_lines(OTHER_TEXT, column, count)
    return column_page([], left, right), left, right
