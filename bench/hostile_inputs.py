"""The hostile and broken inputs of `python -m bench.bad_inputs`, each generated in memory
(Pillow and the standard library) and deterministic, with the engine input type it is fed as.
Pillow is imported inside the generators so that a child process stays lean."""

from __future__ import annotations

import dataclasses
import io
import random
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
HUGE_MIN_TIMEOUT_S = 180.0
TEXT_LINES = (
    "Invoice number 4821 for Acme",
    "The quick brown fox jumps over",
    "the lazy dog near the river bank",
    "Payment is due within thirty days",
    "Thank you for your business today",
)


def _render(
    lines: tuple[str, ...] = TEXT_LINES,
    *,
    size: tuple[int, int] | None = None,
    font_size: int = 32,
    image_format: str = "PNG",
    **save: Any,
) -> bytes:
    from PIL import Image, ImageDraw, ImageFont  # noqa: PLC0415

    font = ImageFont.truetype(str(FONT_PATH), font_size)
    line_height = int(font_size * 1.9)
    width, height = size or (900, 60 + line_height * len(lines))
    image = Image.new("L", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((30, 30 + index * line_height), line, fill="black", font=font)
    buffer = io.BytesIO()
    image.save(buffer, image_format, **save)
    return buffer.getvalue()


def _cut(data: bytes, fraction: float) -> bytes:
    return data[: int(len(data) * fraction)]


def zero_bytes() -> bytes:
    return b""


def random_bytes() -> bytes:
    return random.Random(1).randbytes(64 * 1024)


def text_named_png() -> bytes:
    return ("hello, this is not an image\n" * 50).encode()


def truncated_png() -> bytes:
    return _cut(_render(), 0.5)


def webp() -> bytes:
    return _render(image_format="WEBP", lossless=True)


def one_pixel() -> bytes:
    from PIL import Image  # noqa: PLC0415

    buffer = io.BytesIO()
    Image.new("L", (1, 1), "white").save(buffer, "PNG")
    return buffer.getvalue()


def huge_20000() -> bytes:
    """20000x20000 1-bit, blank but for one line of text; ~0.1 MB as an optimized PNG."""
    from PIL import Image, ImageDraw, ImageFont  # noqa: PLC0415

    image = Image.new("1", (20_000, 20_000), 1)
    font = ImageFont.truetype(str(FONT_PATH), 120)
    ImageDraw.Draw(image).text(
        (400, 9_000), "A single line of text on a very large blank page", fill=0, font=font
    )
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def pdf_300_pages() -> bytes:
    from PIL import Image  # noqa: PLC0415

    pages = [
        Image.open(
            io.BytesIO(
                _render(
                    (f"Page {number} of 300 in this file", "The quick brown fox jumps"),
                    size=(600, 200),
                    font_size=28,
                )
            )
        )
        for number in range(1, 301)
    ]
    buffer = io.BytesIO()
    pages[0].save(buffer, "PDF", save_all=True, append_images=pages[1:], resolution=150)
    return buffer.getvalue()


def tiff_lying_header() -> bytes:
    """A little-endian TIFF header whose first IFD offset points far past the end of the data."""
    return b"II*\x00" + struct.pack("<I", 0x7FFF_FFF0) + bytes(1024)


def tiff_png_body() -> bytes:
    """The TIFF magic, then a whole valid PNG."""
    return b"II*\x00" + _render()


def truncated_tiff() -> bytes:
    from PIL import Image  # noqa: PLC0415

    first = Image.open(io.BytesIO(_render()))
    second = Image.open(io.BytesIO(_render(tuple(reversed(TEXT_LINES)))))
    buffer = io.BytesIO()
    first.save(buffer, "TIFF", save_all=True, append_images=[second])
    return _cut(buffer.getvalue(), 0.6)


def truncated_jpeg() -> bytes:
    return _cut(_render(image_format="JPEG", quality=90), 0.5)


def corrupt_png_crc() -> bytes:
    """A valid PNG with 4 bytes flipped in the middle of its (first) IDAT chunk's data."""
    data = bytearray(_render())
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = bytes(data[offset + 4 : offset + 8])
        if kind == b"IDAT":
            middle = offset + 8 + length // 2
            for index in range(middle, middle + 4):
                data[index] ^= 0xFF
            stored_crc = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])[0]
            assert stored_crc != zlib.crc32(data[offset + 4 : offset + 8 + length])
            return bytes(data)
        offset += 12 + length
    raise AssertionError("no IDAT chunk")


def good_png() -> bytes:
    return _render()


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    description: str
    input_type: str  # the name of the ocr.InputType member
    make: Callable[[], bytes]
    min_timeout_s: float = 0.0


CASES: tuple[Case, ...] = (
    Case("good-png", "control: 5-line text PNG, 900x~360 gray", "SINGLE_IMAGE", good_png),
    Case("zero-bytes", 'b""', "SINGLE_IMAGE", zero_bytes),
    Case("random-bytes", "64 KiB of random.Random(1).randbytes", "SINGLE_IMAGE", random_bytes),
    Case("text-named-png", "UTF-8 text, not an image", "SINGLE_IMAGE", text_named_png),
    Case("truncated-png", "5-line text PNG cut at 50%", "SINGLE_IMAGE", truncated_png),
    Case("webp", "5-line text image as lossless WEBP", "SINGLE_IMAGE", webp),
    Case("one-pixel", "1x1 white PNG", "SINGLE_IMAGE", one_pixel),
    Case(
        "huge-20000",
        "20000x20000 1-bit PNG, one line of text, optimize=True",
        "SINGLE_IMAGE",
        huge_20000,
        min_timeout_s=HUGE_MIN_TIMEOUT_S,
    ),
    Case("pdf-300-pages", "300 pages of 600x200 2-line text (Pillow)", "PDF", pdf_300_pages),
    Case(
        "tiff-lying-header",
        "II*\\0 + first IFD offset 0x7FFFFFF0 + 1 KiB zeros",
        "TIFF",
        tiff_lying_header,
    ),
    Case("tiff-png-body", "II*\\0 followed by a whole valid PNG", "TIFF", tiff_png_body),
    Case("truncated-tiff", "2-page uncompressed TIFF cut at 60%", "TIFF", truncated_tiff),
    Case("truncated-jpeg", "5-line text JPEG cut at 50%", "SINGLE_IMAGE", truncated_jpeg),
    Case(
        "corrupt-png-crc",
        "5-line text PNG, 4 bytes flipped mid-IDAT",
        "SINGLE_IMAGE",
        corrupt_png_crc,
    ),
)
