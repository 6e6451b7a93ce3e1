"""The report as a person reads it (text tables) and as a program does (JSON)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from bench.results import Quality, Report, Row

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def default_json_path(started: datetime) -> Path:
    return RESULTS_DIR / f"{started:%Y%m%dT%H%M%SZ}.json"


def write_json(report: Report, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(asdict(report), indent=2, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")


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
    """A title, left-aligned first column, the others right-aligned."""
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


def _header(report: Report) -> list[str]:
    engines = "; ".join(
        f"{info.name} {info.version} ({'licensed' if info.licensed else 'TRIAL'}) at "
        f"{info.memory_mb} MB = {info.cores} core(s), timeout {info.timeout_s} s"
        for info in report.engines.values()
    )
    machine, load = report.machine, report.load
    return [
        f"OCR benchmark {report.started_utc}: {engines}",
        f"machine: {machine.cpus} cores {machine.cpu_model}, {machine.memory_gb} GB; repeat "
        f"{report.options.repeat}; load average (1 min) before {load.before if load else '?'}, "
        f"during median {_fmt(load.median if load else None)} max "
        f"{_fmt(load.max if load else None)}, after {load.after if load else '?'}",
    ]


COLD_START_STEPS = (
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


def _cold_start(report: Report) -> list[str]:
    starts = list(report.cold_start.values())
    if not starts:
        return []
    return [
        "",
        table(
            f"Cold start (Init) in seconds, median of {len(starts[0].runs)} fresh processes",
            ["step", *[start.engine for start in starts]],
            [
                [title, *[_fmt(getattr(start, key), 3) for start in starts]]
                for title, key in COLD_START_STEPS
            ],
        ),
    ]


_BASIS = {"full": "full", "trial prefix": "pfx", "substring": "sub"}
SIDE_BY_SIDE_HEADERS = (
    "input", "engine", "cores/thr", "bare s", "CPU s", "handler s", "CPU s", "hdl/bare", "CPU",
    "1st req", "peak MB", "chars", "CER", "CER300", "$/1000 pages @MB",
)  # fmt: skip
CER_NOTE = (
    "  CER: pfx = Aspose in trial mode, scored only on the <= 300 characters a page it "
    "returns (against the best-matching prefix of the truth); full = the whole text; "
    "sub = the truth is part of the page (closest stretch; found = exact occurrence). "
    "CER300 = every engine on the trial's 300-character basis. peak MB covers bare and "
    "handler calls in the same process. $ = handler seconds at the engine's MemorySize."
)


def _quality_cell(quality: Quality) -> str:
    cell = f"{_pct(quality.cer)} {_BASIS[quality.basis]}"
    if quality.found is not None:
        cell += " found" if quality.found else " absent"
    return cell


def _row_cells(row: Row) -> list[str]:
    return [
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


def _row_order(report: Report) -> Callable[[Row], tuple[int, int]]:
    """Input by input as measured, engines in the order they were set up."""
    inputs = list(dict.fromkeys(row.input for row in report.rows))
    engines = list(report.engines)
    return lambda row: (inputs.index(row.input), engines.index(row.engine))


def _side_by_side(report: Report) -> list[str]:
    if not report.rows:
        return []
    rows = [_row_cells(row) for row in sorted(report.rows, key=_row_order(report))]
    textract = f"${report.textract.cost_per_1000_pages_usd:.3f} list"
    rows.append(["(any)", "Textract", *[""] * 12, textract])
    title = "Side by side: warm medians in seconds, each engine on the cores its memory buys"
    notes = [
        f"  {row.engine} {row.input}: {row.language_note}"
        for row in report.rows
        if row.language_note
    ]
    return ["", table(title, SIDE_BY_SIDE_HEADERS, rows), CER_NOTE, *notes]


def _overhead(report: Report) -> list[str]:
    return [
        f"Handler overhead {item.engine}: {_fmt(item.ratio, 3)}x wall, "
        f"{_fmt(item.cpu_ratio, 3)}x CPU on {item.basis} "
        f"(target <= {item.target}: {_fmt(item.met)}; all: "
        + ", ".join(f"{name} {_fmt(value, 3)}x" for name, value in item.ratios.items())
        + ")"
        for item in report.overhead.values()
    ]


def _sizing(report: Report) -> list[str]:
    sizing = report.sizing
    if sizing is None:
        return [f"Sizing: skipped ({report.sizing_skipped})"] if report.sizing_skipped else []
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
    title = (
        f"{sizing.engine} sizing, through the handler (template: {sizing.memory_mb} MB, "
        f"{sizing.timeout_s} s)"
    )
    headers = ["input", "threads", "cores", "1st req s", "warm s", "CPU s", "s/page", "peak MB"]
    return [
        "",
        table(title, headers, rows),
        f"  largest peak RSS {_fmt(sizing.largest_peak_rss_mb, 0)} MB "
        f"({sizing.largest_peak_run}); A4 page on one core {_fmt(sizing.a4_one_core_s)} s; "
        f"{sizing.max_pages} pages (OCR_MAX_PAGES) at the slowest one-thread s/page: "
        f"{_fmt(sizing.max_pages_one_thread_s, 1)} s",
    ]


def render_report(report: Report) -> str:
    out = [
        *_header(report),
        *_cold_start(report),
        *_side_by_side(report),
        *_overhead(report),
        *_sizing(report),
    ]
    out += [
        f"FAILED {key}: {error.splitlines()[0] if error else ''}"
        for key, error in report.errors.items()
    ]
    out += ["", f"JSON: {report.json_path}"]
    return "\n".join(out)
