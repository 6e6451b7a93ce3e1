"""The layers' Makefiles as SAM's builder runs them (`make -n` from another directory), and the
links that let SAM's build cache see layers/common."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.layers import LAYERS_DIR, layer_script

LAYER_DIR = LAYERS_DIR / "tesseract"
layer_script("tesseract", "build_layer", "tesseract_build_layer")
# The very module the layer's build uses (it imports fetch_tessdata from its own directory).
fetch_tessdata = sys.modules["fetch_tessdata"]


# --- the Makefile, as SAM runs it -----------------------------------------------------------------


def make_dry_run(tmp_path: Path, *variables: str) -> subprocess.CompletedProcess[str]:
    """`make -n` of the layer's Makefile from another directory, as SAM's builder runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERACT_")}
    return subprocess.run(
        [
            "make",
            "-n",
            "--makefile",
            str(LAYER_DIR / "Makefile"),
            "build-TesseractLayer",
            *variables,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_makefile_runs_the_build_by_its_own_path_with_the_languages(tmp_path: Path) -> None:
    done = make_dry_run(
        tmp_path, "ARTIFACTS_DIR=/tmp/out", "TESSERACT_LANGUAGES=eng,rus", "TESSERACT_DEBS_DIR=/d"
    )

    assert done.returncode == 0, done.stderr
    assert f'"{LAYER_DIR / "build_layer.py"}" --artifacts-dir "/tmp/out"' in done.stdout
    assert '--languages "eng,rus"' in done.stdout
    assert '--debs-dir "/d"' in done.stdout


def test_the_makefile_defaults_to_fetch_tessdatas_languages(tmp_path: Path) -> None:
    done = make_dry_run(tmp_path, "ARTIFACTS_DIR=/tmp/out")

    assert done.returncode == 0, done.stderr
    assert f'--languages "{" ".join(fetch_tessdata.DEFAULT_LANGUAGES)}"' in done.stdout
    assert "--debs-dir" not in done.stdout


def test_the_makefile_requires_artifacts_dir(tmp_path: Path) -> None:
    env = {**os.environ, "ARTIFACTS_DIR": ""}
    done = subprocess.run(
        ["make", "--makefile", str(LAYER_DIR / "Makefile"), "build-TesseractLayer"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode != 0
    assert "set ARTIFACTS_DIR" in done.stderr


def test_each_layer_directory_links_the_shared_code_so_sams_cache_sees_it() -> None:
    # samconfig.toml builds with cached = true, and SAM hashes only a layer's ContentUri
    # directory: without the link, a change in layers/common would reuse a stale layer.
    common = LAYER_DIR.parent / "common"
    for layer in ("aspose-ocr", "tesseract"):
        link = LAYER_DIR.parent / layer / "common"
        assert link.is_symlink()
        assert link.resolve() == common
