"""PDF documents through the real handler, both engines side by side: born-digital PDFs read
from their text layer (`OCR_PDF_TEXT=auto`) against every page recognized (`ocr`), a mixed
PDF, a scanned one, and the searchable PDF's size against the input.

    python -m bench.documents [--engines aspose,tesseract] [--quick] [--json PATH]

Each engine is started once (its Init is not measured here: bench.bench does that); every
case is one upload through the handler's whole path (S3 event, download, planning, text layer
or engine, every output rendered from the model, uploads) against an in-process S3 (moto), with
OCR_OUTPUTS=txt,pdf. `--quick`: the 10-page born-digital PDF only, `auto` only (the smoke
test's run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tools.pdf_samples import born_digital_pdf, mixed_pdf, report_pages, scanned_pdf

INPUT, OUTPUT = "bench-documents-input", "bench-documents-output"
TARGET_PAGE_MS = 20.0  # the targets: a born-digital page through the handler
TARGET_100_PAGES_S = 2.0  # and 100 born-digital pages end to end, one invocation
LONG_PAGES = 100


@dataclass(frozen=True)
class Case:
    name: str
    pages: int
    mode: str
    make: Callable[[], bytes]


@dataclass(frozen=True)
class Row:
    engine: str
    case: str
    mode: str
    pages: int
    text_layer_pages: int
    ocr_pages: int
    seconds: float
    ms_per_page: float
    input_bytes: int
    pdf_bytes: int

    @property
    def pdf_over_input(self) -> float:
        return self.pdf_bytes / self.input_bytes


def cases(quick: bool) -> list[Case]:
    ten = lambda: born_digital_pdf(report_pages(10))  # noqa: E731
    if quick:
        return [Case("born-digital", 10, "auto", ten)]
    hundred = lambda: born_digital_pdf(report_pages(LONG_PAGES))  # noqa: E731
    mixed = lambda: mixed_pdf(report_pages(10, lines_per_page=20))  # noqa: E731
    scanned = lambda: scanned_pdf(report_pages(3, lines_per_page=20))  # noqa: E731
    return [
        Case("born-digital", 10, "auto", ten),
        Case("born-digital", 10, "ocr", ten),
        Case("born-digital", LONG_PAGES, "auto", hundred),
        Case("mixed (5 of 10 scanned)", 10, "auto", mixed),
        Case("scanned", 3, "auto", scanned),
    ]


def run_engine(name: str, selected: Sequence[Case]) -> list[Row]:
    import boto3  # noqa: PLC0415
    from aws_lambda_powertools import Logger, Metrics, Tracer  # noqa: PLC0415
    from moto import mock_aws  # noqa: PLC0415

    from ocr_service.bootstrap import build_service  # noqa: PLC0415
    from ocr_service.core.config import load_engine_settings  # noqa: PLC0415
    from ocr_service.engines import start_engine  # noqa: PLC0415
    from tools.local_run import local_environment  # noqa: PLC0415

    environment = local_environment(OUTPUT, name)
    engine = start_engine(load_engine_settings(environment))
    rows: list[Row] = []
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in (INPUT, OUTPUT):
            s3.create_bucket(Bucket=bucket)
        for number, case in enumerate(selected):
            data = case.make()
            env = {**environment, "OCR_OUTPUTS": "txt,pdf", "OCR_PDF_TEXT": case.mode}
            env.pop("OCR_TASK_QUEUE_URL", None)  # one invocation: what the target is about
            service = build_service(Logger(), Metrics(), Tracer(), env, engine=engine, s3_client=s3)
            rows.append(_one(service, s3, name, case, data, key=f"{number}-{case.pages}.pdf"))
            log(_line(rows[-1]))
    return rows


def _one(service: Any, s3: Any, engine: str, case: Case, data: bytes, *, key: str) -> Row:
    from tools.events import Upload, s3_put_event  # noqa: PLC0415
    from tools.lambda_context import LocalLambdaContext  # noqa: PLC0415

    put = s3.put_object(Bucket=INPUT, Key=key, Body=data)
    event = s3_put_event([Upload(INPUT, key, len(data), put["ETag"].strip('"'))])
    started = time.perf_counter()
    result = service.router.handle(event, LocalLambdaContext())
    seconds = time.perf_counter() - started
    if len(result.get("succeeded", [])) != 1:
        raise RuntimeError(f"{case.name} ({engine}, {case.mode}) failed: {result}")
    head = s3.head_object(Bucket=OUTPUT, Key=key + ".txt")["Metadata"]
    pdf = s3.head_object(Bucket=OUTPUT, Key=key + ".pdf")["ContentLength"]
    return Row(
        engine,
        case.name,
        case.mode,
        case.pages,
        int(head["text-layer-pages"]),
        int(head["ocr-pages"]),
        round(seconds, 3),
        round(seconds * 1000 / case.pages, 1),
        len(data),
        int(pdf),
    )


def _line(row: Row) -> str:
    return (
        f"{row.engine:9} {row.case:24} {row.mode:4} {row.pages:3} pages "
        f"({row.text_layer_pages} text layer, {row.ocr_pages} ocr): {row.seconds:8.2f} s, "
        f"{row.ms_per_page:8.1f} ms/page, PDF {row.pdf_bytes:,} B = "
        f"{row.pdf_over_input:.2f}x the input ({row.input_bytes:,} B)"
    )


def render(rows: Sequence[Row]) -> str:
    lines = [
        "| engine | PDF | OCR_PDF_TEXT | pages (text layer / ocr) | seconds | ms per page "
        "| searchable PDF / input |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.engine} | {row.case}, {row.pages} pages | {row.mode} | "
            f"{row.text_layer_pages} / {row.ocr_pages} | {row.seconds:.2f} | "
            f"{row.ms_per_page:.1f} | {row.pdf_bytes:,} / {row.input_bytes:,} B "
            f"({row.pdf_over_input:.2f}x) |"
        )
    born = [r for r in rows if r.case == "born-digital" and r.mode == "auto"]
    if born:
        page_ms = max(r.ms_per_page for r in born)
        lines.append(
            f"\nborn-digital page through the handler: at most {page_ms:.1f} ms "
            f"(target {TARGET_PAGE_MS:.0f} ms)"
        )
    hundred = [r for r in born if r.pages == LONG_PAGES]
    if hundred:
        worst = max(r.seconds for r in hundred)
        lines.append(
            f"100-page born-digital PDF, one invocation: at most {worst:.2f} s "
            f"(target {TARGET_100_PAGES_S:.0f} s)"
        )
    return "\n".join(lines)


def log(message: str) -> None:
    print(f"bench.documents: {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.documents", description=__doc__)
    parser.add_argument("--engines", default="aspose,tesseract")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")  # the table, not the trial warnings
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    selected = cases(args.quick)
    rows = [row for name in args.engines.split(",") for row in run_engine(name, selected)]
    print(render(rows))
    target = args.json or Path("bench/results") / (
        "documents-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + ".json"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps([asdict(row) for row in rows], indent=2), encoding="utf-8")
    log(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
