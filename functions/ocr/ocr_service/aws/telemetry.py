"""Metrics (CloudWatch embedded metric format) and traces (X-Ray) for the pipeline, through
Powertools. The pipeline reports what happened; this module decides how it is published.

Metrics, in one namespace with a `service` dimension (README, "Observability"):
ObjectsSucceeded, ObjectsSkipped, ObjectsFailed (also per `reason`), ObjectsRetried,
RecognitionSeconds, CharactersRecognized, InputBytes, PagesRecognized, and TrialMode (1 while
unlicensed) on every invocation; Powertools adds ColdStart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from ocr_service.core.failures import Reason


@dataclass(frozen=True)
class WorkDone:
    """What recognizing one object took and gave."""

    input_bytes: int
    pages: int
    recognition_seconds: float
    characters: int
    text_layer_pages: int = 0
    """Of `pages`, those read from a PDF's own text layer (no engine)."""
    low_confidence: bool = False


Annotate = Callable[[str, str], None]


class PipelineTelemetry(Protocol):
    """What the pipeline reports; `Telemetry` publishes it, `NoTelemetry` drops it."""

    def span(self, name: str, **annotations: str) -> AbstractContextManager[Annotate]: ...

    def succeeded(self, work: WorkDone) -> None: ...

    def skipped(self) -> None: ...

    def failed(self, reason: Reason, retryable: bool) -> None: ...


class NoTelemetry:
    """Reports nowhere (tests, the local command line)."""

    @contextmanager
    def span(self, name: str, **annotations: str) -> Iterator[Annotate]:
        yield lambda key, value: None

    def succeeded(self, work: WorkDone) -> None:
        pass

    def skipped(self) -> None:
        pass

    def failed(self, reason: Reason, retryable: bool) -> None:
        pass


class Telemetry:
    """Publishes metrics and trace spans with Powertools. Outside Lambda the tracer switches
    itself off; metrics are flushed by the handler's `log_metrics`."""

    def __init__(self, metrics: Metrics, tracer: Tracer) -> None:
        self._metrics = metrics
        self._tracer = tracer

    @contextmanager
    def span(self, name: str, **annotations: str) -> Iterator[Annotate]:
        """A trace subsegment around one step; yields a function to annotate it further."""
        with self._tracer.provider.in_subsegment(f"## {name}") as subsegment:
            for key, value in annotations.items():
                subsegment.put_annotation(key, value)
            yield subsegment.put_annotation

    def succeeded(self, work: WorkDone) -> None:
        metrics = self._metrics
        metrics.add_metric("ObjectsSucceeded", MetricUnit.Count, 1)
        metrics.add_metric("RecognitionSeconds", MetricUnit.Seconds, work.recognition_seconds)
        metrics.add_metric("CharactersRecognized", MetricUnit.Count, work.characters)
        metrics.add_metric("InputBytes", MetricUnit.Bytes, work.input_bytes)
        metrics.add_metric("PagesRecognized", MetricUnit.Count, work.pages - work.text_layer_pages)
        metrics.add_metric("TextLayerPages", MetricUnit.Count, work.text_layer_pages)
        metrics.add_metric("LowConfidenceObjects", MetricUnit.Count, int(work.low_confidence))

    def skipped(self) -> None:
        self._metrics.add_metric("ObjectsSkipped", MetricUnit.Count, 1)

    def failed(self, reason: Reason, retryable: bool) -> None:
        if retryable:
            self._metrics.add_metric("ObjectsRetried", MetricUnit.Count, 1)
            return
        self._metrics.add_metric("ObjectsFailed", MetricUnit.Count, 1)
        # A per-reason count needs its own dimension set, so it is its own EMF document.
        with single_metric(
            name="FailuresByReason",
            unit=MetricUnit.Count,
            value=1,
            namespace=self._metrics.namespace,
            default_dimensions=self._metrics.default_dimensions,
        ) as metric:
            metric.add_dimension(name="reason", value=reason)

    def trial_mode(self, unlicensed: bool) -> None:
        """A gauge on every invocation, so a dashboard shows trial mode while it lasts."""
        self._metrics.add_metric("TrialMode", MetricUnit.Count, 1 if unlicensed else 0)
