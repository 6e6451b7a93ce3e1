"""The benchmark's report: every number it prints and writes to JSON, as typed records.

`Report` is written whole (`dataclasses.asdict`) to bench/results/<timestamp>.json; bump
SCHEMA_VERSION when a field changes meaning or goes away.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench import costs
from bench.measuring import Machine
from bench.protocol import ColdStartResult, MeasureResult

SCHEMA_VERSION = 2


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
    """Handler wall / bare engine wall (target <= analysis.TARGET_OVERHEAD)."""
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
    tesseract_memory_mb: int | None = None
    """--tesseract-memory: TesseractMemorySize instead of the template's default."""


@dataclass(frozen=True)
class Textract:
    service: str = "Amazon Textract DetectDocumentText"
    cost_per_1000_pages_usd: float = costs.TEXTRACT_DETECT_PER_1000_PAGES_USD
    note: str = "list price, first million pages a month; a reference, not measured"


@dataclass
class Report:
    """Filled in as the run goes: a failed part leaves its entry out and says why in errors."""

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
