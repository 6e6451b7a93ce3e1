"""Render text images for the demo, the tools, the tests and the function's warm-up image.

The engine's trial mode keeps only the start of a page's text, and less the shorter the text:
a single line often comes back empty. Samples therefore have several lines, and callers check
only words from the first lines.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

DEMO_LINES: tuple[str, ...] = (
    "Invoice number 4821 for Acme",
    "The quick brown fox jumps over",
    "the lazy dog near the river bank",
    "Payment is due within thirty days",
    "Thank you for your business today",
)


def render_lines(
    lines: Sequence[str] = DEMO_LINES,
    *,
    width: int = 900,
    height: int | None = None,
    font_size: int = 32,
    image_format: str = "PNG",
    mode: str = "L",
) -> bytes:
    """Black text on white, one line every 1.9 font sizes, encoded in ``image_format``."""
    font = ImageFont.truetype(str(FONT_PATH), font_size)
    line_height = int(font_size * 1.9)
    image = Image.new(mode, (width, height or 60 + line_height * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((30, 30 + index * line_height), line, fill="black", font=font)
    buffer = io.BytesIO()
    image.save(buffer, image_format)
    return buffer.getvalue()


def page_lines(number: int) -> tuple[str, ...]:
    """The text of page `number` of `render_document`'s documents: each page says which it is."""
    return (f"Page {number} of the long report", f"Section {number} closes here")


_FIXED_DATE = time.gmtime(1_767_225_600)  # 2026-01-01


def render_document(page_count: int, image_format: str = "TIFF") -> bytes:
    """A long document whose every page says which it is (`page_lines`): grey, compressed,
    about 5 KB a page, so tests and the load run can send hundreds of pages."""
    pages = [
        Image.open(io.BytesIO(render_lines(page_lines(n), width=620, font_size=28))).convert("L")
        for n in range(1, page_count + 1)
    ]
    options: dict[str, Any] = (
        {"compression": "tiff_deflate"}
        if image_format == "TIFF"
        # A fixed date: the same pages give the same bytes (Pillow stamps the time otherwise).
        else {"resolution": 150.0, "creationDate": _FIXED_DATE, "modDate": _FIXED_DATE}
    )
    buffer = io.BytesIO()
    pages[0].save(buffer, image_format, save_all=True, append_images=pages[1:], **options)
    return buffer.getvalue()


if __name__ == "__main__":  # regenerate the warm-up image shipped with the function
    target = Path(__file__).resolve().parents[1] / "functions/ocr/ocr_service/engines/warmup.png"
    # An A4 canvas at 300 dpi: measured (make bench), a small warm-up image left the first A4
    # request 1.4-1.7x slower than later ones; a page-sized canvas brings it to about 0.9x.
    target.write_bytes(
        render_lines(
            ("Warm up the engine", "before the first request", "arrives"),
            width=2480,
            height=3508,
            font_size=50,
        )
    )
    print(f"wrote {target} ({target.stat().st_size} bytes)")
