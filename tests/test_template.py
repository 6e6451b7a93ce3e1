"""template.yaml: what the stack creates, least privilege, and SAM's own lint."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from collections.abc import Callable
from typing import Any
from unittest import mock

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
    assert FUNCTION["Layers"] == {
        "Fn::If": ["UseTesseract", [{"Ref": "TesseractLayer"}], [{"Ref": "AsposeOcrLayer"}]]
    }
    for name in ("AsposeOcrLayer", "TesseractLayer"):
        layer = RESOURCES[name]
        assert layer["Type"] == "AWS::Serverless::LayerVersion"
        assert layer["Metadata"]["BuildMethod"] == "makefile"
        assert layer["Metadata"]["BuildArchitecture"] == "x86_64"
        assert layer["Properties"]["CompatibleRuntimes"] == [function_globals["Runtime"]]
        assert layer["Properties"]["CompatibleArchitectures"] == function_globals["Architectures"]
        assert layer["Properties"]["RetentionPolicy"] == "Delete"
        makefile = REPO / layer["Properties"]["ContentUri"] / "Makefile"
        assert f"build-{name}:" in makefile.read_text(encoding="utf-8")


def statements() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for policy in FUNCTION["Policies"]:
        if "Fn::If" in policy:  # the license grants: see the transformed-role tests
            continue
        assert set(policy) == {"Statement"}, "only inline statements: no broad managed policies"
        found.extend(policy["Statement"])
    return found


def test_least_privilege_read_input_write_output() -> None:
    actions = {
        (s["Sid"], tuple(s["Action"]))
        for s in statements()
        if s["Sid"].endswith("Results") or s["Sid"] == "ReadUploadedObjects"
    }
    assert actions == {
        ("ReadUploadedObjects", ("s3:GetObject", "s3:GetObjectVersion")),
        ("ReadWriteResults", ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")),
    }
    assert all(s["Effect"] == "Allow" and "*" not in str(s["Action"]) for s in statements())


def transformed(parameters: dict[str, str]) -> dict[str, Any]:
    """The template as CloudFormation receives it after SAM's transform."""
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    document = copy.deepcopy(TEMPLATE)
    document["Resources"]["OcrFunction"]["Properties"]["CodeUri"] = "s3://artifacts/fn.zip"
    document["Resources"]["AsposeOcrLayer"]["Properties"]["ContentUri"] = "s3://artifacts/l.zip"
    document["Resources"]["TesseractLayer"]["Properties"]["ContentUri"] = "s3://artifacts/t.zip"
    with mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": "us-east-1"}):
        result: dict[str, Any] = transform(document, parameters, NoManagedPolicies())
    return result


def role_statements(document: dict[str, Any], conditions: dict[str, bool]) -> list[dict[str, Any]]:
    """The function role's inline statements, with the template's conditions decided."""
    role = document["Resources"]["OcrFunctionRole"]["Properties"]
    found = []
    for entry in role["Policies"]:
        policy = entry
        if "Fn::If" in entry:
            condition, if_true, _ = entry["Fn::If"]
            if not conditions[condition]:
                continue
            policy = if_true
        found.extend(policy["PolicyDocument"]["Statement"])
    return found


def test_transformed_role_grants_only_what_the_function_uses() -> None:
    document = transformed({})
    role = document["Resources"]["OcrFunctionRole"]["Properties"]
    assert sorted(role["ManagedPolicyArns"]) == [
        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",  # Tracing: Active
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",  # its logs
    ]
    granted = role_statements(document, {"HasLicenseSecret": False, "HasLicenseParameter": False})
    by_action = {
        action: statement["Resource"]
        for statement in granted
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    }
    assert set(by_action) == {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:DeleteObject",
        "sqs:SendMessage",
    }
    assert by_action["sqs:SendMessage"] == {"Fn::GetAtt": ["FailedEventsQueue", "Arn"]}
    assert by_action["s3:PutObject"] == {"Fn::Sub": "${OutputBucket.Arn}/*"}
    assert by_action["s3:DeleteObject"] == {"Fn::Sub": "${OutputBucket.Arn}/*"}
    assert "input" in str(by_action["s3:GetObjectVersion"])


def test_license_secret_and_parameter_are_readable_only_when_configured() -> None:
    document = transformed({})
    with_license = role_statements(
        document, {"HasLicenseSecret": True, "HasLicenseParameter": True}
    )
    license_grants = {
        s["Sid"]: s for s in with_license if s.get("Sid", "").startswith("ReadLicense")
    }
    assert license_grants["ReadLicenseSecret"]["Action"] == ["secretsmanager:GetSecretValue"]
    assert license_grants["ReadLicenseSecret"]["Resource"] == {"Ref": "LicenseSecretArn"}
    assert license_grants["ReadLicenseParameter"]["Action"] == ["ssm:GetParameter"]
    assert (
        "${LicenseParameterName}" in license_grants["ReadLicenseParameter"]["Resource"]["Fn::Sub"]
    )
    without = role_statements(document, {"HasLicenseSecret": False, "HasLicenseParameter": False})
    assert not any("secretsmanager" in str(s) or "ssm:" in str(s) for s in without)


def test_failed_events_go_to_an_encrypted_queue_with_an_alarm() -> None:
    document = transformed({})
    resources = document["Resources"]
    invoke_config = resources["OcrFunctionEventInvokeConfig"]["Properties"]
    assert 0 < invoke_config["MaximumRetryAttempts"] <= 2
    assert 60 <= invoke_config["MaximumEventAgeInSeconds"] <= 6 * 3600
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["FailedEventsQueue", "Arn"]
    }
    assert resources["FailedEventsQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    alarm = resources["FailedEventsAlarm"]["Properties"]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["FailedEventsQueue", "QueueName"]}}
    ]
    assert "FailedEventsQueueUrl" in document["Outputs"]


def test_input_bucket_versioning_is_a_parameter() -> None:
    versioning = RESOURCES["InputBucket"]["Properties"]["VersioningConfiguration"]
    assert versioning["Fn::If"][0] == "VersionInputBucket"
    assert TEMPLATE["Parameters"]["InputBucketVersioning"]["Default"] == "false"


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


def test_tracing_metrics_namespace_and_failure_alarm() -> None:
    assert TEMPLATE["Globals"]["Function"]["Tracing"] == "Active"
    variables = FUNCTION["Environment"]["Variables"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "AsposeOcr"
    alarm = RESOURCES["FailedObjectsAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AsposeOcr", "ObjectsFailed")
    assert alarm["Dimensions"] == [
        {"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}
    ]


# --- the engine: OcrEngine chooses the layer, the environment, memory and timeout ---------------


def decide(document: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """What CloudFormation would deploy: conditions evaluated with ``parameters`` (else the
    defaults), resources whose Condition is false dropped, and every Fn::If resolved."""
    values = {name: str(spec.get("Default", "")) for name, spec in document["Parameters"].items()}
    values.update(parameters)
    decided: dict[str, bool] = {}

    def evaluate(node: Any) -> Any:
        if isinstance(node, list):
            return [evaluate(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((function, argument),) = node.items()
            if function in intrinsics and (function != "Ref" or argument in values):
                return intrinsics[function](argument)
        return {key: evaluate(value) for key, value in node.items()}

    def if_(argument: list[Any]) -> Any:
        name, if_true, if_false = argument
        return evaluate(if_true if condition(name) else if_false)

    def equals(argument: list[Any]) -> bool:
        left, right = evaluate(argument)
        return str(left) == str(right)

    def condition(name: str) -> bool:
        if name not in decided:
            decided[name] = bool(evaluate(document["Conditions"][name]))
        return decided[name]

    intrinsics: dict[str, Callable[[Any], Any]] = {
        "Ref": lambda name: values[name],
        "Condition": condition,
        "Fn::Equals": equals,
        "Fn::Not": lambda argument: not evaluate(argument[0]),
        "Fn::If": if_,
    }

    resources = {
        name: evaluate(resource)
        for name, resource in document["Resources"].items()
        if "Condition" not in resource or condition(resource["Condition"])
    }
    outputs = {
        name: evaluate(output)
        for name, output in document.get("Outputs", {}).items()
        if "Condition" not in output or condition(output["Condition"])
    }
    return {"Resources": resources, "Outputs": outputs}


ENGINES = {
    # engine: (the layer's logical id in template.yaml, MemorySize, Timeout)
    "aspose": ("AsposeOcrLayer", 3538, 900),
    "tesseract": ("TesseractLayer", 1769, 300),
}


@pytest.fixture(scope="module")
def transformed_template() -> dict[str, Any]:
    return transformed({})


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_only_the_chosen_engines_layer_is_created_and_attached(
    engine: str, transformed_template: dict[str, Any]
) -> None:
    layer_id, memory, timeout = ENGINES[engine]
    deployed = decide(transformed_template, {"OcrEngine": engine})
    resources = deployed["Resources"]

    layers = {
        name: resource
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::LayerVersion"
    }
    (layer_name,) = layers  # exactly one layer is created ...
    assert layer_name.startswith(layer_id)  # ... the chosen one (SAM appends a content hash)
    function = resources["OcrFunction"]["Properties"]
    assert function["Layers"] == [{"Ref": layer_name}]  # ... and attached
    assert (function["MemorySize"], function["Timeout"]) == (memory, timeout)
    variables = function["Environment"]["Variables"]
    assert variables["OCR_ENGINE"] == engine
    assert variables["OCR_TESSDATA_DIR"] == "/opt/tessdata"
    assert deployed["Outputs"]["EngineLayerArn"]["Value"] == {"Ref": layer_name}
    # Nothing that is deployed refers to the layer that is not.
    other = next(
        name
        for name in transformed_template["Resources"]
        if name.startswith(ENGINES["tesseract" if engine == "aspose" else "aspose"][0])
    )
    assert other not in str(deployed)


def test_ocr_engine_parameter_defaults_to_aspose_and_allows_only_the_two_engines() -> None:
    parameter = TEMPLATE["Parameters"]["OcrEngine"]
    assert parameter["Default"] == "aspose"
    assert sorted(parameter["AllowedValues"]) == sorted(ENGINES)
    assert "tesseract" in parameter["Description"] and "aspose" in parameter["Description"]
    assert TEMPLATE["Conditions"]["UseTesseract"] == {
        "Fn::Equals": [{"Ref": "OcrEngine"}, "tesseract"]
    }
    assert TEMPLATE["Conditions"]["UseAspose"] == {"Fn::Not": [{"Condition": "UseTesseract"}]}
    assert RESOURCES["AsposeOcrLayer"]["Condition"] == "UseAspose"
    assert RESOURCES["TesseractLayer"]["Condition"] == "UseTesseract"


def test_default_deployment_is_the_aspose_one(transformed_template: dict[str, Any]) -> None:
    assert decide(transformed_template, {}) == decide(transformed_template, {"OcrEngine": "aspose"})


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_local_runs_get_the_engine_environment_template_yaml_declares(engine: str) -> None:
    from tools.template_env import function_environment

    environment = function_environment({"OutputBucket": "out"}, {"OcrEngine": engine})

    assert environment["OCR_ENGINE"] == engine
    assert environment["OCR_TESSDATA_DIR"] == "/opt/tessdata"
