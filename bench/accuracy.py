"""Accuracy on real inputs, per category and engine: CER, WER, an order-free word-bag F1, seconds
per image and the confidence the engine reported.

    python -m bench.accuracy [--samples DIR] [--engines aspose,tesseract] [--check] [--json PATH]

`--samples` is a folder of images (or PDFs), each with its ground truth beside it as
`<name>.gt.txt`; the first folder level is the category (files at the top count as "all"). A
`MANIFEST.tsv` there (category, file, language, ...) gives each file's language, else
`--language` does. Scoring follows ../shared/real-samples/README.md: Unicode NFC, quotes and
dashes folded, every run of whitespace one space, and case folded for the categories in
`--casefold` (SROIE receipts are transcribed in upper case). Aspose without a license returns at
most 300 characters a page: it is scored against the best-matching prefix of the truth, and
says so. `--check` fails (exit 1) when a category's mean CER for Tesseract passes its bound in
CER_BOUNDS: the accuracy regression check CI runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rapidfuzz.distance import Levenshtein

from tools import photo_samples

DEFAULT_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "real-samples"
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".pdf"}
)
TRIAL_PAGE_CHARS = 300
# Tesseract's mean CER per category on ../shared/real-samples, measured with the pipeline as it
# is (README, "Accuracy on real inputs"), plus a margin for noise: a change that passes one is
# a regression. Categories not named here are not checked.
CER_BOUNDS = {
    "receipts": 0.185,
    "scans": 0.025,
    "screenshots": 0.02,
    "cyrillic": 0.045,
    "photos-synthetic": 0.01,  # tools/photo_samples.py's; rendered, so scored with the real set
}
# Quote and dash styles differ between sources (the set's README): folded, by code point.
_FOLDS = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2013": "-",
        "\u2014": "-",
    }
)
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Sample:
    path: Path
    category: str
    language: str
    truth: str


@dataclass(frozen=True)
class Row:
    engine: str
    category: str
    file: str
    cer: float | None
    wer: float | None
    f1: float | None
    seconds: float
    confidence: float | None
    prefix_only: bool
    error: str = ""


def normalise(text: str, casefold: bool) -> str:
    text = _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text).translate(_FOLDS)).strip()
    return text.casefold() if casefold else text


def load_samples(root: Path, default_language: str) -> list[Sample]:
    """Every image or PDF under `root` that has a `.gt.txt` beside it."""
    languages: dict[str, str] = {}
    manifest = root / "MANIFEST.tsv"
    if manifest.is_file():
        with manifest.open(encoding="utf-8", newline="") as lines:
            for entry in csv.DictReader(lines, delimiter="\t"):
                languages[entry["file"]] = entry["language"]
    samples: list[Sample] = []
    for path in sorted(root.rglob("*")):
        truth = path.with_name(path.stem + ".gt.txt")
        if path.suffix.lower() not in IMAGE_SUFFIXES or not truth.is_file():
            continue
        relative = path.relative_to(root)
        category = relative.parts[0] if len(relative.parts) > 1 else "all"
        language = languages.get(relative.as_posix(), default_language)
        samples.append(Sample(path, category, language, truth.read_text(encoding="utf-8")))
    return samples


def score(recognized: str, truth: str, *, prefix_only: bool) -> tuple[float, float, float]:
    """CER, WER and word-bag F1 of normalised texts; with `prefix_only`, against the
    best-matching prefix of the truth (trial mode returns only the start of a page)."""
    if prefix_only:
        truth = truth[: _best_prefix(recognized, truth)]
    cer = Levenshtein.distance(recognized, truth) / max(1, len(truth))
    got, want = recognized.split(), truth.split()
    wer = Levenshtein.distance(got, want) / max(1, len(want))
    common = sum((Counter(got) & Counter(want)).values())
    precision, recall = common / max(1, len(got)), common / max(1, len(want))
    f1 = 2 * precision * recall / (precision + recall) if common else 0.0
    return round(cer, 4), round(wer, 4), round(f1, 4)


def _best_prefix(recognized: str, truth: str) -> int:
    lengths = range(0, min(len(truth), 2 * len(recognized) + 20) + 1)
    return min(lengths, key=lambda n: (Levenshtein.distance(recognized, truth[:n]), -n))


def run_engine(name: str, samples: Sequence[Sample], casefold: frozenset[str]) -> list[Row]:
    from ocr_service.core.config import load_settings  # noqa: PLC0415
    from ocr_service.core.failures import OcrError  # noqa: PLC0415
    from ocr_service.engines import start_engine  # noqa: PLC0415
    from ocr_service.recognition.recognizer import DocumentRecognizer  # noqa: PLC0415
    from tools.local_run import local_environment  # noqa: PLC0415

    settings = load_settings(local_environment("bench-accuracy", name))
    engine = start_engine(settings.engine)
    recognizer = DocumentRecognizer.configured(engine, settings)
    rows: list[Row] = []
    for sample in samples:
        started = time.perf_counter()
        relative = f"{sample.category}/{sample.path.name}"
        try:
            examined = recognizer.examine(sample.path.read_bytes())
            language = recognizer.language_for("", {"ocr-language": sample.language}).name
            document = recognizer.recognize(examined, language, recognizer.plan(examined))
        except OcrError as error:
            rows.append(Row(name, sample.category, relative, None, None, None, 0.0, None, False,
                            f"{error.reason}: {str(error)[:80]}"))  # fmt: skip
            continue
        seconds = time.perf_counter() - started
        fold = sample.category in casefold
        recognized = normalise(document.text, fold)
        if document.trial_limited and not recognized:
            # Trial mode often returns nothing for a line or two: nothing to compare, and an
            # empty prefix would score a perfect 0.
            rows.append(Row(name, sample.category, relative, None, None, None, round(seconds, 2),
                            None, True, "trial mode returned no text"))  # fmt: skip
            continue
        cer, wer, f1 = score(
            recognized, normalise(sample.truth, fold), prefix_only=document.trial_limited
        )
        confidences = [
            w.confidence for p in document.pages for w in p.words() if w.confidence is not None
        ]
        confidence = round(statistics.fmean(confidences), 3) if confidences else None
        rows.append(Row(name, sample.category, relative, cer, wer, f1, round(seconds, 2),
                        confidence, document.trial_limited))  # fmt: skip
        log(f"{name:9} {relative:40} CER {cer:.3f} WER {wer:.3f} F1 {f1:.3f} {seconds:5.1f} s")
    return rows


def summarise(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """One line per engine and category: means over the images that could be read."""
    summary: list[dict[str, Any]] = []
    for engine, category in sorted({(r.engine, r.category) for r in rows}):
        group = [r for r in rows if (r.engine, r.category) == (engine, category)]
        read = [r for r in group if r.cer is not None]
        confidences = [r.confidence for r in read if r.confidence is not None]
        summary.append(
            {
                "engine": engine,
                "category": category,
                "images": len(group),
                "failed": len(group) - len(read),
                "mean_cer": _mean([r.cer for r in read]),
                "median_cer": _median([r.cer for r in read]),
                "mean_wer": _mean([r.wer for r in read]),
                "mean_f1": _mean([r.f1 for r in read]),
                "seconds": _mean([r.seconds for r in read]),
                "confidence": _mean(confidences),
                "prefix_only": any(r.prefix_only for r in read),
            }
        )
    return summary


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.fmean(present), 3) if present else None


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def render(summary: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| engine | category | images (failed) | mean CER | median CER | mean WER | word-bag F1 "
        "| s per image | mean confidence |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for line in summary:
        note = " (trial prefix)" if line["prefix_only"] else ""
        lines.append(
            f"| {line['engine']}{note} | {line['category']} | {line['images']} ({line['failed']}) "
            f"| {_cell(line['mean_cer'])} | {_cell(line['median_cer'])} | "
            f"{_cell(line['mean_wer'])} | {_cell(line['mean_f1'])} | {_cell(line['seconds'])} | "
            f"{_cell(line['confidence'])} |"
        )
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def check(summary: Sequence[dict[str, Any]]) -> list[str]:
    """Categories whose Tesseract mean CER passes its bound."""
    return [
        f"{line['category']}: mean CER {line['mean_cer']} > {CER_BOUNDS[line['category']]}"
        for line in summary
        if line["engine"] == "tesseract"
        and line["category"] in CER_BOUNDS
        and (line["mean_cer"] is None or line["mean_cer"] > CER_BOUNDS[line["category"]])
    ]


def log(message: str) -> None:
    print(f"bench.accuracy: {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.accuracy", description=__doc__)
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--engines", default="aspose,tesseract")
    parser.add_argument("--language", default="eng", help="for files the manifest does not name")
    parser.add_argument("--casefold", default="receipts", help="categories scored case-folded")
    parser.add_argument("--check", action="store_true", help="fail when CER passes CER_BOUNDS")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--synthetic-photos",
        action=argparse.BooleanOptionalAction,
        help="also score tools/photo_samples.py's synthetic phone photos, as category "
        "photos-synthetic (default: with the development set, not with --samples of your own)",
    )
    parser.add_argument("--categories", help="only these categories (comma-separated)")
    args = parser.parse_args(argv)
    samples = load_samples(args.samples, args.language)
    if not samples:
        log(f"no image with a .gt.txt beside it under {args.samples}")
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-accuracy-") as scratch:
        with_photos = args.synthetic_photos
        if with_photos is None:
            with_photos = args.samples == DEFAULT_SAMPLES
        if with_photos:
            # Rendered for this run, never committed.
            samples += load_samples(photo_samples.write_samples(Path(scratch)).parent, "eng")
        if args.categories:
            samples = [s for s in samples if s.category in args.categories.split(",")]
        return _run(args, samples)


def _run(args: argparse.Namespace, samples: list[Sample]) -> int:
    casefold = frozenset(filter(None, args.casefold.split(",")))
    rows = [row for name in args.engines.split(",") for row in run_engine(name, samples, casefold)]
    summary = summarise(rows)
    print(render(summary))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = {"summary": summary, "rows": [asdict(row) for row in rows]}
        args.json.write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")
    if args.check and (failures := check(summary)):
        log("accuracy regression: " + "; ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
