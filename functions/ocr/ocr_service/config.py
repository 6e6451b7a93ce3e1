"""The function's configuration: read from the environment once, validated, immutable.

Every setting is documented in README.md ("Configuration"). A wrong value stops the cold start
with one message that lists every problem, instead of failing later on the first object.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# Where the layer puts the engine's model resources (see layers/aspose-ocr/build_layer.py).
DEFAULT_RESOURCES_DIR = Path("/opt/ocr-models")

# S3's rules for bucket names (the subset that matters for a typo or an ARN pasted by mistake).
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """The environment does not describe a usable configuration."""


@dataclass(frozen=True)
class EngineSettings:
    """What the OCR engine needs to start."""

    resources_dir: Path
    """The engine's model resources directory (read-only is fine)."""
    license_path: Path | None
    """An Aspose license file; None runs the engine in trial mode."""
    openssl_lib_dir: Path | None
    """Where libssl.so.1.1 and libcrypto.so.1.1 are, if not on the loader's search path."""
    allow_model_downloads: bool
    """Let the engine download missing models at run time (off in Lambda: nowhere durable)."""
    warm_up: bool
    """Run one small recognition at start-up so the first request does not pay model loading."""


@dataclass(frozen=True)
class Settings:
    """The whole function's configuration."""

    output_bucket: str
    engine: EngineSettings


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


def _engine_settings(environ: Mapping[str, str], problems: list[str]) -> EngineSettings:
    license_path = _optional_path(environ, "OCR_LICENSE_PATH")
    if license_path is not None and not license_path.is_file():
        problems.append(f"OCR_LICENSE_PATH={str(license_path)!r} is not a readable file")
    return EngineSettings(
        resources_dir=_optional_path(environ, "OCR_RESOURCES_DIR") or DEFAULT_RESOURCES_DIR,
        license_path=license_path,
        openssl_lib_dir=_optional_path(environ, "OCR_OPENSSL_LIB_DIR"),
        allow_model_downloads=_flag(environ, "OCR_ALLOW_MODEL_DOWNLOADS", False, problems),
        warm_up=_flag(environ, "OCR_WARM_UP", True, problems),
    )


def load_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    """Read and validate the function's configuration; raise ConfigError listing every problem."""
    problems: list[str] = []
    output_bucket = environ.get("OUTPUT_BUCKET", "").strip()
    if not output_bucket:
        problems.append("OUTPUT_BUCKET is not set (the bucket that receives the .txt results)")
    elif not _BUCKET_NAME.fullmatch(output_bucket):
        problems.append(f"OUTPUT_BUCKET={output_bucket!r} is not an S3 bucket name")
    engine = _engine_settings(environ, problems)
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems))
    return Settings(output_bucket=output_bucket, engine=engine)
