"""The layers' Makefiles as SAM's builder runs them (`make -n` from another directory), and the
links that let SAM's build cache see layers/common."""

from __future__ import annotations

import os
import shutil
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


# --- a layer directory on its own, as a build container sees it -----------------------------------

SCRIPTS = {"aspose-ocr": ("build_layer.py", "fetch_openssl.py"), "tesseract": ("build_layer.py",)}
TARGETS = {"aspose-ocr": "build-AsposeOcrLayer", "tesseract": "build-TesseractLayer"}


def _alone(layer: str, root: Path, *, link: str) -> Path:
    """A copy of layers/<layer> under `root`, its `common` link made a directory (as
    `--mount-symlinks` mounts it into SAM's build container, where nothing beside the layer's
    directory exists: link="mounted") or a plain file holding the link's target (git on Windows
    without symlinks, with layers/common beside it: link="file")."""
    source = root / layer
    shutil.copytree(LAYERS_DIR / layer, source, symlinks=True)
    (source / "common").unlink()
    if link == "mounted":
        shutil.copytree(LAYERS_DIR / "common", source / "common")
    else:
        (source / "common").write_text("../common")
        shutil.copytree(LAYERS_DIR / "common", root / "common")
    return source


def _runs_alone(source: Path, layer: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERACT_")}
    made = subprocess.run(
        ["make", "-n", "--makefile", str(source / "Makefile"), TARGETS[layer], "ARTIFACTS_DIR=/o"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert f'"{source / "build_layer.py"}"' in made.stdout
    for script in SCRIPTS[layer]:
        helped = subprocess.run(
            [sys.executable, str(source / script), "--help"],  # as make runs it
            cwd=tmp_path,
            env={k: v for k, v in env.items() if k != "PYTHONPATH"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert helped.returncode == 0, helped.stderr  # its imports of the shared code resolve


def test_a_layer_directory_builds_alone_with_its_common_link_mounted(tmp_path: Path) -> None:
    """What `sam build --use-container --mount-symlinks` gives the build: the layer's directory,
    its `common` link mounted, and no layers/common beside it."""
    for layer in SCRIPTS:
        root = tmp_path / layer / "mount"
        source = _alone(layer, root, link="mounted")
        assert not (root / "common").exists()
        _runs_alone(source, layer, tmp_path)


def test_a_layer_whose_link_git_wrote_as_a_file_uses_the_shared_code_beside_it(
    tmp_path: Path,
) -> None:
    for layer in SCRIPTS:
        source = _alone(layer, tmp_path / layer / "checkout", link="file")
        assert (source / "common").is_file()
        _runs_alone(source, layer, tmp_path)
