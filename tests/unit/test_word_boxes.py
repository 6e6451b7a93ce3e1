"""Word boxes measured from a line's pixels, for an engine that gives only line boxes."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from ocr_service.document.model import Box
from ocr_service.engines.word_boxes import word_boxes
from tools.samples import FONT_PATH

WORDS = ["Invoice", "number", "4821", "for", "Acme"]


def drawn_line(words: list[str]) -> tuple[Image.Image, Box, list[Box]]:
    """A line of words, its box, and where each word really is."""
    font = ImageFont.truetype(str(FONT_PATH), 32)
    page = Image.new("L", (900, 100), 255)
    draw = ImageDraw.Draw(page)
    x: float = 30
    truth: list[Box] = []
    for word in words:
        alone = Image.new("L", page.size, 255)
        ImageDraw.Draw(alone).text((x, 30), word, fill=0, font=font)
        left, top, right, bottom = alone.point(lambda v: 255 - v).getbbox() or (0, 0, 0, 0)
        draw.text((x, 30), word, fill=0, font=font)
        truth.append(Box(left, top, right, bottom))  # where its ink is
        x += draw.textlength(word + " ", font=font)
    line = Box(truth[0].left - 2, 25, truth[-1].right + 2, 75)
    return page, line, truth


def test_each_word_gets_the_columns_it_covers() -> None:
    page, line, truth = drawn_line(WORDS)
    boxes = word_boxes(page, line, WORDS)
    assert len(boxes) == len(WORDS)
    for box, real in zip(boxes, truth, strict=True):
        assert box.left <= real.left + 1 and box.right >= real.right - 1  # the whole word
        assert box.right - real.right < 12 and real.left - box.left < 12  # and little more
        assert (box.top, box.bottom) == (line.top, line.bottom)


def test_without_visible_gaps_each_word_keeps_the_line_box() -> None:
    page, line, _ = drawn_line(["Invoicenumber"])
    assert word_boxes(page, line, ["Invoice", "number"]) == (line, line)
    blank = Image.new("L", (300, 60), 255)
    box = Box(10, 10, 200, 50)
    assert word_boxes(blank, box, ["a", "b"]) == (box, box)


def test_one_word_and_no_words() -> None:
    page, line, _ = drawn_line(["Invoice"])
    assert word_boxes(page, line, ["Invoice"]) == (line,)
    assert word_boxes(page, line, []) == ()
