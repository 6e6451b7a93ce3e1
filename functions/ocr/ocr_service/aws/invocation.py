"""How each accepted event shape is answered (event_shapes.py says which shapes those are).

- SQS (the deployed path): Powertools' batch processor runs each message; a message whose
  object failed transiently raises, so it alone comes back as a batch item failure and is
  redelivered (after MaxReceiveCount failures it goes to the dead-letter queue). A permanent
  failure wrote its failure record and is not retried. S3's `s3:TestEvent` is acknowledged.
- An S3 notification or EventBridge event (a direct invocation): every object is handled, then
  the invocation raises if any failed transiently, so Lambda's own retries take over.
- S3 Batch Operations: each task is answered with Succeeded, TemporaryFailure (Batch Operations
  retries it) or PermanentFailure, and the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes import (
    S3BatchOperationEvent,
    S3BatchOperationResponse,
    S3BatchOperationResponseRecord,
    SQSRecord,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from ocr_service.aws.event_shapes import (
    EventShape,
    TestMessage,
    UnsupportedEventError,
    batch_tasks,
    read_message,
    ref_from_eventbridge,
    refs_from_notification,
    shape_of,
)
from ocr_service.aws.fanout import PageTask
from ocr_service.aws.outcomes import Failed, InvocationResult, RetryableRecordsError
from ocr_service.aws.pipeline import OcrPipeline
from ocr_service.aws.time_budget import Clock

logger = Logger(child=True)
ResultCode = Literal["Succeeded", "TemporaryFailure", "PermanentFailure"]


class EventRouter:
    """Answers one invocation, whatever shape its event has."""

    def __init__(self, pipeline: OcrPipeline) -> None:
        self._pipeline = pipeline

    def handle(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        try:
            shape = shape_of(event)
        except UnsupportedEventError as error:
            logger.error("unsupported event", extra={"error": str(error)})
            raise
        clock = Clock.starting(context.get_remaining_time_in_millis)
        if shape is EventShape.SQS:
            return self._sqs(event, context, clock)
        if shape is EventShape.BATCH_OPERATIONS:
            return self._batch_operations(event, clock)
        refs = (
            refs_from_notification(event)
            if shape is EventShape.S3
            else [ref_from_eventbridge(event)]
        )
        result = self._pipeline.process_refs(refs, clock)
        _log_summary(result)
        if result.retryable:
            raise RetryableRecordsError(result)
        return result.as_dict()

    def _sqs(
        self, event: Mapping[str, Any], context: LambdaContext, clock: Clock
    ) -> dict[str, Any]:
        def handle_message(record: SQSRecord) -> None:
            try:
                message = read_message(record.body)
                if isinstance(message, TestMessage):
                    logger.info("s3:TestEvent acknowledged", extra={"bucket": message.bucket})
                    return
                if isinstance(message, list):
                    result = self._pipeline.process_refs(message, clock)
                else:
                    result = InvocationResult()
                    result.add(self._pipeline.process_task(PageTask.from_fields(message), clock))
            except UnsupportedEventError as error:
                logger.error(
                    "unsupported message",
                    extra={"message_id": record.message_id, "error": str(error)},
                )
                raise
            if result.retryable:  # only this message comes back, after its visibility timeout
                raise RetryableRecordsError(result)

        # A batch whose every message failed is answered like any other (each message listed),
        # not raised: the retry is the same, without a function error and a traceback for
        # every transient failure of a one-message batch.
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        response = process_partial_response(
            event=dict(event), record_handler=handle_message, processor=processor, context=context
        )
        return dict(response)

    def _batch_operations(self, event: Mapping[str, Any], clock: Clock) -> dict[str, Any]:
        invocation = S3BatchOperationEvent(dict(event))
        response = S3BatchOperationResponse(
            invocation.invocation_schema_version, invocation.invocation_id, "PermanentFailure"
        )
        for task in batch_tasks(event):
            result = self._pipeline.process_refs([task.ref], clock)
            code, text = _result_code(result)
            response.add_result(S3BatchOperationResponseRecord(task.task_id, code, text))
        return response.asdict()


def _result_code(result: InvocationResult) -> tuple[ResultCode, str]:
    for done in result.succeeded:
        return "Succeeded", done.output_key
    for skipped in result.skipped:
        return "Succeeded", f"skipped: {skipped.reason}"
    failure: Failed = result.failed[0]
    code: ResultCode = "TemporaryFailure" if failure.retryable else "PermanentFailure"
    return code, f"{failure.reason}: {failure.message}"[:1024]


def _log_summary(result: InvocationResult) -> None:
    logger.info(
        "event done",
        extra={
            "succeeded": len(result.succeeded),
            "skipped": len(result.skipped),
            "failed": len(result.failed),
        },
    )
