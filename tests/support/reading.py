"""Reading inputs the way the pipeline does, for the tests of the real engines."""

from __future__ import annotations

from ocr_service.core.config import DEFAULT_LIMITS, PdfTextMode, Preprocessing
from ocr_service.document.model import Document
from ocr_service.engines.port import NO_PREPROCESSING, OcrEngine
from ocr_service.recognition.recognizer import DocumentRecognizer


def read_document(
    engine: OcrEngine,
    data: bytes,
    language: str | None = None,
    *,
    preprocessing: Preprocessing = NO_PREPROCESSING,
    pdf_text: PdfTextMode = PdfTextMode.AUTO,
    max_image_side: int = 0,
) -> Document:
    """`data` planned and read as the pipeline reads it (language: a name the engine's
    catalogue resolves; its default when None)."""
    recognizer = DocumentRecognizer(
        engine,
        DEFAULT_LIMITS,
        preprocessing=preprocessing,
        pdf_text=pdf_text,
        max_image_side=max_image_side,
    )
    examined = recognizer.examine(data)
    resolved = engine.languages.resolve(language or "LATIN")
    return recognizer.recognize(examined, resolved, recognizer.plan(examined))
