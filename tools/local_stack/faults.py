"""Faults the tests and `make load` arm for worker processes, as files in a directory.

Each armed fault is one file; a worker takes it by deleting it, so each fires exactly once,
whichever process meets it first:
- `get-fail`, tagged by the input key: that GetObject fails with a connection error (a transient
  failure: the record is reported in batchItemFailures and delivered again);
- `hang`, tagged by the document's bytes and first page: the engine call writes
  `hanging-<pid>` and sleeps, so a test can kill the worker mid-task;
- `exit`, same tag: the worker process exits at once (a crash).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from botocore.exceptions import EndpointConnectionError

GET_FAIL = "get-fail"
HANG = "hang"
EXIT = "exit"
HANGING = "hanging-"
HANG_SECONDS = 3600.0


def key_tag(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def data_tag(data: bytes, first_page: int | None = None) -> str:
    """The tag of a recognition whose first page is `first_page` of `data` (as the engine
    is given it: decoded, so the tag names pixels, not bytes)."""
    from ocr_service.core.formats import identify  # noqa: PLC0415
    from tools.fake_engine import decoded_pages  # noqa: PLC0415

    page = decoded_pages(data, identify(data))[(first_page or 1) - 1]
    return page_tag(page.image.tobytes(), page.number)


def page_tag(pixels: bytes, number: int) -> str:
    return f"{hashlib.sha256(pixels).hexdigest()[:16]}-{number}"


class Faults:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def arm(self, kind: str, tag: str, times: int = 1) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for index in range(times):
            (self.directory / f"{kind}-{tag}.{index}").touch()

    def take(self, kind: str, tag: str) -> bool:
        """Whether this fault was armed; it fires once (the first taker deletes it)."""
        for path in sorted(self.directory.glob(f"{kind}-{tag}.*")):
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            return True
        return False

    def armed(self) -> list[str]:
        return sorted(p.name for p in self.directory.glob("*") if not p.name.startswith(HANGING))

    def hanging_pids(self) -> list[int]:
        return [int(p.name.removeprefix(HANGING)) for p in self.directory.glob(f"{HANGING}*")]


def install(module: Any, faults: Faults, input_bucket: str) -> None:
    """Hook the faults into an imported app.py (its S3 client and its engine)."""

    def before_get(params: dict[str, Any], **_: Any) -> None:
        key = str(params.get("Key", ""))
        if params.get("Bucket") == input_bucket and faults.take(GET_FAIL, key_tag(key)):
            raise EndpointConnectionError(endpoint_url=f"fault-injected://{key}")

    module.s3_client.meta.events.register("before-parameter-build.s3.GetObject", before_get)
    engine_type = type(module.engine)
    recognize = engine_type.recognize

    def faulty_recognize(self: Any, pages: Iterable[Any], *args: Any, **kwargs: Any) -> Any:
        given = list(pages)
        if given:
            tag = page_tag(given[0].image.tobytes(), given[0].number)
            if faults.take(EXIT, tag):
                os._exit(70)
            if faults.take(HANG, tag):
                (faults.directory / f"{HANGING}{os.getpid()}").touch()
                time.sleep(HANG_SECONDS)
        return recognize(self, given, *args, **kwargs)

    engine_type.recognize = faulty_recognize
