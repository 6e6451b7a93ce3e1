"""One page on several vCPUs: where a prepared page can be cut into horizontal bands that
Tesseract reads in parallel threads without changing what it reads or in which order.

The wheel's libtesseract uses one core per API object, so a single image on a function with
several vCPUs leaves all but one idle. Cut at rows that are blank across the full width, each
band read by its own API object gives the same words in the same order as the whole page,
provided no cut goes through a multi-column zone: Tesseract reads a column to its end before
the next, and a cut through two columns would interleave them (README, "One page on several
vCPUs", for the measurements behind the thresholds here).
"""

from __future__ import annotations

import statistics
import threading
from dataclasses import dataclass
from itertools import accumulate, pairwise
from typing import TYPE_CHECKING

from ocr_service.document.model import Block, Line, Transform, Word
from ocr_service.engines.grey_levels import otsu

if TYPE_CHECKING:
    from PIL.Image import Image

# The page is looked at in blocks of this many pixels a side: a 300-dpi A4 page becomes 620 x
# 877, where a 12 pt line is about 15 rows and the gap between lines about 4.
_SAMPLE_BLOCK = 4
MIN_GAP_LINES = 0.1  # a cut row's blank gap, in text-line heights (at least one sample row)
GUTTER_LINES = 1.0  # a blank vertical run this wide (in line heights) inside a line: a gutter
# Measured (README): a band of one line still saved time (0.19 -> 0.15 s for two lines on two
# threads), but barely; from two lines a band saves a third of the wall time.
MIN_LINES_PER_BAND = 2
MIN_BAND_SHARE = 0.5  # of an equal share of the ink: a smaller band is not worth its thread


@dataclass(frozen=True)
class _Strip:
    """A run of sample rows with ink (a text line, or several touching ones)."""

    top: int
    bottom: int  # exclusive
    ink: bytes  # per sample column: 1 where the strip holds ink


def band_cuts(page: Image, parts: int) -> list[int]:
    """Up to `parts - 1` rows of `page` (increasing) to cut it at, each in a full-width blank
    gap that no column gutter crosses, near where the ink is shared equally; none when the page
    has too few lines or no safe gap."""
    if parts < 2:  # noqa: PLR2004 - one part is the whole page
        return []
    ink, width = _ink_rows(page)
    strips = _strips(ink, width)
    parts = min(parts, len(strips) // MIN_LINES_PER_BAND)
    if parts < 2:  # noqa: PLR2004
        return []
    line = statistics.median(strip.bottom - strip.top for strip in strips)
    min_gap = max(1.0, MIN_GAP_LINES * line)
    gutter = max(2, round(GUTTER_LINES * line))
    unsafe = _crossed_gaps(strips, gutter) | _crossed_gaps(strips[::-1], gutter, reverse=True)
    # Candidate cuts: the middle of each safe gap, and the ink above it.
    weights = list(accumulate(width - row.count(0) for row in ink))
    candidates = [
        ((above.bottom + below.top) // 2, weights[above.bottom - 1])
        for index, (above, below) in enumerate(pairwise(strips))
        if below.top - above.bottom >= min_gap and index not in unsafe
    ]
    rows = _balanced(candidates, weights[-1], parts)
    return [row * _SAMPLE_BLOCK for row in rows]


def _ink_rows(page: Image) -> tuple[list[bytes], int]:
    """Per sample row, per sample column: 1 where the block holds any ink pixel, else 0. Ink
    is the darker side of Otsu's threshold, or the lighter one when that covers most of the
    page (light text on dark); thresholded before sampling, so a thin stroke is never lost."""
    gray = page.convert("L")
    histogram = gray.histogram()
    threshold = otsu(histogram)
    dark_is_ink = sum(histogram[: threshold + 1]) <= gray.width * gray.height / 2

    def mark(value: int) -> int:
        return 255 if (value <= threshold) == dark_is_ink else 0

    # Box mean of the marks: above 0 wherever a block holds ink.
    sample = gray.point(mark).reduce(_SAMPLE_BLOCK).point(lambda value: 1 if value else 0)
    width, data = sample.width, sample.tobytes()
    return [data[top : top + width] for top in range(0, len(data), width)], width


def _strips(rows: list[bytes], width: int) -> list[_Strip]:
    strips: list[_Strip] = []
    top: int | None = None
    for index, row in enumerate([*rows, bytes(width)]):
        blank = row.count(0) == width
        if not blank and top is None:
            top = index
        elif blank and top is not None:
            columns = 0  # the strip's rows OR-ed, as one integer of 0/1 bytes
            for inked in rows[top:index]:
                columns |= int.from_bytes(inked)
            strips.append(_Strip(top, index, columns.to_bytes(width)))
            top = None
    return strips


def _crossed_gaps(strips: list[_Strip], gutter: int, *, reverse: bool = False) -> set[int]:
    """Gaps (by the index of the strip above) that a column gutter crosses, walking down the
    page (or up it, `reverse`). A gutter starts at a strip with a blank run at least `gutter`
    wide between inks; it goes on through the next strips while they leave at least half of
    it blank, narrowing to what they leave blank. A strip with ink on one side only (the end of
    a longer column) keeps it going: Tesseract reads that column's end before the next one."""
    crossed: set[int] = set()
    alive: list[tuple[int, int]] = []
    for index, strip in enumerate(strips):
        going = [kept for span in alive if (kept := _blank_within(strip.ink, span, gutter // 2))]
        if going and index > 0:
            crossed.add(len(strips) - 1 - index if reverse else index - 1)
        alive = going + _gutters(strip.ink, gutter)
    return crossed


def _gutters(ink: bytes, gutter: int) -> list[tuple[int, int]]:
    """Blank runs at least `gutter` columns wide with ink on both sides."""
    inked = [x for x, value in enumerate(ink) if value]
    return [(left + 1, right) for left, right in pairwise(inked) if right - left - 1 >= gutter]


def _blank_within(ink: bytes, span: tuple[int, int], least: int) -> tuple[int, int] | None:
    """The widest blank run inside `span`, if at least `least` wide."""
    best: tuple[int, int] | None = None
    start = None
    for x in range(span[0], span[1] + 1):
        if x < span[1] and not ink[x]:
            start = x if start is None else start
        elif start is not None:
            if best is None or x - start > best[1] - best[0]:
                best = (start, x)
            start = None
    return best if best is not None and best[1] - best[0] >= max(1, least) else None


def _balanced(candidates: list[tuple[int, int]], total: int, parts: int) -> list[int]:
    """For each of the `parts - 1` equal shares of the ink, the candidate nearest to it;
    cuts that leave a band with much less than a share are dropped."""
    least = MIN_BAND_SHARE * total / parts
    chosen: list[int] = []
    last_weight = 0
    for part in range(1, parts):
        target = total * part / parts
        viable = [c for c in candidates if c[1] - last_weight >= least and total - c[1] >= least]
        if not viable:
            break
        row, weight = min(viable, key=lambda candidate: abs(candidate[1] - target))
        if chosen and row <= chosen[-1]:
            continue
        chosen.append(row)
        last_weight = weight
    return chosen


def split(page: Image, cuts: list[int]) -> list[tuple[Image, int]]:
    """The bands between `cuts`, each with the row of the page it starts at."""
    edges = [0, *cuts, page.height]
    return [(page.crop((0, top, page.width, bottom)), top) for top, bottom in pairwise(edges)]


def shifted(blocks: tuple[Block, ...], top: int) -> tuple[Block, ...]:
    """A band's blocks with their boxes moved from the band's pixels to the page's."""
    if not top:
        return blocks
    down = Transform(f=top)
    return tuple(
        Block(
            tuple(
                Line(
                    tuple(Word(w.text, down.box(w.box), w.confidence) for w in line.words),
                    down.box(line.box),
                    line.confidence,
                )
                for line in block.lines
            ),
            down.box(block.box),
        )
        for block in blocks
    )


class PageSpread:
    """How many bands each page of one document is cut into: the vCPUs shared among its pages
    (a document with as many pages as vCPUs, or more, keeps them busy page by page). Known once
    the pages are counted; a page that reaches its read before that waits for it. The counting
    thread decodes at most `workers` pages before it settles, and settles before it waits for
    any page, so the wait is short and cannot deadlock."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._parts = 1
        self._settled = threading.Event()

    def settle(self, pages: int | None) -> None:
        """The document has `pages` pages, or None: at least as many as vCPUs (or the count
        failed). Only the first call counts."""
        if not self._settled.is_set():
            self._parts = max(1, self._workers // pages) if pages else 1
            self._settled.set()

    def parts(self) -> int:
        self._settled.wait()
        return self._parts
