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
    for package in (
        *("aws_lambda_powertools", "aws_xray_sdk", "wrapt", "PIL"),
        *("pypdf", "pypdfium2", "pi_heif"),
    ):
        assert (built / package).is_dir(), package
    for provided in ("botocore", "boto3", "urllib3", "dateutil", "jmespath", "s3transfer"):
        assert not (built / provided).exists(), f"{provided} comes with the Lambda runtime"
    assert not list(built.rglob("__pycache__"))
    # 36.5 MB with PDFium (9 MB, both engines' PDF pages), libavif (4.9 MB) and libheif's
    # decoder (4.4 MB); botocore alone would add 30 MB: a budget, not the limit (check_sizes).
    assert measure(built, zipped=False).unzipped < 40_000_000


@pytest.mark.parametrize(
    ("pil_format", "mode"), [("WEBP", "RGB"), ("JPEG", "CMYK"), ("AVIF", "RGB"), ("HEIF", "RGB")]
)
def test_the_trimmed_pillow_decodes_every_input_format(
    built: Path, pil_format: str, mode: str
) -> None:
    """In the built function alone (isolated, no site-packages): WEBP, a CMYK JPEG, AVIF and
    HEIC (an iPhone's photo) become the upright RGB page the engines read."""
    if pil_format == "HEIF":
        from pillow_heif import register_heif_opener

        register_heif_opener()
    encoded = io.BytesIO()
    Image.new(mode, (40, 20), "white").save(encoded, pil_format)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from ocr_service.core.formats import identify\n"
        "from ocr_service.inputs.pages import image_pages\n"
        "data = sys.stdin.buffer.read()\n"
        "(page,) = image_pages(data, identify(data), max_pixels=10**6)\n"
        "import PIL; assert PIL.__file__.startswith(sys.argv[1]), PIL.__file__\n"
        "print(identify(data).value, page.image.mode, *page.image.size)\n"
    )
    decoded = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(built)],
        input=encoded.getvalue(),
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert decoded.returncode == 0, decoded.stderr.decode()
    kind = {"WEBP": "webp", "JPEG": "jpeg", "AVIF": "avif", "HEIF": "heif"}[pil_format]
    assert decoded.stdout.decode().split() == [kind, "RGB", "40", "20"]
