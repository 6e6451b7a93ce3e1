"""Which language to recognize an object in, and how users may name it.

Precedence, most specific first: the object's own metadata (`x-amz-meta-ocr-language`), then
the longest matching key-prefix rule (`OCR_LANGUAGE_BY_PREFIX`, e.g. `ru/=ru;uk/=uk`), then the
default (`OCR_LANGUAGE`). Accepted names: ISO 639-1 codes (`en`, `ru`, `uk`, `de`, ...), ISO
639-3 codes (`eng`, `rus`, ...), and the engine's own names (`LATIN`, `CYRILLIC`, `AUTO`, ...),
in any case.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

METADATA_KEY = "ocr-language"  # S3 user metadata: x-amz-meta-ocr-language
DEFAULT_LANGUAGE = "LATIN"  # the engine's default: every Latin-script language, no model needed

# ISO 639-1 -> the engine's ISO 639-3 based names, for the languages the engine knows.
ISO_639_1 = {
    "af": "AFR", "ar": "ARA", "be": "BEL", "bg": "BUL", "bs": "BOS", "ca": "CAT", "cs": "CES",
    "da": "DAN", "de": "DEU", "en": "ENG", "es": "SPA", "et": "EST", "fa": "PES", "fi": "FIN",
    "fr": "FRA", "gl": "GLG", "ha": "HAU", "hi": "HIN", "hr": "HRV", "hu": "HUN", "id": "IND",
    "it": "ITA", "ja": "JPN", "kk": "KAZ", "kn": "KAN", "ko": "KOR", "lt": "LIT", "lv": "LAV",
    "mn": "MON", "mr": "MAR", "ms": "MLY", "ne": "NEP", "nl": "NLD", "no": "NOR", "nb": "NOR",
    "pl": "POL", "pt": "POR", "ro": "RON", "ru": "RUS", "rw": "KIN", "sk": "SLK", "sl": "SLV",
    "so": "SOM", "sr": "SRP", "sv": "SWE", "sw": "SWH", "ta": "TAM", "te": "TEL", "tl": "TGL",
    "tr": "TUR", "ug": "UIG", "uk": "UKR", "ur": "URD", "vi": "VIE", "xh": "XHO", "yo": "YOR",
    "zh": "CHINESE", "zu": "ZUL",
}  # fmt: skip


class UnknownLanguageError(ValueError):
    """A language name nobody knows: the message lists what is accepted."""


@dataclass(frozen=True)
class LanguageChoice:
    """The engine's name for the language, and where the choice came from."""

    name: str
    source: str  # "metadata", "prefix <p>", or "default"


def parse_prefix_rules(raw: str) -> dict[str, str]:
    """`ru/=ru;uk/=uk` -> {"ru/": "ru", "uk/": "uk"}; raises ValueError on a malformed rule."""
    rules: dict[str, str] = {}
    for rule in filter(None, (part.strip() for part in raw.split(";"))):
        prefix, separator, language = rule.partition("=")
        if not separator or not prefix.strip() or not language.strip():
            raise ValueError(f"{rule!r} is not of the form <key prefix>=<language>")
        rules[prefix.strip()] = language.strip()
    return rules


def engine_name(requested: str, known: Collection[str]) -> str:
    """The engine's name for `requested`; UnknownLanguageError if there is none."""
    wanted = requested.strip()
    candidate = ISO_639_1.get(wanted.lower(), wanted.upper())
    if candidate in known:
        return candidate
    iso_codes = ", ".join(sorted(ISO_639_1))
    engine_names = ", ".join(sorted(known))
    raise UnknownLanguageError(
        f"unknown language {requested!r}; accepted: ISO 639-1 codes ({iso_codes}), or ISO "
        f"639-3 codes and the engine's names ({engine_names}), in any case"
    )


class LanguagePolicy:
    """Decides an object's language from its metadata, its key, and the default."""

    def __init__(self, default: str, prefix_rules: Mapping[str, str], known: Collection[str]):
        self._known = frozenset(known)
        self.default = engine_name(default, self._known)
        # Longest prefix first, so `scans/ru/` beats `scans/`.
        self._rules = sorted(
            (
                (prefix, engine_name(language, self._known))
                for prefix, language in prefix_rules.items()
            ),
            key=lambda rule: len(rule[0]),
            reverse=True,
        )

    def choose(self, key: str, metadata: Mapping[str, str]) -> LanguageChoice:
        """The language for one object; UnknownLanguageError for a bad metadata value."""
        requested = metadata.get(METADATA_KEY, "").strip()
        if requested:
            return LanguageChoice(engine_name(requested, self._known), "metadata")
        for prefix, language in self._rules:
            if key.startswith(prefix):
                return LanguageChoice(language, f"prefix {prefix}")
        return LanguageChoice(self.default, "default")
