"""What the local topology takes from template.yaml, resolved for an engine, and its names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.template_env import function_property, load_template

REPO = Path(__file__).resolve().parents[2]
STATE_DIR = REPO / ".cache" / "local-stack"
HOST = "127.0.0.1"
PORT = 5000
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
INPUT_BUCKET = "ocr-input"
OUTPUT_BUCKET = "ocr-output"
INGEST_QUEUE = "ocr-ingest"
DEAD_LETTER_QUEUE = "ocr-ingest-dlq"
ENGINES = ("aspose", "tesseract")


@dataclass(frozen=True)
class TemplateValues:
    """The deployed values the local topology mirrors, for one engine."""

    batch_size: int
    max_receive_count: int
    visibility_timeout: int
    timeout_s: int
    memory_mb: int
    max_concurrency: int
    retention_s: int
    dead_letter_retention_s: int


def template_values(engine: str) -> TemplateValues:
    """template.yaml's defaults (parameters, !If on OcrEngine) for `engine`."""
    document = load_template()
    parameters = {
        name: str(spec.get("Default", "")) for name, spec in document["Parameters"].items()
    }
    parameters["OcrEngine"] = engine
    resources = document["Resources"]
    ingest = resources["IngestQueue"]["Properties"]
    mapping = resources["OcrFunction"]["Properties"]["Events"]["Ingest"]["Properties"]

    def ref(node: Any) -> int:
        if isinstance(node, dict) and set(node) == {"Ref"}:
            return int(parameters[node["Ref"]])
        return int(node)

    def queue_property(name: str, queue: str = "IngestQueue") -> int:
        return int(function_property(name, function=queue, parameters=parameters))

    return TemplateValues(
        batch_size=ref(mapping["BatchSize"]),
        max_receive_count=ref(ingest["RedrivePolicy"]["maxReceiveCount"]),
        visibility_timeout=queue_property("VisibilityTimeout"),
        timeout_s=int(function_property("Timeout", parameters=parameters)),
        memory_mb=int(function_property("MemorySize", parameters=parameters)),
        max_concurrency=ref(mapping["ScalingConfig"]["MaximumConcurrency"]),
        retention_s=queue_property("MessageRetentionPeriod"),
        dead_letter_retention_s=queue_property("MessageRetentionPeriod", "IngestDeadLetterQueue"),
    )
