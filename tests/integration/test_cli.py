"""The local `ocr` command: same checks, languages and errors as the function."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

from ocr_service import engines
from ocr_service.cli import CHECKOUT_DATA, main
from ocr_service.core.formats import ImageFormat
from tests.support.samples import PNG
from tools.fake_engine import FakeEngine, fake_text


@pytest.fixture
def engine(fake_engine: FakeEngine) -> Iterator[FakeEngine]:
    with mock.patch.object(engines, "start_engine", return_value=fake_engine):
        yield fake_engine


def test_one_file_to_standard_output(
    engine: FakeEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scan = tmp_path / "scan.png"
    scan.write_bytes(PNG)

    assert main([str(scan)]) == 0

    assert capsys.readouterr().out == fake_text(PNG, ImageFormat.PNG) + "\n"
    assert engine.requested_languages == ["LATIN"]


def test_language_and_output_file(engine: FakeEngine, tmp_path: Path) -> None:
    scan, result = tmp_path / "scan.png", tmp_path / "result.txt"
    scan.write_bytes(PNG)

    assert main([str(scan), "--lang", "ru", "--out", str(result)]) == 0

    assert result.read_text(encoding="utf-8") == fake_text(PNG, ImageFormat.PNG)
    assert engine.requested_languages == ["RUS"]


def test_several_files_with_progress_and_a_failure(
    engine: FakeEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = []
    for name, body in (("a.png", PNG), ("empty.png", b""), ("b.png", PNG)):
        (tmp_path / name).write_bytes(body)
        inputs.append(str(tmp_path / name))
    out = tmp_path / "texts"
    out.mkdir()

    assert main([*inputs, "--out", str(out)]) == 1

    assert sorted(p.name for p in out.iterdir()) == ["a.png.txt", "b.png.txt"]
    progress = capsys.readouterr().err
    assert "[1/3]" in progress and "[3/3]" in progress
    assert "empty.png: FAILED empty-object: the object is empty (0 bytes)" in progress


def test_an_unknown_language_fails_the_file_naming_what_is_accepted(
    engine: FakeEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scan = tmp_path / "scan.png"
    scan.write_bytes(PNG)

    assert main([str(scan), "--lang", "elvish"]) == 1

    assert "FAILED unknown-language: unknown language 'elvish'" in capsys.readouterr().err


def test_the_engines_data_comes_from_the_checkout_when_the_environment_names_none(
    engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`.venv/bin/ocr` run by hand, outside make: `make setup`'s .cache/ in the checkout."""
    checkout = {name: tmp_path / name for name in CHECKOUT_DATA}
    for directory in checkout.values():
        directory.mkdir()
    monkeypatch.setattr("ocr_service.cli.CHECKOUT_DATA", checkout)
    for name in checkout:
        monkeypatch.delenv(name, raising=False)
    scan = tmp_path / "scan.png"
    scan.write_bytes(PNG)
    started = mock.patch.object(engines, "start_engine", return_value=engine)

    with started as start:
        assert main(["--engine", "tesseract", str(scan)]) == 0

    [settings] = start.call_args.args
    assert settings.tessdata_dir == checkout["OCR_TESSDATA_DIR"]
    assert settings.openssl_lib_dir == checkout["OCR_OPENSSL_LIB_DIR"]
    monkeypatch.setenv("OCR_TESSDATA_DIR", str(tmp_path))  # the caller's own choice wins
    with started as start:
        assert main(["--engine", "tesseract", str(scan)]) == 0
    assert start.call_args.args[0].tessdata_dir == tmp_path
