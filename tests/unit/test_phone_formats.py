"""HEIC (iPhones) and AVIF (Android, the web): sniffed from their ISO base media `ftyp` brand,
sized from their headers before any decoding, decoded into the pages the engines read."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from pillow_heif import register_heif_opener

from ocr_service.core.failures import OcrError, Reason
from ocr_service.core.formats import ImageFormat, identify
from ocr_service.inputs.image_info import inspect_image
from ocr_service.inputs.pages import image_pages
from tools.samples import render_lines

register_heif_opener()  # so the tests can write HEIC
ORIENTATION = 0x0112


def encoded(pil_format: str, image: Image.Image | None = None, **options: object) -> bytes:
    page = image or Image.open(io.BytesIO(render_lines())).convert("RGB")
    buffer = io.BytesIO()
    page.save(buffer, pil_format, **options)
    return buffer.getvalue()


@pytest.mark.parametrize(("pil_format", "kind"), [("AVIF", "avif"), ("HEIF", "heif")])
def test_identified_sized_and_decoded(pil_format: str, kind: str) -> None:
    data = encoded(pil_format)
    image_format = identify(data)
    assert image_format.value == kind
    info = inspect_image(data, image_format)
    assert (info.width, info.height, info.pages) == (900, 360, 1)
    (page,) = image_pages(data, image_format, max_pixels=10**7)
    assert (page.image.mode, page.image.size) == ("RGB", (900, 360))


@pytest.mark.parametrize("pil_format", ["AVIF", "HEIF"])
def test_exif_orientation_is_applied(pil_format: str) -> None:
    """A phone stores a portrait photo landscape with an EXIF orientation (6: turn 90 degrees
    clockwise to view)."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    data = encoded(pil_format, exif=exif.tobytes())
    (page,) = image_pages(data, identify(data), max_pixels=10**7)
    assert page.image.size == (360, 900)


def test_brands_tell_avif_from_heif_and_other_iso_media() -> None:
    def ftyp(major: bytes, *compatible: bytes) -> bytes:
        body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
        return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body

    assert identify(ftyp(b"mif1", b"mif1", b"avif")) is ImageFormat.AVIF
    assert identify(ftyp(b"heic", b"mif1", b"heic")) is ImageFormat.HEIF
    with pytest.raises(OcrError) as raised:
        identify(ftyp(b"isom", b"isom", b"mp41"))  # an MP4 video
    assert raised.value.reason is Reason.UNSUPPORTED_FORMAT
    assert "HEIC, AVIF" in str(raised.value)


@pytest.mark.parametrize("pil_format", ["AVIF", "HEIF"])
def test_cut_short_and_sizeless_files_are_refused_from_their_headers(pil_format: str) -> None:
    data = encoded(pil_format)
    with pytest.raises(OcrError) as raised:
        inspect_image(data[: len(data) // 2], identify(data))
    assert raised.value.reason is Reason.TRUNCATED_IMAGE
    without_size = data.replace(b"ispe", b"xxxx")
    with pytest.raises(OcrError) as raised:
        inspect_image(without_size, identify(without_size))
    assert raised.value.reason is Reason.CORRUPT_IMAGE


def test_a_huge_declared_size_is_caught_before_decoding() -> None:
    data = bytearray(encoded("AVIF"))
    at = data.index(b"ispe") + 8  # after the box type and its version and flags
    data[at : at + 8] = (30_000).to_bytes(4, "big") * 2
    info = inspect_image(bytes(data), ImageFormat.AVIF)
    assert info.pixels_per_page == 900_000_000  # the recognizer refuses it: too-many-pixels
