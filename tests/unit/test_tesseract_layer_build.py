"""The TesseractLayer build scripts: language list, pinned tessdata from .debs, trimming, self-test.

Fast and offline: synthetic .debs and trees stand in for Debian's packages and the wheels (the
real build runs with `make -C layers/tesseract build-TesseractLayer ARTIFACTS_DIR=...`).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.support.layers import LAYERS_DIR, layer_script, make_deb, write_files
from tools import check_sizes

build_layer = layer_script("tesseract", "build_layer", "tesseract_build_layer")
# The very module build_layer uses (it imports fetch_tessdata from its own directory).
fetch_tessdata = sys.modules["fetch_tessdata"]
debian_fetch = sys.modules["debian_fetch"]
FetchError = debian_fetch.FetchError


TESSDATA = "./usr/share/tesseract-ocr/5/tessdata"


def language_deb(directory: Path, code: str, content: bytes) -> Path:
    """A tesseract-ocr-<code>-like .deb holding ``<code>.traineddata``."""
    return make_deb(
        directory / f"tesseract-ocr-{code}_test_all.deb",
        {
            f"{TESSDATA}/{code}.traineddata": content,
            f"./usr/share/doc/tesseract-ocr-{code}/copyright": b"Apache-2.0\n",
        },
    )


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def debs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory of synthetic eng, rus, osd and libtesseract5 .debs, pinned as if real."""
    directory = tmp_path / "debs"
    directory.mkdir()
    pins = {
        code: sha(language_deb(directory, code, f"{code} model".encode()))
        for code in ("eng", "rus", "osd")
    }
    libtesseract = make_deb(
        directory / "libtesseract5_test_amd64.deb",
        {
            "./usr/lib/x86_64-linux-gnu/libtesseract.so.5.0.3": b"\x7fELF",
            f"{TESSDATA}/pdf.ttf": b"a glyphless font",
            f"{TESSDATA}/configs/pdf": b"tessedit_create_pdf 1\n",
        },
    )
    monkeypatch.setattr(fetch_tessdata, "LANGUAGE_PINS", pins)
    monkeypatch.setattr(
        fetch_tessdata,
        "LIBTESSERACT",
        debian_fetch.DebPin("libtesseract5", "5.3.0-2", "amd64", sha(libtesseract)),
    )
    return directory


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything tries to download a .deb."""

    def refuse(*args: object) -> None:
        pytest.fail(f"download attempted: {args}")

    monkeypatch.setattr(debian_fetch, "download_debs", refuse)


# --- the language list ----------------------------------------------------------------------------


def test_languages_are_split_on_spaces_and_commas_in_order_without_duplicates() -> None:
    assert fetch_tessdata.parse_languages(" eng,rus  deu,, eng chi_sim\n") == [
        "eng",
        "rus",
        "deu",
        "chi_sim",
    ]


@pytest.mark.parametrize("raw", ["", " , ", "ENG", "eng rus/", "../x", "script/Latin", "eng-"])
def test_an_empty_list_or_a_non_code_is_refused(raw: str) -> None:
    with pytest.raises(FetchError, match="TESSERACT_LANGUAGES"):
        fetch_tessdata.parse_languages(raw)


def test_osd_is_always_added_once() -> None:
    assert fetch_tessdata.with_always(["eng", "rus"]) == ["eng", "rus", "osd"]
    assert fetch_tessdata.with_always(["osd", "eng"]) == ["osd", "eng"]


def test_package_names_spell_underscores_as_hyphens() -> None:
    assert fetch_tessdata.package_name("chi_sim") == "tesseract-ocr-chi-sim"
    pin = fetch_tessdata.language_pin("x_y", {"x_y": "0" * 64})
    assert pin.filename == "tesseract-ocr-x-y_1%3a4.1.0-2_all.deb"
    assert pin.spec == "tesseract-ocr-x-y=1:4.1.0-2"


# --- the pins -------------------------------------------------------------------------------------


def test_every_default_language_and_osd_is_pinned_with_a_sha256() -> None:
    wanted = fetch_tessdata.pins_for(fetch_tessdata.DEFAULT_LANGUAGES)

    expected_files = {f"{code}.traineddata" for code in fetch_tessdata.DEFAULT_LANGUAGES}
    assert set(wanted) == expected_files | {"osd.traineddata", "pdf.ttf"}
    assert wanted["pdf.ttf"].package == "libtesseract5"
    for pin in wanted.values():
        assert len(pin.sha256) == 64
        int(pin.sha256, 16)
    # One .deb per pin: no two packages may claim the same bytes.
    assert len({pin.sha256 for pin in wanted.values()}) == len(wanted)


def test_an_unpinned_language_is_refused_saying_how_to_pin_it() -> None:
    with pytest.raises(FetchError) as raised:
        fetch_tessdata.pins_for(["eng", "xyz"])

    message = str(raised.value)
    assert "'xyz'" in message
    assert "tesseract-ocr-xyz" in message
    assert "https://deb.debian.org/debian/pool/main/t/tesseract-lang/" in message
    assert "sha256sum" in message
    assert "LANGUAGE_PINS" in message
    assert "TESSERACT_DEBS_DIR" in message


def test_the_build_refuses_an_unpinned_language_before_downloading_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pip(*args: object) -> None:
        pytest.fail("pip ran for a build that must fail first")

    monkeypatch.setattr(build_layer, "pip_install", no_pip)
    monkeypatch.setattr(build_layer, "RUNTIME_VERSION", sys.version_info[:2])

    with pytest.raises(build_layer.BuildError, match="no pinned SHA-256 for language 'xyz'"):
        build_layer.build(tmp_path / "artifacts", ["eng", "xyz"])
    assert not (tmp_path / "artifacts").exists()


# --- fetching and extracting ----------------------------------------------------------------------


def test_fetch_extracts_the_traineddata_osd_and_pdf_ttf_from_the_debs(
    tmp_path: Path, debs: Path, no_download: None
) -> None:
    dest = tmp_path / "tessdata"

    sizes = fetch_tessdata.fetch(dest, ["eng", "rus"], tmp_path / "cache", debs_dir=debs)

    assert {path.name: path.read_bytes() for path in dest.iterdir()} == {
        "eng.traineddata": b"eng model",
        "rus.traineddata": b"rus model",
        "osd.traineddata": b"osd model",
        "pdf.ttf": b"a glyphless font",
    }
    assert sizes["pdf.ttf"] == len(b"a glyphless font")
    assert not (tmp_path / "cache").exists()  # the directory's .debs are used in place


def test_fetch_is_idempotent_and_removes_languages_no_longer_asked_for(
    tmp_path: Path, debs: Path, no_download: None
) -> None:
    dest = tmp_path / "tessdata"
    fetch_tessdata.fetch(dest, ["eng", "rus"], debs_dir=debs)
    mtimes = {path.name: path.stat().st_mtime_ns for path in dest.iterdir()}

    fetch_tessdata.fetch(dest, ["eng"], debs_dir=debs)

    assert sorted(path.name for path in dest.iterdir()) == [
        "eng.traineddata",
        "osd.traineddata",
        "pdf.ttf",
    ]
    for path in dest.iterdir():  # identical files are left alone
        assert path.stat().st_mtime_ns == mtimes[path.name]


def test_a_deb_with_another_hash_is_refused_naming_both_hashes(
    tmp_path: Path, debs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cache holds a tampered eng .deb; the "download" brings another tampered one.
    cache = tmp_path / "cache"
    cache.mkdir()
    pin = fetch_tessdata.language_pin("eng")
    tampered = language_deb(tmp_path, "eng", b"evil model")
    (cache / pin.filename).write_bytes(tampered.read_bytes())
    downloads: list[list[str]] = []

    def download(
        pins: Sequence[object], dest: Path, label: str, help_text: str
    ) -> dict[object, Path]:
        downloads.append([p.filename for p in pins])  # type: ignore[attr-defined]
        return {p: tampered for p in pins}

    monkeypatch.setattr(debian_fetch, "download_debs", download)
    # osd and libtesseract5 are cached intact.
    for other in ("osd.traineddata", "pdf.ttf"):
        wanted = fetch_tessdata.pins_for(["eng"])[other]
        source = next(p for p in debs.iterdir() if sha(p) == wanted.sha256)
        (cache / wanted.filename).write_bytes(source.read_bytes())

    with pytest.raises(FetchError) as raised:
        fetch_tessdata.fetch(tmp_path / "tessdata", ["eng"], cache)

    message = str(raised.value)
    assert "SHA-256 mismatch" in message
    assert f"expected {pin.sha256}" in message
    assert f"actual   {sha(tampered)}" in message
    assert downloads == [[pin.filename]]  # the bad cached copy was discarded, the rest used
    assert not (cache / pin.filename).exists()
    assert not (tmp_path / "tessdata").exists()


def test_a_debs_dir_without_the_pinned_deb_is_refused(tmp_path: Path, debs: Path) -> None:
    (debs / "tesseract-ocr-rus_test_all.deb").unlink()
    language_deb(debs, "rus", b"some other rus model")  # same name, other bytes

    with pytest.raises(FetchError, match=r"TESSERACT_DEBS_DIR: no \.deb in .* tesseract-ocr-rus"):
        fetch_tessdata.fetch(tmp_path / "tessdata", ["rus"], debs_dir=debs)


def test_extract_refuses_a_deb_without_the_file_or_with_a_symlink(tmp_path: Path) -> None:
    empty = make_deb(tmp_path / "empty.deb", {"./usr/share/doc/x/copyright": b"c"})
    linked = make_deb(tmp_path / "linked.deb", {f"{TESSDATA}/eng.traineddata": "/etc/passwd"})

    with pytest.raises(FetchError, match=r"no usr/share/tesseract-ocr/\*/tessdata/eng"):
        fetch_tessdata.extract(empty, "eng.traineddata")
    with pytest.raises(FetchError, match="not a regular file"):
        fetch_tessdata.extract(linked, "eng.traineddata")


def test_main_writes_the_stamp_and_reports_errors_on_stderr(
    tmp_path: Path, debs: Path, no_download: None, capsys: pytest.CaptureFixture[str]
) -> None:
    dest, stamp = tmp_path / "tessdata", tmp_path / "stamp"
    args = ["--dest", str(dest), "--debs-dir", str(debs), "--stamp", str(stamp)]

    assert fetch_tessdata.main([*args, "--languages", "rus,eng rus"]) == 0
    assert stamp.read_text(encoding="utf-8") == "rus eng\n"

    stamp.unlink()
    assert fetch_tessdata.main([*args, "--languages", "eng xyz"]) == 1
    assert "fetch_tessdata: ERROR: no pinned SHA-256 for language 'xyz'" in capsys.readouterr().err
    assert not stamp.exists()


# --- trimming -------------------------------------------------------------------------------------


KEPT = {
    "tesserocr/__init__.py",
    "tesserocr/tesserocr.cpython-312-x86_64-linux-gnu.so",
    "tesserocr.libs/libtesseract-9721d5b3.so.5.5.4",
    "tesserocr-2.13.0.dist-info/METADATA",
    "pypdfium2/__init__.py",
    "pypdfium2/__main__.py",
    "pypdfium2_raw/libpdfium.so",
    "pypdfium2_raw/bindings.py",
    "pypdfium2_cfg/__init__.py",
    "pypdfium2-5.15.2.dist-info/entry_points.txt",
}
REMOVED = {
    "tesserocr/__pycache__/__init__.cpython-312.pyc",
    "pypdfium2/stray.pyc",
    "tesserocr/__init__.pyi",
    "pypdfium2/py.typed",
    "bin/pypdfium2",
    "pypdfium2_cli/__main__.py",
    "pypdfium2_cli/render.py",
    "pypdfium2/tests/test_x.py",
    "tesserocr/tesserocr.cpython-311-x86_64-linux-gnu.so",
}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "artifacts" / "python"
    write_files(site, {name: name.encode() for name in KEPT | REMOVED})
    return site


def remaining(site: Path) -> set[str]:
    return {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}


def test_trim_removes_only_what_lambda_never_loads_and_reports_each_step(site: Path) -> None:
    results = build_layer.trim(site, build_layer.SizeBook(site.parent))

    assert remaining(site) == KEPT
    assert not (site / "pypdfium2_cli").exists()
    assert not (site / "bin").exists()
    removed = {result.step: result.files for result in results[1:]}
    assert sum(removed.values()) == len(REMOVED)
    assert removed["console scripts (bin/) and pypdfium2's CLI (pypdfium2_cli/)"] == 3
    assert results[-1].unzipped_after == sum(len(name.encode()) for name in KEPT)


@pytest.mark.parametrize(
    "essential",
    ["tesserocr/tesserocr.cpython-312-x86_64-linux-gnu.so", "pypdfium2_raw/libpdfium.so"],
)
def test_trim_fails_when_an_essential_library_is_missing(site: Path, essential: str) -> None:
    (site / essential).unlink()

    with pytest.raises(build_layer.BuildError, match="wrong wheel"):
        build_layer.trim(site, build_layer.SizeBook(site.parent))


def test_pip_selects_both_manylinux_platforms_and_the_runtime_only() -> None:
    options = build_layer.pip_options()

    platforms = [options[i + 1] for i, option in enumerate(options) if option == "--platform"]
    assert platforms == ["manylinux_2_28_x86_64", "manylinux2014_x86_64"]
    assert options[options.index("--python-version") + 1] == "3.12"
    assert {"--require-hashes", "--no-deps", "--only-binary=:all:"} <= set(options)
    requirements = Path(options[options.index("-r") + 1]).read_text(encoding="utf-8")
    assert "tesserocr==2.13.0" in requirements
    assert "pypdfium2==5.15.2" in requirements


# --- the self-test's verdict and the size report --------------------------------------------------


def good_report(site: Path, languages: Sequence[str]) -> dict[str, object]:
    """What the self-test child prints when everything works."""
    _, lines = build_layer.selftest_plan(languages)
    return {
        "tesserocr": str(site / "tesserocr" / "__init__.py"),
        "pypdfium2": str(site / "pypdfium2" / "__init__.py"),
        "loaded": {language: language for language in languages},
        "text": "\n\n".join(lines) + "\n",
        "osd": {"orient_deg": 0, "orient_conf": 4.9, "script_name": "Latin"},
        "pdf_written": True,
        "pdf_pages": 1,
        "pdf_text": " ".join(lines),
    }


def test_selftest_plan_checks_latin_lines_with_eng_and_the_cyrillic_one_with_rus() -> None:
    lines = build_layer.SELFTEST_LINES
    cyrillic = [line for line in lines if build_layer.CYRILLIC_RE.search(line)]
    assert cyrillic and len(cyrillic) < len(lines)  # both scripts are on the page

    assert build_layer.selftest_plan(["eng", "rus", "osd"]) == ("eng+rus", list(lines))
    recognize, checked = build_layer.selftest_plan(["eng", "deu", "osd"])
    assert (recognize, set(checked)) == ("eng", set(lines) - set(cyrillic))
    assert build_layer.selftest_plan(["deu", "osd"]) == ("deu", [])


def test_check_selftest_accepts_a_good_report(site: Path) -> None:
    languages = ["eng", "rus", "osd"]
    assert build_layer.check_selftest(good_report(site, languages), languages, site) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: r.update(text=str(r["text"]).replace("lazy", "1azy")), "not recognized"),
        (lambda r: r.update(tesserocr="/usr/lib/python3/tesserocr.py"), "tesserocr was imported"),
        (lambda r: r.update(osd={"orient_deg": 180}), "upright"),
        (lambda r: r.update(osd=None), "upright"),
        (lambda r: r.update(loaded={"eng": "eng"}), "not every language loaded"),
        (lambda r: r.update(pdf_written=False), "pdf.ttf missing"),
        (lambda r: r.update(pdf_text="Quick brown"), "text layer"),
    ],
)
def test_check_selftest_names_what_is_wrong(
    site: Path, change: Callable[[dict[str, object]], None], problem: str
) -> None:
    languages = ["eng", "rus", "osd"]
    report = good_report(site, languages)
    change(report)

    problems = build_layer.check_selftest(report, languages, site)

    assert len(problems) == 1
    assert problem in problems[0]


def test_size_parts_group_the_two_packages_and_tessdata() -> None:
    assert build_layer.part_of(Path("python/tesserocr.libs/libtesseract.so")) == "python/ tesserocr"
    assert build_layer.part_of(Path("python/pypdfium2_raw/libpdfium.so")) == "python/ pypdfium2"
    assert build_layer.part_of(Path("python/six.py")) == "python/ other"
    assert build_layer.part_of(Path("tessdata/eng.traineddata")) == "tessdata/"


def test_the_build_and_check_sizes_share_one_measurement_module() -> None:
    shared = sys.modules["lambda_sizes"]
    assert Path(str(shared.__file__)).resolve() == LAYERS_DIR / "common" / "lambda_sizes.py"
    assert build_layer.files_under is shared.files_under
    assert check_sizes.files_under is shared.files_under
    assert build_layer.LAMBDA_UNZIPPED_LIMIT == check_sizes.LAMBDA_UNZIPPED_LIMIT
