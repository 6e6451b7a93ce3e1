"""The JSON documents the function writes besides the text: the sidecar (pages, lines, boxes,
confidence), a page-range task's part, and the failure record (`<key>.error.json`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ocr_service.aws.results import ObjectVersion
from ocr_service.engines.port import Line, OcrEngine, Recognition

Page = dict[str, Any]
"""{"number", "text", "lines": [{"text", "box": {"x", "y", "width", "height"}, "confidence"}]}"""


def json_bytes(document: Mapping[str, object]) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


def source_fields(source: ObjectVersion) -> dict[str, object]:
    return {
        "bucket": source.bucket,
        "key": source.key,
        "etag": source.etag,
        "version_id": source.version_id,
    }


def pages_of(recognition: Recognition, first_number: int = 1) -> list[Page]:
    """The recognition's pages, numbered from `first_number` (a page range's first page)."""
    lines = recognition.lines or tuple(() for _ in recognition.page_texts)
    return [
        {"number": number, "text": text, "lines": [_line(line) for line in page_lines]}
        for number, (text, page_lines) in enumerate(
            zip(recognition.page_texts, lines, strict=True), start=first_number
        )
    ]


def _line(line: Line) -> dict[str, object]:
    box = {"x": line.x, "y": line.y, "width": line.width, "height": line.height}
    return {"text": line.text, "box": box, "confidence": line.confidence}


def sidecar_document(
    source: ObjectVersion,
    pages: Sequence[Page],
    language: str,
    engine: OcrEngine,
    trial_limited: bool,
) -> dict[str, object]:
    """The JSON sidecar: pages, their lines, bounding boxes (pixels) and confidence."""
    return {
        "source": source_fields(source),
        "ocr_engine": engine.name,
        "engine_version": engine.version,
        "language": language,
        "trial_limited": trial_limited,
        "pages": list(pages),
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
