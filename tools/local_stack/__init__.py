"""`make up`: the deployed topology on this machine, in the foreground.

- moto's S3 and SQS in one server process (`server.py`) on http://127.0.0.1:5000;
- `topology.py`: buckets `ocr-input` and `ocr-output`, queues `ocr-ingest` (visibility timeout
  and redrive policy from template.yaml) and `ocr-ingest-dlq`, and the input bucket notifying
  the ingest queue on `s3:ObjectCreated:*`;
- `poller.py`: a local stand-in for Lambda's SQS event source mapping (long polls, batches of
  BatchSize, ReportBatchItemFailures), one slot per worker;
- `worker.py`: worker processes, each its own Init of functions/ocr/app.py, invoked per batch;
- `stack.py`: all of it started and stopped together (tests and `make load` use it too);
- `__main__.py`: the command line, logs and signals.
"""
