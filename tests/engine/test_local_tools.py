"""`make demo` and `make invoke`, the Docker-free ways to run the real handler locally."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.support.deployment import REPO, openssl_dir
from tests.support.samples import DEMO_WORDS
from tools.moto_server import moto_server


def run_tool(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def tool_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OCR_"))}
    env.update(
        OCR_OPENSSL_LIB_DIR=openssl_dir(),
        OCR_RESOURCES_DIR=str(tmp_path / "models"),
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION="us-east-1",
    )
    return env


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    """A real S3 HTTP endpoint on loopback, as `make local-s3` gives."""
    with moto_server() as server:
        yield server.url


def test_demo_prints_the_recognized_text(tool_env: dict[str, str]) -> None:
    demo = run_tool(["tools.demo"], tool_env)

    assert demo.returncode == 0, demo.stderr
    assert "--- s3://demo-output/scans/invoice 4821.png.txt  (text/plain; charset=utf-8)" in (
        demo.stdout
    )
    for word in DEMO_WORDS:
        assert word in demo.stdout
    assert "engine-licensed: false" in demo.stdout
    assert "TRIAL MODE" in demo.stdout  # the cold start says so loudly


def test_invoke_runs_an_event_file_against_a_local_endpoint(
    tool_env: dict[str, str], s3_endpoint: str
) -> None:
    tool_env.update(AWS_ENDPOINT_URL=s3_endpoint, OUTPUT_BUCKET="local-results")

    invoked = run_tool(
        ["tools.invoke", "--event", "events/s3-put-two-records.json", "--seed"], tool_env
    )

    assert invoked.returncode == 0, invoked.stderr
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        region_name="us-east-1",
    )
    for key in ("scans/page-1.png.txt", "scans/page-2.png.txt"):
        body = s3.get_object(Bucket="local-results", Key=key)["Body"].read().decode("utf-8")
        assert "Invoice" in body


def test_invoke_refuses_to_seed_without_a_local_endpoint(tool_env: dict[str, str]) -> None:
    invoked = run_tool(["tools.invoke", "--event", "events/s3-put.json", "--seed"], tool_env)

    assert invoked.returncode == 2
    assert "--seed needs AWS_ENDPOINT_URL" in invoked.stderr
