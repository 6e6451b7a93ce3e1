"""Reading one PDF page's own text with PDFium: the text, what its characters are worth, the
images under it, and the text as model blocks, lines and words with boxes on the page as shown.

Everything here works on open PDFium handles (ocr_service/inputs/pdf.py opens and closes them)
and keeps Python calls per character rare: a page's text comes from one call, its words' boxes
from their first and last characters, and the checks that must look at characters one by one
look at a sample (render modes only when the page mixes visible and invisible text).
"""

from __future__ import annotations

import ctypes
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pypdfium2.raw as pdfium_c
from PIL import Image, ImageDraw

from ocr_service.document.model import Block, Box, Line, Transform, Word

# Render modes that draw nothing: 3 is what OCR tools write under a scan, 7 adds the glyphs
# to the clip path only. (4-6 fill or stroke and clip, so they are seen.)
INVISIBLE_MODES = frozenset({3, 7})
# How many characters the Unicode check looks at, evenly spread: exact up to this many, an
# estimate beyond (the decision needs a share: 256 samples give it within a few percent).
UNMAPPED_SAMPLE = 256
# A new block starts where the space between two lines exceeds this share of a line's height
# (fpdf2 at 16 points per 11-point line leaves 0.25; a paragraph break leaves at least 1).
BLOCK_GAP_RATIO = 0.8
MAX_FORM_DEPTH = 16  # Form XObjects nest this deep at most (PDFium itself stops loops)
_COVERAGE_GRID = 256  # cells on the page's longer side when several images overlap
_WORD = re.compile(r"\S+")
_LINE = re.compile(r"[^\r\n]+")
# Characters no output may carry (C0/C1 controls that are not whitespace, noncharacters,
# lone surrogates): what PDFium gives for a glyph without a Unicode value.
_UNPRINTABLE = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
# ... and those that carry no meaning (the above, the replacement character, private use).
_MEANINGLESS = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff\ufffd\ufffe\uffff\ue000-\uf8ff"
    "\U000f0000-\U0010ffff]"
)


@dataclass(frozen=True)
class PageGeometry:
    """The page as shown: its box in PDF space (the crop box within the media box) and the
    turn /Rotate gives it, which map PDF space (y up) to shown points (y down)."""

    left: float
    bottom: float
    right: float
    top: float
    rotation: int  # degrees clockwise, as /Rotate says

    @property
    def width(self) -> float:
        """Shown width in points."""
        return self.top - self.bottom if self.rotation in (90, 270) else self.right - self.left

    @property
    def height(self) -> float:
        return self.right - self.left if self.rotation in (90, 270) else self.top - self.bottom

    def shown(self, left: float, bottom: float, right: float, top: float) -> Box:
        """A PDF-space rectangle on the shown page, cut to the page. (Written out per turn:
        it runs for every word, and a general transform costs several times as much.)"""
        x0, y0, x1, y1 = self.left, self.bottom, self.right, self.top
        if self.rotation == 0:
            box = (left - x0, y1 - top, right - x0, y1 - bottom)
        elif self.rotation == 90:  # noqa: PLR2004 - the page's left edge is now its top
            box = (bottom - y0, left - x0, top - y0, right - x0)
        elif self.rotation == 180:  # noqa: PLR2004
            box = (x1 - right, bottom - y0, x1 - left, top - y0)
        else:  # 270: the page's right edge is now its top
            box = (y1 - top, x1 - right, y1 - bottom, x1 - left)
        width, height = self.width, self.height
        if box[0] < 0 or box[1] < 0 or box[2] > width or box[3] > height:
            return Box(
                min(max(box[0], 0.0), width),
                min(max(box[1], 0.0), height),
                min(max(box[2], 0.0), width),
                min(max(box[3], 0.0), height),
            )
        return Box(*box)


Rect = tuple[float, float, float, float]
"""Left, bottom, right, top in PDF space (y up)."""


@dataclass(frozen=True)
class PageObjects:
    """What the page's content draws, Form XObjects included: the images' bounding boxes
    and how many text objects are drawn visibly or invisibly."""

    images: tuple[Rect, ...]
    visible_text: int
    invisible_text: int


def page_objects(page: Any) -> PageObjects:
    """Walk the page's objects and, recursively, its Form XObjects' objects."""
    images: list[Rect] = []
    visible = invisible = 0
    for found in _walk(pdfium_c.FPDFPage_CountObjects, pdfium_c.FPDFPage_GetObject, page, None):
        if isinstance(found, tuple):
            images.append(found)
        elif found in INVISIBLE_MODES:
            invisible += 1
        else:
            visible += 1
    return PageObjects(tuple(images), visible, invisible)


def _walk(
    count: Any, get: Any, parent: Any, outer: Transform | None, depth: int = 0
) -> Iterator[int | Rect]:
    """Each text object's render mode and each image's bounding box."""
    for index in range(count(parent)):
        item = get(parent, index)
        kind = pdfium_c.FPDFPageObj_GetType(item)
        if kind == pdfium_c.FPDF_PAGEOBJ_TEXT:
            yield int(pdfium_c.FPDFTextObj_GetTextRenderMode(item))
        elif kind == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            # An image fills the unit square of its matrix; a form's objects are in the
            # form's space, which the form's matrix maps to the enclosing one's.
            box = _matrix(item, outer).box(Box(0, 0, 1, 1))
            yield box.left, box.top, box.right, box.bottom  # Box keeps y down: top is min y
        elif kind == pdfium_c.FPDF_PAGEOBJ_FORM and depth < MAX_FORM_DEPTH:
            inner = _matrix(item, outer)
            count_inner, get_inner = (
                pdfium_c.FPDFFormObj_CountObjects,
                pdfium_c.FPDFFormObj_GetObject,
            )
            yield from _walk(count_inner, get_inner, item, inner, depth + 1)


def _matrix(item: Any, outer: Transform | None) -> Transform:
    raw = pdfium_c.FS_MATRIX()
    if not pdfium_c.FPDFPageObj_GetMatrix(item, raw):
        return outer or Transform()
    own = Transform(raw.a, raw.b, raw.c, raw.d, raw.e, raw.f)
    return own if outer is None else own.then(outer)


def image_coverage(images: tuple[Rect, ...], geometry: PageGeometry) -> float:
    """The share of the page the images' bounding boxes cover together (their union: one
    image exactly, several on a grid of `_COVERAGE_GRID` cells along the longer side)."""
    x0, y0, x1, y1 = geometry.left, geometry.bottom, geometry.right, geometry.top
    # Relative to the page's corner and cut to the page (y stays up: areas do not care).
    on_page = [
        (max(left, x0) - x0, max(bottom, y0) - y0, min(right, x1) - x0, min(top, y1) - y0)
        for left, bottom, right, top in images
    ]
    on_page = [rect for rect in on_page if rect[2] > rect[0] and rect[3] > rect[1]]
    width, height = x1 - x0, y1 - y0
    if not on_page or width <= 0 or height <= 0:
        return 0.0
    if len(on_page) == 1:
        left, bottom, right, top = on_page[0]
        return (right - left) * (top - bottom) / (width * height)
    scale = _COVERAGE_GRID / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    for rect in on_page:
        left, bottom, right, top = (round(value * scale) for value in rect)
        if right > left and top > bottom:
            draw.rectangle((left, bottom, right - 1, top - 1), fill=255)
    return mask.histogram()[255] / (size[0] * size[1])


def page_text(textpage: Any, count: int) -> str:
    """The page's text, one string character per PDFium character (generated spaces and line
    breaks included), so a position in it is a character index. One call gives it unless
    PDFium leaves characters out of its text (glyphs without Unicode) or a character needs two
    UTF-16 units; then it is read character by character."""
    if count <= 0:
        return ""
    buffer = (ctypes.c_ushort * (count + 1))()
    written = pdfium_c.FPDFText_GetText(textpage, 0, count, buffer)
    units = bytes(buffer)[: max(0, written - 1) * 2]
    text = units.decode("utf-16-le", errors="replace")
    if len(text) == count:
        return text
    return "".join(_character(pdfium_c.FPDFText_GetUnicode(textpage, i)) for i in range(count))


def _character(code: int) -> str:
    return chr(code) if 0 <= code <= sys.maxunicode else "\ufffd"


def visible_and_invisible(textpage: Any, text: str, objects: PageObjects) -> tuple[int, int]:
    """How many of the text's non-whitespace characters are drawn visibly and invisibly: from
    the text objects alone when they all agree, else character by character."""
    chars = non_space_count(text)
    if not objects.invisible_text:
        return chars, 0
    if not objects.visible_text:
        return 0, chars
    modes: dict[int | None, int] = {}
    invisible = 0
    for match in re.finditer(r"\S", text):
        item = pdfium_c.FPDFText_GetTextObject(textpage, match.start())
        key = ctypes.cast(item, ctypes.c_void_p).value
        if key not in modes:
            modes[key] = pdfium_c.FPDFTextObj_GetTextRenderMode(item) if key else 0
        invisible += modes[key] in INVISIBLE_MODES
    return chars - invisible, invisible


def non_space_count(text: str) -> int:
    """The characters that are not whitespace (generated spaces and line breaks are)."""
    return len("".join(text.split()))


def unmapped_chars(textpage: Any, text: str, chars: int) -> int:
    """How many non-whitespace characters have no usable Unicode value: PDFium reports a
    Unicode map error, or the character means nothing (control, U+FFFD, private use).
    Checked on up to UNMAPPED_SAMPLE characters evenly spread over the text, and scaled."""
    if not chars:
        return 0
    step = max(1.0, len(text) / UNMAPPED_SAMPLE)
    seen = bad = 0
    for index in sorted({int(k * step) for k in range(min(len(text), UNMAPPED_SAMPLE))}):
        character = text[index]
        if character.isspace():
            continue
        seen += 1
        bad += bool(
            _MEANINGLESS.match(character)
            or pdfium_c.FPDFText_HasUnicodeMapError(textpage, index) == 1
        )
    return round(bad * chars / seen) if seen else 0


def blocks(textpage: Any, text: str, geometry: PageGeometry) -> tuple[Block, ...]:
    """The text as blocks of lines of words. Lines are PDFium's (it breaks them where the
    baseline changes and writes \\r\\n there), words are split on whitespace, and a word's
    box joins its first and last characters' loose boxes (font ascent to descent, origin to
    advance: tight boxes vary with each glyph's ink)."""
    lines = [line for line in _lines(textpage, text, geometry) if line.words]
    groups: list[list[Line]] = []
    for line in lines:
        if groups and _continues(groups[-1][-1].box, line.box):
            groups[-1].append(line)
        else:
            groups.append([line])
    return tuple(Block(tuple(group), Box.enclosing(line.box for line in group)) for group in groups)


def _lines(textpage: Any, text: str, geometry: PageGeometry) -> Iterator[Line]:
    # Same length, so positions stay character indices; no output can carry these.
    clean = _UNPRINTABLE.sub("\ufffd", text)
    rect = pdfium_c.FS_RECTF()
    for span in _LINE.finditer(clean):
        words = []
        for match in _WORD.finditer(clean, span.start(), span.end()):
            start, end = match.span()
            left, bottom, right, top = _char_box(textpage, start, rect)
            if end - start > 1:
                last = _char_box(textpage, end - 1, rect)
                left, bottom = min(left, last[0]), min(bottom, last[1])
                right, top = max(right, last[2]), max(top, last[3])
            words.append(Word(match.group(), geometry.shown(left, bottom, right, top)))
        if words:
            yield Line(tuple(words), Box.enclosing(word.box for word in words))


def _char_box(textpage: Any, index: int, rect: Any) -> tuple[float, float, float, float]:
    """Left, bottom, right, top in PDF space: the loose box, else the tight one."""
    if pdfium_c.FPDFText_GetLooseCharBox(textpage, index, rect):
        return rect.left, rect.bottom, rect.right, rect.top
    left, right, bottom, top = (ctypes.c_double() for _ in range(4))
    # Both fail only for an index PDFium does not have; the zeros then stay at the corner.
    pdfium_c.FPDFText_GetCharBox(textpage, index, left, right, bottom, top)
    return left.value, bottom.value, right.value, top.value


def _continues(previous: Box, line: Box) -> bool:
    """The line belongs to the previous line's block: it is below it, without a gap wider
    than BLOCK_GAP_RATIO of the previous line's height (a line above starts a new column)."""
    gap = line.top - previous.bottom
    return line.bottom > previous.top and gap <= BLOCK_GAP_RATIO * previous.height
