#!/usr/bin/env python3
r"""Check that a built function plus its layers fit Lambda's unzipped size limit.

After ``sam build``::

    python tools/check_sizes.py .aws-sam/build [--function OcrFunction] [--layer AsposeOcrLayer]
    python tools/check_sizes.py .aws-sam/build \
        --engine aspose=AsposeOcrLayer --engine tesseract=TesseractLayer

prints each part's file count and size unzipped (sum of file sizes, what Lambda limits) and
zipped (deflate, exactly as SAM's ``zipfile`` zips a directory for upload), then the total, and
exits with status 1 if function plus layers exceed 262,144,000 bytes unzipped (2 if a directory
is missing). ``--layer`` may be repeated for several layers attached together.

``--architecture x86_64|arm64`` also checks that every ELF file (shared library, extension
module) of the function and the layers is built for that Lambda architecture (`make build
ARCH=arm64` passes arm64): sizes of a build for the other processor are not the ones deployed,
and such a deployment fails at its first import. A mismatch exits with status 1.

``--engine NAME=LAYER[,LAYER...]`` (repeatable) checks one combination per engine instead: a
deployment attaches only its engine's layer (template.yaml's ``OcrEngine``), so each engine's
function plus layers must fit on its own. Every combination is reported; the last line names
those that do not fit.

Importable for tests: :func:`measure` sizes one directory, :func:`check` compares function plus
layers with a limit, :func:`check_engines` does so per engine, :func:`format_report` and
:func:`format_engines_report` render the tables. Standard library only; the per-file
measurement is ``layers/common/lambda_sizes.py``, shared with the layer builds.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

#: The size measurement shared with the layer build (both layers' build_layer.py).
LAMBDA_SIZES_PATH = Path(__file__).resolve().parents[1] / "layers" / "common" / "lambda_sizes.py"


def _load_lambda_sizes() -> ModuleType:
    """Load ``layers/common/lambda_sizes.py``, the size measurement build_layer.py uses.

    It lives with the layer (SAM copies only that directory when it builds the layer), which is
    no package: load it from its path, once, under its own module name.
    """
    loaded = sys.modules.get(LAMBDA_SIZES_PATH.stem)
    if loaded is not None and Path(loaded.__file__ or "").resolve() == LAMBDA_SIZES_PATH:
        return loaded
    spec = importlib.util.spec_from_file_location(LAMBDA_SIZES_PATH.stem, LAMBDA_SIZES_PATH)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {LAMBDA_SIZES_PATH}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules.setdefault(spec.name, module)
    return module


_lambda_sizes = _load_lambda_sizes()

#: Lambda: function code plus all layers, unzipped, in bytes.
LAMBDA_UNZIPPED_LIMIT: int = _lambda_sizes.LAMBDA_UNZIPPED_LIMIT
#: ZIP bytes per file besides its deflated data and twice its name, and once per archive.
ZIP_PER_FILE: int = _lambda_sizes.ZIP_PER_FILE
#: The Lambda architectures, and the ELF files below a directory not built for one.
ELF_MACHINES: dict[str, int] = _lambda_sizes.ELF_MACHINES
foreign_binaries: Callable[[Path, str], list[str]] = _lambda_sizes.foreign_binaries
ZIP_END: int = _lambda_sizes.ZIP_END
#: The regular files below a directory, following symlinks as SAM does.
files_under: Callable[[Path], list[Path]] = _lambda_sizes.files_under
#: The length of a file's content deflated as ``zipfile.ZIP_DEFLATED`` does it.
deflated_size: Callable[[Path], int] = _lambda_sizes.deflated_size
#: The bytes a file stored under a name adds to a ZIP archive.
zip_entry_size: Callable[[str, Path], int] = _lambda_sizes.zip_entry_size


@dataclass(frozen=True)
class Sizes:
    """Size of one directory's files: count, unzipped bytes, bytes of a deflate ZIP of them."""

    files: int
    unzipped: int
    zipped: int

    def __add__(self, other: Sizes) -> Sizes:
        return Sizes(
            self.files + other.files,
            self.unzipped + other.unzipped,
            # Separate archives, each with its own end record.
            self.zipped + other.zipped,
        )


@dataclass(frozen=True)
class Check:
    """Result of :func:`check`: each part's sizes and whether the total fits ``limit``."""

    function: tuple[str, Sizes]
    layers: tuple[tuple[str, Sizes], ...]
    limit: int

    @property
    def total(self) -> Sizes:
        """Function plus all layers."""
        total = self.function[1]
        for _, sizes in self.layers:
            total = total + sizes
        return total

    @property
    def ok(self) -> bool:
        """True if the unzipped total is within the limit."""
        return self.total.unzipped <= self.limit

    @property
    def headroom(self) -> int:
        """Bytes left under the limit (negative when over it)."""
        return self.limit - self.total.unzipped


def measure(directory: Path, zipped: bool = True, workers: int | None = None) -> Sizes:
    """Return the :class:`Sizes` of ``directory``, zipped as SAM zips it for upload.

    ``zipped=False`` skips compressing (``Sizes.zipped`` is then 0). Files are compressed on
    ``workers`` threads (default: one per CPU); zlib releases the GIL while compressing.
    """
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a directory")
    paths = files_under(directory)
    unzipped = sum(path.stat().st_size for path in paths)
    if not zipped:
        return Sizes(len(paths), unzipped, 0)
    names = [path.relative_to(directory).as_posix() for path in paths]
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        entries = sum(pool.map(zip_entry_size, names, paths))
    return Sizes(len(paths), unzipped, entries + ZIP_END)


def check(
    function_dir: Path,
    layer_dirs: Path | Sequence[Path],
    limit: int = LAMBDA_UNZIPPED_LIMIT,
    zipped: bool = True,
) -> Check:
    """Measure a function directory and its layer directories against ``limit`` (unzipped)."""
    layers = [layer_dirs] if isinstance(layer_dirs, Path) else list(layer_dirs)
    return Check(
        function=(function_dir.name, measure(function_dir, zipped)),
        layers=tuple((layer.name, measure(layer, zipped)) for layer in layers),
        limit=limit,
    )


def format_report(result: Check) -> str:
    """Render ``result`` as a table plus a verdict line."""
    rows = [("function " + result.function[0], result.function[1])]
    rows += [("layer " + name, sizes) for name, sizes in result.layers]
    rows.append(("total", result.total))
    width = max(len(label) for label, _ in rows)
    lines = [f"{'':<{width}}  {'files':>6}  {'unzipped':>13}  {'zipped':>13}"]
    for label, sizes in rows:
        lines.append(
            f"{label:<{width}}  {sizes.files:>6}  {sizes.unzipped:>13,}  {sizes.zipped:>13,}"
        )
    total = result.total.unzipped
    if result.ok:
        lines.append(
            f"OK: {total:,} bytes unzipped is within Lambda's {result.limit:,} "
            f"({result.headroom:,} bytes left)"
        )
    else:
        lines.append(
            f"TOO BIG: function plus layers are {total:,} bytes unzipped, "
            f"{-result.headroom:,} bytes over Lambda's limit of {result.limit:,} bytes. Trim the "
            "layer (Aspose: build it with WITHOUT_PDF=1; Tesseract: fewer TESSERACT_LANGUAGES), "
            "move dependencies out of the function, or deploy as a container image."
        )
    return "\n".join(lines)


def check_engines(
    function_dir: Path,
    engines: Mapping[str, Sequence[Path]],
    limit: int = LAMBDA_UNZIPPED_LIMIT,
    zipped: bool = True,
) -> dict[str, Check]:
    """:func:`check` for each engine's combination (function plus that engine's layers).

    Each directory is measured once, however many combinations it is part of.
    """
    measured: dict[Path, Sizes] = {}

    def sizes_of(directory: Path) -> Sizes:
        if directory not in measured:
            measured[directory] = measure(directory, zipped)
        return measured[directory]

    return {
        engine: Check(
            function=(function_dir.name, sizes_of(function_dir)),
            layers=tuple((layer.name, sizes_of(layer)) for layer in layers),
            limit=limit,
        )
        for engine, layers in engines.items()
    }


def format_engines_report(results: Mapping[str, Check]) -> str:
    """Render one table per engine, then a line naming the combinations that do not fit."""
    sections = []
    for engine, result in results.items():
        layers = " + ".join(name for name, _ in result.layers)
        sections.append(f"engine {engine}: function {result.function[0]} + {layers}")
        sections.append(format_report(result))
        sections.append("")
    failing = [engine for engine, result in results.items() if not result.ok]
    if failing:
        details = ", ".join(
            f"{engine} ({results[engine].total.unzipped:,} bytes, "
            f"{-results[engine].headroom:,} over)"
            for engine in failing
        )
        sections.append(f"TOO BIG for engine {details}: that deployment would fail.")
    else:
        sections.append(
            f"OK: every engine's function plus layer fits Lambda's "
            f"{min(result.limit for result in results.values()):,} bytes unzipped "
            f"({', '.join(results)})."
        )
    return "\n".join(sections)


#: How many wrong files a report names.
SHOWN = 5


def check_architecture(directories: Sequence[Path], architecture: str) -> str | None:
    """None if every ELF file of ``directories`` is for ``architecture``, else what is not."""
    wrong = [
        f"{directory.name}/{name}"
        for directory in directories
        for name in foreign_binaries(directory, architecture)
    ]
    if not wrong:
        return None
    shown = ", ".join(wrong[:SHOWN])
    if len(wrong) > SHOWN:
        shown += f" and {len(wrong) - SHOWN} more"
    return (
        f"WRONG ARCHITECTURE: {len(wrong)} native file(s) are not built for {architecture}: "
        f"{shown}. Build again with `make build ARCH={architecture}`."
    )


def parse_engine(value: str) -> tuple[str, list[str]]:
    """``"tesseract=TesseractLayer"`` or ``"x=LayerA,LayerB"`` -> (engine, layer logical ids)."""
    engine, sep, layers = value.partition("=")
    names = [name.strip() for name in layers.split(",") if name.strip()]
    if not sep or not engine.strip() or not names:
        raise argparse.ArgumentTypeError(
            f"{value!r}: expected ENGINE=LAYER[,LAYER...], e.g. tesseract=TesseractLayer"
        )
    return engine.strip(), names


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(
        description="Check function + layer sizes of a `sam build` against Lambda's limit."
    )
    parser.add_argument("build_dir", type=Path, help="the sam build directory (.aws-sam/build)")
    parser.add_argument("--function", default="OcrFunction", help="function logical id")
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument(
        "--layer",
        action="append",
        default=None,
        help="layer logical id; repeat for several attached together (default: AsposeOcrLayer)",
    )
    chosen.add_argument(
        "--engine",
        action="append",
        type=parse_engine,
        default=None,
        metavar="ENGINE=LAYER[,LAYER]",
        help="check this engine's combination on its own; repeat for each engine",
    )
    parser.add_argument(
        "--limit", type=int, default=LAMBDA_UNZIPPED_LIMIT, help="unzipped limit in bytes"
    )
    parser.add_argument("--no-zip", action="store_true", help="skip computing zipped sizes")
    parser.add_argument(
        "--architecture",
        choices=sorted(ELF_MACHINES),
        default=None,
        help="also check that every native file is built for this Lambda architecture",
    )
    args = parser.parse_args(argv)
    build_dir: Path = args.build_dir
    function_dir = build_dir / args.function
    engines: dict[str, list[Path]] | None = None
    if args.engine:
        engines = {}
        for engine, names in args.engine:
            if engine in engines:
                parser.error(f"--engine {engine} given twice")
            engines[engine] = [build_dir / name for name in names]
        layer_dirs = list(dict.fromkeys(path for paths in engines.values() for path in paths))
    else:
        layer_dirs = [build_dir / name for name in (args.layer or ["AsposeOcrLayer"])]
    missing = [str(path) for path in [function_dir, *layer_dirs] if not path.is_dir()]
    if missing:
        print(
            f"check_sizes: ERROR: not found: {', '.join(missing)} (run `sam build` first, "
            "or pass --function/--layer/--engine with the logical ids of the template)",
            file=sys.stderr,
        )
        return 2
    if args.architecture is not None:
        problem = check_architecture([function_dir, *layer_dirs], args.architecture)
        if problem is not None:
            print(problem)
            return 1
        print(f"architecture {args.architecture}: every native file is built for it")
    if engines is not None:
        results = check_engines(function_dir, engines, args.limit, zipped=not args.no_zip)
        print(format_engines_report(results))
        return 0 if all(result.ok for result in results.values()) else 1
    result = check(function_dir, layer_dirs, args.limit, zipped=not args.no_zip)
    print(format_report(result))
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
