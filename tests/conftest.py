"""Shared fixtures: fake AWS credentials, an in-process S3 (moto) and a fake OCR engine."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from aws_lambda_powertools import Logger
from moto import mock_aws

from ocr_service.aspose_engine import ASPOSE_SPEED, AsposeEngine
from ocr_service.config import EngineKind, Preprocessing, load_engine_settings
from ocr_service.engine import (
    NO_PREPROCESSING,
    Line,
    PageRange,
    Recognition,
    SpeedModel,
    StartupTimings,
)
from ocr_service.failures import OcrError, Reason
from ocr_service.formats import ImageFormat
from ocr_service.image_info import inspect_image
from ocr_service.languages import AsposeLanguages
from ocr_service.tesseract_engine import TesseractEngine
from tools.samples import render_lines
from tools.template_env import function_environment as template_environment

REPO = Path(__file__).resolve().parents[1]
INPUT_BUCKET = "test-input"
OUTPUT_BUCKET = "test-output"
# Small real images: the pipeline reads their headers before any engine sees them.
PNG = render_lines(("fake engine input",), width=240, font_size=16)
# A well-formed PNG the fake engine refuses, as the real one refuses undecodable pixel data.
CORRUPT_PNG = render_lines(("corrupt pixel data",), width=240, font_size=16)


@dataclass
class FakeEngine:
    """An OcrEngine that returns a text derived from the bytes it is given."""

    name: str = "fake"
    version: str = "0.0-fake"
    licensed: bool = False
    calls: list[bytes] = field(default_factory=list)
    scales: list[float | None] = field(default_factory=list)
    requested_languages: list[str | None] = field(default_factory=list)
    page_ranges: list[PageRange | None] = field(default_factory=list)
    during_recognition: Callable[[bytes], None] | None = None
    """A hook to change the world while the engine works (races, faults)."""
    timings: StartupTimings = field(default_factory=lambda: StartupTimings(0, 0, 0, 0, 0))

    languages: AsposeLanguages = field(
        default_factory=lambda: AsposeLanguages({"LATIN", "ENG", "RUS", "UKR", "DEU", "CYRILLIC"})
    )
    speed: SpeedModel = ASPOSE_SPEED

    def recognize(
        self,
        data: bytes,
        image_format: ImageFormat,
        scale: float | None = None,
        language: str | None = None,
        *,
        preprocessing: Preprocessing = NO_PREPROCESSING,
        pages: PageRange | None = None,
    ) -> Recognition:
        self.calls.append(data)
        self.scales.append(scale)
        self.requested_languages.append(language)
        self.page_ranges.append(pages)
        if self.during_recognition is not None:
            self.during_recognition(data)
        if data == CORRUPT_PNG:
            raise OcrError(Reason.UNREADABLE_IMAGE, "fake engine: corrupt image")
        text = f"recognized {len(data)} bytes of {image_format.value}: ünïcödé ✓"
        count = inspect_image(data, image_format).pages
        numbers = range(pages.first, pages.last + 1) if pages else range(1, count + 1)
        texts = (text,) if count == 1 else tuple(f"page {n} of {text}" for n in numbers)
        return Recognition(
            page_texts=texts,
            image_format=image_format,
            trial_limited=not self.licensed,
            lines=tuple((Line(page, 10, 20, 300, 24, 0.5),) for page in texts),
        )

    def searchable_pdf(self, recognition: Recognition) -> bytes:
        return b"%PDF-1.7 fake searchable " + recognition.text.encode()


# The modules log through Powertools child loggers; in Lambda app.py creates their parent.
PARENT_LOGGER = Logger()


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and no endpoint override, so nothing can reach real AWS."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def s3(aws_credentials: None) -> Iterator[object]:
    """An in-process S3 with the input and output buckets."""
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=INPUT_BUCKET)
        client.create_bucket(Bucket=OUTPUT_BUCKET)
        yield client


@pytest.fixture
def fake_engine() -> FakeEngine:
    return FakeEngine()


def openssl_dir() -> str:
    """Where `make setup` puts OpenSSL 1.1 for the engine (the Makefile exports it)."""
    return os.environ.get("OCR_OPENSSL_LIB_DIR", str(REPO / ".cache/openssl11/lib"))


def tessdata_dir() -> str:
    """Where `make setup` puts Tesseract's language data (the Makefile exports it)."""
    return os.environ.get("OCR_TESSDATA_DIR", str(REPO / ".cache/tessdata"))


@pytest.fixture(scope="session")
def real_engine(tmp_path_factory: pytest.TempPathFactory) -> AsposeEngine:
    """The real Aspose engine, started once for the whole test session (as in Lambda)."""
    settings = load_engine_settings(
        {
            "OCR_OPENSSL_LIB_DIR": openssl_dir(),
            "OCR_RESOURCES_DIR": str(tmp_path_factory.mktemp("models")),
        }
    )
    return AsposeEngine.start(settings)


@pytest.fixture(scope="session")
def tesseract_engine() -> TesseractEngine:
    """The real Tesseract engine with the layer's languages, started once (as in Lambda), able
    to export searchable PDFs."""
    settings = load_engine_settings(
        {"OCR_ENGINE": "tesseract", "OCR_TESSDATA_DIR": tessdata_dir(), "OCR_OUTPUTS": "pdf"}
    )
    assert settings.kind is EngineKind.TESSERACT
    return TesseractEngine.start(settings)


@pytest.fixture
def function_environment(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The function's environment from template.yaml, as Lambda sets it (with our buckets)."""
    environment = template_environment({"OutputBucket": OUTPUT_BUCKET})
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment
