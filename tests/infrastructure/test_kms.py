"""template.yaml with a customer-managed KMS key (KmsKeyArn) and without one (README,
"Customer-managed keys"): the buckets and queues it encrypts, and the one grant the function's
role gets for it. Checked on the template as written and as SAM transforms it, with the
conditions decided for each parameter value."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.infrastructure.test_operations import deployed
from tests.infrastructure.test_template import TEMPLATE, render, transformed

KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BUCKETS = ("InputBucket", "OutputBucket")
QUEUES = ("IngestQueue", "IngestDeadLetterQueue")


@pytest.fixture(scope="module", params=["raw", "transformed"])
def template(request: pytest.FixtureRequest) -> dict[str, Any]:
    return TEMPLATE if request.param == "raw" else transformed({})


def role_statements(resources: dict[str, Any]) -> list[dict[str, Any]]:
    role = resources["OcrFunctionRole"]["Properties"]
    return [
        statement
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def test_the_parameter_takes_a_key_arn_or_nothing() -> None:
    parameter = TEMPLATE["Parameters"]["KmsKeyArn"]
    assert (parameter["Type"], parameter["Default"]) == ("String", "")
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("") and pattern.fullmatch(KEY)
    assert pattern.fullmatch(KEY.replace("arn:aws:", "arn:aws-us-gov:"))
    # An IAM policy on an alias does not cover the key's use, so aliases are refused.
    for refused in ("*", "arn:aws:kms:eu-west-1:123456789012:alias/ocr", "1234abcd-12ab"):
        assert not pattern.fullmatch(refused), refused
    assert TEMPLATE["Conditions"]["HasKmsKey"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "KmsKeyArn"}, ""]}]
    }


def test_with_a_key_buckets_use_sse_kms_with_bucket_keys(template: dict[str, Any]) -> None:
    resources = deployed(template, KmsKeyArn=KEY)["Resources"]
    for bucket in BUCKETS:
        assert resources[bucket]["Properties"]["BucketEncryption"] == {
            "ServerSideEncryptionConfiguration": [
                {
                    "ServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": KEY,
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        }, bucket


def test_with_a_key_queues_use_it(template: dict[str, Any]) -> None:
    resources = deployed(template, KmsKeyArn=KEY)["Resources"]
    for queue in QUEUES:
        properties = resources[queue]["Properties"]
        assert properties["KmsMasterKeyId"] == KEY, queue
        assert "SqsManagedSseEnabled" not in properties, queue  # one encryption or the other


def test_with_a_key_the_role_may_decrypt_and_generate_data_keys_on_it_only(
    template: dict[str, Any],
) -> None:
    resources = deployed(template, KmsKeyArn=KEY)["Resources"]
    statements = role_statements(resources)
    kms = [s for s in statements if "kms:" in json.dumps(s["Action"])]
    (grant,) = kms
    assert grant["Effect"] == "Allow"
    assert sorted(grant["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert grant["Resource"] == KEY
    assert set(grant) <= {"Sid", "Effect", "Action", "Resource", "Condition"}
    # Only as S3 and SQS use it on the function's behalf, in the stack's region.
    assert grant["Condition"] == {
        "StringEquals": {
            "kms:ViaService": [
                {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"},
                {"Fn::Sub": "sqs.${AWS::Region}.amazonaws.com"},
            ]
        }
    }
    assert render(grant["Condition"]["StringEquals"]["kms:ViaService"]) == [
        "s3.eu-west-1.amazonaws.com",
        "sqs.eu-west-1.amazonaws.com",
    ]
    # Nothing else in the stack grants or names a KMS action, and no managed policy is added.
    others = [s for s in statements if s is not grant]
    assert "kms" not in json.dumps(others).lower()
    role = resources["OcrFunctionRole"]["Properties"]
    without = deployed(template)["Resources"]["OcrFunctionRole"]["Properties"]
    assert role["ManagedPolicyArns"] == without["ManagedPolicyArns"]


def test_without_a_key_nothing_is_kms(template: dict[str, Any]) -> None:
    resources = deployed(template)["Resources"]
    for bucket in BUCKETS:
        assert resources[bucket]["Properties"]["BucketEncryption"] == {
            "ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
            ]
        }, bucket
    for queue in QUEUES:
        properties = resources[queue]["Properties"]
        assert properties["SqsManagedSseEnabled"] is True, queue
        assert "KmsMasterKeyId" not in properties, queue
    assert not [s for s in role_statements(resources) if "kms" in json.dumps(s).lower()]
    assert "kms" not in json.dumps(resources).lower()
