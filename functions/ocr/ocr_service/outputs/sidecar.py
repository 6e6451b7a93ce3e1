"""The JSON sidecar: the document's layout and confidences for programs that read our output.

Laid out for its readers rather than for a lossless round trip (that is
ocr_service/document/codec.py): every box is already on the input page, in whole pixels that
contain it (floor of left/top, ceil of right/bottom), so a reader can crop or highlight the
original file without knowing how the page was scaled, turned or rendered to be recognized.
The caller builds the header (source object, engine, versions) and serialises the result.
"""

from __future__ import annotations

from collections.abc import Mapping

from ocr_service.document.model import Block, Box, Document, Line, Page, Word

CONFIDENCE_DIGITS = 4  # engines report float32 noise; four digits are more than they know


def render_sidecar(document: Document, header: Mapping[str, object]) -> dict[str, object]:
    """`{**header, "pages": [...]}`, one entry per page of `document`, in order."""
    return {**header, "pages": [_page(page) for page in document.pages]}


def _page(page: Page) -> dict[str, object]:
    return {
        "number": page.number,
        "source": page.source.value,
        "width": _number(page.width),
        "height": _number(page.height),
        "dpi": _number(page.dpi),
        "rotation": page.rotation,
        "language": page.language,
        "trial_limited": page.trial_limited,
        "text": page.text,
        "confidence": page.confidence,
        "blocks": [_block(page, block) for block in page.blocks],
    }


def _block(page: Page, block: Block) -> dict[str, object]:
    return {
        "box": _box(page, block.box),
        "lines": [_line(page, line) for line in block.lines],
    }


def _line(page: Page, line: Line) -> dict[str, object]:
    return {
        "text": line.text,
        "box": _box(page, line.box),
        "confidence": _confidence(line.confidence),
        "words": [_word(page, word) for word in line.words],
    }


def _word(page: Page, word: Word) -> dict[str, object]:
    return {
        "text": word.text,
        "box": _box(page, word.box),
        "confidence": _confidence(word.confidence),
    }


def _box(page: Page, box: Box) -> dict[str, int]:
    left, top, right, bottom = page.input_box(box).rounded()
    return {"x": left, "y": top, "width": right - left, "height": bottom - top}


def _confidence(value: float | None) -> float | None:
    # None stays null: a text-layer page has no confidence, which is not the same as 0.
    return None if value is None else round(value, CONFIDENCE_DIGITS)


def _number(value: float) -> int | float:
    # JSON has one number type: write 2480 rather than 2480.0, and keep fractions exact.
    return int(value) if value.is_integer() else value
