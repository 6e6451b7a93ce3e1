"""`make load` (tools/load_test.py): the mechanics with the fake engine, and the verifier itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

from conftest import REPO
from tools.load_test import (
    BAD_KINDS,
    ERROR_SUFFIX,
    TEXT_SUFFIX,
    Expectation,
    Invocation,
    OutputObject,
    build_plan,
    redelivery_problems,
    verify,
)


def test_fake_engine_run_accounts_for_every_object_and_event(tmp_path: Path) -> None:
    report_path = tmp_path / "load.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OCR_"))}
    args = ["--objects", "40", "--fake-engine", "--json", str(report_path), "--timeout", "120"]
    done = subprocess.run(
        [sys.executable, "-m", "tools.load_test", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(report_path.read_text(encoding="utf-8"))
    counts = report["counts"]
    assert report["ok"] and report["mismatches"] == [] and counts["mismatches"] == 0
    # every object has exactly one result, of the kind its last upload deserves
    assert counts["input_objects"] == 40
    assert counts["txt_outputs"] == counts["expected_txt"] > 0
    assert counts["error_json_outputs"] == counts["expected_error_json"] > 0
    assert counts["txt_outputs"] + counts["error_json_outputs"] == 40
    assert counts["other_outputs"] == 0
    assert report["failure_reasons"] == report["expected_failure_reasons"]
    assert set(report["failure_reasons"]) == set(BAD_KINDS.values())
    # every upload was notified once and invoked; re-deliveries and retries came on top
    assert counts["uploads"] == 40 + counts["changed_objects"] == counts["notifications"]
    assert counts["invocations"] == (
        counts["notifications"] + counts["redeliveries"] + counts["retries"]
    )
    assert counts["redeliveries"] > 0 and counts["duplicates_skipped"] > 0
    assert counts["retries"] == counts["faults_injected"] > 0
    assert counts["failed_after_retries"] == 0
    assert report["notes"]["test_events"] == 0  # drained before the uploads
    once = {p.key for p in build_plan(40) if len(p.versions) == 1}
    for call in report["invocations"]:
        if call["delivery"] == "redelivery" and call["key"] in once:
            assert (call["outcome"], call["engine_calls"]) == ("skipped:duplicate", 0)
    assert (tmp_path / "load.log").stat().st_size > 0  # the handler's logs, not the console


def test_plan_covers_every_bad_input_change_and_key_style() -> None:
    plan = build_plan(40)

    assert len({p.key for p in plan}) == 40
    assert {v.kind for p in plan for v in p.versions} == {"good", "webp", *BAD_KINDS}
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


def test_a_redelivery_that_did_the_work_again_is_reported() -> None:
    plan = build_plan(40)
    once = next(p.key for p in plan if len(p.versions) == 1)
    changed = next(p.key for p in plan if p.change)

    def call(key: str, outcome: str, engine_calls: int) -> Invocation:
        return Invocation(key, "etag", "redelivery", 1, 0.1, engine_calls, outcome)

    assert redelivery_problems([call(once, "skipped:duplicate", 0)], plan) == []
    assert [m.problem for m in redelivery_problems([call(once, "succeeded", 1)], plan)] == [
        "redelivery-not-skipped"
    ]
    assert [m.problem for m in redelivery_problems([call(once, "skipped:duplicate", 1)], plan)] == [
        "redelivery-not-skipped"
    ]
    # a changed object's older event may legitimately be answered with the newer content
    assert redelivery_problems([call(changed, "succeeded", 1)], plan) == []
