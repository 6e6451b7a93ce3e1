"""The ALTO output (ALTO 4.4, the Library of Congress' XML for OCR layout and text), as digital
libraries, METS packages and newspaper archives read it.

Measured in pixels of the input page (`Page.input_box`, whole pixels that contain each box), as
`MeasurementUnit` pixel says. The schema's own rules shape it: every Page, TextBlock, TextLine
and String id is unique over the file (xs:ID, made of the page number and the model's
indices); a String needs text, so a word with none is left out, and a TextLine needs a String,
so a line left without words is too; `WC` is the word's confidence (0..1) and is absent where
the model has none; `LANG` is written only when the page's language is one ISO 639 language.
tests/unit/test_outputs.py validates the result against the schema.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ocr_service.document.model import Box, Document, Line, Page, PageSource
from ocr_service.outputs.hocr import XML_DECLARATION, check_page_numbers, language_tag, xml_text

ALTO = "http://www.loc.gov/standards/alto/ns-v4#"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{ALTO} http://www.loc.gov/alto/v4/alto-4-4.xsd"
PROCESSING_ID = "ocr_processing"
WC_DIGITS = 4  # engines report float32 noise; four digits are more than they know


def render_alto(
    document: Document, *, file_name: str = "", engine: str = "", engine_version: str = ""
) -> bytes:
    """UTF-8 ALTO 4.4 of `document`. `file_name` names the input file, `engine` and
    `engine_version` the OCR software."""
    check_page_numbers(document)
    # Unqualified names under an xmlns attribute: ElementTree's default_namespace refuses
    # unqualified attributes (ID, HPOS ...), and a registered prefix would be global state.
    root = ET.Element("alto", {"xmlns": ALTO, "SCHEMAVERSION": "4.4"})
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    _description(root, file_name, engine, engine_version)
    layout = _sub(root, "Layout")
    for page in document.pages:
        # Only the page's own language: a text-layer page was not read in the one asked for.
        _page(layout, page, language_tag(page.language))
    ET.indent(root)
    markup = ET.tostring(root, encoding="unicode")
    return (XML_DECLARATION + markup + "\n").encode("utf-8")


def _description(root: ET.Element, file_name: str, engine: str, engine_version: str) -> None:
    description = _sub(root, "Description")
    _sub(description, "MeasurementUnit").text = "pixel"
    if file_name:
        source = _sub(description, "sourceImageInformation")
        _sub(source, "fileName").text = xml_text(file_name)
    # OCRProcessing is deprecated in 4.x in favour of Processing, but it is what ALTO readers
    # (and Tesseract's own ALTO) still use; both validate.
    processing = _sub(description, "OCRProcessing", {"ID": PROCESSING_ID})
    step = _sub(processing, "ocrProcessingStep")
    _sub(step, "processingCategory").text = "contentGeneration"
    software = _sub(step, "processingSoftware")
    if engine:
        _sub(software, "softwareName").text = xml_text(engine)
    if engine_version:
        _sub(software, "softwareVersion").text = xml_text(engine_version)


def _page(layout: ET.Element, page: Page, lang: str) -> None:
    number = page.number
    width, height = str(round(page.width)), str(round(page.height))
    element = _sub(layout, "Page", {"ID": f"page_{number}", "PHYSICAL_IMG_NR": str(number)})
    element.attrib.update({"WIDTH": width, "HEIGHT": height})
    if page.source is PageSource.OCR:  # a text-layer page was not made by the OCR step
        element.set("PROCESSING", PROCESSING_ID)
    if lang:
        element.set("LANG", lang)
    space = _sub(element, "PrintSpace", {"HPOS": "0", "VPOS": "0"})
    space.attrib.update({"WIDTH": width, "HEIGHT": height})
    for block_number, block in enumerate(page.blocks, 1):
        key = f"{number}_{block_number}"
        text_block = _sub(space, "TextBlock", {"ID": f"block_{key}"})
        text_block.attrib.update(_geometry(page.input_box(block.box)))
        for line_number, line in enumerate(block.lines, 1):
            _line(text_block, page, line, f"{key}_{line_number}")


def _line(text_block: ET.Element, page: Page, line: Line, key: str) -> None:
    words = [
        (number, word, page.input_box(word.box))
        for number, word in enumerate(line.words, 1)
        if xml_text(word.text).strip()
    ]
    if not words:  # a TextLine must hold at least one String
        return
    text_line = _sub(text_block, "TextLine", {"ID": f"line_{key}"})
    text_line.attrib.update(_geometry(page.input_box(line.box)))
    previous: Box | None = None
    for number, word, box in words:
        if previous is not None:
            _space(text_line, previous, box)
        string = _sub(text_line, "String", {"ID": f"string_{key}_{number}"})
        string.set("CONTENT", xml_text(word.text))
        string.attrib.update(_geometry(box))
        if word.confidence is not None:
            string.set("WC", _confidence(word.confidence))
        previous = box


def _space(text_line: ET.Element, before: Box, after: Box) -> None:
    """An SP between two Strings, with the gap's geometry where the words stand apart
    left to right (in a line turned on the input page there is no such gap to give)."""
    _, top, right, _ = before.rounded()
    left = after.rounded()[0]
    space = _sub(text_line, "SP")
    if left > right:
        space.attrib.update({"WIDTH": str(left - right), "HPOS": str(right), "VPOS": str(top)})


def _geometry(box: Box) -> dict[str, str]:
    left, top, right, bottom = box.rounded()
    return {
        "HPOS": str(left),
        "VPOS": str(top),
        "WIDTH": str(right - left),
        "HEIGHT": str(bottom - top),
    }


def _confidence(value: float) -> str:
    # WC is an xsd:float in [0, 1]: clamp what an engine may overshoot, drop float noise.
    return format(round(min(1.0, max(0.0, value)), WC_DIGITS), "g")


def _sub(parent: ET.Element, name: str, attrib: dict[str, str] | None = None) -> ET.Element:
    return ET.SubElement(parent, name, attrib or {})
