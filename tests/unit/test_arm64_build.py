"""The arm64 (Graviton) build's logic, without emulating anything: the sysroot's pins and
unpacking (layers/common/arm64_sysroot.py), the Tesseract layer's arm64 target, and the size
check's architecture check."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from tests.support.layers import layer_script, make_deb, write_files
from tools import check_sizes

build_layer = layer_script("tesseract", "build_layer", "tesseract_build_layer")
arm64_sysroot: ModuleType = build_layer.arm64_sysroot

#: The first 20 bytes of an ELF file for each machine (64-bit, little endian).
ELF = {
    machine: b"\x7fELF\x02\x01\x01" + bytes(11) + machine.to_bytes(2, "little") + bytes(44)
    for machine in (62, 183)
}


def test_every_pin_is_an_arm64_or_all_deb_with_a_sha256_and_python313_is_there() -> None:
    pins = arm64_sysroot.PINS
    assert len({pin.package for pin in pins}) == len(pins)
    for pin in pins:
        assert pin.arch in ("arm64", "all")
        assert len(pin.sha256) == 64 and int(pin.sha256, 16) >= 0
        # Filed in the main archive's pool under its source package (debian_fetch.py).
        assert pin.pool_path.startswith(f"pool/main/{pin.source_package[:1]}")
        assert pin.pool_path.endswith(f"/{pin.source_package}/{pin.pool_filename}")
    names = {pin.package for pin in pins}
    # The interpreter, its stdlib, and what the layer's and function's native code load.
    assert {"python3.13-minimal", "libpython3.13-stdlib", "libc6", "libstdc++6"} <= names
    assert {"libssl3t64", "libzstd1", "libffi8", "zlib1g"} <= names  # ssl needs libzstd
    assert arm64_sysroot.PYTHON_VERSION == (3, 13) == build_layer.TARGETS["arm64"].python


def test_the_pins_pool_paths_are_trixies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEBIAN_MIRROR", raising=False)
    by_package = {pin.package: pin for pin in arm64_sysroot.PINS}
    assert by_package["python3.13-minimal"].url() == (
        "https://deb.debian.org/debian/pool/main/p/python3.13/"
        "python3.13-minimal_3.13.5-2+deb13u5_arm64.deb"
    )
    # An epoch is in the version, not the pool's file name; lib* sources take four letters.
    assert by_package["zlib1g"].pool_path == (
        "pool/main/z/zlib/zlib1g_1.3.dfsg+really1.3.1-1+deb13u1_arm64.deb"
    )
    assert by_package["libffi8"].pool_path.startswith("pool/main/libf/libffi/")


def test_unpack_writes_files_and_symlinks_like_dpkg_x(tmp_path: Path) -> None:
    deb = make_deb(
        tmp_path / "x.deb",
        {
            "./usr/bin/python3.13": b"\x7fELF...",
            "./usr/lib/aarch64-linux-gnu/libz.so.1.3.1": b"z",
            "./usr/lib/aarch64-linux-gnu/libz.so.1": "libz.so.1.3.1",
        },
    )
    root = tmp_path / "root"
    assert arm64_sysroot.unpack(deb, root) == 3
    assert (root / "usr/bin/python3.13").read_bytes() == b"\x7fELF..."
    link = root / "usr/lib/aarch64-linux-gnu/libz.so.1"
    assert link.is_symlink() and link.read_bytes() == b"z"


def test_unpack_refuses_a_member_that_climbs_out(tmp_path: Path) -> None:
    deb = make_deb(tmp_path / "x.deb", {"./usr/../../escape": b"x"})
    with pytest.raises(arm64_sysroot.SysrootError, match="climbs out"):
        arm64_sysroot.unpack(deb, tmp_path / "root")
    assert not (tmp_path / "escape").exists()


def test_the_sysroot_is_assembled_from_the_verified_debs_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = make_deb(tmp_path / "python.deb", {"./usr/bin/python3.13": b"\x7fELF"})
    libc = make_deb(tmp_path / "libc.deb", {"./usr/lib/aarch64-linux-gnu/libc.so.6": b"c"})
    calls: list[Path] = []

    def obtain_debs(pins: object, cache_dir: Path, **_: object) -> dict[str, Path]:
        calls.append(cache_dir)
        return {"python": python, "libc": libc}

    monkeypatch.setattr(arm64_sysroot, "obtain_debs", obtain_debs)
    root = arm64_sysroot.assemble(tmp_path / "sysroot")
    assert calls == [tmp_path / "sysroot" / "debs"]
    assert (root / "usr/bin/python3.13").read_bytes() == b"\x7fELF"
    assert (root / "lib").readlink() == Path("usr/lib")  # merged /usr
    assert arm64_sysroot.assemble(tmp_path / "sysroot") == root  # the stamp matches: reused
    assert len(calls) == 1


def test_a_failed_download_is_a_sysroot_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def obtain_debs(*_: object, **__: object) -> None:
        raise arm64_sysroot.FetchError("HTTP 404 from the pool")

    monkeypatch.setattr(arm64_sysroot, "obtain_debs", obtain_debs)
    with pytest.raises(arm64_sysroot.SysrootError, match="HTTP 404"):
        arm64_sysroot.assemble(tmp_path)


def test_without_qemu_on_x86_64_it_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(arm64_sysroot, "native_arm64", lambda: False)
    monkeypatch.setattr(arm64_sysroot, "qemu_path", lambda: None)
    monkeypatch.setattr(arm64_sysroot.platform, "system", lambda: "Linux")
    reason = arm64_sysroot.unavailable_reason()
    assert reason is not None and "apt-get install -y qemu-user-static" in reason
    with pytest.raises(arm64_sysroot.SysrootError, match="qemu-aarch64-static is not installed"):
        arm64_sysroot.python_command(Path("/sysroot"))


def test_with_qemu_the_sysroots_python_runs_emulated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(arm64_sysroot, "native_arm64", lambda: False)
    monkeypatch.setattr(arm64_sysroot, "qemu_path", lambda: "/usr/bin/qemu-aarch64-static")
    assert arm64_sysroot.python_command(Path("/s")) == [
        "/usr/bin/qemu-aarch64-static",
        "-L",
        "/s",
        "/s/usr/bin/python3.13",
    ]


# --- the Tesseract layer's arm64 target -----------------------------------------------------------


def test_the_arm64_layer_takes_cp313_aarch64_wheels_from_its_own_requirements() -> None:
    options = build_layer.pip_options(build_layer.TARGETS["arm64"])
    platforms = [options[i + 1] for i, option in enumerate(options) if option == "--platform"]
    assert platforms == ["manylinux_2_28_aarch64", "manylinux2014_aarch64"]
    assert options[options.index("--python-version") + 1] == "3.13"
    requirements = Path(options[options.index("-r") + 1])
    assert requirements.name == "requirements-arm64.txt"
    assert build_layer.pip_options() == build_layer.pip_options(build_layer.TARGETS["x86_64"])


def test_the_arm64_trim_keeps_cpython_313_modules_only(tmp_path: Path) -> None:
    site = write_files(
        tmp_path / "artifacts" / "python",
        {
            "tesserocr/tesserocr.cpython-313-aarch64-linux-gnu.so": b"a",
            "tesserocr/tesserocr.cpython-312-aarch64-linux-gnu.so": b"b",
            "pypdfium2_raw/libpdfium.so": b"c",
        },
    )
    build_layer.trim(site, build_layer.SizeBook(site.parent), build_layer.TARGETS["arm64"])
    assert sorted(p.name for p in site.rglob("*.so")) == [
        "libpdfium.so",
        "tesserocr.cpython-313-aarch64-linux-gnu.so",
    ]


def test_a_native_file_for_the_other_processor_fails_the_layer_build(tmp_path: Path) -> None:
    site = write_files(tmp_path, {"a/good.so": ELF[183], "b.py": b"x", "c.so": b"not an ELF"})
    build_layer.check_machine(site, build_layer.TARGETS["arm64"])
    write_files(site, {"a/bad.so.1": ELF[62]})
    with pytest.raises(build_layer.BuildError, match=r"not built for arm64: a/bad\.so\.1"):
        build_layer.check_machine(site, build_layer.TARGETS["arm64"])


def test_an_arm64_layer_that_cannot_be_self_tested_fails_the_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(arm64_sysroot, "unavailable_reason", lambda: "qemu is not installed")
    with pytest.raises(build_layer.BuildError, match="A layer that never ran is not offered"):
        build_layer.selftest_interpreter(build_layer.TARGETS["arm64"])


def test_x86_64_self_tests_on_the_build_interpreter() -> None:
    import sys

    command, timeout = build_layer.selftest_interpreter(build_layer.TARGETS["x86_64"])
    assert command == [sys.executable]
    assert timeout == build_layer.SELFTEST_TIMEOUT_S


def test_main_reads_the_architecture_from_lambda_architecture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    monkeypatch.setenv("LAMBDA_ARCHITECTURE", "arm64")
    monkeypatch.setattr(
        build_layer, "build", lambda _a, _l, _d, target: seen.append(target.architecture)
    )
    assert build_layer.main(["--artifacts-dir", str(tmp_path)]) == 0
    assert build_layer.main(["--artifacts-dir", str(tmp_path), "--architecture", "x86_64"]) == 0
    assert seen == ["arm64", "x86_64"]


# --- check_sizes --architecture -------------------------------------------------------------------


def test_check_sizes_names_native_files_built_for_the_other_architecture(tmp_path: Path) -> None:
    function = write_files(tmp_path / "OcrFunction", {"PIL/_imaging.so": ELF[183], "app.py": b""})
    layer = write_files(tmp_path / "TesseractLayer", {"python/t.so": ELF[183]})
    assert check_sizes.check_architecture([function, layer], "arm64") is None
    problem = check_sizes.check_architecture([function, layer], "x86_64")
    assert problem is not None
    assert "2 native file(s) are not built for x86_64" in problem
    assert "OcrFunction/PIL/_imaging.so" in problem and "make build ARCH=x86_64" in problem


def test_check_sizes_fails_a_build_for_the_wrong_architecture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(tmp_path / "OcrFunction", {"x.so": ELF[62]})
    write_files(tmp_path / "TesseractLayer", {"python/t.so": ELF[62]})
    arguments = [str(tmp_path), "--engine", "tesseract=TesseractLayer", "--no-zip"]
    assert check_sizes.main([*arguments, "--architecture", "arm64"]) == 1
    assert "WRONG ARCHITECTURE" in capsys.readouterr().out
    assert check_sizes.main([*arguments, "--architecture", "x86_64"]) == 0
    assert "every native file is built for it" in capsys.readouterr().out
