"""The `.txt` output: the document's text, pages separated by form feeds.

The model already knows how its text reads (ocr_service/document/model.py); this module only
gives the plain-text output a renderer of its own, as every other output has one, so that the
caller picks outputs in one uniform way.
"""

from __future__ import annotations

from ocr_service.document.model import Document


def render_text(document: Document) -> str:
    """The document's text: words joined by spaces, lines by newlines, blocks by an empty
    line, pages by a form feed."""
    return document.text
