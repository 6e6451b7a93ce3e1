"""What a page-range task costs: one long document recognized as tasks of N pages.

    python -m bench.fanout [--engine tesseract] [--pages 20] [--per-task 20,10,5,2]

Runs the real pipeline (split, every task, the assembly) against an in-process S3 with the
chosen engine on A4 TIFF pages (bench.images.tiff_document), tasks one after the other, and
prints per setting: the tasks, the seconds of all tasks together, the longest task (what a
document waits for when every task runs at once), and the seconds per page. Smaller tasks
spread a document over more invocations but repeat each task's fixed work (reading and
decoding the whole document, starting the threads); OCR_PAGES_PER_TASK's default comes from
this. Times are for this machine: compare settings within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import boto3
from aws_lambda_powertools import Logger
from moto import mock_aws

from bench.images import tiff_document
from ocr_service import engines
from ocr_service.aws.event_shapes import PAGE_TASK_KEY, refs_from_notification
from ocr_service.aws.fanout import PageTask
from ocr_service.aws.page_tasks import Splitter
from ocr_service.aws.pipeline import OcrPipeline
from ocr_service.aws.storage import S3ObjectStore
from ocr_service.aws.time_budget import Clock
from ocr_service.core.config import load_settings
from ocr_service.recognition.recognizer import DocumentRecognizer
from tools.events import Upload, s3_put_event
from tools.local_run import LOCAL_PATHS

INPUT, OUTPUT, KEY = "bench-input", "bench-output", "long.tif"
CLOCK = Clock(lambda: 1 << 40, 1 << 40)
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # one line per object is noise here
PARENT_LOGGER = Logger()  # the pipeline's modules log through child loggers


@dataclass(frozen=True)
class Setting:
    pages_per_task: int
    tasks: int
    total_s: float
    longest_task_s: float
    pages: int

    @property
    def per_page_s(self) -> float:
        return self.total_s / self.pages


class _ListQueue:
    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send(self, bodies: Sequence[str]) -> None:
        self.bodies.extend(bodies)


def measure(engine_name: str, page_count: int, per_task: int, document: bytes) -> Setting:
    environ = {
        "OUTPUT_BUCKET": OUTPUT,
        "OCR_ENGINE": engine_name,
        **{name: os.environ.get(name) or str(path) for name, path in LOCAL_PATHS.items()},
    }
    settings = load_settings(environ)
    engine = engines.start_engine(settings.engine)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in (INPUT, OUTPUT):
            s3.create_bucket(Bucket=bucket)
        etag = s3.put_object(Bucket=INPUT, Key=KEY, Body=document)["ETag"].strip('"')
        queue = _ListQueue()
        pipeline = OcrPipeline(
            DocumentRecognizer.configured(engine, settings),
            S3ObjectStore(s3),
            OUTPUT,
            splitter=Splitter(queue, per_task),
        )
        started = time.perf_counter()
        pipeline.process_refs(
            refs_from_notification(s3_put_event([Upload(INPUT, KEY, len(document), etag)])),
            CLOCK,
        )
        times = [time.perf_counter() - started]
        for body in queue.bodies:
            task = PageTask.from_fields(json.loads(body)[PAGE_TASK_KEY])
            started = time.perf_counter()
            pipeline.process_task(task, CLOCK)
            times.append(time.perf_counter() - started)
        text = s3.get_object(Bucket=OUTPUT, Key=KEY + ".txt")["Body"].read().decode()
        if len(text.split("\f")) != page_count:
            raise RuntimeError(f"{per_task} pages per task: the text has the wrong page count")
    tasks = len(queue.bodies) or 1
    return Setting(per_task, tasks, sum(times), max(times), page_count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", default="tesseract", choices=("aspose", "tesseract"))
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--per-task", default="20,10,5,2")
    args = parser.parse_args()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    document = tiff_document(args.pages).data
    print(f"{args.engine}: {args.pages} A4 pages (TIFF, 200 dpi), tasks one after the other")
    print("pages/task  tasks  all tasks s  longest task s  s/page")
    for per_task in (int(value) for value in args.per_task.split(",")):
        done = measure(args.engine, args.pages, per_task, document)
        print(
            f"{done.pages_per_task:>10}  {done.tasks:>5}  {done.total_s:>11.1f}  "
            f"{done.longest_task_s:>14.1f}  {done.per_page_s:>6.2f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
