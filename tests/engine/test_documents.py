"""PDFs the tests make, through both real engines: text layers read without the engine, scanned
pages recognized, bad PDFs refused clearly, and every output rendered from the one model
(searchable PDFs that keep the original, words where a viewer finds them, valid ALTO, hOCR)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pypdfium2
import pytest
import xmlschema
from pypdf import PdfReader

from ocr_service.core.config import PdfTextMode, Preprocessing
from ocr_service.core.failures import OcrError, Reason
from ocr_service.document.model import PAGE_SEPARATOR, Document, Page, PageSource
from ocr_service.engines.aspose import AsposeEngine
from ocr_service.engines.port import NO_PREPROCESSING, OcrEngine
from ocr_service.engines.tesseract import TesseractEngine
from ocr_service.inputs.pages import PageImage
from ocr_service.outputs.alto import render_alto
from ocr_service.outputs.hocr import render_hocr
from ocr_service.outputs.pdf import searchable_pdf_from_images, searchable_pdf_from_pdf
from ocr_service.outputs.sidecar import render_sidecar
from tests.support.reading import read_document
from tools.pdf_samples import (
    PAGE_LINES,
    born_digital_pdf,
    damaged_xref_pdf,
    encrypted_pdf,
    mixed_pdf,
    no_unicode_pdf,
    scanned_with_ocr_layer_pdf,
)
from tools.samples import DEMO_LINES, render_lines

SCHEMAS = Path(__file__).resolve().parents[1] / "support" / "schemas"
OLD_LAYER = (("stale", "words", "from", "an", "old", "scanner"),)


@dataclass
class Watched:
    """A real engine that counts the pages it is asked to recognize."""

    engine: OcrEngine
    pages: list[int] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    def recognize(
        self,
        pages: Iterable[PageImage],
        language: str | None = None,
        *,
        preprocessing: Preprocessing = NO_PREPROCESSING,
    ) -> Iterator[Page]:
        given = list(pages)
        self.pages += [page.number for page in given]
        return self.engine.recognize(given, language, preprocessing=preprocessing)


@pytest.fixture(params=["aspose", "tesseract"])
def engine(
    request: pytest.FixtureRequest, real_engine: AsposeEngine, tesseract_engine: TesseractEngine
) -> Watched:
    return Watched(real_engine if request.param == "aspose" else tesseract_engine)


def read(engine: Watched, data: bytes, mode: PdfTextMode = PdfTextMode.AUTO) -> Document:
    return read_document(engine, data, pdf_text=mode)


def words(lines: Iterable[str]) -> list[str]:
    return " ".join(lines).split()


def shown(engine: Watched, lines: Iterable[str]) -> list[str]:
    """What a recognized page must read: everything, or trial mode's first line."""
    lines = list(lines)
    return words(lines if engine.licensed else lines[:1])


def test_a_born_digital_pdf_is_read_exactly_without_the_engine(engine: Watched) -> None:
    pages = [list(PAGE_LINES[0]), list(PAGE_LINES[1]), ["Third page", "the end"]]
    document = read(engine, born_digital_pdf(pages))
    assert engine.pages == []  # no page reached the engine, so no trial cut either
    assert document.text == PAGE_SEPARATOR.join("\n".join(lines) for lines in pages)
    assert [page.source for page in document.pages] == [PageSource.TEXT_LAYER] * 3
    assert document.trial_limited is False


def test_a_mixed_pdf_reads_text_pages_and_recognizes_scanned_ones_in_order(
    engine: Watched,
) -> None:
    pages = [PAGE_LINES[1], DEMO_LINES, PAGE_LINES[1], DEMO_LINES]  # odd: text, even: scans
    document = read(engine, mixed_pdf(pages))
    assert engine.pages == [2, 4]
    assert [page.number for page in document.pages] == [1, 2, 3, 4]
    assert [p.source.value for p in document.pages] == ["text-layer", "ocr", "text-layer", "ocr"]
    texts = document.text.split(PAGE_SEPARATOR)
    assert texts[0] == texts[2] == "\n".join(PAGE_LINES[1])
    for scanned in (texts[1], texts[3]):
        wanted = shown(engine, DEMO_LINES)
        assert scanned.split()[: len(wanted)] == wanted


def test_a_font_without_unicode_falls_back_to_recognition(engine: Watched) -> None:
    document = read(engine, no_unicode_pdf(DEMO_LINES))
    assert engine.pages == [1]
    wanted = shown(engine, DEMO_LINES)
    assert document.text.split()[: len(wanted)] == wanted


def test_an_old_ocr_layer_is_kept_in_auto_and_replaced_in_ocr_mode(engine: Watched) -> None:
    data = scanned_with_ocr_layer_pdf([DEMO_LINES], OLD_LAYER)
    kept = read(engine, data)
    assert engine.pages == []
    assert kept.text.split() == words(OLD_LAYER[0])
    redone = read(engine, data, PdfTextMode.OCR)
    assert engine.pages == [1]
    wanted = shown(engine, DEMO_LINES)
    assert redone.text.split()[: len(wanted)] == wanted


def test_encrypted_pdfs_user_password_refused_owner_only_read(engine: Watched) -> None:
    with pytest.raises(OcrError) as raised:
        read(engine, encrypted_pdf("secret", "owner"))
    assert raised.value.reason is Reason.ENCRYPTED_DOCUMENT
    assert read(engine, encrypted_pdf(None, "owner")).text.split() == words(
        [*PAGE_LINES[0], *PAGE_LINES[1]]
    )
    assert engine.pages == []


def test_a_damaged_cross_reference_table_is_repaired(engine: Watched) -> None:
    document = read(engine, damaged_xref_pdf())
    assert document.text.split() == words([*PAGE_LINES[0], *PAGE_LINES[1]])


def word_text_in_box(pdf: bytes, index: int, page: Page, box: Any) -> str:
    """PDFium's text inside a word's box (on the input page, pixels at the page's dpi) on
    page `index` of `pdf`."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        pdf_page = document[index]
        width, height = pdf_page.get_size()
        sx, sy = width / page.width, height / page.height
        text_page = pdf_page.get_textpage()
        found: str = text_page.get_text_bounded(
            box.left * sx, height - box.bottom * sy, box.right * sx, height - box.top * sy
        )
        return found.strip()
    finally:
        document.close()


def test_the_searchable_pdf_of_a_mixed_pdf_is_the_original_with_a_text_layer(
    tesseract_engine: TesseractEngine,
) -> None:
    original = mixed_pdf([PAGE_LINES[1], DEMO_LINES, PAGE_LINES[1]])
    document = read_document(tesseract_engine, original)
    searchable = searchable_pdf_from_pdf(original, document.pages)

    before, after = PdfReader(io.BytesIO(original)), PdfReader(io.BytesIO(searchable))
    assert len(after.pages) == 3
    for old, new in zip(before.pages, after.pages, strict=True):
        old_content, new_content = old.get_contents(), new.get_contents()
        assert old_content is not None and new_content is not None
        assert old_content.get_data() in new_content.get_data()
        old_resources, new_resources = old["/Resources"], new["/Resources"]
        assert set(old_resources.get_object()) <= set(new_resources.get_object())  # type: ignore[call-overload]
    recognized = document.pages[1]
    assert recognized.source is PageSource.OCR
    for word in recognized.words():
        assert word_text_in_box(searchable, 1, recognized, recognized.input_box(word.box)) == (
            word.text
        ), word.text
    assert len(searchable) <= len(original) + 40_000  # one recognized page
    # The text-layer pages are untouched: their text is still theirs alone.
    assert pypdfium2.PdfDocument(searchable)[0].get_textpage().get_text_range().split() == words(
        PAGE_LINES[1]
    )


@pytest.mark.parametrize("engine_name", ["aspose", "tesseract"])
def test_the_searchable_pdf_of_an_image_puts_each_word_in_its_box(
    engine_name: str, real_engine: AsposeEngine, tesseract_engine: TesseractEngine
) -> None:
    engine = real_engine if engine_name == "aspose" else tesseract_engine
    from PIL import Image

    data = render_lines()
    document = read_document(engine, data)
    image = Image.open(io.BytesIO(data))
    pdf = searchable_pdf_from_images([image.convert("L")], document.pages)
    (page,) = document.pages
    assert len(list(page.words())) >= 5
    for word in page.words():
        assert word_text_in_box(pdf, 0, page, page.input_box(word.box)) == word.text, word.text


def alto_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(
        str(SCHEMAS / "alto-4-4.xsd"),
        locations={"http://www.w3.org/1999/xlink": str(SCHEMAS / "xlink.xsd")},
    )


def test_alto_and_hocr_of_both_engines_and_of_a_text_layer_page(engine: Watched) -> None:
    data = mixed_pdf([PAGE_LINES[1], DEMO_LINES])
    document = read(engine, data)
    sources = {page.source for page in document.pages}
    assert sources == {PageSource.TEXT_LAYER, PageSource.OCR}
    alto = render_alto(document, file_name="mixed.pdf", engine=engine.name)
    alto_schema().validate(ElementTree.fromstring(alto))
    sidecar = render_sidecar(document, {})
    sidecar_words = [
        word
        for page in sidecar["pages"]  # type: ignore[attr-defined]
        for block in page["blocks"]
        for line in block["lines"]
        for word in line["words"]
    ]
    hocr = ElementTree.fromstring(render_hocr(document, title="mixed.pdf"))
    hocr_words = [
        element
        for element in hocr.iter()
        if element.get("class") == "ocrx_word" and "bbox" in (element.get("title") or "")
    ]
    assert len(hocr_words) == len(sidecar_words) == len(list(_words(document)))
    assert alto.count(b"<String ") == len(sidecar_words)


def _words(document: Document) -> Iterator[str]:
    for page in document.pages:
        for word in page.words():
            yield word.text


def test_a_tiff_has_no_text_layer_every_page_is_recognized(engine: Watched) -> None:
    from tests.support.samples import render_pages

    data = render_pages([DEMO_LINES, PAGE_LINES[1]], image_format="TIFF")
    document = read(engine, data)
    assert engine.pages == [1, 2]
    assert [(page.number, page.source, page.width) for page in document.pages] == [
        (1, PageSource.OCR, 900),
        (2, PageSource.OCR, 900),
    ]
