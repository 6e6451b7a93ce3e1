"""template.yaml's Architecture parameter (x86_64 or arm64/Graviton) and how the builds follow it.

x86_64 (the default) runs python3.12 with either engine; arm64 runs python3.13 with Tesseract
only, which a template rule enforces at deploy time. The function's and the Tesseract layer's
architecture and runtime follow the parameter, on the template as written and as SAM transforms
it; the Makefiles build for the architecture `make build ARCH=...` names.
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from tests.infrastructure.test_template import decide, transformed
from tests.support.deployment import REPO
from tools.template_env import load_template

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
#: Architecture -> (runtime, Lambda's name for it), for the deployments the template allows.
EXPECTED = {"x86_64": "python3.12", "arm64": "python3.13"}
DEPLOYMENTS = [
    ("x86_64", "aspose"),
    ("x86_64", "tesseract"),
    ("arm64", "tesseract"),
]


def test_architecture_parameter_defaults_to_x86_64_and_allows_arm64() -> None:
    parameter = TEMPLATE["Parameters"]["Architecture"]
    assert parameter["Type"] == "String"
    assert parameter["Default"] == "x86_64"
    assert parameter["AllowedValues"] == ["x86_64", "arm64"]
    assert "tesseract" in parameter["Description"] and "python3.13" in parameter["Description"]
    assert TEMPLATE["Conditions"]["UseArm64"] == {"Fn::Equals": [{"Ref": "Architecture"}, "arm64"]}


def rule_allows(parameters: dict[str, str]) -> tuple[bool, list[str]]:
    """Evaluate the template's Rules as CloudFormation does before a deployment: whether every
    rule whose RuleCondition holds has all its assertions true, and the failing descriptions."""
    values = {name: str(spec.get("Default", "")) for name, spec in TEMPLATE["Parameters"].items()}
    values.update(parameters)

    def evaluate(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((function, argument),) = node.items()
            if function == "Ref":
                return values[argument]
            if function == "Fn::Equals":
                left, right = (evaluate(item) for item in argument)
                return str(left) == str(right)
            if function == "Fn::Not":
                return not evaluate(argument[0])
            raise AssertionError(f"no evaluation of {function} in this test")
        return node

    failed = [
        " ".join(str(assertion["AssertDescription"]).split())
        for rule in TEMPLATE["Rules"].values()
        if evaluate(rule.get("RuleCondition", True))
        for assertion in rule["Assertions"]
        if not evaluate(assertion["Assert"])
    ]
    return not failed, failed


@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
@pytest.mark.parametrize("engine", ["aspose", "tesseract"])
def test_a_rule_refuses_aspose_on_arm64_before_anything_is_deployed(
    architecture: str, engine: str
) -> None:
    allowed, messages = rule_allows({"Architecture": architecture, "OcrEngine": engine})
    assert allowed == ((architecture, engine) in DEPLOYMENTS)
    if not allowed:
        (message,) = messages
        assert "Architecture=arm64 needs OcrEngine=tesseract" in message
        assert "x86_64 code only" in message


def test_the_default_deployment_is_allowed() -> None:
    assert rule_allows({}) == (True, [])


def test_the_rule_survives_sams_transform() -> None:
    document = transformed({"OcrEngine": "tesseract", "Architecture": "arm64"})
    assert document["Rules"] == TEMPLATE["Rules"]


@pytest.mark.parametrize(("architecture", "engine"), DEPLOYMENTS)
def test_the_function_runs_the_architectures_runtime(architecture: str, engine: str) -> None:
    parameters = {"Architecture": architecture, "OcrEngine": engine}
    deployed = decide(transformed(parameters), parameters)["Resources"]
    function = deployed["OcrFunction"]
    assert function["Type"] == "AWS::Lambda::Function"
    assert function["Properties"]["Architectures"] == [architecture]
    assert function["Properties"]["Runtime"] == EXPECTED[architecture]
    (layer,) = [
        resource
        for resource in deployed.values()
        if resource["Type"] == "AWS::Lambda::LayerVersion"
    ]
    # The one layer attached is built for the function's architecture and runtime.
    assert layer["Properties"]["CompatibleArchitectures"] == [architecture]
    assert layer["Properties"]["CompatibleRuntimes"] == [EXPECTED[architecture]]


def test_the_aspose_layer_stays_x86_64_and_python312() -> None:
    layer = RESOURCES["AsposeOcrLayer"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["x86_64"]
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Metadata"]["BuildArchitecture"] == "x86_64"


@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_sam_builds_the_function_and_tesseract_layer_for_the_parameter(architecture: str) -> None:
    """SAM resolves BuildArchitecture with the parameter overrides (and keys its build cache on
    it), so an arm64 build never reuses an x86_64 one."""
    decided = decide(TEMPLATE, {"Architecture": architecture, "OcrEngine": "tesseract"})
    for name in ("OcrFunction", "TesseractLayer"):
        assert RESOURCES[name]["Metadata"]["BuildArchitecture"] == {"Ref": "Architecture"}
        assert decided["Resources"][name]["Metadata"]["BuildArchitecture"] == architecture


def dry_run(directory: str, target: str, *variables: str) -> str:
    done = subprocess.run(
        ["make", "-n", "-C", str(REPO / directory), target, *variables],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(
    ("architecture", "machine", "python"),
    [("x86_64", "x86_64", "3.12"), ("arm64", "aarch64", "3.13")],
)
def test_the_functions_makefile_takes_the_architectures_wheels(
    architecture: str, machine: str, python: str
) -> None:
    out = dry_run(
        "functions/ocr",
        "build-OcrFunction",
        "ARTIFACTS_DIR=/tmp/out",
        f"LAMBDA_ARCHITECTURE={architecture}",
    )
    assert f"--platform manylinux2014_{machine} --platform manylinux_2_28_{machine}" in out
    assert f"--python-version {python}" in out


def test_the_functions_makefile_refuses_an_unknown_architecture() -> None:
    command = ["make", "-C", str(REPO / "functions/ocr"), "build-OcrFunction"]
    done = subprocess.run(
        [*command, "ARTIFACTS_DIR=/tmp/out", "LAMBDA_ARCHITECTURE=riscv64"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "must be x86_64 or arm64" in done.stderr


def test_the_tesseract_layers_makefile_passes_the_architecture() -> None:
    out = dry_run(
        "layers/tesseract",
        "build-TesseractLayer",
        "ARTIFACTS_DIR=/tmp/out",
        "LAMBDA_ARCHITECTURE=arm64",
    )
    assert '--architecture "arm64"' in out


def test_make_build_arch_arm64_builds_the_function_with_the_tesseract_layer_only() -> None:
    out = dry_run(".", "build", "ARCH=arm64")
    assert (
        "sam build OcrFunction --parameter-overrides OcrEngine=tesseract Architecture=arm64" in out
    )
    assert (
        "check_sizes.py .aws-sam/build --engine tesseract=TesseractLayer --architecture arm64"
        in out
    )
    default = dry_run(".", "build")
    assert "--engine aspose=AsposeOcrLayer --engine tesseract=TesseractLayer" in default
    assert "--architecture x86_64" in default


def test_the_arm64_layer_pins_the_same_versions_with_one_aarch64_wheel_each() -> None:
    def pins(name: str) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        current = ""
        for line in (REPO / "layers/tesseract" / name).read_text(encoding="utf-8").splitlines():
            if line and not line.startswith((" ", "#")):
                current = line.split(" ")[0]
                found[current] = []
            elif "--hash=sha256:" in line:
                found[current].append(line.split("--hash=sha256:")[1].strip(" \\"))
        return found

    x86, arm = pins("requirements.txt"), pins("requirements-arm64.txt")
    assert sorted(x86) == sorted(arm) == ["pypdfium2==5.15.2", "tesserocr==2.13.0"]
    for name, hashes in arm.items():
        assert len(hashes) == 1 and len(hashes[0]) == 64
        assert hashes != x86[name]
