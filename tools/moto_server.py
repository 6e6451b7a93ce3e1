"""moto's server (S3, SQS, ...) on a loopback port, in this process: a real HTTP endpoint for
what must go over the wire (`AWS_ENDPOINT_URL`, a tool in a subprocess, the Lambda sandbox, the
benchmark's workers). The one such helper for the tests and bench/.

moto keeps its state in this process, so `stop()` then `start()` on the same port brings the
endpoint back with its buckets as they were (S3 "vanishing" mid-run). `make up` runs its server
in a process of its own instead (tools/local_stack/server.py), which outlives no stack.
"""

from __future__ import annotations

import contextlib
import logging
import urllib.request
from collections.abc import Iterator

from moto.server import ThreadedMotoServer

HOST = "127.0.0.1"


class LocalMotoServer:
    """`start()` returns the endpoint's URL; port 0 picks a free port, kept for restarts."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.url = ""
        self._server: ThreadedMotoServer | None = None

    def start(self) -> str:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # not one line per request
        server = ThreadedMotoServer(ip_address=HOST, port=self.port, verbose=False)
        server.start()
        self._server = server
        host, self.port = server.get_host_and_port()
        self.url = f"http://{host}:{self.port}"
        return self.url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def reset(self) -> None:
        """Forget every bucket, queue and object (moto's state is per process, not per server)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass


@contextlib.contextmanager
def moto_server() -> Iterator[LocalMotoServer]:
    """A started server with no state left from earlier tests; stopped at the end."""
    server = LocalMotoServer()
    server.start()
    try:
        server.reset()
        yield server
    finally:
        server.stop()
