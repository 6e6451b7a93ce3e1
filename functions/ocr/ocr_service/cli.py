"""`ocr`: recognize local files with the same engine, settings and errors as the function.

    ocr scan.png                         # text to standard output
    ocr scan.png --lang ru --out result.txt
    ocr --engine tesseract scan.png --lang ru+en
    ocr pages/*.tif --out texts/         # one <name>.txt per file, with progress

Settings come from the same environment variables as the function (README, "Configuration");
`--engine` overrides OCR_ENGINE. For Aspose, OCR_OPENSSL_LIB_DIR must name OpenSSL 1.1 unless
the system has it; for Tesseract, OCR_TESSDATA_DIR names the language data (`make setup`
provides both under .cache/).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ocr_service import engines
from ocr_service.core.config import ConfigError, EngineKind, load_settings
from ocr_service.core.failures import OcrError
from ocr_service.core.languages import METADATA_KEY, UnknownLanguageError
from ocr_service.document.model import Document, PageSource
from ocr_service.engines.port import EngineSetupError
from ocr_service.recognition.recognizer import DocumentRecognizer

# Locally there is no layer: keep downloaded or bundled models in the user's cache.
LOCAL_RESOURCES_DIR = Path.home() / ".cache" / "aspose-ocr" / "models"
# Where `make setup` puts the engines' native data in a checkout (`ocr` is installed from it):
# used when the environment names none, so the command works outside make too.
_CHECKOUT = Path(__file__).resolve().parents[3]
CHECKOUT_DATA = {
    "OCR_TESSDATA_DIR": _CHECKOUT / ".cache" / "tessdata",
    "OCR_OPENSSL_LIB_DIR": _CHECKOUT / ".cache" / "openssl11" / "lib",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; 0 if every file was recognized, 1 if any failed, 2 on bad usage."""
    args = _parser().parse_args(argv)
    environ = dict(os.environ)
    if args.models_dir:
        environ["OCR_RESOURCES_DIR"] = str(args.models_dir)
    environ.setdefault("OCR_RESOURCES_DIR", str(LOCAL_RESOURCES_DIR))
    for name, directory in CHECKOUT_DATA.items():
        if not environ.get(name, "").strip() and directory.is_dir():
            environ[name] = str(directory)
    if args.engine:
        environ["OCR_ENGINE"] = args.engine
    try:
        settings = load_settings(environ, needs_output_bucket=False)
        engine = engines.start_engine(settings.engine)
        recognizer = DocumentRecognizer.configured(engine, settings)
    except (ConfigError, EngineSetupError, UnknownLanguageError) as error:
        print(f"ocr: {error}", file=sys.stderr)
        return 2
    if not engine.licensed:
        print("ocr: trial mode: each page's text is cut to 300 characters", file=sys.stderr)
    targets = _targets(args.files, args.out)
    failed = 0
    progress = _Progress(len(args.files), sys.stderr)
    for path, target in zip(args.files, targets, strict=True):
        started = time.perf_counter()
        try:
            text, document = _recognize_file(recognizer, path, args.lang)
        except (OSError, OcrError) as error:
            failed += 1
            reason = error.reason if isinstance(error, OcrError) else "unreadable-file"
            progress.done(path, f"FAILED {reason}: {error}", failed=True)
            continue
        if target is None:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        elapsed = time.perf_counter() - started
        text_layer = document.count(PageSource.TEXT_LAYER)
        progress.done(
            path,
            f"{document.page_count} page(s) (text-layer-pages {text_layer}, ocr-pages "
            f"{document.page_count - text_layer}), {len(text)} characters, {elapsed:.1f} s",
        )
    progress.finish()
    return 1 if failed else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocr", description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="images or documents to recognize")
    parser.add_argument(
        "--engine",
        choices=[kind.value for kind in EngineKind],
        help="the OCR engine (default: OCR_ENGINE, else aspose)",
    )
    parser.add_argument("--lang", help="language: en, ru, uk, de, rus, ru+en, CYRILLIC, ...")
    parser.add_argument(
        "--out",
        type=Path,
        help="a file (one input) or a directory (several); default: standard output for one "
        "input, <input>.txt beside each for several",
    )
    parser.add_argument("--models-dir", type=Path, help="the engine's model resources")
    return parser


def _targets(files: Sequence[Path], out: Path | None) -> list[Path | None]:
    if len(files) == 1 and (out is None or not out.is_dir()):
        return [out]
    if out is None:
        return [path.with_name(path.name + ".txt") for path in files]
    return [out / (path.name + ".txt") for path in files]


def _recognize_file(
    recognizer: DocumentRecognizer, path: Path, language: str | None
) -> tuple[str, Document]:
    data = path.read_bytes()
    examined = recognizer.examine(data)
    metadata = {METADATA_KEY: language} if language else {}
    chosen = recognizer.language_for(str(path), metadata)
    document = recognizer.recognize(examined, chosen.name, recognizer.plan(examined))
    return document.text, document


class _Progress:
    """A line per file, or, on a terminal with several files, a bar redrawn in place
    (failures still get a line of their own)."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self._total = total
        self._done = 0
        self._stream = stream
        self._bar = stream.isatty() and total > 1

    def done(self, path: Path, outcome: str, failed: bool = False) -> None:
        self._done += 1
        count = f"{self._done}/{self._total}"
        if not self._bar:
            print(f"[{count}] {path}: {outcome}", file=self._stream, flush=True)
            return
        if failed:
            print(f"\r{path}: {outcome}", file=self._stream, flush=True)
        filled = round(30 * self._done / self._total)
        bar = f"[{'#' * filled}{'.' * (30 - filled)}] {count}"
        print(f"\r{bar} {path.name[:40]:<40}", end="", file=self._stream, flush=True)

    def finish(self) -> None:
        if self._bar:
            print(file=self._stream)


if __name__ == "__main__":
    raise SystemExit(main())
