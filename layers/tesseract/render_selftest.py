#!/usr/bin/env python3
"""Render ``selftest.png``, the page the TesseractLayer build recognizes with the layer alone.

The build (``build_layer.py``) only reads the committed PNG; this script exists so the image can
be regenerated reproducibly after changing ``SELFTEST_LINES`` in ``build_layer.py`` (the one
place the text lives: the build checks the recognized lines against it). Needs Pillow and the
DejaVu Sans font (Debian: ``fonts-dejavu-core``)::

    .venv/bin/python layers/tesseract/render_selftest.py            # rewrites selftest.png
    .venv/bin/python layers/tesseract/render_selftest.py --out x.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from build_layer import SELFTEST_LINES
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "selftest.png"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
FONT_SIZE = 32
MARGIN = 48
LINE_SPACING = 1.7


def render(lines: tuple[str, ...] = SELFTEST_LINES, font_path: Path = FONT) -> Image.Image:
    """Return a grayscale image with ``lines`` in black on white, one below the other."""
    font = ImageFont.truetype(str(font_path), FONT_SIZE)
    step = int(FONT_SIZE * LINE_SPACING)
    width = int(max(font.getbbox(line)[2] for line in lines)) + 2 * MARGIN
    height = step * len(lines) + 2 * MARGIN
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((MARGIN, MARGIN + index * step), line, fill=0, font=font)
    return image


def main() -> None:
    """Write the self-test image."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    render().save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
