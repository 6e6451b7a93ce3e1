"""Character error rates that stay fair to the engine's trial mode.

Unlicensed, Aspose.OCR returns only the start of each page (at most 300 characters, often less)
followed by a banner. Scoring that against the whole page would count every missing character
as an error, so the trial text is compared with the *prefix* of the known text that it matches
best: the edit distance to the closest prefix, divided by that prefix's length. Whitespace is
collapsed first (line breaks and spaces are layout, not text). Other engines return everything;
they get both the prefix score on their first 300 characters per page (the same basis) and a
full-text score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TRIAL_BANNER = "************* Trial Licenses *************"
TRIAL_PAGE_CHARS = 300
PAGE_SEPARATOR = "\f"
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Score:
    """Edits against reference characters, summed over pages."""

    edits: int
    reference_chars: int
    recognized_chars: int

    @property
    def cer(self) -> float | None:
        """Character error rate, or None when nothing was compared (no text came back)."""
        if self.reference_chars == 0:
            return None
        return self.edits / self.reference_chars


def normalize(text: str) -> str:
    """Drop the trial banner and collapse every run of whitespace into one space."""
    return _WHITESPACE.sub(" ", text.replace(TRIAL_BANNER, " ")).strip()


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions), one row at a time."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def best_prefix_distance(recognized: str, reference: str) -> tuple[int, int]:
    """The smallest edit distance from ``recognized`` to any prefix of ``reference``, and
    that prefix's length (ties go to the longer prefix)."""
    # Only prefixes up to twice the recognized length (plus slack) can be the closest.
    reference = reference[: 2 * len(recognized) + 20]
    previous = list(range(len(reference) + 1))  # row 0: "" against each prefix
    for i, char in enumerate(recognized, 1):
        current = [i]
        for j, ref_char in enumerate(reference, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != ref_char))
            )
        previous = current
    best = min(previous)
    length = max(j for j, distance in enumerate(previous) if distance == best)
    return best, length


def _pages(text: str) -> list[str]:
    return text.split(PAGE_SEPARATOR)


def prefix_score(recognized: str, reference: str, limit: int | None = TRIAL_PAGE_CHARS) -> Score:
    """Score each page's text (cut to ``limit`` characters after normalizing, if given)
    against the best-matching prefix of that page's known text."""
    edits = reference_chars = recognized_chars = 0
    references = _pages(reference)
    for index, page in enumerate(_pages(recognized)):
        text = normalize(page)
        if limit is not None:
            text = text[:limit]
        if not text or index >= len(references):
            continue
        distance, length = best_prefix_distance(text, normalize(references[index]))
        edits += distance
        reference_chars += length
        recognized_chars += len(text)
    return Score(edits, reference_chars, recognized_chars)


def full_score(recognized: str, reference: str) -> Score:
    """Score the whole text, page by page, against the whole known text."""
    edits = reference_chars = recognized_chars = 0
    pages = _pages(recognized)
    for index, truth in enumerate(_pages(reference)):
        text = normalize(pages[index]) if index < len(pages) else ""
        expected = normalize(truth)
        edits += levenshtein(text, expected)
        reference_chars += len(expected)
        recognized_chars += len(text)
    return Score(edits, reference_chars, recognized_chars)


def substring_score(recognized: str, expected: str) -> Score:
    """For ground truth that is only a part of the page ("substring" matches): the edit
    distance from ``expected`` to the closest stretch of the recognized text."""
    text, wanted = normalize(recognized), normalize(expected)
    if not text:
        return Score(0, 0, 0)
    previous = [0] * (len(text) + 1)  # a match may start anywhere in the text
    for i, char in enumerate(wanted, 1):
        current = [i]
        for j, text_char in enumerate(text, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != text_char))
            )
        previous = current
    return Score(min(previous), len(wanted), len(text))


def contains(recognized: str, expected: str) -> bool:
    """Whether the expected text occurs in the recognized text (whitespace collapsed)."""
    return normalize(expected) in normalize(recognized)
