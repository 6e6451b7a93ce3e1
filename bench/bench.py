"""Benchmark both OCR engines side by side through the same pipeline, and size Tesseract.

    python -m bench.bench [--samples DIR] [--repeat N] [--quick] [--json PATH]

Everything is measured in one run on the same image bytes, each measurement in a fresh process
(`bench.worker`), one after another (nothing runs in parallel), with each engine given the cores
its Lambda memory size buys (template.yaml: Aspose 3538 MB = 2 vCPUs, Tesseract 1769 MB = 1
vCPU, the worker pinned to one core):
- cold start (Init) of each engine split into its steps, several fresh processes, median;
- per image class (label, A4 page, phone photo, 3-page PDF, 3-page TIFF) and, with --samples,
  per real scan: each engine's first request after Init, then warm requests alternating between
  the bare engine (`engine.recognize`) and the real handler against a local S3 (moto, in this
  process), with CPU seconds, peak RSS, a character error rate against the known text, the
  handler/bare ratio and the Lambda cost per 1,000 pages at the engine's memory size, beside
  Amazon Textract's list price;
- Tesseract's sizing: peak RSS through the handler on the largest image the limits admit (a
  40-megapixel photo), the A4 page and the 3-page PDF with 1 and 2 page threads, the A4 page on
  one core, and a 30-page TIFF with 1 and 2 threads.
Prints tables and writes everything to JSON (default bench/results/<UTC timestamp>.json).
`--quick` measures only the label (and --samples, if given), once per engine, without the
sizing runs: the smoke test's run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import analysis, images
from bench.experiments import SIZING_ENGINE, Experiments
from bench.inputs import Input, image_entry, scan_inputs, write_image
from bench.measuring import load_average, machine_info
from bench.report import default_json_path, render_report, write_json
from bench.results import Options, Report
from bench.running import (
    OUTPUT_BUCKET,
    Runner,
    child_environment,
    engine_setup,
    local_s3,
    log,
)

ENGINES = ("aspose", "tesseract")
CLASSES = ("label", "a4", "photo", "pdf", "tiff")
QUICK_CLASSES = ("label",)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--samples", type=Path, help="a directory of real scans with groundtruth.json"
    )
    parser.add_argument("--repeat", type=int, default=2, help="warm requests per measurement (2)")
    parser.add_argument("--quick", action="store_true", help="only the small label, once")
    parser.add_argument("--json", type=Path, help="where to write the results")
    parser.add_argument(
        "--cold-runs", type=int, default=3, help="fresh processes for each cold start (3)"
    )
    parser.add_argument(
        "--engine",
        dest="engines",
        action="append",
        choices=ENGINES,
        help="measure only this engine (development only; repeatable)",
    )
    parser.add_argument(
        "--class",
        dest="classes",
        action="append",
        choices=CLASSES,
        help="measure only this image class (development only; repeatable)",
    )
    parser.add_argument(
        "--no-sizing", action="store_true", help="leave out Tesseract's sizing runs"
    )
    parser.add_argument(
        "--tesseract-memory",
        type=int,
        metavar="MB",
        help="Tesseract at this TesseractMemorySize (1769-10240) instead of the template's "
        "default: the cores it buys, one page's bands on them (the memory for latency)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.samples is not None and not (args.samples / "groundtruth.json").is_file():
        parser.error(f"--samples {args.samples}: no groundtruth.json there")
    if args.samples is not None:
        args.samples = args.samples.resolve()  # the workers run in a scratch directory
    if args.tesseract_memory is not None and not 1769 <= args.tesseract_memory <= 10240:  # noqa: PLR2004
        parser.error("--tesseract-memory must be 1769 to 10240 (TesseractMemorySize)")
    if args.quick:
        args.repeat, args.cold_runs = 1, 1
    return args


def options(args: argparse.Namespace) -> Options:
    engines = [name for name in ENGINES if name in (args.engines or ENGINES)]
    return Options(
        repeat=args.repeat,
        quick=args.quick,
        cold_runs=args.cold_runs,
        samples=str(args.samples) if args.samples else None,
        engines=engines,
        classes=list(QUICK_CLASSES if args.quick else args.classes or CLASSES),
        sizing=not (args.quick or args.no_sizing) and SIZING_ENGINE in engines,
        tesseract_memory_mb=args.tesseract_memory,
    )


def _missing_setup(engines: Sequence[str]) -> str | None:
    from tools.local_run import local_environment  # noqa: PLC0415

    environment = local_environment(OUTPUT_BUCKET, engines[0])
    openssl = Path(environment["OCR_OPENSSL_LIB_DIR"])
    tessdata = Path(environment["OCR_TESSDATA_DIR"])
    if "aspose" in engines and not (openssl / "libssl.so.1.1").is_file():
        return f"OpenSSL 1.1 not found in {openssl}: run `make setup` or set OCR_OPENSSL_LIB_DIR"
    if "tesseract" in engines and not (tessdata / "osd.traineddata").is_file():
        return f"Tesseract data not found in {tessdata}: run `make setup` or set OCR_TESSDATA_DIR"
    return None


def measure(report: Report, samples: Path | None, run_id: str) -> list[float]:
    """Every experiment against a local S3, in a scratch directory; return the load average
    samples taken before each worker process."""
    chosen = report.options
    with local_s3() as endpoint, tempfile.TemporaryDirectory(prefix="ocr-bench-") as temporary:
        workdir = Path(temporary)
        runner = Runner(workdir, child_environment(endpoint), run_id)
        cores = os.cpu_count() or 1
        engines = {
            name: engine_setup(name, endpoint, cores, chosen.tesseract_memory_mb)
            for name in chosen.engines
        }
        inputs: list[Input] = []
        for name in chosen.classes:
            image = images.render(name)
            inputs.append(write_image(workdir, image))
            report.images[name] = image_entry(image)
        if samples is not None:
            inputs += scan_inputs(samples)
        experiments = Experiments(runner, engines, chosen.repeat, report)
        experiments.run(chosen.cold_runs, inputs, workdir, sizing=chosen.sizing)
    return runner.load_samples


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = options(args)
    if problem := _missing_setup(chosen.engines):
        print(problem, file=sys.stderr)
        return 2
    started = datetime.now(UTC)
    json_path: Path = args.json or default_json_path(started)
    report = Report(
        started_utc=started.isoformat(timespec="seconds"),
        options=chosen,
        machine=machine_info(),
        json_path=str(json_path),
    )
    before = load_average()
    log(f"load average {before}; rendering {', '.join(chosen.classes)}")
    samples = measure(report, args.samples, f"{started:%Y%m%dT%H%M%SZ}")
    if not chosen.sizing:
        report.sizing_skipped = "--quick" if args.quick else "--no-sizing or no tesseract"
    report.overhead = analysis.overhead(list(report.engines), report.rows)
    report.load = analysis.load(before, load_average(), samples)
    report.finished_utc = datetime.now(UTC).isoformat(timespec="seconds")
    report.duration_s = round((datetime.now(UTC) - started).total_seconds(), 1)
    write_json(report, json_path)
    print(render_report(report))
    return 1 if report.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
