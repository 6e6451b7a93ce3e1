"""The accuracy benchmark's scoring and sample discovery (bench/accuracy.py), without an engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.accuracy import CER_BOUNDS, Row, check, load_samples, normalise, score, summarise


def test_normalising_folds_what_sources_write_differently() -> None:
    assert normalise("It\u2019s  a\n\u201ctest\u201d \u2013 e\u0301t\u00e9\n", casefold=False) == (
        'It\'s a "test" - \u00e9t\u00e9'
    )
    assert normalise("TOTAL  RM 9.00", casefold=True) == "total rm 9.00"


def test_cer_wer_and_an_order_free_word_bag() -> None:
    assert score("the cat sat", "the cat sat", prefix_only=False) == (0.0, 0.0, 1.0)
    cer, wer, f1 = score("sat the cat", "the cat sat", prefix_only=False)
    assert cer > 0 and wer > 0 and f1 == 1.0  # same words, other order
    cer, wer, f1 = score("the cot", "the cat", prefix_only=False)
    assert (cer, wer, f1) == (round(1 / 7, 4), 0.5, 0.5)


def test_a_trial_prefix_is_scored_against_the_start_of_the_truth() -> None:
    truth = "invoice number 4821 for acme and many more words after it"
    assert score("invoice number", truth, prefix_only=True) == (0.0, 0.0, 1.0)
    assert score("invoice number", truth, prefix_only=False)[0] > 0.5


def test_samples_are_found_by_their_truth_with_category_and_language(tmp_path: Path) -> None:
    (tmp_path / "receipts").mkdir()
    (tmp_path / "receipts" / "r1.jpg").write_bytes(b"x")
    (tmp_path / "receipts" / "r1.gt.txt").write_text("TOTAL 9.00\n", encoding="utf-8")
    (tmp_path / "receipts" / "no-truth.jpg").write_bytes(b"x")
    (tmp_path / "top.png").write_bytes(b"x")
    (tmp_path / "top.gt.txt").write_text("Привет\n", encoding="utf-8")
    (tmp_path / "MANIFEST.tsv").write_text(
        "category\tfile\tlanguage\ntop\ttop.png\trus\n", encoding="utf-8"
    )
    samples = load_samples(tmp_path, "eng")
    assert [(s.path.name, s.category, s.language, s.truth) for s in samples] == [
        ("r1.jpg", "receipts", "eng", "TOTAL 9.00\n"),
        ("top.png", "all", "rus", "Привет\n"),
    ]


def row(engine: str, category: str, cer: float | None) -> Row:
    return Row(engine, category, "f", cer, cer, 1.0, 1.0, 0.9, False)


def test_the_regression_check_names_each_category_past_its_bound() -> None:
    bound = CER_BOUNDS["receipts"]
    fine = summarise([row("tesseract", "receipts", bound - 0.01), row("aspose", "scans", 0.9)])
    assert check(fine) == []
    worse = summarise([row("tesseract", "receipts", bound + 0.01), row("tesseract", "x", 0.9)])
    assert check(worse) == [f"receipts: mean CER {round(bound + 0.01, 3)} > {bound}"]
    unread = summarise([row("tesseract", "scans", None)])
    assert check(unread) == [f"scans: mean CER None > {CER_BOUNDS['scans']}"]


@pytest.mark.parametrize("value", [None])
def test_summaries_of_unread_images_say_so(value: float | None) -> None:
    (line,) = summarise([row("aspose", "cyrillic", value)])
    assert (line["images"], line["failed"], line["mean_cer"]) == (1, 1, None)
