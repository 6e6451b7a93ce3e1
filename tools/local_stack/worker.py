"""One worker process: an execution environment of the function.

It imports functions/ocr/app.py once (its own Init, with the environment template.yaml declares
for the engine, this machine's paths and the local endpoint), then invokes `lambda_handler`
once per batch the poller sends, with a context sized as the template says. Protocol, over a
multiprocessing Pipe:
    worker -> poller: ("ready", init_seconds, engine_name) or ("init-failed", traceback)
    poller -> worker: ("invoke", batch_id, event) ... ("stop",)
    worker -> poller: ("result", batch_id, response, error) per invoke; error is
                      "Type: message" when the handler raised (every message failed), else None
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

PROTOCOL_READY = "ready"
PROTOCOL_INIT_FAILED = "init-failed"
PROTOCOL_INVOKE = "invoke"
PROTOCOL_RESULT = "result"
PROTOCOL_STOP = "stop"


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs; picklable (workers are spawned)."""

    endpoint_url: str
    input_bucket: str
    output_bucket: str
    queue_url: str
    engine: str
    log_path: Path
    fake_engine: bool = False
    fake_page_seconds: float = 0.0
    faults_dir: Path | None = None


def isolate_from_aws(endpoint_url: str, region: str = "us-east-1") -> None:
    """Fake credentials and the local endpoint for every client this process creates."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION=region,
        AWS_ENDPOINT_URL=endpoint_url,
    )


def _redirect_output(log_path: Path) -> None:
    """The handler's log lines and metrics (stdout) and anything on stderr go to the log."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.close(descriptor)
    sys.stdout = open(1, "w", encoding="utf-8", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", buffering=1, closefd=False)  # noqa: SIM115


def init(spec: WorkerSpec) -> tuple[Any, float]:
    """Lambda's Init: the environment, then `import app` (the engine starts here)."""
    from tools.local_run import import_handler_module, local_environment  # noqa: PLC0415

    isolate_from_aws(spec.endpoint_url)
    environment = local_environment(spec.output_bucket, spec.engine, spec.queue_url)
    environment["AWS_ENDPOINT_URL"] = spec.endpoint_url
    if spec.fake_engine:
        from ocr_service import engines  # noqa: PLC0415
        from tools.fake_engine import FakeEngine, speed_of  # noqa: PLC0415

        def start_fake(*_: object) -> FakeEngine:
            return FakeEngine(page_seconds=spec.fake_page_seconds, speed=speed_of(spec.engine))

        engines.start_engine = start_fake  # type: ignore[assignment]
    module, seconds = import_handler_module(environment)
    if spec.faults_dir is not None:
        from tools.local_stack.faults import Faults, install  # noqa: PLC0415

        install(module, Faults(spec.faults_dir), spec.input_bucket)
    return module, seconds


def main(connection: Connection, spec: WorkerSpec) -> None:
    """The process's target. Ctrl-C in the terminal is for the poller: it lets running batches
    finish, then stops the workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _redirect_output(spec.log_path)
    try:
        module, seconds = init(spec)
    except BaseException:  # an Init that fails fails every invocation; say why and stop
        traceback.print_exc()
        connection.send((PROTOCOL_INIT_FAILED, traceback.format_exc()))
        return
    connection.send((PROTOCOL_READY, seconds, str(module.engine.name)))
    from tools.local_run import invoke  # noqa: PLC0415

    while True:
        try:
            message = connection.recv()
        except EOFError:  # the poller is gone
            return
        if message[0] != PROTOCOL_INVOKE:
            return
        _, batch_id, event = message
        response: Any = None
        error: str | None = None
        try:
            response = invoke(module, event)
        except Exception as raised:  # Lambda reports the error; every message failed
            error = f"{type(raised).__name__}: {raised}"
            traceback.print_exc()
        sys.stdout.flush()
        try:
            connection.send((PROTOCOL_RESULT, batch_id, response, error))
        except (BrokenPipeError, OSError):
            return
