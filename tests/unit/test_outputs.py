"""The text, JSON sidecar, hOCR and ALTO renderers, on a hand-built document: an OCR page
recognized at half the input's resolution (so every box must be scaled back), a PDF text-layer
page without confidences, and an empty page; words with XML's special characters and Cyrillic.

The ALTO schema is validated offline against copies in tests/support/schemas/: `alto-4-4.xsd`
verbatim from altoxml/schema (CC BY-SA 4.0, its header kept), and `xlink.xsd`, the Library of
Congress' METS XLink schema that ALTO imports by URL, mapped to the local copy here.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from ocr_service.document.model import (
    Block,
    Box,
    Document,
    Line,
    Page,
    PageSource,
    Transform,
    Word,
)
from ocr_service.outputs.alto import render_alto
from ocr_service.outputs.hocr import language_tag, render_hocr, xml_text
from ocr_service.outputs.sidecar import render_sidecar
from ocr_service.outputs.text import render_text

SCHEMAS = Path(__file__).resolve().parents[1] / "support" / "schemas"
ALTO_NS = "{http://www.loc.gov/standards/alto/ns-v4#}"
XHTML_NS = "{http://www.w3.org/1999/xhtml}"
SPECIAL = "<&>\"'"

# Page 1 was recognized at half size: its boxes are doubled on the input page, and rounded
# outwards (10.2 * 2 = 20.4 -> 20, 30.6 * 2 = 61.2 -> 62).
OCR_PAGE = Page(
    number=1,
    width=200.0,
    height=100.0,
    dpi=300.0,
    source=PageSource.OCR,
    to_input=Transform.scaling(2),
    language="rus",
    blocks=(
        Block(
            box=Box(10, 5, 60, 30),
            lines=(
                Line(
                    box=Box(10.2, 5.3, 60, 12.1),
                    confidence=0.8,
                    words=(
                        Word("Привет", Box(10.2, 5.3, 30.6, 12.1), 0.91),
                        Word(SPECIAL, Box(35, 5.5, 60, 12), 0.5),
                    ),
                ),
                Line(
                    box=Box(10, 20, 25, 30),
                    confidence=0.987654,
                    words=(Word("мир", Box(10, 20, 25, 30), 0.987654),),
                ),
            ),
        ),
    ),
)
TEXT_LAYER_PAGE = Page(
    number=2,
    width=612.0,
    height=792.0,
    dpi=72.0,
    source=PageSource.TEXT_LAYER,
    blocks=(
        Block(
            box=Box(72, 72, 300, 90),
            lines=(
                Line(
                    box=Box(72, 72, 300, 90),
                    words=(
                        Word("a<b", Box(72, 72, 100, 90)),
                        Word("&amp;", Box(110, 72, 150, 90)),
                        Word("it's", Box(160, 72, 300, 90)),
                    ),
                ),
            ),
        ),
    ),
)
EMPTY_PAGE = Page(number=3, width=100.0, height=50.0, dpi=0.0, source=PageSource.OCR)
DOCUMENT = Document(pages=(OCR_PAGE, TEXT_LAYER_PAGE, EMPTY_PAGE), language="rus")

# Every word of DOCUMENT in order: text, box on the input page (left, top, right, bottom),
# confidence.
WORDS: list[tuple[str, tuple[int, int, int, int], float | None]] = [
    ("Привет", (20, 10, 62, 25), 0.91),
    (SPECIAL, (70, 11, 120, 24), 0.5),
    ("мир", (20, 40, 50, 60), 0.987654),
    ("a<b", (72, 72, 100, 90), None),
    ("&amp;", (110, 72, 150, 90), None),
    ("it's", (160, 72, 300, 90), None),
]


@pytest.fixture(scope="module")
def alto_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(
        str(SCHEMAS / "alto-4-4.xsd"),
        locations={"http://www.w3.org/1999/xlink": str(SCHEMAS / "xlink.xsd")},
    )


def test_text_is_the_documents_text() -> None:
    first_page = "\n".join([f"Привет {SPECIAL}", "мир"])  # one block, two lines
    pages = [first_page, "a<b &amp; it's", ""]
    expected = "\f".join(pages)
    assert render_text(DOCUMENT) == DOCUMENT.text == expected


def test_sidecar_pages_and_input_page_boxes() -> None:
    sidecar = render_sidecar(DOCUMENT, {"engine": "fake", "source": {"key": "a/b.png"}})
    assert sidecar["engine"] == "fake"
    assert sidecar["source"] == {"key": "a/b.png"}
    pages = sidecar["pages"]
    assert isinstance(pages, list)
    assert [page["number"] for page in pages] == [1, 2, 3]
    assert [page["source"] for page in pages] == ["ocr", "text-layer", "ocr"]
    first = pages[0]
    assert (first["width"], first["height"], first["dpi"], first["language"]) == (
        200,
        100,
        300,
        "rus",
    )
    assert first["text"] == OCR_PAGE.text
    assert first["blocks"][0]["box"] == {"x": 20, "y": 10, "width": 100, "height": 50}
    assert first["blocks"][0]["lines"][0]["box"] == {"x": 20, "y": 10, "width": 100, "height": 15}
    assert first["blocks"][0]["lines"][1]["confidence"] == 0.9877
    assert pages[2]["blocks"] == []
    words = [
        word
        for page in pages
        for block in page["blocks"]
        for line in block["lines"]
        for word in line["words"]
    ]
    assert len(words) == len(WORDS)
    for word, (text, (left, top, right, bottom), confidence) in zip(words, WORDS, strict=True):
        assert word["text"] == text
        assert word["box"] == {"x": left, "y": top, "width": right - left, "height": bottom - top}
        assert word["confidence"] == (None if confidence is None else round(confidence, 4))


def _hocr_words(root: ET.Element) -> list[ET.Element]:
    return [span for span in root.iter(f"{XHTML_NS}span") if span.get("class") == "ocrx_word"]


def _properties(element: ET.Element) -> dict[str, str]:
    title = element.get("title", "")
    pairs = (item.strip().split(" ", 1) for item in title.split(";"))
    return {name: value for name, value in pairs}


def test_hocr_words_boxes_and_confidences() -> None:
    markup = render_hocr(DOCUMENT, title='scan "1".png', engine="fake 1.0", language="ru")
    assert markup.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html')
    root = ET.fromstring(markup)
    assert root.tag == f"{XHTML_NS}html"
    words = _hocr_words(root)
    assert len(words) == sum(1 for page in DOCUMENT.pages for _ in page.words())
    for element, (text, box, confidence) in zip(words, WORDS, strict=True):
        properties = _properties(element)
        assert element.text == text
        assert properties["bbox"] == " ".join(str(value) for value in box)
        if confidence is None:
            assert "x_wconf" not in properties
        else:
            assert properties["x_wconf"] == str(round(confidence * 100))
    ids = [element.get("id") for element in root.iter() if element.get("id")]
    assert len(ids) == len(set(ids))
    assert "word_1_1_2_1" in ids and "par_2_1" in ids


def test_hocr_pages_head_and_language() -> None:
    root = ET.fromstring(render_hocr(DOCUMENT, title='scan "1".png', engine="fake 1.0"))
    metas = {meta.get("name"): meta.get("content") for meta in root.iter(f"{XHTML_NS}meta")}
    assert metas["ocr-system"] == "fake 1.0"
    assert "ocrx_word" in (metas["ocr-capabilities"] or "").split()
    pages = [div for div in root.iter(f"{XHTML_NS}div") if div.get("class") == "ocr_page"]
    assert [page.get("id") for page in pages] == ["page_1", "page_2", "page_3"]
    assert pages[0].get("title") == (
        'image "scan \\"1\\".png"; bbox 0 0 200 100; ppageno 0; scan_res 300 300'
    )
    assert _properties(pages[2]) == {
        "image": '"scan \\"1\\".png"',
        "bbox": "0 0 100 50",
        "ppageno": "2",
    }
    assert len(pages[2]) == 0  # the empty page is there, with nothing in it
    paragraphs = [p for p in root.iter(f"{XHTML_NS}p") if p.get("class") == "ocr_par"]
    # The page's own language ("rus"), none for the text layer; the document's on the root.
    assert [p.get("lang") for p in paragraphs] == ["ru", None]
    assert root.get("lang") == root.get("{http://www.w3.org/XML/1998/namespace}lang") == "ru"
    lines = [s for s in root.iter(f"{XHTML_NS}span") if s.get("class") == "ocr_line"]
    assert _properties(lines[0]) == {"bbox": "20 10 120 25", "x_size": "15"}


def _alto_strings(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{ALTO_NS}String"))


def test_alto_validates_and_carries_every_word(alto_schema: xmlschema.XMLSchema) -> None:
    markup = render_alto(DOCUMENT, file_name="a/b & c.pdf", engine="fake", engine_version="1.0")
    alto_schema.validate(markup.decode("utf-8"))
    root = ET.fromstring(markup)
    strings = _alto_strings(root)
    assert len(strings) == len(WORDS)
    for element, (text, (left, top, right, bottom), confidence) in zip(strings, WORDS, strict=True):
        assert element.get("CONTENT") == text
        geometry = [element.get(name) for name in ("HPOS", "VPOS", "WIDTH", "HEIGHT")]
        assert geometry == [str(left), str(top), str(right - left), str(bottom - top)]
        assert element.get("WC") == (None if confidence is None else str(round(confidence, 4)))
    pages = list(root.iter(f"{ALTO_NS}Page"))
    assert [(p.get("ID"), p.get("WIDTH"), p.get("HEIGHT")) for p in pages] == [
        ("page_1", "200", "100"),
        ("page_2", "612", "792"),
        ("page_3", "100", "50"),
    ]
    assert [p.get("PROCESSING") for p in pages] == ["ocr_processing", None, "ocr_processing"]
    assert [p.get("LANG") for p in pages] == ["ru", None, None]
    assert root.findtext(f".//{ALTO_NS}fileName") == "a/b & c.pdf"
    assert root.findtext(f".//{ALTO_NS}softwareName") == "fake"
    # An SP between each two Strings of a line, with the gap between them.
    first_line = next(root.iter(f"{ALTO_NS}TextLine"))
    assert [child.tag.removeprefix(ALTO_NS) for child in first_line] == ["String", "SP", "String"]
    assert first_line[1].attrib == {"WIDTH": "8", "HPOS": "62", "VPOS": "10"}


def test_alto_leaves_out_what_the_schema_forbids(alto_schema: xmlschema.XMLSchema) -> None:
    blank = Line(words=(Word(" ", Box(0, 0, 5, 5), 0.5),), box=Box(0, 0, 5, 5))
    mixed = Line(
        words=(Word("\x00", Box(0, 10, 5, 15)), Word("ok", Box(6, 10, 9, 15))),
        box=Box(0, 10, 9, 15),
    )
    page = Page(
        number=7,
        width=10.4,
        height=20.6,
        dpi=0,
        source=PageSource.TEXT_LAYER,
        language="rus+eng",
        blocks=(Block(lines=(blank, mixed), box=Box(0, 0, 9, 15)),),
    )
    markup = render_alto(Document(pages=(page,)))
    alto_schema.validate(markup.decode("utf-8"))
    root = ET.fromstring(markup)
    assert [line.get("ID") for line in root.iter(f"{ALTO_NS}TextLine")] == ["line_7_1_2"]
    assert [s.get("ID") for s in _alto_strings(root)] == ["string_7_1_2_2"]
    assert next(root.iter(f"{ALTO_NS}Page")).get("LANG") is None  # two languages: none


def test_alto_schema_rejects_a_broken_file(alto_schema: xmlschema.XMLSchema) -> None:
    # The validation above can fail: a String without CONTENT does not pass.
    markup = render_alto(DOCUMENT).decode("utf-8").replace('CONTENT="мир" ', "", 1)
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        alto_schema.validate(markup)


def test_repeated_page_numbers_are_refused() -> None:
    document = Document(pages=(EMPTY_PAGE, EMPTY_PAGE))
    with pytest.raises(ValueError, match="distinct"):
        render_alto(document)
    with pytest.raises(ValueError, match="distinct"):
        render_hocr(document)


@pytest.mark.parametrize(
    ("name", "tag"),
    [("en", "en"), ("ENG", "en"), ("rus", "ru"), ("uk", "uk"), ("rus+eng", ""), ("LATIN", ""),
     ("chi_sim", ""), ("", "")],
)  # fmt: skip
def test_language_tag(name: str, tag: str) -> None:
    assert language_tag(name) == tag


def test_xml_text_drops_what_xml_cannot_hold() -> None:
    assert xml_text("a\x00b\x0cc\td\ufffee\U0001f600") == "abc\tde\U0001f600"
