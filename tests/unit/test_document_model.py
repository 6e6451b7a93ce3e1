"""The document model's geometry (transforms back to the input page) and its lossless codec."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image, ImageDraw

from ocr_service.document.codec import page_from_json, page_to_json
from ocr_service.document.model import (
    IDENTITY,
    Block,
    Box,
    Document,
    Line,
    Page,
    PageSource,
    Transform,
    Word,
)


def ink_box(image: Image.Image) -> Box:
    left, top, right, bottom = image.point(lambda value: 255 - value).getbbox() or (0, 0, 0, 0)
    return Box(left, top, right, bottom)


@pytest.mark.parametrize("degrees", [90, 180, 270, 4, -7.5])
def test_rotation_maps_points_as_pillow_turns_the_image(degrees: float) -> None:
    """A black square drawn on a page lands where the transform says once Pillow turns it."""
    page = Image.new("L", (400, 300), 255)
    square = Box(50, 40, 90, 70)
    ImageDraw.Draw(page).rectangle((50, 40, 89, 69), fill=0)
    turned = page.rotate(degrees, expand=True, fillcolor=255)

    expected = Transform.rotation(degrees, 400, 300).box(square)
    found = ink_box(turned)
    for got, want in zip(
        (found.left, found.top, found.right, found.bottom),
        (expected.left, expected.top, expected.right, expected.bottom),
        strict=True,
    ):
        assert got == pytest.approx(want, abs=2.5)


def test_then_and_inverse_compose_as_maps() -> None:
    scale = Transform.scaling(2, 3)
    turn = Transform.rotation(90, 100, 50)
    both = scale.then(turn)
    x, y = turn.point(*scale.point(7, 11))
    assert both.point(7, 11) == pytest.approx((x, y))
    back = both.inverse()
    assert back.point(*both.point(7, 11)) == pytest.approx((7, 11))
    assert IDENTITY.then(scale) == scale
    with pytest.raises(ValueError):
        Transform(0, 0, 0, 0).inverse()


def test_boxes_round_outwards_and_enclose() -> None:
    assert Box(1.2, 2.8, 3.1, 4.0).rounded() == (1, 2, 4, 4)
    assert Box.enclosing([Box(5, 5, 6, 6), Box(1, 7, 2, 9)]) == Box(1, 5, 6, 9)
    with pytest.raises(ValueError):
        Box.enclosing([])


def page(number: int, source: PageSource, blocks: tuple[Block, ...]) -> Page:
    return Page(number, 850.5, 1100, 300, source, blocks, Transform.scaling(1.5), "ENG", True, 90)


def test_text_joins_words_lines_blocks_and_pages() -> None:
    hello = Word("Hello", Box(0, 0, 10, 5), 0.9)
    world = Word("world", Box(12, 0, 20, 5), None)
    line = Line((hello, world), Box(0, 0, 20, 5), 0.8)
    first = page(1, PageSource.OCR, (Block((line, line), line.box), Block((line,), line.box)))
    empty = page(2, PageSource.TEXT_LAYER, ())
    document = Document((first, empty), "ENG")
    assert document.text == "Hello world\nHello world\n\nHello world\f"
    assert (document.count(PageSource.OCR), document.count(PageSource.TEXT_LAYER)) == (1, 1)
    assert first.input_box(hello.box) == Box(0, 0, 15, 7.5)


def test_the_codec_round_trips_every_field_through_json() -> None:
    word = Word("Привет", Box(1.5, 2, 30, 12.25), 0.93)
    line = Line((word, Word("<&>", Box(31, 2, 40, 12), None)), Box(1.5, 2, 40, 12.25), None)
    original = page(7, PageSource.OCR, (Block((line,), line.box),))
    text = json.dumps(page_to_json(original), ensure_ascii=False)
    assert page_from_json(json.loads(io.StringIO(text).read())) == original


def test_confidence_users_can_act_on() -> None:
    """Words' own confidences; a line's where the engine gives none per word; 1.0 for a text
    layer; nothing from a page the engine cut for want of a license (its score is 0 then)."""
    box = Box(0, 0, 1, 1)
    scored = Line((Word("a", box, 0.9), Word("b", box, 0.5)), box, 0.1)
    by_line = Line((Word("c", box), Word("d", box)), box, 0.6)
    ocr = Page(1, 10, 10, 0, PageSource.OCR, (Block((scored, by_line), box),))
    assert ocr.word_confidences() == [0.9, 0.5, 0.6, 0.6]
    assert ocr.confidence == 0.65
    text_layer = Page(2, 10, 10, 0, PageSource.TEXT_LAYER, (Block((by_line,), box),))
    assert text_layer.confidence == 1.0
    trial = Page(3, 10, 10, 0, PageSource.OCR, (Block((scored,), box),), trial_limited=True)
    assert trial.confidence is None
    assert Document((ocr, text_layer, trial)).confidence == round((2.6 + 2.0) / 6, 4)
    assert Document((trial,)).confidence is None
    assert Page(4, 10, 10, 0, PageSource.OCR).confidence is None  # no words at all
