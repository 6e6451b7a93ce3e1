"""ocr_service.inputs.image_info: the hand-written header parsing that meets untrusted bytes.

Every format from real encoders (Pillow) and from hand-built headers (the layouts encoders
rarely write: big-endian and tiled TIFF, values inline and at offsets, fill bytes in JPEG);
every error path; every prefix of each sample; and a seeded fuzz loop: whatever the bytes,
inspect_image returns an ImageInfo or raises OcrError, never anything else.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Callable

import pytest
from PIL import Image

from ocr_service.core.failures import OcrError, Reason
from ocr_service.core.formats import ImageFormat, identify
from ocr_service.inputs.image_info import MIN_SIDE, ImageInfo, inspect_image
from tests.support.samples import render_pages
from tools.samples import render_lines

CORRUPT, TRUNCATED, TOO_SMALL = Reason.CORRUPT_IMAGE, Reason.TRUNCATED_IMAGE, Reason.IMAGE_TOO_SMALL


def reason_of(data: bytes, image_format: ImageFormat) -> Reason:
    with pytest.raises(OcrError) as raised:
        inspect_image(data, image_format)
    return raised.value.reason


def encoded(image: Image.Image, pil_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, pil_format, **options)
    return buffer.getvalue()


def page(width: int = 120, height: int = 40, mode: str = "L") -> Image.Image:
    """A blank page; in RGBA see-through, so that WEBP keeps its alpha (an extended file)."""
    return Image.new(mode, (width, height), (255, 255, 255, 0) if mode == "RGBA" else "white")


# --- hand-built headers ---------------------------------------------------------------------


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int, height: int, *, first: bytes = b"IHDR", end: bool = True) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(first, header) + png_chunk(b"IDAT", b"x")
    return data + (png_chunk(b"IEND", b"") if end else b"")


def jpeg_segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def jpeg(width: int, height: int, *, sof: int = 0xC0, fill: int = 0, end: bool = True) -> bytes:
    """SOI, APP0, fill bytes, a start-of-frame, scan data, EOI."""
    frame = struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00"
    data = b"\xff\xd8" + jpeg_segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    data += b"\xff" * fill + jpeg_segment(sof, frame) + jpeg_segment(0xDA, b"\x01\x01\x00\x00?\x00")
    return data + b"\x12\x34" + (b"\xff\xd9" if end else b"")


SHORT, LONG = 3, 4  # TIFF field types


def tiff(
    pages: list[tuple[int, int]],
    *,
    endian: str = "<",
    tiled: bool = False,
    kind: int = LONG,
    strips: int = 1,
    loop: bool = False,
) -> bytes:
    """A TIFF whose directories follow one another, each page's strips (or tiles) after the
    directories. With ``strips`` > 1 (or SHORT values and 2 strips) the offsets do not fit in
    an entry and sit at an offset of their own; ``loop`` points the last directory at the first.
    """
    magic = b"II*\x00" if endian == "<" else b"MM\x00*"
    offsets_tag, lengths_tag = (324, 325) if tiled else (273, 279)
    code, size = ("H", 2) if kind == SHORT else ("I", 4)
    directory_size = 2 + 12 * 4 + 4
    array_size = strips * size if strips * size > 4 else 0
    per_page = directory_size + 2 * array_size
    first = 8
    pixels_at = first + per_page * len(pages)
    strip_bytes = 10
    out = bytearray(magic + struct.pack(endian + "I", first))
    for number, (width, height) in enumerate(pages):
        here = first + per_page * number
        arrays_at = here + directory_size
        strip_offsets = [pixels_at + strip_bytes * (strips * number + n) for n in range(strips)]
        entries = [(256, kind, 1, [width]), (257, kind, 1, [height])]
        entries += [(offsets_tag, kind, strips, strip_offsets)]
        entries += [(lengths_tag, kind, strips, [strip_bytes] * strips)]
        out += struct.pack(endian + "H", len(entries))
        arrays = b""
        for tag, field_kind, count, values in entries:
            packed = struct.pack(f"{endian}{count}{code}", *values)
            if len(packed) > 4:
                value = struct.pack(endian + "I", arrays_at + len(arrays))
                arrays += packed
            else:
                value = packed.ljust(4, b"\x00")
            out += struct.pack(endian + "HHI", tag, field_kind, count) + value
        last = number == len(pages) - 1
        following = (first if loop else 0) if last else here + per_page
        out += struct.pack(endian + "I", following) + arrays.ljust(2 * array_size, b"\x00")
    assert len(out) == pixels_at
    return bytes(out) + b"\x00" * strip_bytes * strips * len(pages)


def riff(chunk: bytes, body: bytes, *, declared_extra: int = 0) -> bytes:
    payload = b"WEBP" + chunk + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", len(payload) + declared_extra) + payload


def webp_lossy(width: int, height: int, *, key_frame: bytes = b"\x9d\x01\x2a") -> bytes:
    return riff(b"VP8 ", b"\x00\x00\x00" + key_frame + struct.pack("<HH", width, height) + b"\0")


def webp_lossless(width: int, height: int) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    return riff(b"VP8L", b"\x2f" + bits.to_bytes(4, "little") + b"\0")


def webp_extended(width: int, height: int) -> bytes:
    size = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return riff(b"VP8X", b"\x10\x00\x00\x00" + size)


def gif(width: int, height: int, *, end: bool = True) -> bytes:
    screen = struct.pack("<HHBBB", width, height, 0, 0, 0)
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + screen + image + (b";" if end else b"")


def bmp(width: int, height: int, *, declared_extra: int = 0) -> bytes:
    pixels = b"\x00" * 16
    header = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 0, 0, 0, 0)
    size = 14 + len(header) + len(pixels)
    return b"BM" + struct.pack("<IHHI", size + declared_extra, 0, 0, 54) + header + pixels


def pdf(body: bytes, *, end: bool = True) -> bytes:
    return b"%PDF-1.7\n" + body + b"\ntrailer\n<< /Root 1 0 R >>\n" + (b"%%EOF\n" if end else b"")


# --- every format, as written by encoders ------------------------------------------------------


@pytest.mark.parametrize(
    ("image_format", "pil_format", "options"),
    [
        (ImageFormat.PNG, "PNG", {}),
        (ImageFormat.JPEG, "JPEG", {}),
        (ImageFormat.JPEG, "JPEG", {"progressive": True}),
        (ImageFormat.GIF, "GIF", {}),
        (ImageFormat.BMP, "BMP", {}),
        (ImageFormat.TIFF, "TIFF", {}),
        (ImageFormat.TIFF, "TIFF", {"compression": "tiff_deflate"}),
        (ImageFormat.WEBP, "WEBP", {}),
        (ImageFormat.WEBP, "WEBP", {"lossless": True}),
    ],
    ids=lambda value: str(value) if not isinstance(value, dict) else ",".join(value) or "-",
)
def test_encoders_output_is_measured(
    image_format: ImageFormat, pil_format: str, options: dict[str, object]
) -> None:
    data = encoded(page(123, 45), pil_format, **options)
    assert identify(data) is image_format
    assert inspect_image(data, image_format) == ImageInfo(image_format, 123, 45, 1)


def test_extended_webp_with_alpha_is_measured_from_its_canvas() -> None:
    data = encoded(page(123, 45, "RGBA"), "WEBP")
    assert data[12:16] == b"VP8X"
    assert inspect_image(data, ImageFormat.WEBP) == ImageInfo(ImageFormat.WEBP, 123, 45, 1)


def test_multi_page_tiff_reports_pages_and_the_largest_page() -> None:
    pages = [page(200, 50), page(100, 300), page(150, 150)]
    data = encoded(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    assert inspect_image(data, ImageFormat.TIFF) == ImageInfo(ImageFormat.TIFF, 200, 300, 3)


def test_pdf_page_objects_are_counted() -> None:
    data = render_pages([("a",), ("b",), ("c",)], image_format="PDF")
    assert inspect_image(data, ImageFormat.PDF) == ImageInfo(ImageFormat.PDF, 0, 0, 3)


# --- hand-built layouts ------------------------------------------------------------------------


def test_png_header() -> None:
    assert inspect_image(png(640, 480), ImageFormat.PNG) == ImageInfo(ImageFormat.PNG, 640, 480, 1)


@pytest.mark.parametrize("sof", [0xC0, 0xC1, 0xC2, 0xC3, 0xC9, 0xCF], ids=hex)
def test_jpeg_every_start_of_frame(sof: int) -> None:
    assert inspect_image(jpeg(300, 200, sof=sof), ImageFormat.JPEG).width == 300


def test_jpeg_fill_bytes_before_a_marker_are_skipped() -> None:
    info = inspect_image(jpeg(300, 200, fill=5), ImageFormat.JPEG)
    assert info == ImageInfo(ImageFormat.JPEG, 300, 200, 1)


def test_jpeg_padding_after_the_end_of_image_is_allowed() -> None:
    assert inspect_image(jpeg(300, 200) + b"\x00" * 500, ImageFormat.JPEG).height == 200


def test_gif_header() -> None:
    assert inspect_image(gif(64, 32), ImageFormat.GIF) == ImageInfo(ImageFormat.GIF, 64, 32, 1)


def test_bmp_top_down_negative_height() -> None:
    assert inspect_image(bmp(64, -32), ImageFormat.BMP) == ImageInfo(ImageFormat.BMP, 64, 32, 1)


@pytest.mark.parametrize("endian", ["<", ">"], ids=["little-endian", "big-endian"])
@pytest.mark.parametrize("tiled", [False, True], ids=["strips", "tiles"])
@pytest.mark.parametrize(
    ("kind", "strips"),
    [(SHORT, 1), (LONG, 1), (SHORT, 2), (LONG, 3)],
    ids=["short-inline", "long-inline", "short-at-offset", "long-at-offset"],
)
def test_tiff_layouts(endian: str, tiled: bool, kind: int, strips: int) -> None:
    data = tiff([(300, 20), (40, 500)], endian=endian, tiled=tiled, kind=kind, strips=strips)
    assert identify(data) is ImageFormat.TIFF
    assert inspect_image(data, ImageFormat.TIFF) == ImageInfo(ImageFormat.TIFF, 300, 500, 2)


@pytest.mark.parametrize(
    ("build", "size"),
    [(webp_lossy, (1000, 700)), (webp_lossless, (16383, 9)), (webp_extended, (16777216, 9))],
    ids=["lossy", "lossless", "extended"],
)
def test_webp_headers(build: Callable[[int, int], bytes], size: tuple[int, int]) -> None:
    info = inspect_image(build(*size), ImageFormat.WEBP)
    assert (info.width, info.height) == size


def test_pdf_page_tree_count_wins_over_fewer_visible_pages() -> None:
    """Page objects in compressed object streams are invisible; the page tree's /Count tells."""
    data = pdf(b"1 0 obj << /Type /Pages /Count 12 /Kids [] >> endobj")
    assert inspect_image(data, ImageFormat.PDF).pages == 12


def test_pdf_pages_object_is_not_a_page() -> None:
    data = pdf(b"<< /Type /Pages /Count 1 >> << /Type /Page >> << /Type /Page >>")
    assert inspect_image(data, ImageFormat.PDF).pages == 2


# --- what is refused, and why ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "image_format", "reason"),
    [
        (png(640, 480, first=b"tEXt"), ImageFormat.PNG, CORRUPT),
        (png(640, 480, end=False), ImageFormat.PNG, TRUNCATED),
        (b"\xff\xd8\x00\x00\x00\x00", ImageFormat.JPEG, CORRUPT),  # no marker after SOI
        (jpeg(300, 200)[:2] + b"\x12" + jpeg(300, 200)[2:], ImageFormat.JPEG, CORRUPT),
        (jpeg(300, 200, end=False), ImageFormat.JPEG, TRUNCATED),
        (jpeg(300, 200, sof=0xC4), ImageFormat.JPEG, CORRUPT),  # no frame: walks into the scan
        (gif(64, 32, end=False), ImageFormat.GIF, TRUNCATED),
        (bmp(64, 32, declared_extra=1), ImageFormat.BMP, TRUNCATED),
        (tiff([(300, 20)], loop=True), ImageFormat.TIFF, CORRUPT),
        (tiff([(300, 20), (40, 50)], loop=True), ImageFormat.TIFF, CORRUPT),
        (b"II*\x00" + struct.pack("<I", 0), ImageFormat.TIFF, CORRUPT),  # no directory
        (b"II*\x00" + struct.pack("<I", 4096) + b"\x00" * 8, ImageFormat.TIFF, CORRUPT),
        (tiff([(300, 20)])[:-1], ImageFormat.TIFF, TRUNCATED),  # the strip is cut short
        (webp_lossy(100, 100, key_frame=b"\x00\x00\x00"), ImageFormat.WEBP, CORRUPT),
        (riff(b"ALPH", b"\x00" * 16), ImageFormat.WEBP, CORRUPT),  # unknown first chunk
        (riff(b"VP8L", b"\x2f\xff\xff\xff\xff", declared_extra=1), ImageFormat.WEBP, TRUNCATED),
        (pdf(b"<< /Type /Page >>", end=False), ImageFormat.PDF, TRUNCATED),
        (pdf(b"<< /Type /Catalog >>"), ImageFormat.PDF, CORRUPT),  # no pages
        (pdf(b"<< /Type /Pages /Count 0 >>"), ImageFormat.PDF, CORRUPT),
    ],
    ids=[
        "png-first-chunk-not-ihdr",
        "png-without-iend",
        "jpeg-no-marker",
        "jpeg-corrupt-marker",
        "jpeg-without-eoi",
        "jpeg-without-frame",
        "gif-without-trailer",
        "bmp-declares-more-than-it-has",
        "tiff-directory-points-at-itself",
        "tiff-directories-loop",
        "tiff-without-directory",
        "tiff-directory-beyond-the-data",
        "tiff-strip-beyond-the-data",
        "webp-lossy-without-key-frame",
        "webp-unknown-chunk",
        "webp-declares-more-than-it-has",
        "pdf-without-eof",
        "pdf-without-pages",
        "pdf-with-zero-pages",
    ],
)
def test_refused(data: bytes, image_format: ImageFormat, reason: Reason) -> None:
    assert reason_of(data, image_format) is reason


def test_tiff_entry_pointing_beyond_the_data_is_corrupt() -> None:
    data = bytearray(tiff([(300, 20)], strips=3))
    data[8 + 2 + 12 * 2 + 8 : 8 + 2 + 12 * 2 + 12] = struct.pack("<I", 1 << 20)  # offsets' array
    assert reason_of(bytes(data), ImageFormat.TIFF) is CORRUPT


def test_a_looping_chain_of_many_directories_is_stopped() -> None:
    data = tiff([(300, 20)] * 50, loop=True)
    assert reason_of(data, ImageFormat.TIFF) is CORRUPT


@pytest.mark.parametrize(
    ("data", "image_format"),
    [
        (png(MIN_SIDE - 1, 500), ImageFormat.PNG),
        (jpeg(500, MIN_SIDE - 1), ImageFormat.JPEG),
        (gif(1, 1), ImageFormat.GIF),
        (bmp(MIN_SIDE - 1, -500), ImageFormat.BMP),
        (tiff([(500, MIN_SIDE - 1)]), ImageFormat.TIFF),
        (tiff([(0, 0)]), ImageFormat.TIFF),
        (webp_lossless(MIN_SIDE - 1, 500), ImageFormat.WEBP),
        (encoded(page(4, 4), "PNG"), ImageFormat.PNG),
    ],
    ids=["png", "jpeg", "gif", "bmp", "tiff", "tiff-without-size", "webp", "pillow-png"],
)
def test_too_small_images_are_refused(data: bytes, image_format: ImageFormat) -> None:
    assert reason_of(data, image_format) is TOO_SMALL


def test_min_side_itself_is_accepted() -> None:
    assert inspect_image(png(MIN_SIDE, MIN_SIDE), ImageFormat.PNG).pixels_per_page == 64


def test_a_pdf_count_too_long_for_int_is_refused_as_corrupt() -> None:
    """int() of thousands of digits raises ValueError (Python's conversion limit): such a
    /Count is no page count, and the PDF without pages is corrupt."""
    data = pdf(b"<< /Type /Pages /Count " + b"9" * 5000 + b" >>")
    assert reason_of(data, ImageFormat.PDF) is CORRUPT


# --- cut short anywhere, and fuzzed ------------------------------------------------------------


SAMPLES: dict[str, tuple[bytes, ImageFormat]] = {
    "png": (render_lines(("cut",), width=120), ImageFormat.PNG),
    "jpeg": (encoded(page(120, 40), "JPEG"), ImageFormat.JPEG),
    "progressive-jpeg": (encoded(page(120, 40), "JPEG", progressive=True), ImageFormat.JPEG),
    "gif": (encoded(page(120, 40), "GIF"), ImageFormat.GIF),
    "bmp": (encoded(page(120, 40), "BMP"), ImageFormat.BMP),
    "tiff": (
        encoded(page(120, 40), "TIFF", save_all=True, append_images=[page(60, 80)]),
        ImageFormat.TIFF,
    ),
    "big-endian-tiled-tiff": (
        tiff([(300, 20), (40, 50)], endian=">", tiled=True, strips=2),
        ImageFormat.TIFF,
    ),
    "webp": (encoded(page(120, 40), "WEBP"), ImageFormat.WEBP),
    "lossless-webp": (encoded(page(120, 40), "WEBP", lossless=True), ImageFormat.WEBP),
    "extended-webp": (encoded(page(120, 40, "RGBA"), "WEBP"), ImageFormat.WEBP),
    "pdf": (render_pages([("a",), ("b",)], image_format="PDF"), ImageFormat.PDF),
}


def inspected(data: bytes, image_format: ImageFormat) -> ImageInfo | OcrError:
    """The result or the OcrError; any other exception fails the test that calls this."""
    try:
        return inspect_image(data, image_format)
    except OcrError as error:
        return error


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_prefix_is_refused_or_measured_never_crashes(name: str) -> None:
    data, image_format = SAMPLES[name]
    whole = inspect_image(data, image_format)
    for length in range(len(data)):
        result = inspected(data[:length], image_format)
        if isinstance(result, ImageInfo):  # a cut that the headers cannot tell (a GIF's ';')
            assert result.pages <= whole.pages, length


# Where each sample's end-of-data check sits: a cut anywhere before it is always refused.
ALWAYS_REFUSED_BEFORE = {"png": 8, "jpeg": 1, "progressive-jpeg": 1, "bmp": 0, "webp": 0}


@pytest.mark.parametrize("name", sorted(ALWAYS_REFUSED_BEFORE))
def test_a_cut_before_the_end_marker_is_refused(name: str) -> None:
    data, image_format = SAMPLES[name]
    for length in range(len(data) - ALWAYS_REFUSED_BEFORE[name]):
        assert isinstance(inspected(data[:length], image_format), OcrError), length


INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)


def mutate(data: bytes, rng: random.Random) -> bytes:
    """Flip bits, set interesting bytes, cut, duplicate or delete a span: one to four times."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            break
        at = rng.randrange(len(out))
        choice = rng.randrange(6)
        if choice == 0:
            out[at] ^= 1 << rng.randrange(8)
        elif choice == 1:
            out[at] = rng.choice(INTERESTING_BYTES)
        elif choice == 2:
            del out[at:]
        elif choice == 3:
            span = out[at : at + rng.randint(1, 64)]
            out[at:at] = span
        elif choice == 4:
            del out[at : at + rng.randint(1, 64)]
        else:  # a 32-bit field set to an extreme: sizes, offsets, counts
            out[at : at + 4] = struct.pack("<I", rng.choice((0, 1, 0x7FFFFFFF, 0xFFFFFFFF)))
    return bytes(out)


MUTATIONS_PER_SAMPLE = 400


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_fuzzed_headers_are_measured_or_refused_with_ocr_error(name: str) -> None:
    data, image_format = SAMPLES[name]
    rng = random.Random(f"image-info-{name}")
    for number in range(MUTATIONS_PER_SAMPLE):
        mutated = mutate(data[:4096], rng) + data[4096:]
        result = inspected(mutated, image_format)
        assert isinstance(result, ImageInfo | OcrError), number
