"""Failure reasons: each is transient, heals, final or logged only, and the README says which."""

from __future__ import annotations

import re

from ocr_service.core.failures import Reason
from tests.support.deployment import REPO


def test_the_readme_lists_every_failure_reason_with_its_kind() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## How one object is handled", 1)[1].split("\n## ", 1)[0]
    listed: dict[str, str] = {}
    for row in section.splitlines():
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            for reason in re.findall(r"`([a-z-]+)`", cells[0]):
                listed[reason] = cells[2]
    assert set(listed) == {reason.value for reason in Reason}
    for reason in Reason:
        kind = listed[reason.value]
        expected = (
            "transient"
            if reason.retryable
            else "heals"
            if reason.heals
            else "logged only"
            if not reason.writes_record
            else "final"
        )
        assert kind == expected, reason
