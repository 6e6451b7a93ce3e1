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
    WEBP = "webp"  # Aspose cannot read it: converted to PNG first (normalize.py)

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
    return None


def describe_unknown(data: bytes) -> str:
    """Say what an unsupported input looks like, for a failure message a user can act on."""
    head = data[:8].hex(" ")
    return f"not a PNG, JPEG, GIF, BMP, TIFF, WEBP or PDF file (first bytes: {head})"
