"""What became of each record: the outcomes, the event's report, and the one log line that
ends each object's work. The pipeline decides outcomes; this module only describes them."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field

from aws_lambda_powertools import Logger

from ocr_service.aws.telemetry import PipelineTelemetry, WorkDone
from ocr_service.core.failures import Reason

logger = Logger(child=True)


@dataclass(frozen=True)
class Succeeded:
    bucket: str
    key: str
    version_id: str | None
    output_key: str
    pages: int
    characters: int
    input_bytes: int
    recognition_seconds: float
    text_layer_pages: int = 0
    """Of `pages`, those read from a PDF's own text layer; the others were recognized."""
    low_confidence: bool = False
    """Its mean word confidence is below OCR_MIN_CONFIDENCE (marked for review)."""


class Skip(enum.StrEnum):
    """Why an object needed no work of its own."""

    DUPLICATE = "duplicate"  # a result already records this version
    SUPERSEDED = "superseded"  # a newer upload owns the key
    NOT_AN_UPLOAD = "not-an-upload"  # a deletion, restore or expiry
    SPLIT = "split-into-page-tasks"  # a long document: its page tasks do the work
    PART_WRITTEN = "part-written"  # a page task whose document is not complete yet


@dataclass(frozen=True)
class Skipped:
    bucket: str
    key: str
    version_id: str | None
    reason: Skip


@dataclass(frozen=True)
class Failed:
    bucket: str
    key: str
    version_id: str | None
    reason: Reason
    message: str
    retryable: bool
    record_key: str | None = None
    """Where the failure record was written (permanent failures)."""


Outcome = Succeeded | Skipped | Failed


@dataclass
class InvocationResult:
    """What became of each record, in event order."""

    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def succeeded(self) -> list[Succeeded]:
        return [outcome for outcome in self.outcomes if isinstance(outcome, Succeeded)]

    @property
    def skipped(self) -> list[Skipped]:
        return [outcome for outcome in self.outcomes if isinstance(outcome, Skipped)]

    @property
    def failed(self) -> list[Failed]:
        return [outcome for outcome in self.outcomes if isinstance(outcome, Failed)]

    @property
    def retryable(self) -> list[Failed]:
        return [failure for failure in self.failed if failure.retryable]

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def as_dict(self) -> dict[str, object]:
        return {
            "records": len(self.outcomes),
            "succeeded": [asdict(s) for s in self.succeeded],
            "skipped": [asdict(s) for s in self.skipped],
            "failed": [asdict(f) for f in self.failed],
        }


class RetryableRecordsError(RuntimeError):
    """Some records hit transient errors; raising lets Lambda retry the event."""

    def __init__(self, result: InvocationResult) -> None:
        keys = ", ".join(f"s3://{f.bucket}/{f.key} ({f.reason})" for f in result.retryable)
        super().__init__(f"{len(result.retryable)} record(s) failed transiently: {keys}")
        self.result = result


def report(outcome: Outcome, telemetry: PipelineTelemetry) -> None:
    """The one line that ends an object's work, and its metrics: the one place that tells
    the kinds of outcome apart."""
    match outcome:
        case Succeeded():
            logger.info(
                "object recognized",
                extra={
                    "outcome": "succeeded",
                    "output_key": outcome.output_key,
                    "pages": outcome.pages,
                    "text_layer_pages": outcome.text_layer_pages,
                    "ocr_pages": outcome.pages - outcome.text_layer_pages,
                    "low_confidence": outcome.low_confidence,
                    "characters": outcome.characters,
                },
            )
            telemetry.succeeded(
                WorkDone(
                    outcome.input_bytes,
                    outcome.pages,
                    outcome.recognition_seconds,
                    outcome.characters,
                    outcome.text_layer_pages,
                    outcome.low_confidence,
                )
            )
        case Skipped():
            logger.info("object skipped", extra={"outcome": "skipped", "reason": outcome.reason})
            telemetry.skipped()
        case Failed(retryable=True):
            logger.warning(
                "object failed transiently; it will be retried",
                extra={"outcome": "retry", "reason": outcome.reason, "error": outcome.message},
            )
            telemetry.failed(outcome.reason, retryable=True)
        case Failed():
            logger.error(
                "object failed",
                extra={"outcome": "failed", "reason": outcome.reason, "error": outcome.message},
            )
            telemetry.failed(outcome.reason, retryable=False)
