"""A worker process seen from the poller: start it (and wait for its Init), hand it a batch,
wait for the answer, notice when it died, stop it."""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from tools.local_stack import worker
from tools.local_stack.worker import WorkerSpec

_CONTEXT = multiprocessing.get_context("spawn")
STOP_GRACE_S = 5.0


class WorkerDied(RuntimeError):  # noqa: N818 - an event, not a programming error
    """The process ended without answering (killed, crashed, out of memory)."""


class WorkerTimedOut(RuntimeError):  # noqa: N818
    """No answer within the function's timeout: Lambda would stop the invocation."""


class InitFailedError(RuntimeError):
    """app.py could not be imported: the traceback says why."""


@dataclass(frozen=True)
class Answer:
    response: Any
    error: str | None


class WorkerProcess:
    """One execution environment (a spawned process), started by `start()`."""

    def __init__(self, spec: WorkerSpec, name: str) -> None:
        self.spec = spec
        self.name = name
        self._process: BaseProcess | None = None
        self._connection: Connection | None = None
        self.init_seconds = 0.0
        self.engine = ""

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout_s: float) -> None:
        """Spawn the process and wait for its Init; InitFailed, WorkerDied or WorkerTimedOut."""
        parent, child = _CONTEXT.Pipe()
        process = _CONTEXT.Process(target=worker.main, args=(child, self.spec), name=self.name)
        # The child inherits a blocked SIGINT (unblocked once it ignores it): a Ctrl-C in the
        # terminal while it starts cannot interrupt its Init.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        child.close()
        self._process, self._connection = process, parent
        message = self._receive(timeout_s)
        if message[0] == worker.PROTOCOL_INIT_FAILED:
            self.stop()
            raise InitFailedError(str(message[1]))
        _, self.init_seconds, self.engine = message

    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def invoke(self, batch_id: int, event: dict[str, Any], timeout_s: float) -> Answer:
        """The handler's answer for one batch."""
        assert self._connection is not None
        try:
            self._connection.send((worker.PROTOCOL_INVOKE, batch_id, event))
        except (BrokenPipeError, OSError) as error:
            raise WorkerDied(self._describe_end()) from error
        message = self._receive(timeout_s)
        return Answer(message[2], message[3])

    def _receive(self, timeout_s: float) -> Any:
        assert self._process is not None and self._connection is not None
        ready = wait([self._connection, self._process.sentinel], timeout_s)
        if self._connection in ready:
            try:
                return self._connection.recv()
            except (EOFError, OSError) as error:
                raise WorkerDied(self._describe_end()) from error
        if ready:
            raise WorkerDied(self._describe_end())
        raise WorkerTimedOut(f"no answer within {timeout_s:.0f} s")

    def _describe_end(self) -> str:
        process = self._process
        if process is None:
            return "not started"
        process.join(1)
        code = process.exitcode
        if code is not None and code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Ask it to end, then terminate, then kill."""
        process, connection = self._process, self._connection
        if process is None:
            return
        if connection is not None:
            with contextlib.suppress(BrokenPipeError, OSError):
                connection.send((worker.PROTOCOL_STOP,))
        process.join(grace_s)
        if process.is_alive():
            process.terminate()
            process.join(grace_s)
        if process.is_alive():
            process.kill()
            process.join()
        if connection is not None:
            connection.close()
        self._connection = None

    def kill(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.kill()
