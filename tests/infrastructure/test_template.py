"""template.yaml: what the stack creates, least privilege, and SAM's own lint.

Uploads reach the function through a queue: S3 notifies IngestQueue, an SQS event source
mapping feeds OcrFunction, and what failed transiently MaxReceiveCount times waits in
IngestDeadLetterQueue. Each check runs on the template as written and, where SAM's transform
could change the answer (the role, the event source mapping), on the template SAM produces.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest

from tests.support.deployment import REPO
from tools.template_env import function_property, load_template

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTION = RESOURCES["OcrFunction"]["Properties"]
TLS_ONLY = {"Bool": {"aws:SecureTransport": "false"}}


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


@pytest.fixture(scope="module")
def transformed_template() -> dict[str, Any]:
    return transformed({})


# Both the template as written and as SAM transforms it, for checks that must hold in each.
@pytest.fixture(params=["raw", "transformed"])
def either_template(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "raw":
        return TEMPLATE
    return transformed({})


# --- names computed with !Sub, rendered for one made-up stack -----------------------------------

STACK = {
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::Region": "eu-west-1",
    "AWS::StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/ocr/"
    "0f1e2d3c-aaaa-bbbb-cccc-123456789abc",
    "AWS::StackName": "ocr",
}


def render(node: Any, document: dict[str, Any] = TEMPLATE) -> Any:
    """Evaluate Ref/Fn::Sub/Fn::Select/Fn::Split as CloudFormation would for STACK and the
    parameters' defaults; a resource's Ref or attribute becomes "<Name>" or "<Name.Attr>"."""
    values = {name: str(spec.get("Default", "")) for name, spec in document["Parameters"].items()}
    values.update(STACK)

    def ref(name: str) -> str:
        return values.get(name, f"<{name}>")

    def sub(argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        local = {key: str(render(value, document)) for key, value in variables.items()}
        out, rest = "", str(text)
        while "${" in rest:
            before, after = rest.split("${", 1)
            name, rest = after.split("}", 1)
            out += before + str(local.get(name, ref(name)))
        return out + rest

    intrinsics: dict[str, Callable[[Any], Any]] = {
        "Ref": ref,
        "Fn::GetAtt": lambda argument: f"<{'.'.join(argument)}>",
        "Fn::Sub": sub,
        "Fn::Split": lambda argument: str(render(argument[1], document)).split(argument[0]),
        "Fn::Select": lambda argument: render(argument[1], document)[int(argument[0])],
    }
    if isinstance(node, list):
        return [render(item, document) for item in node]
    if isinstance(node, dict) and len(node) == 1 and next(iter(node)) in intrinsics:
        ((function, argument),) = node.items()
        return intrinsics[function](argument)
    return node


INPUT_BUCKET_NAME = render(RESOURCES["InputBucket"]["Properties"]["BucketName"])
INGEST_QUEUE_NAME = render(RESOURCES["IngestQueue"]["Properties"]["QueueName"])


def test_computed_names_are_unique_to_the_stack() -> None:
    assert INPUT_BUCKET_NAME == "aspose-ocr-input-123456789012-0f1e2d3c"
    assert INGEST_QUEUE_NAME == "aspose-ocr-ingest-0f1e2d3c"
    assert len(INGEST_QUEUE_NAME) <= 80  # SQS's limit, with the longest BucketNamePrefix too
    assert 30 + len(INGEST_QUEUE_NAME) - len("aspose-ocr") <= 80


# --- ingestion: S3 notifies IngestQueue; the queue feeds the function ---------------------------


def test_two_buckets_so_the_function_never_triggers_itself() -> None:
    assert RESOURCES["InputBucket"]["Type"] == "AWS::S3::Bucket"
    assert RESOURCES["OutputBucket"]["Type"] == "AWS::S3::Bucket"
    assert FUNCTION["Environment"]["Variables"]["OUTPUT_BUCKET"] == {"Ref": "OutputBucket"}
    assert "NotificationConfiguration" not in RESOURCES["OutputBucket"]["Properties"]
    assert {"InputBucketName", "OutputBucketName"} <= set(TEMPLATE["Outputs"])


def test_uploads_are_announced_to_the_ingest_queue_not_to_the_function() -> None:
    bucket = RESOURCES["InputBucket"]
    assert bucket["Properties"]["NotificationConfiguration"] == {
        "QueueConfigurations": [
            {"Event": "s3:ObjectCreated:*", "Queue": {"Fn::GetAtt": ["IngestQueue", "Arn"]}}
        ]
    }
    # S3 validates the destination when the notification is set: the policy must exist first.
    depends_on = bucket["DependsOn"]
    assert "IngestQueuePolicy" in ([depends_on] if isinstance(depends_on, str) else depends_on)
    assert [event["Type"] for event in FUNCTION["Events"].values()] == ["SQS"]


def test_no_asynchronous_invocation_leftovers(either_template: dict[str, Any]) -> None:
    resources = either_template["Resources"]
    assert not {name for name in resources if "FailedEvents" in name}
    assert "FailedEventsQueueUrl" not in either_template["Outputs"]
    assert "EventInvokeConfig" not in json.dumps(either_template)
    assert not {
        name
        for name, resource in resources.items()
        if resource["Type"] in ("AWS::Lambda::EventInvokeConfig", "AWS::Lambda::Permission")
    }  # no S3 permission to invoke the function: only the event source mapping does


def event_source_mappings(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        resource["Properties"]
        for resource in document["Resources"].values()
        if resource["Type"] == "AWS::Lambda::EventSourceMapping"
    ]


def test_the_function_consumes_the_ingest_queue(transformed_template: dict[str, Any]) -> None:
    (ingest,) = FUNCTION["Events"].values()
    assert ingest["Properties"]["Queue"] == {"Fn::GetAtt": ["IngestQueue", "Arn"]}
    (mapping,) = event_source_mappings(transformed_template)
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["IngestQueue", "Arn"]}
    assert mapping["FunctionName"] == {"Ref": "OcrFunction"}
    assert mapping["BatchSize"] == {"Ref": "BatchSize"}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "MaxConcurrency"}}
    assert mapping.get("MaximumBatchingWindowInSeconds", 0) == 0  # the visibility rule assumes it


@pytest.mark.parametrize(
    ("name", "default", "minimum", "maximum"),
    [
        ("BatchSize", 1, 1, 10),  # 10: SQS's most without a batching window
        ("MaxConcurrency", 10, 2, 1000),  # Lambda's limits for MaximumConcurrency
        ("MaxReceiveCount", 3, 1, None),
    ],
)
def test_queue_parameters(name: str, default: int, minimum: int, maximum: int | None) -> None:
    parameter = TEMPLATE["Parameters"][name]
    assert parameter["Type"] == "Number"
    assert (parameter["Default"], parameter["MinValue"]) == (default, minimum)
    assert parameter.get("MaxValue") == maximum
    assert len(parameter["Description"]) > 80  # the trade-off is explained


@pytest.mark.parametrize("queue", ["IngestQueue", "IngestDeadLetterQueue"])
def test_queues_are_encrypted_and_tls_only(queue: str, either_template: dict[str, Any]) -> None:
    resources = either_template["Resources"]
    assert resources[queue]["Type"] == "AWS::SQS::Queue"
    # Without KmsKeyArn (the default); with it, see tests/infrastructure/test_kms.py.
    encryption = decide(either_template, {})["Resources"][queue]["Properties"]
    assert encryption["SqsManagedSseEnabled"] is True
    policies = [
        resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::SQS::QueuePolicy"
        and {"Ref": queue} in resource["Properties"]["Queues"]
    ]
    (policy,) = policies
    assert policy["Queues"] == [{"Ref": queue}]
    denies = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert denies == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": {"Fn::GetAtt": [queue, "Arn"]},
            "Condition": TLS_ONLY,
        }
    ]


def test_only_the_input_bucket_of_this_account_may_send_to_the_ingest_queue(
    either_template: dict[str, Any],
) -> None:
    policy = either_template["Resources"]["IngestQueuePolicy"]["Properties"]["PolicyDocument"]
    (allow,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    assert allow["Action"] in ("sqs:SendMessage", ["sqs:SendMessage"])
    assert allow["Resource"] == {"Fn::GetAtt": ["IngestQueue", "Arn"]}
    assert set(allow["Condition"]) == {"ArnLike", "StringEquals"}
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    (source_arn,) = allow["Condition"]["ArnLike"].values()
    assert list(allow["Condition"]["ArnLike"]) == ["aws:SourceArn"]
    assert render(source_arn) == f"arn:aws:s3:::{INPUT_BUCKET_NAME}"  # no wildcard, no other
    # Named by its computed name: !Ref/!GetAtt on the bucket would be circular (DependsOn).
    assert "InputBucket" not in json.dumps(source_arn)


def test_visibility_timeout_and_retention_of_the_ingest_queue() -> None:
    queue = RESOURCES["IngestQueue"]["Properties"]
    assert queue["MessageRetentionPeriod"] == 4 * 24 * 3600
    dead_letter = RESOURCES["IngestDeadLetterQueue"]["Properties"]
    # SQS counts a moved message's age from its first enqueue: the dead-letter queue must keep
    # messages well beyond the ingest queue's retention.
    assert dead_letter["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert dead_letter["MessageRetentionPeriod"] - queue["MessageRetentionPeriod"] >= 7 * 86400


@pytest.mark.parametrize("engine", ["aspose", "tesseract"])
def test_visibility_timeout_is_at_least_six_times_the_function_timeout(
    engine: str, transformed_template: dict[str, Any]
) -> None:
    # AWS's guidance for SQS event sources: at least 6x the function's timeout.
    parameters = {"OcrEngine": engine}
    timeout = function_property("Timeout", parameters=parameters)
    for document in (TEMPLATE, transformed_template):
        deployed = decide(document, parameters)["Resources"]
        visibility = deployed["IngestQueue"]["Properties"]["VisibilityTimeout"]
        assert deployed["OcrFunction"]["Properties"]["Timeout"] == timeout
        assert isinstance(visibility, int)
        assert visibility >= 6 * timeout, (engine, visibility, timeout)
        assert visibility <= 12 * 3600  # SQS's maximum


def test_messages_failing_max_receive_count_times_go_to_the_dead_letter_queue(
    either_template: dict[str, Any],
) -> None:
    redrive = either_template["Resources"]["IngestQueue"]["Properties"]["RedrivePolicy"]
    assert redrive == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["IngestDeadLetterQueue", "Arn"]},
        "maxReceiveCount": {"Ref": "MaxReceiveCount"},
    }
    deployed = decide(either_template, {"MaxReceiveCount": "7"})["Resources"]
    assert deployed["IngestQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == "7"


def test_the_dead_letter_queue_accepts_and_redrives_to_the_ingest_queue_only() -> None:
    allow = RESOURCES["IngestDeadLetterQueue"]["Properties"]["RedriveAllowPolicy"]
    assert allow["redrivePermission"] == "byQueue"
    (source,) = allow["sourceQueueArns"]
    assert render(source) == f"arn:aws:sqs:eu-west-1:123456789012:{INGEST_QUEUE_NAME}"
    assert "IngestQueue" not in json.dumps(source)  # computed: RedrivePolicy points back


def test_dead_letter_alarm(either_template: dict[str, Any]) -> None:
    alarm = either_template["Resources"]["DeadLetterAlarm"]
    assert alarm["Type"] == "AWS::CloudWatch::Alarm"
    properties = alarm["Properties"]
    assert (properties["Namespace"], properties["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert properties["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["IngestDeadLetterQueue", "QueueName"]}}
    ]
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert properties["Threshold"] == 1
    assert properties["TreatMissingData"] == "notBreaching"
    assert properties["AlarmActions"] == {
        "Fn::If": ["HasAlarmTopic", [{"Ref": "FailureAlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
    }
    assert "make redrive STACK=<name>" in properties["AlarmDescription"]


def test_queue_outputs(either_template: dict[str, Any]) -> None:
    outputs = either_template["Outputs"]
    assert outputs["IngestQueueUrl"]["Value"] == {"Ref": "IngestQueue"}
    assert outputs["IngestQueueArn"]["Value"] == {"Fn::GetAtt": ["IngestQueue", "Arn"]}
    assert outputs["DeadLetterQueueUrl"]["Value"] == {"Ref": "IngestDeadLetterQueue"}
    assert outputs["DeadLetterQueueArn"]["Value"] == {
        "Fn::GetAtt": ["IngestDeadLetterQueue", "Arn"]
    }


def test_function_environment_for_page_tasks() -> None:
    variables = FUNCTION["Environment"]["Variables"]
    assert variables["OCR_TASK_QUEUE_URL"] == {"Ref": "IngestQueue"}
    assert int(variables["OCR_PAGES_PER_TASK"]) >= 1
    assert variables["OCR_MAX_PAGES"] == "2000"
    assert all(isinstance(value, (str, dict)) for value in variables.values())


def test_orphaned_page_parts_and_incomplete_uploads_expire() -> None:
    rules = RESOURCES["OutputBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert all(rule["Status"] == "Enabled" for rule in rules)
    (parts,) = [rule for rule in rules if "ExpirationInDays" in rule]
    assert parts["Prefix"] == ".ocr-parts/"
    assert parts["ExpirationInDays"] == 2
    (uploads,) = [rule for rule in rules if "AbortIncompleteMultipartUpload" in rule]
    assert uploads["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert "Prefix" not in uploads and "ExpirationInDays" not in uploads
    # Nothing else of the output bucket expires, and the input bucket keeps everything.
    assert len(rules) == 2
    assert "LifecycleConfiguration" not in RESOURCES["InputBucket"]["Properties"]


# --- dependencies: CloudFormation must be able to order the resources ----------------------------


def references(node: Any) -> Iterator[str]:
    """The logical ids a node refers to (Ref, Fn::GetAtt, Fn::Sub)."""
    if isinstance(node, list):
        for item in node:
            yield from references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                yield value[0]
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                for part in text.split("${")[1:]:
                    yield part.split("}", 1)[0].split(".", 1)[0]
                yield from references(value[1:] if isinstance(value, list) else [])
            else:
                yield from references(value)


def dependency_cycle(document: dict[str, Any]) -> list[str] | None:
    resources = document["Resources"]
    edges: dict[str, set[str]] = {}
    for name, resource in resources.items():
        depends_on = resource.get("DependsOn", [])
        depends_on = [depends_on] if isinstance(depends_on, str) else depends_on
        found = set(references(resource.get("Properties", {}))) | set(depends_on)
        edges[name] = {target for target in found if target in resources}
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> list[str] | None:
        if state.get(name) == "open":
            return [*path[path.index(name) :], name]
        if state.get(name) == "done":
            return None
        state[name] = "open"
        for target in sorted(edges[name]):
            cycle = visit(target, [*path, name])
            if cycle:
                return cycle
        state[name] = "done"
        return None

    for name in sorted(edges):
        cycle = visit(name, [])
        if cycle:
            return cycle
    return None


def test_no_circular_dependency(either_template: dict[str, Any]) -> None:
    assert dependency_cycle(either_template) is None
    # The check sees a cycle when there is one: the queue policy naming the bucket by !GetAtt.
    broken = copy.deepcopy(either_template)
    policy = broken["Resources"]["IngestQueuePolicy"]["Properties"]["PolicyDocument"]
    (allow,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    allow["Condition"]["ArnLike"]["aws:SourceArn"] = {"Fn::GetAtt": ["InputBucket", "Arn"]}
    cycle = dependency_cycle(broken)
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {"InputBucket", "IngestQueuePolicy"}


# --- least privilege ------------------------------------------------------------------------------


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


NO_LICENSE = {"HasLicenseSecret": False, "HasLicenseParameter": False, "HasKmsKey": False}
EVERY_GRANT = {"HasLicenseSecret": True, "HasLicenseParameter": True, "HasKmsKey": True}


def grants(statements: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(action, resource, condition) for every allowed action, names rendered for STACK."""
    found = set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            resource = render(statement["Resource"])
            condition = json.dumps(statement.get("Condition"), sort_keys=True)
            found.add((action, str(resource), condition))
    return found


def test_role_grants_only_what_the_function_uses(either_template: dict[str, Any]) -> None:
    assert FUNCTION["Role"] == {"Fn::GetAtt": ["OcrFunctionRole", "Arn"]}
    assert "Policies" not in FUNCTION  # every grant is in the role, none added by SAM
    queue = "<IngestQueue.Arn>"
    no_condition = "null"
    parts_only = json.dumps({"StringLike": {"s3:prefix": [".ocr-parts/*"]}})
    assert grants(role_statements(either_template, NO_LICENSE)) == {
        ("s3:GetObject", f"arn:aws:s3:::{INPUT_BUCKET_NAME}/*", no_condition),
        ("s3:GetObjectVersion", f"arn:aws:s3:::{INPUT_BUCKET_NAME}/*", no_condition),
        # 404 for a missing input (final) rather than 403 (access-denied, which heals)
        ("s3:ListBucket", f"arn:aws:s3:::{INPUT_BUCKET_NAME}", no_condition),
        ("s3:GetObject", "<OutputBucket.Arn>/*", no_condition),
        ("s3:PutObject", "<OutputBucket.Arn>/*", no_condition),
        ("s3:DeleteObject", "<OutputBucket.Arn>/*", no_condition),
        ("s3:ListBucket", "<OutputBucket.Arn>", parts_only),
        ("sqs:ReceiveMessage", queue, no_condition),
        ("sqs:DeleteMessage", queue, no_condition),
        ("sqs:GetQueueAttributes", queue, no_condition),
        ("sqs:SendMessage", queue, no_condition),
    }


def test_transformed_role_has_no_broader_grants(transformed_template: dict[str, Any]) -> None:
    resources = transformed_template["Resources"]
    iam = {
        name: resource["Type"]
        for name, resource in resources.items()
        if resource["Type"].startswith("AWS::IAM::")
    }
    assert iam == {"OcrFunctionRole": "AWS::IAM::Role"}  # SAM generated no role of its own
    role = resources["OcrFunctionRole"]["Properties"]
    # Only the two SAM used to attach (logs, X-Ray); in particular not
    # AWSLambdaSQSQueueExecutionRole, which reads and deletes in every queue ("*").
    assert sorted(render(role["ManagedPolicyArns"])) == [
        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",  # Tracing: Active
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",  # its logs
    ]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]
    everything = role_statements(transformed_template, EVERY_GRANT)
    for statement in everything:
        assert "*" not in json.dumps(statement["Action"]), statement
        assert render(statement["Resource"]) not in ("*", ["*"]), statement
        assert "NotAction" not in statement and "NotResource" not in statement
    assert resources["OcrFunction"]["Properties"]["Role"] == {
        "Fn::GetAtt": ["OcrFunctionRole", "Arn"]
    }


def test_license_secret_and_parameter_are_readable_only_when_configured(
    transformed_template: dict[str, Any],
) -> None:
    document = transformed_template
    with_license = role_statements(document, EVERY_GRANT)
    license_grants = {
        s["Sid"]: s for s in with_license if s.get("Sid", "").startswith("ReadLicense")
    }
    assert license_grants["ReadLicenseSecret"]["Action"] == ["secretsmanager:GetSecretValue"]
    assert license_grants["ReadLicenseSecret"]["Resource"] == {"Ref": "LicenseSecretArn"}
    assert license_grants["ReadLicenseParameter"]["Action"] == ["ssm:GetParameter"]
    assert (
        "${LicenseParameterName}" in license_grants["ReadLicenseParameter"]["Resource"]["Fn::Sub"]
    )
    without = role_statements(document, NO_LICENSE)
    assert not any("secretsmanager" in str(s) or "ssm:" in str(s) for s in without)


def test_policies_avoid_the_circular_dependency_on_the_input_bucket() -> None:
    # The bucket's notification needs the queue's policy, which names the bucket: neither that
    # policy nor the function's may name it with !Ref/!GetAtt, and both must compute the very
    # name the bucket gets.
    (read,) = [
        s for s in role_statements(TEMPLATE, NO_LICENSE) if s["Sid"] == "ReadUploadedObjects"
    ]
    assert "InputBucket" not in json.dumps(read["Resource"])
    assert render(read["Resource"]) == f"arn:aws:s3:::{INPUT_BUCKET_NAME}/*"


def test_input_bucket_versioning_is_a_parameter() -> None:
    versioning = RESOURCES["InputBucket"]["Properties"]["VersioningConfiguration"]
    assert versioning["Fn::If"][0] == "VersionInputBucket"
    assert TEMPLATE["Parameters"]["InputBucketVersioning"]["Default"] == "false"


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
    assert deny["Condition"] == TLS_ONLY


def test_runtime_architecture_handler_and_layer(transformed_template: dict[str, Any]) -> None:
    # Runtime and architecture per Architecture parameter: tests/infrastructure/
    # test_architecture.py. The default deployment is python3.12 on x86_64.
    function_globals = decide(transformed_template, {})["Resources"]["OcrFunction"]["Properties"]
    assert function_globals["Runtime"] == "python3.12"  # AL2023: glibc 2.34
    assert function_globals["Architectures"] == ["x86_64"]
    assert FUNCTION["Handler"] == "app.lambda_handler"
    assert (REPO / FUNCTION["CodeUri"] / "app.py").is_file()
    assert FUNCTION["Layers"] == {
        "Fn::If": ["UseTesseract", [{"Ref": "TesseractLayer"}], [{"Ref": "AsposeOcrLayer"}]]
    }
    for name in ("AsposeOcrLayer", "TesseractLayer"):
        layer = decide(TEMPLATE, {"OcrEngine": "tesseract" if "Tess" in name else "aspose"})
        layer = layer["Resources"][name]
        assert layer["Type"] == "AWS::Serverless::LayerVersion"
        assert layer["Metadata"]["BuildMethod"] == "makefile"
        assert layer["Metadata"]["BuildArchitecture"] == "x86_64"
        assert layer["Properties"]["CompatibleRuntimes"] == [function_globals["Runtime"]]
        assert layer["Properties"]["CompatibleArchitectures"] == function_globals["Architectures"]
        assert layer["Properties"]["RetentionPolicy"] == "Delete"
        makefile = REPO / layer["Properties"]["ContentUri"] / "Makefile"
        assert f"build-{name}:" in makefile.read_text(encoding="utf-8")


def test_tracing_metrics_namespace_and_failure_alarm() -> None:
    assert TEMPLATE["Globals"]["Function"]["Tracing"] == "Active"
    variables = FUNCTION["Environment"]["Variables"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "OcrPipeline"
    alarm = RESOURCES["FailedObjectsAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("OcrPipeline", "ObjectsFailed")
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
    assert (int(function["MemorySize"]), function["Timeout"]) == (memory, timeout)
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


def test_tesseracts_memory_is_a_parameter_from_one_vcpu_to_lambdas_maximum(
    transformed_template: dict[str, Any],
) -> None:
    parameter = TEMPLATE["Parameters"]["TesseractMemorySize"]
    assert (parameter["Default"], parameter["MinValue"], parameter["MaxValue"]) == (
        1769,
        1769,
        10240,
    )
    for engine, memory in (("tesseract", "3538"), ("aspose", 3538)):
        deployed = decide(
            transformed_template, {"OcrEngine": engine, "TesseractMemorySize": "3538"}
        )
        assert deployed["Resources"]["OcrFunction"]["Properties"]["MemorySize"] == memory
    aspose = decide(transformed_template, {"OcrEngine": "aspose", "TesseractMemorySize": "7076"})
    assert aspose["Resources"]["OcrFunction"]["Properties"]["MemorySize"] == 3538


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

    environment = function_environment(
        {"OutputBucket": "out", "IngestQueue": "https://queue"}, {"OcrEngine": engine}
    )

    assert environment["OCR_ENGINE"] == engine
    assert environment["OCR_TASK_QUEUE_URL"] == "https://queue"
    assert environment["OCR_TESSDATA_DIR"] == "/opt/tessdata"
