"""Convert what the engine cannot read into what it can, in memory."""

from __future__ import annotations

import io


def webp_to_png(data: bytes) -> bytes:
    """Decode a WEBP image (its first frame) and encode it as PNG.

    Pillow is imported here, not at module load, so cold starts that never meet a WEBP do not
    pay for it. Its size was checked from the headers before this is called."""
    from PIL import Image  # noqa: PLC0415

    with Image.open(io.BytesIO(data)) as image:
        image.load()
        converted = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    buffer = io.BytesIO()
    converted.save(buffer, "PNG", compress_level=1)  # speed over size: it is never stored
    return buffer.getvalue()
