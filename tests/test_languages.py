"""Naming languages: ISO 639-1, ISO 639-3 and the engine's names; prefix rules."""

from __future__ import annotations

import pytest

from ocr_service.languages import (
    LanguagePolicy,
    UnknownLanguageError,
    engine_name,
    parse_prefix_rules,
)

KNOWN = frozenset({"LATIN", "CYRILLIC", "ENG", "RUS", "UKR", "DEU", "AUTO"})


@pytest.mark.parametrize(
    ("requested", "expected"),
    [("en", "ENG"), ("RU", "RUS"), ("uk", "UKR"), ("rus", "RUS"), ("Cyrillic", "CYRILLIC")],
)
def test_accepted_names(requested: str, expected: str) -> None:
    assert engine_name(requested, KNOWN) == expected


def test_unknown_names_list_what_is_accepted() -> None:
    with pytest.raises(UnknownLanguageError) as raised:
        engine_name("xx", KNOWN)
    message = str(raised.value)
    assert "unknown language 'xx'" in message
    assert "ru" in message and "LATIN" in message


def test_prefix_rules() -> None:
    assert parse_prefix_rules(" ru/=ru ; uk/ = uk ;") == {"ru/": "ru", "uk/": "uk"}
    with pytest.raises(ValueError, match="not of the form"):
        parse_prefix_rules("ru/")


def test_longest_prefix_wins_and_metadata_beats_both() -> None:
    policy = LanguagePolicy("latin", {"a/": "ru", "a/b/": "uk"}, KNOWN)
    assert policy.choose("a/b/c.png", {}).name == "UKR"
    assert policy.choose("a/c.png", {}).name == "RUS"
    assert policy.choose("c.png", {}).name == "LATIN"
    chosen = policy.choose("a/b/c.png", {"ocr-language": "de"})
    assert (chosen.name, chosen.source) == ("DEU", "metadata")


def test_a_bad_default_or_rule_is_refused_at_start() -> None:
    with pytest.raises(UnknownLanguageError):
        LanguagePolicy("elvish", {}, KNOWN)
    with pytest.raises(UnknownLanguageError):
        LanguagePolicy("en", {"x/": "elvish"}, KNOWN)
