#!/usr/bin/env python3
"""Render ``selftest.png``, the image the layer build recognizes to prove the engine still works.

The build (``build_layer.py``) only reads the committed PNG; this script exists so the image can
be regenerated or changed reproducibly. It needs Pillow and the DejaVu Sans font
(Debian: ``fonts-dejavu-core``)::

    python3 layers/aspose-ocr/render_selftest.py            # rewrites selftest.png beside it
    python3 layers/aspose-ocr/render_selftest.py --out x.png

Why several lines: without a license the engine runs in trial mode and cuts every page's text,
short pages the most (a single line often comes back empty). What it returns is always the start
of the correct text, so the build asserts only on words from the first lines (see
``SELFTEST_WORDS`` in ``build_layer.py``). If you change ``LINES``, re-measure what trial mode
returns and update ``SELFTEST_WORDS``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "selftest.png"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

#: Text of the self-test page, one entry per line.
LINES: tuple[str, ...] = (
    "LAYER SELF TEST",
    "Quick brown foxes jump over lazy dogs",
    "Pack my box with five dozen liquor jugs",
    "Sphinx of black quartz judge my vow",
    "How vexingly quick daft zebras jump",
    "The five boxing wizards jump quickly",
    "Bright vixens jump; dozy fowl quack",
    "Jackdaws love my big sphinx of quartz",
)

FONT_SIZE = 30
MARGIN = 40
LINE_SPACING = 1.6
THRESHOLD = 128  # gray levels below it become black


def render(lines: tuple[str, ...] = LINES, font_path: Path = FONT) -> Image.Image:
    """Return a 1-bit image with ``lines`` in black on white, one below the other."""
    font = ImageFont.truetype(str(font_path), FONT_SIZE)
    widths = [font.getbbox(line)[2] for line in lines]
    step = int(FONT_SIZE * LINE_SPACING)
    width = int(max(widths)) + 2 * MARGIN
    height = step * len(lines) + 2 * MARGIN
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((MARGIN, MARGIN + index * step), line, fill=0, font=font)
    # Threshold to 1 bit: keeps the PNG small (a few KB) and the text crisp.
    return image.point(lambda value: 0 if value < THRESHOLD else 255).convert("1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="PNG to write")
    args = parser.parse_args(argv)
    out: Path = args.out
    render().save(out, format="PNG", optimize=True)
    print(f"wrote {out} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
