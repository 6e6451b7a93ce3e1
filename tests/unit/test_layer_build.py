"""The AsposeOcrLayer build scripts: OpenSSL 1.1 from a pinned .deb, trimming, size measurement.

Fast and offline: a synthetic .deb and synthetic trees stand in for Debian's package and the
140 MB wheel (the real build runs with `make -C layers/aspose-ocr build-AsposeOcrLayer`).
"""

from __future__ import annotations

import hashlib
import struct
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support.layers import LAYERS_DIR, layer_script, make_deb, write_files
from tools import check_sizes
from tools.check_sizes import measure

build_layer = layer_script("aspose-ocr", "build_layer")
fetch_openssl = layer_script("aspose-ocr", "fetch_openssl")

LIBSSL = b"\x7fELF fake libssl 1.1"
LIBCRYPTO = b"\x7fELF fake libcrypto 1.1, odd length"


# --- fetch_openssl --------------------------------------------------------------------------------


def libssl_deb(path: Path, libraries: dict[str, bytes] | None = None) -> Path:
    """Write a minimal libssl1.1-like .deb to ``path``."""
    libs = {"libssl.so.1.1": LIBSSL, "libcrypto.so.1.1": LIBCRYPTO}
    if libraries is not None:
        libs = libraries
    data: dict[str, bytes | str] = {
        f"./usr/lib/x86_64-linux-gnu/{name}": content for name, content in libs.items()
    }
    data["./usr/lib/x86_64-linux-gnu/libssl.so"] = "libssl.so.1.1"  # not one of the two
    data["./usr/lib/other/libssl.so.1.1"] = b"wrong directory"
    data["./usr/share/doc/libssl1.1/copyright"] = b"copyright\n"
    return make_deb(path, data, package="libssl1.1")


@pytest.fixture
def deb(tmp_path: Path) -> Path:
    return libssl_deb(tmp_path / "libssl1.1_test_amd64.deb")


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything tries to download a .deb."""

    def refuse(*args: object) -> None:
        pytest.fail(f"download attempted: {args}")

    monkeypatch.setattr(fetch_openssl.debian_fetch, "download_debs", refuse)


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch, deb: Path) -> Path:
    """Pin the synthetic .deb's hash, as if it were the real package."""
    monkeypatch.setattr(fetch_openssl, "DEB_SHA256", hashlib.sha256(deb.read_bytes()).hexdigest())
    return deb


def test_extract_libraries_reads_both_from_the_deb(deb: Path) -> None:
    assert fetch_openssl.extract_libraries(deb) == {
        "libssl.so.1.1": LIBSSL,
        "libcrypto.so.1.1": LIBCRYPTO,
    }


def test_extract_libraries_names_a_missing_library(tmp_path: Path) -> None:
    deb = libssl_deb(tmp_path / "partial.deb", {"libssl.so.1.1": LIBSSL})

    with pytest.raises(fetch_openssl.FetchError, match=r"libcrypto\.so\.1\.1 not found"):
        fetch_openssl.extract_libraries(deb)


def test_extract_libraries_refuses_what_is_not_an_ar_archive(tmp_path: Path) -> None:
    not_deb = tmp_path / "x.deb"
    not_deb.write_bytes(b"PK\x03\x04 a zip")

    with pytest.raises(fetch_openssl.FetchError, match=r"not a \.deb"):
        fetch_openssl.extract_libraries(not_deb)


def test_fetch_uses_the_deb_named_by_libssl11_deb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pinned: Path, no_download: None
) -> None:
    monkeypatch.setenv(fetch_openssl.ENV_DEB, str(pinned))
    dest, cache = tmp_path / "lib", tmp_path / "cache"

    assert fetch_openssl.main(["--dest", str(dest), "--cache", str(cache)]) == 0

    assert (dest / "libssl.so.1.1").read_bytes() == LIBSSL
    assert (dest / "libcrypto.so.1.1").read_bytes() == LIBCRYPTO
    assert sorted(p.name for p in dest.iterdir()) == ["libcrypto.so.1.1", "libssl.so.1.1"]
    assert not cache.exists()  # the env file is used in place, not copied into the cache


def test_libssl11_deb_wins_over_the_cache_and_never_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pinned: Path, no_download: None
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    # A valid cached copy is there, but LIBSSL11_DEB names the file to use.
    (cache / fetch_openssl.DEB_FILENAME).write_bytes(pinned.read_bytes())
    monkeypatch.setenv(fetch_openssl.ENV_DEB, str(pinned))
    assert fetch_openssl.obtain_deb(cache) == pinned

    monkeypatch.setenv(fetch_openssl.ENV_DEB, str(tmp_path / "missing.deb"))
    with pytest.raises(fetch_openssl.FetchError, match=r"LIBSSL11_DEB=.*missing\.deb"):
        fetch_openssl.obtain_deb(cache)


def test_a_deb_with_another_hash_is_refused_naming_expected_and_actual(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    deb: Path,
    no_download: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(fetch_openssl.ENV_DEB, str(deb))
    actual = hashlib.sha256(deb.read_bytes()).hexdigest()
    dest = tmp_path / "lib"

    code = fetch_openssl.main(["--dest", str(dest), "--cache", str(tmp_path / "cache")])

    err = capsys.readouterr().err
    assert code == 1
    assert "SHA-256 mismatch" in err
    assert f"expected {fetch_openssl.DEB_SHA256}" in err
    assert f"actual   {actual}" in err
    assert str(deb) in err
    assert not dest.exists()


def test_the_pin_is_a_sha256() -> None:
    assert len(fetch_openssl.DEB_SHA256) == 64
    int(fetch_openssl.DEB_SHA256, 16)


def test_a_corrupt_cached_deb_is_discarded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pinned: Path
) -> None:
    monkeypatch.delenv(fetch_openssl.ENV_DEB, raising=False)
    cache = tmp_path / "cache"
    cache.mkdir()
    cached = cache / fetch_openssl.DEB_FILENAME
    cached.write_bytes(b"truncated download")
    downloads: list[str] = []

    def download(pins: Sequence[Any], dest: Path, label: str, help_text: str) -> dict[Any, Path]:
        downloads.extend(pin.filename for pin in pins)
        (dest / pins[0].filename).write_bytes(pinned.read_bytes())
        return {pins[0]: dest / pins[0].filename}

    monkeypatch.setattr(fetch_openssl.debian_fetch, "download_debs", download)

    assert fetch_openssl.obtain_deb(cache) == cached
    assert downloads == [fetch_openssl.DEB_FILENAME]
    assert cached.read_bytes() == pinned.read_bytes()


# --- build_layer: trimming ------------------------------------------------------------------------


def pe_image(magic: int, cli_header: bool, directories: int = 16) -> bytes:
    """A minimal PE image: DOS header, PE signature, COFF header, optional header with
    ``directories`` data directories; entry 14 (the CLI header) set if ``cli_header``."""
    count_at, directories_at = {0x10B: (92, 96), 0x20B: (108, 112)}[magic]
    optional = bytearray(directories_at + 8 * directories)
    struct.pack_into("<H", optional, 0, magic)
    struct.pack_into("<I", optional, count_at, directories)
    if cli_header:
        struct.pack_into("<II", optional, directories_at + 14 * 8, 0x2008, 0x48)
    dos = bytearray(0x80)
    dos[0:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, len(dos))
    coff = struct.pack("<HHIIIHH", 0x8664, 0, 0, 0, 0, len(optional), 0x2022)
    return bytes(dos) + b"PE\0\0" + coff + bytes(optional)


@pytest.mark.parametrize("magic", [0x10B, 0x20B], ids=["PE32", "PE32+"])
def test_is_native_pe_tells_native_from_managed(tmp_path: Path, magic: int) -> None:
    native, managed = tmp_path / "native.dll", tmp_path / "Managed.dll"
    native.write_bytes(pe_image(magic, cli_header=False))
    managed.write_bytes(pe_image(magic, cli_header=True))

    assert build_layer.is_native_pe(native)
    assert not build_layer.is_native_pe(managed)


def test_is_native_pe_keeps_what_is_not_a_pe_image(tmp_path: Path) -> None:
    few_directories = tmp_path / "old.exe"  # no room for a CLI header: native
    few_directories.write_bytes(pe_image(0x20B, cli_header=False, directories=10))
    elf = tmp_path / "libcoreclr.so"
    elf.write_bytes(b"\x7fELF" + b"\0" * 200)
    truncated = tmp_path / "cut.dll"
    truncated.write_bytes(pe_image(0x20B, cli_header=False)[:0x90])
    mz_only = tmp_path / "text.dll"
    mz_only.write_bytes(b"MZ")

    assert build_layer.is_native_pe(few_directories)
    assert not build_layer.is_native_pe(elf)
    assert not build_layer.is_native_pe(truncated)
    assert not build_layer.is_native_pe(mz_only)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A small stand-in for the installed aspose-ocr-python-net, under artifacts/python."""
    site = tmp_path / "artifacts" / "python"
    write_files(
        site,
        {
            "aspose/__init__.py": b"",
            "aspose/ocr.cpython-312-x86_64-linux-gnu.so": b"\x7fELF 312",
            "aspose/ocr.cpython-311-x86_64-linux-gnu.so": b"\x7fELF 311",
            "aspose/ocr.cpython-313-x86_64-linux-gnu.so": b"\x7fELF 313",
            "aspose/pydrawing.cpython-310d-x86_64-linux-gnu.so": b"\x7fELF 310d",
            "aspose/helper.abi3.so": b"\x7fELF abi3",
            "aspose/assemblies/ocr/Aspose.OCR.dll": pe_image(0x10B, cli_header=True),
            "aspose/assemblies/ocr/Aspose.PDF.dll": pe_image(0x10B, cli_header=True),
            "aspose/assemblies/ocr/onnxruntime.dll": pe_image(0x20B, cli_header=False),
            "aspose/assemblies/ocr/libonnxruntime.so": b"\x7fELF onnx",
            "aspose/runtime/libnethost.a": b"!<arch>\n",
            "aspose/runtime/libcoreclr.so": b"\x7fELF coreclr",
            "aspose/runtime/createdump": b"\x7fELF createdump",
            "aspose/runtime/libmscordaccore.so": b"\x7fELF dac",
            "aspose/runtime/libmscordbi.so": b"\x7fELF dbi",
            "aspose/runtime/SOS_README.md": b"sos",
            "aspose/__pyinstaller/hook-aspose.py": b"",
            "aspose/__pycache__/__init__.cpython-312.pyc": b"pyc",
            "aspose/ocr.pyi": b"def f() -> None: ...",
        },
    )
    return site


def selected(select: Callable[[Path], list[Path]], site: Path) -> set[str]:
    return {path.relative_to(site).as_posix() for path in select(site)}


def test_other_abis_extension_modules_are_selected_but_cp312_kept(site: Path) -> None:
    assert selected(build_layer.select_other_abis, site) == {
        "aspose/ocr.cpython-311-x86_64-linux-gnu.so",
        "aspose/ocr.cpython-313-x86_64-linux-gnu.so",
        "aspose/pydrawing.cpython-310d-x86_64-linux-gnu.so",
    }


def test_windows_native_dlls_are_selected_managed_assemblies_kept(site: Path) -> None:
    assert selected(build_layer.select_windows_native, site) == {
        "aspose/assemblies/ocr/onnxruntime.dll"
    }


def test_static_archives_are_selected(site: Path) -> None:
    assert selected(build_layer.select_static_archives, site) == {"aspose/runtime/libnethost.a"}


def test_debugger_files_are_selected(site: Path) -> None:
    assert selected(build_layer.select_debugger_files, site) == {
        "aspose/runtime/createdump",
        "aspose/runtime/libmscordaccore.so",
        "aspose/runtime/libmscordbi.so",
        "aspose/runtime/SOS_README.md",
    }


def test_packaging_leftovers_are_selected_as_whole_directories(site: Path) -> None:
    assert selected(build_layer.select_packaging_leftovers, site) == {
        "aspose/__pyinstaller",
        "aspose/__pycache__",
        "aspose/ocr.pyi",
    }


KEPT_ALWAYS = {
    "aspose/__init__.py",
    "aspose/ocr.cpython-312-x86_64-linux-gnu.so",
    "aspose/helper.abi3.so",
    "aspose/assemblies/ocr/Aspose.OCR.dll",
    "aspose/assemblies/ocr/libonnxruntime.so",
    "aspose/runtime/libcoreclr.so",
}


def remaining(site: Path) -> set[str]:
    return {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}


def test_trim_keeps_the_pdf_assembly_by_default(site: Path) -> None:
    results = build_layer.trim(site, without_pdf=False, book=build_layer.SizeBook(site.parent))

    assert remaining(site) == KEPT_ALWAYS | {"aspose/assemblies/ocr/Aspose.PDF.dll"}
    assert not any("PDF" in result.step for result in results)
    assert not (site / "aspose" / "__pyinstaller").exists()  # emptied directories go too


def test_trim_without_pdf_removes_only_the_pdf_assembly_more(site: Path) -> None:
    pdf_size = (site / "aspose/assemblies/ocr/Aspose.PDF.dll").stat().st_size

    results = build_layer.trim(site, without_pdf=True, book=build_layer.SizeBook(site.parent))

    assert remaining(site) == KEPT_ALWAYS
    last = results[-1]
    assert build_layer.PDF_ASSEMBLY in last.step
    assert (last.files, last.removed) == (1, pdf_size)
    assert last.unzipped_after == sum((site / name).stat().st_size for name in KEPT_ALWAYS)


def test_trim_fails_when_no_cp312_engine_is_left(site: Path) -> None:
    (site / "aspose/ocr.cpython-312-x86_64-linux-gnu.so").unlink()

    with pytest.raises(build_layer.BuildError, match=r"no aspose/ocr\.cpython-312-\*\.so left"):
        build_layer.trim(site, without_pdf=False, book=build_layer.SizeBook(site.parent))


# --- build_layer: sizes ---------------------------------------------------------------------------


def test_the_build_and_check_sizes_measure_the_same(site: Path) -> None:
    artifacts = site.parent
    write_files(artifacts, {"lib/libssl.so.1.1": LIBSSL, "ocr-models/README.txt": b"models"})

    sizes = measure(artifacts)

    assert build_layer.SizeBook(artifacts).sizes() == (sizes.unzipped, sizes.zipped)


def test_the_build_uses_the_shared_measurement_module() -> None:
    shared = sys.modules["lambda_sizes"]
    assert Path(str(shared.__file__)).resolve() == LAYERS_DIR / "common" / "lambda_sizes.py"
    assert build_layer.files_under is shared.files_under
    assert build_layer.zip_entry_size is shared.zip_entry_size
    assert check_sizes.files_under is shared.files_under
    assert check_sizes.zip_entry_size is shared.zip_entry_size


# --- bundling engine models ------------------------------------------------------------------


def test_requested_models_are_file_names_only() -> None:
    assert build_layer.requested_models(" aspose-ocr-cyrillic-v1.ocr, x-v2.ocr ,") == [
        "aspose-ocr-cyrillic-v1.ocr",
        "x-v2.ocr",
    ]
    for bad in ("../etc/passwd.ocr", "model.bin", "a/b.ocr"):
        with pytest.raises(build_layer.BuildError, match="not a model file name"):
            build_layer.requested_models(bad)


def test_models_are_bundled_from_the_models_dir(tmp_path: Path) -> None:
    source, models = tmp_path / "source", tmp_path / "layer" / "ocr-models"
    source.mkdir()
    models.mkdir(parents=True)
    (source / "aspose-ocr-cyrillic-v1.ocr").write_bytes(b"stand-in model")

    build_layer.bundle_models(
        models, ["aspose-ocr-cyrillic-v1.ocr"], source, tmp_path / "site", tmp_path / "lib"
    )

    assert (models / "aspose-ocr-cyrillic-v1.ocr").read_bytes() == b"stand-in model"
