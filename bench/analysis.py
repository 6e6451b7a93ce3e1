"""From measurements to the report's numbers: warm medians, handler overhead, error rates
(bench.textmetrics) and cost (bench.costs). Pure functions: nothing here runs anything."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from bench import costs
from bench.inputs import Input
from bench.protocol import ColdStartResult, MeasureResult
from bench.results import ColdStart, Load, Overhead, Quality, Row, Sizing, SizingRun
from bench.running import EngineSetup
from bench.textmetrics import Score, contains, full_score, normalize, prefix_score, substring_score

TARGET_OVERHEAD = 1.05
"""The handler may take at most this times the bare engine's time (judged on the A4 page)."""
OVERHEAD_BASIS = "a4"


def median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 4) if values else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


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


def cold_start(engine: EngineSetup, samples: list[ColdStartResult]) -> ColdStart:
    """Each Init step's median over the fresh processes."""

    def step(name: str) -> float:
        return median([sample.steps.get(name, 0.0) for sample in samples]) or 0.0

    init_s = median([sample.init_s for sample in samples]) or 0.0
    modules = [sample.init_s - sum(sample.steps.values()) for sample in samples]
    return ColdStart(
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


def row(engine: EngineSetup, item: Input, measured: MeasureResult) -> Row:
    """One engine on one input: warm medians of both paths, quality and cost."""
    pages = measured.first_request.pages
    handler_s = median([call.wall_s for call in measured.handler])
    bare_s = median([call.wall_s for call in measured.bare])
    handler_cpu_s = median([call.cpu_s for call in measured.handler])
    bare_cpu_s = median([call.cpu_s for call in measured.bare])
    outside = [call.wall_s - (call.recognition_s or 0.0) for call in measured.handler]
    cost = (
        None
        if handler_s is None
        else round(costs.cost_per_1000_pages_usd(handler_s, engine.memory_mb, pages), 4)
    )
    return Row(
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
        bare_cpu_s=bare_cpu_s,
        handler_s=handler_s,
        handler_cpu_s=handler_cpu_s,
        handler_ratio=ratio(handler_s, bare_s),
        handler_cpu_ratio=ratio(handler_cpu_s, bare_cpu_s),
        outside_engine_s=median(outside),
        first_request_s=measured.first_request.wall_s,
        peak_rss_mb=measured.peak_rss_mb,
        rss_after_init_mb=measured.rss_after_init_mb,
        chars=len(normalize(measured.text)),
        quality=text_quality(
            measured.text, item.truth, trial_limited=not measured.licensed, match=item.match
        ),
        memory_mb=engine.memory_mb,
        cost_per_1000_pages_usd=cost,
        handler_text_matches_bare=measured.handler_text_matches_bare,
        text=measured.text,
        measurement=measured,
    )


def sizing_run(label: str, item: Input, measured: MeasureResult) -> SizingRun:
    """One handler-only run: its seconds per page (warm, else the first request's)."""
    first = measured.first_request
    warm = median([call.wall_s for call in measured.handler])
    timed = warm if warm is not None else first.wall_s
    return SizingRun(
        label=label,
        image=item.name,
        megapixels=item.megapixels,
        pages=first.pages,
        threads=measured.threads,
        cores=len(measured.cpus),
        first_request_s=first.wall_s,
        warm_s=warm,
        warm_cpu_s=median([call.cpu_s for call in measured.handler]),
        seconds_per_page=round(timed / max(1, first.pages), 3),
        peak_rss_mb=measured.peak_rss_mb,
        measurement=measured,
    )


def sizing(engine: EngineSetup, runs: list[SizingRun], max_pages: int, a4_image: str) -> Sizing:
    """The largest peak, the A4 page on one core, and OCR_MAX_PAGES pages on one thread."""
    largest = max(runs, key=lambda run: run.peak_rss_mb)
    one_thread = [run.seconds_per_page for run in runs if run.threads == 1 and run.seconds_per_page]
    a4_run = next(run for run in runs if run.image == a4_image)
    return Sizing(
        engine=engine.name,
        memory_mb=engine.memory_mb,
        timeout_s=engine.timeout_s,
        max_pages=max_pages,
        runs=runs,
        largest_peak_rss_mb=largest.peak_rss_mb,
        largest_peak_run=f"{largest.label}, {largest.threads} thread(s)",
        a4_one_core_s=a4_run.warm_s,
        max_pages_one_thread_s=round(max(one_thread) * max_pages, 1) if one_thread else None,
    )


def overhead(engines: Sequence[str], rows: Sequence[Row]) -> dict[str, Overhead]:
    """Each engine's handler/bare ratio, judged on the A4 page (or the first input measured)."""
    result = {}
    for engine in engines:
        mine = [row for row in rows if row.engine == engine]
        if not mine:
            continue
        basis = next((row for row in mine if row.input == OVERHEAD_BASIS), mine[0])
        value = basis.handler_ratio
        result[engine] = Overhead(
            engine=engine,
            basis=basis.input,
            ratio=value,
            cpu_ratio=basis.handler_cpu_ratio,
            target=TARGET_OVERHEAD,
            met=None if value is None else value <= TARGET_OVERHEAD,
            ratios={row.input: row.handler_ratio for row in mine},
        )
    return result


def load(before: list[float], after: list[float], samples: list[float]) -> Load:
    return Load(
        before=before,
        after=after,
        samples=samples,
        median=median(samples),
        max=max(samples, default=None),
    )
