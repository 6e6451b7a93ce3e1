"""template.yaml: what the stack creates, least privilege, and SAM's own lint."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest

from conftest import REPO
from tools.template_env import load_template

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTION = RESOURCES["OcrFunction"]["Properties"]


def test_sam_validate_lint_is_clean() -> None:
    sam = shutil.which("sam") or str(REPO / ".venv/bin/sam")
    validated = subprocess.run(
        [sam, "validate", "--lint", "--template-file", str(REPO / "template.yaml")],
        cwd=REPO,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "is a valid SAM Template" in validated.stdout + validated.stderr


def test_two_buckets_so_the_function_never_triggers_itself() -> None:
    assert RESOURCES["InputBucket"]["Type"] == "AWS::S3::Bucket"
    assert RESOURCES["OutputBucket"]["Type"] == "AWS::S3::Bucket"
    trigger = FUNCTION["Events"]["ObjectCreated"]
    assert trigger["Type"] == "S3"
    assert trigger["Properties"] == {
        "Bucket": {"Ref": "InputBucket"},
        "Events": "s3:ObjectCreated:*",
    }
    assert FUNCTION["Environment"]["Variables"]["OUTPUT_BUCKET"] == {"Ref": "OutputBucket"}
    assert {"InputBucketName", "OutputBucketName"} <= set(TEMPLATE["Outputs"])


def test_runtime_architecture_handler_and_layer() -> None:
    function_globals = TEMPLATE["Globals"]["Function"]
    assert function_globals["Runtime"] in ("python3.12", "python3.13")  # AL2023: glibc 2.34
    assert function_globals["Architectures"] == ["x86_64"]  # the engine ships x86_64 only
    assert FUNCTION["Handler"] == "app.lambda_handler"
    assert (REPO / FUNCTION["CodeUri"] / "app.py").is_file()
    assert FUNCTION["Layers"] == [{"Ref": "AsposeOcrLayer"}]
    layer = RESOURCES["AsposeOcrLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Properties"]["CompatibleRuntimes"] == [function_globals["Runtime"]]
    assert (REPO / layer["Properties"]["ContentUri"] / "Makefile").is_file()


def statements() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for policy in FUNCTION["Policies"]:
        assert set(policy) == {"Statement"}, "only inline statements: no broad managed policies"
        found.extend(policy["Statement"])
    return found


def test_least_privilege_read_input_write_output() -> None:
    actions = {(s["Sid"], tuple(s["Action"])) for s in statements()}
    assert actions == {
        ("ReadUploadedObjects", ("s3:GetObject", "s3:GetObjectVersion")),
        ("WriteResults", ("s3:PutObject",)),
    }
    assert all(s["Effect"] == "Allow" and "*" not in str(s["Action"]) for s in statements())


def test_policies_avoid_the_circular_dependency_on_the_input_bucket() -> None:
    # The bucket's notification needs the function, so the function's policy must name the
    # bucket without !Ref/!GetAtt on it; it must still be the same name the bucket gets.
    read = next(s for s in statements() if s["Sid"] == "ReadUploadedObjects")
    assert "InputBucket" not in str(read["Resource"])
    bucket_name = RESOURCES["InputBucket"]["Properties"]["BucketName"]["Fn::Sub"]
    policy_arn = read["Resource"]["Fn::Sub"]
    assert policy_arn[0] == f"arn:${{AWS::Partition}}:s3:::{bucket_name[0]}/*"
    assert policy_arn[1] == bucket_name[1]


@pytest.mark.parametrize("bucket", ["InputBucket", "OutputBucket"])
def test_buckets_are_private_encrypted_and_tls_only(bucket: str) -> None:
    properties = RESOURCES[bucket]["Properties"]
    assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert properties["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    policy = RESOURCES[f"{bucket}TlsOnlyPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": bucket}
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
