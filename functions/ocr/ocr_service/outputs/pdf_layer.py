"""The invisible text layer of a searchable PDF: a glyphless font and, per page, a content
stream that places each recognized word over its box in render mode 3 (neither filled nor
stroked), so viewers can select, copy and search text they never draw.

The font is the one Tesseract's PDF renderer embeds (`glyphless.ttf`: Tesseract's `pdf.ttf`,
"GlyphLessFont", Apache-2.0, https://github.com/tesseract-ocr/tesseract): one glyph, half an em
wide and one em tall, from the baseline up. As Tesseract does, it is a Type0 font with
Identity-H encoding (2-byte codes = CIDs), a CIDToGIDMap stream sending every CID to that glyph,
and a ToUnicode CMap that maps each CID back to text. A BMP character is its own CID (its UTF-16
code unit); a character outside the BMP (U+10000 and up: emoji, math letters, historic
scripts) gets one of the CIDs D800-DFFF, which no BMP character uses (they are surrogates), and
the ToUnicode CMap maps it to its surrogate pair. So every character is one glyph, one box, and
extracts as itself in any reader (Tesseract writes the pair as two CIDs, each mapped to a lone
surrogate, which not every reader puts back together). Past 2,048 different such characters in
one document the rest are left out.

Each word is drawn in the recognized image's pixels (y up, so it is drawn (x, -y)), one Tj per
word: the baseline on the box bottom and the font size from the box height, so the glyph (0..1
em tall) covers the box from bottom to top, and horizontal scaling (Tz) stretches the word's
advance to the box width (all 1% inside the box, see `_glyph_box`). A space between words fills
the gap to the next word, so extraction puts one space there and selection has no holes; each
line starts at its own position, so readers start a new line. A right-to-left word (Hebrew,
Arabic) is written in visual order, its characters reversed, as PDF content holds such text:
extractors (PDFium, pdf.js) turn it back into reading order.
"""

from __future__ import annotations

import importlib.resources
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NumberObject,
    PdfObject,
    StreamObject,
    TextStringObject,
)

from ocr_service.document.model import Box, Line, Page

FONT_RESOURCE = "/OCRText"
"""The font's name in each layer's own resources (nothing else lives there)."""
_GLYPH_ADVANCE = 0.5  # em: the one glyph's width (1024 of 2048 units; /DW 500)
_SPACE = 0x0020
# PDFium makes a TrueType glyph's box 1/64 taller than the font says (its glyph box code:
# `rect.top += rect.top / 64`), so one em of glyph is a 1.015 em box: the font size is divided
# by it to keep the box within the word's.
_BBOX_TOP = 1.015
_INSET = 0.01
_EXTRA_CIDS = range(0xD800, 0xE000)  # for characters beyond the BMP (see the docstring)
_CMAP_CHUNK = 100  # entries per begin...end block, the most the CMap format allows


@dataclass(frozen=True)
class LayerText:
    """One page's text layer: its content stream in the recognized image's pixels, x right
    and y up (the page's y negated), and the box its text covers there."""

    content: bytes
    bbox: tuple[float, float, float, float]
    """Lower left and upper right corners, in the same space."""


class CidEncoder:
    """Turns word text into CIDs, collecting for the ToUnicode CMap the CIDs it gives to
    characters beyond the BMP. One per output document, since all pages share the font."""

    def __init__(self) -> None:
        self._extra: dict[str, int] = {}

    def cids(self, text: str) -> list[int]:
        """The CIDs of `text`, one per character; controls and lone surrogates dropped."""
        cids: list[int] = []
        for char in text:
            code = ord(char)
            if code < 0x20 or 0x7F <= code < 0xA0 or code in _EXTRA_CIDS:  # noqa: PLR2004
                continue
            if code <= 0xFFFF:  # noqa: PLR2004
                cids.append(code)
            elif char in self._extra or len(self._extra) < len(_EXTRA_CIDS):
                cids.append(self._extra.setdefault(char, _EXTRA_CIDS[len(self._extra)]))
        return cids

    def to_unicode(self) -> bytes:
        """The ToUnicode CMap: every BMP CID to itself, each extra CID to its character."""
        # A bfrange may only vary in its last byte, hence one range per high byte.
        ranges = [
            f"<{high:02X}00> <{high:02X}FF> <{high:02X}00>"
            for high in range(0x100)
            if high << 8 not in _EXTRA_CIDS
        ]
        chars = [
            f"<{cid:04X}> <{char.encode('utf-16-be').hex().upper()}>"
            for char, cid in self._extra.items()
        ]
        lines = [
            "/CIDInit /ProcSet findresource begin",
            "12 dict begin",
            "begincmap",
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
            "/CMapName /Adobe-Identity-UCS def",
            "/CMapType 2 def",
            "1 begincodespacerange",
            "<0000> <FFFF>",
            "endcodespacerange",
            *_cmap_blocks("bfrange", ranges),
            *_cmap_blocks("bfchar", chars),
            "endcmap",
            "CMapName currentdict /CMap defineresource pop",
            "end",
            "end",
        ]
        return "\n".join(lines).encode("ascii") + b"\n"


def _cmap_blocks(kind: str, entries: list[str]) -> Iterator[str]:
    for start in range(0, len(entries), _CMAP_CHUNK):
        chunk = entries[start : start + _CMAP_CHUNK]
        yield f"{len(chunk)} begin{kind}"
        yield from chunk
        yield f"end{kind}"


def layer_text(page: Page, encoder: CidEncoder) -> LayerText | None:
    """The text layer of `page`, or None when it has no word to place."""
    operations: list[str] = []
    boxes: list[Box] = []
    for line in page.lines():
        placed = _line_operations(line, encoder)
        if placed:
            operations.extend(placed[0])
            boxes.extend(placed[1])
    if not operations:
        return None
    content = "\n".join(["BT", "3 Tr", *operations, "ET", ""]).encode("ascii")
    around = Box.enclosing(boxes)
    margin = around.height  # generous: the form is never painted, and a viewer may clip
    return LayerText(
        content,
        (around.left - margin, -around.bottom - margin, around.right + margin, margin - around.top),
    )


def _line_operations(line: Line, encoder: CidEncoder) -> tuple[list[str], list[Box]] | None:
    """The operators that draw one line's words, and their boxes; None when none is drawn."""
    words = [
        (_glyph_box(word.box), cids)
        for word in line.words
        if word.box.width > 0
        and word.box.height > 0
        and (cids := encoder.cids(_visual_order(word.text)))
    ]
    operations: list[str] = []
    for index, (box, cids) in enumerate(words):
        size = box.height / _BBOX_TOP
        operations.append(
            f"{FONT_RESOURCE} {pdf_number(size)} Tf {_stretch(box.width, size, len(cids))} Tz "
            f"1 0 0 1 {pdf_number(box.left)} {pdf_number(-box.bottom)} Tm <{_hex(cids)}> Tj"
        )
        if index + 1 < len(words):
            operations.append(_space(box, words[index + 1][0], size))
    return (operations, [box for box, _ in words]) if words else None


def _space(box: Box, following: Box, size: float) -> str:
    """A space filling the gap between a word and the next: after it, or before it when the
    next lies to its left (right-to-left lines); a tenth of the height where they touch."""
    start, end = box.right, following.left
    if following.right <= box.left:
        start, end = following.right, box.left
    width = end - start if end > start else box.height / 10
    moved = (
        "" if start == box.right else f"1 0 0 1 {pdf_number(start)} {pdf_number(-box.bottom)} Tm "
    )
    return f"{_stretch(width, size, 1)} Tz {moved}<{_SPACE:04X}> Tj"


def _visual_order(text: str) -> str:
    """`text` as it is seen left to right: reversed when its first strong character is
    right-to-left (a word has one direction; digits inside one are rare enough to ignore)."""
    for char in text:
        direction = unicodedata.bidirectional(char)
        if direction in {"R", "AL"}:
            return text[::-1]
        if direction == "L":
            break
    return text


def _glyph_box(box: Box) -> Box:
    """Where the word's glyphs go: its box, 1% of the height (of the width, if less) inside
    each edge, so that the glyph boxes PDFium computes in single precision stay inside the
    word's box and never touch a neighbour's."""
    vertical = box.height * _INSET
    horizontal = min(box.height, box.width) * _INSET
    return Box(
        box.left + horizontal, box.top + vertical, box.right - horizontal, box.bottom - vertical
    )


def _stretch(width: float, size: float, glyphs: int) -> str:
    """Tz (percent) that makes `glyphs` glyphs at font size `size` advance `width`."""
    return pdf_number(100 * width / (glyphs * _GLYPH_ADVANCE * size))


def _hex(cids: list[int]) -> str:
    return "".join(f"{cid:04X}" for cid in cids)


def pdf_number(value: float, places: int = 2) -> str:
    """A PDF number: fixed point (PDF has no exponents), without trailing zeros."""
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in {"", "-0"} else text


def flate_stream(data: bytes, entries: dict[str, PdfObject] | None = None) -> StreamObject:
    """A Flate-compressed stream of `data` with dictionary `entries` (PDF objects)."""
    stream = DecodedStreamObject()
    stream.set_data(data)
    encoded = stream.flate_encode(level=zlib.Z_BEST_COMPRESSION)
    for key, value in (entries or {}).items():
        encoded[NameObject(key)] = value
    return encoded


def add_glyphless_font(writer: PdfWriter, encoder: CidEncoder) -> IndirectObject:
    """Add the Type0 glyphless font to `writer` once (every layer of the file shares it);
    its ToUnicode CMap covers the characters `encoder` has seen, so call it last."""
    font_file = importlib.resources.files("ocr_service.outputs").joinpath("glyphless.ttf")
    data = font_file.read_bytes()
    name = NameObject("/GlyphLessFont")
    descriptor = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/FontDescriptor"),
            NameObject("/FontName"): name,
            NameObject("/Flags"): NumberObject(5),  # fixed pitch, symbolic
            NameObject("/FontBBox"): _numbers(0, 0, 500, 1000),
            NameObject("/ItalicAngle"): NumberObject(0),
            NameObject("/Ascent"): NumberObject(1000),
            NameObject("/Descent"): NumberObject(-1),  # must be negative
            NameObject("/CapHeight"): NumberObject(1000),
            NameObject("/StemV"): NumberObject(80),
            NameObject("/FontFile2"): writer._add_object(
                flate_stream(data, {"/Length1": NumberObject(len(data))})
            ),
        }
    )
    # Two bytes per CID, all 0x0001: every CID is the one glyph (compresses to a few hundred).
    cid_to_gid = writer._add_object(flate_stream(b"\x00\x01" * 0x10000))
    descendant = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/CIDFontType2"),
            NameObject("/BaseFont"): name,
            NameObject("/CIDSystemInfo"): DictionaryObject(
                {
                    NameObject("/Registry"): TextStringObject("Adobe"),
                    NameObject("/Ordering"): TextStringObject("Identity"),
                    NameObject("/Supplement"): NumberObject(0),
                }
            ),
            NameObject("/FontDescriptor"): writer._add_object(descriptor),
            NameObject("/DW"): NumberObject(round(_GLYPH_ADVANCE * 1000)),
            NameObject("/CIDToGIDMap"): cid_to_gid,
        }
    )
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type0"),
            NameObject("/BaseFont"): name,
            NameObject("/Encoding"): NameObject("/Identity-H"),
            NameObject("/DescendantFonts"): ArrayObject([writer._add_object(descendant)]),
            NameObject("/ToUnicode"): writer._add_object(flate_stream(encoder.to_unicode())),
        }
    )
    return writer._add_object(font)


def _numbers(*values: float) -> ArrayObject:
    return ArrayObject(
        NumberObject(value) if isinstance(value, int) else FloatObject(value) for value in values
    )
