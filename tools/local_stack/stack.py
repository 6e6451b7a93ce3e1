"""The whole local topology, started and stopped together: `make up`, the tests and `make load`
use this one class."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO

from tools.local_stack import settings, topology
from tools.local_stack.poller import Journal, MappingSettings, Slot
from tools.local_stack.server import MotoServer
from tools.local_stack.settings import TemplateValues, template_values
from tools.local_stack.topology import QueueSettings, Topology
from tools.local_stack.worker import WorkerSpec

DLQ_CHECK_S = 2.0


class StartError(RuntimeError):
    """The stack could not start (the port, a worker's Init)."""


@dataclass(frozen=True)
class StackOptions:
    engine: str = "aspose"
    workers: int = 2
    batch_size: int | None = None
    """None: the template's BatchSize default."""
    visibility_timeout: int | None = None
    """None: the template's VisibilityTimeout for the engine (six times the Timeout)."""
    max_receive_count: int | None = None
    batch_timeout_s: float | None = None
    """None: the function's Timeout for the engine."""
    host: str = settings.HOST
    port: int = settings.PORT
    state_dir: Path = settings.STATE_DIR
    fake_engine: bool = False
    fake_page_seconds: float = 0.0
    faults_dir: Path | None = None
    wait_seconds: int = 2


@dataclass
class LocalStack:
    """`start()` returns once every worker finished its Init and polling began."""

    options: StackOptions
    console: TextIO | None = None
    template: TemplateValues = field(init=False)
    topology: Topology = field(init=False)
    journal: Journal = field(init=False)
    dead_letter_count: int = 0

    def __post_init__(self) -> None:
        self.template = template_values(self.options.engine)
        self.queue = QueueSettings.from_template(
            self.template, self.options.visibility_timeout, self.options.max_receive_count
        )
        self.mapping = MappingSettings(
            batch_size=self.options.batch_size or self.template.batch_size,
            batch_timeout_s=self.options.batch_timeout_s or float(self.template.timeout_s),
            max_receive_count=self.queue.max_receive_count,
            wait_seconds=self.options.wait_seconds,
        )
        state = self.options.state_dir
        self.function_log = state / "function.log"
        self.poller_log = state / "poller.log"
        self.server_log = state / "moto.log"
        self._server = MotoServer(self.options.host, self.options.port, self.server_log)
        self._stopping = threading.Event()
        self._paused = threading.Event()
        self._slots: list[Slot] = []
        self._log: IO[str] | None = None
        self._dlq_thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        state = self.options.state_dir
        state.mkdir(parents=True, exist_ok=True)
        for path in (self.function_log, self.poller_log, self.server_log):
            path.write_text("", encoding="utf-8")
        self._log = self.poller_log.open("a", encoding="utf-8")
        self.journal = Journal(self.console, self._log, self.queue.max_receive_count)
        try:
            url = self._server.start()
            self.topology = topology.create(url, self.queue)
            self._start_slots()
        except BaseException:
            self.stop(force=True)
            raise
        self._dlq_thread = threading.Thread(target=self._watch_dead_letters, daemon=True)
        self._dlq_thread.start()

    def _start_slots(self) -> None:
        options = self.options
        spec = WorkerSpec(
            endpoint_url=self.topology.endpoint_url,
            input_bucket=self.topology.input_bucket,
            output_bucket=self.topology.output_bucket,
            queue_url=self.topology.queue_url,
            engine=options.engine,
            log_path=self.function_log,
            fake_engine=options.fake_engine,
            fake_page_seconds=options.fake_page_seconds,
            faults_dir=options.faults_dir,
        )
        self._slots = [
            Slot(
                index,
                spec,
                self.topology,
                self.mapping,
                self.journal,
                self._stopping,
                self._paused,
            )
            for index in range(1, options.workers + 1)
        ]
        for slot in self._slots:
            slot.start()
        for slot in self._slots:
            slot.ready.wait()
        errors = [slot.init_error for slot in self._slots if slot.init_error]
        if errors:
            raise StartError(f"{errors[0]}\n(the function's log: {self.function_log})")

    def request_stop(self) -> None:
        """Stop polling; running batches finish (or time out)."""
        self._stopping.set()

    def kill_workers(self) -> None:
        """Stop now: running batches fail and come back after the visibility timeout."""
        self._stopping.set()
        for slot in self._slots:
            if slot.worker is not None:
                slot.worker.kill()

    def wait_stopped(self, timeout_s: float | None = None) -> bool:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for slot in self._slots:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            slot.join(left)
        return not any(slot.is_alive() for slot in self._slots)

    def stop(self, force: bool = False) -> None:
        if force:
            self.kill_workers()
        self.request_stop()
        if not self.wait_stopped(self.mapping.batch_timeout_s + 30):
            self.kill_workers()
            self.wait_stopped(30)
        self._server.stop()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- what tests and tools look at ----------------------------------------------------------

    @property
    def running_batches(self) -> int:
        return self.journal.in_flight

    def worker_pids(self) -> list[int]:
        return [pid for slot in self._slots if slot.worker and (pid := slot.worker.pid) is not None]

    def init_seconds(self) -> list[float]:
        """Each current worker's Init (import of app.py) in seconds."""
        return [slot.worker.init_seconds for slot in self._slots if slot.worker is not None]

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No new receives while inside (a batch already received still runs)."""
        self._paused.set()
        try:
            time.sleep(self.mapping.wait_seconds + 0.5)  # let running long polls end
            yield
        finally:
            self._paused.clear()

    def wait_idle(self, timeout_s: float, settle_s: float = 1.0) -> bool:
        """Whether, within `timeout_s`, the ingest queue became empty (nothing visible, nothing
        in flight, nothing waiting for its visibility timeout) and no batch ran for `settle_s`."""
        sqs = topology.sqs_client(self.topology.endpoint_url)
        deadline = time.monotonic() + timeout_s
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            visible, in_flight = topology.queue_depth(sqs, self.topology.queue_url)
            if visible == 0 and in_flight == 0 and self.journal.in_flight == 0:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= settle_s:
                    return True
            else:
                quiet_since = None
            time.sleep(0.2)
        return False

    def function_log_records(self) -> list[dict[str, Any]]:
        """The function's JSON log lines (Powertools), parsed; other lines are skipped."""
        records = []
        for line in self.function_log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    records.append(json.loads(line))
        return records

    def _watch_dead_letters(self) -> None:
        sqs = topology.sqs_client(self.topology.endpoint_url)
        while not self._stopping.wait(DLQ_CHECK_S):
            try:
                visible, in_flight = topology.queue_depth(sqs, self.topology.dead_letter_url)
            except Exception:
                continue
            count = visible + in_flight
            if count != self.dead_letter_count:
                self.dead_letter_count = count
                self.journal.note(
                    f"dead-letter queue {settings.DEAD_LETTER_QUEUE} holds {count} message(s)"
                    + (
                        f" (AWS_ENDPOINT_URL={self.topology.endpoint_url} make redrive LOCAL=1"
                        " moves them back)"
                        if count
                        else ""
                    )
                )
