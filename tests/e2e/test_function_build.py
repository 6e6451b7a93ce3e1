"""The function's own build (functions/ocr/Makefile): only what the Lambda runtime lacks, and
the trimmed Pillow still converts WEBP."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.support.deployment import REPO
from tools.check_sizes import measure


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    artifacts = tmp_path_factory.mktemp("function")
    command = ["make", "-s", "-C", str(REPO / "functions/ocr"), "build-OcrFunction"]
    subprocess.run(
        [*command, f"ARTIFACTS_DIR={artifacts}", f"PYTHON={sys.executable}"],
        check=True,
        timeout=600,
    )
    return artifacts


def test_ships_its_code_and_dependencies_but_not_the_runtimes(built: Path) -> None:
    assert (built / "app.py").is_file()
    assert (built / "ocr_service" / "engines" / "warmup.png").is_file()
    assert (built / "ocr_service" / "outputs" / "glyphless.ttf").is_file()
    for package in ("aws_lambda_powertools", "aws_xray_sdk", "wrapt", "PIL", "pypdf", "pypdfium2"):
        assert (built / package).is_dir(), package
    for provided in ("botocore", "boto3", "urllib3", "dateutil", "jmespath", "s3transfer"):
        assert not (built / provided).exists(), f"{provided} comes with the Lambda runtime"
    assert not list(built.rglob("__pycache__"))
    # 27 MB with PDFium (9 MB, for both engines' PDF pages); botocore alone would add 30 MB: a
    # budget, not the limit (check_sizes is that).
    assert measure(built, zipped=False).unzipped < 30_000_000


@pytest.mark.parametrize(("pil_format", "mode"), [("WEBP", "RGB"), ("JPEG", "CMYK")])
def test_trimmed_pillow_still_normalizes_inputs(built: Path, pil_format: str, mode: str) -> None:
    webp = io.BytesIO()
    Image.new(mode, (40, 20), "white").save(webp, pil_format)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from ocr_service.core.formats import identify\n"
        "from ocr_service.inputs.normalize import normalize_bytes\n"
        "data = sys.stdin.buffer.read()\n"
        "png, _ = normalize_bytes(data, identify(data), max_pixels=10**6)\n"
        "import PIL; assert PIL.__file__.startswith(sys.argv[1]), PIL.__file__\n"
        "print(png[:8].hex())\n"
    )
    converted = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(built)],
        input=webp.getvalue(),
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert converted.returncode == 0, converted.stderr.decode()
    assert converted.stdout.decode().strip() == b"\x89PNG\r\n\x1a\n".hex()
