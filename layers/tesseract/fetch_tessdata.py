#!/usr/bin/env python3
"""Put Tesseract's language data (``<lang>.traineddata``, ``osd.traineddata``, ``pdf.ttf``) in DIR.

Used by the TesseractLayer build (its ``tessdata/``, ``/opt/tessdata`` in Lambda) and by
``make setup`` (``.cache/tessdata``, for local runs and tests), so both get the same bytes::

    python3 layers/tesseract/fetch_tessdata.py --dest .cache/tessdata [--languages "eng rus"]

The data comes from Debian bookworm's packages, each pinned to one version and one SHA-256
(``LANGUAGE_PINS`` below): ``tesseract-ocr-<lang>`` (source ``tesseract-lang`` 1:4.1.0-2, the
tessdata_fast models), ``tesseract-ocr-osd`` (orientation and script detection, always included:
the function needs it) and ``libtesseract5`` (only for ``pdf.ttf``, which Tesseract's
searchable-PDF renderer loads from the tessdata directory).

How each .deb is obtained, first match wins (``layers/common/debian_fetch.py``):

1. env ``TESSERACT_DEBS_DIR`` (or ``--debs-dir``) names a directory of .debs (to build offline,
   or from copies you keep): any file there whose SHA-256 is the pin's; it is the only source
   then;
2. the verified copy in ``--cache DIR`` (default ``${XDG_CACHE_HOME:-~/.cache}/tesseract-layer``);
3. a download straight from Debian's pool over HTTPS (``urllib``: no apt, no dpkg, any host with
   Python, SAM's build container included), e.g.
   ``https://deb.debian.org/debian/pool/main/t/tesseract-lang/tesseract-ocr-eng_4.1.0-2_all.deb``
   (the pool's names leave out the epoch ``1:``). ``DEBIAN_MIRROR`` replaces
   ``https://deb.debian.org/debian`` (a mirror, or a snapshot.debian.org archive).

A language without a pin is refused (its data could not be verified); ``PIN_HELP`` says how to
add one. Files are written only if they differ, and ``*.traineddata`` not asked for are removed
from DIR, so DIR holds exactly the requested set. Standard library only; Python >= 3.9.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

# The shared Debian fetch code: layers/common, reached through the link common -> ../common
# beside this file, else directly (see build_layer.py).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "common"))
sys.path.insert(0, str(Path(__file__).resolve().parent / "common"))
import debian_fetch
from debian_fetch import DebPin, FetchError

__all__ = ["FetchError"]

LABEL = "fetch_tessdata"

# --- the pins -------------------------------------------------------------------------------------
#: Version of every ``tesseract-ocr-<lang>`` package in bookworm, osd's included.
LANGUAGE_VERSION = "1:4.1.0-2"
#: The source package they are all built from: their directory in the pool.
LANGUAGE_SOURCE = "tesseract-lang"
#: Tesseract language code -> SHA-256 of ``tesseract-ocr-<code>_1%3a4.1.0-2_all.deb``
#: (the package name spells ``_`` as ``-``: chi_sim is tesseract-ocr-chi-sim).
LANGUAGE_PINS: dict[str, str] = {
    "deu": "01b50e1211a634b54090c05084d758656c62ff18078698a9b1981097b812fce2",
    "eng": "9242d054563262398f8cf41fbd96fcc72f9dde70db16de18539882a6cff74f9d",
    "fra": "9987c4124bc6ee3f49d89710735cd5493a02b6c66f85c92385234dfc4de9b4ec",
    "ita": "1425ea229b2de05a71f0c3ca31e522724ed7219b36429aef36877c8fd2d37268",
    "osd": "72cc0ba5a04e4d38e5d7901ae2f0319f4941fddaa4a77d1a86110909c036bacb",
    "por": "02c651b9f8c67ef2b0d830adda168ccfd7cb295c7a28ab217e187eb381005fa1",
    "rus": "115f30363bacd85ba48f1e4d038f3d942e6d2afe271198ea3204bbf67ab2d3f1",
    "spa": "0801ffaed45c241a2aa17496cc0f21861eb6a0fae946fdf05c650448a5882565",
    "ukr": "fb4f49c5866bf0d4ded9682f5a9fef484969f08ea399272d3d78fc8626e6af5d",
}
#: Only for pdf.ttf (572 bytes); the library itself is not used (tesserocr bundles its own).
LIBTESSERACT = DebPin(
    "libtesseract5",
    "5.3.0-2",
    "amd64",
    "19b1719f30235eaf209866b219d4dbdd4dddd813758a8d5b9715c78c40702ff1",
    source="tesseract",
)
PDF_FONT = "pdf.ttf"
#: Always included: orientation and script detection.
ALWAYS = ("osd",)
#: What a build gets when TESSERACT_LANGUAGES is not set.
DEFAULT_LANGUAGES: tuple[str, ...] = ("eng", "rus", "ukr", "deu", "fra", "spa", "ita", "por")

ENV_LANGUAGES = "TESSERACT_LANGUAGES"
ENV_DEBS_DIR = "TESSERACT_DEBS_DIR"
#: A Tesseract language code: eng, chi_sim, deu_latf, ...
CODE_RE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
#: Where the data sits inside the packages (the ``5`` is Tesseract's major version).
TESSDATA_RE = re.compile(r"usr/share/tesseract-ocr/[^/]+/tessdata/([^/]+)")

PIN_HELP = (
    "To add or move a pin: download tesseract-ocr-<lang>'s .deb (bookworm: "
    "https://deb.debian.org/debian/pool/main/t/tesseract-lang/, or `apt-get download "
    "tesseract-ocr-<lang>`; https://packages.debian.org/bookworm/tesseract-ocr-<lang>), "
    '`sha256sum` it, and add `"<lang>": "<sha256>",` to LANGUAGE_PINS (or update LIBTESSERACT) '
    f"in layers/tesseract/{Path(__file__).name}. To supply the pinned .debs by hand, put them in "
    f"a directory and set {ENV_DEBS_DIR}=/path/to/it."
)

#: Ends every error about obtaining a .deb: how to do without the download, then pinning.
FETCH_HELP = (
    "To supply the pinned .debs by hand (offline, or from copies you keep): download them some "
    "other way (the URLs above, or `apt-get download <package>=<version>` on Debian), put them "
    f"in a directory and set {ENV_DEBS_DIR}=/path/to/it.\n{PIN_HELP}"
)


def default_cache_dir() -> Path:
    """Return ``${XDG_CACHE_HOME:-~/.cache}/tesseract-layer``."""
    return debian_fetch.default_cache_dir("tesseract-layer")


def parse_languages(raw: str) -> list[str]:
    """``"eng rus, deu"`` -> ``["eng", "rus", "deu"]`` (order kept, duplicates dropped).

    Raises :class:`FetchError` for an empty list or a word that is no Tesseract code.
    """
    languages: list[str] = []
    for word in re.split(r"[\s,]+", raw.strip()):
        if not word:
            continue
        if not CODE_RE.fullmatch(word):
            raise FetchError(
                f"{ENV_LANGUAGES}: {word!r} is not a Tesseract language code such as eng, rus "
                "or chi_sim (lowercase, separated by spaces or commas)"
            )
        if word not in languages:
            languages.append(word)
    if not languages:
        raise FetchError(f"{ENV_LANGUAGES} is empty: name at least one language, e.g. eng")
    return languages


def with_always(languages: Sequence[str]) -> list[str]:
    """``languages`` plus ``osd`` (once)."""
    return [*languages, *(code for code in ALWAYS if code not in languages)]


def package_name(code: str) -> str:
    """Debian's package for a Tesseract language code: chi_sim -> tesseract-ocr-chi-sim."""
    return "tesseract-ocr-" + code.replace("_", "-")


def language_pin(code: str, pins: dict[str, str] | None = None) -> DebPin:
    """Return the pin of ``code``'s package; raise :class:`FetchError` if it has none."""
    table = LANGUAGE_PINS if pins is None else pins
    if code not in table:
        raise FetchError(
            f"no pinned SHA-256 for language {code!r} ({package_name(code)} "
            f"{LANGUAGE_VERSION}), so its data cannot be verified. Pinned: "
            f"{' '.join(sorted(table))}.\n{PIN_HELP}"
        )
    return DebPin(package_name(code), LANGUAGE_VERSION, "all", table[code], LANGUAGE_SOURCE)


def pins_for(languages: Sequence[str]) -> dict[str, DebPin]:
    """``{file name in tessdata/: pin of the package holding it}`` for ``languages`` + osd."""
    unknown = [code for code in with_always(languages) if code not in LANGUAGE_PINS]
    if unknown:
        language_pin(unknown[0])  # raises, naming the first and how to pin it
    wanted = {f"{code}.traineddata": language_pin(code) for code in with_always(languages)}
    wanted[PDF_FONT] = LIBTESSERACT
    return wanted


def extract(deb: Path, name: str) -> bytes:
    """Return the content of ``.../tessdata/<name>`` in ``deb``'s data archive."""

    def select(path: str) -> str | None:
        match = TESSDATA_RE.fullmatch(path)
        return match.group(1) if match and match.group(1) == name else None

    found = debian_fetch.read_files(deb, select)
    if name not in found:
        raise FetchError(f"{deb}: no usr/share/tesseract-ocr/*/tessdata/{name} in it")
    return found[name]


def fetch(
    dest: Path,
    languages: Sequence[str],
    cache_dir: Path | None = None,
    debs_dir: Path | None = None,
) -> dict[str, int]:
    """Put the data of ``languages`` (+ osd) and pdf.ttf into ``dest``; return name -> bytes."""
    wanted = pins_for(languages)
    unique = list(dict.fromkeys(wanted.values()))
    debs = debian_fetch.obtain_debs(
        unique,
        cache_dir if cache_dir is not None else default_cache_dir(),
        label=LABEL,
        help_text=FETCH_HELP,
        local_dir=debs_dir,
        local_origin=f"{ENV_DEBS_DIR}",
    )
    files = {name: extract(debs[pin], name) for name, pin in wanted.items()}
    debian_fetch.install_files(files, dest, LABEL)
    for stale in sorted(dest.glob("*.traineddata")):
        if stale.name not in files:
            stale.unlink()
            print(f"{LABEL}: removed {stale} (not among {' '.join(languages)})", flush=True)
    return {name: len(content) for name, content in files.items()}


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(
        description="Put pinned Tesseract language data from Debian bookworm into DIR.",
    )
    parser.add_argument("--dest", type=Path, help="the tessdata directory to fill")
    parser.add_argument(
        "--languages",
        default=os.environ.get(ENV_LANGUAGES) or " ".join(DEFAULT_LANGUAGES),
        help="Tesseract codes, space or comma separated; osd is always added "
        f"(default: ${ENV_LANGUAGES}, else {' '.join(DEFAULT_LANGUAGES)})",
    )
    parser.add_argument(
        "--debs-dir",
        type=Path,
        default=os.environ.get(ENV_DEBS_DIR) or None,
        help=f"use the pinned .debs from this directory, never download (default: ${ENV_DEBS_DIR})",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="where verified .debs are kept between runs "
        "(default: ${XDG_CACHE_HOME:-~/.cache}/tesseract-layer)",
    )
    parser.add_argument(
        "--stamp",
        type=Path,
        default=None,
        help="after success, write the requested languages to this file (for make)",
    )
    parser.add_argument(
        "--print-default-languages",
        action="store_true",
        help="print the default language list and exit (the Makefiles' default)",
    )
    args = parser.parse_args(argv)
    if args.print_default_languages:
        print(" ".join(DEFAULT_LANGUAGES))
        return 0
    if args.dest is None:
        parser.error("--dest is required")
    try:
        languages = parse_languages(args.languages)
        sizes = fetch(args.dest, languages, args.cache, args.debs_dir)
    except FetchError as error:
        print(f"{LABEL}: ERROR: {error}", file=sys.stderr)
        return 1
    total = sum(sizes.values())
    print(f"{LABEL}: {args.dest}: {len(sizes)} files, {total:,} bytes", flush=True)
    if args.stamp is not None:
        args.stamp.write_text(" ".join(languages) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
