"""The document model as plain JSON values and back, losslessly: how a page task's part carries
its pages to the task that assembles the document (ocr_service/aws/page_tasks.py). Users read
the sidecar (ocr_service/outputs/sidecar.py), which is laid out for them instead."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ocr_service.document.model import Block, Box, Line, Page, PageSource, Transform, Word


def _box(box: Box) -> list[float]:
    return [box.left, box.top, box.right, box.bottom]


def _unbox(values: Sequence[float]) -> Box:
    left, top, right, bottom = (float(value) for value in values)
    return Box(left, top, right, bottom)


def page_to_json(page: Page) -> dict[str, Any]:
    return {
        "number": page.number,
        "width": page.width,
        "height": page.height,
        "dpi": page.dpi,
        "source": page.source.value,
        "language": page.language,
        "trial_limited": page.trial_limited,
        "rotation": page.rotation,
        "to_input": list(page.to_input.as_tuple()),
        "blocks": [
            {
                "box": _box(block.box),
                "lines": [
                    {
                        "box": _box(line.box),
                        "confidence": line.confidence,
                        "words": [
                            {"text": w.text, "box": _box(w.box), "confidence": w.confidence}
                            for w in line.words
                        ],
                    }
                    for line in block.lines
                ],
            }
            for block in page.blocks
        ],
    }


def page_from_json(value: Mapping[str, Any]) -> Page:
    """The page `page_to_json` wrote; KeyError, TypeError or ValueError if it is not one."""
    return Page(
        number=int(value["number"]),
        width=float(value["width"]),
        height=float(value["height"]),
        dpi=float(value["dpi"]),
        source=PageSource(value["source"]),
        language=str(value.get("language", "")),
        trial_limited=bool(value.get("trial_limited", False)),
        rotation=int(value.get("rotation", 0)),
        to_input=Transform(*(float(x) for x in value["to_input"])),
        blocks=tuple(
            Block(
                box=_unbox(block["box"]),
                lines=tuple(
                    Line(
                        box=_unbox(line["box"]),
                        confidence=_confidence(line.get("confidence")),
                        words=tuple(
                            Word(str(w["text"]), _unbox(w["box"]), _confidence(w["confidence"]))
                            for w in line["words"]
                        ),
                    )
                    for line in block["lines"]
                ),
            )
            for block in value["blocks"]
        ),
    )


def _confidence(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
