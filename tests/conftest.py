"""Fixtures every tier may use, and the tiers themselves: each test module lives in one of
TIERS (a directory of tests/), is marked with its tier's name, and a tier asked for must have
tests (`make test` runs them all; `make test-unit` and so on one each)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from moto import mock_aws

from tests.support.deployment import INPUT_BUCKET, OUTPUT_BUCKET, set_function_environment
from tests.support.samples import CORRUPT_PNG
from tools.fake_engine import FakeEngine

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "integration", "engine", "e2e", "infrastructure")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier; refuse tests outside the tiers and, before -k or -m
    deselect anything, a tier that was asked for but collected nothing."""
    counts = dict.fromkeys(TIERS, 0)
    for item in items:
        tier = item.path.relative_to(TESTS).parts[0]
        if tier not in counts:
            raise pytest.UsageError(f"{item.path}: every test belongs in one of tests/{TIERS}")
        counts[tier] += 1
        item.add_marker(tier)
    asked = [Path(str(arg).split("::")[0]).resolve() for arg in config.args]
    for tier, count in counts.items():
        directory = TESTS / tier
        if count == 0 and any(directory.is_relative_to(path) for path in asked):
            raise pytest.UsageError(f"tests/{tier} collected no tests")


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and no endpoint override, so nothing can reach real AWS."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def s3(aws_credentials: None, request: pytest.FixtureRequest) -> Iterator[S3Client]:
    """An in-process S3 with the input and output buckets.

    Parametrized indirectly with "sse-kms" (`@pytest.mark.parametrize("s3", ["sse-kms"],
    indirect=True)`), both buckets encrypt by default with a new customer-managed KMS key and
    S3 Bucket Keys, as the stack does with KmsKeyArn; `bucket_kms_key` names the key."""
    encryption = getattr(request, "param", "default")
    assert encryption in ("default", "sse-kms"), encryption
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=INPUT_BUCKET)
        client.create_bucket(Bucket=OUTPUT_BUCKET)
        if encryption == "sse-kms":
            key = boto3.client("kms").create_key(Description="ocr test key")["KeyMetadata"]
            for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
                client.put_bucket_encryption(
                    Bucket=bucket,
                    ServerSideEncryptionConfiguration={
                        "Rules": [
                            {
                                "ApplyServerSideEncryptionByDefault": {
                                    "SSEAlgorithm": "aws:kms",
                                    "KMSMasterKeyID": key["Arn"],
                                },
                                "BucketKeyEnabled": True,
                            }
                        ]
                    },
                )
        yield client


@pytest.fixture
def bucket_kms_key(s3: S3Client) -> str:
    """The ARN of the KMS key the buckets encrypt with (`s3` parametrized "sse-kms")."""
    (rule,) = s3.get_bucket_encryption(Bucket=OUTPUT_BUCKET)["ServerSideEncryptionConfiguration"][
        "Rules"
    ]
    return rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]


@pytest.fixture
def fake_engine() -> FakeEngine:
    """The fake engine, recording its calls, refusing CORRUPT_PNG as undecodable."""
    return FakeEngine(record=True, unreadable={CORRUPT_PNG})


@pytest.fixture
def function_environment(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The function's environment from template.yaml, as Lambda sets it (with our buckets)."""
    return set_function_environment(monkeypatch)
