"""The installed `ocr` command with the real engine, in a process of its own."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.deployment import REPO, openssl_dir
from tests.support.samples import DEMO_WORDS
from tools.samples import render_lines


def test_installed_command_with_the_real_engine(tmp_path: Path) -> None:
    scan = tmp_path / "scan.png"
    scan.write_bytes(render_lines())
    command = REPO / ".venv/bin/ocr"
    env = {**os.environ, "OCR_OPENSSL_LIB_DIR": openssl_dir(), "OCR_RESOURCES_DIR": str(tmp_path)}

    ran = subprocess.run(
        [str(command), str(scan)], env=env, capture_output=True, text=True, timeout=300, check=False
    )

    assert ran.returncode == 0, ran.stderr
    for word in DEMO_WORDS:
        assert word in ran.stdout
    assert "trial mode" in ran.stderr
