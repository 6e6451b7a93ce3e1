"""Grey-level statistics shared by the page preparation steps."""

from __future__ import annotations


def otsu(histogram: list[int]) -> int:
    """The grey level that best separates a histogram's two classes (Otsu, 1979)."""
    total = sum(histogram)
    weighted_total = sum(level * count for level, count in enumerate(histogram))
    below = below_weighted = 0.0
    best, threshold = -1.0, 127
    for level, count in enumerate(histogram[:256]):
        below += count
        below_weighted += level * count
        above = total - below
        if below == 0 or above == 0:
            continue
        mean_below = below_weighted / below
        mean_above = (weighted_total - below_weighted) / above
        between = below * above * (mean_below - mean_above) ** 2
        if between > best:
            best, threshold = between, level
    return threshold
