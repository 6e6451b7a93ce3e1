"""Synthetic phone photos of pages we render, each with its known text: for the accuracy bench
(category ``photos-synthetic``) and the tests of the photo preprocessing.

No phone photo with a real transcription could be found beyond those kept for evaluation, so
these stand in for them, and every number measured on them is reported as synthetic. Each photo
has one of the faults phone photos of documents have: the page on a desk with its corners in
view and in perspective, light falling off across the page, a hand's shadow, camera shake and
heavy JPEG, a page held sideways (with and without the EXIF tag a camera writes), upside down,
and a dim, noisy exposure. Rendering is deterministic (fixed seeds).

    python -m tools.photo_samples --out DIR     # DIR/photos-synthetic/<name>.jpg + .gt.txt
"""

from __future__ import annotations

import argparse
import io
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from ocr_service.engines.page_photo import perspective_coefficients

FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
SERIF_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
CATEGORY = "photos-synthetic"
PAGE_SIZE = (1240, 1754)  # A4 at 150 dpi
PORTRAIT = (3024, 4032)  # a 12-megapixel phone camera held upright
EXIF_ORIENTATION = 0x0112
EXIF_TURNED_RIGHT = 6  # the camera was turned 90 degrees clockwise: viewers turn it back

TEXTS = (
    "Minutes of the parish council meeting held on 3 October 2026 in the village hall. "
    "Present: eleven councillors, the clerk and four members of the public. The chair opened "
    "the meeting at 19:30 and apologies were received from two councillors. The minutes of "
    "the September meeting were approved as a true record and signed. The clerk reported that "
    "the new bus shelter on Mill Lane will be installed in the week of 16 November at a cost "
    "of 4,280 pounds, paid from the reserve fund. Councillors asked for the footpath between "
    "the school and the church to be resurfaced before winter; the county has promised a "
    "survey within six weeks. The next meeting is on 7 November 2026 at 19:30.",
    "Delivery note 55017. Customer: Harbour Books, 18 Quay Street, Portmere. Order placed on "
    "21 September, shipped on 24 September in two cartons weighing 14.5 kg in total. Items: "
    "twelve copies of A Field Guide to Coastal Birds, six copies of The Tidal Atlas, and "
    "twenty packs of greeting cards with lighthouse designs. Please check the goods on "
    "arrival and report any damage within five days by telephone on 0161 555 0142 or by "
    "e-mail to orders@example.com, quoting the delivery note number. Returns are accepted "
    "within thirty days if the items are unused and in their original packaging.",
    "Instructions for the kettle, model K-200. Fill the kettle through the lid with at least "
    "0.5 and no more than 1.7 litres of cold water. Place it on the base and press the switch: "
    "the light comes on and the water boils in about four minutes. The kettle switches off "
    "by itself when the water boils or when it is lifted from the base. Never switch it on "
    "while empty. To remove scale, boil a mixture of water and vinegar, leave it overnight "
    "and rinse twice. Keep the appliance and its cord out of the reach of children under "
    "eight years. The guarantee lasts two years from the date of purchase.",
)


@dataclass(frozen=True)
class SamplePhoto:
    """One synthetic photo: its file name, JPEG bytes and the page's text."""

    name: str
    data: bytes
    text: str


def page_image(text: str, *, serif: bool = False) -> tuple[Image.Image, str]:
    """A white A4 page at 150 dpi with `text` in 12 pt, and the lines it was set in."""
    font = ImageFont.truetype(str(SERIF_PATH if serif else FONT_PATH), 25)
    margin = 110
    lines = _wrap(text, font, PAGE_SIZE[0] - 2 * margin)
    page = Image.new("L", PAGE_SIZE, 255)
    draw = ImageDraw.Draw(page)
    for index, line in enumerate(lines):
        draw.text((margin, margin + index * 40), line, fill=20, font=font)
    return page, "\n".join(lines)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def on_desk(
    page: Image.Image,
    corners: Sequence[tuple[float, float]],
    *,
    desk: int = 70,
    size: tuple[int, int] = PORTRAIT,
    seed: int = 1,
) -> Image.Image:
    """`page` placed with its corners (top-left, top-right, bottom-right, bottom-left) at
    `corners` of a photo of `size` on a textured desk of grey level `desk`."""
    grain = _noise(size, seed, 24).filter(ImageFilter.GaussianBlur(3))
    return placed(page, corners, ImageChops.add(Image.new("L", size, desk), grain, offset=-12))


def placed(
    page: Image.Image, corners: Sequence[tuple[float, float]], surface: Image.Image
) -> Image.Image:
    """`page` seen in perspective on `surface`, its corners (top-left, top-right, bottom-right,
    bottom-left) at `corners`."""
    width, height = page.size
    source = [(0.0, 0.0), (width - 1.0, 0.0), (width - 1.0, height - 1.0), (0.0, height - 1.0)]
    coefficients = perspective_coefficients(corners, source)
    warped = page.transform(
        surface.size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BICUBIC
    )
    mask = Image.new("L", page.size, 255).transform(
        surface.size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR
    )
    return Image.composite(warped, surface, mask)


def light_falloff(photo: Image.Image, darkest: int) -> Image.Image:
    """Light from the top left, falling to about `darkest`/255 of it at the bottom right."""
    across = Image.linear_gradient("L").rotate(90).resize(photo.size)  # 255 left, 0 right
    down = Image.linear_gradient("L").rotate(180).resize(photo.size)  # 255 top, 0 bottom
    light = ImageChops.multiply(across, down)  # 255 top left, 0 bottom right
    return ImageChops.multiply(photo, light.point(lambda v: darkest + (255 - darkest) * v // 255))


def hand_shadow(photo: Image.Image, strength: int) -> Image.Image:
    """A soft shadow over the lower right part of the photo, `strength` grey levels deep."""
    width, height = photo.size
    mask = Image.new("L", photo.size, 0)
    ImageDraw.Draw(mask).ellipse(
        (width * 0.45, height * 0.45, width * 1.3, height * 1.25), fill=strength
    )
    mask = mask.filter(ImageFilter.GaussianBlur(width // 25))
    return ImageChops.subtract(photo, mask)


def _noise(size: tuple[int, int], seed: int, spread: int) -> Image.Image:
    data = random.Random(seed).randbytes(size[0] * size[1])
    return Image.frombytes("L", size, data).point(lambda value: value * spread // 255)


def _jpeg(photo: Image.Image, quality: int, exif_orientation: int = 0) -> bytes:
    rgb = Image.merge(
        "RGB", (photo.point(lambda v: min(255, v + 6)), photo, photo.point(lambda v: max(0, v - 6)))
    )
    buffer = io.BytesIO()
    exif = Image.Exif()
    if exif_orientation:
        exif[EXIF_ORIENTATION] = exif_orientation
    rgb.save(buffer, "JPEG", quality=quality, exif=exif.tobytes())
    return buffer.getvalue()


def _tilted(scale: float = 1.0) -> list[tuple[float, float]]:
    """A page seen from a little off-axis: narrower at the top, turned about 3 degrees."""
    corners = [(520.0, 470.0), (2540.0, 380.0), (2690.0, 3300.0), (380.0, 3390.0)]
    return [(x * scale, y * scale) for x, y in corners]


_FILLING = [(120.0, 160.0), (2900.0, 120.0), (2950.0, 3900.0), (80.0, 3930.0)]


def _photos() -> list[tuple[str, int, bool, Callable[[Image.Image], tuple[Image.Image, int]]]]:
    """(name, text index, serif, make): `make` turns a page into a photo and its EXIF tag."""

    def desk_perspective(page: Image.Image) -> tuple[Image.Image, int]:
        return on_desk(page, _tilted(), desk=55, seed=2), 0

    def light(page: Image.Image) -> tuple[Image.Image, int]:
        return light_falloff(on_desk(page, _FILLING, desk=110, seed=3), 95), 0

    def shadow(page: Image.Image) -> tuple[Image.Image, int]:
        return hand_shadow(on_desk(page, _FILLING, desk=90, seed=4), 120), 0

    def shaken(page: Image.Image) -> tuple[Image.Image, int]:
        return on_desk(page, _tilted(), desk=80, seed=5).filter(ImageFilter.GaussianBlur(2.2)), 0

    def sideways_exif(page: Image.Image) -> tuple[Image.Image, int]:
        return on_desk(page, _FILLING, seed=6).rotate(90, expand=True), EXIF_TURNED_RIGHT

    def sideways(page: Image.Image) -> tuple[Image.Image, int]:
        return on_desk(page, _FILLING, seed=7).rotate(-90, expand=True), 0

    def upside_down(page: Image.Image) -> tuple[Image.Image, int]:
        return on_desk(page, _tilted(), desk=60, seed=8).rotate(180), 0

    def dim(page: Image.Image) -> tuple[Image.Image, int]:
        photo = on_desk(page, _tilted(), desk=50, seed=9).point(lambda v: v * 45 // 100)
        return ImageChops.add(photo, _noise(photo.size, 10, 30), offset=-15), 0

    return [
        ("desk-perspective", 0, False, desk_perspective),
        ("uneven-light", 1, True, light),
        ("hand-shadow", 2, False, shadow),
        ("camera-shake", 1, False, shaken),
        ("sideways-exif", 2, True, sideways_exif),
        ("sideways", 0, True, sideways),
        ("upside-down", 1, False, upside_down),
        ("dim", 2, False, dim),
    ]


def sample_photos(names: Sequence[str] | None = None) -> list[SamplePhoto]:
    """The synthetic photos (those in `names`, or all), as JPEG files a phone would write."""
    photos: list[SamplePhoto] = []
    for name, text_index, serif, make in _photos():
        if names is not None and name not in names:
            continue
        # All three texts, starting with a different one: the page is full, so every fault
        # (shadow, fall-off, a dark corner) lies over text.
        ordered = TEXTS[text_index:] + TEXTS[:text_index]
        page, text = page_image(" ".join(ordered), serif=serif)
        photo, orientation = make(page)
        quality = 55 if name == "camera-shake" else 85
        photos.append(SamplePhoto(name, _jpeg(photo, quality, orientation), text))
    return photos


def write_samples(out: Path) -> Path:
    """Write every photo and its `.gt.txt` into `out`/photos-synthetic; return that folder."""
    folder = out / CATEGORY
    folder.mkdir(parents=True, exist_ok=True)
    for photo in sample_photos():
        (folder / f"{photo.name}.jpg").write_bytes(photo.data)
        (folder / f"{photo.name}.gt.txt").write_text(photo.text + "\n", encoding="utf-8")
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.photo_samples", description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    print(write_samples(parser.parse_args(argv).out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
