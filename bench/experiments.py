"""What is measured, in which order: each engine's cold start, each engine on each input (bare
engine and handler side by side), and Tesseract's sizing runs. Each part that fails is
recorded in the report's errors and the run goes on: a long run keeps what it has."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bench import analysis, images
from bench.inputs import Input, write_image
from bench.protocol import Task
from bench.results import EngineInfo, Report, SizingRun
from bench.running import INPUT_BUCKET, OUTPUT_BUCKET, BenchError, EngineSetup, Runner, log

SIZING_ENGINE = "tesseract"
LONG_TIFF_PAGES = 30


@dataclass(frozen=True)
class SizingCase:
    label: str
    item: Input
    threads: int
    repeat: int
    """Warm requests after the first."""


def sizing_cases(workdir: Path, a4: Input, pdf: Input, repeat: int) -> list[SizingCase]:
    """The largest photo the limits admit, the A4 page, the 3-page PDF and a 30-page TIFF."""
    photo = write_image(workdir, images.large_photo())
    long_tiff = write_image(workdir, images.tiff_document(LONG_TIFF_PAGES, "tiff-30"))
    return [
        SizingCase("photo 40 MP", photo, 1, 1),
        SizingCase("A4 page", a4, 1, max(1, repeat)),
        SizingCase("PDF 3 pages", pdf, 1, 1),
        SizingCase("PDF 3 pages", pdf, 2, 1),
        SizingCase(f"TIFF {LONG_TIFF_PAGES} pages", long_tiff, 1, 0),
        SizingCase(f"TIFF {LONG_TIFF_PAGES} pages", long_tiff, 2, 0),
    ]


@dataclass
class Experiments:
    runner: Runner
    engines: dict[str, EngineSetup]
    repeat: int
    report: Report

    def guarded(self, key: str, work: Callable[[], None]) -> None:
        """Run one part; if it fails, record why and go on."""
        try:
            work()
        except Exception as error:
            log(f"{key} failed: {error}")
            self.report.errors[key] = str(error)[-3000:]

    def note_engine(self, engine: EngineSetup, version: str, licensed: bool) -> None:
        self.report.engines[engine.name] = EngineInfo(
            engine.name, version, licensed, engine.memory_mb, engine.timeout_s, len(engine.cpus)
        )

    def cold_start(self, engine: EngineSetup, runs: int) -> None:
        samples = [
            self.runner.cold_start(engine, f"{engine.name}: cold start {index + 1}/{runs}")
            for index in range(runs)
        ]
        self.report.cold_start[engine.name] = analysis.cold_start(engine, samples)
        self.note_engine(engine, samples[0].engine_version, samples[0].licensed)

    def side_by_side(self, engine: EngineSetup, item: Input) -> None:
        """Init, the first request, then `repeat` times the bare engine and the handler."""
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
        self.report.rows.append(analysis.row(engine, item, measured))

    def sizing_run(self, engine: EngineSetup, case: SizingCase) -> SizingRun:
        item, threads = case.item, case.threads
        task = Task(
            "measure",
            engine.environment,
            input_bucket=INPUT_BUCKET,
            output_bucket=OUTPUT_BUCKET,
            name=f"sizing-{item.name}-{threads}t",
            image=str(item.path),
            extension=item.extension,
            repeat=case.repeat,
            bare=False,
            cpus=list(range(min(threads, os.cpu_count() or 1))),
            threads=threads,
        )
        title = (
            f"{engine.name} sizing: {case.label}, {threads} thread(s), handler 1 + {case.repeat}"
        )
        return analysis.sizing_run(case.label, item, self.runner.measure(task, title))

    def sizing(self, workdir: Path, a4: Input, pdf: Input) -> None:
        """Tesseract through the handler only: memory peaks and one-core seconds."""
        from ocr_service.core.config import load_settings  # noqa: PLC0415

        engine = self.engines[SIZING_ENGINE]
        cases = sizing_cases(workdir, a4, pdf, self.repeat)
        runs = [self.sizing_run(engine, case) for case in cases]
        max_pages = load_settings(engine.environment).limits.max_pages
        self.report.sizing = analysis.sizing(engine, runs, max_pages, a4.name)

    def run(self, cold_runs: int, inputs: Sequence[Input], workdir: Path, *, sizing: bool) -> None:
        """Engine by engine within each input, so a change in the machine's load falls on
        both."""
        for engine in self.engines.values():
            self.guarded(f"cold start {engine.name}", partial(self.cold_start, engine, cold_runs))
        for item in inputs:
            for engine in self.engines.values():
                self.guarded(f"{engine.name} {item.name}", partial(self.side_by_side, engine, item))
        if sizing:
            by_name = {item.name: item for item in inputs}
            a4 = by_name.get("a4") or write_image(workdir, images.a4_page())
            pdf = by_name.get("pdf") or write_image(workdir, images.pdf_document())
            self.guarded("sizing", partial(self.sizing, workdir, a4, pdf))
