"""How long an object may take: the time left in this invocation, the whole timeout, and an
estimate of the work from the engine's measured speed (README, "Limits")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ocr_service.core.failures import OcrError, Reason
from ocr_service.core.formats import ImageFormat
from ocr_service.engines.port import SpeedModel
from ocr_service.inputs.image_info import ImageInfo

# The engine's own speed model, doubled, and a fixed allowance for I/O.
IO_ALLOWANCE_S = 5.0
SAFETY_FACTOR = 2.0

RemainingMillis = Callable[[], int]


@dataclass(frozen=True)
class Clock:
    """The time left in this invocation, and what a fresh invocation has in all."""

    remaining_ms: RemainingMillis
    budget_ms: int

    @classmethod
    def starting(cls, remaining_ms: RemainingMillis | None) -> Clock:
        remaining = remaining_ms or (lambda: 1 << 62)
        return cls(remaining, remaining())

    def check_start(self) -> None:
        """Refuse to begin an object with less than the I/O allowance left."""
        if self.remaining_ms() < IO_ALLOWANCE_S * 1000:
            raise OcrError(Reason.INSUFFICIENT_TIME, "too little time left to start")

    def check(self, info: ImageInfo, speed: SpeedModel) -> None:
        """More than a whole invocation: exceeds-time-limit (heals once the timeout is raised);
        more than what is left: insufficient-time (retried in a fresh invocation)."""
        needed_ms = int(estimated_seconds(info, speed) * 1000)
        if needed_ms > self.budget_ms:
            raise OcrError(
                Reason.EXCEEDS_TIME_LIMIT,
                f"recognizing this needs about {needed_ms / 1000:.0f} s, more than the "
                f"function's {self.budget_ms / 1000:.0f} s: raise its Timeout or split the "
                "document (OCR_PAGES_PER_TASK)",
            )
        if needed_ms > self.remaining_ms():
            raise OcrError(
                Reason.INSUFFICIENT_TIME,
                f"about {needed_ms / 1000:.0f} s needed, {self.remaining_ms() / 1000:.0f} s "
                "left: retrying in a fresh invocation",
            )


def estimated_seconds(info: ImageInfo, speed: SpeedModel) -> float:
    """A generous estimate of recognizing `info` with an engine of this speed, writing
    included."""
    if info.image_format is ImageFormat.PDF:
        megapixels = info.pages * speed.pdf_page_megapixels
    else:
        megapixels = info.pages * info.pixels_per_page / 1e6
    return IO_ALLOWANCE_S + SAFETY_FACTOR * (1.0 + speed.seconds_per_megapixel * megapixels)
