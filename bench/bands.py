"""One page on several vCPUs: Tesseract reading a page whole on one thread against reading it in
bands on several (README, "One page on several vCPUs").

    python -m bench.bands [--repeat 5] [--workers 2,4] [--samples DIR] [--skip-a4]

For the bench's A4 page: wall and CPU seconds (the whole process's, every thread) whole and
banded, and whether the words are the same, in the same order. For the real samples'
screenshots and scans (some of them in several columns): the cuts made, and the character
error rate of the whole and the banded reading against the ground truth, so a cut that changed
the reading order shows. Load average is printed with each table: the numbers are only as quiet
as the machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image

from bench.accuracy import DEFAULT_SAMPLES, load_samples, normalise, score
from bench.images import a4_page
from ocr_service.core.config import load_settings
from ocr_service.document.model import Document
from ocr_service.engines import tesseract as adapter
from ocr_service.engines import tesseract_bands
from ocr_service.engines.tesseract import TesseractEngine
from ocr_service.recognition.recognizer import DocumentRecognizer
from tools.local_run import local_environment

CATEGORIES = ("screenshots", "scans")


def engine(workers: int, *, bands: bool = True) -> tuple[TesseractEngine, DocumentRecognizer]:
    import tesserocr  # noqa: PLC0415

    settings = load_settings(local_environment("bench-bands", "tesseract"))
    engine_settings = dataclasses.replace(settings.engine, page_bands=bands, warm_up=False)
    started = TesseractEngine(tesserocr, engine_settings, workers, 0.0)
    return started, DocumentRecognizer.configured(started, settings)


def read(
    recognizer: DocumentRecognizer, data: bytes, language: str
) -> tuple[Document, float, float]:
    """The document, wall seconds and CPU seconds (all threads) of one reading."""
    examined = recognizer.examine(data)
    resolved = recognizer.language_for("", {"ocr-language": language}).name
    wall, cpu = time.perf_counter(), time.process_time()
    document = recognizer.recognize(examined, resolved, recognizer.plan(examined))
    return document, time.perf_counter() - wall, time.process_time() - cpu


def recorded_cuts() -> list[list[int]]:
    """Every cut list the adapter chooses from now on (one per page read)."""
    seen: list[list[int]] = []
    original: Callable[[Image.Image, int], list[int]] = tesseract_bands.band_cuts

    def recording(page: Image.Image, parts: int) -> list[int]:
        cuts = original(page, parts)
        seen.append(cuts)
        return cuts

    setattr(adapter, "band_cuts", recording)  # noqa: B010 - the name the adapter calls
    return seen


def a4(repeat: int, workers: Sequence[int]) -> None:
    page = a4_page()
    readers = {"whole, 1 thread": engine(1)[1]} | {
        f"bands, {count} threads": engine(count)[1] for count in workers
    }
    for recognizer in readers.values():  # load the models on every thread first
        read(recognizer, page.data, "en")
    words = {name: "" for name in readers}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in readers}
    for _ in range(repeat):  # interleaved, so load changes touch every reader alike
        for name, recognizer in readers.items():
            document, wall, cpu = read(recognizer, page.data, "en")
            words[name] = document.text
            times[name].append((wall, cpu))
    print(f"A4 page, {repeat} runs each, load average {os.getloadavg()}")
    for name, runs in times.items():
        wall = statistics.median(run[0] for run in runs)
        cpu = statistics.median(run[1] for run in runs)
        same = words[name].split() == words["whole, 1 thread"].split()
        count = len(words[name].split())
        print(f"  {name:18} wall {wall:5.2f} s (min {min(r[0] for r in runs):5.2f}) "
              f"CPU {cpu:5.2f} s  {count} words, same words in order: {same}")  # fmt: skip


def samples(root: Path, workers: int) -> None:
    whole, banded = engine(1)[1], engine(workers)[1]
    cuts = recorded_cuts()
    print(f"real samples, bands on {workers} threads, load average {os.getloadavg()}")
    for sample in load_samples(root, "en"):
        if sample.category not in CATEGORIES:
            continue
        data = sample.path.read_bytes()
        truth = normalise(sample.truth, False)
        one, one_s, _ = read(whole, data, sample.language)
        cuts.clear()
        many, many_s, _ = read(banded, data, sample.language)
        one_cer = score(normalise(one.text, False), truth, prefix_only=False)[0]
        many_cer = score(normalise(many.text, False), truth, prefix_only=False)[0]
        same = one.text.split() == many.text.split()
        name = f"{sample.category}/{sample.path.name}"
        print(f"  {name:42} cuts {cuts!s:22} CER whole {one_cer:.4f} bands {many_cer:.4f}"
              f" same words {same!s:5} {one_s:5.2f} s -> {many_s:5.2f} s")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", default="2")
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--skip-a4", action="store_true")
    parser.add_argument("--skip-samples", action="store_true")
    arguments = parser.parse_args(argv)
    workers = [int(count) for count in arguments.workers.split(",")]
    if not arguments.skip_a4:
        a4(arguments.repeat, workers)
    if not arguments.skip_samples and arguments.samples.is_dir():
        for count in workers:
            samples(arguments.samples, count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
