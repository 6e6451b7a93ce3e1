"""The JSON the function writes about an object: the sidecar's header (its pages are rendered
from the document model, outputs/sidecar.py) and the failure record (`<key>.error.json`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from ocr_service.aws.results import ObjectVersion
from ocr_service.document.model import Document, PageSource
from ocr_service.engines.port import OcrEngine


def json_bytes(document: Mapping[str, object]) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


def source_fields(source: ObjectVersion) -> dict[str, object]:
    return {
        "bucket": source.bucket,
        "key": source.key,
        "etag": source.etag,
        "version_id": source.version_id,
    }


def sidecar_header(
    source: ObjectVersion, document: Document, engine: OcrEngine
) -> dict[str, object]:
    """What the JSON sidecar says about the object before its pages (outputs/sidecar.py)."""
    return {
        "source": source_fields(source),
        "ocr_engine": engine.name,
        "engine_version": engine.version,
        "language": document.language,
        "trial_limited": document.trial_limited,
        "confidence": document.confidence,
        "text_layer_pages": document.count(PageSource.TEXT_LAYER),
        "ocr_pages": document.count(PageSource.OCR),
    }


def failure_record(
    source: ObjectVersion,
    reason: str,
    message: str,
    engine: OcrEngine,
    details: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """Why an object has no text, about the version that was read."""
    return {
        "reason": reason,
        "message": message,
        "retryable": False,
        "source": source_fields(source),
        **(details or {}),
        "ocr_engine": engine.name,
        "engine_version": engine.version,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }
