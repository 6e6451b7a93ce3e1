"""Images only the tests render: small PNGs for the fake engine, multi-page documents, every
colour mode a device writes, decompression bombs. (The demo's text, `render_lines` and the long
documents the load test sends are in tools/samples.py.)"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence
from typing import Any

from PIL import Image, ImageOps

from tools.samples import render_lines

# Words trial mode reliably returns for tools.samples.DEMO_LINES (measured: the first line and
# a half).
DEMO_WORDS: tuple[str, ...] = ("Invoice", "4821", "Acme", "quick", "brown")

# Small real images: the pipeline reads their headers before any engine sees them.
PNG = render_lines(("fake engine input",), width=240, font_size=16)
# A well-formed PNG the fake engine refuses (FakeEngine(unreadable=...)), as the real one
# refuses undecodable pixel data.
CORRUPT_PNG = render_lines(("corrupt pixel data",), width=240, font_size=16)


def render_pages(
    pages: Sequence[Sequence[str]], *, image_format: str = "TIFF", dpi: float = 72.0
) -> bytes:
    """One image per page, saved as a multi-page TIFF or PDF; a PDF's pages measure the
    images at `dpi` (at 72, a 32-pixel font is 32 points tall; at 300, about 8 points)."""
    images = [Image.open(io.BytesIO(render_lines(lines))).convert("RGB") for lines in pages]
    buffer = io.BytesIO()
    options: dict[str, Any] = {"resolution": dpi} if image_format == "PDF" else {}
    images[0].save(buffer, image_format, save_all=True, append_images=images[1:], **options)
    return buffer.getvalue()


# A receipt whose every word both engines read (measured), even in Aspose's trial mode.
RECEIPT_LINES: tuple[str, ...] = (
    "Corner Bakery receipt",
    "Two rye loaves paid",
    "Thank you come again",
)
RECEIPT_WORDS: tuple[str, ...] = ("Corner", "Bakery", "receipt", "rye", "loaves", "paid")


def _encode(image: Image.Image, image_format: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def colour_variants(lines: Sequence[str] = RECEIPT_LINES) -> dict[str, bytes]:
    """The same text in every colour mode and orientation tag a scanner, phone or screenshot
    produces, each encoded as such a device would."""
    page = Image.open(io.BytesIO(render_lines(lines, width=900, font_size=40))).convert("L")
    rgb = page.convert("RGB")
    ink = page.point(lambda value: 255 - value)  # text is opaque, the background transparent
    dark_on_clear = Image.merge("RGBA", (*page.convert("RGB").split(), ink))
    white = Image.new("L", page.size, 255)
    light_on_clear = Image.merge("RGBA", (white, white, white, ink))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to view": the pixels are stored turned left
    return {
        "cmyk-jpeg": _encode(rgb.convert("CMYK"), "JPEG", quality=95),
        "ycck-jpeg": ycck_jpeg(page),
        "16-bit-png": _encode(page.convert("I").point(lambda v: v * 257).convert("I;16"), "PNG"),
        "palette-png": _encode(rgb.convert("P", palette=Image.Palette.ADAPTIVE), "PNG"),
        "1-bit-g4-tiff": _encode(page.convert("1"), "TIFF", compression="group4"),
        "dark-text-on-transparent-png": _encode(dark_on_clear, "PNG"),
        "white-text-on-transparent-png": _encode(light_on_clear, "PNG"),
        "exif-rotated-jpeg": _encode(
            rgb.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=95, exif=exif
        ),
    }


def ycck_jpeg(page: Image.Image) -> bytes:
    """An Adobe YCCK JPEG (what Photoshop writes for CMYK). Pillow cannot write one: the YCC
    components are computed here, stored through its CMYK writer (which inverts each channel,
    Adobe's convention), and the APP14 segment's transform byte is set to 2 (YCCK)."""
    cyan, magenta, yellow, black = page.convert("CMYK").split()
    ycc = Image.merge("RGB", (cyan, magenta, yellow)).convert("YCbCr")
    stored = [ImageOps.invert(channel) for channel in ycc.split()]
    data = _encode(Image.merge("CMYK", (*stored, black)), "JPEG", quality=95)
    transform_at = data.index(b"Adobe") + 11  # "Adobe", version (2), flags0 (2), flags1 (2)
    return data[:transform_at] + b"\x02" + data[transform_at + 1 :]


def blank_png(width: int, height: int) -> bytes:
    """A white 1-bit PNG of any size that stays tiny on disk (a decompression bomb),
    written directly so even 20000x20000 takes a moment, not a minute."""
    row = b"\x00" + b"\xff" * ((width + 7) // 8)  # filter byte, then white pixels
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grayscale
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
