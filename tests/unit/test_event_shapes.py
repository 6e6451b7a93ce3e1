"""Telling event shapes apart, on the repo's sample events (events/*.json) and on what no source
sends; the samples are what tools/events.py writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocr_service.aws.event_shapes import EventShape, UnsupportedEventError, shape_of
from tests.support.deployment import REPO
from tools.events import write_sample_events

EVENTS = REPO / "events"
SHAPE_BY_PREFIX = {
    "s3-": EventShape.S3,
    "sqs-": EventShape.SQS,
    "eventbridge-": EventShape.EVENTBRIDGE,
    "batch-operations": EventShape.BATCH_OPERATIONS,
}


@pytest.mark.parametrize("sample", sorted(p.name for p in EVENTS.glob("*.json")))
def test_every_sample_event_has_its_accepted_shape(sample: str) -> None:
    event = json.loads((EVENTS / sample).read_text(encoding="utf-8"))
    (expected,) = [shape for prefix, shape in SHAPE_BY_PREFIX.items() if sample.startswith(prefix)]
    assert shape_of(event) is expected


def test_the_committed_samples_are_what_tools_events_writes(tmp_path: Path) -> None:
    written = {
        path.name: path.read_text(encoding="utf-8") for path in write_sample_events(tmp_path)
    }
    committed = {path.name: path.read_text(encoding="utf-8") for path in EVENTS.glob("*.json")}
    assert written == committed, "stale: run python -m tools.events"


@pytest.mark.parametrize(
    "event",
    [{}, {"Records": []}, {"Records": [{"eventSource": "aws:sns"}]}, {"source": "aws.s3"}],
    ids=["empty", "no-records", "sns", "eventbridge-without-detail-type"],
)
def test_other_shapes_are_refused_naming_the_accepted_ones(event: dict[str, object]) -> None:
    with pytest.raises(UnsupportedEventError, match=r"accepted: .*SQS"):
        shape_of(event)
