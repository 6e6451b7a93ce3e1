"""Fetch the Aspose license once, at cold start, from a file, a secret or a parameter.

The license's bytes go straight to the engine: they are never logged, returned or written.
A configured license that cannot be read fails the cold start, rather than letting the
function run on in trial mode, which would cut every page's text without anybody noticing.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from aws_lambda_powertools.utilities import parameters

from ocr_service.core.config import LicenseSource


class LicenseError(RuntimeError):
    """The configured license could not be read or was rejected."""


def fetch_license(source: LicenseSource) -> bytes:
    """The license file's bytes, from wherever `source` says."""
    try:
        if source.kind == "file":
            return Path(source.name).read_bytes()
        # Fetched once per cold start: Powertools' cache would only hide a changed value.
        if source.kind == "secret":
            return _license_bytes(parameters.get_secret(source.name, force_fetch=True))
        return _license_bytes(parameters.get_parameter(source.name, decrypt=True, force_fetch=True))
    except Exception as error:  # any failure here must stop the cold start, with its cause
        raise LicenseError(
            f"could not read the license from {source.variable}={source.name!r}: "
            f"{type(error).__name__}: {error}"
        ) from error


def _license_bytes(value: str | bytes | dict[str, object]) -> bytes:
    """A license stored as its XML text, or base64 of it (how binary secrets are pasted)."""
    if isinstance(value, dict):
        raise ValueError("the value is JSON; store the license file's XML or its base64")
    raw = value.encode("utf-8") if isinstance(value, str) else value
    if raw.lstrip().startswith(b"<"):
        return raw
    try:
        return base64.b64decode(raw, validate=True)
    except binascii.Error as error:
        raise ValueError("the value is neither license XML nor base64 of it") from error
