"""The function's environment as template.yaml declares it, resolved the way SAM does locally.

Local runs (`make invoke`, the sandbox test) take their environment from here rather than
repeating it, so a variable added to template.yaml is exercised everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
_NO_VALUE = object()
# Resources a local run may not have: without an ingest queue, the function recognizes long
# documents in one go instead of sending page tasks to it.
OPTIONAL_RESOURCES = {"IngestQueue": ""}


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads CloudFormation's short forms (`!Ref X`, `!If [...]`) as their long forms."""


def _short_form(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    name = tag_suffix if tag_suffix in ("Ref", "Condition") else f"Fn::{tag_suffix}"
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _short_form)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as stream:
        document: dict[str, Any] = yaml.load(stream, Loader=_CloudFormationLoader)
    return document


def function_environment(
    resources: Mapping[str, str],
    parameters: Mapping[str, str] | None = None,
    function: str = "OcrFunction",
    template: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Resolve the function's Environment.Variables.

    `resources` gives a physical name for each resource a variable refers to (for example
    {"OutputBucket": "my-bucket"}); parameters default to the template's defaults.
    """
    document = template if template is not None else load_template()
    properties = document["Resources"][function]["Properties"]
    variables = properties.get("Environment", {}).get("Variables", {})
    resolver = _Resolver(
        document, _parameters(document, parameters), {**OPTIONAL_RESOURCES, **resources}
    )
    environment = {}
    for name, raw in variables.items():
        value = resolver.resolve(raw)
        if value is not _NO_VALUE:
            environment[name] = str(value)
    return environment


def _parameters(document: Mapping[str, Any], overrides: Mapping[str, str] | None) -> dict[str, str]:
    params = {
        name: str(spec.get("Default", "")) for name, spec in document.get("Parameters", {}).items()
    }
    params.update(overrides or {})
    return params


def function_property(
    name: str, function: str = "OcrFunction", parameters: Mapping[str, str] | None = None
) -> Any:
    """One of the function's properties (Runtime, MemorySize, Timeout, ...), or its Global,
    resolved for the parameters (defaults: the template's), e.g. {"OcrEngine": "tesseract"}."""
    document = load_template()
    properties = document["Resources"][function]["Properties"]
    raw = properties.get(name, document.get("Globals", {}).get("Function", {}).get(name))
    return _Resolver(document, _parameters(document, parameters), {}).resolve(raw)


def function_runtime(
    function: str = "OcrFunction", parameters: Mapping[str, str] | None = None
) -> str:
    """The function's runtime (python3.12; python3.13 with {"Architecture": "arm64"})."""
    return str(function_property("Runtime", function, parameters))


class _Resolver:
    def __init__(
        self, document: Mapping[str, Any], params: Mapping[str, str], resources: Mapping[str, str]
    ) -> None:
        self._conditions = document.get("Conditions", {})
        self._params = params
        self._resources = resources

    def resolve(self, node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        ((function, argument),) = node.items()
        if function == "Ref":
            return self._ref(argument)
        if function == "Fn::If":
            condition, if_true, if_false = argument
            return self.resolve(if_true if self._condition(condition) else if_false)
        raise ValueError(f"cannot resolve {function} locally: {argument!r}")

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self._params:
            return self._params[name]
        if name in self._resources:
            return self._resources[name]
        raise KeyError(f"no local value for !Ref {name}: pass it in `resources`")

    def _condition(self, name: str) -> bool:
        return bool(self._evaluate(self._conditions[name]))

    def _evaluate(self, node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        ((function, argument),) = node.items()
        if function == "Fn::Not":
            return not self._evaluate(argument[0])
        if function == "Fn::Equals":
            left, right = (self._evaluate(item) for item in argument)
            return str(left) == str(right)
        if function == "Condition":
            return self._condition(argument)
        return self.resolve(node)
