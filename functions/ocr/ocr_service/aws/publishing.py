"""Writing an object's one result: its text (with the sidecar and searchable PDF when asked
for), or its failure record. Each write is conditional (results.py), and the .txt comes last,
so its presence means the object is done."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from ocr_service.aws.documents import failure_record, json_bytes
from ocr_service.aws.outcomes import Failed, Skip, Skipped
from ocr_service.aws.results import (
    FINAL_METADATA,
    ObjectVersion,
    Published,
    ResultKeys,
    ResultWriter,
    long_key_error_key,
    result_keys,
)
from ocr_service.aws.storage import JSON_CONTENT_TYPE, PreconditionFailedError
from ocr_service.core.failures import OcrError, Reason
from ocr_service.document.model import Document, PageSource
from ocr_service.engines.port import OcrEngine
from ocr_service.recognition.rendering import OPTIONAL_OUTPUTS, TEXT_CONTENT_TYPE

STORAGE_ERRORS = (ClientError, BotoCoreError, PreconditionFailedError)


@dataclass(frozen=True)
class Publication:
    """A document's results: `render(kind)` makes one output ("txt", "json", "pdf", ...), only
    when it is configured and only when it is written."""

    document: Document
    render: Callable[[str], bytes]


class Publisher:
    """Writes results and failure records for one engine into one output bucket."""

    def __init__(
        self,
        results: ResultWriter,
        engine: OcrEngine,
        outputs: frozenset[str],
        min_confidence: float = 0.0,
    ) -> None:
        self.results = results
        self._engine = engine
        self.outputs = outputs
        self.min_confidence = min_confidence

    def low_confidence(self, document: Document) -> bool | None:
        """Whether the document's mean word confidence is below OCR_MIN_CONFIDENCE; None
        when there is no confidence to judge (Aspose in trial mode) or no threshold."""
        confidence = document.confidence
        if confidence is None or not self.min_confidence:
            return None
        return confidence < self.min_confidence

    def publish(
        self, source: ObjectVersion, keys: ResultKeys, publication: Publication
    ) -> Published:
        """The optional outputs first, the .txt last."""
        document = publication.document
        metadata = {
            "ocr-engine": self._engine.name,
            "engine-version": self._engine.version,
            "engine-licensed": "true" if self._engine.licensed else "false",
            "page-count": str(document.page_count),
            "ocr-language": document.language,
            "text-layer-pages": str(document.count(PageSource.TEXT_LAYER)),
            "ocr-pages": str(document.count(PageSource.OCR)),
        }
        if document.confidence is not None:
            metadata["ocr-confidence"] = f"{document.confidence:.3f}"
        if (low := self.low_confidence(document)) is not None:
            metadata["ocr-low-confidence"] = "true" if low else "false"
        outputs = [
            (keys.output(output.suffix), output.kind, output.content_type)
            for output in OPTIONAL_OUTPUTS
            if output.kind in self.outputs
        ]
        outputs.append((keys.text, "txt", TEXT_CONTENT_TYPE))
        published = Published.WRITTEN
        for key, kind, content_type in outputs:
            published = self.results.publish(
                source,
                key,
                publication.render(kind),
                content_type=content_type,
                metadata=metadata,
                replaces=[keys.error] if key == keys.text else [],
            )
            if published is Published.SUPERSEDED:
                return published
        return published

    def failed(self, source: ObjectVersion, error: OcrError) -> Failed | Skipped:
        """A transient failure is only reported; any other is answered by its record."""
        if error.retryable:
            return Failed(
                source.bucket, source.key, source.version_id, error.reason, error.message, True
            )
        return self.fail_permanently(source, error.reason, error.message)

    def fail_permanently(
        self,
        source: ObjectVersion,
        reason: Reason,
        message: str,
        details: Mapping[str, object] | None = None,
    ) -> Failed | Skipped:
        failed = Failed(source.bucket, source.key, source.version_id, reason, message, False)
        if not reason.writes_record:
            return failed  # not an upload of ours: there is nothing to answer for
        keys = result_keys(source.key)
        record_key = keys.error if keys else long_key_error_key(source.key)
        try:
            published = self.results.publish(
                source,
                record_key,
                json_bytes(failure_record(source, reason, message, self._engine, details)),
                content_type=JSON_CONTENT_TYPE,
                metadata={
                    "failure-reason": reason,
                    # A failure the deployment caused is not the object's final result: once
                    # the cause is fixed, a redelivery or `make reprocess` recognizes it.
                    FINAL_METADATA: "false" if reason.heals else "true",
                    "ocr-engine": self._engine.name,
                    "engine-version": self._engine.version,
                },
                replaces=[keys.text, *(keys.output(o.suffix) for o in OPTIONAL_OUTPUTS)]
                if keys
                else [],
            )
        except STORAGE_ERRORS as error:
            return self.failed(source, OcrError(Reason.STORAGE_ERROR, str(error)))
        if published is not Published.WRITTEN:
            # The object changed meanwhile (its newer event answers for it), or the same
            # version's record was just written by a concurrent duplicate.
            return Skipped(source.bucket, source.key, source.version_id, Skip(published.value))
        return Failed(
            source.bucket, source.key, source.version_id, reason, message, False, record_key
        )
