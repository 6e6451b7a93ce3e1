"""Measure one execution environment's life: Init split into steps, then requests.

Run in a fresh process (`make bench` does), because the engine's start-up is process-wide:
    python -m bench.cold_start [--a4] [--json PATH]
Prints a table and, with --json, writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

from tools.samples import render_lines

FUNCTION_DIR = Path(__file__).resolve().parents[1] / "functions" / "ocr"
A4_LINE = "The quick brown fox jumps over the lazy dog while 1234567890 invoices wait"


def render_small_label() -> bytes:
    """About 400x200: a shipping label's few lines."""
    return render_lines(
        ("Ship to: Acme Corp", "42 Harbour Road", "Order 4821"), width=400, font_size=22
    )


def render_a4_page() -> bytes:
    """2480x3508 (A4 at 300 dpi), 40 lines of dense 12 pt text."""
    lines = [f"{index:02d} {A4_LINE}" for index in range(40)]
    return render_lines(lines, width=2480, font_size=50)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="warm requests per image")
    parser.add_argument("--a4", action="store_true", help="also measure an A4 page")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    sys.path.insert(0, str(FUNCTION_DIR))
    started = time.perf_counter()
    from ocr_service.config import load_engine_settings  # noqa: PLC0415 - timed
    from ocr_service.engine import OcrEngine  # noqa: PLC0415
    from ocr_service.formats import identify  # noqa: PLC0415

    module_import_s = time.perf_counter() - started
    engine = OcrEngine.start(load_engine_settings())
    init_s = time.perf_counter() - started
    report: dict[str, object] = {
        "engine_version": engine.version,
        "licensed": engine.licensed,
        "init_s": init_s,
        "init_steps_s": {"function_modules_import": module_import_s, **asdict(engine.timings)},
        "rss_after_init_mb": peak_rss_mb(),
    }
    images = {"small_label": render_small_label()}
    if args.a4:
        images["a4_page"] = render_a4_page()
    for name, data in images.items():
        image_format = identify(data)
        times = []
        for _ in range(1 + args.repeat):
            begun = time.perf_counter()
            engine.recognize(data, image_format)
            times.append(time.perf_counter() - begun)
        report[name] = {
            "bytes": len(data),
            "first_request_s": times[0],
            "warm_median_s": statistics.median(times[1:]),
            "peak_rss_mb": peak_rss_mb(),
        }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
