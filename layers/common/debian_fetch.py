"""Pinned Debian packages for the layer builds: download, verify, and read files out of them.

Shared by ``layers/aspose-ocr/fetch_openssl.py`` (libssl1.1 from bullseye-security) and
``layers/tesseract/fetch_tessdata.py`` (Tesseract language data from bookworm). Both import it
from this directory by path: SAM's ``BuildMethod: makefile`` runs each layer's original Makefile,
which reaches this directory through ``$(HERE)/../common``.

- :func:`obtain_debs`: a verified copy of each pinned .deb, from a local directory the user
  names, else the cache, else ``apt-get download`` with a temporary sources list, lists
  directory, status file and cache, so the host's apt state is never read or written;
- :func:`read_files`: files from a .deb (an ``ar`` archive holding ``data.tar.*``), without dpkg;
- :func:`install_files`: write them, leaving identical files untouched.

Whatever the source, a .deb's SHA-256 must equal its pin. Standard library only; Python >= 3.9.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: Debian's archive signing keys, which apt needs to trust the temporary source.
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


class FetchError(RuntimeError):
    """Raised with a message meant for the person running the build."""


@dataclass(frozen=True)
class DebPin:
    """One Debian package at an exact version, and the SHA-256 of its .deb."""

    package: str
    version: str
    arch: str
    sha256: str

    @property
    def spec(self) -> str:
        """What ``apt-get download`` is asked for: ``package=version``."""
        return f"{self.package}={self.version}"

    @property
    def filename(self) -> str:
        """The .deb's file name as apt-get writes it (an epoch's colon becomes ``%3a``)."""
        return f"{self.package}_{self.version.replace(':', '%3a')}_{self.arch}.deb"


def default_cache_dir(name: str) -> Path:
    """Return ``${XDG_CACHE_HOME:-~/.cache}/<name>``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / name


def sha256_of(path: Path) -> str:
    """Return the hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, expected: str, expected_name: str, origin: str, help_text: str) -> None:
    """Raise :class:`FetchError` naming both hashes unless ``path`` has SHA-256 ``expected``."""
    actual = sha256_of(path)
    if actual != expected:
        raise FetchError(
            f"SHA-256 mismatch for {path} ({origin}):\n"
            f"  expected {expected}  ({expected_name})\n"
            f"  actual   {actual}\n"
            f"{help_text}"
        )


def apt_options(state: Path, source: str) -> list[str]:
    """Return apt-get options that keep every bit of apt state inside ``state``."""
    lists = state / "lists"
    cache = state / "cache"
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    (cache / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    sources = state / "sources.list"
    sources.write_text(source + "\n", encoding="utf-8")
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


def run_apt(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run apt-get with ``args`` in ``cwd``, capturing its output."""
    return subprocess.run(
        ["apt-get", "-q", *args],
        cwd=str(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )


def apt_download(
    pins: Sequence[DebPin], source: str, dest: Path, label: str, help_text: str
) -> dict[DebPin, Path]:
    """Download every pinned .deb with one temporary apt session into ``dest``, verified.

    ``help_text`` ends each error: it says how to do without apt (a local .deb) or move a pin.
    """
    specs = " ".join(pin.spec for pin in pins)
    if shutil.which("apt-get") is None:
        raise FetchError(
            f"apt-get is not available on this machine, so {specs} cannot be downloaded.\n"
            f"{help_text}"
        )
    if not KEYRING.is_file():
        raise FetchError(
            f"{KEYRING} is missing (Debian: package debian-archive-keyring), so apt cannot check "
            f"Debian's archive signature. Install it, or do without apt:\n{help_text}"
        )
    dest.mkdir(parents=True, exist_ok=True)
    found: dict[DebPin, Path] = {}
    with tempfile.TemporaryDirectory(prefix="debian-fetch-") as tmp:
        state = Path(tmp)
        options = apt_options(state, source)
        print(f"{label}: apt-get update (temporary lists: {source})", flush=True)
        update = run_apt([*options, "update"], state)
        if update.returncode != 0:
            raise FetchError(
                f"`apt-get update` for the temporary source failed (exit {update.returncode}):\n"
                f"{update.stdout.strip()}"
            )
        out = state / "download"
        out.mkdir()
        print(f"{label}: apt-get download {specs}", flush=True)
        download = run_apt([*options, "download", *(pin.spec for pin in pins)], out)
        if download.returncode != 0:
            raise FetchError(
                f"`apt-get download {specs}` failed (exit {download.returncode}); a pinned "
                f"version may no longer be in the archive:\n{download.stdout.strip()}\n"
                f"{help_text}"
            )
        for pin in pins:
            downloaded = out / pin.filename
            if not downloaded.is_file():
                left = sorted(path.name for path in out.iterdir())
                raise FetchError(f"apt-get download left {left} in {out}, not {pin.filename}")
            verify(downloaded, pin.sha256, pin.filename, "downloaded with apt-get", help_text)
            target = dest / pin.filename
            partial = target.with_name(target.name + ".partial")
            shutil.copyfile(downloaded, partial)
            os.replace(partial, target)
            found[pin] = target
    return found


Downloader = Callable[[Sequence[DebPin], str, Path, str, str], Mapping[DebPin, Path]]


def obtain_debs(
    pins: Sequence[DebPin],
    cache_dir: Path,
    *,
    source: str,
    label: str,
    help_text: str,
    local_dir: Path | None = None,
    local_origin: str = "a local directory",
    download: Downloader | None = None,
) -> dict[DebPin, Path]:
    """Return a verified .deb for each pin, first match wins:

    1. ``local_dir`` (when given: the only source, never a fallback): any ``*.deb`` in it whose
       SHA-256 is the pin's, whatever its name;
    2. the verified copy in ``cache_dir`` (a corrupt copy is discarded);
    3. ``download`` (default: :func:`apt_download`) of all the rest at once, into ``cache_dir``.
    """
    result: dict[DebPin, Path] = {}
    if local_dir is not None:
        if not local_dir.is_dir():
            raise FetchError(f"{local_origin}: {local_dir} is not a directory")
        by_hash = {sha256_of(path): path for path in sorted(local_dir.glob("*.deb"))}
        for pin in pins:
            if pin.sha256 not in by_hash:
                raise FetchError(
                    f"{local_origin}: no .deb in {local_dir} has the SHA-256 pinned for "
                    f"{pin.filename} ({pin.sha256}).\n{help_text}"
                )
            result[pin] = by_hash[pin.sha256]
            print(f"{label}: using {result[pin]} ({local_origin}, SHA-256 verified)", flush=True)
        return result
    missing: list[DebPin] = []
    for pin in pins:
        cached = cache_dir / pin.filename
        if cached.is_file():
            actual = sha256_of(cached)
            if actual == pin.sha256:
                result[pin] = cached
                continue
            print(
                f"{label}: discarding cached {cached}: SHA-256 {actual}, expected {pin.sha256}",
                file=sys.stderr,
            )
            cached.unlink()
        missing.append(pin)
    if result:
        print(f"{label}: {len(result)} cached .deb(s) in {cache_dir} (SHA-256 verified)")
    if missing:
        downloaded = (download or apt_download)(missing, source, cache_dir, label, help_text)
        for pin in missing:
            verify(downloaded[pin], pin.sha256, pin.filename, "downloaded", help_text)
            result[pin] = downloaded[pin]
        print(f"{label}: cached {len(missing)} downloaded .deb(s) in {cache_dir}", flush=True)
    return {pin: result[pin] for pin in pins}


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


def read_files(deb: Path, select: Callable[[str], str | None]) -> dict[str, bytes]:
    """Return ``{key: content}`` for the files of ``deb``'s data archive that ``select`` picks.

    ``select`` gets each member's path without a leading ``./`` (``usr/lib/...``) and returns
    the key to store it under, or None to skip it. A picked member that is not a regular file
    (a symlink, say) is an error: the caller expected content.
    """
    for name, content in ar_members(deb.read_bytes()):
        if not name.startswith("data.tar"):
            continue
        if name.endswith(".zst"):
            raise FetchError(f"{deb}: {name} is zstd-compressed, which tarfile cannot read")
        found: dict[str, bytes] = {}
        with tarfile.open(fileobj=io.BytesIO(content), mode="r:*") as archive:
            for member in archive:
                key = select(member.name.lstrip("./"))
                if key is None:
                    continue
                if not member.isfile():
                    raise FetchError(f"{deb}: {member.name} is not a regular file")
                handle = archive.extractfile(member)
                if handle is None:
                    raise FetchError(f"{deb}: cannot read {member.name}")
                if key in found:
                    raise FetchError(f"{deb}: more than one member for {key}")
                found[key] = handle.read()
        return found
    raise FetchError(f"{deb}: no data.tar member; is it really a .deb?")


def install_files(files: Mapping[str, bytes], dest: Path, label: str) -> list[str]:
    """Write each file to ``dest`` unless an identical one is there; return the names written."""
    dest.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    for name, content in sorted(files.items()):
        target = dest / name
        if target.is_file() and not target.is_symlink() and target.read_bytes() == content:
            print(f"{label}: {target} is up to date ({len(content)} bytes)", flush=True)
            continue
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(content)
        partial.chmod(0o644)
        os.replace(partial, target)
        written.append(name)
        print(f"{label}: wrote {target} ({len(content)} bytes)", flush=True)
    return written
