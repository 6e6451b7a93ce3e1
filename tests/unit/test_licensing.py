"""License sources: a file, a Secrets Manager secret, an SSM SecureString parameter."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from ocr_service.core.config import LicenseSource
from ocr_service.engines.licensing import LicenseError, fetch_license

LICENSE = b'<?xml version="1.0"?><License><Data>secret-terms</Data></License>'


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[None]:
    with mock_aws():
        yield


def test_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "Aspose.OCR.lic"
    path.write_bytes(LICENSE)
    assert fetch_license(LicenseSource("file", str(path), "OCR_LICENSE_PATH")) == LICENSE


@pytest.mark.parametrize("stored", [LICENSE.decode(), base64.b64encode(LICENSE).decode()])
def test_from_a_secret_as_xml_or_base64(aws: None, stored: str) -> None:
    boto3.client("secretsmanager").create_secret(Name="ocr/license", SecretString=stored)
    source = LicenseSource("secret", "ocr/license", "OCR_LICENSE_SECRET_ID")
    assert fetch_license(source) == LICENSE


def test_from_a_secure_string_parameter(aws: None) -> None:
    boto3.client("ssm").put_parameter(
        Name="/ocr/license", Value=base64.b64encode(LICENSE).decode(), Type="SecureString"
    )
    source = LicenseSource("parameter", "/ocr/license", "OCR_LICENSE_PARAMETER")
    assert fetch_license(source) == LICENSE


def test_a_missing_secret_names_the_source(aws: None) -> None:
    source = LicenseSource("secret", "ocr/nope", "OCR_LICENSE_SECRET_ID")
    with pytest.raises(LicenseError, match=r"OCR_LICENSE_SECRET_ID='ocr/nope'.*ResourceNotFound"):
        fetch_license(source)


def test_a_value_that_is_no_license_is_refused_without_echoing_it(aws: None) -> None:
    boto3.client("ssm").put_parameter(
        Name="/ocr/license", Value="not base64 and not xml!", Type="SecureString"
    )
    with pytest.raises(LicenseError) as raised:
        fetch_license(LicenseSource("parameter", "/ocr/license", "OCR_LICENSE_PARAMETER"))
    assert "neither license XML nor base64" in str(raised.value)
    assert "not base64 and not xml!" not in str(raised.value)
