"""A minimal stand-in for Lambda's Python runtime, run inside the sandbox (see lambda_sandbox.py).

Started as ``/var/lang/bin/python3.12 -S /var/rapid/bootstrap.py --report-fd N --timeout S``
with the working directory /var/task and only Lambda's environment. Like Lambda's runtime it

1. sets ``sys.path`` as the python3.12 runtime has it (function, layer, runtime, stdlib);
2. Init: imports the handler's module, named by ``_HANDLER`` (``app.lambda_handler``), timed;
3. Invoke: reads one event (JSON) from stdin, calls the handler with a context object that has
   the attributes of Lambda's, timed, and serializes the result to JSON as Lambda does (a result
   that is not JSON is Lambda's ``Runtime.MarshalError``);
4. writes one JSON report to file descriptor N (never to stdout, which holds the function's logs).

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
TRACKED_MODULES = ("app", "boto3", "botocore", "aws_lambda_powertools", "aspose", "aspose.ocr")


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


def run(timeout_seconds: float) -> tuple[dict[str, Any], int]:
    """Init and one Invoke; return the report and the process exit code."""
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
        event = json.load(sys.stdin)
        context = LambdaContext(timeout_seconds)
        report["aws_request_id"] = context.aws_request_id
        started = time.perf_counter()
        try:
            result = handler(event, context)
        except BaseException as error:  # as Lambda reports any failure
            report["invoke_seconds"] = time.perf_counter() - started
            report["error"] = {"phase": "invoke", **error_report(error)}
            exit_code = 1
        else:
            report["invoke_seconds"] = time.perf_counter() - started
            try:  # Lambda returns the result as JSON
                report["result"] = json.loads(json.dumps(result))
            except (TypeError, ValueError) as error:
                report["error"] = {"phase": "invoke", **error_report(error, "Runtime.MarshalError")}
                exit_code = 1
        if report["invoke_seconds"] > timeout_seconds and report["error"] is None:
            report["error"] = {
                "phase": "invoke",
                "errorType": "Sandbox.Timeout",
                "errorMessage": f"the handler ran longer than the function's {timeout_seconds} s",
            }
            exit_code = 1
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
    report["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report, exit_code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--report-fd", type=int, required=True, help="where the report goes")
    parser.add_argument("--timeout", type=float, required=True, help="the function's Timeout")
    args = parser.parse_args()
    report, exit_code = run(args.timeout)
    with os.fdopen(args.report_fd, "w", encoding="utf-8") as out:
        json.dump(report, out, ensure_ascii=False)
    sys.stdout.flush()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
