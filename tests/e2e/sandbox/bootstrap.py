"""A minimal stand-in for Lambda's Python runtime, run inside the sandbox (see lambda_sandbox.py).

Started as ``/var/lang/bin/python3.12 -S /var/rapid/bootstrap.py --report-fd N --timeout S
[--probe-import MODULE ...]`` with the working directory /var/task and only Lambda's environment.
Like Lambda's runtime it

1. sets ``sys.path`` as the python3.12 runtime has it (function, layer, runtime, stdlib);
2. Init: imports the handler's module, named by ``_HANDLER`` (``app.lambda_handler``), timed;
3. Invoke, once per event: reads the events from stdin, one JSON document per line, and calls
   the handler on each in turn in this same process (the first invocation is the cold one, the
   others reuse what Init built, as warm invocations do), with a context object that has the
   attributes of Lambda's, timed, and serializes each result to JSON as Lambda does (a result
   that is not JSON is Lambda's ``Runtime.MarshalError``). A failed invocation does not stop the
   next one, as Lambda's runtime carries on after a handler's exception;
4. after the last invocation (so they cannot change what the function saw), tries to import
   each ``--probe-import`` module and records where it came from or why it failed, e.g. that a
   layer the deployment does not attach is really not importable;
5. writes one JSON report to file descriptor N (never to stdout, which holds the function's logs).

Standard library only: it runs on the runtime's bare interpreter, before anything is importable.
"""

from __future__ import annotations

import sys

# Before any other import: the search path of Lambda's python3.12 runtime, then the stdlib that
# `-S` left (the zip, the library and lib-dynload of /var/lang). The script's own directory,
# /var/rapid, is dropped: Lambda's handler cannot import the runtime's bootstrap either.
_PY = f"python{sys.version_info.major}.{sys.version_info.minor}"
LAMBDA_SYS_PATH_HEAD = (
    "/var/task",
    f"/opt/python/lib/{_PY}/site-packages",
    "/opt/python",
    "/var/runtime",
)
sys.path[:] = [*LAMBDA_SYS_PATH_HEAD, *(p for p in sys.path[1:] if p.startswith(sys.prefix))]

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

ACCOUNT_ID = "123456789012"
#: Modules whose origin shows which copy the function really used (function, layer or runtime).
TRACKED_MODULES = (
    "app",
    "boto3",
    "botocore",
    "aws_lambda_powertools",
    "aspose",
    "aspose.ocr",
    "tesserocr",
    "pypdfium2",
)


class LambdaContext:
    """The context object of Lambda's Python runtime (awslambdaric's attributes and method)."""

    def __init__(self, timeout_seconds: float) -> None:
        environ = os.environ
        region = environ.get("AWS_REGION", "us-east-1")
        self.function_name = environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        # Lambda's runtime passes the environment's string through, not an int.
        self.memory_limit_in_mb = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.invoked_function_arn = (
            f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{self.function_name}"
        )
        self.aws_request_id = str(uuid.uuid4())
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = int(time.time() * 1000 + timeout_seconds * 1000)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before Lambda would stop this invocation."""
        return max(0, self._deadline_ms - int(time.time() * 1000))


def error_report(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    """An error as Lambda's runtime reports it (errorType, errorMessage, stackTrace)."""
    return {
        "errorType": error_type or type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_exception(error),
    }


def init_error_report(error: BaseException) -> dict[str, Any]:
    """An Init failure as Lambda's python runtime classifies it (awslambdaric's rules)."""
    report = error_report(error)
    if isinstance(error, ImportError):
        report["errorType"] = "Runtime.ImportModuleError"
        report["errorMessage"] = f"Unable to import module: {error}"
    elif isinstance(error, SyntaxError):
        report["errorType"] = "Runtime.UserCodeSyntaxError"
    return report


def loaded_libraries(fragment: str) -> list[str]:
    """Paths of the shared objects mapped into this process whose name contains ``fragment``."""
    paths: set[str] = set()
    with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fragment in os.path.basename(fields[5].strip()):
                paths.add(fields[5].strip())
    return sorted(paths)


def module_origins() -> dict[str, str | None]:
    """Where each tracked module was imported from (None if it was not imported)."""
    origins: dict[str, str | None] = {}
    for name in TRACKED_MODULES:
        module = sys.modules.get(name)
        origins[name] = getattr(module, "__file__", None) if module is not None else None
    return origins


def load_handler(handler: str) -> Callable[..., Any]:
    """Import ``module.function`` as Lambda's runtime does (module path with dots allowed)."""
    module_name, _, function_name = handler.rpartition(".")
    module = importlib.import_module(module_name.replace("/", "."))
    function: Callable[..., Any] = getattr(module, function_name)
    return function


def probe_imports(names: list[str]) -> dict[str, dict[str, str | None]]:
    """Try to import each module: its file, or the exception that stopped the import."""
    probes: dict[str, dict[str, str | None]] = {}
    for name in names:
        try:
            module = importlib.import_module(name)
        except BaseException as error:  # any failure means "not usable here": record it
            probes[name] = {"file": None, "error": f"{type(error).__name__}: {error}"}
        else:
            probes[name] = {"file": getattr(module, "__file__", None), "error": None}
    return probes


def directory_entries(path: str) -> list[str] | None:
    """The names in a directory (sorted), or None if it is not there or not readable."""
    try:
        return sorted(os.listdir(path))
    except OSError:
        return None


def invoke(
    handler: Callable[..., Any], event: Any, timeout_seconds: float
) -> tuple[dict[str, Any], bool]:
    """One invocation as Lambda's runtime makes it; its record and whether it succeeded."""
    context = LambdaContext(timeout_seconds)
    record: dict[str, Any] = {
        "aws_request_id": context.aws_request_id,
        "invoke_seconds": None,
        "result": None,
        "error": None,
    }
    started = time.perf_counter()
    try:
        result = handler(event, context)
    except BaseException as error:  # as Lambda reports any failure
        record["invoke_seconds"] = time.perf_counter() - started
        record["error"] = {"phase": "invoke", **error_report(error)}
        return record, False
    record["invoke_seconds"] = time.perf_counter() - started
    try:  # Lambda returns the result as JSON
        record["result"] = json.loads(json.dumps(result))
    except (TypeError, ValueError) as error:
        record["error"] = {"phase": "invoke", **error_report(error, "Runtime.MarshalError")}
        return record, False
    if record["invoke_seconds"] > timeout_seconds:
        record["error"] = {
            "phase": "invoke",
            "errorType": "Sandbox.Timeout",
            "errorMessage": f"the handler ran longer than the function's {timeout_seconds} s",
        }
        return record, False
    return record, True


def run(timeout_seconds: float, probes: list[str]) -> tuple[dict[str, Any], int]:
    """Init and one Invoke per event; return the report and the process exit code.

    The report's ``invocations`` has one record per event; ``invoke_seconds``, ``result`` and
    ``aws_request_id`` at the top are the first (cold) invocation's, and ``error`` is the first
    error of any phase.
    """
    environ_at_start = dict(os.environ)
    report: dict[str, Any] = {
        "environment_at_start": sorted(environ_at_start),
        "python": {
            "executable": sys.executable,
            "version": sys.version.split()[0],
            "prefix": sys.prefix,
            "sys_path": list(sys.path),
            "site_imported": "site" in sys.modules,
        },
        "process": {"uid": os.getuid(), "gid": os.getgid(), "cwd": os.getcwd()},
        "init_seconds": None,
        "invoke_seconds": None,
        "result": None,
        "error": None,
        "invocations": [],
    }
    exit_code = 0
    started = time.perf_counter()
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except BaseException as error:  # Lambda reports any Init failure
        report["init_seconds"] = time.perf_counter() - started
        report["error"] = {"phase": "init", **init_error_report(error)}
        handler, exit_code = None, 1
    else:
        report["init_seconds"] = time.perf_counter() - started
    if handler is not None:
        for line in sys.stdin:
            if not line.strip():
                continue
            record, succeeded = invoke(handler, json.loads(line), timeout_seconds)
            report["invocations"].append(record)
            if not succeeded:
                exit_code = 1
                report["error"] = report["error"] or record["error"]
        if report["invocations"]:
            first = report["invocations"][0]
            for name in ("aws_request_id", "invoke_seconds", "result"):
                report[name] = first[name]
    environ_at_end = dict(os.environ)
    report["environment_added"] = {
        k: v for k, v in environ_at_end.items() if k not in environ_at_start
    }
    report["environment_changed"] = sorted(
        k for k, v in environ_at_end.items() if k in environ_at_start and environ_at_start[k] != v
    )
    report["home"] = environ_at_end.get("HOME")
    report["modules"] = module_origins()
    report["openssl_libraries"] = loaded_libraries("libssl") + loaded_libraries("libcrypto")
    report["opt"] = {path: directory_entries(path) for path in ("/opt", "/opt/python", "/opt/lib")}
    report["probes"] = probe_imports(probes)
    report["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report, exit_code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--report-fd", type=int, required=True, help="where the report goes")
    parser.add_argument("--timeout", type=float, required=True, help="the function's Timeout")
    parser.add_argument(
        "--probe-import",
        action="append",
        default=[],
        metavar="MODULE",
        help="after the invocations, try to import MODULE and report the outcome (repeatable)",
    )
    args = parser.parse_args()
    report, exit_code = run(args.timeout, args.probe_import)
    with os.fdopen(args.report_fd, "w", encoding="utf-8") as out:
        json.dump(report, out, ensure_ascii=False)
    sys.stdout.flush()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
