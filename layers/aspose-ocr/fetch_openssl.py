#!/usr/bin/env python3
"""Put OpenSSL 1.1 (``libssl.so.1.1``, ``libcrypto.so.1.1``) into a directory for the OCR layer.

The .NET Core 3.1 runtime inside ``aspose-ocr-python-net`` needs OpenSSL 1.1 (Amazon Linux 2023
only has 3.x, and without 1.1 ``AsposeOcr()`` aborts the process). The libraries come from
Debian bullseye's ``libssl1.1`` package, pinned to one version and one SHA-256::

    python3 layers/aspose-ocr/fetch_openssl.py --dest .cache/openssl11/lib

How the .deb is obtained, first match wins:

1. env ``LIBSSL11_DEB`` names a local .deb file (to build offline, or from a copy you keep);
2. the verified copy in ``--cache DIR`` (default ``${XDG_CACHE_HOME:-~/.cache}/aspose-ocr-layer``);
3. a download straight from Debian's security archive over HTTPS (``urllib``: no apt, no dpkg,
   any host with Python, SAM's build container included)::

       https://deb.debian.org/debian-security/pool/updates/main/o/openssl/libssl1.1_<VERSION>_amd64.deb

   ``DEBIAN_SECURITY_MIRROR`` replaces ``https://deb.debian.org/debian-security`` (a mirror, or
   ``https://snapshot.debian.org/archive/debian-security/<time>`` once the version has left
   the archive).

Whatever the source, the file's SHA-256 must equal ``DEB_SHA256``. The two libraries are then
read straight from the .deb (an ``ar`` archive holding ``data.tar.*``) with the standard library,
so no ``dpkg`` is needed, and written to ``--dest`` only if they differ from what is there.

The download, verification and .deb reading are ``layers/common/debian_fetch.py``, shared
with the Tesseract layer. Standard library only; Python >= 3.9.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path

# The shared Debian fetch code: layers/common, reached through the link common -> ../common
# beside this file, else directly (see build_layer.py).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "common"))
sys.path.insert(0, str(Path(__file__).resolve().parent / "common"))
import debian_fetch
from debian_fetch import FetchError, sha256_of

__all__ = ["FetchError", "sha256_of"]

# --- the pin -----------------------------------------------------------------------------------
#: Debian package that provides the libraries.
PACKAGE = "libssl1.1"
#: Exact package version (bullseye-security). To move the pin, see ``PIN_HELP``.
DEB_VERSION = "1.1.1w-0+deb11u8"
#: SHA-256 of ``libssl1.1_<DEB_VERSION>_amd64.deb``.
DEB_SHA256 = "dcc68a543de6cb955a57077b66dcdb15f61d1e31e072f2c6cc4082c37da1b00d"
#: The source package it is built from (its directory in the pool), and the archive.
SOURCE_PACKAGE = "openssl"
ARCHIVE = debian_fetch.DEBIAN_SECURITY
#: Where the libraries sit inside the package's data archive.
LIB_DIR_IN_DEB = "usr/lib/x86_64-linux-gnu"
LIBRARIES: tuple[str, ...] = ("libssl.so.1.1", "libcrypto.so.1.1")

ENV_DEB = "LIBSSL11_DEB"
DEB_FILENAME = f"{PACKAGE}_{DEB_VERSION}_amd64.deb"
LABEL = "fetch_openssl"

PIN_HELP = (
    "To move the pin: find the current libssl1.1 version in bullseye-security "
    "(https://packages.debian.org/bullseye/libssl1.1, or the pool directory "
    "https://deb.debian.org/debian-security/pool/updates/main/o/openssl/), download its amd64 "
    ".deb, `sha256sum` it, and update DEB_VERSION and DEB_SHA256 at the top of "
    f"layers/aspose-ocr/{Path(__file__).name}. Or point {ENV_DEB} at a .deb you trust whose "
    "SHA-256 is the pinned one."
)


def default_cache_dir() -> Path:
    """Return ``${XDG_CACHE_HOME:-~/.cache}/aspose-ocr-layer``."""
    return debian_fetch.default_cache_dir("aspose-ocr-layer")


def _pin() -> debian_fetch.DebPin:
    """The pin as the shared code takes it (read at call time: tests move the pin)."""
    return debian_fetch.DebPin(
        PACKAGE, DEB_VERSION, "amd64", DEB_SHA256, source=SOURCE_PACKAGE, archive=ARCHIVE
    )


def verify(path: Path, origin: str) -> None:
    """Raise :class:`FetchError` unless ``path`` has the pinned SHA-256."""
    debian_fetch.verify(path, DEB_SHA256, DEB_FILENAME, origin, PIN_HELP)


def obtain_deb(cache_dir: Path) -> Path:
    """Return the path of a verified copy of the pinned .deb, downloading it if needed."""
    local = os.environ.get(ENV_DEB)
    if local:
        path = Path(local)
        if not path.is_file():
            raise FetchError(f"{ENV_DEB}={local} does not name a file")
        verify(path, f"from ${ENV_DEB}")
        print(f"{LABEL}: using {path} (from ${ENV_DEB}, SHA-256 verified)", flush=True)
        return path
    pin = _pin()
    help_text = (
        f"To supply it by hand: download {DEB_FILENAME} (SHA-256 {DEB_SHA256}) some other "
        f"way and set {ENV_DEB}=/path/to/it.\n{PIN_HELP}"
    )
    return debian_fetch.obtain_debs([pin], cache_dir, label=LABEL, help_text=help_text)[pin]


def ar_members(data: bytes) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, content)`` for each member of a Unix ``ar`` archive (a .deb is one)."""
    return debian_fetch.ar_members(data)


def _select_library(path: str) -> str | None:
    directory, _, base = path.rpartition("/")
    return base if directory == LIB_DIR_IN_DEB and base in LIBRARIES else None


def extract_libraries(deb: Path) -> dict[str, bytes]:
    """Return ``{library name: content}`` for ``LIBRARIES``, read from ``deb`` without dpkg."""
    found = debian_fetch.read_files(deb, _select_library)
    missing = [lib for lib in LIBRARIES if lib not in found]
    if missing:
        raise FetchError(f"{deb}: {', '.join(missing)} not found in its data archive")
    return found


def install_libraries(libraries: dict[str, bytes], dest: Path) -> None:
    """Write each library to ``dest`` unless an identical file is already there."""
    debian_fetch.install_files(libraries, dest, LABEL)


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
