"""Every colour mode a scanner, phone or screenshot produces reaches the engines upright, as 8-bit
'L' or 'RGB', with dark text on a light background; what needs nothing passes untouched."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import pytest
from PIL import Image, ImageChops, ImageStat

from ocr_service.core.failures import OcrError
from ocr_service.core.formats import ImageFormat
from ocr_service.inputs.normalize import normalize_image
from ocr_service.inputs.pages import image_pages
from tools.samples import render_lines

RECEIPT = ("CORNER SHOP  receipt 0042", "2 x coffee        7.80", "1 x bagel         3.20")
MAX_PIXELS = 40_000_000
ORIGINAL = Image.open(io.BytesIO(render_lines(RECEIPT, width=640, font_size=28)))
ORIGINAL.load()
# Applying EXIF orientation N turns an image stored with the inverse transpose upright.
STORED_FOR_ORIENTATION = {
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
}


def encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def text_alpha() -> Image.Image:
    """Opaque where the text is, transparent elsewhere (anti-aliased edges in between)."""
    return ImageChops.invert(ORIGINAL)


def on_transparent(mode: str, colour: int | tuple[int, ...]) -> Image.Image:
    image = Image.new(mode, ORIGINAL.size, colour)
    image.putalpha(text_alpha())
    return image


def adobe_transform(data: bytes, transform: int) -> bytes:
    """Set the transform byte of the Adobe APP14 segment Pillow writes for CMYK JPEGs."""
    at = app14(data)  # the marker, 2 length bytes, "Adobe", 6 bytes of version and flags
    assert data[at + 15] == 0
    return data[: at + 15] + bytes([transform]) + data[at + 16 :]


def app14(data: bytes) -> int:
    at = data.index(b"Adobe") - 4
    assert data[at : at + 2] == b"\xff\xee"
    return at


def without_app14(data: bytes) -> bytes:
    at = app14(data)
    length = struct.unpack(">H", data[at + 2 : at + 4])[0]
    return data[:at] + data[at + 2 + length :]


def cmyk_jpeg_plain_polarity() -> bytes:
    """As writers without Adobe's convention store CMYK: ink values as they are, no APP14.
    Pillow writes inverted values, so the ink is inverted first to end up stored plain."""
    inverted = ImageChops.invert(ORIGINAL.convert("CMYK"))
    return without_app14(encode(inverted, "JPEG", quality=95))


def ycck_jpeg() -> bytes:
    """An Adobe YCCK JPEG: Pillow cannot write one, so the YCC components are computed here,
    stored through Pillow's CMYK writer (which inverts every channel), and the APP14 transform
    is set to 2 so the decoder turns them back into CMYK."""
    cyan, magenta, yellow, black = ORIGINAL.convert("CMYK").split()
    ycc = Image.merge("RGB", (cyan, magenta, yellow)).convert("YCbCr")
    stored = [ImageChops.invert(channel) for channel in ycc.split()]
    return adobe_transform(encode(Image.merge("CMYK", (*stored, black)), "JPEG"), 2)


def sixteen_bit() -> Image.Image:
    return ORIGINAL.convert("I").point(lambda value: value * 257).convert("I;16")


def exif_rotated(orientation: int, image_format: str = "JPEG") -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored = ORIGINAL.convert("RGB").transpose(STORED_FOR_ORIENTATION[orientation])
    return encode(stored, image_format, exif=exif)


def palette_with_transparent_background() -> bytes:
    image = ORIGINAL.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    background = image.getpixel((0, 0))
    return encode(image, "PNG", transparency=background)


def mostly_opaque_page() -> Image.Image:
    """A screenshot of a white page whose corners are clear (rounded window corners)."""
    image = ORIGINAL.convert("RGBA")
    alpha = Image.new("L", image.size, 255)
    alpha.paste(0, (0, 0, 12, 12))
    image.putalpha(alpha)
    return image


def unused_alpha() -> Image.Image:
    """Every pixel transparent: some writers (BMP, screen grabbers) leave the channel at 0."""
    image = ORIGINAL.convert("RGBA")
    image.putalpha(0)
    return image


# name: (encoded input, the mode Pillow must open it as, Pillow format)
CASES: dict[str, Callable[[], tuple[bytes, str]]] = {
    "cmyk-jpeg-adobe": lambda: (encode(ORIGINAL.convert("CMYK"), "JPEG", quality=95), "CMYK"),
    "cmyk-jpeg-plain": lambda: (cmyk_jpeg_plain_polarity(), "CMYK"),
    "ycck-jpeg": lambda: (ycck_jpeg(), "CMYK"),
    "16-bit-png": lambda: (encode(sixteen_bit(), "PNG"), "I;16"),
    "32-bit-int-tiff": lambda: (encode(ORIGINAL.convert("I"), "TIFF"), "I"),
    "float-tiff": lambda: (encode(ORIGINAL.convert("F").point(lambda v: v / 255), "TIFF"), "F"),
    "palette-png": lambda: (encode(ORIGINAL.convert("RGB").convert("P"), "PNG"), "P"),
    "palette-transparent-png": lambda: (palette_with_transparent_background(), "P"),
    "palette-transparent-gif": lambda: (
        encode(Image.open(io.BytesIO(palette_with_transparent_background())), "GIF"),
        "P",
    ),
    "1-bit-png": lambda: (encode(ORIGINAL.convert("1"), "PNG"), "1"),
    "1-bit-g4-tiff": lambda: (encode(ORIGINAL.convert("1"), "TIFF", compression="group4"), "1"),
    "la-dark-text-png": lambda: (encode(on_transparent("L", 0), "PNG"), "LA"),
    "rgba-dark-text-png": lambda: (encode(on_transparent("RGB", (20, 20, 90)), "PNG"), "RGBA"),
    "rgba-white-text-png": lambda: (encode(on_transparent("RGB", (255,) * 3), "PNG"), "RGBA"),
    "la-white-text-png": lambda: (encode(on_transparent("L", 255), "PNG"), "LA"),
    "l-white-text-transparent-key-png": lambda: (
        encode(ImageChops.invert(ORIGINAL), "PNG", transparency=0),
        "L",
    ),
    "rgb-transparent-key-png": lambda: (
        encode(ORIGINAL.convert("RGB"), "PNG", transparency=(255, 255, 255)),
        "RGB",
    ),
    "rgba-unused-alpha-png": lambda: (encode(unused_alpha(), "PNG"), "RGBA"),
    "rgba-opaque-screenshot": lambda: (encode(ORIGINAL.convert("RGBA"), "PNG"), "RGBA"),
    "rgba-clear-corners": lambda: (encode(mostly_opaque_page(), "PNG"), "RGBA"),
    "exif-6-jpeg": lambda: (exif_rotated(6), "RGB"),
    "exif-3-jpeg": lambda: (exif_rotated(3), "RGB"),
    "exif-8-jpeg": lambda: (exif_rotated(8), "RGB"),
    "exif-6-png": lambda: (exif_rotated(6, "PNG"), "RGB"),
    "webp": lambda: (encode(ORIGINAL.convert("RGB"), "WEBP", lossless=True), "RGB"),
}


def assert_like_original(image: Image.Image, original: Image.Image = ORIGINAL) -> None:
    """Upright, 8-bit, dark text on light, and the same picture as the rendering."""
    assert image.mode in ("L", "RGB")
    assert image.size == original.size
    grey = image.convert("L")
    assert ImageStat.Stat(grey).mean[0] > 200, "the background is not light"
    assert ImageStat.Stat(grey).extrema[0][0] < 80, "no dark text"
    # Upside down or sideways, the text would sit elsewhere: compare where the ink is.
    ink = grey.point(lambda value: 255 if value < 128 else 0).getbbox()
    expected = original.point(lambda value: 255 if value < 128 else 0).getbbox()
    assert ink is not None and expected is not None
    assert all(abs(a - b) <= 3 for a, b in zip(ink, expected, strict=True)), (ink, expected)
    # Measured: 0 for lossless inputs, under 0.5 for JPEG, 1.5 for 1-bit; clipped 16-bit
    # antialiasing or a page from elsewhere in a TIFF would be more.
    assert ImageStat.Stat(ImageChops.difference(grey, original)).mean[0] < 2


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_mode_becomes_upright_dark_text_on_light(case: str) -> None:
    data, input_mode = CASES[case]()
    with Image.open(io.BytesIO(data)) as opened:
        assert opened.mode == input_mode, "the sample does not test the mode it names"
        assert_like_original(normalize_image(opened))

    # What the engines get: the same page, through the one decoding step (inputs/pages.py).
    (page,) = image_pages(data, sniffed(data), max_pixels=MAX_PIXELS)
    assert_like_original(page.image)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Image.frombytes("I;16B", ORIGINAL.size, sixteen_bit().tobytes("raw", "I;16B")),
        lambda: ORIGINAL.convert("YCbCr"),
        lambda: ORIGINAL.convert("RGB").convert("LAB"),
        lambda: ORIGINAL.convert("RGB").convert("HSV"),
        lambda: ORIGINAL.convert("RGB").convert("P").convert("PA"),
        lambda: on_transparent("L", 255).convert("La"),
        lambda: on_transparent("RGB", (255, 255, 255)).convert("RGBa"),
        lambda: on_transparent("RGB", (0, 0, 0)).convert("RGBa"),
    ],
    ids=["I;16B", "YCbCr", "LAB", "HSV", "PA", "La-white", "RGBa-white", "RGBa-black"],
)
def test_modes_no_file_format_hands_over(make: Callable[[], Image.Image]) -> None:
    image = make()
    assert image.mode not in ("L", "RGB")
    assert_like_original(normalize_image(image))


def test_ready_images_come_back_as_the_same_object() -> None:
    for image in (ORIGINAL, ORIGINAL.convert("RGB")):
        assert normalize_image(image) is image


def sniffed(data: bytes) -> ImageFormat:
    from ocr_service.core.formats import identify

    return identify(data)


def test_a_tiff_with_one_cmyk_page_keeps_every_page_in_order() -> None:
    originals = [
        Image.open(io.BytesIO(render_lines((f"page {n} of three", *RECEIPT[:n]), width=640)))
        for n in (1, 2, 3)  # a line more on each page: their sizes tell them apart
    ]
    pages = [originals[0], originals[1].convert("CMYK"), originals[2].convert("RGB")]
    data = encode(pages[0], "TIFF", save_all=True, append_images=pages[1:], dpi=(300, 300))

    decoded = list(image_pages(data, ImageFormat.TIFF, max_pixels=MAX_PIXELS))

    assert [page.number for page in decoded] == [1, 2, 3]
    for page, original in zip(decoded, originals, strict=True):
        assert page.dpi == 300
        assert_like_original(page.image, original)


def corrupt_idat(data: bytes) -> bytes:
    """The same PNG with its pixel data replaced by garbage under a valid chunk checksum."""
    at = data.index(b"IDAT") - 4
    length: int = struct.unpack(">I", data[at : at + 4])[0]
    garbage = bytes(range(256)) * (length // 256 + 1)
    chunk = struct.pack(">I", length) + b"IDAT" + garbage[:length]
    chunk += struct.pack(">I", zlib.crc32(chunk[4:]))
    return data[:at] + chunk + data[at + 12 + length :]


def test_corrupt_pixel_data_is_unreadable() -> None:
    data = corrupt_idat(encode(on_transparent("RGB", (255, 255, 255)), "PNG"))
    for corrupt in (data, corrupt_idat(encode(ORIGINAL, "PNG"))):  # with and without alpha
        with pytest.raises(OcrError, match="PNG") as raised:
            list(image_pages(corrupt, ImageFormat.PNG, max_pixels=MAX_PIXELS))
        assert raised.value.reason == "unreadable-image"


def test_the_callers_pixel_limit_replaces_pillows_and_is_restored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # far below the sample's size
    data = encode(ORIGINAL.convert("CMYK"), "JPEG")

    (page,) = image_pages(data, ImageFormat.JPEG, max_pixels=MAX_PIXELS)
    assert Image.MAX_IMAGE_PIXELS == 1000
    assert page.image.mode == "RGB"

    pixels = ORIGINAL.width * ORIGINAL.height
    with pytest.raises(OcrError) as raised:
        list(image_pages(data, ImageFormat.JPEG, max_pixels=pixels // 3))
    assert raised.value.reason == "unreadable-image"
    assert Image.MAX_IMAGE_PIXELS == 1000
