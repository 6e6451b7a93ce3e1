"""`make load`: many uploads through the local topology (`make up`), the real handler in worker
processes, at-least-once delivery, and a check of every result.

Starts the topology of tools/local_stack in this process (moto's S3 and SQS in their own
process, the buckets, the ingest queue with its redrive policy to the dead-letter queue, the
input bucket notifying the queue, an SQS event source mapping stand-in and `--workers` worker
processes, each its own Init of app.py). Then, at the same time:
- a few threads upload `--objects` objects: small rendered text labels (about 400x200, PNG, one
  in 20 as WEBP, which the function converts), a fixed share of bad inputs (empty, text named
  .png, truncated PNG, 1x1 PNG), keys with spaces, `+` and non-ASCII characters, a share
  uploaded twice with changed content (half at once, half only after the first version's result
  exists: the result must then be replaced), and `--long-documents` multi-page TIFFs and PDFs of
  25-40 pages, which the function fans out as page tasks through the same queue;
- about 10% of the uploads get their notification sent a second time once their result exists
  (S3 delivers at least once): the function must skip them as duplicates;
- the first GetObject of a few objects fails (a fault armed for the workers): their message is
  reported in batchItemFailures and delivered again after the visibility timeout.
When everything is uploaded and the queue is empty, both buckets are listed: every input object
must have exactly one result (`.txt` xor `.error.json`) recording its current ETag, with the
failure reason its content deserves (the fake engine's exact text, and every page of a long
document in order), nothing else may be in the output bucket, nothing may be left in the
dead-letter queue, and no object uploaded once may have been recognized twice. Prints a table,
writes JSON (the per-batch records are in the stack's poller.log beside it), exits 1 on any
mismatch.

    python -m tools.load [--objects 300] [--engine aspose|tesseract] [--workers 2]
        [--batch-size N] [--visibility-timeout S] [--long-documents 2] [--fake-engine]
        [--json PATH] [--timeout 1800]

Nothing leaves 127.0.0.1: the endpoint is a local server on a free port, the credentials fake.
`--fake-engine` replaces the OCR engine with a fast fake, so the mechanics run in seconds. The
function's logs, the poller's JSON lines and moto's log go to a directory next to the JSON.
Mind what this does not model: moto's events carry no versionId or sequencer (the input bucket
is unversioned, as by default), and moto sends the notification synchronously inside PutObject.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from tools.load.plan import MIN_OBJECTS
from tools.load.report import print_report, summarize
from tools.load.trigger import VISIBILITY_TIMEOUT_S, RunOptions, run
from tools.local_stack import settings

REPO = Path(__file__).resolve().parents[2]
RESULTS_DIR = REPO / "bench" / "results"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--objects", type=int, default=300, help="distinct small objects")
    parser.add_argument(
        "--long-documents", type=int, default=2, help="25-40 page TIFFs and PDFs on top"
    )
    parser.add_argument("--engine", choices=settings.ENGINES, default="aspose")
    parser.add_argument("--fake-engine", action="store_true", help="a fast fake OCR engine")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--batch-size", type=int, help="default: the template's BatchSize")
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        help=f"the ingest queue's, seconds (default {VISIBILITY_TIMEOUT_S}); the template's "
        "would hold a retried message 30-90 minutes",
    )
    parser.add_argument("--json", type=Path, help="default: bench/results/load-<timestamp>.json")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds for the whole run")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.objects < MIN_OBJECTS:
        parser.error(f"--objects must be at least {MIN_OBJECTS}")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.long_documents < 0:
        parser.error("--long-documents must be 0 or more")
    return args


def run_options(args: argparse.Namespace) -> RunOptions:
    return RunOptions(
        objects=args.objects,
        long_documents=args.long_documents,
        engine=args.engine,
        fake_engine=args.fake_engine,
        workers=args.workers,
        batch_size=args.batch_size,
        visibility_timeout=args.visibility_timeout,
        timeout=args.timeout,
        seed=args.seed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path: Path = args.json or RESULTS_DIR / f"load-{stamp}.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    state_dir = json_path.with_suffix("")
    options = run_options(args)
    engine = options.engine_name
    print(
        f"load test: {args.objects} objects + {args.long_documents} long documents, {engine} "
        f"engine, {args.workers} worker(s); logs: {state_dir}/",
        flush=True,
    )
    load_before = os.getloadavg()
    seen = run(options, state_dir)
    report = summarize(seen)
    print_report(report)
    run_info = {
        "started": stamp,
        "objects": args.objects,
        "long_documents": args.long_documents,
        "engine": engine,
        "workers": args.workers,
        "batch_size": args.batch_size,
        "visibility_timeout": options.stack_options(state_dir).visibility_timeout,
        "seed": args.seed,
        "timeout_s": args.timeout,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "logs": str(state_dir),
    }
    json_path.write_text(
        json.dumps(report.as_dict(run_info), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"wrote {json_path}")
    return 0 if report.ok() else 1
