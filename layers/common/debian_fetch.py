"""Pinned Debian packages for the layer builds: download, verify, and read files out of them.

Shared by ``layers/aspose-ocr/fetch_openssl.py`` (libssl1.1 from bullseye-security) and
``layers/tesseract/fetch_tessdata.py`` (Tesseract language data from bookworm). Both import it
from this directory by path: SAM's ``BuildMethod: makefile`` runs each layer's original Makefile,
which reaches this directory through ``$(HERE)/common`` (a link to it).

- :func:`obtain_debs`: a verified copy of each pinned .deb, from a local directory the user
  names, else the cache, else :func:`download_debs`: straight from the archive's pool over
  HTTPS with ``urllib``, so no apt, dpkg or Debian host is needed, only Python (tried: a Debian
  host with apt-get and dpkg hidden from PATH);
- :func:`read_files`: files from a .deb (an ``ar`` archive holding ``data.tar.*``), without dpkg;
- :func:`install_files`: write them, leaving identical files untouched.

Where a .deb is downloaded from (:meth:`DebPin.url`)::

    <archive root>/<pool>/<prefix>/<source package>/<package>_<version without epoch>_<arch>.deb

    https://deb.debian.org/debian/pool/main/t/tesseract-lang/tesseract-ocr-eng_4.1.0-2_all.deb
    https://deb.debian.org/debian-security/pool/updates/main/o/openssl/libssl1.1_1.1.1w-0+deb11u8_amd64.deb

``<prefix>`` is the source package's first letter, or its first four for a ``lib*`` source
(``libx/libxml2``). The archive roots can be replaced by a mirror (or a snapshot.debian.org
archive, which keeps every version ever published) with the variables ``DEBIAN_MIRROR`` and
``DEBIAN_SECURITY_MIRROR`` (:data:`DEBIAN`, :data:`DEBIAN_SECURITY`); http(s)_proxy is honoured.

Whatever the source, a .deb's SHA-256 must equal its pin: that, not the transport or the
mirror, is what makes a .deb trusted (Debian's signed Release files are not consulted). A
download goes to a temporary file next to its cache entry and is moved there only once its
SHA-256 is the pin's. Standard library only; Python >= 3.9.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import socket
import ssl
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: Seconds a connection or a single read may take before the attempt is given up.
TIMEOUT_S = 60.0
#: Attempts per .deb for transient failures (network errors, HTTP 408/429/5xx, short reads).
ATTEMPTS = 3
#: Seconds before the second attempt; doubled before each further one.
RETRY_DELAY_S = 2.0
#: HTTP statuses worth another attempt; any other error status fails at once.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
USER_AGENT = "serverless-ocr-layer-build (debian_fetch.py; Python urllib)"


class FetchError(RuntimeError):
    """Raised with a message meant for the person running the build."""


@dataclass(frozen=True)
class Archive:
    """One Debian archive: the root that holds ``dists/`` and ``pool/``, and its pool's path."""

    #: Its name on snapshot.debian.org (``https://snapshot.debian.org/archive/<name>/<time>``).
    name: str
    #: The environment variable that replaces :attr:`default` (a mirror or a snapshot).
    env: str
    #: The archive root used when :attr:`env` is unset or empty.
    default: str
    #: Where the ``main`` component's packages are, below the root.
    pool: str

    def root(self) -> str:
        """The archive root URL: ``$<env>`` if set, else :attr:`default`; no trailing slash."""
        raw = os.environ.get(self.env, "").strip()
        url = (raw or self.default).rstrip("/")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise FetchError(
                f"{self.env}={raw!r} is not an http(s) URL of a Debian archive root (the "
                f"directory holding pool/), such as {self.default}"
            )
        return url

    def snapshot_hint(self) -> str:
        """How to take a version that left this archive from snapshot.debian.org."""
        return (
            f"snapshot.debian.org keeps every version ever published: "
            f"{self.env}=https://snapshot.debian.org/archive/{self.name}/<YYYYMMDDTHHMMSSZ> "
            f"(a time when the pinned version was current; see "
            f"https://snapshot.debian.org/) downloads it from there, still checked against the pin."
        )


#: Debian's main archive (bookworm and the other releases).
DEBIAN = Archive("debian", "DEBIAN_MIRROR", "https://deb.debian.org/debian", "pool/main")
#: Debian's security archive (bullseye-security and later: ``pool/updates/main``). The same
#: content is at https://security.debian.org/debian-security.
DEBIAN_SECURITY = Archive(
    "debian-security",
    "DEBIAN_SECURITY_MIRROR",
    "https://deb.debian.org/debian-security",
    "pool/updates/main",
)


def pool_prefix(source: str) -> str:
    """The pool directory a source package is filed under: ``openssl`` -> ``o``,
    ``libxml2`` -> ``libx``."""
    return source[:4] if source.startswith("lib") else source[:1]


@dataclass(frozen=True)
class DebPin:
    """One Debian package at an exact version, the SHA-256 of its .deb, and where it lives."""

    package: str
    version: str
    arch: str
    sha256: str
    #: The source package it is built from, when its name is not :attr:`package`'s.
    source: str = ""
    archive: Archive = DEBIAN

    @property
    def spec(self) -> str:
        """``package=version``, as apt and Debian's tools name one version of a package."""
        return f"{self.package}={self.version}"

    @property
    def source_package(self) -> str:
        """The source package's name (the pool directory)."""
        return self.source or self.package

    @property
    def filename(self) -> str:
        """The name the .deb is cached under, as apt-get and dpkg name it (an epoch's colon
        becomes ``%3a``), so caches filled by earlier, apt-based builds stay valid."""
        return f"{self.package}_{self.version.replace(':', '%3a')}_{self.arch}.deb"

    @property
    def pool_filename(self) -> str:
        """The .deb's name in the archive's pool, which leaves the epoch out."""
        return f"{self.package}_{self.version.split(':', 1)[-1]}_{self.arch}.deb"

    @property
    def pool_path(self) -> str:
        """The .deb's path below its archive's root."""
        source = self.source_package
        return f"{self.archive.pool}/{pool_prefix(source)}/{source}/{self.pool_filename}"

    def url(self) -> str:
        """Where the .deb is downloaded from: the archive root (or mirror) + :attr:`pool_path`."""
        return f"{self.archive.root()}/{urllib.parse.quote(self.pool_path, safe='/+~')}"


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


#: What a failed attempt may be worth repeating for: the network, not the answer.
_TRANSIENT = (
    urllib.error.URLError,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
    socket.timeout,
    ssl.SSLError,
)


def _fetch_once(url: str, pin: DebPin, target: Path, help_text: str) -> int:
    """Download ``url`` to ``target`` through a temporary file, verified; return its size."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".partial", dir=target.parent
    )
    partial = Path(partial_name)
    try:
        digest = hashlib.sha256()
        size = 0
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        # Two nested `with`s: a parenthesized pair needs Python 3.10, and this runs on 3.9.
        with os.fdopen(handle, "wb") as out:  # noqa: SIM117
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                length = response.headers.get("Content-Length")
                for chunk in iter(lambda: response.read(1 << 16), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        if length is not None and length.isdigit() and size != int(length):
            raise ConnectionError(f"the connection closed after {size:,} of {int(length):,} bytes")
        actual = digest.hexdigest()
        if actual != pin.sha256:
            raise FetchError(
                f"SHA-256 mismatch for {pin.pool_filename} downloaded from {url}:\n"
                f"  expected {pin.sha256}  (the pin of {pin.spec})\n"
                f"  actual   {actual}  ({size:,} bytes)\n"
                f"The file was not kept. A mirror ({pin.archive.env}) serving other bytes under "
                f"the same name is broken or not to be trusted; a pin that is wrong must be "
                f"fixed.\n{help_text}"
            )
        partial.chmod(0o644)  # mkstemp's 0600 would hide the cache from other users
        os.replace(partial, target)
        return size
    finally:
        partial.unlink(missing_ok=True)


def _where(archive: Archive) -> str:
    """Which archive root was used, and why: the variable's value or the default."""
    if os.environ.get(archive.env, "").strip():
        return f"the archive root is {archive.env}={os.environ[archive.env].strip()}"
    return f"the archive root is {archive.default} ({archive.env} is not set)"


def download_deb(pin: DebPin, target: Path, label: str, help_text: str) -> Path:
    """Download ``pin``'s .deb from its pool URL to ``target``, verified against the pin.

    Network errors, HTTP 408/429/5xx and short reads are retried (:data:`ATTEMPTS`, waiting
    :data:`RETRY_DELAY_S`, then twice as long...); any other HTTP error, and a SHA-256 mismatch,
    fail at once. ``help_text`` ends each error: how to supply the .deb by hand, move the pin.
    """
    url = pin.url()
    failed = f"cannot download {pin.spec} ({pin.arch})"
    print(f"{label}: downloading {url}", flush=True)
    for attempt in range(1, ATTEMPTS + 1):
        started = time.monotonic()
        try:
            size = _fetch_once(url, pin, target, help_text)
        except urllib.error.HTTPError as error:
            status = f"HTTP {error.code} {error.reason}"
            if error.code in (404, 410):
                raise FetchError(
                    f"{failed}: {status} from\n  {url}\n"
                    f"Either the mirror lacks it ({_where(pin.archive)}), or the pinned version "
                    f"has left the archive (a newer update replaced it). "
                    f"{pin.archive.snapshot_hint()}\n{help_text}"
                ) from error
            if error.code not in RETRY_STATUSES or attempt == ATTEMPTS:
                tries = "not retried" if error.code not in RETRY_STATUSES else f"{attempt} attempts"
                raise FetchError(
                    f"{failed}: {status} from\n  {url}\n({tries}; {_where(pin.archive)}).\n"
                    f"{help_text}"
                ) from error
            reason = status
        except _TRANSIENT as error:
            cause = getattr(error, "reason", None) or error
            if attempt == ATTEMPTS:
                raise FetchError(
                    f"{failed} from\n  {url}\n{cause} ({ATTEMPTS} attempts; "
                    f"{_where(pin.archive)}). Without network access to it, set "
                    f"{pin.archive.env} to a Debian mirror you can reach (http(s) proxies are "
                    f"taken from https_proxy/http_proxy), or supply the .deb by hand.\n"
                    f"{help_text}"
                ) from error
            reason = str(cause)
        else:
            seconds = time.monotonic() - started
            print(
                f"{label}: {pin.pool_filename}: {size:,} bytes in {seconds:.1f} s "
                "(SHA-256 verified)",
                flush=True,
            )
            return target
        delay = RETRY_DELAY_S * 2 ** (attempt - 1)
        print(
            f"{label}: {url}: {reason}; attempt {attempt + 1} of {ATTEMPTS} in {delay:g} s",
            file=sys.stderr,
            flush=True,
        )
        time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def download_debs(
    pins: Sequence[DebPin], dest: Path, label: str, help_text: str
) -> dict[DebPin, Path]:
    """Download each pinned .deb into ``dest`` (as :attr:`DebPin.filename`), verified."""
    return {pin: download_deb(pin, dest / pin.filename, label, help_text) for pin in pins}


Downloader = Callable[[Sequence[DebPin], Path, str, str], Mapping[DebPin, Path]]


def obtain_debs(
    pins: Sequence[DebPin],
    cache_dir: Path,
    *,
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
    3. ``download`` (default: :func:`download_debs`, from the archive's pool) of all the rest,
       into ``cache_dir``.
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
        downloaded = (download or download_debs)(missing, cache_dir, label, help_text)
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
