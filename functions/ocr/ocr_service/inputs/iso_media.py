"""HEIC and AVIF headers: the image's size from its ISO base media boxes, before any decoding.

Both formats are ISO base media files: a `ftyp` box, a `meta` box that describes the items
(`iprp` -> `ipco` holds an `ispe` box, the image spatial extents, per image: the primary image,
its grid tiles, thumbnails), and the coded data in `mdat`. The largest `ispe` is the picture;
a box that claims to run past the end of the data is a cut-short file.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from ocr_service.core.failures import OcrError, Reason
from ocr_service.core.formats import ImageFormat

_CONTAINERS = {b"meta": 4, b"iprp": 0, b"ipco": 0}  # box type -> bytes before its children
_HEADER = 8
_LARGE_SIZE = 1  # the box's size follows as 64 bits
_TO_END = 0  # the box runs to the end of the data


def iso_media_size(data: bytes, image_format: ImageFormat) -> tuple[int, int]:
    """The largest image's width and height; OcrError (truncated or corrupt) otherwise."""
    name = image_format.value.upper()
    extents = list(_extents(data, 0, len(data), name))
    if not extents:
        raise OcrError(Reason.CORRUPT_IMAGE, f"the {name} data is corrupt: no image size found")
    return max(extents, key=lambda size: size[0] * size[1])


def _extents(data: bytes, start: int, end: int, name: str) -> Iterator[tuple[int, int]]:
    for box_type, payload, box_end in _boxes(data, start, end, name):
        if box_type == b"ispe" and box_end - payload >= 12:  # noqa: PLR2004
            yield struct.unpack(">II", data[payload + 4 : payload + 12])
        elif box_type in _CONTAINERS:
            yield from _extents(data, payload + _CONTAINERS[box_type], box_end, name)


def _boxes(data: bytes, start: int, end: int, name: str) -> Iterator[tuple[bytes, int, int]]:
    """(type, where its payload starts, where it ends) of each box in data[start:end]."""
    at = start
    while at + _HEADER <= end:
        size, box_type = struct.unpack(">I4s", data[at : at + _HEADER])
        payload = at + _HEADER
        if size == _LARGE_SIZE:
            if payload + 8 > end:
                raise _truncated(name)
            size = struct.unpack(">Q", data[payload : payload + 8])[0]
            payload += 8
        elif size == _TO_END:
            size = end - at
        if size < payload - at:
            raise OcrError(
                Reason.CORRUPT_IMAGE, f"the {name} data is corrupt: a box of {size} bytes"
            )
        if at + size > len(data):
            raise _truncated(name)
        yield box_type, payload, at + size
        at += size


def _truncated(name: str) -> OcrError:
    return OcrError(
        Reason.TRUNCATED_IMAGE, f"the {name} data is cut short (incomplete upload or copy?)"
    )
