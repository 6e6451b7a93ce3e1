"""`make up [ENGINE=aspose|tesseract] [WORKERS=2]`: the deployed topology on this machine.

    python -m tools.local_stack [--engine aspose|tesseract] [--workers 2] [--batch-size N]
        [--visibility-timeout S] [--max-receive-count N] [--port 5000] [--fake-engine]

Starts moto's S3 and SQS on http://127.0.0.1:5000, creates the buckets ocr-input and ocr-output,
the queues ocr-ingest and ocr-ingest-dlq (visibility timeout, maxReceiveCount and BatchSize from
template.yaml for the engine, unless given) and the input bucket's notification to ocr-ingest,
then runs WORKERS worker processes (each its own Init of app.py) fed by a local stand-in for
Lambda's SQS event source mapping. Upload from another terminal:

    export AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_ACCESS_KEY_ID=local \\
        AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1
    aws s3 cp scan.png s3://ocr-input/scans/        # or boto3
    aws s3 cp s3://ocr-output/scans/scan.png.txt -

One line per batch on the console; the function's logs, the poller's JSON lines and moto's log
go to .cache/local-stack/. Ctrl-C or SIGTERM: stop polling, let running batches finish (a second
Ctrl-C stops them at once; their messages would come back), stop the workers and the server,
exit 0. Exit 1 when the stack cannot start (port in use, a worker's Init failed).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from tools.local_stack import settings
from tools.local_stack.server import ServerError
from tools.local_stack.stack import LocalStack, StackOptions, StartError


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.local_stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--engine", choices=settings.ENGINES, default="aspose")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--batch-size", type=int, help="default: the template's BatchSize")
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        metavar="S",
        help="the ingest queue's; default: the template's for the engine (6x Timeout)",
    )
    parser.add_argument("--max-receive-count", type=int, help="default: the template's")
    parser.add_argument(
        "--batch-timeout", type=float, metavar="S", help="default: the function's Timeout"
    )
    parser.add_argument("--host", default=settings.HOST)
    parser.add_argument("--port", type=int, default=settings.PORT, help="0: any free port")
    parser.add_argument("--state-dir", type=Path, default=settings.STATE_DIR, help="logs")
    parser.add_argument("--fake-engine", action="store_true", help="a fast fake OCR engine")
    parser.add_argument("--fake-page-seconds", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--faults-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--wait-seconds", type=int, default=2, help="long poll (1-20)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.batch_size is not None and not 1 <= args.batch_size <= 10:  # noqa: PLR2004
        parser.error("--batch-size must be between 1 and 10 (SQS's ReceiveMessage maximum)")
    if not 1 <= args.wait_seconds <= 20:  # noqa: PLR2004
        parser.error("--wait-seconds must be between 1 and 20")
    return args


def options_from(args: argparse.Namespace) -> StackOptions:
    return StackOptions(
        engine=args.engine,
        workers=args.workers,
        batch_size=args.batch_size,
        visibility_timeout=args.visibility_timeout,
        max_receive_count=args.max_receive_count,
        batch_timeout_s=args.batch_timeout,
        host=args.host,
        port=args.port,
        state_dir=args.state_dir,
        fake_engine=args.fake_engine,
        fake_page_seconds=args.fake_page_seconds,
        faults_dir=args.faults_dir,
        wait_seconds=args.wait_seconds,
    )


def banner(stack: LocalStack) -> str:
    top, queue, mapping = stack.topology, stack.queue, stack.mapping
    engine = "fake" if stack.options.fake_engine else stack.options.engine
    url = top.endpoint_url
    return "\n".join(
        [
            f"ready: {stack.options.workers} worker(s), {engine} engine, endpoint {url}",
            f"  s3://{top.input_bucket} -> {settings.INGEST_QUEUE} (visibility "
            f"{queue.visibility_timeout} s, to {settings.DEAD_LETTER_QUEUE} after "
            f"{queue.max_receive_count} receives) -> BatchSize {mapping.batch_size}, timeout "
            f"{mapping.batch_timeout_s:.0f} s -> s3://{top.output_bucket}",
            f"  logs: {stack.options.state_dir}/{{function,poller,moto}}.log",
            f"  export AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID=local "
            "AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1",
            f"  aws s3 cp scan.png s3://{top.input_bucket}/scans/   "
            f"then: aws s3 ls --recursive s3://{top.output_bucket}/",
            "  Ctrl-C stops (running batches finish first)",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stack = LocalStack(options_from(args), console=sys.stdout)
    signals = {"count": 0}
    stop_requested = threading.Event()

    def on_signal(number: int, _frame: FrameType | None) -> None:
        signals["count"] += 1
        stop_requested.set()
        if signals["count"] == 1:
            print(
                f"\n{signal.Signals(number).name}: stopping; waiting for "
                f"{stack.running_batches if hasattr(stack, 'journal') else 0} running "
                "batch(es) (Ctrl-C again stops them now)",
                flush=True,
            )
            stack.request_stop()
        else:
            print(
                "stopping now: running batches' messages come back after the visibility timeout",
                flush=True,
            )
            stack.kill_workers()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    engine = "fake" if args.fake_engine else args.engine
    print(
        f"starting: moto on {args.host}:{args.port}, {args.workers} {engine} worker(s) ...",
        flush=True,
    )
    try:
        stack.start()
    except (ServerError, StartError) as error:
        print(f"cannot start: {error}", file=sys.stderr)
        return 0 if stop_requested.is_set() else 1
    if not stop_requested.is_set():
        print(banner(stack), flush=True)
    stop_requested.wait()
    stack.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
