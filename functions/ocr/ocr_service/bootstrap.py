"""The composition root: everything the handler needs, built once from the environment.

`app.py` calls `build_service` at import time, which is Lambda's Init phase: the configuration
is validated, the OCR engine that OCR_ENGINE names is started and warmed up, and the AWS clients
are built, so requests pay for none of it. Tests and local tools build the same way, handing in
a fake engine or their own clients where they need to.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from ocr_service import engines
from ocr_service.aws.fanout import SqsTaskQueue
from ocr_service.aws.invocation import EventRouter
from ocr_service.aws.page_tasks import Splitter
from ocr_service.aws.pipeline import OcrPipeline
from ocr_service.aws.storage import S3ObjectStore
from ocr_service.aws.telemetry import Telemetry
from ocr_service.core.config import Settings, load_settings
from ocr_service.engines.port import OcrEngine
from ocr_service.recognition.recognizer import DocumentRecognizer

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]
# Standard retry mode backs off on throttling; timeouts stay well inside the function's own.
CLIENT_CONFIG = Config(retries={"mode": "standard"}, connect_timeout=5, read_timeout=30)
TRIAL_MODE_WARNING = (
    "TRIAL MODE: no Aspose license is configured; each recognized page's text is cut to at "
    "most 300 characters (PDF pages read from their text layer are not). Set "
    "OCR_LICENSE_PATH, OCR_LICENSE_SECRET_ID or OCR_LICENSE_PARAMETER."
)


@dataclass(frozen=True)
class Service:
    """One execution environment's wiring, built at Init and reused by every request."""

    settings: Settings
    engine: OcrEngine
    s3_client: S3Client
    telemetry: Telemetry
    router: EventRouter


def build_service(
    logger: Logger,
    metrics: Metrics,
    tracer: Tracer,
    environ: Mapping[str, str] = os.environ,
    *,
    engine: OcrEngine | None = None,
    s3_client: S3Client | None = None,
    sqs_client: SQSClient | None = None,
) -> Service:
    """Validate the configuration, start the engine, build the clients and the pipeline.
    ConfigError and EngineSetupError fail the cold start with one clear message."""
    settings = load_settings(environ)
    engine = engine or engines.start_engine(settings.engine)
    _log_start(logger, settings, engine)
    s3_client = s3_client or boto3.client("s3", config=CLIENT_CONFIG)
    splitter = None
    if settings.task_queue_url:  # without a queue (make invoke), long documents go in one go
        sqs_client = sqs_client or boto3.client("sqs", config=CLIENT_CONFIG)
        queue = SqsTaskQueue(sqs_client, settings.task_queue_url)
        splitter = Splitter(queue, settings.pages_per_task)
    telemetry = Telemetry(metrics, tracer)
    pipeline = OcrPipeline(
        DocumentRecognizer.configured(engine, settings),
        S3ObjectStore(s3_client),
        settings.output_bucket,
        telemetry=telemetry,
        outputs=settings.outputs,
        splitter=splitter,
        min_confidence=settings.min_confidence,
    )
    return Service(settings, engine, s3_client, telemetry, EventRouter(pipeline))


def lambda_handler_for(
    service: Service, logger: Logger, metrics: Metrics, tracer: Tracer
) -> Handler:
    """The handler Lambda calls: Powertools' context, tracing and metrics around the router."""

    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Recognize every object the event names; see invocation.py for how each event shape
        is answered, and when the invocation raises."""
        service.telemetry.trial_mode(unlicensed=not service.engine.licensed)
        return service.router.handle(event, context)

    # Powertools' decorators are untyped: the handler keeps its own signature.
    decorated: Handler = metrics.log_metrics(capture_cold_start_metric=True)(lambda_handler)
    decorated = tracer.capture_lambda_handler(capture_response=False)(decorated)
    decorated = logger.inject_lambda_context(log_event=False)(decorated)
    return decorated


def _log_start(logger: Logger, settings: Settings, engine: OcrEngine) -> None:
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
                settings.engine.license_source.variable
                if settings.engine.license_source
                else "none"
            ),
            "startup_seconds": asdict(engine.timings),
            "workers": getattr(engine, "workers", 1),
        },
    )
    if not engine.licensed:
        logger.warning(TRIAL_MODE_WARNING)
