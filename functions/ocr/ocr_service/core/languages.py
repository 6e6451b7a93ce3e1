"""Which language to recognize an object in, and how users may name it.

Precedence, most specific first: the object's own metadata (`x-amz-meta-ocr-language`), then
the longest matching key-prefix rule (`OCR_LANGUAGE_BY_PREFIX`, e.g. `ru/=ru;uk/=uk`), then the
default (`OCR_LANGUAGE`). Accepted names: ISO 639-1 codes (`en`, `ru`, `uk`, `de`, ...), ISO
639-3 codes (`eng`, `rus`, ...), and the engine's own names (`LATIN`, `CYRILLIC`, `chi_sim`,
...), in any case; several at once with `+` or `,` (`ru+en`, `uk,en`) where the engine can
read them together. Each engine resolves names with its own catalog (`AsposeLanguages`,
`TesseractLanguages`): the pipeline only passes the resolved name back to the same engine.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

METADATA_KEY = "ocr-language"  # S3 user metadata: x-amz-meta-ocr-language
DEFAULT_LANGUAGE = "LATIN"  # Aspose's default (no model needed); English for Tesseract
_SEPARATORS = re.compile(r"[+,]")

# ISO 639-1 -> ISO 639-3 (as both engines name languages), for the languages either knows.
ISO_639_1 = {
    "af": "AFR", "ar": "ARA", "be": "BEL", "bg": "BUL", "bs": "BOS", "ca": "CAT", "cs": "CES",
    "da": "DAN", "de": "DEU", "el": "ELL", "en": "ENG", "es": "SPA", "et": "EST", "fa": "PES",
    "fi": "FIN", "fr": "FRA", "gl": "GLG", "ha": "HAU", "he": "HEB", "hi": "HIN", "hr": "HRV",
    "hu": "HUN", "id": "IND", "it": "ITA", "ja": "JPN", "kk": "KAZ", "kn": "KAN", "ko": "KOR",
    "lt": "LIT", "lv": "LAV", "mn": "MON", "mr": "MAR", "ms": "MLY", "ne": "NEP", "nl": "NLD",
    "no": "NOR", "nb": "NOR", "pl": "POL", "pt": "POR", "ro": "RON", "ru": "RUS", "rw": "KIN",
    "sk": "SLK", "sl": "SLV", "so": "SOM", "sr": "SRP", "sv": "SWE", "sw": "SWH", "ta": "TAM",
    "te": "TEL", "th": "THA", "tl": "TGL", "tr": "TUR", "ug": "UIG", "uk": "UKR", "ur": "URD",
    "vi": "VIE", "xh": "XHO", "yo": "YOR", "zh": "CHINESE", "zu": "ZUL",
}  # fmt: skip


class UnknownLanguageError(ValueError):
    """A language name nobody knows: the message lists what is accepted."""


class LanguageCatalog(Protocol):
    """An engine's languages: turns what a user wrote into the name the engine takes."""

    def resolve(self, requested: str) -> str:
        """The engine's name for `requested`; UnknownLanguageError if there is none."""
        ...


def split_languages(requested: str) -> list[str]:
    """`ru+en`, `uk, en` -> ["ru", "en"], ["uk", "en"]."""
    return [part.strip() for part in _SEPARATORS.split(requested) if part.strip()]


def _unknown(requested: str, engine_names: Collection[str], note: str = "") -> UnknownLanguageError:
    iso_codes = ", ".join(sorted(ISO_639_1))
    return UnknownLanguageError(
        f"unknown language {requested!r}{note}; accepted: ISO 639-1 codes ({iso_codes}), or "
        f"ISO 639-3 codes and the engine's names ({', '.join(sorted(engine_names))}), in any "
        "case; several with + or , where the engine reads them together"
    )


# Aspose reads one language at a time; a mix is read by the model that covers the mix
# (docs.aspose.com, "Languages"): EUROPEAN is its Cyrillic/English model, CHINESE, DEVANAGARI
# and PERSO_ARABIC each read their script mixed with English.
_ASPOSE_SCRIPTS = {
    "CYRILLIC": frozenset({"RUS", "UKR", "BEL", "BUL", "KAZ", "SRP", "MON", "CYRILLIC"}),
    "CHINESE": frozenset({"CHINESE", "CMN", "YUE", "WUU", "NAN", "HAK", "GAN", "HSN"}),
    "DEVANAGARI": frozenset({"HIN", "MAR", "NEP", "DEVANAGARI"}),
    "PERSO_ARABIC": frozenset({"ARA", "PES", "URD", "UIG", "PERSO_ARABIC"}),
}
_ASPOSE_MIXES = {"CYRILLIC": "EUROPEAN"}  # with English; the others read English themselves


class AsposeLanguages:
    """Aspose.OCR's names (ENG, RUS, LATIN, CYRILLIC, AUTO, ...)."""

    def __init__(self, known: Collection[str]) -> None:
        self.known = frozenset(known)

    def resolve(self, requested: str) -> str:
        names = [self._one(part, requested) for part in split_languages(requested)]
        if not names:
            raise _unknown(requested, self.known)
        if len(set(names)) == 1:
            return names[0]
        return self._mix(requested, set(names))

    def _one(self, part: str, requested: str) -> str:
        candidate = ISO_639_1.get(part.lower(), part.upper())
        if candidate not in self.known:
            raise _unknown(requested if part == requested else part, self.known)
        return candidate

    def _mix(self, requested: str, names: set[str]) -> str:
        latin = {"ENG", "LATIN"}
        for script, members in _ASPOSE_SCRIPTS.items():
            if names <= members:
                return script
            if names <= members | latin:
                return _ASPOSE_MIXES.get(script, script)
        if all(name not in set().union(*_ASPOSE_SCRIPTS.values()) for name in names):
            return "LATIN"  # every Latin-script language at once is the engine's default model
        raise _unknown(requested, self.known, " (Aspose reads these scripts only one at a time)")


# Tesseract's codes for the ISO 639-1 codes whose ISO 639-3 code is not its own.
_TESSERACT_CODES = {
    "CHINESE": "chi_sim", "PES": "fas", "MLY": "msa", "SWH": "swa", "TGL": "fil",
}  # fmt: skip
# Aspose's group names users may already have configured, read by Tesseract's models.
_TESSERACT_GROUPS = {"latin": "eng", "cyrillic": "rus+eng"}
TESSERACT_PACKAGE = "tesseract-ocr-{code}"  # Debian's package of each language's data
# Every language tessdata_fast (and so Debian's tesseract-ocr-* packages) has data for.
TESSERACT_KNOWN = frozenset({
    "afr", "amh", "ara", "asm", "aze", "aze_cyrl", "bel", "ben", "bod", "bos", "bre", "bul",
    "cat", "ceb", "ces", "chi_sim", "chi_sim_vert", "chi_tra", "chi_tra_vert", "chr", "cos",
    "cym", "dan", "deu", "div", "dzo", "ell", "eng", "enm", "epo", "equ", "est", "eus", "fao",
    "fas", "fil", "fin", "fra", "frk", "frm", "fry", "gla", "gle", "glg", "grc", "guj", "hat",
    "heb", "hin", "hrv", "hun", "hye", "iku", "ind", "isl", "ita", "ita_old", "jav", "jpn",
    "jpn_vert", "kan", "kat", "kat_old", "kaz", "khm", "kir", "kmr", "kor", "kor_vert", "lao",
    "lat", "lav", "lit", "ltz", "mal", "mar", "mkd", "mlt", "mon", "mri", "msa", "mya", "nep",
    "nld", "nor", "oci", "ori", "pan", "pol", "por", "pus", "que", "ron", "rus", "san", "sin",
    "slk", "slv", "snd", "spa", "spa_old", "sqi", "srp", "srp_latn", "sun", "swa", "swe", "syr",
    "tam", "tat", "tel", "tgk", "tha", "tir", "ton", "tur", "uig", "ukr", "urd", "uzb",
    "uzb_cyrl", "vie", "yid", "yor",
})  # fmt: skip


class TesseractLanguages:
    """Tesseract's codes (eng, rus, chi_sim, ...), joined with `+` for several at once.

    `known` is every code Tesseract has data for; `installed` those whose data is in the
    layer. A known language that is not installed resolves, and fails as `model-missing` when
    an object asks for it, naming the package and build variable that add it."""

    def __init__(self, known: Collection[str], installed: Collection[str]) -> None:
        self.known = frozenset(known) | frozenset(installed)
        self.installed = frozenset(installed)

    def resolve(self, requested: str) -> str:
        codes: list[str] = []
        for part in split_languages(requested):
            for code in self._codes(part, requested):
                if code not in codes:
                    codes.append(code)
        if not codes:
            raise _unknown(requested, self.known)
        return "+".join(codes)

    def _codes(self, part: str, requested: str) -> list[str]:
        lowered = part.lower()
        if lowered in _TESSERACT_GROUPS:
            return _TESSERACT_GROUPS[lowered].split("+")
        if lowered in self.known:
            return [lowered]
        iso3 = ISO_639_1.get(lowered)
        if iso3 is not None:
            code = _TESSERACT_CODES.get(iso3, iso3.lower())
            if code in self.known:
                return [code]
        raise _unknown(part if len(split_languages(requested)) > 1 else requested, self.known)

    def missing(self, resolved: str) -> list[str]:
        """The codes of a resolved name whose data is not installed."""
        return [code for code in resolved.split("+") if code not in self.installed]


@dataclass(frozen=True)
class LanguageChoice:
    """The engine's name for the language chosen for one object."""

    name: str


def parse_prefix_rules(raw: str) -> dict[str, str]:
    """`ru/=ru;uk/=uk` -> {"ru/": "ru", "uk/": "uk"}; raises ValueError on a malformed rule."""
    rules: dict[str, str] = {}
    for rule in filter(None, (part.strip() for part in raw.split(";"))):
        prefix, separator, language = rule.partition("=")
        if not separator or not prefix.strip() or not language.strip():
            raise ValueError(f"{rule!r} is not of the form <key prefix>=<language>")
        rules[prefix.strip()] = language.strip()
    return rules


class LanguagePolicy:
    """Decides an object's language from its metadata, its key, and the default."""

    def __init__(
        self, default: str, prefix_rules: Mapping[str, str], catalog: LanguageCatalog
    ) -> None:
        self._catalog = catalog
        self.default = catalog.resolve(default)
        # Longest prefix first, so `scans/ru/` beats `scans/`.
        self._rules = sorted(
            ((prefix, catalog.resolve(language)) for prefix, language in prefix_rules.items()),
            key=lambda rule: len(rule[0]),
            reverse=True,
        )

    def choose(self, key: str, metadata: Mapping[str, str]) -> LanguageChoice:
        """The language for one object; UnknownLanguageError for a bad metadata value."""
        requested = metadata.get(METADATA_KEY, "").strip()
        if requested:
            return LanguageChoice(self._catalog.resolve(requested))
        for prefix, language in self._rules:
            if key.startswith(prefix):
                return LanguageChoice(language)
        return LanguageChoice(self.default)
