"""The real engines, each started once for the whole session (as in Lambda, once per Init)."""

from __future__ import annotations

import pytest

from ocr_service.core.config import EngineKind, load_engine_settings
from ocr_service.engines.aspose import AsposeEngine
from ocr_service.engines.tesseract import TesseractEngine
from tests.support.deployment import openssl_dir, tessdata_dir


@pytest.fixture(scope="session")
def real_engine(tmp_path_factory: pytest.TempPathFactory) -> AsposeEngine:
    """The real Aspose engine (trial mode: no license here)."""
    settings = load_engine_settings(
        {
            "OCR_OPENSSL_LIB_DIR": openssl_dir(),
            "OCR_RESOURCES_DIR": str(tmp_path_factory.mktemp("models")),
        }
    )
    return AsposeEngine.start(settings)


@pytest.fixture(scope="session")
def tesseract_engine() -> TesseractEngine:
    """The real Tesseract engine with the layer's languages, able to export searchable PDFs."""
    settings = load_engine_settings(
        {"OCR_ENGINE": "tesseract", "OCR_TESSDATA_DIR": tessdata_dir(), "OCR_OUTPUTS": "pdf"}
    )
    assert settings.kind is EngineKind.TESSERACT
    return TesseractEngine.start(settings)
