"""moto's S3 and SQS in one server process, which ends with the process that started it.

`python -m tools.local_stack.server --host H --port P --parent PID` runs moto's threaded server
and prints `listening H:P` once it accepts requests (port 0 picks a free port); it stops when
PID is gone or on SIGTERM/SIGINT. `MotoServer` starts it in its own session, so a Ctrl-C in the
terminal reaches only the stack, which stops the server after the running batches finished.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import IO

READY_PREFIX = "listening "
START_TIMEOUT_S = 60.0


class ServerError(RuntimeError):
    """The server did not start (port in use, crash)."""


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the server binds: connections of a stopped server (TIME_WAIT) do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class MotoServer:
    """The server subprocess: `start()` returns once it listens; `url` is its endpoint."""

    def __init__(self, host: str, port: int, log_path: Path) -> None:
        self._host = host
        self._port = port
        self._log_path = log_path
        self._process: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None
        self.url = ""

    def start(self) -> str:
        if self._port and not port_is_free(self._host, self._port):
            raise ServerError(
                f"{self._host}:{self._port} is in use: is `make local-s3` or another "
                "`make up` running? (--port picks another)"
            )
        self._log = self._log_path.open("a", encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            "tools.local_stack.server",
            "--host",
            self._host,
            "--port",
            str(self._port),
            "--parent",
            str(os.getpid()),
        ]
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            start_new_session=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert self._process.stdout is not None
        line = _read_line(self._process.stdout, START_TIMEOUT_S)
        if not line.startswith(READY_PREFIX):
            self.stop()
            raise ServerError(f"moto did not start (see {self._log_path}): {line!r}")
        self.url = f"http://{line.removeprefix(READY_PREFIX).strip()}"
        return self.url

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process is not None and process.stdout is not None:
            process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None


def _read_line(stream: IO[str], timeout: float) -> str:
    """The first line the server prints, or "" after `timeout` seconds."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.local_stack.server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--parent", type=int, help="stop when this process is gone")
    args = parser.parse_args(argv)
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 - slow import, server only

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not one line per request
    stopping = threading.Event()

    def stop(_signal: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"{READY_PREFIX}{host}:{port}", flush=True)
    while not stopping.wait(0.5):
        if args.parent and os.getppid() != args.parent:
            break  # the stack died without stopping us: do not hold the port
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
