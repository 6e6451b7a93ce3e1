"""The function's configuration: read from the environment once, validated, immutable.

Every setting is documented in README.md ("Configuration"). A wrong value stops the cold start
with one message that lists every problem, instead of failing later on the first object.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ocr_service.core.languages import DEFAULT_LANGUAGE, parse_prefix_rules

# Where the layers put the engines' data (layers/aspose-ocr/, layers/tesseract/).
DEFAULT_RESOURCES_DIR = Path("/opt/ocr-models")
DEFAULT_TESSDATA_DIR = Path("/opt/tessdata")


class EngineKind(enum.StrEnum):
    """The OCR engines a deployment can choose from (OCR_ENGINE, template parameter OcrEngine)."""

    ASPOSE = "aspose"
    TESSERACT = "tesseract"


# S3's rules for bucket names (the subset that matters for a typo or an ARN pasted by mistake).
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_LICENSE_VARIABLES = {
    "OCR_LICENSE_PATH": "file",
    "OCR_LICENSE_SECRET_ID": "secret",
    "OCR_LICENSE_PARAMETER": "parameter",
}
OUTPUT_KINDS = frozenset({"txt", "json", "pdf", "hocr", "alto"})
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class PdfTextMode(enum.StrEnum):
    """What to do with a PDF page's own text (OCR_PDF_TEXT, template parameter OcrPdfText)."""

    AUTO = "auto"
    """Read each page whose text layer is usable; recognize only the others."""
    OCR = "ocr"
    """Recognize every page, for PDFs whose text layer cannot be trusted."""


class ConfigError(ValueError):
    """The environment does not describe a usable configuration."""


@dataclass(frozen=True)
class LicenseSource:
    """One place to read the license from, fetched once at cold start."""

    kind: Literal["file", "secret", "parameter"]
    name: str
    """A file path, a Secrets Manager secret ID or ARN, or an SSM parameter name."""
    variable: str
    """The environment variable that named it, for error messages."""


@dataclass(frozen=True)
class Limits:
    """Guards checked before the engine sees an object (README, "Limits")."""

    max_object_bytes: int
    max_pixels: int
    """Per page: the engine's memory grows with pixels, whatever the file size."""
    max_pages: int
    max_text_chars: int = 20_000_000
    """A PDF's text layer, in characters, over all its pages (OCR_MAX_TEXT_CHARS)."""


DEFAULT_LIMITS = Limits(
    max_object_bytes=50 * 1024 * 1024,
    max_pixels=40_000_000,  # a 12-megapixel photo fits three times; 20000x20000 does not
    # Long documents are split into page tasks (OCR_PAGES_PER_TASK), so the limit is about
    # what a user may send at all; Textract's asynchronous API stops at 3,000.
    max_pages=2_000,
)
# Measured (README, "Long documents"): pages per page-range task of a long document.
DEFAULT_PAGES_PER_TASK = 10


# Image-quality filters the engine applies before recognition, by our name -> the engine's.
PREPROCESSING_FILTERS = {
    "deskew": "auto_skew",
    "contrast": "contrast_correction_filter",
    "denoise": "auto_denoising",
    "binarize": "binarize",
    "grayscale": "to_grayscale",
    "invert": "invert",
}
UPSCALE_SMALL_FONT = "upscale-small-font"
# Measured (README, "Image quality"): deskew fixed rotated pages and cost nothing elsewhere;
# contrast and binarize each made some inputs worse (inverted and small text).
DEFAULT_PREPROCESSING: tuple[str, ...] = ("deskew",)


@dataclass(frozen=True)
class Preprocessing:
    """How the engine prepares an image before it reads it (README, "Image quality")."""

    filters: tuple[str, ...] = DEFAULT_PREPROCESSING
    """Names from PREPROCESSING_FILTERS, applied in this order."""
    upscale_small_font: bool = False
    auto_invert: bool = True
    """Let the engine detect light text on a dark background (its default)."""


# Measured on ../shared/real-samples (README, "Confidence"): below a mean word confidence of
# 0.78 were 7 of the 8 images Tesseract read with a CER over 0.1, and 2 of the 27 it read well.
DEFAULT_MIN_CONFIDENCE = 0.78

# Measured (make bench): scaling a 12-megapixel phone photo to a 2480-pixel long side kept its
# text and made it 1.17x faster; A4 pages at 300 dpi lost nothing either (README, "Sizing").
DEFAULT_MAX_IMAGE_SIDE = 2480


@dataclass(frozen=True)
class EngineSettings:
    """What the OCR engine needs to start."""

    kind: EngineKind
    resources_dir: Path
    """The engine's model resources directory (read-only is fine)."""
    license_source: LicenseSource | None
    """Where the Aspose license comes from; None runs the engine in trial mode."""
    openssl_lib_dir: Path | None
    """Where libssl.so.1.1 and libcrypto.so.1.1 are, if not on the loader's search path."""
    allow_model_downloads: bool
    """Let the engine download missing models at run time (off in Lambda: nowhere durable)."""
    warm_up: bool
    """Run one small recognition at start-up so the first request does not pay model loading."""
    tessdata_dir: Path = DEFAULT_TESSDATA_DIR
    """Tesseract's language data (`<code>.traineddata`, osd, pdf.ttf)."""
    default_language: str = "LATIN"
    """The language the warm-up loads (OCR_LANGUAGE), so the first request finds it ready."""
    max_page_pixels: int = 40_000_000
    """OCR_MAX_PIXELS: what a rendered PDF page may have (its size is known only then)."""
    page_bands: bool = True
    """OCR_PAGE_BANDS (Tesseract): a document of fewer pages than vCPUs has its pages read in
    horizontal bands on the idle ones (README, "One page on several vCPUs")."""


@dataclass(frozen=True)
class Settings:
    """The whole function's configuration."""

    output_bucket: str
    limits: Limits
    max_image_side: int
    """Images longer than this (pixels) are scaled down before recognition; 0 turns it off."""
    preprocessing: Preprocessing
    outputs: frozenset[str]
    """Results to write: always "txt"; optionally "json" (pages, blocks, lines, words with boxes),
    "pdf" (searchable), "hocr" and "alto"."""
    language: str
    """The default language, as the user named it (see languages.py)."""
    language_by_prefix: dict[str, str]
    """Key prefix -> language, for objects without an `ocr-language` metadata value."""
    engine: EngineSettings
    task_queue_url: str = ""
    """Where long documents' page tasks go (the ingest queue); empty: recognized in one go."""
    pages_per_task: int = DEFAULT_PAGES_PER_TASK
    pdf_text: PdfTextMode = PdfTextMode.AUTO
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    """Results whose mean word confidence is below it are marked ocr-low-confidence; 0: never."""


def _fraction(environ: Mapping[str, str], name: str, default: float, problems: list[str]) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        problems.append(f"{name}={raw!r} is not a number from 0 to 1")
        return default
    return value


def _choice[Choice: enum.StrEnum](
    environ: Mapping[str, str], name: str, default: Choice, what: str, problems: list[str]
) -> Choice:
    """One of an enumeration's values, in any case; the default when unset."""
    raw = environ.get(name, "").strip().lower() or default.value
    try:
        return type(default)(raw)
    except ValueError:
        accepted = ", ".join(choice.value for choice in type(default))
        problems.append(f"{name}={raw!r} is not {what}; choose from {accepted}")
        return default


def _flag(environ: Mapping[str, str], name: str, default: bool, problems: list[str]) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    problems.append(f"{name}={raw!r} is not a boolean (use true or false)")
    return default


def _positive_int(environ: Mapping[str, str], name: str, default: int, problems: list[str]) -> int:
    raw = environ.get(name, "").strip().replace("_", "")
    if not raw:
        return default
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    problems.append(f"{name}={raw!r} is not a positive whole number")
    return default


def _license_source(environ: Mapping[str, str], problems: list[str]) -> LicenseSource | None:
    configured = [
        LicenseSource(kind, environ[variable].strip(), variable)  # type: ignore[arg-type]
        for variable, kind in _LICENSE_VARIABLES.items()
        if environ.get(variable, "").strip()
    ]
    if len(configured) > 1:
        names = ", ".join(source.variable for source in configured)
        problems.append(f"set only one license source, not {names}")
        return None
    source = configured[0] if configured else None
    if source is not None and source.kind == "file" and not Path(source.name).is_file():
        problems.append(f"OCR_LICENSE_PATH={source.name!r} is not a readable file")
    return source


def _preprocessing(environ: Mapping[str, str], problems: list[str]) -> Preprocessing:
    raw = environ.get("OCR_PREPROCESSING")
    names = (
        DEFAULT_PREPROCESSING
        if raw is None
        else tuple(name.strip().lower() for name in raw.split(",") if name.strip())
    )
    accepted = {*PREPROCESSING_FILTERS, UPSCALE_SMALL_FONT}
    if unknown := [name for name in names if name not in accepted]:
        problems.append(
            f"OCR_PREPROCESSING names {', '.join(unknown)}; choose from "
            f"{', '.join(sorted(accepted))}"
        )
    return Preprocessing(
        filters=tuple(name for name in names if name in PREPROCESSING_FILTERS),
        upscale_small_font=UPSCALE_SMALL_FONT in names,
        auto_invert=_flag(environ, "OCR_AUTO_INVERT", True, problems),
    )


def _optional_path(environ: Mapping[str, str], name: str) -> Path | None:
    raw = environ.get(name, "").strip()
    return Path(raw) if raw else None


def load_engine_settings(environ: Mapping[str, str] = os.environ) -> EngineSettings:
    """Read the engine's settings; raise ConfigError listing every problem."""
    problems: list[str] = []
    settings = _engine_settings(environ, problems)
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems))
    return settings


def _outputs(environ: Mapping[str, str]) -> frozenset[str]:
    named = {name.strip().lower() for name in environ.get("OCR_OUTPUTS", "").split(",")}
    return frozenset({"txt"} | named) - {""}


def _engine_settings(environ: Mapping[str, str], problems: list[str]) -> EngineSettings:
    return EngineSettings(
        kind=_choice(environ, "OCR_ENGINE", EngineKind.ASPOSE, "an engine", problems),
        tessdata_dir=_optional_path(environ, "OCR_TESSDATA_DIR") or DEFAULT_TESSDATA_DIR,
        default_language=environ.get("OCR_LANGUAGE", "").strip() or DEFAULT_LANGUAGE,
        max_page_pixels=_positive_int(environ, "OCR_MAX_PIXELS", DEFAULT_LIMITS.max_pixels, []),
        resources_dir=_optional_path(environ, "OCR_RESOURCES_DIR") or DEFAULT_RESOURCES_DIR,
        license_source=_license_source(environ, problems),
        openssl_lib_dir=_optional_path(environ, "OCR_OPENSSL_LIB_DIR"),
        allow_model_downloads=_flag(environ, "OCR_ALLOW_MODEL_DOWNLOADS", False, problems),
        warm_up=_flag(environ, "OCR_WARM_UP", True, problems),
        page_bands=_flag(environ, "OCR_PAGE_BANDS", True, problems),
    )


def load_settings(
    environ: Mapping[str, str] = os.environ, *, needs_output_bucket: bool = True
) -> Settings:
    """Read and validate the configuration; raise ConfigError listing every problem.

    The local command line (`needs_output_bucket=False`) shares every setting but the bucket."""
    problems: list[str] = []
    output_bucket = environ.get("OUTPUT_BUCKET", "").strip()
    if not output_bucket:
        if needs_output_bucket:
            problems.append("OUTPUT_BUCKET is not set (the bucket that receives the .txt results)")
    elif not _BUCKET_NAME.fullmatch(output_bucket):
        problems.append(f"OUTPUT_BUCKET={output_bucket!r} is not an S3 bucket name")
    limits = Limits(
        max_object_bytes=_positive_int(
            environ, "OCR_MAX_OBJECT_BYTES", DEFAULT_LIMITS.max_object_bytes, problems
        ),
        max_pixels=_positive_int(environ, "OCR_MAX_PIXELS", DEFAULT_LIMITS.max_pixels, problems),
        max_pages=_positive_int(environ, "OCR_MAX_PAGES", DEFAULT_LIMITS.max_pages, problems),
        max_text_chars=_positive_int(
            environ, "OCR_MAX_TEXT_CHARS", DEFAULT_LIMITS.max_text_chars, problems
        ),
    )
    scaling_off = environ.get("OCR_MAX_IMAGE_SIDE", "").strip() == "0"
    max_image_side = (
        0
        if scaling_off
        else _positive_int(environ, "OCR_MAX_IMAGE_SIDE", DEFAULT_MAX_IMAGE_SIDE, problems)
    )
    outputs = _outputs(environ)
    if unknown_outputs := outputs - OUTPUT_KINDS:
        problems.append(
            f"OCR_OUTPUTS names {', '.join(sorted(unknown_outputs))}; "
            f"choose from {', '.join(sorted(OUTPUT_KINDS))}"
        )
    preprocessing = _preprocessing(environ, problems)
    try:
        language_by_prefix = parse_prefix_rules(environ.get("OCR_LANGUAGE_BY_PREFIX", ""))
    except ValueError as error:
        problems.append(f"OCR_LANGUAGE_BY_PREFIX: {error}")
        language_by_prefix = {}
    engine = _engine_settings(environ, problems)
    pages_per_task = _positive_int(environ, "OCR_PAGES_PER_TASK", DEFAULT_PAGES_PER_TASK, problems)
    pdf_text = _choice(environ, "OCR_PDF_TEXT", PdfTextMode.AUTO, "a mode", problems)
    min_confidence = _fraction(environ, "OCR_MIN_CONFIDENCE", DEFAULT_MIN_CONFIDENCE, problems)
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems))
    return Settings(
        task_queue_url=environ.get("OCR_TASK_QUEUE_URL", "").strip(),
        pages_per_task=pages_per_task,
        pdf_text=pdf_text,
        min_confidence=min_confidence,
        output_bucket=output_bucket,
        limits=limits,
        max_image_side=max_image_side,
        preprocessing=preprocessing,
        outputs=outputs & OUTPUT_KINDS,
        language=environ.get("OCR_LANGUAGE", "").strip() or DEFAULT_LANGUAGE,
        language_by_prefix=language_by_prefix,
        engine=engine,
    )
