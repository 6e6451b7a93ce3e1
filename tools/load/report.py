"""The run's report: counts, timings and notes as dataclasses, every mismatch, a table for the
terminal and a dict for the JSON file."""

from __future__ import annotations

import statistics
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TextIO

from tools.load.plan import LONG_FORMATS
from tools.load.trigger import Observed
from tools.load.verify import (
    ERROR_SUFFIX,
    TEXT_SUFFIX,
    Expectation,
    LabelCheck,
    Mismatch,
    duplicate_problems,
    expectations,
    label_check,
    recognitions,
    verify,
)
from tools.local_stack.poller import BatchRecord


@dataclass(frozen=True)
class Deliveries:
    """What the poller handed the workers."""

    batches: int
    deliveries: int
    upload_deliveries: int
    page_task_deliveries: int
    test_events: int
    retries: int
    failed_deliveries: int
    batches_with_errors: int


@dataclass(frozen=True)
class Counts:
    input_objects: int
    uploads: int
    changed_objects: int
    long_documents: int
    long_document_pages: int
    txt_outputs: int
    error_json_outputs: int
    other_outputs: int
    expected_txt: int
    expected_error_json: int
    deliveries: Deliveries
    duplicates_sent: int
    duplicates_skipped: int
    faults_injected: int
    dead_letters: int
    worker_restarts: int
    mismatches: int

    def as_dict(self) -> dict[str, int]:
        """Flat, the deliveries in their place."""
        fields = asdict(self)
        flat: dict[str, int] = {}
        for name, value in fields.items():
            flat.update(value if name == "deliveries" else {name: value})
        return flat


@dataclass(frozen=True)
class Timings:
    init_s: float
    elapsed_s: float
    objects_per_minute: float
    batch_p50_s: float
    batch_p95_s: float
    batch_max_s: float
    batch_mean_s: float
    upload_message_latency_p50_s: float
    upload_message_latency_p95_s: float


@dataclass(frozen=True)
class Notes:
    late_changes_uploaded_before_their_first_result: int
    uploaded_once_but_written_more_than_once: list[str]
    worker_events: list[str]
    labels: LabelCheck | None = None
    """Real engine only."""

    def as_dict(self) -> dict[str, object]:
        """Flat, the label check's fields (if any) last."""
        notes = {name: value for name, value in asdict(self).items() if name != "labels"}
        return notes | (asdict(self.labels) if self.labels else {})


@dataclass
class RunReport:
    counts: Counts
    timings: Timings
    failure_reasons: dict[str, int]
    expected_failure_reasons: dict[str, int]
    mismatches: list[Mismatch]
    notes: Notes

    def ok(self) -> bool:
        return not self.mismatches

    def as_dict(self, run: Mapping[str, object]) -> dict[str, object]:
        return {
            "run": dict(run),
            "ok": self.ok(),
            "counts": self.counts.as_dict(),
            "timings": asdict(self.timings),
            "failure_reasons": self.failure_reasons,
            "expected_failure_reasons": self.expected_failure_reasons,
            "mismatches": [asdict(m) for m in self.mismatches],
            "notes": self.notes.as_dict(),
        }


def percentile(values: Sequence[float], share: float) -> float:
    """The `share` quantile (0.5, 0.95), interpolated between the values; 0.0 for none."""
    if not values:
        return 0.0
    # statistics.quantiles wants two points (before Python 3.13); one value is every quantile.
    points = [*values, values[0]] if len(values) == 1 else values
    return statistics.quantiles(points, n=100, method="inclusive")[round(share * 100) - 1]


def delivery_counts(batches: Sequence[BatchRecord]) -> Deliveries:
    deliveries = [
        (kind, count, message_id in batch.failed)
        for batch in batches
        for kind, count, message_id in zip(
            batch.kinds, batch.receive_counts, batch.message_ids, strict=True
        )
    ]
    return Deliveries(
        batches=len(batches),
        deliveries=len(deliveries),
        upload_deliveries=sum(1 for kind, _, _ in deliveries if kind == "upload"),
        page_task_deliveries=sum(1 for kind, _, _ in deliveries if kind == "page-task"),
        test_events=sum(1 for kind, _, _ in deliveries if kind == "test-event"),
        retries=sum(1 for _, count, _ in deliveries if count > 1),
        failed_deliveries=sum(1 for _, _, failed in deliveries if failed),
        batches_with_errors=sum(1 for batch in batches if batch.error),
    )


def run_problems(seen: Observed, written: Mapping[str, int]) -> list[Mismatch]:
    """What is wrong beyond the buckets: duplicates recognized again, a timeout, messages left
    in the queue or the DLQ, faults that never fired."""
    mismatches = duplicate_problems(seen.plan, written, seen.duplicated)
    if seen.stopped_because:
        mismatches.append(Mismatch("*", "stopped", seen.stopped_because))
    if seen.leftover_messages:
        mismatches.append(Mismatch("*", "queue-not-empty", f"{seen.leftover_messages} left"))
    if seen.dead_letters:
        mismatches.append(Mismatch("*", "dead-letters", f"{seen.dead_letters} in the DLQ"))
    if seen.faults_left:
        mismatches.append(Mismatch("*", "faults-not-met", f"{seen.faults_left} never fired"))
    return mismatches


def count(seen: Observed, expected: Mapping[str, Expectation], mismatches: int) -> Counts:
    plan, outputs = seen.plan, seen.outputs
    txt = sum(1 for key in outputs if key.endswith(TEXT_SUFFIX))
    errors = sum(1 for key in outputs if key.endswith(ERROR_SUFFIX))
    long = [planned.final for planned in plan if planned.final.kind in LONG_FORMATS]
    return Counts(
        input_objects=len(seen.inputs),
        uploads=seen.uploads.count,
        changed_objects=sum(1 for planned in plan if planned.change),
        long_documents=len(long),
        long_document_pages=sum(version.pages for version in long),
        txt_outputs=txt,
        error_json_outputs=errors,
        other_outputs=len(outputs) - txt - errors,
        expected_txt=sum(1 for want in expected.values() if want.kind == "text"),
        expected_error_json=sum(1 for want in expected.values() if want.kind == "error"),
        deliveries=delivery_counts(seen.batches),
        duplicates_sent=len(seen.duplicated),
        duplicates_skipped=sum(
            1
            for record in seen.log_records
            if record.get("message") == "object skipped" and record.get("reason") == "duplicate"
        ),
        faults_injected=seen.faults_armed - seen.faults_left,
        dead_letters=seen.dead_letters,
        worker_restarts=sum(1 for event in seen.worker_events if "starting a new" in event),
        mismatches=mismatches,
    )


def time_it(seen: Observed) -> Timings:
    elapsed = seen.elapsed_s
    seconds = [batch.seconds for batch in seen.batches]
    latencies = [
        batch.started_at + batch.seconds - sent
        for batch in seen.batches
        for sent, kind, message_id in zip(
            batch.sent_at, batch.kinds, batch.message_ids, strict=True
        )
        if kind == "upload" and message_id not in batch.failed
    ]
    return Timings(
        init_s=round(seen.init_s, 2),
        elapsed_s=round(elapsed, 2),
        objects_per_minute=round(len(seen.inputs) / elapsed * 60, 1) if elapsed else 0.0,
        batch_p50_s=round(percentile(seconds, 0.5), 3),
        batch_p95_s=round(percentile(seconds, 0.95), 3),
        batch_max_s=round(max(seconds, default=0.0), 3),
        batch_mean_s=round(statistics.fmean(seconds), 3) if seconds else 0.0,
        upload_message_latency_p50_s=round(percentile(latencies, 0.5), 2),
        upload_message_latency_p95_s=round(percentile(latencies, 0.95), 2),
    )


def summarize(seen: Observed) -> RunReport:
    """Check the buckets and the deliveries, and count."""
    plan, outputs = seen.plan, seen.outputs
    expected = expectations(plan, seen.uploads.etags, seen.fake_engine)
    written = recognitions(seen.log_records)
    mismatches = verify(expected, seen.inputs, outputs) + run_problems(seen, written)
    once = {planned.key for planned in plan if len(planned.versions) == 1}
    notes = Notes(
        late_changes_uploaded_before_their_first_result=seen.late_changes_forced,
        uploaded_once_but_written_more_than_once=sorted(
            key for key in once if written.get(key, 0) > 1
        )[:10],
        worker_events=seen.worker_events[:10],
        labels=None if seen.fake_engine else label_check(plan, outputs),
    )
    errors = [key for key in outputs if key.endswith(ERROR_SUFFIX)]
    return RunReport(
        counts=count(seen, expected, len(mismatches)),
        timings=time_it(seen),
        failure_reasons=dict(
            Counter(outputs[key].metadata.get("failure-reason", "?") for key in errors)
        ),
        expected_failure_reasons=dict(
            Counter(want.reason for want in expected.values() if want.reason)
        ),
        mismatches=mismatches,
        notes=notes,
    )


def print_report(report: RunReport, out: TextIO = sys.stdout) -> None:
    rows: list[tuple[str, object]] = [
        *report.counts.as_dict().items(),
        *asdict(report.timings).items(),
        *((f"failure-reason {name}", n) for name, n in sorted(report.failure_reasons.items())),
        *report.notes.as_dict().items(),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}", file=out)
    for mismatch in report.mismatches[:50]:
        print(f"MISMATCH {mismatch.problem}: {mismatch.key} {mismatch.detail}", file=out)
    print("OK" if report.ok() else "NOT OK", file=out)
