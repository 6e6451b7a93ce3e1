"""Why an object has no text: one reason code per cause, and one exception that carries it.

Every failure falls in one of three kinds (README, "How one object is handled"):
- **inherent to the bytes** (empty, not an image, corrupt, over a limit): the failure record is
  the object's final result until the object changes;
- **caused by the deployment** (a missing model, a timeout too short for the work, a role that
  may not read the object, an engine that crashed): recorded, counted and alarmed the same
  way, but not final, so once the operator fixes the cause, a redelivery or `make reprocess`
  recognizes the object;
- **transient** (S3 throttling or errors, too little time left in this invocation): nothing is
  written and the message comes back.
"""

from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    """The stable codes in failure records, logs and the FailuresByReason metric."""

    OBJECT_MISSING = "object-missing"
    EMPTY_OBJECT = "empty-object"
    UNSUPPORTED_FORMAT = "unsupported-format"
    TRUNCATED_IMAGE = "truncated-image"
    CORRUPT_IMAGE = "corrupt-image"
    IMAGE_TOO_SMALL = "image-too-small"
    TOO_LARGE = "too-large"
    TOO_MANY_PIXELS = "too-many-pixels"
    TOO_MANY_PAGES = "too-many-pages"
    UNREADABLE_IMAGE = "unreadable-image"
    ENCRYPTED_DOCUMENT = "encrypted-document"  # a PDF that opens only with a user password
    TOO_MUCH_TEXT = "too-much-text"  # a PDF text layer over OCR_MAX_TEXT_CHARS
    UNKNOWN_LANGUAGE = "unknown-language"
    KEY_TOO_LONG = "key-too-long"
    OUTPUT_IS_INPUT = "output-is-input"
    MODEL_MISSING = "model-missing"
    EXCEEDS_TIME_LIMIT = "exceeds-time-limit"
    ACCESS_DENIED = "access-denied"
    ENGINE_ERROR = "engine-error"
    STORAGE_ERROR = "storage-error"
    INSUFFICIENT_TIME = "insufficient-time"

    @property
    def retryable(self) -> bool:
        """Nothing is written; the message (or the direct invocation) is retried."""
        return self in _TRANSIENT

    @property
    def heals(self) -> bool:
        """Caused by the deployment: recorded, but not the object's final result."""
        return self in _DEPLOYMENT

    @property
    def writes_record(self) -> bool:
        """Answered with `<key>.error.json` (everything but transient failures and records
        about the output bucket, which are no upload of ours)."""
        return not self.retryable and self is not Reason.OUTPUT_IS_INPUT


_TRANSIENT = frozenset({Reason.STORAGE_ERROR, Reason.INSUFFICIENT_TIME})
_DEPLOYMENT = frozenset(
    {Reason.MODEL_MISSING, Reason.EXCEEDS_TIME_LIMIT, Reason.ACCESS_DENIED, Reason.ENGINE_ERROR}
)


class OcrError(Exception):
    """An object (or a page range of it) that cannot be recognized, and why."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def message(self) -> str:
        return str(self)

    @property
    def retryable(self) -> bool:
        return self.reason.retryable

    @property
    def writes_record(self) -> bool:
        return self.reason.writes_record
