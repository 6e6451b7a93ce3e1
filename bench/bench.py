"""Benchmark both OCR engines side by side through the same pipeline, and size Tesseract.

    python -m bench.bench [--samples DIR] [--repeat N] [--quick] [--json PATH]

Everything is measured in one run on the same image bytes, each measurement in a fresh process
(`bench.worker`), one after another (nothing runs in parallel), with each engine given the cores
its Lambda memory size buys (template.yaml: Aspose 3538 MB = 2 vCPUs, Tesseract 1769 MB = 1
vCPU, the worker pinned to one core):
- cold start (Init) of each engine split into its steps, several fresh processes, median;
- per image class (label, A4 page, phone photo, 3-page PDF, 3-page TIFF) and, with --samples,
  per real scan: each engine's first request after Init, then warm requests alternating between
  the bare engine (`engine.recognize`) and the real handler against a local S3 (moto, in this
  process), with CPU seconds, peak RSS, a character error rate against the known text, the
  handler/bare ratio and the Lambda cost per 1,000 pages at the engine's memory size, beside
  Amazon Textract's list price;
- Tesseract's sizing: peak RSS through the handler on the largest image the limits admit (a
  40-megapixel photo), the A4 page and the 3-page PDF with 1 and 2 page threads, the A4 page on
  one core, and a 30-page TIFF with 1 and 2 threads.
Prints tables and writes everything to JSON (default bench/results/<UTC timestamp>.json).
`--quick` measures only the label (and --samples, if given), once per engine, without the
sizing runs: the smoke test's run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from itertools import count
from pathlib import Path
from typing import Any

from bench import costs, images
from bench.textmetrics import Score, contains, full_score, normalize, prefix_score, substring_score
from bench.worker import Call, ColdStartResult, MeasureResult, Task

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"
INPUT_BUCKET = "bench-input"
OUTPUT_BUCKET = "bench-output"
SCHEMA_VERSION = 2
ENGINES = ("aspose", "tesseract")
CLASSES = ("label", "a4", "photo", "pdf", "tiff")
QUICK_CLASSES = ("label",)
WORKER_TIMEOUT_S = 3 * 3600
TARGET_OVERHEAD = 1.05
"""The handler may take at most this times the bare engine's time (judged on the A4 page)."""
OVERHEAD_BASIS = "a4"
LONG_TIFF_PAGES = 30
SIZING_ENGINE = "tesseract"


class BenchError(RuntimeError):
    """A measurement failed; the message says which and shows its log."""


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- result types


@dataclass(frozen=True)
class EngineSetup:
    """One engine as the benchmark runs it: template.yaml's memory and timeout for it, the
    cores that memory buys, and the function's environment."""

    name: str
    memory_mb: int
    timeout_s: int
    cpus: list[int]
    environment: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class EngineInfo:
    name: str
    version: str
    licensed: bool
    memory_mb: int
    timeout_s: int
    cores: int


@dataclass(frozen=True)
class Quality:
    """A recognized text against the known one."""

    basis: str
    """"full" (all text), "trial prefix" (the <= 300 characters a page Aspose returns
    unlicensed, against the best-matching prefix of the truth), or "substring" (the truth is
    a part of the page: the closest stretch of the text)."""
    cer: float | None
    edits: int
    reference_chars: int
    recognized_chars: int
    prefix_cer: float | None
    """Every engine on the trial's basis (first 300 characters a page): like with like.
    None for substring truth, which is no prefix of the page."""
    found: bool | None = None
    """Substring truth only: whether it occurs exactly."""


@dataclass(frozen=True)
class Row:
    """One engine on one input: bare engine and handler, warm medians."""

    engine: str
    input: str
    kind: str
    """"class" (rendered here) or "scan" (--samples)."""
    size: str
    pages: int
    cores: int
    threads: int
    """The Tesseract engine's page threads (0: the engine has no such setting)."""
    language: str
    language_note: str
    bare_s: float | None
    bare_cpu_s: float | None
    handler_s: float | None
    handler_cpu_s: float | None
    handler_ratio: float | None
    """Handler wall / bare engine wall (target <= TARGET_OVERHEAD)."""
    handler_cpu_ratio: float | None
    """The same in CPU seconds: steadier than wall time on a shared machine."""
    outside_engine_s: float | None
    """Inside the handler, everything but its engine call (S3, checks, normalisation, logs)."""
    first_request_s: float
    peak_rss_mb: float
    rss_after_init_mb: float
    chars: int
    quality: Quality
    memory_mb: int
    cost_per_1000_pages_usd: float | None
    handler_text_matches_bare: bool | None
    text: str
    measurement: MeasureResult


@dataclass(frozen=True)
class ColdStart:
    """Medians over fresh processes; steps an engine does not have are 0."""

    engine: str
    runs: list[ColdStartResult]
    interpreter_start_s: float
    function_modules_s: float
    """app.py's own imports and set-up (boto3, Powertools, settings, S3 client)."""
    native_setup_s: float
    import_s: float
    create_s: float
    license_s: float
    warm_up_s: float
    init_s: float
    rss_after_init_mb: float
    init_cost_usd: float
    """One billed Init at the engine's memory size."""


@dataclass(frozen=True)
class SizingRun:
    """Tesseract through the handler only, Init then 1 + repeat requests."""

    label: str
    image: str
    megapixels: float
    pages: int
    threads: int
    cores: int
    first_request_s: float
    warm_s: float | None
    warm_cpu_s: float | None
    seconds_per_page: float | None
    peak_rss_mb: float
    measurement: MeasureResult


@dataclass(frozen=True)
class Sizing:
    """What the Tesseract deployment's MemorySize and Timeout rest on."""

    engine: str
    memory_mb: int
    timeout_s: int
    max_pages: int
    runs: list[SizingRun]
    largest_peak_rss_mb: float | None
    largest_peak_run: str | None
    a4_one_core_s: float | None
    max_pages_one_thread_s: float | None
    """OCR_MAX_PAGES pages at the slowest measured one-thread seconds per page."""


@dataclass(frozen=True)
class Overhead:
    engine: str
    basis: str
    ratio: float | None
    cpu_ratio: float | None
    target: float
    met: bool | None
    ratios: dict[str, float | None]


@dataclass(frozen=True)
class Load:
    """The 1-minute load average before each measurement (a shared machine's noise)."""

    before: list[float]
    after: list[float]
    samples: list[float]
    median: float | None
    max: float | None


@dataclass(frozen=True)
class Machine:
    cpus: int
    cpu_model: str
    memory_gb: float
    python: str
    platform: str


@dataclass(frozen=True)
class ImageEntry:
    description: str
    bytes: int
    width: int
    height: int
    pages: int
    chars: int


@dataclass(frozen=True)
class Options:
    repeat: int
    quick: bool
    cold_runs: int
    samples: str | None
    engines: list[str]
    classes: list[str]
    sizing: bool


@dataclass(frozen=True)
class Textract:
    service: str = "Amazon Textract DetectDocumentText"
    cost_per_1000_pages_usd: float = costs.TEXTRACT_DETECT_PER_1000_PAGES_USD
    note: str = "list price, first million pages a month; a reference, not measured"


@dataclass
class Report:
    started_utc: str
    options: Options
    machine: Machine
    json_path: str
    schema: int = SCHEMA_VERSION
    engines: dict[str, EngineInfo] = field(default_factory=dict)
    images: dict[str, ImageEntry] = field(default_factory=dict)
    cold_start: dict[str, ColdStart] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    overhead: dict[str, Overhead] = field(default_factory=dict)
    textract: Textract = field(default_factory=Textract)
    cost_assumptions: costs.Assumptions = field(default_factory=costs.Assumptions)
    sizing: Sizing | None = None
    sizing_skipped: str | None = None
    load: Load | None = None
    errors: dict[str, str] = field(default_factory=dict)
    finished_utc: str = ""
    duration_s: float = 0.0


# --------------------------------------------------------------------------- child processes


@dataclass
class Runner:
    """Starts `bench.worker` in a fresh process per task."""

    workdir: Path
    child_environment: dict[str, str]
    run_id: str
    load_samples: list[float] = field(default_factory=list)
    _ids: count[int] = field(default_factory=count)

    def run(self, task: Task, label: str) -> dict[str, Any]:
        number = next(self._ids)
        directory = self.workdir / f"{number:03d}-{task.kind}"
        directory.mkdir()
        task_path, result_path = directory / "task.json", directory / "result.json"
        log_path = directory / "output.log"
        spawned = Task(
            **{**asdict(task), "spawned_at": time.time(), "run_id": self.run_id},
        )
        task_path.write_text(json.dumps(asdict(spawned)))
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
        result: dict[str, Any] = json.loads(result_path.read_text())
        return result

    def cold_start(self, engine: EngineSetup, label: str) -> ColdStartResult:
        task = Task("cold_start", engine.environment, cpus=engine.cpus)
        return ColdStartResult(**self.run(task, label))

    def measure(self, task: Task, label: str) -> MeasureResult:
        raw = self.run(task, label)
        first = Call(**raw.pop("first_request"))
        handler = [Call(**call) for call in raw.pop("handler")]
        bare = [Call(**call) for call in raw.pop("bare")]
        return MeasureResult(**raw, first_request=first, handler=handler, bare=bare)


def child_environment(endpoint: str) -> dict[str, str]:
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


def engine_setup(name: str, endpoint: str, available_cores: int) -> EngineSetup:
    """template.yaml's environment, memory and timeout for the engine, with this machine's
    paths (tools.local_run) and the local S3."""
    from tools.local_run import local_environment  # noqa: PLC0415
    from tools.template_env import function_property  # noqa: PLC0415

    parameters = {"OcrEngine": name}
    memory = int(function_property("MemorySize", parameters=parameters))
    timeout = int(function_property("Timeout", parameters=parameters))
    environment = local_environment(OUTPUT_BUCKET, name)
    environment["AWS_ENDPOINT_URL"] = endpoint
    cores = costs.cores_for(memory, available_cores)
    return EngineSetup(name, memory, timeout, list(range(cores)), environment)


# --------------------------------------------------------------------------- helpers


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 4) if values else None


def _cer(score: Score) -> float | None:
    cer = score.cer
    return None if cer is None else round(cer, 4)


def text_quality(text: str, truth: str, *, trial_limited: bool, match: str | None) -> Quality:
    """The text against the truth on the fairest basis the engine allows (see Quality)."""
    prefix = prefix_score(text, truth)
    if match == "substring":
        score, basis = substring_score(text, truth), "substring"
    elif trial_limited:
        score, basis = prefix, "trial prefix"
    else:
        score, basis = full_score(text, truth), "full"
    return Quality(
        basis=basis,
        cer=_cer(score),
        edits=score.edits,
        reference_chars=score.reference_chars,
        recognized_chars=score.recognized_chars,
        prefix_cer=None if match == "substring" else _cer(prefix),
        found=contains(text, truth) if match == "substring" else None,
    )


def machine_info() -> Machine:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kb = int(line.split()[1])
    return Machine(
        cpus=os.cpu_count() or 1,
        cpu_model=model,
        memory_gb=round(memory_kb / 1024 / 1024, 1),
        python=platform.python_version(),
        platform=platform.platform(),
    )


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def default_json_path(started: datetime) -> Path:
    return RESULTS_DIR / f"{started:%Y%m%dT%H%M%SZ}.json"


# --------------------------------------------------------------------------- the benchmark


@dataclass(frozen=True)
class Input:
    """An image to measure: a rendered class or a real scan with its ground truth."""

    name: str
    kind: str
    path: Path
    extension: str
    size: str
    pages: int
    truth: str
    match: str | None = None
    language: str | None = None


@dataclass
class Bench:
    runner: Runner
    engines: dict[str, EngineSetup]
    repeat: int
    report: Report

    def guarded(self, key: str, work: Callable[[], None]) -> None:
        """Run one part; if it fails, record why and go on: a long run keeps what it has."""
        try:
            work()
        except Exception as error:
            log(f"{key} failed: {error}")
            self.report.errors[key] = str(error)[-3000:]

    def cold_start(self, engine: EngineSetup, runs: int) -> None:
        samples = [
            self.runner.cold_start(engine, f"{engine.name}: cold start {index + 1}/{runs}")
            for index in range(runs)
        ]

        def step(name: str) -> float:
            return median([sample.steps.get(name, 0.0) for sample in samples]) or 0.0

        init_s = median([sample.init_s for sample in samples]) or 0.0
        modules = [sample.init_s - sum(sample.steps.values()) for sample in samples]
        self.report.cold_start[engine.name] = ColdStart(
            engine=engine.name,
            runs=samples,
            interpreter_start_s=median([s.interpreter_start_s for s in samples]) or 0.0,
            function_modules_s=median(modules) or 0.0,
            native_setup_s=step("native_setup_s"),
            import_s=step("import_s"),
            create_s=step("create_s"),
            license_s=step("license_s"),
            warm_up_s=step("warm_up_s"),
            init_s=init_s,
            rss_after_init_mb=median([s.rss_after_init_mb for s in samples]) or 0.0,
            init_cost_usd=round(costs.init_cost_usd(init_s, engine.memory_mb), 8),
        )
        self.note_engine(engine, samples[0].engine_version, samples[0].licensed)

    def note_engine(self, engine: EngineSetup, version: str, licensed: bool) -> None:
        self.report.engines[engine.name] = EngineInfo(
            engine.name, version, licensed, engine.memory_mb, engine.timeout_s, len(engine.cpus)
        )

    def row(self, engine: EngineSetup, item: Input) -> None:
        task = Task(
            "measure",
            engine.environment,
            input_bucket=INPUT_BUCKET,
            output_bucket=OUTPUT_BUCKET,
            name=item.name.replace("/", "_"),
            image=str(item.path),
            extension=item.extension,
            repeat=self.repeat,
            cpus=engine.cpus,
            language=item.language,
        )
        label = f"{engine.name}: {item.name}, Init + 1 + {self.repeat} x (bare, handler)"
        measured = self.runner.measure(task, label)
        self.note_engine(engine, measured.engine_version, measured.licensed)
        pages = measured.first_request.pages
        if pages != item.pages:
            raise BenchError(f"{label}: {pages} page(s) recognized, the input has {item.pages}")
        handler_s = median([call.wall_s for call in measured.handler])
        bare_s = median([call.wall_s for call in measured.bare])
        trial = not measured.licensed
        self.report.rows.append(
            Row(
                engine=engine.name,
                input=item.name,
                kind=item.kind,
                size=item.size,
                pages=pages,
                cores=len(measured.cpus),
                threads=measured.threads,
                language=measured.language,
                language_note=measured.language_note,
                bare_s=bare_s,
                bare_cpu_s=median([call.cpu_s for call in measured.bare]),
                handler_s=handler_s,
                handler_cpu_s=median([call.cpu_s for call in measured.handler]),
                handler_ratio=ratio(handler_s, bare_s),
                handler_cpu_ratio=ratio(
                    median([call.cpu_s for call in measured.handler]),
                    median([call.cpu_s for call in measured.bare]),
                ),
                outside_engine_s=median(
                    [call.wall_s - (call.recognition_s or 0.0) for call in measured.handler]
                ),
                first_request_s=measured.first_request.wall_s,
                peak_rss_mb=measured.peak_rss_mb,
                rss_after_init_mb=measured.rss_after_init_mb,
                chars=len(normalize(measured.text)),
                quality=text_quality(
                    measured.text, item.truth, trial_limited=trial, match=item.match
                ),
                memory_mb=engine.memory_mb,
                cost_per_1000_pages_usd=None
                if handler_s is None
                else round(costs.cost_per_1000_pages_usd(handler_s, engine.memory_mb, pages), 4),
                handler_text_matches_bare=measured.handler_text_matches_bare,
                text=measured.text,
                measurement=measured,
            )
        )

    def sizing(self, workdir: Path, a4: Input, pdf: Input) -> None:
        """Tesseract through the handler only: memory peaks and one-core seconds."""
        from ocr_service.config import load_settings  # noqa: PLC0415

        engine = self.engines[SIZING_ENGINE]
        photo = _write(workdir, images.large_photo())
        long_tiff = _write(workdir, images.tiff_document(LONG_TIFF_PAGES, "tiff-30"))
        cases: list[tuple[str, Input, int, int]] = [  # label, input, threads, warm requests
            ("photo 40 MP", photo, 1, 1),
            ("A4 page", a4, 1, max(1, self.repeat)),
            ("PDF 3 pages", pdf, 1, 1),
            ("PDF 3 pages", pdf, 2, 1),
            (f"TIFF {LONG_TIFF_PAGES} pages", long_tiff, 1, 0),
            (f"TIFF {LONG_TIFF_PAGES} pages", long_tiff, 2, 0),
        ]
        runs: list[SizingRun] = []
        for label, item, threads, repeat in cases:
            task = Task(
                "measure",
                engine.environment,
                input_bucket=INPUT_BUCKET,
                output_bucket=OUTPUT_BUCKET,
                name=f"sizing-{item.name}-{threads}t",
                image=str(item.path),
                extension=item.extension,
                repeat=repeat,
                bare=False,
                cpus=list(range(min(threads, os.cpu_count() or 1))),
                threads=threads,
            )
            title = f"{engine.name} sizing: {label}, {threads} thread(s), handler 1 + {repeat}"
            measured = self.runner.measure(task, title)
            warm = median([call.wall_s for call in measured.handler])
            timed = warm if warm is not None else measured.first_request.wall_s
            width, height = (int(side) for side in item.size.split("x")[:2])
            runs.append(
                SizingRun(
                    label=label,
                    image=item.name,
                    megapixels=round(width * height / 1e6, 1),
                    pages=measured.first_request.pages,
                    threads=measured.threads,
                    cores=len(measured.cpus),
                    first_request_s=measured.first_request.wall_s,
                    warm_s=warm,
                    warm_cpu_s=median([call.cpu_s for call in measured.handler]),
                    seconds_per_page=round(timed / max(1, measured.first_request.pages), 3),
                    peak_rss_mb=measured.peak_rss_mb,
                    measurement=measured,
                )
            )
        largest = max(runs, key=lambda run: run.peak_rss_mb)
        one_thread_pages = [
            run.seconds_per_page for run in runs if run.threads == 1 and run.seconds_per_page
        ]
        max_pages = load_settings(engine.environment).limits.max_pages
        a4_run = next(run for run in runs if run.image == a4.name)
        self.report.sizing = Sizing(
            engine=engine.name,
            memory_mb=engine.memory_mb,
            timeout_s=engine.timeout_s,
            max_pages=max_pages,
            runs=runs,
            largest_peak_rss_mb=largest.peak_rss_mb,
            largest_peak_run=f"{largest.label}, {largest.threads} thread(s)",
            a4_one_core_s=a4_run.warm_s,
            max_pages_one_thread_s=round(max(one_thread_pages) * max_pages, 1)
            if one_thread_pages
            else None,
        )


def _write(workdir: Path, image: images.BenchImage) -> Input:
    path = workdir / f"{image.name}.{image.extension}"
    path.write_bytes(image.data)
    return Input(
        image.name,
        "class",
        path,
        image.extension,
        f"{image.width}x{image.height}x{len(image.pages)}",
        len(image.pages),
        image.text,
    )


def scan_inputs(directory: Path) -> list[Input]:
    """The real scans and their ground truth (groundtruth.json, see its README)."""
    from PIL import Image  # noqa: PLC0415

    truth: dict[str, dict[str, Any]] = json.loads(
        (directory / "groundtruth.json").read_text(encoding="utf-8")
    )
    inputs = []
    for relative, entry in truth.items():
        path = directory / relative
        with Image.open(path) as opened:
            width, height = opened.size
            pages = getattr(opened, "n_frames", 1)
        inputs.append(
            Input(
                relative,
                "scan",
                path,
                path.suffix.lstrip(".").lower(),
                f"{width}x{height}x{pages}",
                pages,
                entry["expected_text"],
                match=entry.get("match"),
                language=entry.get("lang"),
            )
        )
    return inputs


def overhead(report: Report) -> dict[str, Overhead]:
    """Each engine's handler/bare ratio, judged on the A4 page (or the first input measured)."""
    result = {}
    for engine in report.engines:
        rows = [row for row in report.rows if row.engine == engine]
        if not rows:
            continue
        basis = next((row for row in rows if row.input == OVERHEAD_BASIS), rows[0])
        value = basis.handler_ratio
        result[engine] = Overhead(
            engine=engine,
            basis=basis.input,
            ratio=value,
            cpu_ratio=basis.handler_cpu_ratio,
            target=TARGET_OVERHEAD,
            met=None if value is None else value <= TARGET_OVERHEAD,
            ratios={row.input: row.handler_ratio for row in rows},
        )
    return result


# --------------------------------------------------------------------------- printing


def _fmt(value: float | int | bool | None, digits: int = 2, suffix: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}{suffix}"
    return f"{value}{suffix}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append(
            "  ".join(
                cell.ljust(w) if index == 0 else cell.rjust(w)
                for index, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


_BASIS = {"full": "full", "trial prefix": "pfx", "substring": "sub"}


def _quality_cell(quality: Quality) -> str:
    cell = f"{_pct(quality.cer)} {_BASIS[quality.basis]}"
    if quality.found is not None:
        cell += " found" if quality.found else " absent"
    return cell


def render_report(report: Report) -> str:
    out: list[str] = []
    engines = "; ".join(
        f"{info.name} {info.version} ({'licensed' if info.licensed else 'TRIAL'}) at "
        f"{info.memory_mb} MB = {info.cores} core(s), timeout {info.timeout_s} s"
        for info in report.engines.values()
    )
    machine, load = report.machine, report.load
    out.append(f"OCR benchmark {report.started_utc}: {engines}")
    out.append(
        f"machine: {machine.cpus} cores {machine.cpu_model}, {machine.memory_gb} GB; repeat "
        f"{report.options.repeat}; load average (1 min) before {load.before if load else '?'}, "
        f"during median {_fmt(load.median if load else None)} max "
        f"{_fmt(load.max if load else None)}, after {load.after if load else '?'}"
    )
    if report.cold_start:
        steps = (
            ("interpreter start", "interpreter_start_s"),
            ("function modules (boto3, Powertools, config)", "function_modules_s"),
            ("native setup (OpenSSL)", "native_setup_s"),
            ("import engine", "import_s"),
            ("create engine", "create_s"),
            ("license", "license_s"),
            ("warm-up recognition", "warm_up_s"),
            ("Init total (import app.py)", "init_s"),
            ("RSS after Init (MB)", "rss_after_init_mb"),
        )
        starts = list(report.cold_start.values())
        out.append("")
        out.append(
            table(
                f"Cold start (Init) in seconds, median of {len(starts[0].runs)} fresh processes",
                ["step", *[start.engine for start in starts]],
                [
                    [title, *[_fmt(getattr(start, key), 3) for start in starts]]
                    for title, key in steps
                ],
            )
        )
    if report.rows:
        rows = [
            [
                row.input,
                row.engine,
                f"{row.cores}/{row.threads or '-'}",
                _fmt(row.bare_s),
                _fmt(row.bare_cpu_s),
                _fmt(row.handler_s),
                _fmt(row.handler_cpu_s),
                _fmt(row.handler_ratio, 3, "x"),
                _fmt(row.handler_cpu_ratio, 3, "x"),
                _fmt(row.first_request_s),
                _fmt(row.peak_rss_mb, 0),
                str(row.chars),
                _quality_cell(row.quality),
                _pct(row.quality.prefix_cer),
                f"${_fmt(row.cost_per_1000_pages_usd, 3)} @{row.memory_mb}",
            ]
            for row in sorted(report.rows, key=_row_order(report))
        ]
        rows.append(
            [
                "(any)",
                "Textract",
                *[""] * 12,
                f"${report.textract.cost_per_1000_pages_usd:.3f} list",
            ]
        )
        out.append("")
        out.append(
            table(
                "Side by side: warm medians in seconds, each engine on the cores its memory buys",
                [
                    "input",
                    "engine",
                    "cores/thr",
                    "bare s",
                    "CPU s",
                    "handler s",
                    "CPU s",
                    "hdl/bare",
                    "CPU",
                    "1st req",
                    "peak MB",
                    "chars",
                    "CER",
                    "CER300",
                    "$/1000 pages @MB",
                ],
                rows,
            )
        )
        out.append(
            "  CER: pfx = Aspose in trial mode, scored only on the <= 300 characters a page it "
            "returns (against the best-matching prefix of the truth); full = the whole text; "
            "sub = the truth is part of the page (closest stretch; found = exact occurrence). "
            "CER300 = every engine on the trial's 300-character basis. peak MB covers bare and "
            "handler calls in the same process. $ = handler seconds at the engine's MemorySize."
        )
        for row in report.rows:
            if row.language_note:
                out.append(f"  {row.engine} {row.input}: {row.language_note}")
    for item in report.overhead.values():
        out.append(
            f"Handler overhead {item.engine}: {_fmt(item.ratio, 3)}x wall, "
            f"{_fmt(item.cpu_ratio, 3)}x CPU on {item.basis} "
            f"(target <= {item.target}: {_fmt(item.met)}; all: "
            + ", ".join(f"{name} {_fmt(value, 3)}x" for name, value in item.ratios.items())
            + ")"
        )
    sizing = report.sizing
    if sizing is not None:
        rows = [
            [
                run.label,
                str(run.threads),
                str(run.cores),
                _fmt(run.first_request_s),
                _fmt(run.warm_s),
                _fmt(run.warm_cpu_s),
                _fmt(run.seconds_per_page, 3),
                _fmt(run.peak_rss_mb, 0),
            ]
            for run in sizing.runs
        ]
        out.append("")
        out.append(
            table(
                f"{sizing.engine} sizing, through the handler (template: {sizing.memory_mb} MB, "
                f"{sizing.timeout_s} s)",
                ["input", "threads", "cores", "1st req s", "warm s", "CPU s", "s/page", "peak MB"],
                rows,
            )
        )
        out.append(
            f"  largest peak RSS {_fmt(sizing.largest_peak_rss_mb, 0)} MB "
            f"({sizing.largest_peak_run}); A4 page on one core {_fmt(sizing.a4_one_core_s)} s; "
            f"{sizing.max_pages} pages (OCR_MAX_PAGES) at the slowest one-thread s/page: "
            f"{_fmt(sizing.max_pages_one_thread_s, 1)} s"
        )
    elif report.sizing_skipped:
        out.append(f"Sizing: skipped ({report.sizing_skipped})")
    for key, error in report.errors.items():
        out.append(f"FAILED {key}: {error.splitlines()[0] if error else ''}")
    out.append("")
    out.append(f"JSON: {report.json_path}")
    return "\n".join(out)


def _row_order(report: Report) -> Callable[[Row], tuple[int, int]]:
    inputs = list(dict.fromkeys(row.input for row in report.rows))
    engines = list(report.engines)
    return lambda row: (inputs.index(row.input), engines.index(row.engine))


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--samples", type=Path, help="a directory of real scans with groundtruth.json"
    )
    parser.add_argument("--repeat", type=int, default=2, help="warm requests per measurement (2)")
    parser.add_argument("--quick", action="store_true", help="only the small label, once")
    parser.add_argument("--json", type=Path, help="where to write the results")
    parser.add_argument(
        "--cold-runs", type=int, default=3, help="fresh processes for each cold start (3)"
    )
    parser.add_argument(
        "--engine",
        dest="engines",
        action="append",
        choices=ENGINES,
        help="measure only this engine (development only; repeatable)",
    )
    parser.add_argument(
        "--class",
        dest="classes",
        action="append",
        choices=CLASSES,
        help="measure only this image class (development only; repeatable)",
    )
    parser.add_argument(
        "--no-sizing", action="store_true", help="leave out Tesseract's sizing runs"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.samples is not None and not (args.samples / "groundtruth.json").is_file():
        parser.error(f"--samples {args.samples}: no groundtruth.json there")
    return args


def _missing_setup(engines: Sequence[str]) -> str | None:
    from tools.local_run import local_environment  # noqa: PLC0415

    environment = local_environment(OUTPUT_BUCKET, engines[0])
    openssl = Path(environment["OCR_OPENSSL_LIB_DIR"])
    tessdata = Path(environment["OCR_TESSDATA_DIR"])
    if "aspose" in engines and not (openssl / "libssl.so.1.1").is_file():
        return f"OpenSSL 1.1 not found in {openssl}: run `make setup` or set OCR_OPENSSL_LIB_DIR"
    if "tesseract" in engines and not (tessdata / "osd.traineddata").is_file():
        return f"Tesseract data not found in {tessdata}: run `make setup` or set OCR_TESSDATA_DIR"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        args.repeat, args.cold_runs = 1, 1
    engine_names = [name for name in ENGINES if name in (args.engines or ENGINES)]
    if problem := _missing_setup(engine_names):
        print(problem, file=sys.stderr)
        return 2
    started = datetime.now(UTC)
    json_path: Path = args.json or default_json_path(started)
    names = QUICK_CLASSES if args.quick else tuple(args.classes or CLASSES)
    sizing = not (args.quick or args.no_sizing) and SIZING_ENGINE in engine_names
    report = Report(
        started_utc=started.isoformat(timespec="seconds"),
        options=Options(
            repeat=args.repeat,
            quick=args.quick,
            cold_runs=args.cold_runs,
            samples=str(args.samples) if args.samples else None,
            engines=engine_names,
            classes=list(names),
            sizing=sizing,
        ),
        machine=machine_info(),
        json_path=str(json_path),
    )
    before = load_average()
    log(f"load average {before}; rendering {', '.join(names)}")
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per S3 request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        _create_buckets(endpoint)
        with tempfile.TemporaryDirectory(prefix="ocr-bench-") as temporary:
            workdir = Path(temporary)
            runner = Runner(workdir, child_environment(endpoint), f"{started:%Y%m%dT%H%M%SZ}")
            cores = os.cpu_count() or 1
            engines = {name: engine_setup(name, endpoint, cores) for name in engine_names}
            bench = Bench(runner, engines, args.repeat, report)
            inputs = []
            for name in names:
                image = images.render(name)
                inputs.append(_write(workdir, image))
                report.images[name] = ImageEntry(
                    image.description,
                    len(image.data),
                    image.width,
                    image.height,
                    len(image.pages),
                    len(image.text),
                )
            if args.samples is not None:
                inputs += scan_inputs(args.samples)
            _run(bench, args.cold_runs, inputs, workdir, sizing=sizing)
            if not sizing:
                report.sizing_skipped = "--quick" if args.quick else "--no-sizing or no tesseract"
    finally:
        server.stop()
    report.overhead = overhead(report)
    report.load = Load(
        before=before,
        after=load_average(),
        samples=runner.load_samples,
        median=median(runner.load_samples),
        max=max(runner.load_samples, default=None),
    )
    report.finished_utc = datetime.now(UTC).isoformat(timespec="seconds")
    report.duration_s = round((datetime.now(UTC) - started).total_seconds(), 1)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(
        json.dumps(asdict(report), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(render_report(report))
    return 1 if report.errors else 0


def _run(
    bench: Bench, cold_runs: int, inputs: Sequence[Input], workdir: Path, *, sizing: bool
) -> None:
    """Engine by engine within each input, so a change in the machine's load falls on both."""
    for engine in bench.engines.values():
        bench.guarded(f"cold start {engine.name}", partial(bench.cold_start, engine, cold_runs))
    for item in inputs:
        for engine in bench.engines.values():
            bench.guarded(f"{engine.name} {item.name}", partial(bench.row, engine, item))
    if sizing:
        by_name = {item.name: item for item in inputs}
        a4 = by_name.get("a4") or _write(workdir, images.a4_page())
        pdf = by_name.get("pdf") or _write(workdir, images.pdf_document())
        bench.guarded("sizing", partial(bench.sizing, workdir, a4, pdf))


def _create_buckets(endpoint: str) -> None:
    import boto3  # noqa: PLC0415

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
        s3.create_bucket(Bucket=bucket)


if __name__ == "__main__":
    raise SystemExit(main())
