#!/usr/bin/env python3
"""Build the TesseractLayer (Lambda layer for python3.12 on x86_64, or python3.13 on arm64)
into an artifacts directory.

Run by ``make build-TesseractLayer`` (SAM's ``BuildMethod: makefile``) with the Python 3.12
interpreter the Makefile found::

    python3.12 build_layer.py --artifacts-dir "$ARTIFACTS_DIR" [--languages "eng rus"]
        [--architecture arm64]

``--architecture`` (default ``$LAMBDA_ARCHITECTURE``, else x86_64; template.yaml's
``Architecture``) picks the target: x86_64 takes ``requirements.txt``'s cp312 wheels and runs
the self-test on this Python 3.12; arm64 (Graviton) takes ``requirements-arm64.txt``'s cp313
aarch64 wheels and runs the same self-test on Debian's python3.13 for arm64, emulated by
qemu-user-static on an x86_64 host (``layers/common/arm64_sysroot.py``). An arm64 layer whose
self-test cannot run (no emulator, no sysroot) fails the build: a layer that never ran is not
offered to users.

Layout produced (Lambda unpacks a layer to ``/opt``)::

    python/     tesserocr (libtesseract 5.5.4 + Leptonica bundled in tesserocr.libs/) and
                pypdfium2, trimmed                                 -> /opt/python is on sys.path
    tessdata/   <lang>.traineddata per language, osd.traineddata, pdf.ttf     -> /opt/tessdata

Steps, each printed with what it removed or added:

1. ``pip install --require-hashes`` of the target's requirements for its CPython and platform
   (wheels kept in ``${XDG_CACHE_HOME:-~/.cache}/tesseract-layer/wheels``);
2. trim what Lambda never loads: bytecode caches, type stubs, console scripts, pypdfium2's
   command-line tool, test directories, other CPython ABIs' extension modules; then check that
   every native file is built for the target's processor;
3. ``tessdata/`` with ``fetch_tessdata.py`` (Debian bookworm packages, SHA-256 pinned, cached):
   the languages of ``--languages`` / ``TESSERACT_LANGUAGES``, plus osd and pdf.ttf;
4. a self-test: a fresh, isolated Python of the runtime's version (arm64: emulated), with
   only the layer's ``python/`` on ``sys.path``, recognizes ``selftest.png`` (exact lines),
   loads every language, detects the orientation with osd, writes a searchable PDF (needs
   pdf.ttf) and reads its text back with pypdfium2;
5. the layer's size per part, unzipped and zipped as SAM zips it (``layers/common/
   lambda_sizes.py``, shared with ``tools/check_sizes.py``); more than Lambda's limit fails.

Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Code shared with the Aspose layer lives in layers/common, reached through the link common ->
# ../common beside this file (SAM runs the layer's original Makefile, which runs this file where
# it is; in a build container only this directory and, with --mount-symlinks, that link exist;
# ../common itself where git made the link a plain file: Windows without symlinks).
sys.path.insert(0, str(HERE.parent / "common"))
sys.path.insert(0, str(HERE / "common"))
sys.path.insert(0, str(HERE))
import arm64_sysroot  # noqa: E402
import fetch_tessdata  # noqa: E402
from build_steps import BuildError, log, run  # noqa: E402
from isolated import run_isolated, snapshot  # noqa: E402
from lambda_sizes import (  # noqa: E402
    LAMBDA_UNZIPPED_LIMIT,
    SizeBook,
    files_under,
    fmt,
    foreign_binaries,
)
from layer_selftest import RESULT_MARK  # noqa: E402
from trimming import TrimResult, TrimStep, remove, run_steps, tree_entries  # noqa: E402

REQUIREMENTS = HERE / "requirements.txt"
REQUIREMENTS_ARM64 = HERE / "requirements-arm64.txt"
SELFTEST_IMAGE = HERE / "selftest.png"
LAYER_SELFTEST = HERE / "layer_selftest.py"

#: The runtime this layer is for.
RUNTIME_VERSION: tuple[int, int] = (3, 12)
#: tesserocr's wheel is manylinux_2_28 (Amazon Linux 2023 has glibc 2.34), pypdfium2's is
#: manylinux2014: pip takes several --platform values and matches each wheel against all.
PIP_PLATFORMS: tuple[str, ...] = ("manylinux_2_28_x86_64", "manylinux2014_x86_64")
SELFTEST_TIMEOUT_S = 300
#: Emulation runs 30 to 40 times slower than the machine it runs on.
EMULATED_SELFTEST_TIMEOUT_S = 1800
ENV_ARCHITECTURE = "LAMBDA_ARCHITECTURE"


@dataclass(frozen=True)
class Target:
    """What one architecture's layer is built for: the Lambda runtime's CPython, the wheels'
    platforms, the hash-pinned requirements, and whether its self-test runs emulated."""

    architecture: str
    python: tuple[int, int]
    platforms: tuple[str, ...]
    requirements: Path
    emulated: bool

    @property
    def runtime(self) -> str:
        return "python" + ".".join(str(part) for part in self.python)

    @property
    def abi(self) -> str:
        return "".join(str(part) for part in self.python)


#: x86_64: python3.12 (the build's own interpreter runs the self-test). arm64: python3.13, the
#: one CPython that both Lambda offers on Graviton and Debian ships for aarch64, so it can run
#: here under emulation (README, "Graviton").
TARGETS: dict[str, Target] = {
    "x86_64": Target(
        "x86_64",
        RUNTIME_VERSION,
        PIP_PLATFORMS,
        REQUIREMENTS,
        emulated=False,
    ),
    "arm64": Target(
        "arm64",
        arm64_sysroot.PYTHON_VERSION,
        ("manylinux_2_28_aarch64", "manylinux2014_aarch64"),
        REQUIREMENTS_ARM64,
        emulated=True,
    ),
}
X86_64 = TARGETS["x86_64"]

#: The self-test page, one entry per line (render_selftest.py draws them into selftest.png).
#: Lines in Latin script are checked when eng is built, the Cyrillic one when rus is.
SELFTEST_LINES: tuple[str, ...] = (
    "TESSERACT LAYER SELF TEST",
    "Quick brown foxes jump over lazy dogs",
    "Pack my box with five dozen liquor jugs",
    "Sphinx of black quartz judge my vow",
    "Привет мир",
)
CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]")

#: Directory names whose whole content Lambda never loads.
NEVER_LOADED_DIRS = frozenset({"__pycache__", "tests", "test"})
#: pypdfium2's command-line tool (``python -m pypdfium2``); the function only uses the library.
CLI_PACKAGES = frozenset({"pypdfium2_cli"})
EXTENSION_RE = re.compile(r"\.cpython-(\d+)[a-z]*-[^/]*\.so$")


# --- trimming -------------------------------------------------------------------------------------


def select_bytecode(site: Path) -> list[Path]:
    """``__pycache__`` directories and stray ``*.pyc``: Lambda's /opt is read-only, so Python
    compiles in memory anyway, and caches for another interpreter are never read."""
    selected: list[Path] = []
    for path in tree_entries(site):
        if any(parent in selected for parent in path.parents):
            continue
        if (path.is_dir() and path.name == "__pycache__") or path.suffix == ".pyc":
            selected.append(path)
    return selected


def select_stubs(site: Path) -> list[Path]:
    """Type stubs and markers (``*.pyi``, ``py.typed``): only type checkers read them."""
    return [path for path in files_under(site) if path.suffix == ".pyi" or path.name == "py.typed"]


def select_console_scripts(site: Path) -> list[Path]:
    """``bin/`` (console-script launchers ``pip --target`` writes with a build-host shebang) and
    pypdfium2's command-line package: the function imports the libraries only."""
    selected = [site / "bin"] if (site / "bin").is_dir() else []
    selected += [path for path in site.iterdir() if path.is_dir() and path.name in CLI_PACKAGES]
    return selected


def select_tests(site: Path) -> list[Path]:
    """Test directories inside the installed packages (whole)."""
    selected: list[Path] = []
    for path in tree_entries(site):
        if any(parent in selected for parent in path.parents):
            continue
        if path.is_dir() and path.name in NEVER_LOADED_DIRS - {"__pycache__"}:
            selected.append(path)
    return selected


def other_abis(abi: str) -> TrimStep:
    """The trimming step that removes extension modules built for another CPython than ``abi``
    (``"312"``)."""

    def select(site: Path) -> list[Path]:
        return [
            path
            for path in files_under(site)
            if (match := EXTENSION_RE.search(path.name)) and match.group(1) != abi
        ]

    return ("other ABIs' cpython-3XX extension modules", select)


def trim_steps(target: Target = X86_64) -> tuple[TrimStep, ...]:
    """Every trimming step, for ``target``'s CPython."""
    return (
        ("bytecode caches (__pycache__, *.pyc)", select_bytecode),
        ("type stubs (*.pyi, py.typed)", select_stubs),
        ("console scripts (bin/) and pypdfium2's CLI (pypdfium2_cli/)", select_console_scripts),
        ("test directories", select_tests),
        other_abis(target.abi),
    )


TRIM_STEPS: tuple[TrimStep, ...] = trim_steps()


def trim(site: Path, book: SizeBook, target: Target = X86_64) -> list[TrimResult]:
    """Run every trimming step on ``site``; print and return what each removed."""
    results = run_steps(site, trim_steps(target), book)
    abi = target.abi
    if not any(site.glob(f"tesserocr/tesserocr.cpython-{abi}-*.so")):
        raise BuildError(f"no tesserocr/tesserocr.cpython-{abi}-*.so left in {site}: wrong wheel?")
    if not any(site.glob("pypdfium2_raw/libpdfium.so")):
        raise BuildError(f"no pypdfium2_raw/libpdfium.so left in {site}: wrong wheel?")
    return results


# --- build steps ----------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """Return ``${XDG_CACHE_HOME:-~/.cache}/tesseract-layer`` (shared with fetch_tessdata.py)."""
    return fetch_tessdata.default_cache_dir()


def pip_options(target: Target = X86_64) -> list[str]:
    """pip options that select the Lambda runtime's wheels from the hash-pinned requirements."""
    version = ".".join(str(part) for part in target.python)
    platforms = [option for name in target.platforms for option in ("--platform", name)]
    return [
        "--require-hashes", "--no-deps", "--only-binary=:all:",
        *platforms, "--implementation", "cp", "--python-version", version,
        "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
        "-r", str(target.requirements),
    ]  # fmt: skip


def pip_install(site: Path, wheels: Path, target: Target = X86_64) -> None:
    """Install the target's requirements for its Lambda runtime's ABI only into ``site``.

    The hash-pinned wheels are kept in ``wheels``: ``pip download`` skips files already there
    with the right hash, and the install reads only that directory (``--no-index``, hashes
    checked again), so a repeated build downloads nothing and works offline.
    """
    pip = [sys.executable, "-m", "pip"]
    try:
        run([*pip, "download", "--dest", str(wheels), *pip_options(target)])
    except BuildError as error:
        log(f"WARNING: pip download failed ({error}); trying the wheels already in {wheels}")
    install = ["install", "--no-index", "--find-links", str(wheels), "--no-compile"]
    run([*pip, *install, "--target", str(site), *pip_options(target)])


def check_machine(site: Path, target: Target) -> None:
    """Every native file in ``site`` is built for ``target``'s processor."""
    if wrong := foreign_binaries(site, target.architecture):
        raise BuildError(f"not built for {target.architecture}: {', '.join(wrong[:5])}")


def selftest_interpreter(target: Target) -> tuple[list[str], float]:
    """The command that starts the target runtime's Python here, and the self-test's timeout.

    x86_64: this interpreter (``build`` checked it is the runtime's version). arm64: Debian's
    python3.13 for arm64 in a sysroot, emulated by qemu-user-static on an x86_64 host
    (natively on an aarch64 one). When that cannot run, the build fails: an arm64 layer whose
    self-test never ran is not offered to users.
    """
    if not target.emulated:
        return [sys.executable], SELFTEST_TIMEOUT_S
    reason = arm64_sysroot.unavailable_reason()
    try:
        if reason is None:
            root = arm64_sysroot.assemble()
            return arm64_sysroot.python_command(root), EMULATED_SELFTEST_TIMEOUT_S
    except arm64_sysroot.SysrootError as error:
        reason = str(error)
    raise BuildError(
        f"the {target.architecture} layer cannot be self-tested on this "
        f"{platform.machine()} host: {reason}. A layer that never ran is not "
        'offered: install the emulator and build again (README, "Graviton").'
    )


def selftest_plan(languages: Sequence[str]) -> tuple[str, list[str]]:
    """The language string to recognize selftest.png with, and the lines to expect exactly.

    Latin lines need eng, the Cyrillic line rus; with neither, the first language is used and
    only loading, orientation and the PDF round trip are checked.
    """
    lines: list[str] = []
    recognize: list[str] = []
    if "eng" in languages:
        recognize.append("eng")
        lines += [line for line in SELFTEST_LINES if not CYRILLIC_RE.search(line)]
    if "rus" in languages:
        recognize.append("rus")
        lines += [line for line in SELFTEST_LINES if CYRILLIC_RE.search(line)]
    return "+".join(recognize) or languages[0], lines


def check_selftest(report: dict[str, object], languages: Sequence[str], site: Path) -> list[str]:
    """Return what is wrong with the self-test's ``report`` (empty: it passed)."""
    _, expected = selftest_plan(languages)
    problems: list[str] = []
    for key in ("tesserocr", "pypdfium2"):
        if not str(report.get(key, "")).startswith(str(site)):
            problems.append(f"{key} was imported from {report.get(key)}, not from {site}")
    loaded = report.get("loaded")
    if not isinstance(loaded, dict) or sorted(loaded) != sorted(languages):
        problems.append(f"not every language loaded: {loaded}")
    text = str(report.get("text", ""))
    got_lines = {" ".join(line.split()) for line in text.splitlines() if line.strip()}
    missing = [line for line in expected if line not in got_lines]
    if missing:
        problems.append(f"lines not recognized exactly: {missing}; got {text!r}")
    osd = report.get("osd")
    if not isinstance(osd, dict) or osd.get("orient_deg") != 0:
        problems.append(f"osd did not report an upright page: {osd}")
    pdf_words = set(str(report.get("pdf_text", "")).split())
    expected_words = [word for line in expected for word in line.split()]
    if not report.get("pdf_written") or report.get("pdf_pages") != 1:
        problems.append("no one-page searchable PDF was written (pdf.ttf missing?)")
    elif missing_words := [word for word in expected_words if word not in pdf_words]:
        problems.append(f"the PDF's text layer (read with pypdfium2) lacks {missing_words}")
    return problems


def self_test(artifacts: Path, languages: Sequence[str], target: Target = X86_64) -> None:
    """Use the layer alone as the function will; raise :class:`BuildError` if anything fails."""
    site, tessdata = artifacts / "python", artifacts / "tessdata"
    interpreter, timeout = selftest_interpreter(target)
    before = snapshot(artifacts)
    recognize, _ = selftest_plan(languages)
    how = " (emulated: 30-40x slower)" if target.emulated else ""
    log(
        f"self-test: {SELFTEST_IMAGE.name} with the layer alone ({recognize}) on "
        f"{target.runtime} {target.architecture}{how}: {' '.join(interpreter)} ..."
    )
    with tempfile.TemporaryDirectory(prefix="tesseract-layer-selftest-") as scratch:
        arguments = [str(site), str(tessdata), str(SELFTEST_IMAGE), scratch]
        try:
            run = run_isolated(
                LAYER_SELFTEST,
                [*arguments, json.dumps(list(languages)), recognize],
                scratch=scratch,
                mark=RESULT_MARK,
                timeout=timeout,
                interpreter=interpreter,
            )
        except TimeoutError as error:
            raise BuildError(f"self-test: {error}") from error
    if run.report is None:
        raise BuildError(
            f"self-test: the layer failed (exit code {run.returncode}); the trimmed packages "
            "or tessdata/ are broken. Output:\n" + "\n".join(run.output[-40:])
        )
    report, elapsed = run.report, run.seconds
    problems = check_selftest(report, languages, site)
    if problems:
        raise BuildError("self-test: " + "; ".join(problems))
    after = snapshot(artifacts)
    if after != before:
        changed = sorted(set(after.items()) ^ set(before.items()))
        raise BuildError(f"self-test wrote into the layer: {changed[:10]}")
    log(
        f"self-test passed on {target.runtime} {target.architecture}{how} in {elapsed:.1f} s: "
        f"{report['tesseract_version']}; loaded "
        f"{' '.join(languages)}; read {report['text']!r}; osd {report['osd']}; "
        f"searchable PDF read back with pypdfium2"
    )


def part_of(relative: Path) -> str:
    """Which part of the layer a file belongs to, for the size report."""
    top, *rest = relative.parts
    if top != "python" or not rest:
        return top + "/"
    package = rest[0]
    for name in ("tesserocr", "pypdfium2"):
        if package.startswith(name):
            return f"python/ {name}"
    return "python/ other"


def report_sizes(artifacts: Path, book: SizeBook) -> int:
    """Print the layer's size, whole and per part; return the unzipped total."""
    unzipped, zipped = book.sizes()
    files = files_under(artifacts)
    log(f"layer {artifacts}: {len(files)} files, {fmt(unzipped)} unzipped, {fmt(zipped)} zipped")
    parts: dict[str, list[Path]] = {}
    for path in files:
        parts.setdefault(part_of(path.relative_to(artifacts)), []).append(path)
    for name, paths in sorted(parts.items()):
        part_unzipped, part_zipped = book.sizes(paths)
        log(
            f"  {name}: {len(paths)} files, {fmt(part_unzipped)} unzipped, "
            f"{fmt(part_zipped)} zipped"
        )
    return unzipped


def build(
    artifacts: Path,
    languages: Sequence[str],
    debs_dir: Path | None = None,
    target: Target = X86_64,
) -> None:
    """Build the layer into ``artifacts``; raise :class:`BuildError` on any failure."""
    if not target.emulated and sys.version_info[:2] != RUNTIME_VERSION:
        wanted = ".".join(str(part) for part in RUNTIME_VERSION)
        raise BuildError(
            f"build_layer.py must run with Python {wanted} (the Lambda runtime: the self-test "
            f"loads the cpython-{wanted.replace('.', '')} extension), not {sys.version.split()[0]}"
            f" at {sys.executable}. Run `make build-TesseractLayer PYTHON=/path/to/python{wanted}`."
        )
    if not SELFTEST_IMAGE.is_file():
        raise BuildError(f"{SELFTEST_IMAGE} is missing (render_selftest.py makes it)")
    all_languages = fetch_tessdata.with_always(languages)
    try:
        fetch_tessdata.pins_for(languages)  # an unknown language fails before any download
    except fetch_tessdata.FetchError as error:
        raise BuildError(str(error)) from error
    artifacts.mkdir(parents=True, exist_ok=True)
    artifacts = artifacts.resolve()
    site, tessdata = artifacts / "python", artifacts / "tessdata"
    for stale in (site, tessdata):  # only what this build makes: ARTIFACTS_DIR may hold more
        if stale.exists():
            log(f"removing {stale} from an earlier build")
            remove([stale])

    started = time.monotonic()
    log(f"target: {target.runtime} on {target.architecture} ({target.requirements.name})")
    pip_install(site, default_cache_dir() / "wheels", target)
    book = SizeBook(artifacts)
    trim(site, book, target)
    check_machine(site, target)
    log(f"tessdata/: {' '.join(all_languages)} and {fetch_tessdata.PDF_FONT}")
    try:
        fetch_tessdata.fetch(tessdata, languages, debs_dir=debs_dir)
    except fetch_tessdata.FetchError as error:
        raise BuildError(str(error)) from error
    self_test(artifacts, all_languages, target)

    unzipped = report_sizes(artifacts, book)
    if unzipped > LAMBDA_UNZIPPED_LIMIT:
        raise BuildError(
            f"the layer alone is {unzipped:,} bytes unzipped, over Lambda's limit of "
            f"{LAMBDA_UNZIPPED_LIMIT:,} bytes for a function and all its layers. Build it with "
            "fewer TESSERACT_LANGUAGES."
        )
    log(
        f"done in {time.monotonic() - started:.0f} s; "
        f"{LAMBDA_UNZIPPED_LIMIT - unzipped:,} bytes left under Lambda's unzipped limit "
        "for the function code"
    )


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description="Build the TesseractLayer Lambda layer.")
    parser.add_argument(
        "--artifacts-dir",
        type=Path,
        default=os.environ.get("ARTIFACTS_DIR") or None,
        help="where the layer's python/ and tessdata/ go (default: $ARTIFACTS_DIR)",
    )
    parser.add_argument(
        "--languages",
        default=os.environ.get(fetch_tessdata.ENV_LANGUAGES)
        or " ".join(fetch_tessdata.DEFAULT_LANGUAGES),
        help="Tesseract language codes, space or comma separated; osd is always added "
        f"(default: ${fetch_tessdata.ENV_LANGUAGES}, "
        f"else {' '.join(fetch_tessdata.DEFAULT_LANGUAGES)})",
    )
    parser.add_argument(
        "--debs-dir",
        type=Path,
        default=os.environ.get(fetch_tessdata.ENV_DEBS_DIR) or None,
        help="take the pinned .debs from this directory instead of downloading them "
        f"(default: ${fetch_tessdata.ENV_DEBS_DIR})",
    )
    parser.add_argument(
        "--architecture",
        choices=sorted(TARGETS),
        default=os.environ.get(ENV_ARCHITECTURE) or "x86_64",
        help=f"the Lambda architecture (template.yaml's Architecture; default: "
        f"${ENV_ARCHITECTURE}, else x86_64)",
    )
    args = parser.parse_args(argv)
    if args.artifacts_dir is None:
        parser.error("--artifacts-dir or $ARTIFACTS_DIR is required")
    try:
        languages = fetch_tessdata.parse_languages(args.languages)
        build(Path(args.artifacts_dir), languages, args.debs_dir, TARGETS[args.architecture])
    except (BuildError, fetch_tessdata.FetchError) as error:
        print(f"build_layer: ERROR: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
