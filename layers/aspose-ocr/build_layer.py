#!/usr/bin/env python3
"""Build the AsposeOcrLayer (Lambda layer for python3.12, x86_64) into an artifacts directory.

Run by ``make build-AsposeOcrLayer`` (SAM's ``BuildMethod: makefile``) with the Python 3.12
interpreter the Makefile found::

    python3.12 build_layer.py --artifacts-dir "$ARTIFACTS_DIR" [--without-pdf]

Layout produced (Lambda unpacks a layer to ``/opt``)::

    python/       aspose-ocr-python-net, trimmed   -> /opt/python is on sys.path
    lib/          libssl.so.1.1, libcrypto.so.1.1  -> /opt/lib is on LD_LIBRARY_PATH
    ocr-models/   README.txt; the engine's model resources directory (/opt/ocr-models)

Steps, each printed with what it removed:

1. ``pip install --require-hashes`` of ``requirements.txt`` for cp312 / manylinux x86_64 only
   (the wheel is kept in ``${XDG_CACHE_HOME:-~/.cache}/aspose-ocr-layer/wheels``);
2. trim what Linux x86_64 with CPython 3.12 never loads (other ABIs' extension modules,
   Windows-native DLLs, static archives, .NET debugger files, PyInstaller/Nuitka hooks, stubs,
   bytecode caches) and, with ``--without-pdf`` (or ``WITHOUT_PDF=1``), ``Aspose.PDF.dll``;
3. OpenSSL 1.1 into ``lib/`` with ``fetch_openssl.py`` (pinned, SHA-256 checked, cached);
4. ``ocr-models/``: README.txt and the models named in ``OCR_MODELS`` (from ``OCR_MODELS_DIR``,
   or downloaded at build time where there is network access);
5. a self-test: ``layer_engine.py`` in a fresh, isolated Python 3.12 recognizes ``selftest.png``
   with the layer alone;
6. the layer's size, unzipped and zipped as SAM zips it (measured by the sibling
   ``layers/common/lambda_sizes.py``, shared with ``tools/check_sizes.py``); more than
   Lambda's limit fails.

Standard library only.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Code shared with the Tesseract layer lives in layers/common, reached through the link common ->
# ../common beside this file (SAM runs the layer's original Makefile, which runs this file where
# it is; in a build container only this directory and, with --mount-symlinks, that link exist;
# ../common itself where git made the link a plain file: Windows without symlinks).
sys.path.insert(0, str(HERE.parent / "common"))
sys.path.insert(0, str(HERE / "common"))
from build_steps import BuildError, log, run  # noqa: E402
from isolated import run_isolated, snapshot  # noqa: E402
from lambda_sizes import (  # noqa: E402
    LAMBDA_UNZIPPED_LIMIT,
    SizeBook,
    files_under,
    fmt,
    zip_entry_size,
)
from layer_engine import RESULT_MARK  # noqa: E402  (a sibling: this file's directory)
from trimming import TrimResult, TrimStep, run_steps, tree_entries  # noqa: E402

__all__ = ["SizeBook", "fmt", "zip_entry_size"]
REQUIREMENTS = HERE / "requirements.txt"
FETCH_OPENSSL = HERE / "fetch_openssl.py"
SELFTEST_IMAGE = HERE / "selftest.png"
LAYER_ENGINE = HERE / "layer_engine.py"

#: The runtime this layer is for.
RUNTIME_VERSION: tuple[int, int] = (3, 12)
PIP_PLATFORM = "manylinux2014_x86_64"  # also accepts manylinux1/manylinux2010 wheels

#: Words the self-test must find. Trial mode (no license) cuts a page's text, shorter pages
#: more; for selftest.png it returns the first two lines whole and part of the third (measured
#: with 26.10.0: 77 characters). What it returns is always the start of the correct text, so
#: only words of the first two lines are checked.
SELFTEST_WORDS: tuple[str, ...] = (
    "LAYER", "SELF", "TEST",
    "Quick", "brown", "foxes", "jump", "over", "lazy", "dogs",
)  # fmt: skip
SELFTEST_TIMEOUT_S = 600

#: .NET Core debugging support: never loaded when the runtime only runs code.
DEBUGGER_FILES = frozenset(
    {
        "createdump",
        "libmscordaccore.so",
        "libmscordbi.so",
        "libdbgshim.so",
        "libcoreclrtraceptprovider.so",
        "SOS_README.md",
    }
)
PACKAGING_DIRS = frozenset({"__pyinstaller", "__nuitka", "__pycache__"})
EXTENSION_RE = re.compile(r"\.cpython-(\d+)[a-z]*-[^/]*\.so$")
PDF_ASSEMBLY = "Aspose.PDF.dll"

MODELS_README = """\
Model resources directory of the Aspose.OCR engine (/opt/ocr-models in Lambda).

The function points the engine here with ocr.Resources.set_local_path("/opt/ocr-models") and
turns automatic downloads off (Lambda has no network for them, and /opt is read-only).
Latin-script languages need no model. Languages or features that do (Cyrillic, Arabic, CJK,
Language.AUTO, detect_fonts, ...) fail with "Please install the '<name>.ocr' first" until the
model file (for example aspose-ocr-cyrillic-v1.ocr) is bundled into this directory.
"""


# --- trimming -------------------------------------------------------------------------------------


#: PE optional header magic -> (offset of NumberOfRvaAndSizes, offset of the data directories).
PE_LAYOUTS = {0x10B: (92, 96), 0x20B: (108, 112)}  # PE32, PE32+
#: Index of IMAGE_DIRECTORY_ENTRY_COM_DESCRIPTOR, the CLI header of a managed assembly.
CLI_HEADER_DIRECTORY = 14


def is_native_pe(path: Path) -> bool:
    """Tell whether ``path`` is a native Windows PE image, not a managed .NET assembly.

    Managed assemblies (kept: the .NET runtime loads them on Linux too) have a CLI header: a
    non-empty entry 14 (``IMAGE_DIRECTORY_ENTRY_COM_DESCRIPTOR``) in the PE optional header's
    data directories. Anything unreadable as PE counts as not native, so it is kept.
    """
    try:
        with path.open("rb") as handle:
            if handle.read(2) != b"MZ":
                return False
            handle.seek(0x3C)
            (pe_offset,) = struct.unpack("<I", handle.read(4))
            handle.seek(pe_offset)
            if handle.read(4) != b"PE\0\0":
                return False
            coff = handle.read(20)
            (optional_size,) = struct.unpack_from("<H", coff, 16)
            optional = handle.read(optional_size)
        (magic,) = struct.unpack_from("<H", optional, 0)
        if magic not in PE_LAYOUTS:
            return False
        count_at, directories_at = PE_LAYOUTS[magic]
        (directory_count,) = struct.unpack_from("<I", optional, count_at)
        if directory_count <= CLI_HEADER_DIRECTORY:
            return True
        at = directories_at + CLI_HEADER_DIRECTORY * 8
        rva, size = struct.unpack_from("<II", optional, at)
        return not (rva and size)
    except (OSError, struct.error):
        return False


def select_other_abis(root: Path) -> list[Path]:
    """Extension modules built for another CPython than the runtime's."""
    wanted = "".join(str(part) for part in RUNTIME_VERSION)
    return [
        path
        for path in files_under(root)
        if (match := EXTENSION_RE.search(path.name)) and match.group(1) != wanted
    ]


def select_windows_native(root: Path) -> list[Path]:
    """Native Windows DLLs and executables (managed .NET assemblies stay)."""
    return [path for path in files_under(root) if is_native_pe(path)]


def select_static_archives(root: Path) -> list[Path]:
    """Static libraries: only a linker reads them."""
    return [path for path in files_under(root) if path.suffix == ".a"]


def select_debugger_files(root: Path) -> list[Path]:
    """.NET debugger, crash dump and tracing support."""
    return [path for path in files_under(root) if path.name in DEBUGGER_FILES]


def select_packaging_leftovers(root: Path) -> list[Path]:
    """PyInstaller/Nuitka hooks, type stubs and bytecode caches (directories whole)."""
    selected: list[Path] = []
    for path in tree_entries(root):
        if any(parent in selected for parent in path.parents):
            continue
        if (path.is_dir() and path.name in PACKAGING_DIRS) or path.suffix == ".pyi":
            selected.append(path)
    return selected


def select_pdf(root: Path) -> list[Path]:
    """The PDF assembly (PDF input then fails with FileNotFoundException; images still work)."""
    return [path for path in files_under(root) if path.name == PDF_ASSEMBLY]


def trim(site: Path, without_pdf: bool, book: SizeBook) -> list[TrimResult]:
    """Run every trimming step on ``site``; print and return what each removed."""
    steps: list[TrimStep] = [
        ("other ABIs' cpython-3XX extension modules", select_other_abis),
        ("Windows-native DLLs", select_windows_native),
        ("static archives (*.a)", select_static_archives),
        (".NET debugger files", select_debugger_files),
        ("__pyinstaller, __nuitka, *.pyi, __pycache__", select_packaging_leftovers),
    ]
    if without_pdf:
        steps.append((f"{PDF_ASSEMBLY} (WITHOUT_PDF=1)", select_pdf))
    results = run_steps(site, steps, book)
    abi = "".join(str(part) for part in RUNTIME_VERSION)
    if not any(site.glob(f"aspose/ocr.cpython-{abi}-*.so")):
        raise BuildError(f"no aspose/ocr.cpython-{abi}-*.so left in {site}: wrong wheel?")
    return results


# --- build steps ----------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """Return ``${XDG_CACHE_HOME:-~/.cache}/aspose-ocr-layer`` (shared with fetch_openssl.py)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aspose-ocr-layer"


def pip_install(site: Path, wheels: Path) -> None:
    """Install requirements.txt for the Lambda runtime's ABI only into ``site``.

    The hash-pinned wheel is kept in ``wheels``: ``pip download`` skips a file that is already
    there with the right hash, and the install itself reads only that directory (``--no-index``,
    hashes checked again), so a repeated build downloads nothing and works offline.
    """
    version = ".".join(str(part) for part in RUNTIME_VERSION)
    target_options = [
        "--require-hashes", "--no-deps", "--only-binary=:all:",
        "--platform", PIP_PLATFORM, "--implementation", "cp", "--python-version", version,
        "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
        "-r", str(REQUIREMENTS),
    ]  # fmt: skip
    pip = [sys.executable, "-m", "pip"]
    try:
        run([*pip, "download", "--dest", str(wheels), *target_options])
    except BuildError as error:
        log(f"WARNING: pip download failed ({error}); trying the wheels already in {wheels}")
    install = ["install", "--no-index", "--find-links", str(wheels), "--no-compile"]
    run([*pip, *install, "--target", str(site), *target_options])


def fetch_openssl(lib: Path) -> None:
    """Put the pinned libssl/libcrypto 1.1 into ``lib`` (fetch_openssl.py caches the .deb)."""
    run([sys.executable, str(FETCH_OPENSSL), "--dest", str(lib)])


MODEL_NAME = re.compile(r"^[A-Za-z0-9._-]+\.ocr$")


def requested_models(raw: str) -> list[str]:
    """`aspose-ocr-cyrillic-v1.ocr, ...` -> file names; raise BuildError on anything else."""
    names = [name.strip() for name in raw.split(",") if name.strip()]
    for name in names:
        if not MODEL_NAME.fullmatch(name):
            raise BuildError(f"OCR_MODELS: {name!r} is not a model file name like x-v1.ocr")
    return names


def bundle_models(models: Path, names: list[str], source: Path, site: Path, lib: Path) -> None:
    """Copy each named model from ``source`` into the layer's ``models`` directory. A model not
    in ``source`` is downloaded into it first, with the engine itself, which needs network
    access to the engine's public resources at build time (Lambda never downloads)."""
    for name in names:
        cached = source / name
        if not cached.is_file():
            log(f"model {name}: not in {source}; downloading it with the engine ...")
            source.mkdir(parents=True, exist_ok=True)
            child = subprocess.run(
                [*_engine_command("download-model"), str(site), str(source), name],
                env=_engine_environment(lib, str(source)),
                cwd=source,
                capture_output=True,
                text=True,
                timeout=SELFTEST_TIMEOUT_S,
                check=False,
            )
            if child.returncode != 0 or not cached.is_file():
                raise BuildError(
                    f"model {name} is not in {source} and could not be downloaded (exit code "
                    f"{child.returncode}; no network?). Put the file there (OCR_MODELS_DIR) and "
                    "build again. Output: " + (child.stderr or child.stdout)[-1000:]
                )
        shutil.copy2(cached, models / name)
        log(f"model {name}: bundled ({fmt(cached.stat().st_size)})")


def _engine_command(command: str) -> list[str]:
    """layer_engine.py's ``command`` on this interpreter, isolated: no user or system
    site-packages, not even the script's own directory on sys.path, no bytecode written."""
    return [sys.executable, "-I", "-S", "-B", str(LAYER_ENGINE), command]


def _engine_environment(lib: Path, scratch: str) -> dict[str, str]:
    """The environment the engine needs in a child process, as the function sets it."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": scratch,
        "TMPDIR": scratch,
        "LANG": "C.UTF-8",
        "LD_LIBRARY_PATH": str(lib),
        "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT": "1",
        "COMPlus_EnableDiagnostics": "0",
    }


def self_test(artifacts: Path) -> None:
    """Recognize selftest.png with nothing but the layer; raise :class:`BuildError` if it fails.

    The child runs with ``-I -S -B`` (no user or system site-packages, no environment PYTHON*
    variables, no bytecode written) and only the layer's python/ prepended to ``sys.path``; its
    environment is the one the function sets in Lambda, in a scratch working directory and home.
    """
    site, lib, models = artifacts / "python", artifacts / "lib", artifacts / "ocr-models"
    before = snapshot(artifacts)
    log(f"self-test: recognizing {SELFTEST_IMAGE.name} with the layer alone ...")
    with tempfile.TemporaryDirectory(prefix="ocr-layer-selftest-") as scratch:
        try:
            run = run_isolated(
                LAYER_ENGINE,
                ["selftest", str(site), str(models), str(SELFTEST_IMAGE)],
                scratch=scratch,
                mark=RESULT_MARK,
                timeout=SELFTEST_TIMEOUT_S,
                environment=_engine_environment(lib, scratch),
            )
        except TimeoutError as error:
            raise BuildError(f"self-test: {error}") from error
    if run.report is None:
        raise BuildError(
            f"self-test: the layer could not recognize {SELFTEST_IMAGE.name} (exit code "
            f"{run.returncode}); the trimmed engine or lib/ is broken. Output:\n"
            + "\n".join(run.output[-40:])
        )
    report, elapsed = run.report, run.seconds
    text = "\n".join(report["texts"])
    found = set(re.findall(r"[A-Za-z]+", text.lower()))
    missing = [word for word in SELFTEST_WORDS if word.lower() not in found]
    if not str(report["package"]).startswith(str(site)):
        raise BuildError(f"self-test imported aspose from {report['package']}, not from {site}")
    if missing:
        raise BuildError(
            f"self-test: recognized text lacks {missing}; got {text!r} "
            f"(warnings {report['warnings']})"
        )
    after = snapshot(artifacts)
    if after != before:
        changed = sorted(set(after.items()) ^ set(before.items()))
        raise BuildError(f"self-test wrote into the layer: {changed[:10]}")
    log(
        f"self-test passed in {elapsed:.1f} s: aspose-ocr-python-net {report['version']}, "
        f"found {', '.join(SELFTEST_WORDS)} in {text!r} (warnings {report['warnings']})"
    )


def build(
    artifacts: Path,
    without_pdf: bool,
    models_wanted: list[str] | None = None,
    models_source: Path | None = None,
) -> None:
    """Build the layer into ``artifacts``; raise :class:`BuildError` on any failure."""
    if sys.version_info[:2] != RUNTIME_VERSION:
        wanted = ".".join(str(part) for part in RUNTIME_VERSION)
        raise BuildError(
            f"build_layer.py must run with Python {wanted} (the Lambda runtime: the self-test "
            f"loads the cpython-{wanted.replace('.', '')} extension), not {sys.version.split()[0]}"
            f" at {sys.executable}. Run `make build-AsposeOcrLayer PYTHON=/path/to/python{wanted}`."
        )
    if not SELFTEST_IMAGE.is_file():
        raise BuildError(f"{SELFTEST_IMAGE} is missing (render_selftest.py makes it)")
    artifacts.mkdir(parents=True, exist_ok=True)
    artifacts = artifacts.resolve()
    site, lib, models = artifacts / "python", artifacts / "lib", artifacts / "ocr-models"
    for stale in (site, lib, models):  # only what this build makes: ARTIFACTS_DIR may hold more
        if stale.exists():
            log(f"removing {stale} from an earlier build")
            shutil.rmtree(stale)

    started = time.monotonic()
    pip_install(site, default_cache_dir() / "wheels")
    book = SizeBook(artifacts)
    trim(site, without_pdf, book)
    fetch_openssl(lib)
    models.mkdir()
    (models / "README.txt").write_text(MODELS_README, encoding="utf-8")
    bundle_models(
        models, models_wanted or [], models_source or default_cache_dir() / "models", site, lib
    )
    self_test(artifacts)

    unzipped, zipped = book.sizes()
    count = len(files_under(artifacts))
    log(f"layer {artifacts}: {count} files, {fmt(unzipped)} unzipped, {fmt(zipped)} zipped")
    for part in (site, lib, models):
        part_unzipped, _ = book.sizes(files_under(part))
        log(f"  {part.name}/: {fmt(part_unzipped)} unzipped")
    if unzipped > LAMBDA_UNZIPPED_LIMIT:
        raise BuildError(
            f"the layer alone is {unzipped:,} bytes unzipped, over Lambda's limit of "
            f"{LAMBDA_UNZIPPED_LIMIT:,} bytes for a function and all its layers. Trim more "
            "(e.g. WITHOUT_PDF=1) or ship the function as a container image."
        )
    log(
        f"done in {time.monotonic() - started:.0f} s; "
        f"{LAMBDA_UNZIPPED_LIMIT - unzipped:,} bytes left under Lambda's unzipped limit "
        "for the function code and other layers"
    )


def env_flag(name: str) -> bool:
    """Return True if environment variable ``name`` is set to 1/true/yes/on."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description="Build the AsposeOcrLayer Lambda layer.")
    parser.add_argument(
        "--artifacts-dir",
        type=Path,
        default=os.environ.get("ARTIFACTS_DIR") or None,
        help="where the layer's python/, lib/ and ocr-models/ go (default: $ARTIFACTS_DIR)",
    )
    parser.add_argument(
        "--without-pdf",
        action="store_true",
        default=env_flag("WITHOUT_PDF"),
        help=f"also remove {PDF_ASSEMBLY} (64.9 MB; PDF input then fails) "
        "(default: $WITHOUT_PDF, else keep it)",
    )
    parser.add_argument(
        "--models",
        default=os.environ.get("OCR_MODELS", ""),
        help="comma-separated engine model files to bundle, e.g. aspose-ocr-cyrillic-v1.ocr "
        "(default: $OCR_MODELS)",
    )
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=os.environ.get("OCR_MODELS_DIR") or None,
        help="where the model files are (default: $OCR_MODELS_DIR, else the build cache; "
        "missing ones are downloaded there)",
    )
    args = parser.parse_args(argv)
    if args.artifacts_dir is None:
        parser.error("--artifacts-dir or $ARTIFACTS_DIR is required")
    try:
        build(
            Path(args.artifacts_dir),
            bool(args.without_pdf),
            requested_models(args.models),
            args.models_dir,
        )
    except BuildError as error:
        print(f"build_layer: ERROR: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
