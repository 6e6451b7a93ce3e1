"""Naming languages: ISO 639-1, ISO 639-3 and the engine's names; prefix rules."""

from __future__ import annotations

import pytest

from ocr_service.core.languages import (
    TESSERACT_KNOWN,
    AsposeLanguages,
    LanguagePolicy,
    TesseractLanguages,
    UnknownLanguageError,
    parse_prefix_rules,
)

KNOWN = frozenset({"LATIN", "CYRILLIC", "EUROPEAN", "CHINESE", "ENG", "RUS", "UKR", "DEU", "AUTO"})
ASPOSE = AsposeLanguages(KNOWN)
# As the layer installs them by default, without Greek.
TESSERACT = TesseractLanguages(TESSERACT_KNOWN, {"eng", "rus", "ukr", "deu", "fra", "spa"})


@pytest.mark.parametrize(
    ("requested", "expected"),
    [("en", "ENG"), ("RU", "RUS"), ("uk", "UKR"), ("rus", "RUS"), ("Cyrillic", "CYRILLIC")],
)
def test_accepted_names(requested: str, expected: str) -> None:
    assert ASPOSE.resolve(requested) == expected


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("ru+en", "EUROPEAN"),  # Aspose's Cyrillic/English model
        ("uk, en", "EUROPEAN"),
        ("ru,uk", "CYRILLIC"),
        ("de+en", "LATIN"),  # every Latin-script language is the default model
        ("zh+en", "CHINESE"),
        ("en+en", "ENG"),
    ],
)
def test_aspose_reads_a_mix_with_the_model_that_covers_it(requested: str, expected: str) -> None:
    assert ASPOSE.resolve(requested) == expected


def test_aspose_refuses_a_mix_of_scripts_it_reads_only_apart() -> None:
    with pytest.raises(UnknownLanguageError, match="one at a time"):
        ASPOSE.resolve("ru+zh")


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("en", "eng"),
        ("RU", "rus"),
        ("uk,en", "ukr+eng"),
        ("ru+en", "rus+eng"),
        ("rus+eng", "rus+eng"),
        ("ENG", "eng"),
        ("latin", "eng"),  # the deployments' default keeps working
        ("Cyrillic", "rus+eng"),
        ("zh", "chi_sim"),
        ("chi_tra", "chi_tra"),
        ("en+eng", "eng"),
    ],
)
def test_tesseract_names(requested: str, expected: str) -> None:
    assert TESSERACT.resolve(requested) == expected


def test_tesseract_knows_languages_the_layer_lacks_and_says_which() -> None:
    assert TESSERACT.resolve("el+en") == "ell+eng"
    assert TESSERACT.missing("ell+eng") == ["ell"]
    assert TESSERACT.missing("rus+eng") == []


def test_tesseract_unknown_part_of_a_mix_is_named() -> None:
    with pytest.raises(UnknownLanguageError, match="unknown language 'elvish'"):
        TESSERACT.resolve("en+elvish")


def test_unknown_names_list_what_is_accepted() -> None:
    with pytest.raises(UnknownLanguageError) as raised:
        ASPOSE.resolve("xx")
    message = str(raised.value)
    assert "unknown language 'xx'" in message
    assert "ru" in message and "LATIN" in message


def test_prefix_rules() -> None:
    assert parse_prefix_rules(" ru/=ru ; uk/ = uk ;") == {"ru/": "ru", "uk/": "uk"}
    with pytest.raises(ValueError, match="not of the form"):
        parse_prefix_rules("ru/")


def test_longest_prefix_wins_and_metadata_beats_both() -> None:
    policy = LanguagePolicy("latin", {"a/": "ru", "a/b/": "uk"}, ASPOSE)
    assert policy.choose("a/b/c.png", {}).name == "UKR"
    assert policy.choose("a/c.png", {}).name == "RUS"
    assert policy.choose("c.png", {}).name == "LATIN"
    assert policy.choose("a/b/c.png", {"ocr-language": "de"}).name == "DEU"


def test_a_bad_default_or_rule_is_refused_at_start() -> None:
    with pytest.raises(UnknownLanguageError):
        LanguagePolicy("elvish", {}, ASPOSE)
    with pytest.raises(UnknownLanguageError):
        LanguagePolicy("en", {"x/": "elvish"}, TESSERACT)
