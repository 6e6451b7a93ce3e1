#!/usr/bin/env python3
"""Put OpenSSL 1.1 (``libssl.so.1.1``, ``libcrypto.so.1.1``) into a directory for the OCR layer.

The .NET Core 3.1 runtime inside ``aspose-ocr-python-net`` needs OpenSSL 1.1 (Amazon Linux 2023
only has 3.x, and without 1.1 ``AsposeOcr()`` aborts the process). The libraries come from
Debian bullseye's ``libssl1.1`` package, pinned to one version and one SHA-256::

    python3 layers/aspose-ocr/fetch_openssl.py --dest .cache/openssl11/lib

How the .deb is obtained, first match wins:

1. env ``LIBSSL11_DEB`` names a local .deb file (for build hosts without apt);
2. the verified copy in ``--cache DIR`` (default ``${XDG_CACHE_HOME:-~/.cache}/aspose-ocr-layer``);
3. ``apt-get download libssl1.1=VERSION`` against Debian's bullseye-security archive, using a
   temporary sources list, lists directory and cache, so the host's apt state is never touched.

Whatever the source, the file's SHA-256 must equal ``DEB_SHA256``. The two libraries are then
read straight from the .deb (an ``ar`` archive holding ``data.tar.*``) with the standard library,
so no ``dpkg`` is needed, and written to ``--dest`` only if they differ from what is there.

Standard library only; Python >= 3.9.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

# --- the pin -----------------------------------------------------------------------------------
#: Debian package that provides the libraries.
PACKAGE = "libssl1.1"
#: Exact package version (bullseye-security). To move the pin, see ``PIN_HELP``.
DEB_VERSION = "1.1.1w-0+deb11u8"
#: SHA-256 of ``libssl1.1_<DEB_VERSION>_amd64.deb``.
DEB_SHA256 = "dcc68a543de6cb955a57077b66dcdb15f61d1e31e072f2c6cc4082c37da1b00d"
#: The one apt source used for the download (written to a temporary sources list).
APT_SOURCE = (
    "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
    "http://deb.debian.org/debian-security bullseye-security main"
)
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
#: Where the libraries sit inside the package's data archive.
LIB_DIR_IN_DEB = "usr/lib/x86_64-linux-gnu"
LIBRARIES: tuple[str, ...] = ("libssl.so.1.1", "libcrypto.so.1.1")

ENV_DEB = "LIBSSL11_DEB"
DEB_FILENAME = f"{PACKAGE}_{DEB_VERSION}_amd64.deb"

PIN_HELP = (
    "To move the pin: find the current libssl1.1 version in bullseye-security "
    "(https://packages.debian.org/bullseye/libssl1.1, or `apt-cache policy libssl1.1` with that "
    "source), download its amd64 .deb, check it, and update DEB_VERSION and DEB_SHA256 at the "
    f"top of {Path(__file__).name}. Or point {ENV_DEB} at a .deb you trust whose SHA-256 is "
    "the pinned one."
)


class FetchError(RuntimeError):
    """Raised with a message meant for the person running the build."""


def default_cache_dir() -> Path:
    """Return ``${XDG_CACHE_HOME:-~/.cache}/aspose-ocr-layer``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aspose-ocr-layer"


def sha256_of(path: Path) -> str:
    """Return the hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, origin: str) -> None:
    """Raise :class:`FetchError` unless ``path`` has the pinned SHA-256."""
    actual = sha256_of(path)
    if actual != DEB_SHA256:
        raise FetchError(
            f"SHA-256 mismatch for {path} ({origin}):\n"
            f"  expected {DEB_SHA256}  ({DEB_FILENAME})\n"
            f"  actual   {actual}\n"
            f"{PIN_HELP}"
        )


def _apt_options(state: Path) -> list[str]:
    """Return apt-get options that keep every bit of apt state inside ``state``."""
    lists = state / "lists"
    cache = state / "cache"
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    (cache / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    sources = state / "sources.list"
    sources.write_text(APT_SOURCE + "\n", encoding="utf-8")
    status = state / "status"  # an empty dpkg status: the host's installed packages don't matter
    status.write_text("", encoding="utf-8")
    options = {
        "Dir::State::Lists": str(lists),
        "Dir::State::status": str(status),
        "Dir::Cache": str(cache),
        "Dir::Etc::SourceList": str(sources),
        "Dir::Etc::SourceParts": "/dev/null",
        "APT::Architecture": "amd64",
        "APT::Architectures": "amd64",
    }
    if os.geteuid() == 0:
        # The temporary directories are not readable by the _apt sandbox user; say so up front
        # instead of letting apt print a warning for every download.
        options["APT::Sandbox::User"] = "root"
    result: list[str] = []
    for key, value in options.items():
        result += ["-o", f"{key}={value}"]
    return result


def _run_apt(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run apt-get with ``args`` in ``cwd``, capturing its output."""
    return subprocess.run(
        ["apt-get", "-q", *args],
        cwd=str(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )


def download_with_apt(target: Path) -> None:
    """Download the pinned .deb with apt-get to ``target`` (verified before it is moved there)."""
    if shutil.which("apt-get") is None:
        raise FetchError(
            "apt-get is not available on this machine, so the pinned "
            f"{PACKAGE} {DEB_VERSION} .deb cannot be downloaded. Get {DEB_FILENAME} "
            f"(SHA-256 {DEB_SHA256}) some other way and set {ENV_DEB}=/path/to/it."
        )
    if not KEYRING.is_file():
        raise FetchError(
            f"{KEYRING} is missing (Debian: package debian-archive-keyring), so apt cannot check "
            f"Debian's archive signature. Install it, or set {ENV_DEB}=/path/to/{DEB_FILENAME}."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fetch-openssl-") as tmp:
        state = Path(tmp)
        options = _apt_options(state)
        print(f"fetch_openssl: apt-get update (temporary lists: {APT_SOURCE})", flush=True)
        update = _run_apt([*options, "update"], state)
        if update.returncode != 0:
            raise FetchError(
                f"`apt-get update` for the temporary bullseye-security source failed "
                f"(exit {update.returncode}):\n{update.stdout.strip()}"
            )
        out = state / "download"
        out.mkdir()
        print(f"fetch_openssl: apt-get download {PACKAGE}={DEB_VERSION}", flush=True)
        download = _run_apt([*options, "download", f"{PACKAGE}={DEB_VERSION}"], out)
        if download.returncode != 0:
            raise FetchError(
                f"`apt-get download {PACKAGE}={DEB_VERSION}` failed (exit "
                f"{download.returncode}); the pinned version may no longer be in "
                f"bullseye-security:\n{download.stdout.strip()}\n{PIN_HELP}"
            )
        debs = sorted(out.glob("*.deb"))
        if len(debs) != 1:
            raise FetchError(f"apt-get download left {len(debs)} .deb files in {out}, expected 1")
        verify(debs[0], "downloaded with apt-get")
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(debs[0], partial)
        os.replace(partial, target)


def obtain_deb(cache_dir: Path) -> Path:
    """Return the path of a verified copy of the pinned .deb, downloading it if needed."""
    local = os.environ.get(ENV_DEB)
    if local:
        path = Path(local)
        if not path.is_file():
            raise FetchError(f"{ENV_DEB}={local} does not name a file")
        verify(path, f"from ${ENV_DEB}")
        print(f"fetch_openssl: using {path} (from ${ENV_DEB}, SHA-256 verified)", flush=True)
        return path
    cached = cache_dir / DEB_FILENAME
    if cached.is_file():
        actual = sha256_of(cached)
        if actual == DEB_SHA256:
            print(f"fetch_openssl: using cached {cached} (SHA-256 verified)", flush=True)
            return cached
        print(
            f"fetch_openssl: discarding cached {cached}: SHA-256 {actual}, expected {DEB_SHA256}",
            file=sys.stderr,
        )
        cached.unlink()
    download_with_apt(cached)
    print(f"fetch_openssl: cached {cached} (SHA-256 verified)", flush=True)
    return cached


def ar_members(data: bytes) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, content)`` for each member of a Unix ``ar`` archive (a .deb is one)."""
    magic = b"!<arch>\n"
    if not data.startswith(magic):
        raise FetchError("not a .deb: the ar archive magic is missing")
    offset = len(magic)
    while offset + 60 <= len(data):
        header = data[offset : offset + 60]
        if header[58:60] != b"`\n":
            raise FetchError(f"corrupt ar header at byte {offset}")
        name = header[0:16].decode("ascii").rstrip()
        if name.endswith("/"):  # GNU ar terminates names with a slash; dpkg's don't
            name = name[:-1]
        size = int(header[48:58].decode("ascii").strip())
        start = offset + 60
        yield name, data[start : start + size]
        offset = start + size + (size % 2)  # members are aligned to even offsets


def extract_libraries(deb: Path) -> dict[str, bytes]:
    """Return ``{library name: content}`` for ``LIBRARIES``, read from ``deb`` without dpkg."""
    for name, content in ar_members(deb.read_bytes()):
        if name.startswith("data.tar"):
            if name.endswith(".zst"):
                raise FetchError(f"{deb}: {name} is zstd-compressed, which tarfile cannot read")
            found: dict[str, bytes] = {}
            with tarfile.open(fileobj=io.BytesIO(content), mode="r:*") as archive:
                for member in archive:
                    path = member.name.lstrip("./")
                    directory, _, base = path.rpartition("/")
                    if directory != LIB_DIR_IN_DEB or base not in LIBRARIES:
                        continue
                    if not member.isfile():
                        raise FetchError(f"{deb}: {member.name} is not a regular file")
                    handle = archive.extractfile(member)
                    if handle is None:
                        raise FetchError(f"{deb}: cannot read {member.name}")
                    found[base] = handle.read()
            missing = [lib for lib in LIBRARIES if lib not in found]
            if missing:
                raise FetchError(f"{deb}: {', '.join(missing)} not found in {name}")
            return found
    raise FetchError(f"{deb}: no data.tar member; is it really a .deb?")


def install_libraries(libraries: dict[str, bytes], dest: Path) -> None:
    """Write each library to ``dest`` unless an identical file is already there."""
    dest.mkdir(parents=True, exist_ok=True)
    for name, content in sorted(libraries.items()):
        target = dest / name
        if target.is_file() and not target.is_symlink() and target.read_bytes() == content:
            print(f"fetch_openssl: {target} is up to date ({len(content)} bytes)", flush=True)
            continue
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(content)
        partial.chmod(0o644)
        os.replace(partial, target)
        print(f"fetch_openssl: wrote {target} ({len(content)} bytes)", flush=True)


def fetch(dest: Path, cache_dir: Path | None = None) -> None:
    """Put the pinned ``libssl.so.1.1`` and ``libcrypto.so.1.1`` into ``dest``."""
    deb = obtain_deb(cache_dir if cache_dir is not None else default_cache_dir())
    install_libraries(extract_libraries(deb), dest)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(
        description=f"Put libssl/libcrypto 1.1 from Debian's {PACKAGE} {DEB_VERSION} into DIR.",
    )
    parser.add_argument("--dest", type=Path, required=True, help="directory for the libraries")
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="where the verified .deb is kept between runs "
        "(default: ${XDG_CACHE_HOME:-~/.cache}/aspose-ocr-layer)",
    )
    args = parser.parse_args(argv)
    try:
        fetch(args.dest, args.cache)
    except FetchError as error:
        print(f"fetch_openssl: ERROR: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
