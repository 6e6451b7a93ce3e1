"""The AsposeOcrLayer build scripts: OpenSSL 1.1 from a pinned .deb, trimming, size measurement.

Fast and offline: a synthetic .deb and synthetic trees stand in for Debian's package and the
140 MB wheel (the real build runs with `make -C layers/aspose-ocr build-AsposeOcrLayer`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import struct
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from tools import check_sizes
from tools.check_sizes import measure

LAYER_DIR = Path(__file__).resolve().parents[1] / "layers" / "aspose-ocr"
COMMON_DIR = LAYER_DIR.parent / "common"


def load(name: str) -> ModuleType:
    """Import ``layers/aspose-ocr/<name>.py`` by path, with its directory on sys.path as for a
    script (build_layer.py imports lambda_sizes.py from layers/common)."""
    spec = importlib.util.spec_from_file_location(name, LAYER_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(LAYER_DIR))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(LAYER_DIR))
    return module


build_layer = load("build_layer")
fetch_openssl = load("fetch_openssl")

LIBSSL = b"\x7fELF fake libssl 1.1"
LIBCRYPTO = b"\x7fELF fake libcrypto 1.1, odd length"


# --- fetch_openssl --------------------------------------------------------------------------------


def tar_xz(entries: dict[str, bytes | str]) -> bytes:
    """A tar.xz of ``entries``: bytes are regular files, a str is a symlink's target."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as archive:
        for name, content in entries.items():
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                archive.addfile(info)
            else:
                info.size, info.mode = len(content), 0o644
                archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def ar_archive(members: list[tuple[str, bytes]]) -> bytes:
    """A Unix ar archive as dpkg-deb writes it (60-byte headers, members padded to even)."""
    out = b"!<arch>\n"
    for name, content in members:
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(content):<10}`\n"
        out += header.encode("ascii") + content + (b"\n" if len(content) % 2 else b"")
    return out


def make_deb(path: Path, libraries: dict[str, bytes] | None = None) -> Path:
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
    path.write_bytes(
        ar_archive(
            [
                ("debian-binary", b"2.0\n"),
                ("control.tar.xz", tar_xz({"./control": b"Package: libssl1.1\n"})),
                ("data.tar.xz", tar_xz(data)),
            ]
        )
    )
    return path


@pytest.fixture
def deb(tmp_path: Path) -> Path:
    return make_deb(tmp_path / "libssl1.1_test_amd64.deb")


@pytest.fixture
def no_apt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything tries to download with apt."""

    def refuse(target: Path) -> None:
        pytest.fail(f"apt-get download attempted for {target}")

    monkeypatch.setattr(fetch_openssl, "download_with_apt", refuse)


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
    deb = make_deb(tmp_path / "partial.deb", {"libssl.so.1.1": LIBSSL})

    with pytest.raises(fetch_openssl.FetchError, match=r"libcrypto\.so\.1\.1 not found"):
        fetch_openssl.extract_libraries(deb)


def test_extract_libraries_refuses_what_is_not_an_ar_archive(tmp_path: Path) -> None:
    not_deb = tmp_path / "x.deb"
    not_deb.write_bytes(b"PK\x03\x04 a zip")

    with pytest.raises(fetch_openssl.FetchError, match=r"not a \.deb"):
        fetch_openssl.extract_libraries(not_deb)


def test_fetch_uses_the_deb_named_by_libssl11_deb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pinned: Path, no_apt: None
) -> None:
    monkeypatch.setenv(fetch_openssl.ENV_DEB, str(pinned))
    dest, cache = tmp_path / "lib", tmp_path / "cache"

    assert fetch_openssl.main(["--dest", str(dest), "--cache", str(cache)]) == 0

    assert (dest / "libssl.so.1.1").read_bytes() == LIBSSL
    assert (dest / "libcrypto.so.1.1").read_bytes() == LIBCRYPTO
    assert sorted(p.name for p in dest.iterdir()) == ["libcrypto.so.1.1", "libssl.so.1.1"]
    assert not cache.exists()  # the env file is used in place, not copied into the cache


def test_libssl11_deb_wins_over_the_cache_and_never_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pinned: Path, no_apt: None
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
    no_apt: None,
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
    downloads: list[Path] = []

    def download(target: Path) -> None:
        downloads.append(target)
        target.write_bytes(pinned.read_bytes())

    monkeypatch.setattr(fetch_openssl, "download_with_apt", download)

    assert fetch_openssl.obtain_deb(cache) == cached
    assert downloads == [cached]
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


def write_files(root: Path, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


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
    assert build_layer.LAMBDA_UNZIPPED_LIMIT == 262_144_000


def test_the_build_uses_the_shared_measurement_module() -> None:
    shared = sys.modules["lambda_sizes"]
    assert Path(str(shared.__file__)).resolve() == COMMON_DIR / "lambda_sizes.py"
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


def test_a_model_that_cannot_be_had_fails_the_build_clearly(tmp_path: Path) -> None:
    models = tmp_path / "ocr-models"
    models.mkdir()
    # No engine in this "site": the download attempt fails at once, as it would offline.
    with pytest.raises(build_layer.BuildError) as raised:
        build_layer.bundle_models(
            models, ["aspose-ocr-arabic-v1.ocr"], tmp_path / "source", tmp_path / "site", tmp_path
        )
    message = str(raised.value)
    assert "aspose-ocr-arabic-v1.ocr is not in" in message
    assert "OCR_MODELS_DIR" in message
    assert not (models / "aspose-ocr-arabic-v1.ocr").exists()


# --- the engine in an isolated interpreter (layer_engine.py) --------------------------------


STAND_IN_ENGINE = '''\
"""A stand-in for aspose.ocr: the calls layer_engine.py makes."""
import pathlib

TEXT = {text!r}
_local = [""]


class Logging:
    set_file_system = staticmethod(lambda enabled: None)


class Resources:
    set_local_path = staticmethod(lambda path: _local.__setitem__(0, path))
    allow_automatic_downloads = staticmethod(lambda allowed: None)

    @staticmethod
    def fetch_resource(name):
        pathlib.Path(_local[0], name).write_bytes(b"downloaded " + name.encode())


class InputType:
    SINGLE_IMAGE = 0


class OcrInput:
    def __init__(self, kind):
        self.images = []

    def add(self, stream):
        self.images.append(stream.read())


class RecognitionSettings:
    pass


class _Result:
    def __init__(self, text):
        self.recognition_text, self.warnings = text, ["trial"]


class AsposeOcr:
    def recognize(self, source, settings):
        return [_Result(TEXT) for _ in source.images]
'''


def stand_in_engine(site: Path, text: str) -> Path:
    """An importable `aspose.ocr` and its distribution's metadata under ``site``."""
    write_files(
        site,
        {
            "aspose/__init__.py": b"",
            "aspose/ocr.py": STAND_IN_ENGINE.format(text=text).encode(),
            "aspose_ocr_python_net-26.10.0.dist-info/METADATA": (
                b"Metadata-Version: 2.1\nName: aspose-ocr-python-net\nVersion: 26.10.0\n"
            ),
        },
    )
    return site


READ_WELL = "LAYER SELF TEST\nQuick brown foxes jump over lazy dogs"


def test_the_self_test_runs_layer_engine_py_on_the_layer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    artifacts = tmp_path / "artifacts"
    stand_in_engine(artifacts / "python", READ_WELL)
    (artifacts / "ocr-models").mkdir()

    build_layer.self_test(artifacts)

    printed = capsys.readouterr().out
    assert "self-test passed" in printed
    assert "aspose-ocr-python-net 26.10.0" in printed  # the version from the layer's metadata


def test_the_self_test_fails_when_the_layer_reads_wrongly(tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    stand_in_engine(artifacts / "python", "LAYER SELF")
    (artifacts / "ocr-models").mkdir()

    with pytest.raises(build_layer.BuildError, match=r"recognized text lacks \['TEST', 'Quick'"):
        build_layer.self_test(artifacts)


def test_the_self_test_sees_only_the_layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine on this interpreter's path (PYTHONPATH, the current directory) is no
    substitute for one in the layer."""
    elsewhere = stand_in_engine(tmp_path / "elsewhere", READ_WELL)
    monkeypatch.setenv("PYTHONPATH", str(elsewhere))
    monkeypatch.chdir(elsewhere)
    artifacts = tmp_path / "artifacts"
    (artifacts / "python").mkdir(parents=True)
    (artifacts / "ocr-models").mkdir()

    with pytest.raises(build_layer.BuildError, match=r"could not recognize selftest\.png"):
        build_layer.self_test(artifacts)


def test_a_missing_model_is_downloaded_with_the_layers_engine(tmp_path: Path) -> None:
    site = stand_in_engine(tmp_path / "site", READ_WELL)
    source, models = tmp_path / "source", tmp_path / "ocr-models"
    models.mkdir()

    build_layer.bundle_models(models, ["aspose-ocr-arabic-v1.ocr"], source, site, tmp_path)

    downloaded = b"downloaded aspose-ocr-arabic-v1.ocr"
    assert (source / "aspose-ocr-arabic-v1.ocr").read_bytes() == downloaded  # kept for next time
    assert (models / "aspose-ocr-arabic-v1.ocr").read_bytes() == downloaded
