"""The benchmark's image classes, rendered with Pillow and DejaVu, each with its known text.

Every class is what a user of the function uploads in practice:
- a small label (400x200, three lines);
- an A4 page scanned at 300 dpi (2480x3508) of dense 12 pt text, about 40 lines;
- a 12-megapixel phone photo (4032x3024) of that page: rotated, in perspective, on a gray desk,
  with uneven light, sensor noise and JPEG compression;
- a 3-page PDF (A4 pages at 300 dpi, as a scanner's "scan to PDF" writes them);
- a 3-page TIFF (A4 at 200 dpi, 1-bit CCITT G4, as office scanners and fax servers write them);
- for sizing: the photo at 40 megapixels (the pixel limit) and a 30-page TIFF.

Rendering is deterministic (fixed seeds), so two runs measure the same bytes.
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from tools.photo_samples import placed

FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
A4_300_DPI = (2480, 3508)  # 210 x 297 mm
A4_200_DPI = (1654, 2339)
PHOTO_SIZE = (4032, 3024)  # a 12-megapixel phone camera, landscape
POINT = 1 / 72  # inch

# Plain prose with figures and punctuation, wrapped to the page's width when rendered.
DOCUMENT_TEXT = (
    "Service agreement 2026-114 between Northwind Logistics Ltd and the City of Lakeside. "
    "The supplier shall collect, sort and deliver all inbound parcels for the municipal "
    "offices on every working day between 07:30 and 17:00, including public holidays when "
    "the council requests it in writing at least 48 hours in advance. Each delivery is "
    "recorded with its tracking number, the time of arrival and the name of the person who "
    "signed for it. Lost or damaged items are reported within two working days; the supplier "
    "refunds their declared value up to EUR 2,500 per item and EUR 40,000 per year. "
    "The monthly fee is EUR 18,750.00 excluding VAT, invoiced on the first day of each month "
    "and payable within 30 days. Late payments bear interest at 4.5% above the base rate. "
    "Either party may end this agreement with three months' notice; the council may end it "
    "at once if the supplier misses more than 5% of deliveries in two consecutive months. "
    "All personal data seen during the work is handled under the council's data protection "
    "policy and is deleted no later than 90 days after the end of the agreement. The supplier "
    "keeps insurance of at least EUR 5 million for public liability and shows the policy on "
    "request. Disputes go first to the contract managers named in Annex B, then to mediation, "
    "and only then to the courts of Lakeside. Changes to this agreement are valid only when "
    "both parties sign them. Annex A lists the 27 delivery addresses and their opening hours; "
    "Annex C sets out the service levels, measured every quarter: 99.2% of parcels on time, "
    "no more than 3 complaints per 1,000 deliveries, and answers to queries within 4 hours. "
    "Signed in Lakeside on 14 March 2026 by Maria Jensen, Head of Procurement, and by Tom "
    "Okafor, Managing Director of Northwind Logistics Ltd. Both parties keep one original. "
    "Annex B. Contract managers: for the council, Ingrid Salo, Facilities Department, room "
    "3.17, telephone +45 7012 3456; for the supplier, Daniel Price, Key Accounts, telephone "
    "+45 7098 7654. Each manager may name a deputy by e-mail. The managers meet on the second "
    "Tuesday of every month to review the previous month's figures: parcels received (about "
    "6,400 in a normal month), parcels delivered late, complaints and their causes, and any "
    "changes to addresses or opening hours. Minutes of each meeting are sent to both parties "
    "within five working days and are approved at the next meeting. If a service level is "
    "missed, the supplier presents a written plan within ten working days that names the "
    "cause, the remedy and the date by which the level will be met again. A service credit of "
    "2% of the monthly fee applies for each service level missed in a quarter, up to 10% in "
    "total; credits are set off against the next invoice and are the council's only financial "
    "remedy for late deliveries, without prejudice to its right to end the agreement. "
    "Annex D. Prices: the monthly fee covers up to 7,500 parcels; each further parcel costs "
    "EUR 1.95, and parcels heavier than 25 kg cost EUR 6.40 each. Same-day courier trips "
    "requested before 11:00 cost EUR 35.00 within the city and EUR 52.50 to the harbour "
    "district. Prices are adjusted once a year on 1 April by the consumer price index "
    "published in February, with a ceiling of 3.5% in any year. The supplier's vehicles "
    "meet the Euro 6 standard or run on electricity; from 1 January 2027 at least 60% of the "
    "kilometres driven for the council are electric, and the supplier reports the share in "
    "the quarterly review. Waste packaging is taken back free of charge and recycled."
)
LABEL_LINES = ("Ship to: Acme Corp", "42 Harbour Road, Unit 7", "Order 4821 / 3 boxes")


@dataclass(frozen=True)
class BenchImage:
    """One image class: its bytes, what it shows, and the text on each page."""

    name: str
    description: str
    data: bytes
    extension: str
    width: int
    height: int
    pages: tuple[str, ...]
    """The known text of each page, lines separated by newlines."""

    @property
    def text(self) -> str:
        return "\f".join(self.pages)

    @property
    def engine_input(self) -> str:
        """How the engine must be told to read it: "pdf", "tiff" (every page) or "image"."""
        return {"pdf": "pdf", "tif": "tiff", "tiff": "tiff"}.get(self.extension, "image")


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_PATH), size)


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` pixels in ``font``."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and font.getlength(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def render_page(
    lines: Sequence[str],
    size: tuple[int, int],
    *,
    font_size: int,
    margin: int,
    line_spacing: float = 1.45,
    mode: str = "L",
) -> Image.Image:
    """Black text on a white page of ``size`` pixels, top-left aligned at ``margin``."""
    image = Image.new(mode, size, "white")
    draw = ImageDraw.Draw(image)
    font = _font(font_size)
    step = round(font_size * line_spacing)
    for index, line in enumerate(lines):
        draw.text((margin, margin + index * step), line, fill="black", font=font)
    return image


def _encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def document_lines(
    dpi: int, page_width: int, margin: int, count: int, offset: int = 0
) -> list[str]:
    """``count`` lines of DOCUMENT_TEXT set in 12 pt at ``dpi``, starting at line ``offset``
    (the text repeats as often as needed)."""
    font = _font(round(12 * POINT * dpi))
    lines = wrap(DOCUMENT_TEXT, font, page_width - 2 * margin)
    return [lines[(offset + index) % len(lines)] for index in range(count)]


def small_label() -> BenchImage:
    size = (400, 200)
    image = render_page(LABEL_LINES, size, font_size=24, margin=24, line_spacing=1.8)
    return BenchImage(
        "label",
        "label 400x200, 3 lines, PNG",
        _encode(image, "PNG"),
        "png",
        *size,
        ("\n".join(LABEL_LINES),),
    )


def a4_page_image(lines: Sequence[str] | None = None) -> tuple[Image.Image, list[str]]:
    """An A4 page at 300 dpi with 40 lines of 12 pt (50 px) text."""
    margin = 200
    lines = list(lines) if lines is not None else document_lines(300, A4_300_DPI[0], margin, 40)
    return render_page(lines, A4_300_DPI, font_size=50, margin=margin, line_spacing=1.5), lines


def a4_page() -> BenchImage:
    image, lines = a4_page_image()
    return BenchImage(
        "a4",
        "A4 300 dpi 2480x3508, 40 lines of 12 pt, PNG",
        _encode(image, "PNG", optimize=False),
        "png",
        *A4_300_DPI,
        ("\n".join(lines),),
    )


def phone_photo() -> BenchImage:
    """The A4 page photographed from slightly off-axis: rotated ~2 degrees, in perspective,
    on a gray desk, lit from one side, with sensor noise and a soft lens; JPEG quality 85."""
    page, lines = a4_page_image()
    width, height = PHOTO_SIZE
    # Where the page's corners land in the photo (top-left, top-right, bottom-right,
    # bottom-left): about 2,000 x 2,850 pixels, a little rotated and narrower at the top.
    corners = [(1010.0, 120.0), (2985.0, 175.0), (3060.0, 2930.0), (930.0, 2880.0)]
    photo = placed(page, corners, Image.new("L", PHOTO_SIZE, 118))  # on a plain grey desk
    # Uneven light: bright on the left, about 35% darker on the right and bottom.
    horizontal = Image.linear_gradient("L").rotate(90).resize(PHOTO_SIZE)  # 255 left -> 0 right
    vertical = Image.linear_gradient("L").rotate(180).resize(PHOTO_SIZE)  # 255 top -> 0 bottom
    light = ImageChops.multiply(
        horizontal.point(lambda value: 165 + value * 90 // 255),
        vertical.point(lambda value: 215 + value * 40 // 255),
    )
    photo = ImageChops.multiply(photo, light.point(lambda value: min(255, value + 40)))
    photo = photo.filter(ImageFilter.GaussianBlur(1.1))  # lens softness
    # Sensor noise: uniform, +-16 levels, from a fixed seed (the same bytes every run).
    noise = Image.frombytes("L", PHOTO_SIZE, random.Random(12).randbytes(width * height)).point(
        lambda value: 112 + value // 8
    )
    photo = ImageChops.add(photo, noise, scale=1.0, offset=-128)
    warm = Image.merge(
        "RGB",
        (photo.point(lambda v: min(255, v + 6)), photo, photo.point(lambda v: max(0, v - 8))),
    )
    return BenchImage(
        "photo",
        "phone photo 4032x3024 of the A4 page, JPEG q85",
        _encode(warm, "JPEG", quality=85),
        "jpg",
        *PHOTO_SIZE,
        ("\n".join(lines),),
    )


def _document_pages(dpi: int, size: tuple[int, int], count: int) -> list[list[str]]:
    margin = round(size[0] * 0.08)
    return [document_lines(dpi, size[0], margin, 20, offset=page * 20) for page in range(count)]


def pdf_document() -> BenchImage:
    """Three A4 pages at 300 dpi, 20 lines each, as one PDF (an image per page)."""
    pages = _document_pages(300, A4_300_DPI, 3)
    margin = round(A4_300_DPI[0] * 0.08)
    images = [
        render_page(lines, A4_300_DPI, font_size=50, margin=margin, mode="L") for lines in pages
    ]
    data = _encode(images[0], "PDF", save_all=True, append_images=images[1:], resolution=300.0)
    return BenchImage(
        "pdf",
        "PDF, 3 A4 pages at 300 dpi, 20 lines each",
        data,
        "pdf",
        *A4_300_DPI,
        tuple("\n".join(lines) for lines in pages),
    )


def tiff_document(page_count: int = 3, name: str = "tiff") -> BenchImage:
    """A4 pages at 200 dpi, 20 lines each, 1-bit CCITT G4 (a scanner's or fax's TIFF)."""
    pages = _document_pages(200, A4_200_DPI, page_count)
    margin = round(A4_200_DPI[0] * 0.08)
    images = [
        render_page(lines, A4_200_DPI, font_size=33, margin=margin).convert("1") for lines in pages
    ]
    data = _encode(
        images[0],
        "TIFF",
        save_all=True,
        append_images=images[1:],
        compression="group4",
        dpi=(200, 200),
    )
    return BenchImage(
        name,
        f"TIFF, {page_count} A4 pages at 200 dpi, 20 lines each, G4",
        data,
        "tif",
        *A4_200_DPI,
        tuple("\n".join(lines) for lines in pages),
    )


LARGEST_PHOTO_SIZE = (7296, 5472)
"""39.9 megapixels: the largest photo-like image OCR_MAX_PIXELS (40,000,000) admits."""


def large_photo(size: tuple[int, int] = LARGEST_PHOTO_SIZE) -> BenchImage:
    """The phone photo resized to ``size`` (JPEG q85): memory at the pixel limit."""
    photo = phone_photo()
    with Image.open(io.BytesIO(photo.data)) as opened:
        resized = opened.resize(size, Image.Resampling.BICUBIC)
    megapixels = size[0] * size[1] / 1e6
    return BenchImage(
        f"photo-{megapixels:.0f}mp",
        f"the phone photo resized to {size[0]}x{size[1]} ({megapixels:.1f} MP), JPEG q85",
        _encode(resized, "JPEG", quality=85),
        "jpg",
        *size,
        photo.pages,
    )


RENDERERS = {
    "label": small_label,
    "a4": a4_page,
    "photo": phone_photo,
    "pdf": pdf_document,
    "tiff": tiff_document,
}


def render(name: str) -> BenchImage:
    return RENDERERS[name]()
