"""Which image-quality filters help? Recognize degraded renderings (and optionally real scans)
with each preprocessing option and score the text against what is known to be there.

    python -m bench.preprocessing [--samples ../shared/ocr-samples] [--json PATH]

Trial mode returns only the start of each page, so the score compares the recognized text
with the same-length start of the truth (difflib similarity, 1.0 = identical).
"""

from __future__ import annotations

import argparse
import difflib
import io
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageEnhance, ImageFilter, ImageOps

FUNCTION_DIR = Path(__file__).resolve().parents[1] / "functions" / "ocr"
sys.path.insert(0, str(FUNCTION_DIR))

from ocr_service.core.config import Preprocessing, load_engine_settings  # noqa: E402
from ocr_service.core.formats import identify  # noqa: E402
from ocr_service.engines.aspose import TRIAL_WARNING, AsposeEngine  # noqa: E402
from ocr_service.engines.port import MissingModelError, recognize_image  # noqa: E402
from tools.samples import render_lines  # noqa: E402

LINES = (
    "Invoice number 4821 for Acme Corporation",
    "The quick brown fox jumps over the lazy dog",
    "Payment is due within thirty days of receipt",
    "Please quote the invoice number with payment",
    "Thank you for your business and your trust",
)
TRUTH = "\n".join(LINES)

OPTIONS: dict[str, Preprocessing] = {
    "none": Preprocessing(),
    "deskew": Preprocessing(filters=("deskew",)),
    "contrast": Preprocessing(filters=("contrast",)),
    "denoise": Preprocessing(filters=("denoise",)),
    "binarize": Preprocessing(filters=("binarize",)),
    "upscale-small-font": Preprocessing(upscale_small_font=True),
    "no-auto-invert": Preprocessing(auto_invert=False),
    "deskew+contrast": Preprocessing(filters=("deskew", "contrast")),
}


def _image(font_size: int = 30) -> Image.Image:
    return Image.open(io.BytesIO(render_lines(LINES, width=1000, font_size=font_size)))


def _noisy(image: Image.Image) -> Image.Image:
    noisy = image.convert("L")
    pixels = noisy.load()
    assert pixels is not None
    chance = random.Random(7)
    for _ in range(noisy.width * noisy.height // 20):
        pixels[chance.randrange(noisy.width), chance.randrange(noisy.height)] = chance.choice(
            (0, 255)
        )
    return noisy


DEGRADATIONS: dict[str, Callable[[], Image.Image]] = {
    "clean": _image,
    "blur": lambda: _image().filter(ImageFilter.GaussianBlur(1.6)),
    "noise": lambda: _noisy(_image()),
    "low-contrast": lambda: ImageEnhance.Contrast(_image().convert("L")).enhance(0.25),
    "dark": lambda: ImageEnhance.Brightness(_image().convert("L")).enhance(0.45),
    "rotated-4deg": lambda: _image().convert("L").rotate(4, expand=True, fillcolor=255),
    "small-font": lambda: _image(font_size=13),
    "inverted": lambda: ImageOps.invert(_image().convert("L")),
}


def score(text: str, truth: str) -> float:
    """Similarity of the recognized text and the same-length start of the truth."""
    recognized = text.split(TRIAL_WARNING, maxsplit=1)[0].replace("*", "").strip()
    if not recognized:
        return 0.0
    prefix = truth[: len(recognized)]
    return round(difflib.SequenceMatcher(None, recognized, prefix).ratio(), 3)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _real_scans(directory: Path) -> dict[str, tuple[bytes, str]]:
    truth = json.loads((directory / "groundtruth.json").read_text(encoding="utf-8"))
    return {
        name: ((directory / name).read_bytes(), entry["expected_text"])
        for name, entry in truth.items()
        if (directory / name).is_file()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=Path, help="a directory with groundtruth.json")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    engine = AsposeEngine.start(load_engine_settings())
    inputs = {name: (_png(make()), TRUTH) for name, make in DEGRADATIONS.items()}
    if args.samples:
        inputs.update(_real_scans(args.samples))
    table: dict[str, dict[str, float]] = {}
    seconds: dict[str, float] = dict.fromkeys(OPTIONS, 0.0)
    for input_name, (data, truth) in inputs.items():
        row = table.setdefault(input_name, {})
        for option_name, option in OPTIONS.items():
            started = time.perf_counter()
            try:
                text = recognize_image(engine, data, identify(data), preprocessing=option).text
            except MissingModelError:
                row[option_name] = float("nan")  # e.g. denoise: a model we cannot fetch here
                continue
            except ValueError:
                text = ""
            seconds[option_name] += time.perf_counter() - started
            row[option_name] = score(text, truth)
        print(input_name.ljust(44), " ".join(f"{row[o]:5.2f}" for o in OPTIONS), flush=True)
    # nan where an option needs a model that is not installed
    means = {o: round(statistics.fmean(r[o] for r in table.values()), 3) for o in OPTIONS}
    print("mean".ljust(44), " ".join(f"{means[o]:5.2f}" for o in OPTIONS))
    print("seconds".ljust(44), " ".join(f"{seconds[o]:5.1f}" for o in OPTIONS))
    print("columns:", ", ".join(OPTIONS))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {"scores": table, "mean": means, "seconds": seconds}
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
