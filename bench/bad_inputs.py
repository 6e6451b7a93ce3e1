"""Feed the RAW engine hostile and broken inputs, one fresh subprocess each, and record the outcome.

This is the "before" column: what Aspose.OCR does with each input without the function's guards.
Each input (`bench.hostile_inputs`) is generated in memory and recognized in a new process set up
exactly as the function sets up its engine (invariant globalization, diagnostics off, OpenSSL 1.1
preloaded, file logging off, local resources, no downloads). The parent never loads the engine;
it watches the child and kills its process group on a wall-clock timeout or when its resident
memory passes a cap, so no input here can take the machine down.

    python -m bench.bad_inputs [--json PATH] [--max-rss-gb 6] [--timeout 120] [--only NAME]
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import datetime
import io
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.hostile_inputs import CASES, Case

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OPENSSL_DIR = REPO_ROOT / ".cache" / "openssl11" / "lib"
OPENSSL_LIBRARIES = ("libcrypto.so.1.1", "libssl.so.1.1")  # libcrypto first
CHILD_ENVIRONMENT = {
    "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT": "1",
    "COMPlus_EnableDiagnostics": "0",
}
POLL_INTERVAL_S = 0.05  # at the worst growth measured (~230 MB/s) the cap overshoots ~12 MB
RSS_TIMELINE_EVERY_S = 2.0
MESSAGE_CHARS = 200
TRIAL_BANNER = "\n ************* Trial Licenses ************* \n"  # appended to each page


# --------------------------------------------------------------------------- child: the engine


def child_main(input_type: str, data_path: Path, result_path: Path) -> int:
    """Run one recognition exactly as the function does; write what happened as JSON."""
    result: dict[str, Any] = {}
    try:
        data = data_path.read_bytes()
        openssl_dir = Path(os.environ.get("OCR_OPENSSL_LIB_DIR") or DEFAULT_OPENSSL_DIR)
        for name in OPENSSL_LIBRARIES:
            ctypes.CDLL(str(openssl_dir / name), mode=ctypes.RTLD_GLOBAL)
        from aspose import ocr  # noqa: PLC0415 - only once OpenSSL is loaded

        result["engine_version"] = str(getattr(ocr, "VERSION", "unknown"))
        ocr.Logging.set_file_system(False)
        resources = tempfile.mkdtemp(prefix="ocr-resources-")
        ocr.Resources.set_local_path(resources)
        ocr.Resources.allow_automatic_downloads(False)
        api = ocr.AsposeOcr()
        ocr_input = ocr.OcrInput(getattr(ocr.InputType, input_type))
        ocr_input.add(io.BytesIO(data))
        result["stage"] = "recognize"
        result_path.write_text(json.dumps(result))  # what the parent sees if this child is killed
        started = time.perf_counter()
        pages = list(api.recognize(ocr_input, ocr.RecognitionSettings()))
        result["recognize_s"] = time.perf_counter() - started
        texts = [str(page.recognition_text) for page in pages]
        result.update(
            status="ok",
            pages=len(pages),
            chars=sum(len(text) for text in texts),
            text_chars=sum(len(text.replace(TRIAL_BANNER, "")) for text in texts),
            text_head=texts[0][:80] if texts else "",
            warnings=sorted({str(w) for page in pages for w in page.warnings}),
        )
    except Exception as error:  # record every engine-side failure, whatever its type
        result.update(
            status="exception",
            exception_type=type(error).__name__,
            message=str(error)[:MESSAGE_CHARS],
        )
    result_path.write_text(json.dumps(result))
    return 0


# --------------------------------------------------------------------------- parent: the watchdog


def _status_kb(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None
    return None


@dataclasses.dataclass
class Watched:
    """How a watched child ended."""

    wait_status: int
    seconds: float
    peak_rss_kb: int
    killed_for: str | None  # "timeout", "memory" or None
    rss_timeline_mb: list[tuple[float, int]]


def watch(
    command: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    log: Path,
    timeout_s: float,
    max_rss_mb: float,
) -> Watched:
    """Run ``command``; SIGKILL its process group past ``timeout_s`` or ``max_rss_mb`` of RSS."""
    killed_for: str | None = None
    peak_kb = 0
    timeline: list[tuple[float, int]] = []
    next_sample = 0.0
    with open(log, "wb") as output:
        started = time.perf_counter()
        # A new session: the watchdog kills this group, never anything else.
        child = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
        while True:
            pid, wait_status = os.waitpid(child.pid, os.WNOHANG)
            elapsed = time.perf_counter() - started
            if pid:
                break
            rss_kb = _status_kb(child.pid, "VmRSS") or 0
            peak_kb = max(peak_kb, rss_kb, _status_kb(child.pid, "VmHWM") or 0)
            if elapsed >= next_sample:
                timeline.append((round(elapsed, 1), round(rss_kb / 1024)))
                next_sample += RSS_TIMELINE_EVERY_S
            if rss_kb / 1024 > max_rss_mb:
                killed_for = "memory"
            elif elapsed > timeout_s:
                killed_for = "timeout"
            if killed_for is not None:
                os.killpg(child.pid, signal.SIGKILL)
                pid, wait_status = os.waitpid(child.pid, 0)
                elapsed = time.perf_counter() - started
                break
            time.sleep(POLL_INTERVAL_S)
        child.returncode = os.waitstatus_to_exitcode(wait_status)  # already reaped here
    # Not usage.ru_maxrss: exec() carries the forked copy of this (parent) process's peak into it.
    return Watched(wait_status, elapsed, peak_kb, killed_for, timeline)


def run_case(case: Case, *, timeout_s: float, max_rss_mb: float, workdir: Path) -> dict[str, Any]:
    """Generate the input, run it in a fresh child under watch, and describe the outcome."""
    generated = time.perf_counter()
    data = case.make()
    report: dict[str, Any] = {
        "name": case.name,
        "description": case.description,
        "input_type": case.input_type,
        "bytes": len(data),
        "generate_s": round(time.perf_counter() - generated, 2),
        "timeout_s": timeout_s,
        "max_rss_mb": max_rss_mb,
    }
    data_path = workdir / f"{case.name}.bin"
    result_path = workdir / f"{case.name}.result.json"
    log_path = workdir / f"{case.name}.log"
    data_path.write_bytes(data)
    del data
    environment = {
        **os.environ,
        **CHILD_ENVIRONMENT,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", "bench.bad_inputs", "--child", case.input_type]
    command += [str(data_path), str(result_path)]
    watched = watch(
        command,
        cwd=workdir,
        env=environment,
        log=log_path,
        timeout_s=timeout_s,
        max_rss_mb=max_rss_mb,
    )
    report["seconds"] = round(watched.seconds, 2)
    report["peak_rss_mb"] = round(watched.peak_rss_kb / 1024)
    report["rss_timeline_mb"] = watched.rss_timeline_mb
    result = json.loads(result_path.read_text()) if result_path.exists() else {}
    report.update(result)
    if watched.killed_for == "timeout":
        report["status"] = "timeout"
    elif watched.killed_for == "memory":
        report["status"] = "memory-watchdog"
    elif os.WIFSIGNALED(watched.wait_status):
        report["status"] = "signal"
        report["signal"] = os.WTERMSIG(watched.wait_status)
    elif "status" not in result:
        report["status"] = "exit-without-result"
        report["exit_code"] = os.WEXITSTATUS(watched.wait_status)
    log_text = log_path.read_text(errors="replace").strip()
    if log_text:
        report["output_tail"] = log_text[-600:]
    for path in (data_path, result_path, log_path):
        path.unlink(missing_ok=True)
    return report


def describe(report: dict[str, Any]) -> str:
    status = report.get("status")
    if status == "ok":
        banner = " + trial banner" if report["chars"] > report["text_chars"] else ""
        return f"ok: {report['text_chars']} chars{banner}, {report['pages']} page(s)"
    if status == "exception":
        message = " ".join(str(report["message"]).split())
        return f"{report['exception_type']}: {message}"
    if status == "signal":
        name = signal.Signals(report["signal"]).name
        return f"killed by signal {report['signal']} ({name})"
    if status == "timeout":
        return f"timeout (killed after {report['timeout_s']:.0f} s)"
    if status == "memory-watchdog":
        return f"killed by memory watchdog (RSS above {report['max_rss_mb']:.0f} MB)"
    return f"exit code {report.get('exit_code')} without a result"


def markdown_table(reports: list[dict[str, Any]]) -> str:
    rows = ["| input | bytes | outcome | seconds | peak RSS MB |", "|---|---:|---|---:|---:|"]
    for report in reports:
        outcome = describe(report).replace("|", "\\|")
        rows.append(
            f"| `{report['name']}` | {report['bytes']:,} | {outcome} | "
            f"{report['seconds']:.1f} | {report['peak_rss_mb']:,} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        input_type, data_path, result_path = argv[1:4]
        return child_main(input_type, Path(data_path), Path(result_path))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write every measurement here")
    parser.add_argument("--max-rss-gb", type=float, default=6.0, help="kill a child above this")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per input")
    parser.add_argument(
        "--only", action="append", choices=[case.name for case in CASES], help="repeatable"
    )
    args = parser.parse_args(argv)
    max_rss_mb = args.max_rss_gb * 1024
    cases = [case for case in CASES if not args.only or case.name in args.only]
    reports = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bad-inputs-") as workdir:
        for case in cases:
            timeout_s = max(args.timeout, case.min_timeout_s)
            print(f"{case.name}: running (timeout {timeout_s:.0f} s) ...", flush=True)
            report = run_case(
                case, timeout_s=timeout_s, max_rss_mb=max_rss_mb, workdir=Path(workdir)
            )
            reports.append(report)
            print(
                f"  {describe(report)} | {report['bytes']:,} bytes | {report['seconds']:.1f} s | "
                f"{report['peak_rss_mb']:,} MB",
                flush=True,
            )
    versions = {r["engine_version"] for r in reports if "engine_version" in r}
    summary = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "engine_version": ", ".join(sorted(versions)) or "unknown",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_before_after": [load_before, os.getloadavg()],  # others share the machine
        "max_rss_mb": max_rss_mb,
        "timeout_s": args.timeout,
        "results": reports,
    }
    print()
    print(f"{summary['date']}, engine {summary['engine_version']}")
    print(markdown_table(reports))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
