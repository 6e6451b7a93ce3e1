"""Every optional output of a document, rendered from the model alone (ocr_service/outputs/):
adding a format is adding a renderer there and a line here.

The searchable PDF of a PDF input is the original file with a text layer grafted onto its
recognized pages; of an image input, the images with the text under them. Either way no page is
recognized again: the words and their boxes are the model's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ocr_service.core.formats import ImageFormat
from ocr_service.document.model import Document
from ocr_service.inputs.pages import image_pages
from ocr_service.outputs.alto import render_alto
from ocr_service.outputs.hocr import render_hocr
from ocr_service.outputs.pdf import searchable_pdf_from_images, searchable_pdf_from_pdf
from ocr_service.outputs.sidecar import render_sidecar
from ocr_service.outputs.text import render_text

TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Output:
    """One kind of result: the suffix its key gets and its Content-Type."""

    kind: str
    suffix: str
    content_type: str


# In the order they are written; the .txt is always written, and last (publishing.py).
OPTIONAL_OUTPUTS: tuple[Output, ...] = (
    Output("json", ".json", "application/json; charset=utf-8"),
    Output("hocr", ".hocr", "text/html; charset=utf-8"),
    Output("alto", ".alto.xml", "application/xml; charset=utf-8"),
    Output("pdf", ".pdf", "application/pdf"),
)


@dataclass(frozen=True)
class SourceInput:
    """What the PDF renderer needs of the input besides the model."""

    data: bytes
    image_format: ImageFormat
    name: str
    """The input's key or file name (hOCR's and ALTO's image file name)."""
    max_pixels: int


@dataclass(frozen=True)
class EngineInfo:
    name: str
    version: str


def render_output(
    kind: str,
    document: Document,
    source: SourceInput,
    engine: EngineInfo,
    header: Mapping[str, object],
) -> bytes:
    """Output `kind` ("json", "hocr", "alto", "pdf" or "txt") of `document`."""
    renderers: dict[str, Callable[[], bytes]] = {
        "txt": lambda: render_text(document).encode("utf-8"),
        "json": lambda: _json(render_sidecar(document, header)),
        "hocr": lambda: render_hocr(
            document, title=source.name, engine=f"{engine.name} {engine.version}"
        ),
        "alto": lambda: render_alto(
            document, file_name=source.name, engine=engine.name, engine_version=engine.version
        ),
        "pdf": lambda: _searchable_pdf(document, source),
    }
    return renderers[kind]()


def _searchable_pdf(document: Document, source: SourceInput) -> bytes:
    if source.image_format is ImageFormat.PDF:
        return searchable_pdf_from_pdf(source.data, document.pages)
    numbers = {page.number for page in document.pages}
    images = [
        page.image
        for page in image_pages(
            source.data, source.image_format, max_pixels=source.max_pixels, numbers=numbers
        )
    ]
    return searchable_pdf_from_images(images, document.pages)


def _json(document: Mapping[str, object]) -> bytes:
    """Compact: a page of words is thousands of objects (indented, a 10-page born-digital
    PDF's sidecar measured 1.7 MB; compact, about 0.6 MB)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
