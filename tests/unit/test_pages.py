"""Page images for the engines: every image format decoded once, with its way back to the
input page, and the process-wide decoding limit held only while a page is decoded."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from ocr_service.core.failures import OcrError, Reason
from ocr_service.core.formats import ImageFormat
from ocr_service.inputs.pages import image_pages
from tests.support.samples import render_pages
from tools.samples import DEMO_LINES, render_lines


def test_a_page_left_with_the_caller_holds_no_lock() -> None:
    """An engine that fails on page 1 leaves the generator suspended (a traceback may keep it
    alive); the next object must still decode, on the same thread."""
    data = render_pages([DEMO_LINES, DEMO_LINES], image_format="TIFF")
    suspended = image_pages(data, ImageFormat.TIFF, max_pixels=10**8)
    assert next(suspended).number == 1
    again = list(image_pages(data, ImageFormat.TIFF, max_pixels=10**8))
    assert [page.number for page in again] == [1, 2]
    assert next(suspended).number == 2


def test_only_the_asked_pages_in_order() -> None:
    data = render_pages([DEMO_LINES] * 4, image_format="TIFF")
    pages = image_pages(data, ImageFormat.TIFF, max_pixels=10**8, numbers=(2, 4))
    assert [page.number for page in pages] == [2, 4]


def test_scaled_pages_keep_the_input_size_and_the_way_back() -> None:
    data = render_lines(width=1800, height=600)
    (page,) = image_pages(data, ImageFormat.PNG, max_pixels=10**8, max_side=900)
    assert page.image.size == (900, 300)
    assert (page.input_width, page.input_height) == (1800, 600)
    assert page.to_input.point(900, 300) == pytest.approx((1800, 600))


def test_dpi_comes_from_the_file() -> None:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(render_lines())).save(buffer, "PNG", dpi=(300, 300))
    (page,) = image_pages(buffer.getvalue(), ImageFormat.PNG, max_pixels=10**8)
    assert page.dpi == pytest.approx(300, abs=0.1)
    (unknown,) = image_pages(render_lines(), ImageFormat.PNG, max_pixels=10**8)
    assert unknown.dpi == 0


def test_more_pixels_than_the_limit_is_unreadable_not_a_crash() -> None:
    with pytest.raises(OcrError) as raised:
        list(image_pages(render_lines(), ImageFormat.PNG, max_pixels=1000))
    assert raised.value.reason is Reason.UNREADABLE_IMAGE
