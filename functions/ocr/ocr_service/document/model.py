"""The one engine-neutral document model: page -> block -> line -> word, with boxes,
confidences, and where each page's text came from.

Both engines and the PDF text-layer reader fill it; every output (txt, json, hOCR, ALTO, the
PDF text layer) is rendered from it alone (ocr_service/outputs/). Boxes are in pixels of the
image that was recognized; each page keeps its size and resolution on the input and the
transform from that image back to the input page (scaling, orientation, deskew, a PDF page's
rendering resolution), so a renderer can lay any box on the original page.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

PAGE_SEPARATOR = "\f"  # form feed: the plain-text convention for a page break


class PageSource(enum.StrEnum):
    """Where a page's text came from."""

    TEXT_LAYER = "text-layer"  # read from the PDF's own text, no engine involved
    OCR = "ocr"  # recognized by the engine


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle: left, top, right, bottom (y grows downwards)."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    def rounded(self) -> tuple[int, int, int, int]:
        """Whole pixels that contain the box (hOCR and ALTO want integers)."""
        return (
            math.floor(self.left),
            math.floor(self.top),
            math.ceil(self.right),
            math.ceil(self.bottom),
        )

    @staticmethod
    def enclosing(boxes: Iterable[Box]) -> Box:
        """The smallest box around `boxes` (at least one)."""
        items = list(boxes)
        if not items:
            raise ValueError("no boxes to enclose")
        return Box(
            min(box.left for box in items),
            min(box.top for box in items),
            max(box.right for box in items),
            max(box.bottom for box in items),
        )


@dataclass(frozen=True)
class Transform:
    """An affine map of points, as PDF writes it: x' = a x + c y + e, y' = b x + d y + f."""

    a: float = 1.0
    b: float = 0.0
    c: float = 0.0
    d: float = 1.0
    e: float = 0.0
    f: float = 0.0

    @staticmethod
    def scaling(sx: float, sy: float | None = None) -> Transform:
        return Transform(a=sx, d=sx if sy is None else sy)

    @staticmethod
    def rotation(degrees: float, width: float, height: float) -> Transform:
        """The map from a `width` x `height` image to the same image turned `degrees`
        counter-clockwise (as Pillow's rotate with expand=True turns it), y pointing down."""
        radians = math.radians(degrees)
        cos, sin = math.cos(radians), math.sin(radians)
        # Counter-clockwise on screen, with y down, about the centre; then the expanded
        # canvas's new centre.
        new_width = abs(width * cos) + abs(height * sin)
        new_height = abs(width * sin) + abs(height * cos)
        cx, cy = width / 2, height / 2
        return Transform(
            a=cos,
            b=-sin,
            c=sin,
            d=cos,
            e=new_width / 2 - cos * cx - sin * cy,
            f=new_height / 2 + sin * cx - cos * cy,
        )

    def then(self, other: Transform) -> Transform:
        """This map followed by `other`."""
        return Transform(
            a=other.a * self.a + other.c * self.b,
            b=other.b * self.a + other.d * self.b,
            c=other.a * self.c + other.c * self.d,
            d=other.b * self.c + other.d * self.d,
            e=other.a * self.e + other.c * self.f + other.e,
            f=other.b * self.e + other.d * self.f + other.f,
        )

    def inverse(self) -> Transform:
        det = self.a * self.d - self.b * self.c
        if det == 0:
            raise ValueError("a transform that flattens the page has no inverse")
        a, b, c, d = self.d / det, -self.b / det, -self.c / det, self.a / det
        return Transform(a, b, c, d, -(a * self.e + c * self.f), -(b * self.e + d * self.f))

    def point(self, x: float, y: float) -> tuple[float, float]:
        return self.a * x + self.c * y + self.e, self.b * x + self.d * y + self.f

    def box(self, box: Box) -> Box:
        """The box around the mapped corners (a turned box's bounding box)."""
        corners = [self.point(x, y) for x in (box.left, box.right) for y in (box.top, box.bottom)]
        xs, ys = [x for x, _ in corners], [y for _, y in corners]
        return Box(min(xs), min(ys), max(xs), max(ys))

    def as_tuple(self) -> tuple[float, float, float, float, float, float]:
        return (self.a, self.b, self.c, self.d, self.e, self.f)


IDENTITY = Transform()


@dataclass(frozen=True)
class Word:
    text: str
    box: Box
    confidence: float | None = None
    """0..1 as the engine estimates it; None where the source gives none (a text layer)."""


@dataclass(frozen=True)
class Line:
    words: tuple[Word, ...]
    box: Box
    confidence: float | None = None

    @property
    def text(self) -> str:
        return " ".join(word.text for word in self.words)


@dataclass(frozen=True)
class Block:
    lines: tuple[Line, ...]
    box: Box

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


@dataclass(frozen=True)
class Page:
    """One page of the input: its text and layout, and how to place it on the input page.

    `width` x `height` is the input page in pixels at `dpi` (an image: its own pixels and
    resolution, 0 when the file gives none; a PDF page: its size at the resolution it was
    read or rendered at). `to_input` maps a box in the recognized image's pixels (every box
    below) to the input page's pixels."""

    number: int
    """Counted from 1 in the input document."""
    width: float
    height: float
    dpi: float
    source: PageSource
    blocks: tuple[Block, ...] = ()
    to_input: Transform = IDENTITY
    language: str = ""
    trial_limited: bool = False
    """The engine cut this page's text (Aspose without a license)."""
    rotation: int = 0
    """Degrees the page was turned (counter-clockwise) to read it upright (0, 90, 180, 270)."""

    @property
    def text(self) -> str:
        """Blocks separated by an empty line, lines by a newline, words by a space."""
        return "\n\n".join(block.text for block in self.blocks if block.lines)

    def lines(self) -> Iterator[Line]:
        for block in self.blocks:
            yield from block.lines

    def words(self) -> Iterator[Word]:
        for line in self.lines():
            yield from line.words

    def word_confidences(self) -> list[float]:
        """One value per word that users can act on: 1.0 for a text-layer page's words (exact
        text), else the word's confidence, or its line's where the engine gives none per word
        (Aspose). None of a page the engine cut for want of a license: its score is 0 then,
        which says nothing about the text."""
        if self.source is PageSource.TEXT_LAYER:
            return [1.0 for _ in self.words()]
        if self.trial_limited:
            return []
        values: list[float] = []
        for line in self.lines():
            for word in line.words:
                value = word.confidence if word.confidence is not None else line.confidence
                if value is not None:
                    values.append(value)
        return values

    @property
    def confidence(self) -> float | None:
        """The mean of `word_confidences`, or None where there is none."""
        values = self.word_confidences()
        return round(sum(values) / len(values), 4) if values else None

    def input_box(self, box: Box) -> Box:
        """`box` on the input page (pixels at `dpi`)."""
        return self.to_input.box(box)


@dataclass(frozen=True)
class Document:
    """An input's pages, in order (a page task's document holds only its own pages)."""

    pages: tuple[Page, ...]
    language: str = ""
    trial_limited: bool = False

    @property
    def text(self) -> str:
        """Pages separated by form feeds (no page's own text holds one)."""
        return PAGE_SEPARATOR.join(page.text for page in self.pages)

    @property
    def page_count(self) -> int:
        return len(self.pages)

    @property
    def confidence(self) -> float | None:
        """The mean word confidence over every page (each word counts once), or None."""
        values = [value for page in self.pages for value in page.word_confidences()]
        return round(sum(values) / len(values), 4) if values else None

    def count(self, source: PageSource) -> int:
        return sum(1 for page in self.pages if page.source is source)
