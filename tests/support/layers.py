"""The layers' build scripts, imported by path as they run (their directory on sys.path), and
what stands in for Debian's packages and the wheels: synthetic .debs and file trees."""

from __future__ import annotations

import functools
import importlib.util
import io
import sys
import tarfile
from pathlib import Path
from types import ModuleType

from tests.support.deployment import REPO

LAYERS_DIR = REPO / "layers"


@functools.cache
def layer_script(layer: str, name: str, module_name: str | None = None) -> ModuleType:
    """``layers/<layer>/<name>.py`` imported once per session under ``module_name`` (default:
    ``name``), with its directory on sys.path while it loads, as for a script."""
    directory = LAYERS_DIR / layer
    module_name = module_name or name
    spec = importlib.util.spec_from_file_location(module_name, directory / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, str(directory))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(directory))
    return module


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


def make_deb(path: Path, data: dict[str, bytes | str], package: str = "x") -> Path:
    """Write a .deb as dpkg-deb does (debian-binary, control, data) holding ``data``."""
    control = tar_xz({"./control": f"Package: {package}\n".encode()})
    path.write_bytes(
        ar_archive(
            [
                ("debian-binary", b"2.0\n"),
                ("control.tar.xz", control),
                ("data.tar.xz", tar_xz(data)),
            ]
        )
    )
    return path


def write_files(root: Path, files: dict[str, bytes]) -> Path:
    """Write each name -> content under ``root`` (directories as needed); return ``root``."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root
