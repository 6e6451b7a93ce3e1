"""The images measured: the rendered classes (bench.images) and, with --samples, real scans
with their ground truth, each written to a file a worker process can read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bench import images
from bench.results import ImageEntry


@dataclass(frozen=True)
class Input:
    """An image to measure: a rendered class or a real scan with its ground truth."""

    name: str
    kind: str
    """"class" (rendered here) or "scan" (--samples)."""
    path: Path
    extension: str
    size: str
    """width x height x pages."""
    pages: int
    truth: str
    match: str | None = None
    """groundtruth.json's match rule; "substring": the truth is only a part of the page."""
    language: str | None = None

    @property
    def megapixels(self) -> float:
        width, height = (int(side) for side in self.size.split("x")[:2])
        return round(width * height / 1e6, 1)


def write_image(workdir: Path, image: images.BenchImage) -> Input:
    path = workdir / f"{image.name}.{image.extension}"
    path.write_bytes(image.data)
    return Input(
        image.name,
        "class",
        path,
        image.extension,
        f"{image.width}x{image.height}x{len(image.pages)}",
        len(image.pages),
        image.text,
    )


def image_entry(image: images.BenchImage) -> ImageEntry:
    """What the report says about a rendered class."""
    return ImageEntry(
        image.description,
        len(image.data),
        image.width,
        image.height,
        len(image.pages),
        len(image.text),
    )


def scan_inputs(directory: Path) -> list[Input]:
    """The real scans and their ground truth (groundtruth.json, see its README)."""
    from PIL import Image  # noqa: PLC0415

    truth: dict[str, dict[str, str]] = json.loads(
        (directory / "groundtruth.json").read_text(encoding="utf-8")
    )
    inputs = []
    for relative, entry in truth.items():
        path = directory / relative
        with Image.open(path) as opened:
            width, height = opened.size
            pages = getattr(opened, "n_frames", 1)
        inputs.append(
            Input(
                relative,
                "scan",
                path,
                path.suffix.lstrip(".").lower(),
                f"{width}x{height}x{pages}",
                pages,
                entry["expected_text"],
                match=entry.get("match"),
                language=entry.get("lang"),
            )
        )
    return inputs
