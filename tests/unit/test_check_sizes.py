"""tools/check_sizes.py: sizes of a built function plus layers against Lambda's unzipped limit."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import pytest

from tests.support.layers import write_files
from tools import check_sizes
from tools.check_sizes import Sizes, check, main, measure

#: name -> content of the synthetic directory: compressible, incompressible, empty, non-ASCII.
TREE: dict[str, bytes] = {
    "a.txt": b"a" * 1000,
    "sub/random.bin": random.Random(0).randbytes(5000),
    "sub/deeper/empty": b"",
    "sub/ünïcödé.txt": "grüße\n".encode(),
}


def zip_as_sam_does(root: Path, archive: Path) -> int:
    """Zip ``root`` the way SAM does (zipfile, ZIP_DEFLATED, one entry per file); return bytes."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix())
            info.compress_type = zipfile.ZIP_DEFLATED
            zipped.writestr(info, path.read_bytes())
    return archive.stat().st_size


def test_measure_counts_files_and_unzipped_bytes_exactly(tmp_path: Path) -> None:
    root = write_files(tmp_path / "d", TREE)

    sizes = measure(root, zipped=False)

    assert sizes == Sizes(files=4, unzipped=sum(len(c) for c in TREE.values()), zipped=0)


def test_measure_zipped_equals_a_real_deflate_zip_of_the_directory(tmp_path: Path) -> None:
    root = write_files(tmp_path / "d", TREE)

    sizes = measure(root)

    # The model (ZIP_PER_FILE + 2 * name + deflated data per file, ZIP_END once) is exact for
    # what zipfile writes, including the empty file and the UTF-8 name.
    assert sizes.zipped == zip_as_sam_does(root, tmp_path / "real.zip")
    # Plausible: 1000 x "a" shrinks to almost nothing, random bytes do not shrink.
    assert 5000 < sizes.zipped < sizes.unzipped


def test_measure_follows_directory_symlinks_as_sam_does(tmp_path: Path) -> None:
    outside = write_files(tmp_path / "outside", {"lib.so": b"x" * 300})
    root = write_files(tmp_path / "d", {"a": b"12345"})
    (root / "linked").symlink_to(outside, target_is_directory=True)

    assert measure(root, zipped=False) == Sizes(files=2, unzipped=305, zipped=0)


def test_measure_refuses_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope"):
        measure(tmp_path / "nope")


def test_check_passes_at_the_limit_and_fails_one_byte_over(tmp_path: Path) -> None:
    function = write_files(tmp_path / "OcrFunction", {"app.py": b"f" * 100})
    layers = [
        write_files(tmp_path / "LayerA", {"python/x.py": b"x" * 400}),
        write_files(tmp_path / "LayerB", {"lib/y.so": b"y" * 500}),
    ]

    at_limit = check(function, layers, limit=1000, zipped=False)
    over = check(function, layers, limit=999, zipped=False)

    assert at_limit.total == Sizes(files=3, unzipped=1000, zipped=0)
    assert [name for name, _ in at_limit.layers] == ["LayerA", "LayerB"]
    assert at_limit.ok
    assert at_limit.headroom == 0
    assert not over.ok
    assert over.headroom == -1


def test_check_zipped_total_is_the_sum_of_separate_archives(tmp_path: Path) -> None:
    function = write_files(tmp_path / "OcrFunction", {"app.py": b"f" * 100})
    layer = write_files(tmp_path / "Layer", TREE)

    result = check(function, layer)

    assert result.total.zipped == (
        zip_as_sam_does(function, tmp_path / "f.zip") + zip_as_sam_does(layer, tmp_path / "l.zip")
    )


@pytest.fixture
def build_dir(tmp_path: Path) -> Path:
    """A `sam build` output: 1,000 bytes of function and 9,000 of layer, unzipped."""
    build = tmp_path / "build"
    write_files(build / "OcrFunction", {"app.py": b"f" * 1000})
    write_files(build / "AsposeOcrLayer", {"python/engine.so": b"e" * 9000})
    return build


def test_main_exits_0_and_says_ok_when_it_fits(
    build_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([str(build_dir), "--limit", "10000"])

    out = capsys.readouterr().out
    assert code == 0
    assert "function OcrFunction" in out
    assert "layer AsposeOcrLayer" in out
    assert "OK: 10,000 bytes unzipped is within Lambda's 10,000 (0 bytes left)" in out


def test_main_exits_1_naming_both_sizes_when_too_big(
    build_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([str(build_dir), "--limit", "9999", "--no-zip"])

    out = capsys.readouterr().out
    assert code == 1
    verdict = out.splitlines()[-1]
    assert verdict.startswith("TOO BIG: function plus layers are 10,000 bytes unzipped")
    assert "1 bytes over Lambda's limit of 9,999 bytes" in verdict


def test_main_checks_the_real_limit_by_default(
    build_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(build_dir)]) == 0
    assert "within Lambda's 262,144,000" in capsys.readouterr().out


def test_main_exits_2_naming_what_is_missing(
    build_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([str(build_dir), "--layer", "AsposeOcrLayer", "--layer", "OtherLayer"])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert str(build_dir / "OtherLayer") in captured.err
    assert str(build_dir / "AsposeOcrLayer") not in captured.err
    assert "run `sam build` first" in captured.err


# --- one combination per engine (a deployment attaches only its engine's layer) -------------------


@pytest.fixture
def engines_build(tmp_path: Path) -> Path:
    """Function 1,000 bytes; Aspose layer 9,000; Tesseract layer 5,000 (unzipped)."""
    build = tmp_path / "build"
    write_files(build / "OcrFunction", {"app.py": b"f" * 1000})
    write_files(build / "AsposeOcrLayer", {"python/engine.so": b"e" * 9000})
    write_files(build / "TesseractLayer", {"python/t.so": b"t" * 4000, "tessdata/eng": b"d" * 1000})
    return build


ENGINE_ARGS = ["--engine", "aspose=AsposeOcrLayer", "--engine", "tesseract=TesseractLayer"]


def test_check_engines_checks_each_combination_on_its_own(engines_build: Path) -> None:
    function = engines_build / "OcrFunction"
    engines = {
        "aspose": [engines_build / "AsposeOcrLayer"],
        "tesseract": [engines_build / "TesseractLayer"],
    }

    results = check_sizes.check_engines(function, engines, limit=8000, zipped=False)

    assert results["aspose"].total == Sizes(files=2, unzipped=10_000, zipped=0)
    assert results["tesseract"].total == Sizes(files=3, unzipped=6_000, zipped=0)
    assert not results["aspose"].ok
    assert results["tesseract"].ok  # both layers together (15,000) would have failed it


def test_main_with_engines_names_the_combination_that_is_too_big(
    engines_build: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([str(engines_build), *ENGINE_ARGS, "--limit", "8000", "--no-zip"])

    out = capsys.readouterr().out
    assert code == 1
    assert "engine aspose: function OcrFunction + AsposeOcrLayer" in out
    assert "engine tesseract: function OcrFunction + TesseractLayer" in out
    assert out.splitlines()[-1] == (
        "TOO BIG for engine aspose (10,000 bytes, 2,000 over): that deployment would fail."
    )


def test_main_with_engines_exits_0_when_every_combination_fits(
    engines_build: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 10,000 fits each engine; function plus both layers (15,000) would not.
    code = main([str(engines_build), *ENGINE_ARGS, "--limit", "10000"])

    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[-1].startswith("OK: every engine's function plus layer fits")
    assert out.count("OK: ") == 3  # one verdict per engine, and the summary


def test_an_engine_may_have_several_layers(engines_build: Path) -> None:
    code = main(
        [str(engines_build), "--engine", "both=AsposeOcrLayer,TesseractLayer", "--limit", "14999"]
    )

    assert code == 1


@pytest.mark.parametrize("bad", ["tesseract", "=TesseractLayer", "tesseract=", "x=,"])
def test_a_malformed_engine_is_a_usage_error(
    engines_build: Path, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([str(engines_build), "--engine", bad])

    assert exited.value.code == 2
    assert "expected ENGINE=LAYER" in capsys.readouterr().err


def test_main_with_engines_exits_2_naming_a_missing_layer(
    engines_build: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([str(engines_build), "--engine", "tesseract=TesseractLayer,Nope"])

    assert code == 2
    assert str(engines_build / "Nope") in capsys.readouterr().err
