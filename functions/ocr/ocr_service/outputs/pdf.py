"""The searchable PDF: the input itself with an invisible text layer (pdf_layer.py) under each
recognized page, so it looks exactly as before and its text can be searched, selected and
copied.

A PDF input is kept as it is: pypdf appends an incremental update holding only the objects
that change (each OCR'd page's dictionary, its layer, one shared font), so vector content,
fonts, links, outlines and metadata of the original stay byte for byte, and no image is decoded
or re-encoded. An image input becomes a PDF with one page per
image, written by Pillow (JPEG for greyscale and colour, CCITT G4 for 1-bit), and gets the same
layer.

Each layer is a Form XObject drawn first on its page (`q <matrix> cm /OCRLayerN Do Q`
prepended to /Contents), so whatever the page paints covers it and no graphics state of the
page's own content can reach it. The matrix takes the layer's space (the recognized image's
pixels, y negated) to the page's user space: the model's `to_input` to the input page in
pixels (y down, at the page's dpi, on the page as displayed), then to points on the displayed
page (y up), then undoing the page's /Rotate and CropBox origin (`PageFrame.from_display`).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pypdf import PageObject, PasswordType, PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    PdfObject,
    StreamObject,
)

from ocr_service.core.failures import OcrError, Reason
from ocr_service.document.model import Page, PageSource, Transform
from ocr_service.outputs.pdf_layer import (
    FONT_RESOURCE,
    CidEncoder,
    LayerText,
    add_glyphless_font,
    flate_stream,
    layer_text,
    pdf_number,
)

if TYPE_CHECKING:
    from PIL.Image import Image

DEFAULT_IMAGE_DPI = 300.0
"""An image that states no resolution is taken as a 300 dpi scan, the resolution OCR input is
usually scanned at (and PDF pages are rendered at here), so a scanned sheet becomes a page of
about its paper size; 72 would make an A4 scan a 1.2 m poster."""
JPEG_QUALITY = 85  # Tesseract's renderer's default: text edges stay clean, photos stay small
_LETTER = (0.0, 0.0, 612.0, 792.0)  # PDFium's page size when a page has no usable MediaBox


@dataclass(frozen=True)
class PageFrame:
    """What a PDF page shows, as PDFium renders it: the crop box in user space (points) and
    the clockwise /Rotate it is displayed with (0, 90, 180 or 270)."""

    left: float
    bottom: float
    right: float
    top: float
    rotate: int

    @staticmethod
    def of(page: DictionaryObject) -> PageFrame:
        """CropBox clipped to MediaBox (MediaBox when there is none), and /Rotate, inherited
        from the page tree where the page has none, as PDFium reads them."""
        media = _box(_inherited(page, "/MediaBox")) or _LETTER
        crop = _box(_inherited(page, "/CropBox"))
        if crop:
            crop = (
                max(crop[0], media[0]),
                max(crop[1], media[1]),
                min(crop[2], media[2]),
                min(crop[3], media[3]),
            )
        left, bottom, right, top = (
            crop if crop and crop[0] < crop[2] and crop[1] < crop[3] else media
        )
        rotate = _inherited(page, "/Rotate")
        turns = math.trunc(float(rotate) / 90) % 4 if isinstance(rotate, int | float) else 0
        return PageFrame(left, bottom, right, top, 90 * turns)

    @property
    def display_size(self) -> tuple[float, float]:
        """Width and height of the page as displayed, in points."""
        width, height = self.right - self.left, self.top - self.bottom
        return (height, width) if self.rotate in {90, 270} else (width, height)

    def from_display(self) -> Transform:
        """From the displayed page (points, origin bottom left, y up) to user space."""
        x0, y0, x1, y1 = self.left, self.bottom, self.right, self.top
        return {
            0: Transform(1, 0, 0, 1, x0, y0),  # x = x0 + u, y = y0 + v
            90: Transform(0, 1, -1, 0, x1, y0),  # x = x1 - v, y = y0 + u
            180: Transform(-1, 0, 0, -1, x1, y1),  # x = x1 - u, y = y1 - v
            270: Transform(0, -1, 1, 0, x0, y1),  # x = x0 + v, y = y1 - u
        }[self.rotate]


def _inherited(page: DictionaryObject, key: str) -> object:
    node: DictionaryObject | None = page
    for _ in range(64):  # a page tree deeper than this is a loop
        if node is None:
            break
        if key in node:
            return node[key]
        parent = node.get("/Parent")
        resolved = parent.get_object() if isinstance(parent, PdfObject) else None
        node = resolved if isinstance(resolved, DictionaryObject) else None
    return None


def _box(value: object) -> tuple[float, float, float, float] | None:
    """A rectangle's corners, normalised; None when it is not four numbers."""
    value = value.get_object() if isinstance(value, PdfObject) else value
    if not isinstance(value, list) or len(value) != 4:  # noqa: PLR2004
        return None
    numbers = [item.get_object() for item in value]
    if not all(isinstance(number, int | float) for number in numbers):
        return None
    x0, y0, x1, y1 = (float(number) for number in numbers)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def layer_matrix(page: Page, frame: PageFrame) -> Transform:
    """From the layer's space (recognized image pixels, y negated) to `frame`'s user space."""
    width, height = frame.display_size
    # The model's page spans the displayed page: map extent to extent. That is 72/dpi when
    # the page was rendered at exactly its dpi, and exact when PDFium rounded the bitmap size.
    scale_x = width / page.width if page.width > 0 else 72 / (page.dpi or DEFAULT_IMAGE_DPI)
    scale_y = height / page.height if page.height > 0 else scale_x
    unflip = Transform(d=-1)
    to_points = Transform(a=scale_x, d=-scale_y, f=height)  # y down in pixels -> y up in pt
    return unflip.then(page.to_input).then(to_points).then(frame.from_display())


def searchable_pdf_from_pdf(original: bytes, pages: Sequence[Page]) -> bytes:
    """`original` with an invisible text layer on each page of `pages` the engine recognized
    (matched by number); every other page, and everything else in the file, as it was."""
    recognized = {page.number: page for page in pages if page.source is PageSource.OCR}
    reader = PdfReader(io.BytesIO(original))
    if reader.is_encrypted:
        if reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise OcrError(Reason.ENCRYPTED_DOCUMENT, "the PDF opens only with a password")
        # Opens with "", so only an owner password guards it: no secret, only permission
        # flags. pypdf cannot append an update to an encrypted file (it would have to encrypt
        # the new objects with the file's key), and re-encrypting needs the owner password,
        # which we do not know: a new one would lock the owner out of their own document.
        # So the output is a decrypted copy (pypdf copies the streams' encoded bytes: no
        # image is re-encoded). The user asked for this file to be made searchable; a
        # searchable copy any reader opens is the point, and nothing secret is revealed.
        writer = PdfWriter(clone_from=reader, keep_initial_header=True)
    else:
        writer = PdfWriter(reader, incremental=True)
        # Opening the file, pypdf copied each page's inherited attributes (MediaBox,
        # Resources...) into the page, which would make it rewrite every page dictionary:
        # take that state as the baseline, so the update holds only what the layers change.
        writer._original_hash = [0 if obj is None else obj.hash_bin() for obj in writer._objects]
    for number in recognized:
        if not 1 <= number <= len(writer.pages):
            raise ValueError(f"page {number} is not in the PDF ({len(writer.pages)} pages)")
    if not _graft(writer, recognized):
        return original  # nothing to add: the very same bytes
    version = writer.root_object.get("/Version")
    if writer.incremental and max(reader.pdf_header[5:], str(version or "")[1:]) < "1.5":
        # The update's cross-reference is a stream, a PDF 1.5 feature; the catalog's
        # /Version says so without touching the header.
        writer.root_object[NameObject("/Version")] = NameObject("/1.5")
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def searchable_pdf_from_images(images: Sequence[Image], pages: Sequence[Page]) -> bytes:
    """A PDF of `images`, one page each at its page's dpi (DEFAULT_IMAGE_DPI when the file
    gave none), the image filling the page, each with its page's text layer."""
    if len(images) != len(pages):
        raise ValueError(f"{len(images)} images for {len(pages)} pages")
    writer = PdfWriter()
    for image in images:
        dpi = pages[len(writer.pages)].dpi or DEFAULT_IMAGE_DPI
        writer.add_page(_image_page(image, dpi))
    _graft(writer, {index: page for index, page in enumerate(pages, start=1)})
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def _image_page(image: Image, dpi: float) -> PageObject:
    """One page, `image` filling it, written by Pillow's PDF writer."""
    output = io.BytesIO()
    ready = _pdf_ready(image)
    # Pillow hands `quality` to its JPEG writer, and refuses it for a 1-bit image's CCITT G4.
    options = {} if ready.mode == "1" else {"quality": JPEG_QUALITY}
    ready.save(output, "PDF", resolution=dpi, **options)
    return PdfReader(output).pages[0]


def _pdf_ready(image: Image) -> Image:
    """`image` in a mode Pillow writes compactly: 1-bit stays (CCITT G4), greyscale and
    colour become JPEG; transparency is laid on white (nothing shows through a scan);
    palettes and other modes become RGB (Pillow would write a palette image as hex)."""
    from PIL import Image as PILImage  # noqa: PLC0415

    if image.mode in {"1", "L", "RGB"}:
        return image
    if "A" in image.mode or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = PILImage.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat.convert("L") if image.mode == "LA" else flat
    return image.convert("RGB")


def _graft(writer: PdfWriter, pages: Mapping[int, Page]) -> bool:
    """Put each page's layer under writer page `number` (from 1); False when none has one."""
    encoder = CidEncoder()
    layers = {
        number: layer
        for number, page in pages.items()
        if (layer := layer_text(page, encoder)) is not None
    }
    if not layers:
        return False
    font = add_glyphless_font(writer, encoder)  # after the layers: it maps their characters
    for number, layer in layers.items():
        target = writer.pages[number - 1]
        matrix = layer_matrix(pages[number], PageFrame.of(target))
        _attach(writer, target, _form(writer, layer, font), matrix, f"/OCRLayer{number}")
    return True


def _form(writer: PdfWriter, layer: LayerText, font: IndirectObject) -> IndirectObject:
    form = flate_stream(
        layer.content,
        {
            "/Type": NameObject("/XObject"),
            "/Subtype": NameObject("/Form"),
            "/BBox": ArrayObject(FloatObject(round(value, 2)) for value in layer.bbox),
            "/Resources": DictionaryObject(
                {NameObject("/Font"): DictionaryObject({NameObject(FONT_RESOURCE): font})}
            ),
        },
    )
    return writer._add_object(form)


def _attach(
    writer: PdfWriter, page: PageObject, form: IndirectObject, matrix: Transform, name: str
) -> None:
    """Name `form` in the page's resources and draw it before the page's own content."""
    # Copies of the resource dictionaries: the originals may be shared with other pages (or
    # inherited), which must stay as they were.
    resources = _copy(page.get("/Resources"))
    xobjects = _copy(resources.get("/XObject"))
    while name in xobjects:
        name += "_"
    xobjects[NameObject(name)] = form
    resources[NameObject("/XObject")] = xobjects
    page[NameObject("/Resources")] = resources

    numbers = " ".join(pdf_number(value, places=6) for value in matrix.as_tuple())
    prologue = StreamObject()
    prologue.set_data(f"q {numbers} cm {name} Do Q\n".encode("ascii"))
    # The existing streams stay as they are (by reference): only the array is new.
    existing: list[PdfObject] = []
    if "/Contents" in page:
        contents = page["/Contents"]
        existing = (
            list(contents) if isinstance(contents, ArrayObject) else [page.raw_get("/Contents")]
        )
    page[NameObject("/Contents")] = ArrayObject([writer._add_object(prologue), *existing])


def _copy(value: object) -> DictionaryObject:
    value = value.get_object() if isinstance(value, PdfObject) else value
    copy = DictionaryObject()
    if isinstance(value, DictionaryObject):
        for key in value:
            copy[NameObject(key)] = value.raw_get(key)
    return copy
