"""One page on several vCPUs, with the real Tesseract: a page read in bands on several threads
reads as the whole page does (words, order, boxes), and bands are used only where vCPUs would
otherwise be idle."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator

import pytest
import tesserocr
from PIL import Image

from ocr_service.core.config import load_engine_settings
from ocr_service.document.model import Page
from ocr_service.engines import tesseract as adapter
from ocr_service.engines import tesseract_bands
from ocr_service.engines.tesseract import TesseractEngine
from tests.support.deployment import tessdata_dir
from tests.support.layouts import (
    MARGIN,
    OTHER_TEXT,
    STEP,
    WIDTH,
    column_page,
    single_column,
    text_lines,
    two_columns,
)
from tests.support.reading import read_document
from tests.support.samples import render_pages

HEADER_TEXT = (
    "Minutes of the annual general meeting held in the village hall on the first Monday of "
    "spring, with the treasurer's statement, the chair's report, the election of the new "
    "committee and the result of every motion put to the members who attended in person."
)


def started(workers: int, *, bands: bool = True) -> TesseractEngine:
    settings = load_engine_settings({"OCR_ENGINE": "tesseract", "OCR_TESSDATA_DIR": tessdata_dir()})
    settings = dataclasses.replace(settings, warm_up=False, page_bands=bands)
    return TesseractEngine(tesserocr, settings, workers, 0.0)


@pytest.fixture(scope="module")
def engines() -> dict[int, TesseractEngine]:
    return {workers: started(workers) for workers in (1, 2, 4)}


@pytest.fixture
def cuts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, list[int]]]]:
    """(parts asked for, cuts made) of every page read from now on."""
    seen: list[tuple[int, list[int]]] = []
    original = tesseract_bands.band_cuts

    def recording(page: Image.Image, parts: int) -> list[int]:
        made = original(page, parts)
        seen.append((parts, made))
        return made

    monkeypatch.setattr(adapter, "band_cuts", recording)
    yield seen


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def one_page(engine: TesseractEngine, image: Image.Image) -> Page:
    (page,) = read_document(engine, png(image)).pages
    return page


def test_a_single_column_in_bands_reads_as_the_whole_page(
    engines: dict[int, TesseractEngine], cuts: list[tuple[int, list[int]]]
) -> None:
    image, lines = single_column(24)
    whole = one_page(engines[1], image)
    assert cuts == []  # one worker: never banded
    for workers in (2, 4):
        cuts.clear()
        banded = one_page(engines[workers], image)
        ((parts, made),) = cuts
        assert (parts, len(made)) == (workers, workers - 1)
        assert [word.text for word in banded.words()] == [word.text for word in whole.words()]
        assert len(banded.text.split()) >= len(" ".join(lines).split()) - 2  # nothing lost
        # Each word's box, mapped back from its band, is where the whole page has it.
        for band_word, whole_word in zip(banded.words(), whole.words(), strict=True):
            got, want = band_word.box, whole_word.box
            assert max(abs(got.left - want.left), abs(got.top - want.top),
                       abs(got.right - want.right), abs(got.bottom - want.bottom)) <= 3  # fmt: skip
            assert band_word.confidence is not None
        assert [line.box.top for line in banded.lines()] == sorted(
            line.box.top for line in banded.lines()
        )


def test_two_columns_are_read_one_after_the_other_as_whole(
    engines: dict[int, TesseractEngine], cuts: list[tuple[int, list[int]]]
) -> None:
    image, left, right = two_columns(16)
    whole = one_page(engines[1], image)
    banded = one_page(engines[4], image)
    assert cuts == [(4, [])]
    assert banded.text == whole.text
    text = " ".join(banded.text.split())
    assert text.index(" ".join(left[-1].split())) < text.index(" ".join(right[0].split()))


def test_a_header_is_cut_from_the_columns_below_and_the_order_kept(
    engines: dict[int, TesseractEngine], cuts: list[tuple[int, list[int]]]
) -> None:
    _, left, right = two_columns(10)
    header = text_lines(HEADER_TEXT, WIDTH - 2 * MARGIN, 8)
    image = column_page(header, left, right)
    whole = one_page(engines[1], image)
    banded = one_page(engines[2], image)
    ((_, made),) = cuts
    body_top = MARGIN + (len(header) + 1) * STEP
    assert made and all(row < body_top for row in made)
    assert banded.text.split() == whole.text.split()
    text = " ".join(banded.text.split())
    body = text.index(" ".join(left[0].split()))
    assert text.index(" ".join(header[-1].split())) < body
    assert text.index(" ".join(left[-1].split())) < text.index(" ".join(right[0].split()), body)


@pytest.mark.parametrize(
    ("workers", "pages", "parts"),
    [(2, 1, 2), (2, 2, 1), (2, 3, 1), (4, 1, 4), (4, 2, 2), (4, 3, 1), (4, 5, 1)],
)
def test_bands_only_for_fewer_pages_than_workers(
    engines: dict[int, TesseractEngine],
    cuts: list[tuple[int, list[int]]],
    workers: int,
    pages: int,
    parts: int,
) -> None:
    # Each page long enough to be cut; several pages from one TIFF, read on the page threads.
    lines = [[f"Page {index + 1}", *text_lines(OTHER_TEXT, 800, 12)] for index in range(pages)]
    data = render_pages(lines)
    whole = read_document(engines[1], data)
    cuts.clear()
    document = read_document(engines[workers], data)
    assert [page.number for page in document.pages] == list(range(1, pages + 1))
    assert [page.text.split() for page in document.pages] == [
        page.text.split() for page in whole.pages
    ]
    assert [page.text.split()[:2] for page in document.pages] == [
        ["Page", str(number)] for number in range(1, pages + 1)
    ]
    # Cuts are looked for only where a page has vCPUs to share.
    assert sorted(asked for asked, _ in cuts) == ([parts] * pages if parts > 1 else [])
    assert all(made for asked, made in cuts if asked > 1)  # really banded


def test_no_bands_when_turned_off() -> None:
    engine = started(2, bands=False)
    image, _ = single_column(24)
    assert engine._band_pool is None  # no threads for bands at all
    assert one_page(engine, image).text.split() == one_page(started(1), image).text.split()
