"""Lambda entry point (`app.lambda_handler`): S3 uploads in, through SQS or any shape
ocr_service/event_shapes.py accepts; one UTF-8 .txt per object out.

Only wiring: the service is built once at import time, which is Lambda's Init phase
(ocr_service/bootstrap.py), and every request reuses it.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

from ocr_service.bootstrap import build_service, lambda_handler_for

logger = Logger()
metrics = Metrics()  # namespace and service from POWERTOOLS_METRICS_NAMESPACE / _SERVICE_NAME
tracer = Tracer()

service = build_service(logger, metrics, tracer)
settings, engine, s3_client = service.settings, service.engine, service.s3_client
lambda_handler = lambda_handler_for(service, logger, metrics, tracer)
