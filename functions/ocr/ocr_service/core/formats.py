"""Recognize an input's format from its first bytes, never from its key or Content-Type."""

from __future__ import annotations

import enum

from ocr_service.core.failures import OcrError, Reason


class ImageFormat(enum.Enum):
    """The input formats the engine reads, by what the engine needs to be told."""

    PNG = "png"
    JPEG = "jpeg"
    GIF = "gif"
    BMP = "bmp"
    TIFF = "tiff"
    PDF = "pdf"
    WEBP = "webp"
    HEIF = "heif"  # HEIC: iPhones' photos (pillow-heif)
    AVIF = "avif"  # Android's and the web's photos (Pillow's own)

    @property
    def is_multi_page(self) -> bool:
        """Whether one object can hold several pages, each recognized separately."""
        return self in (ImageFormat.TIFF, ImageFormat.PDF)


_SIGNATURES: tuple[tuple[bytes, ImageFormat], ...] = (
    (b"\x89PNG\r\n\x1a\n", ImageFormat.PNG),
    (b"\xff\xd8\xff", ImageFormat.JPEG),
    (b"GIF87a", ImageFormat.GIF),
    (b"GIF89a", ImageFormat.GIF),
    (b"BM", ImageFormat.BMP),
    (b"II*\x00", ImageFormat.TIFF),
    (b"MM\x00*", ImageFormat.TIFF),
    (b"%PDF-", ImageFormat.PDF),
)
_RIFF, _WEBP = b"RIFF", b"WEBP"
_FTYP = b"ftyp"  # an ISO base media file: its brands say what it holds
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})


def identify(data: bytes) -> ImageFormat:
    """The format of an input, checked before the engine sees it; raise OcrError."""
    if not data:
        raise OcrError(Reason.EMPTY_OBJECT, "the object is empty (0 bytes)")
    image_format = sniff_format(data)
    if image_format is None:
        raise OcrError(Reason.UNSUPPORTED_FORMAT, describe_unknown(data))
    return image_format


def sniff_format(data: bytes) -> ImageFormat | None:
    """Return the format whose signature starts ``data``, or None for anything else."""
    for signature, image_format in _SIGNATURES:
        if data.startswith(signature):
            return image_format
    if data[:4] == _RIFF and data[8:12] == _WEBP:
        return ImageFormat.WEBP
    if data[4:8] == _FTYP:
        return _iso_media_format(data)
    return None


def _iso_media_format(data: bytes) -> ImageFormat | None:
    """AVIF or HEIF from the `ftyp` box's major and compatible brands (AVIF first: an AVIF
    file also lists `mif1`, the generic HEIF brand)."""
    size = int.from_bytes(data[:4], "big")
    brands = {data[8:12]} | {data[i : i + 4] for i in range(16, min(size, len(data)), 4)}
    if brands & _AVIF_BRANDS:
        return ImageFormat.AVIF
    if brands & _HEIF_BRANDS:
        return ImageFormat.HEIF
    return None


def describe_unknown(data: bytes) -> str:
    """Say what an unsupported input looks like, for a failure message a user can act on."""
    head = data[:8].hex(" ")
    return f"not a PNG, JPEG, GIF, BMP, TIFF, WEBP, HEIC, AVIF or PDF file (first bytes: {head})"
