"""`make load` (tools/load/) on the local topology: the mechanics with the fake engine,
and the verifier itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

from tests.support.deployment import REPO
from tools.load.plan import BAD_KINDS, PlannedObject, build_plan
from tools.load.verify import (
    ERROR_SUFFIX,
    TEXT_SUFFIX,
    Expectation,
    OutputObject,
    duplicate_problems,
    recognitions,
    verify,
)


def test_fake_engine_run_accounts_for_every_object_and_message(tmp_path: Path) -> None:
    report_path = tmp_path / "load.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OCR_"))}
    args = ["--objects", "40", "--fake-engine", "--json", str(report_path), "--timeout", "150"]
    done = subprocess.run(
        [sys.executable, "-m", "tools.load", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(report_path.read_text(encoding="utf-8"))
    counts = report["counts"]
    assert report["ok"] and report["mismatches"] == [] and counts["mismatches"] == 0
    # every object has exactly one result, of the kind its last upload deserves
    assert counts["input_objects"] == 42 and counts["long_documents"] == 2
    assert counts["txt_outputs"] == counts["expected_txt"] > 0
    assert counts["error_json_outputs"] == counts["expected_error_json"] > 0
    assert counts["txt_outputs"] + counts["error_json_outputs"] == 42
    assert counts["other_outputs"] == 0
    assert report["failure_reasons"] == report["expected_failure_reasons"]
    assert set(report["failure_reasons"]) == set(BAD_KINDS.values())
    # every upload was notified and delivered; duplicates, page tasks and retries came on top
    assert counts["test_events"] == 1
    assert counts["upload_deliveries"] == (
        counts["uploads"] + counts["duplicates_sent"] + counts["retries"]
    )
    tasks = sum(-(-pages // 10) for pages in _long_pages(build_plan(40)))
    assert counts["page_task_deliveries"] == tasks
    assert (
        counts["duplicates_sent"] > 0 and counts["duplicates_skipped"] >= counts["duplicates_sent"]
    )
    assert counts["retries"] == counts["faults_injected"] == counts["failed_deliveries"] > 0
    assert counts["dead_letters"] == 0 and counts["worker_restarts"] == 0
    assert report["notes"]["uploaded_once_but_written_more_than_once"] == []
    assert (tmp_path / "load" / "function.log").stat().st_size > 0  # the function's logs
    assert (tmp_path / "load" / "poller.log").stat().st_size > 0  # one JSON line per batch


def _long_pages(plan: list[PlannedObject]) -> list[int]:
    return [p.final.pages for p in plan if p.final.kind in ("long-tiff", "long-pdf")]


def test_plan_covers_every_bad_input_change_and_key_style() -> None:
    plan = build_plan(40)

    assert len({p.key for p in plan}) == 42
    assert {v.kind for p in plan for v in p.versions} == {
        "good",
        "webp",
        "long-tiff",
        "long-pdf",
        *BAD_KINDS,
    }
    assert all(25 <= pages <= 40 for pages in _long_pages(plan))
    assert any(p.duplicate and len(p.versions) == 1 for p in plan)
    assert all(p.key.endswith(".webp") for p in plan if p.versions[0].kind == "webp")
    changed = [p for p in plan if p.change]
    assert {
        (p.change, p.versions[0].kind == "good", p.versions[1].kind == "good") for p in changed
    } >= {
        (timing, first, second)
        for timing in ("early", "late")
        for first, second in ((True, True), (True, False), (False, True))
    }
    assert all(p.versions[0].body != p.versions[1].body for p in changed)
    assert any(p.fault for p in plan)
    assert any(" " in p.key for p in plan) and any(not p.key.isascii() for p in plan)
    assert any("+" in p.key for p in plan)
    assert build_plan(40) == plan  # deterministic for a seed


def _meta(key: str, etag: str, reason: str | None = None) -> dict[str, str]:
    metadata = {"source-key": quote(key, safe="/"), "source-etag": etag}
    if reason:
        metadata["failure-reason"] = reason
    return metadata


def _consistent() -> tuple[dict[str, Expectation], dict[str, str], dict[str, OutputObject]]:
    expected = {
        "a/scan 1.png": Expectation("text", None, "e1", "hello"),
        "a/счёт.png": Expectation("error", "empty-object", "e2"),
    }
    inputs = {"a/scan 1.png": "e1", "a/счёт.png": "e2"}
    outputs = {
        "a/scan 1.png" + TEXT_SUFFIX: OutputObject(_meta("a/scan 1.png", "e1"), b"hello"),
        "a/счёт.png" + ERROR_SUFFIX: OutputObject(_meta("a/счёт.png", "e2", "empty-object")),
    }
    return expected, inputs, outputs


def test_verifier_accepts_a_consistent_listing() -> None:
    assert verify(*_consistent()) == []


def test_verifier_reports_every_kind_of_doctored_listing() -> None:
    expected, inputs, outputs = _consistent()
    text_key, error_key = "a/scan 1.png" + TEXT_SUFFIX, "a/счёт.png" + ERROR_SUFFIX

    def problems(
        expected: dict[str, Expectation],
        inputs: dict[str, str],
        outputs: dict[str, OutputObject],
    ) -> set[tuple[str, str]]:
        return {(m.key, m.problem) for m in verify(expected, inputs, outputs)}

    missing = {k: v for k, v in outputs.items() if k != text_key}
    assert problems(expected, inputs, missing) == {("a/scan 1.png", "no-result")}

    both = {**outputs, "a/scan 1.png" + ERROR_SUFFIX: outputs[error_key]}
    assert problems(expected, inputs, both) == {("a/scan 1.png", "two-results")}

    stale = {**outputs, text_key: OutputObject(_meta("a/scan 1.png", "e0"), b"hello")}
    assert problems(expected, inputs, stale) == {("a/scan 1.png", "stale-result")}

    reason = {**outputs, error_key: OutputObject(_meta("a/счёт.png", "e2", "too-large"))}
    assert problems(expected, inputs, reason) == {("a/счёт.png", "wrong-reason")}

    kind = {**expected, "a/счёт.png": Expectation("text", None, "e2")}
    assert problems(kind, inputs, outputs) == {("a/счёт.png", "wrong-kind")}

    text = {**outputs, text_key: OutputObject(_meta("a/scan 1.png", "e1"), b"stale text")}
    assert problems(expected, inputs, text) == {("a/scan 1.png", "wrong-text")}

    encoded = {**outputs, text_key: OutputObject(_meta("a/scan+1.png", "e1"), b"hello")}
    assert problems(expected, inputs, encoded) == {("a/scan 1.png", "wrong-source-key")}

    stray = {**outputs, "b/other.png.txt": outputs[text_key]}
    assert problems(expected, inputs, stray) == {("b/other.png.txt", "unexpected-output")}

    gone = {k: v for k, v in inputs.items() if k != "a/счёт.png"}
    assert problems(expected, gone, outputs) == {
        ("a/счёт.png", "input-missing"),
        (error_key, "unexpected-output"),
    }

    extra = {**inputs, "c/never.png": "e9"}
    assert problems(expected, extra, outputs) == {("c/never.png", "unexpected-input")}

    moved = {**expected, "a/scan 1.png": replace(expected["a/scan 1.png"], etag="e7")}
    assert problems(moved, inputs, outputs) == {("a/scan 1.png", "input-etag")}


def test_a_duplicate_that_did_the_work_again_is_reported() -> None:
    plan = build_plan(40)
    once = next(p.key for p in plan if p.duplicate and len(p.versions) == 1)

    def written(*messages: str) -> dict[str, int]:
        return recognitions(
            [{"message": m, "key": once, "outcome": m.split()[-1]} for m in messages]
        )

    assert duplicate_problems(plan, written("object recognized", "object skipped"), {once}) == []
    twice = written("object recognized", "object recognized")
    assert [m.problem for m in duplicate_problems(plan, twice, {once})] == ["duplicate-not-skipped"]
    # a permanent failure written twice counts too; a transient one (retried) does not
    failed = recognitions(
        [
            {"message": "object failed", "key": once, "outcome": "failed"},
            {"message": "object failed", "key": once, "outcome": "failed"},
            {"message": "object failed transiently", "key": once, "outcome": "retry"},
        ]
    )
    assert failed[once] == 2
    assert duplicate_problems(plan, twice, set()) == []  # not sent twice: not checked here
