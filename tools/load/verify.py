"""What each result must be, and every way the buckets and the function's log differ from it:
every input has exactly one result (`.txt` xor `.error.json`) recording its current ETag, with
the failure reason, text and page count it deserves; nothing else is in the output bucket; an
object whose notification came twice was recognized once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from ocr_service.core.formats import ImageFormat
from tools.fake_engine import fake_document_text, fake_text
from tools.load.plan import BAD_KINDS, GOOD, LONG_FORMATS, WEBP, PlannedObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TEXT_SUFFIX = ".txt"
ERROR_SUFFIX = ".error.json"


@dataclass(frozen=True)
class Expectation:
    kind: str
    """text or error."""
    reason: str | None
    etag: str
    """The ETag of the last upload."""
    text: str | None = None
    """The exact text (fake engine only)."""
    pages: int = 1


@dataclass(frozen=True)
class OutputObject:
    metadata: Mapping[str, str]
    body: bytes | None = None


@dataclass(frozen=True)
class Mismatch:
    key: str
    problem: str
    detail: str = ""


def verify(
    expected: Mapping[str, Expectation],
    inputs: Mapping[str, str],
    outputs: Mapping[str, OutputObject],
) -> list[Mismatch]:
    """Every input has exactly one result recording its current ETag, of the expected kind and
    reason; nothing is missing and nothing else is in the output bucket."""
    mismatches: list[Mismatch] = []
    claimed: set[str] = set()
    for key in sorted(expected.keys() | inputs.keys()):
        if key not in inputs:
            mismatches.append(Mismatch(key, "input-missing", "uploaded but not in the bucket"))
            continue
        if key not in expected:
            mismatches.append(Mismatch(key, "unexpected-input", "in the bucket, never uploaded"))
            continue
        want = expected[key]
        if inputs[key] != want.etag:
            mismatches.append(
                Mismatch(key, "input-etag", f"bucket has {inputs[key]}, last upload {want.etag}")
            )
        candidates = {"text": key + TEXT_SUFFIX, "error": key + ERROR_SUFFIX}
        claimed.update(candidates.values())
        present = {kind: outputs[name] for kind, name in candidates.items() if name in outputs}
        if not present:
            mismatches.append(Mismatch(key, "no-result"))
        elif len(present) > 1:
            mismatches.append(Mismatch(key, "two-results", "both .txt and .error.json"))
        else:
            ((kind, output),) = present.items()
            mismatches.extend(_check_result(key, want, inputs[key], kind, output))
    for name in sorted(outputs.keys() - claimed):
        mismatches.append(Mismatch(name, "unexpected-output", "no input object owns it"))
    return mismatches


def _check_result(
    key: str, want: Expectation, current_etag: str, kind: str, output: OutputObject
) -> list[Mismatch]:
    found: list[Mismatch] = []
    metadata = output.metadata
    if kind != want.kind:
        detail = f"expected {want.kind} ({want.reason}), found {kind}"
        found.append(Mismatch(key, "wrong-kind", f"{detail} ({metadata.get('failure-reason')})"))
    if metadata.get("source-etag") != current_etag:
        found.append(
            Mismatch(
                key,
                "stale-result",
                f"records {metadata.get('source-etag')}, input has {current_etag}",
            )
        )
    if metadata.get("source-key") != quote(key, safe="/"):
        found.append(Mismatch(key, "wrong-source-key", str(metadata.get("source-key"))))
    if kind == want.kind == "error" and metadata.get("failure-reason") != want.reason:
        found.append(
            Mismatch(
                key,
                "wrong-reason",
                f"expected {want.reason}, found {metadata.get('failure-reason')}",
            )
        )
    if kind == want.kind == "text" and want.pages > 1:
        pages = (output.body or b"").decode("utf-8", "replace").split("\f")
        if metadata.get("page-count") != str(want.pages) or len(pages) != want.pages:
            detail = f"{len(pages)} pages ({metadata.get('page-count')}), expected {want.pages}"
            found.append(Mismatch(key, "wrong-page-count", detail))
    if kind == want.kind == "text" and want.text is not None:
        text = (output.body or b"").decode("utf-8", "replace")
        if text != want.text:
            found.append(Mismatch(key, "wrong-text", f"{text[:80]!r} != {want.text[:80]!r}"))
    return found


def list_bucket(s3: S3Client, bucket: str) -> dict[str, str]:
    """Key -> ETag of every object."""
    objects: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            objects[item["Key"]] = item["ETag"].strip('"')
    return objects


def read_outputs(s3: S3Client, bucket: str) -> dict[str, OutputObject]:
    """Each result's metadata, and the text of each .txt."""
    outputs = {}
    for key in list_bucket(s3, bucket):
        if key.endswith(TEXT_SUFFIX):
            response = s3.get_object(Bucket=bucket, Key=key)
            outputs[key] = OutputObject(response["Metadata"], response["Body"].read())
        else:
            outputs[key] = OutputObject(s3.head_object(Bucket=bucket, Key=key)["Metadata"])
    return outputs


def expectations(
    plan: Sequence[PlannedObject], etags_by_key: Mapping[str, Sequence[str]], fake_engine: bool
) -> dict[str, Expectation]:
    """What each object's result must be, given the ETags its uploads got, in order."""
    expected = {}
    for planned in plan:
        final = planned.final
        etags = etags_by_key.get(planned.key, [""])
        if final.kind in LONG_FORMATS:
            image_format = LONG_FORMATS[final.kind]
            document = fake_document_text(final.body, image_format, final.pages)
            expected[planned.key] = Expectation(
                "text", None, etags[-1], document if fake_engine else None, final.pages
            )
        elif final.kind in (GOOD, WEBP):
            # The fake's text of a WEBP depends on the function's conversion: not predicted.
            exact = fake_engine and final.kind == GOOD
            text = fake_text(final.body, ImageFormat.PNG) if exact else None
            expected[planned.key] = Expectation("text", None, etags[-1], text)
        else:
            expected[planned.key] = Expectation("error", BAD_KINDS[final.kind], etags[-1])
    return expected


@dataclass(frozen=True)
class LabelCheck:
    """Real engine only: how far the texts show what was rendered."""

    texts_showing_their_label: int
    texts_showing_a_stale_label: int
    texts_missing_their_label: list[str]
    long_document_pages_showing_their_number: str


def label_check(plan: Sequence[PlannedObject], outputs: Mapping[str, OutputObject]) -> LabelCheck:
    """Real engine: how many texts show their label's first line (trial mode cuts texts, OCR
    misreads), which do not, how many show another revision's label (a stale result), and how
    many pages of the long documents say their own number, in order."""
    shown, stale, missing = 0, 0, []
    pages_shown, pages_total = 0, 0
    for planned in plan:
        output = outputs.get(planned.key + TEXT_SUFFIX)
        if output is None or output.body is None:
            continue
        if planned.final.kind in LONG_FORMATS:
            pages = output.body.decode("utf-8", "replace").split("\f")
            pages_total += planned.final.pages
            pages_shown += sum(
                # Trial mode cuts the rest; Aspose reads these PDF pages without spaces.
                f"Page{number}of" in "".join(page.split())
                for number, page in enumerate(pages, 1)
            )
            continue
        label = planned.final.label
        if label is None:
            continue
        text = " ".join(output.body.decode("utf-8", "replace").split())
        if label in text:
            shown += 1
        else:
            missing.append(f"{planned.key}: {text[:60]!r}")
        stale += any(v.label and v.label in text for v in planned.versions[:-1])
    return LabelCheck(
        texts_showing_their_label=shown,
        texts_showing_a_stale_label=stale,
        texts_missing_their_label=missing[:10],
        long_document_pages_showing_their_number=f"{pages_shown}/{pages_total}",
    )


def recognitions(log_records: Sequence[Mapping[str, object]]) -> Counter[str]:
    """Per key, how many results the function wrote ("object recognized", or "object failed"
    with a failure record): at most one per uploaded version when duplicates are skipped."""
    counts: Counter[str] = Counter()
    for record in log_records:
        message = record.get("message")
        if message == "object recognized" or (
            message == "object failed" and record.get("outcome") == "failed"
        ):
            counts[str(record.get("key"))] += 1
    return counts


def duplicate_problems(
    plan: Sequence[PlannedObject], written: Mapping[str, int], duplicated: set[str]
) -> list[Mismatch]:
    """An object uploaded once whose notification came twice must have one result written."""
    problems = []
    for planned in plan:
        if planned.key in duplicated and len(planned.versions) == 1:
            count = written.get(planned.key, 0)
            if count != 1:
                detail = f"{count} results written for one upload delivered twice"
                problems.append(Mismatch(planned.key, "duplicate-not-skipped", detail))
    return problems
