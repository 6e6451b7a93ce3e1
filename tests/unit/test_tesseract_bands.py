"""Where a page may be cut into bands read in parallel (tesseract_bands.py), on pages drawn with
Pillow and DejaVu: blank rows only, never through a column."""

from __future__ import annotations

import threading

from PIL import Image, ImageDraw, ImageFont, ImageOps

from bench.images import FONT_PATH
from ocr_service.document.model import Block, Box, Line, Word
from ocr_service.engines.tesseract_bands import (
    MIN_LINES_PER_BAND,
    PageSpread,
    band_cuts,
    shifted,
    split,
)
from tests.support.layouts import (
    GUTTER,
    MARGIN,
    OTHER_TEXT,
    STEP,
    WIDTH,
    column_page,
    single_column,
    text_lines,
    two_columns,
)


def blank_row(page: Image.Image, row: int) -> bool:
    low, _ = page.convert("L").crop((0, row, page.width, row + 1)).getextrema()
    return bool(low > 127)  # type: ignore[operator]  # 'L': (low, high)


def test_a_single_column_is_cut_at_blank_rows_near_equal_shares() -> None:
    page, _ = single_column(30)
    (cut,) = band_cuts(page, 2)
    assert blank_row(page, cut)
    assert abs(cut - page.height / 2) < 2 * STEP  # the text fills the page evenly
    cuts = band_cuts(page, 4)
    assert len(cuts) == 3
    assert cuts == sorted(set(cuts))
    assert all(blank_row(page, row) for row in cuts)


def test_one_part_or_too_few_lines_is_not_cut() -> None:
    page, _ = single_column(30)
    assert band_cuts(page, 1) == []
    small, _ = single_column(2 * MIN_LINES_PER_BAND - 1)
    assert band_cuts(small, 2) == []
    assert band_cuts(Image.new("L", (800, 600), "white"), 2) == []


def test_more_parts_than_lines_allow_make_fewer_bands() -> None:
    page, _ = single_column(3 * MIN_LINES_PER_BAND)
    assert len(band_cuts(page, 8)) == 2


def test_two_columns_are_never_cut_though_their_lines_leave_blank_rows() -> None:
    page, _, _ = two_columns(24)
    assert all(blank_row(page, MARGIN + index * STEP - 8) for index in range(1, 24))
    assert band_cuts(page, 2) == []
    assert band_cuts(page, 8) == []


def test_a_full_width_header_may_be_cut_from_the_columns_below_it() -> None:
    _, left, right = two_columns(12)
    header = text_lines(OTHER_TEXT, WIDTH - 2 * MARGIN, 8)
    page = column_page(header, left, right)
    body_top = MARGIN + (len(header) + 1) * STEP
    cuts = band_cuts(page, 4)
    assert cuts  # the header is a third of the ink
    assert all(row < body_top for row in cuts)
    assert cuts[-1] > MARGIN + (len(header) - 1) * STEP  # between the header and the body


def test_a_longer_column_is_not_cut_below_the_shorter_one() -> None:
    # Tesseract reads the left column to its end before the right one: a cut where only the
    # left one goes on would put its end after the right column.
    _, left, right = two_columns(30)
    page = column_page([], left, right[:6])
    assert band_cuts(page, 2) == []
    assert band_cuts(page, 4) == []


def test_a_short_line_above_two_columns_is_not_cut_from_them() -> None:
    # A right-aligned date over the right column may be read as that column's first line.
    _, left, right = two_columns(12)
    page = column_page([" "], left, right)  # an empty first line, where the date goes
    right_column = MARGIN + (WIDTH - 2 * MARGIN - GUTTER) // 2 + GUTTER
    ImageDraw.Draw(page).text((right_column + 400, MARGIN), "14 March 2026", fill="black",
                              font=ImageFont.truetype(str(FONT_PATH), 40))  # fmt: skip
    date = page
    assert band_cuts(date, 2) == []


def test_light_text_on_dark_is_cut_too() -> None:
    page, _ = single_column(20)
    inverted = ImageOps.invert(page)
    assert band_cuts(inverted, 2) == band_cuts(page, 2) != []


def test_split_gives_each_band_and_its_top() -> None:
    page, _ = single_column(20)
    bands = split(page, [300, 700])
    assert [(band.size, top) for band, top in bands] == [
        ((page.width, 300), 0),
        ((page.width, 400), 300),
        ((page.width, page.height - 700), 700),
    ]


def test_shifted_moves_every_box_down_by_the_band_top() -> None:
    word = Word("word", Box(10, 5, 50, 25), 0.9)
    block = Block((Line((word,), Box(10, 5, 60, 25), 0.8),), Box(0, 0, 70, 30))
    (moved,) = shifted((block,), 100)
    assert moved.box == Box(0, 100, 70, 130)
    (line,) = moved.lines
    assert (line.box, line.confidence) == (Box(10, 105, 60, 125), 0.8)
    assert line.words == (Word("word", Box(10, 105, 50, 125), 0.9),)
    assert shifted((block,), 0) == (block,)


def test_page_spread_shares_the_workers_once_the_pages_are_counted() -> None:
    cases = {1: 4, 2: 2, 3: 1, 4: 1, None: 1}
    for pages, parts in cases.items():
        spread = PageSpread(4)
        spread.settle(pages)
        spread.settle(1)  # only the first count holds
        assert spread.parts() == parts


def test_page_spread_makes_a_page_wait_until_the_count_is_known() -> None:
    spread = PageSpread(2)
    got: list[int] = []
    reader = threading.Thread(target=lambda: got.append(spread.parts()))
    reader.start()
    reader.join(0.1)
    assert reader.is_alive() and not got
    spread.settle(1)
    reader.join(5)
    assert got == [2]
