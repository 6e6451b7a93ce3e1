"""Running measurements: each in a fresh `bench.worker` process, one after another, pinned to
the cores its engine's Lambda memory size buys, against a local S3 (moto, in this process)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import count
from pathlib import Path

from bench import costs
from bench.protocol import ColdStartResult, MeasureResult, Task

REPO_ROOT = Path(__file__).resolve().parents[1]
INPUT_BUCKET = "bench-input"
OUTPUT_BUCKET = "bench-output"
WORKER_TIMEOUT_S = 3 * 3600


class BenchError(RuntimeError):
    """A measurement failed; the message says which and shows its log."""


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class EngineSetup:
    """One engine as the benchmark runs it: template.yaml's memory and timeout for it, the
    cores that memory buys, and the function's environment."""

    name: str
    memory_mb: int
    timeout_s: int
    cpus: list[int]
    environment: dict[str, str] = field(repr=False)


def engine_setup(
    name: str, endpoint: str, available_cores: int, tesseract_memory_mb: int | None = None
) -> EngineSetup:
    """template.yaml's environment, memory and timeout for the engine (Tesseract's memory:
    `tesseract_memory_mb`, TesseractMemorySize, when given), with this machine's paths
    (tools.local_run) and the local S3."""
    from tools.local_run import local_environment  # noqa: PLC0415
    from tools.template_env import function_property  # noqa: PLC0415

    parameters = {"OcrEngine": name}
    if name == "tesseract" and tesseract_memory_mb is not None:
        parameters["TesseractMemorySize"] = str(tesseract_memory_mb)
    memory = int(function_property("MemorySize", parameters=parameters))
    timeout = int(function_property("Timeout", parameters=parameters))
    environment = local_environment(OUTPUT_BUCKET, name)
    environment["AWS_ENDPOINT_URL"] = endpoint
    environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(memory)
    cores = costs.cores_for(memory, available_cores)
    return EngineSetup(name, memory, timeout, list(range(cores)), environment)


def child_environment(endpoint: str) -> dict[str, str]:
    """This process's environment without real AWS credentials, pointed at the local S3."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")
    }
    python_path = [str(REPO_ROOT), str(REPO_ROOT / "functions" / "ocr")]
    if environment.get("PYTHONPATH"):
        python_path.append(environment["PYTHONPATH"])
    environment.update(
        PYTHONPATH=os.pathsep.join(python_path),
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # moto accepts anything
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
    )
    return environment


@contextmanager
def local_s3() -> Iterator[str]:
    """A moto S3 server in this process with the benchmark's two buckets; yields its URL."""
    import boto3  # noqa: PLC0415

    from tools.moto_server import LocalMotoServer  # noqa: PLC0415 - moto is a slow import

    server = LocalMotoServer()
    endpoint = server.start()
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
            s3.create_bucket(Bucket=bucket)
        yield endpoint
    finally:
        server.stop()


@dataclass
class Runner:
    """Starts `bench.worker` in a fresh process per task, in a directory of its own under
    `workdir` (task, result and the process's output), and notes the load average first."""

    workdir: Path
    child_environment: dict[str, str]
    run_id: str
    load_samples: list[float] = field(default_factory=list)
    _ids: count[int] = field(default_factory=count)

    def _run(self, task: Task, label: str) -> Path:
        """Run one task; return the path of its result."""
        directory = self.workdir / f"{next(self._ids):03d}-{task.kind}"
        directory.mkdir()
        task_path, result_path = directory / "task.json", directory / "result.json"
        log_path = directory / "output.log"
        replace(task, spawned_at=time.time(), run_id=self.run_id).write(task_path)
        self.load_samples.append(round(os.getloadavg()[0], 2))
        log(f"{label} ...")
        started = time.perf_counter()
        with log_path.open("wb") as output:
            completed = subprocess.run(
                [sys.executable, "-m", "bench.worker", str(task_path), str(result_path)],
                cwd=directory,  # the engine may write its log or resources here
                env=self.child_environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=WORKER_TIMEOUT_S,
                check=False,
            )
        if completed.returncode != 0 or not result_path.is_file():
            tail = log_path.read_text(errors="replace")[-3000:]
            raise BenchError(f"{label}: worker exited with {completed.returncode}\n{tail}")
        log(f"{label}: {time.perf_counter() - started:.1f} s")
        return result_path

    def cold_start(self, engine: EngineSetup, label: str) -> ColdStartResult:
        task = Task("cold_start", engine.environment, cpus=engine.cpus)
        return ColdStartResult.read(self._run(task, label))

    def measure(self, task: Task, label: str) -> MeasureResult:
        return MeasureResult.read(self._run(task, label))
