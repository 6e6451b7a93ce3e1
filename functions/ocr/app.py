"""Lambda entry point: S3 uploads in (through SQS, or any shape event_shapes.py accepts), one
UTF-8 .txt per object out.

This module only wires things. Everything below the handler is created once, at import time,
which is Lambda's Init phase: the configuration is validated, the OCR engine that OCR_ENGINE
names (Aspose.OCR or Tesseract) is started and warmed up, and the S3 client is built, so
requests pay for none of it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from ocr_service import engines
from ocr_service.config import load_settings
from ocr_service.fanout import SqsTaskQueue
from ocr_service.invocation import EventRouter
from ocr_service.pipeline import OcrPipeline, Splitter
from ocr_service.recognition import DocumentRecognizer
from ocr_service.storage import S3ObjectStore
from ocr_service.telemetry import Telemetry

logger = Logger()
metrics = Metrics()  # namespace and service from POWERTOOLS_METRICS_NAMESPACE / _SERVICE_NAME
tracer = Tracer()

settings = load_settings()
engine = engines.start_engine(settings.engine)
logger.info(
    "engine started",
    extra={
        "ocr_engine": engine.name,
        "engine_version": engine.version,
        "licensed": engine.licensed,
        "output_bucket": settings.output_bucket,
        "limits": asdict(settings.limits),
        "max_image_side": settings.max_image_side,
        "pages_per_task": settings.pages_per_task if settings.task_queue_url else None,
        "outputs": sorted(settings.outputs),
        "language": settings.language,
        "language_by_prefix": settings.language_by_prefix,
        # Which variable named the license, never its value: the secret stays secret.
        "license_source": (
            settings.engine.license_source.variable if settings.engine.license_source else "none"
        ),
        "startup_seconds": asdict(engine.timings),
        "workers": getattr(engine, "workers", 1),
    },
)
if not engine.licensed:
    logger.warning(
        "TRIAL MODE: no Aspose license is configured; each page's text is cut to at most "
        "300 characters and ends with a 'Trial Licenses' banner. Set OCR_LICENSE_PATH, "
        "OCR_LICENSE_SECRET_ID or OCR_LICENSE_PARAMETER."
    )

# Standard retry mode backs off on throttling; timeouts stay well inside the function's own.
client_config = Config(retries={"mode": "standard"}, connect_timeout=5, read_timeout=30)
s3_client = boto3.client("s3", config=client_config)
# Long documents go back to the ingest queue as page tasks; without a queue (a direct
# invocation, `make invoke`) they are recognized in one go.
splitter = (
    Splitter(
        SqsTaskQueue(boto3.client("sqs", config=client_config), settings.task_queue_url),
        settings.pages_per_task,
    )
    if settings.task_queue_url
    else None
)
telemetry = Telemetry(metrics, tracer)
router = EventRouter(
    OcrPipeline(
        DocumentRecognizer.configured(engine, settings),
        S3ObjectStore(s3_client),
        settings.output_bucket,
        telemetry=telemetry,
        outputs=settings.outputs,
        splitter=splitter,
    )
)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Recognize every object the event names; see ocr_service/invocation.py for how each
    event shape is answered, and when the invocation raises."""
    telemetry.trial_mode(unlicensed=not engine.licensed)
    return router.handle(event, context)
