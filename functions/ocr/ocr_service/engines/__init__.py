"""Start the engine the configuration names (OCR_ENGINE), once, in Lambda's Init phase.

Only the chosen engine's modules are imported: a Tesseract deployment has no Aspose layer, and
the other way round."""

from __future__ import annotations

from ocr_service.core.config import EngineKind, EngineSettings
from ocr_service.engines.port import OcrEngine


def start_engine(settings: EngineSettings) -> OcrEngine:
    """Start, configure and warm up the engine of `settings.kind`."""
    if settings.kind is EngineKind.TESSERACT:
        from ocr_service.engines.tesseract import TesseractEngine  # noqa: PLC0415

        return TesseractEngine.start(settings)
    from ocr_service.engines.aspose import AsposeEngine  # noqa: PLC0415

    return AsposeEngine.start(settings)
