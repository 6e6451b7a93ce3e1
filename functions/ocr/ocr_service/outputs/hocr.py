"""The hOCR output (hOCR 1.2 in XHTML): the layout as HTML that hOCR tools, search indexers and
PDF makers (hocr-tools, OCRmyPDF's hocrtransform) read.

Built with ElementTree and serialised as namespaced XHTML with its doctype, so it parses as
XML and every character of the text is escaped by the serialiser, not by hand. Boxes are on
the input page (`Page.input_box`) in whole pixels that contain them, since hOCR consumers lay
them on the original scan. Properties are written only where the model knows them: no
baseline, no fonts; `x_wconf` only for words that have a confidence (a PDF text layer has
none). Also home of the small XML helpers the ALTO renderer shares (`language_tag`,
`xml_text`, `check_page_numbers`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ocr_service.core.languages import ISO_639_1, split_languages
from ocr_service.document.model import Box, Document, Line, Page

XHTML = "http://www.w3.org/1999/xhtml"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
DOCTYPE = (
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
)
CAPABILITIES = "ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf ocrp_lang"

# Characters XML 1.0 cannot carry at all (not even escaped): C0 controls but tab, newline and
# carriage return, lone surrogates, U+FFFE/U+FFFF. An engine may still emit one.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# ISO 639-3 (as the engines name languages) -> ISO 639-1; the first 639-1 code wins (no, nb).
_ISO_639_3 = {code3: code1 for code1, code3 in reversed(ISO_639_1.items())}


def render_hocr(
    document: Document, *, title: str = "", engine: str = "", language: str = ""
) -> bytes:
    """UTF-8 hOCR of `document`. `title` names the input file (the pages' `image`), `engine`
    the OCR system, `language` the language asked for (the whole file's `lang`; each
    paragraph's is the language its page was read in)."""
    check_page_numbers(document)
    document_lang = language_tag(language or document.language)
    # Unqualified names under an xmlns attribute: ElementTree's default_namespace refuses
    # unqualified attributes (class, title), and a registered prefix would be global state.
    html = ET.Element("html", {"xmlns": XHTML, **_lang(document_lang, xml=True)})
    head = _sub(html, "head")
    _sub(head, "title").text = xml_text(title)
    _sub(head, "meta", {"http-equiv": "Content-Type", "content": "text/html;charset=utf-8"})
    _sub(head, "meta", {"name": "ocr-system", "content": xml_text(engine)})
    _sub(head, "meta", {"name": "ocr-capabilities", "content": CAPABILITIES})
    _sub(head, "meta", {"name": "ocr-number-of-pages", "content": str(document.page_count)})
    body = _sub(html, "body")
    for page in document.pages:
        # Only the page's own language: a text-layer page was not read in the one asked for.
        _page(body, page, title, language_tag(page.language))
    ET.indent(html)
    # Explicit end tags (<span></span>): an HTML parser reads <span/> as an unclosed span.
    markup = ET.tostring(html, encoding="unicode", short_empty_elements=False)
    return (XML_DECLARATION + DOCTYPE + markup + "\n").encode("utf-8")


def _page(body: ET.Element, page: Page, title: str, lang: str) -> None:
    number = page.number
    properties = [f'image "{_quoted(xml_text(title))}"'] if title else []
    properties.append(f"bbox 0 0 {round(page.width)} {round(page.height)}")
    properties.append(f"ppageno {number - 1}")  # hOCR counts physical pages from 0
    if page.dpi:  # 0: the file gave no resolution, and hOCR has no way to say "unknown"
        properties.append(f"scan_res {round(page.dpi)} {round(page.dpi)}")
    div = _sub(body, "div", {"class": "ocr_page", "id": f"page_{number}"})
    div.set("title", "; ".join(properties))
    for block_number, block in enumerate(page.blocks, 1):
        key = f"{number}_{block_number}"
        bbox = _bbox(page.input_box(block.box))
        area = _sub(div, "div", {"class": "ocr_carea", "id": f"block_{key}", "title": bbox})
        # The model has no paragraphs: one per block, as hOCR wants lines inside a paragraph.
        paragraph = _sub(area, "p", {"class": "ocr_par", "id": f"par_{key}", "title": bbox})
        paragraph.attrib.update(_lang(lang))
        for line_number, line in enumerate(block.lines, 1):
            _line(paragraph, page, line, f"{key}_{line_number}")


def _line(paragraph: ET.Element, page: Page, line: Line, key: str) -> None:
    box = page.input_box(line.box)
    _, top, _, bottom = box.rounded()
    # x_size is the line's text height; the line box is the closest the model knows.
    title = f"{_bbox(box)}; x_size {bottom - top}"
    span = _sub(paragraph, "span", {"class": "ocr_line", "id": f"line_{key}", "title": title})
    for word_number, word in enumerate(line.words, 1):
        word_title = _bbox(page.input_box(word.box))
        if word.confidence is not None:
            word_title += f"; x_wconf {min(100, max(0, round(word.confidence * 100)))}"
        word_id = f"word_{key}_{word_number}"
        item = _sub(span, "span", {"class": "ocrx_word", "id": word_id, "title": word_title})
        item.text = xml_text(word.text)


def _sub(parent: ET.Element, name: str, attrib: dict[str, str] | None = None) -> ET.Element:
    return ET.SubElement(parent, name, attrib or {})


def _lang(tag: str, *, xml: bool = False) -> dict[str, str]:
    if not tag:
        return {}
    return {XML_LANG: tag, "lang": tag} if xml else {"lang": tag}


def _bbox(box: Box) -> str:
    left, top, right, bottom = box.rounded()
    return f"bbox {left} {top} {right} {bottom}"


def _quoted(value: str) -> str:
    # hOCR property strings are double-quoted with backslash escapes.
    return value.replace("\\", "\\\\").replace('"', '\\"')


# Shared with alto.py.


def language_tag(name: str) -> str:
    """The ISO 639-1 code (valid as xml:lang, HTML lang and ALTO's xsd:language) of one engine
    language name (`en`, `ENG`, `rus`); "" for several languages (`rus+eng`), a script or model
    (`LATIN`, `CYRILLIC`) or anything unknown, since a wrong language is worse than none."""
    parts = split_languages(name)
    if len(parts) != 1:
        return ""
    code = parts[0]
    if code.lower() in ISO_639_1:
        return code.lower()
    return _ISO_639_3.get(code.upper(), "")


def xml_text(text: str) -> str:
    """`text` without the characters XML 1.0 cannot hold (escaping is the serialiser's job)."""
    return _NOT_XML.sub("", text)


def check_page_numbers(document: Document) -> None:
    """Raise ValueError unless the page numbers are distinct: element ids are made of them."""
    numbers = [page.number for page in document.pages]
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"a document's page numbers must be distinct, not {numbers}")
