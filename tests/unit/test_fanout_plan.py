"""Splitting a long document into page ranges, one task each."""

from __future__ import annotations

from ocr_service.aws.fanout import plan
from ocr_service.engines.port import PageRange


def test_plan_covers_every_page_once() -> None:
    assert plan(30, 10) == [PageRange(1, 10), PageRange(11, 20), PageRange(21, 30)]
    assert plan(21, 10)[-1] == PageRange(21, 21)
    assert sum(r.count for r in plan(2000, 7)) == 2000
