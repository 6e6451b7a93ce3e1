"""Read an image's dimensions and page count from its headers, before the engine sees it.

The native engine trusts its input: a 1 MB PNG that declares 30000x30000 pixels makes it
allocate 14 GB, and a file that is cut short or lies about its layout can make it fail in
ways that are slow or hard to tell apart. These checks cost microseconds and turn each of those
into a clear, permanent failure. They read headers only and never decode pixels.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from ocr_service.core.failures import OcrError, Reason
from ocr_service.core.formats import ImageFormat
from ocr_service.inputs.iso_media import iso_media_size

MIN_SIDE = 8  # pixels: anything smaller cannot hold a legible character
_MAX_TIFF_PAGES_SCANNED = 10_000  # stops a looping IFD chain
_JPEG_MARKER = 0xFF
_TIFF_INLINE_BYTES = 4  # a directory entry holds its value itself when it fits in 4 bytes
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
# At most 9 digits (more pages than OCR_MAX_PAGES could ever allow): a longer number is no
# page count, and int() of thousands of digits raises ValueError instead of answering.
_PDF_COUNT = re.compile(rb"/Count\s+(\d{1,9})(?!\d)")


@dataclass(frozen=True)
class ImageInfo:
    """What the headers say: the largest page's size and the number of pages."""

    image_format: ImageFormat
    width: int
    height: int
    pages: int

    @property
    def pixels_per_page(self) -> int:
        return self.width * self.height


def _corrupt(image_format: ImageFormat, detail: str) -> OcrError:
    return OcrError(
        Reason.CORRUPT_IMAGE, f"the {image_format.value.upper()} data is corrupt: {detail}"
    )


def _truncated(image_format: ImageFormat) -> OcrError:
    return OcrError(
        Reason.TRUNCATED_IMAGE,
        f"the {image_format.value.upper()} data is cut short (incomplete upload or copy?)",
    )


def inspect_image(data: bytes, image_format: ImageFormat) -> ImageInfo:
    """Return the image's size and page count; raise OcrError when the headers
    are inconsistent or the data ends early. PDF pages are counted; their size is not known."""
    try:
        info = _READERS[image_format](data)
    except (struct.error, IndexError) as error:
        raise _truncated(image_format) from error
    if image_format is not ImageFormat.PDF and min(info.width, info.height) < MIN_SIDE:
        raise OcrError(
            Reason.IMAGE_TOO_SMALL,
            f"the image is {info.width}x{info.height} pixels: too small to hold legible text",
        )
    return info


def _png(data: bytes) -> ImageInfo:
    if data[12:16] != b"IHDR":
        raise _corrupt(ImageFormat.PNG, "the first chunk is not IHDR")
    width, height = struct.unpack(">II", data[16:24])
    if b"IEND" not in data[-12:]:
        raise _truncated(ImageFormat.PNG)
    return ImageInfo(ImageFormat.PNG, width, height, 1)


def _gif(data: bytes) -> ImageInfo:
    width, height = struct.unpack("<HH", data[6:10])
    if not data.rstrip(b"\x00").endswith(b";"):
        raise _truncated(ImageFormat.GIF)
    return ImageInfo(ImageFormat.GIF, width, height, 1)


def _bmp(data: bytes) -> ImageInfo:
    declared_size = struct.unpack("<I", data[2:6])[0]
    width, height = struct.unpack("<ii", data[18:26])
    if declared_size > len(data):
        raise _truncated(ImageFormat.BMP)
    return ImageInfo(ImageFormat.BMP, abs(width), abs(height), 1)


def _jpeg(data: bytes) -> ImageInfo:
    offset = 2
    size: tuple[int, int] | None = None
    while offset + 4 <= len(data) and size is None:
        if data[offset] != _JPEG_MARKER:
            raise _corrupt(ImageFormat.JPEG, f"no segment marker at byte {offset}")
        marker = data[offset + 1]
        if marker == _JPEG_MARKER:  # fill byte
            offset += 1
            continue
        length = struct.unpack(">H", data[offset + 2 : offset + 4])[0]
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
            size = (width, height)
        offset += 2 + length
    if size is None:
        raise _truncated(ImageFormat.JPEG)
    if b"\xff\xd9" not in data[-1024:]:  # end-of-image marker; some writers append padding
        raise _truncated(ImageFormat.JPEG)
    return ImageInfo(ImageFormat.JPEG, size[0], size[1], 1)


def _tiff(data: bytes) -> ImageInfo:
    endian = "<" if data[:2] == b"II" else ">"
    ifd_offset = struct.unpack(endian + "I", data[4:8])[0]
    pages, width, height = 0, 0, 0
    seen: set[int] = set()
    while ifd_offset:
        if ifd_offset in seen or pages >= _MAX_TIFF_PAGES_SCANNED:
            raise _corrupt(ImageFormat.TIFF, "its directory chain loops")
        if ifd_offset + 2 > len(data):
            raise _corrupt(ImageFormat.TIFF, f"directory {pages + 1} lies beyond the data")
        seen.add(ifd_offset)
        page_width, page_height, end_of_data = _tiff_directory(data, endian, ifd_offset)
        if end_of_data > len(data):
            raise _truncated(ImageFormat.TIFF)
        width, height = max(width, page_width), max(height, page_height)
        pages += 1
        entries = struct.unpack(endian + "H", data[ifd_offset : ifd_offset + 2])[0]
        next_at = ifd_offset + 2 + 12 * entries
        ifd_offset = struct.unpack(endian + "I", data[next_at : next_at + 4])[0]
    if pages == 0:
        raise _corrupt(ImageFormat.TIFF, "it has no image directory")
    return ImageInfo(ImageFormat.TIFF, width, height, pages)


def _tiff_directory(data: bytes, endian: str, offset: int) -> tuple[int, int, int]:
    """Width, height, and where the page's last strip or tile ends."""
    entries = struct.unpack(endian + "H", data[offset : offset + 2])[0]
    values: dict[int, list[int]] = {}
    for index in range(entries):
        at = offset + 2 + 12 * index
        tag, kind, count = struct.unpack(endian + "HHI", data[at : at + 8])
        if tag in (256, 257, 273, 279, 324, 325):  # sizes, strip and tile offsets and lengths
            values[tag] = _tiff_values(data, endian, kind, count, at + 8)
    width, height = values.get(256, [0])[0], values.get(257, [0])[0]
    offsets = values.get(273) or values.get(324) or []
    lengths = values.get(279) or values.get(325) or []
    end = max((o + n for o, n in zip(offsets, lengths, strict=False)), default=0)
    return width, height, end


def _tiff_values(data: bytes, endian: str, kind: int, count: int, at: int) -> list[int]:
    code, size = {3: ("H", 2), 4: ("I", 4)}.get(kind, ("I", 4))
    if count * size > _TIFF_INLINE_BYTES:
        at = struct.unpack(endian + "I", data[at : at + 4])[0]
    if at + count * size > len(data):
        raise _corrupt(ImageFormat.TIFF, "a directory entry points beyond the data")
    return list(struct.unpack(f"{endian}{count}{code}", data[at : at + count * size]))


def _webp(data: bytes) -> ImageInfo:
    declared_size = struct.unpack("<I", data[4:8])[0] + 8
    if declared_size > len(data):
        raise _truncated(ImageFormat.WEBP)
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended: the canvas size, 24 bits each, minus one
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
    elif chunk == b"VP8 ":  # lossy: the key frame's size, 14 bits each
        if data[23:26] != b"\x9d\x01\x2a":
            raise _corrupt(ImageFormat.WEBP, "no VP8 key frame")
        width, height = (value & 0x3FFF for value in struct.unpack("<HH", data[26:30]))
    elif chunk == b"VP8L":  # lossless: 14 bits each, minus one, after a signature byte
        bits = int.from_bytes(data[21:25], "little")
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    else:
        raise _corrupt(ImageFormat.WEBP, f"unknown first chunk {chunk!r}")
    return ImageInfo(ImageFormat.WEBP, width, height, 1)


def _pdf(data: bytes) -> ImageInfo:
    if b"%%EOF" not in data[-2048:]:
        raise _truncated(ImageFormat.PDF)
    # Page objects may sit in compressed object streams; the page tree's /Count still tells.
    counted = len(_PDF_PAGE.findall(data))
    declared = max((int(n) for n in _PDF_COUNT.findall(data)), default=0)
    pages = max(counted, declared)
    if pages == 0:
        raise _corrupt(ImageFormat.PDF, "no page found")
    return ImageInfo(ImageFormat.PDF, 0, 0, pages)


def _heif(data: bytes) -> ImageInfo:
    return ImageInfo(ImageFormat.HEIF, *iso_media_size(data, ImageFormat.HEIF), 1)


def _avif(data: bytes) -> ImageInfo:
    return ImageInfo(ImageFormat.AVIF, *iso_media_size(data, ImageFormat.AVIF), 1)


_READERS = {
    ImageFormat.PNG: _png,
    ImageFormat.GIF: _gif,
    ImageFormat.BMP: _bmp,
    ImageFormat.JPEG: _jpeg,
    ImageFormat.TIFF: _tiff,
    ImageFormat.PDF: _pdf,
    ImageFormat.WEBP: _webp,
    ImageFormat.HEIF: _heif,
    ImageFormat.AVIF: _avif,
}
