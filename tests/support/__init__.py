"""Helpers the tests share: imported by test modules and conftest.py alike, never by tools/.

- `deployment`: the buckets, the template's environment, the engines' files, the parent logger.
- `samples`: images only the tests render (the tools' own are in tools/samples.py).
- `uploads`: objects put into the test S3 and the events that announce them.
- `layers`: the layers' build scripts imported by path, synthetic .debs and trees.
- `observability_driver`: the function in a fresh process, for the observability tests.

The fake engine is tools/fake_engine.py (the local stack and the load test use it too), event
builders are tools/events.py (they write events/), the Lambda context tools/lambda_context.py,
moto's S3 and SQS on a loopback port in this process tools/moto_server.py (bench/ uses it too).
"""
