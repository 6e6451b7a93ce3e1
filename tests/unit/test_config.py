"""Configuration is read once, validated, and every problem reported in one message."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocr_service.core.config import (
    DEFAULT_LIMITS,
    DEFAULT_RESOURCES_DIR,
    ConfigError,
    LicenseSource,
    Limits,
    PdfTextMode,
    Preprocessing,
    load_settings,
)


def test_defaults_with_only_the_output_bucket() -> None:
    settings = load_settings({"OUTPUT_BUCKET": "my-results"})
    assert settings.output_bucket == "my-results"
    assert settings.engine.resources_dir == DEFAULT_RESOURCES_DIR == Path("/opt/ocr-models")
    assert settings.engine.license_source is None
    assert settings.limits == DEFAULT_LIMITS
    assert settings.max_image_side == 2480
    assert settings.engine.allow_model_downloads is False
    assert settings.engine.warm_up is True


def test_every_setting_is_read(tmp_path: Path) -> None:
    license_file = tmp_path / "Aspose.OCR.lic"
    license_file.write_text("<License/>")
    settings = load_settings(
        {
            "OUTPUT_BUCKET": "out.bucket-1",
            "OCR_RESOURCES_DIR": str(tmp_path),
            "OCR_LICENSE_PATH": str(license_file),
            "OCR_OPENSSL_LIB_DIR": "/opt/lib",
            "OCR_ALLOW_MODEL_DOWNLOADS": "TRUE",
            "OCR_WARM_UP": "no",
            "OCR_PAGE_BANDS": "off",
            "OCR_MAX_OBJECT_BYTES": "1000",
            "OCR_MAX_PIXELS": "2_000_000",
            "OCR_MAX_PAGES": "3",
            "OCR_MAX_IMAGE_SIDE": "0",
        }
    )
    assert settings.engine.resources_dir == tmp_path
    assert settings.engine.license_source == LicenseSource(
        "file", str(license_file), "OCR_LICENSE_PATH"
    )
    assert settings.limits == Limits(1000, 2_000_000, 3)
    assert settings.max_image_side == 0  # scaling off
    assert settings.engine.openssl_lib_dir == Path("/opt/lib")
    assert settings.engine.allow_model_downloads is True
    assert settings.engine.warm_up is False
    assert settings.engine.page_bands is False


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(
            {
                "OUTPUT_BUCKET": "arn:aws:s3:::Results",
                "OCR_LICENSE_PATH": "/nowhere/Aspose.OCR.lic",
                "OCR_WARM_UP": "maybe",
                "OCR_PAGE_BANDS": "sometimes",
                "OCR_MAX_PAGES": "-3",
            }
        )
    message = str(raised.value)
    assert "OUTPUT_BUCKET='arn:aws:s3:::Results' is not an S3 bucket name" in message
    assert "OCR_LICENSE_PATH='/nowhere/Aspose.OCR.lic' is not a readable file" in message
    assert "OCR_WARM_UP='maybe' is not a boolean" in message
    assert "OCR_PAGE_BANDS='sometimes' is not a boolean" in message
    assert "OCR_MAX_PAGES='-3' is not a positive whole number" in message


@pytest.mark.parametrize(
    ("variable", "kind"),
    [("OCR_LICENSE_SECRET_ID", "secret"), ("OCR_LICENSE_PARAMETER", "parameter")],
)
def test_license_from_a_secret_or_a_parameter(variable: str, kind: str) -> None:
    settings = load_settings({"OUTPUT_BUCKET": "out", variable: "ocr/license"})
    assert settings.engine.license_source == LicenseSource(kind, "ocr/license", variable)  # type: ignore[arg-type]


def test_only_one_license_source() -> None:
    with pytest.raises(ConfigError, match="set only one license source"):
        load_settings(
            {
                "OUTPUT_BUCKET": "out",
                "OCR_LICENSE_SECRET_ID": "a",
                "OCR_LICENSE_PARAMETER": "/b",
            }
        )


def test_missing_output_bucket() -> None:
    with pytest.raises(ConfigError, match="OUTPUT_BUCKET is not set"):
        load_settings({})


def test_language_settings() -> None:
    settings = load_settings(
        {"OUTPUT_BUCKET": "out", "OCR_LANGUAGE": "ru", "OCR_LANGUAGE_BY_PREFIX": "en/=en;de/=deu"}
    )
    assert settings.language == "ru"
    assert settings.language_by_prefix == {"en/": "en", "de/": "deu"}
    assert load_settings({"OUTPUT_BUCKET": "out"}).language == "LATIN"
    with pytest.raises(ConfigError, match="OCR_LANGUAGE_BY_PREFIX: 'ru/' is not of the form"):
        load_settings({"OUTPUT_BUCKET": "out", "OCR_LANGUAGE_BY_PREFIX": "ru/"})


def test_outputs() -> None:
    assert load_settings({"OUTPUT_BUCKET": "out"}).outputs == {"txt"}
    settings = load_settings({"OUTPUT_BUCKET": "out", "OCR_OUTPUTS": "json, PDF"})
    assert settings.outputs == {"txt", "json", "pdf"}
    every = load_settings({"OUTPUT_BUCKET": "out", "OCR_OUTPUTS": "txt,json,pdf,hocr,alto"})
    assert every.outputs == {"txt", "json", "pdf", "hocr", "alto"}
    with pytest.raises(
        ConfigError, match="OCR_OUTPUTS names docx; choose from alto, hocr, json, pdf, txt"
    ):
        load_settings({"OUTPUT_BUCKET": "out", "OCR_OUTPUTS": "json,docx"})


def test_min_confidence() -> None:
    assert load_settings({"OUTPUT_BUCKET": "out"}).min_confidence == 0.78
    assert load_settings({"OUTPUT_BUCKET": "out", "OCR_MIN_CONFIDENCE": "0"}).min_confidence == 0
    for wrong in ("1.5", "-0.1", "high"):
        with pytest.raises(ConfigError, match=r"OCR_MIN_CONFIDENCE=.* is not a number from 0 to 1"):
            load_settings({"OUTPUT_BUCKET": "out", "OCR_MIN_CONFIDENCE": wrong})


def test_pdf_text_mode_and_the_text_limit() -> None:
    defaults = load_settings({"OUTPUT_BUCKET": "out"})
    assert defaults.pdf_text is PdfTextMode.AUTO
    assert defaults.limits.max_text_chars == 20_000_000
    chosen = load_settings(
        {"OUTPUT_BUCKET": "out", "OCR_PDF_TEXT": " OCR ", "OCR_MAX_TEXT_CHARS": "1000"}
    )
    assert (chosen.pdf_text, chosen.limits.max_text_chars) == (PdfTextMode.OCR, 1000)
    with pytest.raises(ConfigError) as raised:
        load_settings({"OUTPUT_BUCKET": "out", "OCR_PDF_TEXT": "skip", "OCR_MAX_TEXT_CHARS": "0"})
    assert "OCR_PDF_TEXT='skip' is not a mode; choose from auto, ocr" in str(raised.value)
    assert "OCR_MAX_TEXT_CHARS='0'" in str(raised.value)


def test_preprocessing() -> None:
    default = load_settings({"OUTPUT_BUCKET": "out"}).preprocessing
    assert default == Preprocessing(filters=("deskew",), upscale_small_font=False, auto_invert=True)
    assert load_settings({"OUTPUT_BUCKET": "out", "OCR_PREPROCESSING": ""}).preprocessing == (
        Preprocessing(filters=())
    )
    settings = load_settings(
        {
            "OUTPUT_BUCKET": "out",
            "OCR_PREPROCESSING": "Deskew, contrast,upscale-small-font",
            "OCR_AUTO_INVERT": "false",
        }
    )
    assert settings.preprocessing == Preprocessing(
        filters=("deskew", "contrast"), upscale_small_font=True, auto_invert=False
    )
    with pytest.raises(ConfigError, match="OCR_PREPROCESSING names sharpen; choose from"):
        load_settings({"OUTPUT_BUCKET": "out", "OCR_PREPROCESSING": "sharpen"})
