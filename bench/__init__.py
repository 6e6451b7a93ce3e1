"""Measurements of the OCR function, run by hand (`make bench`), never by Lambda.

`python -m bench.bench` (make bench) measures both engines side by side:
- `bench.bench`: the command: options, then the parts below in order;
- `bench.running`: each measurement in a fresh `bench.worker` process, pinned to the cores the
  engine's memory size buys, against a local S3;
- `bench.worker`: the child side: Init, the first request, then bare engine and handler calls;
- `bench.protocol`: the task and result types the two sides exchange as JSON;
- `bench.measuring`: timers (wall, CPU), resident memory, the machine and its load;
- `bench.inputs`, `bench.images`: what is recognized (rendered classes, real scans);
- `bench.experiments`: what is measured, in which order (cold starts, side by side, sizing);
- `bench.analysis`, `bench.textmetrics`, `bench.costs`: medians, overhead, error rates, cost;
- `bench.results`: the report's typed records; `bench.report`: its tables and JSON.

Other commands: `bench.fanout` (page-range task sizes), `bench.preprocessing` (which image
filters help), `bench.bad_inputs` (what the bare engine does with hostile inputs).
"""
