"""The real Aspose.OCR engine on images the tests render (trial mode: no license here)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ocr_service.core.config import PREPROCESSING_FILTERS, Preprocessing
from ocr_service.core.failures import OcrError
from ocr_service.document.model import PAGE_SEPARATOR
from ocr_service.engines.aspose import AsposeEngine
from ocr_service.engines.port import MissingModelError
from tests.support.deployment import REPO, openssl_dir
from tests.support.reading import read_document
from tests.support.samples import DEMO_WORDS, render_pages
from tools.samples import DEMO_LINES, render_lines

SECOND_PAGE = ("Second page starts here", "with more words below it", "and a third line of text")


@pytest.fixture(scope="session")
def engine(real_engine: AsposeEngine) -> AsposeEngine:
    return real_engine


def recognize(engine: AsposeEngine, data: bytes) -> str:
    return read_document(engine, data).text


def test_start_up_is_timed_and_reports_trial_mode(engine: AsposeEngine) -> None:
    assert engine.version.startswith("26.10.")
    assert engine.licensed is False
    assert engine.timings.create_s > 0
    assert engine.timings.warm_up_s > 0  # the warm-up recognition really ran


def test_png_text_and_trial_banner(engine: AsposeEngine) -> None:
    data = render_lines()
    document = read_document(engine, data)
    for word in DEMO_WORDS:
        assert word in document.text
    assert document.text.startswith(DEMO_LINES[0])
    assert document.trial_limited is True
    assert document.page_count == 1


def test_trial_mode_keeps_only_the_words_of_the_text_it_returns(engine: AsposeEngine) -> None:
    """Without a license the engine cuts each page's text but still reports every line: the
    model keeps only the words of the cut text (the cut is the license's, not ours to undo)."""
    # About 490 characters, more than the trial's 300 (lines the engine reads without a slip).
    lines = (DEMO_LINES[0], DEMO_LINES[3], DEMO_LINES[4]) * 5
    document = read_document(engine, render_lines(lines))
    everything = " ".join(lines).split()
    kept = document.text.split()
    assert 10 <= len(kept) < len(everything)
    assert kept == everything[: len(kept)]
    assert len(" ".join(kept)) <= 300


@pytest.mark.parametrize(("pil_format", "mode"), [("JPEG", "L"), ("BMP", "RGB"), ("GIF", "L")])
def test_other_single_image_formats(engine: AsposeEngine, pil_format: str, mode: str) -> None:
    text = recognize(engine, render_lines(image_format=pil_format, mode=mode))
    for word in DEMO_WORDS:
        assert word in text


@pytest.mark.parametrize("document_format", ["TIFF", "PDF"])
def test_every_page_in_order_separated_by_form_feeds(
    engine: AsposeEngine, document_format: str
) -> None:
    data = render_pages([DEMO_LINES, SECOND_PAGE], image_format=document_format)
    document = read_document(engine, data)
    assert document.page_count == 2
    first, second = document.text.split(PAGE_SEPARATOR)
    assert "Invoice" in first and "Second" not in first
    assert "Second page" in second and "Invoice" not in second


def test_corrupt_image_is_refused_and_the_engine_keeps_working(engine: AsposeEngine) -> None:
    corrupt = bytearray(render_lines())
    corrupt[80:400] = os.urandom(320)  # headers intact, pixel data garbage
    with pytest.raises(OcrError) as raised:
        read_document(engine, bytes(corrupt))
    assert raised.value.reason == "unreadable-image"
    assert "Invoice" in recognize(engine, render_lines())


def start_in_subprocess(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Engine start-up touches process-wide state (native libraries, the license)."""
    code = (
        "from ocr_service.core.config import load_engine_settings\n"
        "from ocr_service.engines.aspose import AsposeEngine\n"
        "AsposeEngine.start(load_engine_settings())\n"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("OCR_") and key != "LD_LIBRARY_PATH"
    }
    env.update(PYTHONPATH=str(REPO / "functions/ocr"), OCR_WARM_UP="false", **environment)
    return subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_rejected_license_fails_the_start_instead_of_running_in_trial(tmp_path: Path) -> None:
    license_file = tmp_path / "Aspose.OCR.lic"
    license_file.write_text("<License><Data>forged</Data><Signature>x</Signature></License>")
    started = start_in_subprocess(
        {
            "OCR_OPENSSL_LIB_DIR": openssl_dir(),
            "OCR_RESOURCES_DIR": str(tmp_path),
            "OCR_LICENSE_PATH": str(license_file),
        }
    )
    assert started.returncode == 1
    assert "LicenseError" in started.stderr
    assert "was rejected by the engine" in started.stderr
    assert "forged" not in started.stderr  # the license's content never reaches a log


def test_missing_openssl_is_a_clear_error_not_an_abort(tmp_path: Path) -> None:
    started = start_in_subprocess(
        {"OCR_OPENSSL_LIB_DIR": str(tmp_path), "OCR_RESOURCES_DIR": str(tmp_path)}
    )
    assert started.returncode == 1  # a Python exception, not SIGABRT (-6) from the runtime
    assert "NativeSetupError" in started.stderr
    assert "OpenSSL 1.1" in started.stderr and "OCR_OPENSSL_LIB_DIR" in started.stderr


def test_cyrillic_without_its_model_is_a_clear_offline_error(engine: AsposeEngine) -> None:
    data = render_lines(("Привет, мир", "Съешь же ещё этих мягких", "французских булок"))
    with pytest.raises(MissingModelError) as raised:
        read_document(engine, data, "RUS")
    assert raised.value.model.startswith("aspose-ocr-cyrillic")
    assert "OCR_MODELS=" in str(raised.value)
    assert "RUS" in engine.languages.known and "LATIN" in engine.languages.known
    assert "Invoice" in recognize(engine, render_lines())  # the engine keeps working


def test_lines_with_boxes_and_words_measured_from_their_pixels(engine: AsposeEngine) -> None:
    document = read_document(engine, render_lines())
    (page,) = document.pages
    first = next(page.lines())
    assert first.text.startswith("Invoice number 4821")
    assert 0 <= first.box.left < 200 and first.box.width > 200 and first.box.height > 10
    words = first.words
    assert [word.text for word in words][:3] == ["Invoice", "number", "4821"]
    # Aspose gives no word boxes: each is measured from the line's ink, left to right,
    # inside the line, never overlapping.
    for left, right in itertools.pairwise(words):
        assert left.box.right <= right.box.left
    assert all(first.box.left <= w.box.left < w.box.right <= first.box.right for w in words)
    assert words[0].box.width < first.box.width / 2
    assert all(word.confidence is None for word in words)  # the engine gives none per word


def test_every_preprocessing_option_is_one_the_engine_has(engine: AsposeEngine) -> None:
    offline = tuple(name for name in PREPROCESSING_FILTERS if name != "denoise")
    everything = Preprocessing(filters=offline, upscale_small_font=True, auto_invert=False)
    data = render_lines()
    document = read_document(engine, data, preprocessing=everything, max_image_side=800)
    assert document.page_count == 1  # each filter exists and the chain runs
    # Denoising needs a model, like the non-Latin languages: a clear error names it.
    with pytest.raises(MissingModelError, match=r"aspose-ocr-advanced-preprocessing-v1\.ocr"):
        read_document(engine, data, preprocessing=Preprocessing(filters=("denoise",)))
