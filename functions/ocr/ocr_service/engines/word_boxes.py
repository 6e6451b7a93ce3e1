"""Word boxes for an engine that gives only line boxes (Aspose.OCR: its results, JSON and XML
hold lines and characters, no word geometry), measured from the line's own pixels.

A line's words are separated by the widest runs of ink-free columns inside the line's box: a
line of n words has n - 1 such gaps, wider than the gaps between letters of a word. Where the
pixels do not show them (touching letters, noise, a line box that is off), every word keeps its
line's box: a coarser box, never an invented one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ocr_service.document.model import Box

if TYPE_CHECKING:
    from PIL.Image import Image

# A column counts as ink when it is darker than the line's lightest column by more than this
# share of the line's contrast; measured on rendered and scanned lines: the thinnest stroke
# (an "i" or "l" crossing a column) darkens its column by 12-20 % of the contrast.
_INK_SHARE = 0.08
_WORD_GAP_OVER_LETTER_GAP = 1.25  # DejaVu at 32 px: word gaps 11-15 px, letter gaps up to 8
_MIN_CONTRAST = 40  # grey levels: a fainter line gives no reliable gaps


def word_boxes(page: Image, line: Box, words: Sequence[str]) -> tuple[Box, ...]:
    """One box per word of `words`, in the page's pixels, inside `line`."""
    count = len(words)
    if count <= 1:
        return (line,) * count
    left, top = max(0, int(line.left)), max(0, int(line.top))
    right, bottom = min(page.width, int(line.right)), min(page.height, int(line.bottom))
    if right - left < count or bottom <= top:
        return (line,) * count
    from PIL import Image as PILImage  # noqa: PLC0415

    strip = page.convert("L").crop((left, top, right, bottom))
    columns = strip.resize((strip.width, 1), PILImage.Resampling.BOX).tobytes()
    lightest, darkest = max(columns), min(columns)
    if lightest - darkest < _MIN_CONTRAST:
        return (line,) * count
    threshold = lightest - (lightest - darkest) * _INK_SHARE
    gaps = _gaps([value < threshold for value in columns])
    if len(gaps) < count - 1:
        return (line,) * count
    by_width = sorted(gaps, key=lambda gap: gap[1] - gap[0], reverse=True)
    if not _separates_words(by_width, count - 1):
        return (line,) * count
    widest = sorted(by_width[: count - 1])
    starts = [0, *(end for _, end in widest)]
    ends = [*(start for start, _ in widest), len(columns)]
    return tuple(
        Box(left + start, line.top, left + end, line.bottom)
        for start, end in zip(starts, ends, strict=True)
    )


def _separates_words(by_width: Sequence[tuple[int, int]], needed: int) -> bool:
    """Whether the `needed` widest gaps stand out from the rest (the gaps inside words):
    otherwise the line's words touch or its spacing is even, and no split is measured."""
    if len(by_width) == needed:
        return True
    narrowest_chosen = by_width[needed - 1][1] - by_width[needed - 1][0]
    widest_other = by_width[needed][1] - by_width[needed][0]
    return narrowest_chosen >= _WORD_GAP_OVER_LETTER_GAP * widest_other


def _gaps(ink: Sequence[bool]) -> list[tuple[int, int]]:
    """Runs of ink-free columns between the first and the last inked one: (start, end)."""
    inked = [index for index, value in enumerate(ink) if value]
    if not inked:
        return []
    gaps: list[tuple[int, int]] = []
    start: int | None = None
    for index in range(inked[0], inked[-1] + 1):
        if not ink[index] and start is None:
            start = index
        elif ink[index] and start is not None:
            gaps.append((start, index))
            start = None
    return gaps
