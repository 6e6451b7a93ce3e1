"""template.yaml for operators: the dashboard and the alarms (README, "Dashboard", "Alarms").

Every metric the dashboard and the alarms read must exist: either the function emits it (the
metrics are taken from what the function's Telemetry and Powertools actually print, names,
dimension sets and all) or it is one of AWS/Lambda's and AWS/SQS's for this stack's function
and queues. Thresholds that follow the function's timeout are checked for each engine, on the
template SAM produces with the conditions decided.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics.provider import cold_start

from ocr_service.aws.telemetry import Telemetry, WorkDone
from ocr_service.core.failures import Reason
from tests.infrastructure.test_template import ENGINES, TEMPLATE, decide, render, transformed
from tests.support.deployment import REPO, lambda_context
from tools.template_env import function_environment

VARIABLES = function_environment({"OutputBucket": "out", "IngestQueue": "https://queue"})
NAMESPACE = VARIABLES["POWERTOOLS_METRICS_NAMESPACE"]
SERVICE = VARIABLES["POWERTOOLS_SERVICE_NAME"]
FUNCTION = "<OcrFunction>"  # how render() shows the function's name (its Ref)
QUEUES = {"<IngestQueue.QueueName>", "<IngestDeadLetterQueue.QueueName>"}
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ocr-alarms"
NO_VALUE = {"Ref": "AWS::NoValue"}

# The metrics of the AWS namespaces the dashboard and alarms may read, with their dimension.
AWS_METRICS = {
    "AWS/Lambda": (
        "FunctionName",
        {FUNCTION},
        {"Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions"},
    ),
    "AWS/SQS": (
        "QueueName",
        QUEUES,
        {
            "ApproximateNumberOfMessagesVisible",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateAgeOfOldestMessage",
        },
    ),
}

Emitted = dict[str, set[frozenset[str]]]  # metric name: its dimension sets


# --- what the function emits ------------------------------------------------------------------


@pytest.fixture(scope="module")
def emitted() -> Iterator[Emitted]:
    """Every metric the function emits, from its own EMF output: each of Telemetry's reports
    and Powertools' ColdStart (the handler uses capture_cold_start_metric=True)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE)
        patch.setenv("POWERTOOLS_SERVICE_NAME", SERVICE)
        patch.setattr(cold_start, "is_cold_start", True)
        metrics = Metrics()
        telemetry = Telemetry(metrics, Tracer(disabled=True))

        @metrics.log_metrics(capture_cold_start_metric=True)
        def handler(event: dict[str, Any], context: Any) -> None:
            telemetry.succeeded(WorkDone(10, 3, 1.5, 100, text_layer_pages=1, low_confidence=True))
            telemetry.skipped()
            telemetry.failed(Reason.EMPTY_OBJECT, retryable=False)
            telemetry.failed(Reason.STORAGE_ERROR, retryable=True)
            telemetry.trial_mode(unlicensed=True)

        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            handler({}, lambda_context(function_name="ocr-OcrFunction-abc"))
    found: Emitted = {}
    for line in printed.getvalue().splitlines():
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == NAMESPACE
            for metric in directive["Metrics"]:
                for dimensions in directive["Dimensions"]:
                    found.setdefault(metric["Name"], set()).add(frozenset(dimensions))
                    assert document["service"] == SERVICE
    yield found


def names_in_telemetry_module() -> set[str]:
    """The metric names written in telemetry.py (add_metric's and single_metric's)."""
    source = REPO / "functions/ocr/ocr_service/aws/telemetry.py"
    names = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        callee = node.func.attr if isinstance(node.func, ast.Attribute) else None
        callee = callee or (node.func.id if isinstance(node.func, ast.Name) else None)
        if callee == "add_metric" and isinstance(node.args[0], ast.Constant):
            names.add(str(node.args[0].value))
        if callee == "single_metric":
            (name,) = [k.value for k in node.keywords if k.arg == "name"]
            assert isinstance(name, ast.Constant)
            names.add(str(name.value))
    return names


def test_the_emitted_metrics_are_every_metric_the_function_names(emitted: Emitted) -> None:
    assert set(emitted) == names_in_telemetry_module() | {"ColdStart"}
    assert emitted["FailuresByReason"] == {frozenset({"service", "reason"})}
    assert emitted["ColdStart"] == {frozenset({"service", "function_name"})}
    assert emitted["ObjectsFailed"] == {frozenset({"service"})}


# --- the dashboard ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sam_template() -> dict[str, Any]:
    return transformed({})


def deployed(document: dict[str, Any], **parameters: str) -> dict[str, Any]:
    """The resources and outputs CloudFormation would create, AWS::NoValue removed."""
    return drop_no_value(decide(document, parameters))  # type: ignore[no-any-return]


def drop_no_value(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: drop_no_value(value) for key, value in node.items() if value != NO_VALUE}
    if isinstance(node, list):
        return [drop_no_value(item) for item in node if item != NO_VALUE]
    return node


def dashboard(document: dict[str, Any], **parameters: str) -> dict[str, Any]:
    resources = deployed(document, **parameters)["Resources"]
    (name,) = [n for n, r in resources.items() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    # !Sub names parameters too: render them with these values.
    values = {**TEMPLATE["Parameters"]}
    values.update({key: {"Default": value} for key, value in parameters.items()})
    body = render(resources[name]["Properties"]["DashboardBody"], {"Parameters": values})
    parsed: dict[str, Any] = json.loads(body)  # the rendered !Sub is JSON
    return parsed


def metric_widgets(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [w["properties"] for w in body["widgets"] if w["type"] == "metric"]


def metric_rows(widget: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, str], str]]:
    """(namespace, metric, dimensions, statistic) for each metric a widget reads, SEARCH
    expressions included; other expressions must only name the widget's own ids."""
    ids = {row[-1].get("id") for row in widget["metrics"] if isinstance(row[-1], dict)}
    previous: list[Any] = []
    for row in widget["metrics"]:
        options = row[-1] if isinstance(row[-1], dict) else {}
        if "expression" in options:
            expression = options["expression"]
            search = re.fullmatch(r"SEARCH\('\{([^}]*)\} (.*)', '(\w+)', (\d+)\)", expression)
            if search:
                namespace, *dimension_names = search[1].split(",")
                terms = dict(re.findall(r'(\w+)="([^"]*)"', search[2]))
                metric = terms.pop("MetricName")
                for name in dimension_names:
                    terms.setdefault(name, "*")
                yield namespace, metric, terms, search[3]
            else:
                assert set(re.findall(r"\b[a-z]\w*\b", expression)) - {"FILL"} <= ids, expression
            continue
        fields = row[:-1] if options else row
        fields = [previous[i] if value == "." else value for i, value in enumerate(fields)]
        previous = fields
        namespace, metric, *pairs = fields
        dimensions = dict(zip(pairs[::2], pairs[1::2], strict=True))
        yield namespace, metric, dimensions, options.get("stat", widget.get("stat", ""))


def check_metric(namespace: str, metric: str, dimensions: dict[str, str], emitted: Emitted) -> None:
    if namespace in AWS_METRICS:
        dimension, values, names = AWS_METRICS[namespace]
        assert metric in names, (namespace, metric)
        assert set(dimensions) == {dimension} and dimensions[dimension] in values, dimensions
        return
    assert namespace == NAMESPACE, namespace
    assert frozenset(dimensions) in emitted.get(metric, set()), (metric, dimensions)
    assert dimensions["service"] == SERVICE
    if "function_name" in dimensions:
        assert dimensions["function_name"] == FUNCTION  # Powertools names the function
    if "reason" in dimensions:
        assert dimensions["reason"] == "*"  # every reason, by SEARCH


def test_every_dashboard_metric_exists(sam_template: dict[str, Any], emitted: Emitted) -> None:
    for engine in ENGINES:
        for widget in metric_widgets(dashboard(sam_template, OcrEngine=engine)):
            assert widget["region"] == "eu-west-1"
            rows = list(metric_rows(widget))
            assert rows, widget["title"]
            for namespace, metric, dimensions, _ in rows:
                check_metric(namespace, metric, dimensions, emitted)


def test_the_dashboard_shows_what_operators_need(sam_template: dict[str, Any]) -> None:
    shown: dict[tuple[str, str], set[str]] = {}
    for widget in metric_widgets(dashboard(sam_template)):
        for _, metric, dimensions, statistic in metric_rows(widget):
            where = dimensions.get("QueueName", "")
            shown.setdefault((metric, where), set()).add(statistic)
    wanted = {
        ("ObjectsSucceeded", ""),
        ("ObjectsFailed", ""),
        ("PagesRecognized", ""),
        ("TextLayerPages", ""),
        ("RecognitionSeconds", ""),
        ("FailuresByReason", ""),
        ("ApproximateNumberOfMessagesVisible", "<IngestQueue.QueueName>"),
        ("ApproximateAgeOfOldestMessage", "<IngestQueue.QueueName>"),
        ("ApproximateNumberOfMessagesVisible", "<IngestDeadLetterQueue.QueueName>"),
        ("ConcurrentExecutions", ""),
        ("Throttles", ""),
        ("Errors", ""),
        ("Duration", ""),
        ("ColdStart", ""),
        ("LowConfidenceObjects", ""),
    }
    assert wanted <= set(shown)
    assert shown[("RecognitionSeconds", "")] == {"p50", "p95", "Maximum"}
    assert {"p95", "Maximum"} <= shown[("Duration", "")]


def widget_titled(body: dict[str, Any], start: str) -> dict[str, Any]:
    (widget,) = [w for w in metric_widgets(body) if w["title"].startswith(start)]
    return widget


def lines(widget: dict[str, Any]) -> dict[str, float]:
    return {a["label"]: a["value"] for a in widget["annotations"]["horizontal"]}


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_dashboard_lines_are_the_timeout_and_the_alarms_thresholds(
    engine: str, sam_template: dict[str, Any]
) -> None:
    _, _, timeout = ENGINES[engine]
    body = dashboard(sam_template, OcrEngine=engine, MaxConcurrency="25")
    alarms = deployed(sam_template, OcrEngine=engine)["Resources"]
    duration = lines(widget_titled(body, "Duration"))
    assert duration["timeout"] == timeout * 1000  # Duration is in milliseconds
    (at_alarm,) = [value for label, value in duration.items() if "FunctionDurationAlarm" in label]
    assert at_alarm == alarms["FunctionDurationAlarm"]["Properties"]["Threshold"]
    backlog = widget_titled(body, "Backlog")
    assert lines(backlog) == {
        "BacklogAgeAlarm": alarms["BacklogAgeAlarm"]["Properties"]["Threshold"]
    }
    assert backlog["annotations"]["horizontal"][0]["yAxis"] == "right"  # the age's axis
    (age,) = [row for row in backlog["metrics"] if row[1] == "ApproximateAgeOfOldestMessage"]
    assert age[-1]["yAxis"] == "right"
    assert lines(widget_titled(body, "Concurrent")) == {"MaxConcurrency": 25}
    assert lines(widget_titled(body, "Dead letters")) == {
        "DeadLetterAlarm": alarms["DeadLetterAlarm"]["Properties"]["Threshold"]
    }


def test_dashboard_widgets_fit_the_grid_without_overlapping(
    sam_template: dict[str, Any],
) -> None:
    cells: set[tuple[int, int]] = set()
    for widget in dashboard(sam_template)["widgets"]:
        x, y, width, height = (widget[k] for k in ("x", "y", "width", "height"))
        assert x >= 0 and x + width <= 24
        covered = {(column, row) for column in range(x, x + width) for row in range(y, y + height)}
        assert not cells & covered, widget
        cells |= covered


def test_dashboard_output_is_its_console_url(sam_template: dict[str, Any]) -> None:
    resources = sam_template["Resources"]
    assert render(resources["OcrDashboard"]["Properties"]["DashboardName"]) == "ocr-eu-west-1"
    url = render(sam_template["Outputs"]["Dashboard"]["Value"])
    assert url == (
        "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
        "#dashboards:name=<OcrDashboard>"
    )


# --- the alarms -------------------------------------------------------------------------------

ALARMS = {
    "DeadLetterAlarm",
    "FailedObjectsAlarm",
    "BacklogAgeAlarm",
    "FunctionErrorsAlarm",
    "FunctionThrottlesAlarm",
    "FunctionDurationAlarm",
}


def alarms(document: dict[str, Any], **parameters: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in deployed(document, **parameters)["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def test_the_alarms(sam_template: dict[str, Any], emitted: Emitted) -> None:
    found = alarms(sam_template)
    assert set(found) == ALARMS
    for name, alarm in found.items():
        dimensions = {d["Name"]: render(d["Value"]) for d in alarm["Dimensions"]}
        check_metric(alarm["Namespace"], alarm["MetricName"], dimensions, emitted)
        # Quiet when there is nothing: no uploads, no invocations, an idle queue.
        assert alarm["TreatMissingData"] == "notBreaching", name
        assert len(alarm["AlarmDescription"]) > 150, name  # why, and what to do
        assert alarm["ComparisonOperator"].startswith("GreaterThan"), name


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_every_alarm_notifies_the_topic_when_one_is_set(
    engine: str, sam_template: dict[str, Any]
) -> None:
    for document in (TEMPLATE, sam_template):
        with_topic = alarms(document, OcrEngine=engine, FailureAlarmTopicArn=TOPIC)
        without = alarms(document, OcrEngine=engine)
        assert set(with_topic) == set(without) == ALARMS
        for name in ALARMS:
            assert with_topic[name]["AlarmActions"] == [TOPIC], name
            assert with_topic[name]["OKActions"] == [TOPIC], name
            assert "AlarmActions" not in without[name] and "OKActions" not in without[name]
            assert "InsufficientDataActions" not in with_topic[name]


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_thresholds_follow_the_engines_timeout(engine: str, sam_template: dict[str, Any]) -> None:
    _, _, timeout = ENGINES[engine]
    resources = deployed(sam_template, OcrEngine=engine)["Resources"]
    assert resources["OcrFunction"]["Properties"]["Timeout"] == timeout
    found = alarms(sam_template, OcrEngine=engine)

    duration = found["FunctionDurationAlarm"]
    assert (duration["Namespace"], duration["MetricName"]) == ("AWS/Lambda", "Duration")
    assert duration["ExtendedStatistic"] == "p95" and "Statistic" not in duration
    assert duration["Threshold"] == 0.8 * timeout * 1000  # milliseconds

    age = found["BacklogAgeAlarm"]
    assert age["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert age["Statistic"] == "Maximum"
    assert age["Threshold"] == 8 * timeout
    # SQS counts age through retries: one retry (the visibility timeout, then the work again)
    # must not fire it, and it must fire long before SQS drops the message.
    queue = resources["IngestQueue"]["Properties"]
    assert age["Threshold"] > queue["VisibilityTimeout"] + timeout
    assert age["Threshold"] * 10 < queue["MessageRetentionPeriod"]


def test_errors_throttles_dead_letters_and_failed_objects_fire_on_the_first(
    sam_template: dict[str, Any],
) -> None:
    found = alarms(sam_template)
    for name, metric in [
        ("FunctionErrorsAlarm", "Errors"),
        ("FunctionThrottlesAlarm", "Throttles"),
        ("DeadLetterAlarm", "ApproximateNumberOfMessagesVisible"),
        ("FailedObjectsAlarm", "ObjectsFailed"),
    ]:
        alarm = found[name]
        assert alarm["MetricName"] == metric
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (
            1,
            "GreaterThanOrEqualToThreshold",
        )
        assert alarm["EvaluationPeriods"] == 1
    errors = found["FunctionErrorsAlarm"]["AlarmDescription"]
    assert "failed objects are not errors" in errors  # they have their own metrics
