"""Benchmark the OCR function: cold start, every image class, the alternatives, and what to tune.

    python -m bench.bench [--samples DIR] [--repeat N] [--quick] [--json PATH]

Everything is measured in one run on the same image bytes, each measurement in a fresh process
(`bench.worker`), one after another (the engine uses both cores; nothing runs in parallel):
- cold start (Init) split into its steps, several fresh processes, median;
- per image class (label, A4 page, phone photo, 3-page PDF, 3-page TIFF): the first request
  after Init, then warm requests alternating between the bare engine (`OcrEngine.recognize`)
  and the real handler against a local S3 (moto, in this process), with CPU seconds and peak RSS;
- the same images through a tutorial's code (a new `AsposeOcr()` per image) and through the
  Tesseract 5 command line;
- the A4 page pinned to one core (Lambda's 1 vCPU at 1,769 MB), and from all that the Lambda cost
  per 1,000 pages and a memory size;
- experiments: warm-up images, downscaling (OCR_MAX_IMAGE_SIDE), engine options;
- with --samples, real scans scored against their ground truth.
Prints tables and writes everything to JSON (default bench/results/<UTC timestamp>.json).
`--quick` measures only the label, once: the smoke test's run.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any

from bench import costs, images, tesseract
from bench.textmetrics import (
    Score,
    contains,
    full_score,
    normalize,
    prefix_score,
    substring_score,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"
DEFAULT_OPENSSL_DIR = REPO_ROOT / ".cache" / "openssl11" / "lib"
DEFAULT_RESOURCES_DIR = REPO_ROOT / ".cache" / "ocr-models"
WARM_UP_IMAGE = REPO_ROOT / "functions" / "ocr" / "ocr_service" / "warmup.png"
INPUT_BUCKET = "bench-input"
OUTPUT_BUCKET = "bench-output"
SCHEMA_VERSION = 1
CLASSES = ("label", "a4", "photo", "pdf", "tiff")
QUICK_CLASSES = ("label",)
MAX_SIDES = (2000, 2480, 3508, 0)  # 0: no downscaling
WORKER_TIMEOUT_S = 3 * 3600
TARGET_OVERHEAD = 1.05
TARGET_FIRST_VS_WARM = 1.2
CER_TOLERANCE = 0.01  # a setting "keeps the text" when its CER is at most 1 point worse
INIT_LIMIT_S = 10.0  # Lambda's Init phase limit for on-demand functions
UNREADABLE_CER = 0.5  # above this, a variant's text is lost anyway and cannot judge a setting
ENGINE_OPTIONS: tuple[dict[str, Any], ...] = (
    {"option": "default"},  # as the function runs: its filters, default settings
    {"option": "no filters", "filters": []},
    {"option": "threads_count=1", "threads_count": 1},
    {"option": "threads_count=2", "threads_count": 2},
    {"option": "recognize_fast", "fast": True},
    {"option": "detect_areas_mode=LEAN", "detect_areas_mode": "LEAN"},
    {"option": "detect_areas_mode=MULTICOLUMN", "detect_areas_mode": "MULTICOLUMN"},
    {"option": "detect_areas_mode=DOCUMENT_LAYOUT", "detect_areas_mode": "DOCUMENT_LAYOUT"},
    {"option": "detect_areas_mode=TABLE", "detect_areas_mode": "TABLE"},
)


class BenchError(RuntimeError):
    """A measurement failed; the message says which and shows its log."""


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- child processes


@dataclass
class Runner:
    """Starts `bench.worker` in a fresh process per task, with the function's environment."""

    workdir: Path
    environment: dict[str, str]
    """The function's environment (template.yaml, local paths, local S3)."""
    child_environment: dict[str, str]
    common: dict[str, Any]
    logs: list[str] = field(default_factory=list)
    _ids: count[int] = field(default_factory=count)

    def run(self, kind: str, label: str, **task: Any) -> dict[str, Any]:
        number = next(self._ids)
        directory = self.workdir / f"{number:03d}-{kind}"
        directory.mkdir()
        task_path, result_path = directory / "task.json", directory / "result.json"
        log_path = directory / "output.log"
        payload = {**self.common, **task, "kind": kind, "environment": self.environment}
        payload["spawned_at"] = time.time()
        task_path.write_text(json.dumps(payload))
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
        elapsed = time.perf_counter() - started
        if completed.returncode != 0 or not result_path.is_file():
            tail = log_path.read_text(errors="replace")[-3000:]
            raise BenchError(f"{label}: worker exited with {completed.returncode}\n{tail}")
        log(f"{label}: {elapsed:.1f} s")
        result: dict[str, Any] = json.loads(result_path.read_text())
        result["process_s"] = round(elapsed, 3)
        return result


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


def function_environment(openssl_dir: Path, resources_dir: Path, endpoint: str) -> dict[str, str]:
    """template.yaml's variables for the function, with this machine's paths and local S3."""
    from tools.template_env import function_environment as template_environment  # noqa: PLC0415

    environment = template_environment({"OutputBucket": OUTPUT_BUCKET})
    environment.update(
        OCR_OPENSSL_LIB_DIR=str(openssl_dir),
        OCR_RESOURCES_DIR=str(resources_dir),
        AWS_ENDPOINT_URL=endpoint,
    )
    return environment


# --------------------------------------------------------------------------- helpers


def score_dict(score: Score) -> dict[str, Any]:
    cer = score.cer
    return {
        "cer": None if cer is None else round(cer, 4),
        "edits": score.edits,
        "reference_chars": score.reference_chars,
        "recognized_chars": score.recognized_chars,
    }


def text_quality(
    text: str, truth: str, *, full: bool = False, match: str | None = None
) -> dict[str, Any]:
    """Prefix CER (first 300 characters a page, the trial's basis) and optionally full CER.
    Ground truth that is only part of the page (``match="substring"``) is searched for
    instead: whether it occurs, and the CER of the closest stretch of text."""
    quality: dict[str, Any] = {"chars": len(normalize(text))}  # no banner, no extra spaces
    if match == "substring":
        quality["found"] = contains(text, truth)
        quality["prefix"] = score_dict(substring_score(text, truth))
        return quality
    quality["prefix"] = score_dict(prefix_score(text, truth))
    if full:
        quality["full"] = score_dict(full_score(text, truth))
    return quality


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 4) if values else None


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def machine_info() -> dict[str, Any]:
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
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "tesseract": tesseract.version(),
    }


# --------------------------------------------------------------------------- sections


@dataclass
class Bench:
    runner: Runner
    image_files: dict[str, Path]
    bench_images: dict[str, images.BenchImage]
    repeat: int
    report: dict[str, Any]
    skip: frozenset[str] = frozenset()

    @property
    def experiment_repeat(self) -> int:
        """Experiments compare settings, each a full recognition: two runs each are enough."""
        return max(1, min(self.repeat, 2))

    # ---- cold start

    def cold_start(self, runs: int) -> None:
        samples = [
            self.runner.run("cold_start", f"cold start {index + 1}/{runs}") for index in range(runs)
        ]
        steps = list(samples[0]["engine_steps_s"])
        medians: dict[str, Any] = {
            "interpreter_start_s": median([s["interpreter_start_s"] for s in samples]),
            "function_modules_s": median([s["function_modules_s"] for s in samples]),
        }
        for step in steps:
            medians[step] = median([s["engine_steps_s"][step] for s in samples])
        medians["init_s"] = median([s["init_s"] for s in samples])
        medians["rss_after_init_mb"] = median([s["rss_after_init_mb"] for s in samples])
        self.report["cold_start"] = {"runs": samples, "median": medians}
        self.report["engine"] = {
            "version": samples[0]["engine_version"],
            "licensed": samples[0]["licensed"],
        }

    # ---- one image class

    def image_class(self, name: str) -> None:
        image = self.bench_images[name]
        path = self.image_files[name]
        measured = self.runner.run(
            "image_class",
            f"{name}: Init, first request, {self.repeat} x (engine, handler)",
            name=name,
            image=str(path),
            extension=image.extension,
            repeat=self.repeat,
        )
        text = measured.pop("text")
        _check_pages(name, image, text)
        engine_warm = measured["engine"].get("median_wall_s")
        handler_warm = measured["handler"].get("median_wall_s")
        entry: dict[str, Any] = {
            "image": self.report["images"][name],
            "engine_warm_s": engine_warm,
            "engine_cpu_s": measured["engine"].get("median_cpu_s"),
            "handler_warm_s": handler_warm,
            "handler_cpu_s": measured["handler"].get("median_cpu_s"),
            "overhead_ratio": ratio(handler_warm, engine_warm),
            # Inside the handler: everything but the engine call (S3, checks, logs, metrics).
            "handler_outside_engine_s": measured["handler"].get("median_outside_engine_s"),
            "s3_requests_per_object": measured["handler"].get("median_s3_requests"),
            "first_request_s": measured["first_request"]["wall_s"],
            "first_vs_warm": ratio(measured["first_request"]["wall_s"], handler_warm),
            "peak_rss_mb": measured["peak_rss_mb"],
            "rss_after_init_mb": measured["rss_after_init_mb"],
            "scale": measured["scale"],
            "text": {"recognized": text, **text_quality(text, image.text)},
            "measurements": measured,
        }
        entry["naive"] = None if "naive" in self.skip else self._naive(name)
        entry["tesseract"] = (
            {"status": "n/a", "reason": "--skip tesseract"}
            if "tesseract" in self.skip
            else self.tesseract(path, image.text, label=name)
        )
        self.report["classes"][name] = entry

    def _naive(self, name: str) -> dict[str, Any]:
        image = self.bench_images[name]
        path = self.image_files[name]
        naive = self.runner.run(
            "naive",
            f"{name}: tutorial code, new AsposeOcr() per image, {1 + self.experiment_repeat} runs",
            image=str(path),
            format=image.engine_input,
            repeat=self.experiment_repeat,
        )
        naive_text = naive.pop("text")
        _check_pages(f"{name} (tutorial code)", image, naive_text)
        return {
            "first_s": naive["first"]["wall_s"],
            "later_s": naive["later"].get("median_wall_s"),
            "later_cpu_s": naive["later"].get("median_cpu_s"),
            "pages": naive["pages"],
            "import_s": naive["import"]["wall_s"],
            "peak_rss_mb": naive["peak_rss_mb"],
            "text": {"recognized": naive_text, **text_quality(naive_text, image.text)},
            "measurements": naive,
        }

    def tesseract(
        self, path: Path, truth: str, label: str, match: str | None = None
    ) -> dict[str, Any]:
        log(f"{label}: tesseract, {self.repeat} runs")
        measured = tesseract.measure(path, self.repeat)
        if measured["status"] == "ok":
            text = measured.pop("text")
            quality = text_quality(text, truth, full=match != "substring", match=match)
            measured["text"] = {"recognized": text, **quality}
        return measured

    # ---- one vCPU

    def one_vcpu(self) -> None:
        name = "a4"
        measured = self.runner.run(
            "image_class",
            f"{name} pinned to one core: Init, first request, {self.repeat} handler requests",
            name=f"{name}-1cpu",
            image=str(self.image_files[name]),
            extension=self.bench_images[name].extension,
            repeat=self.repeat,
            cpus=[0],
            bare=False,
        )
        measured.pop("text")
        two_core = self.report["classes"][name]
        pinned = measured["handler"]["median_wall_s"]
        self.report["one_vcpu"] = {
            "class": name,
            "handler_warm_s": pinned,
            "handler_cpu_s": measured["handler"]["median_cpu_s"],
            "first_request_s": measured["first_request"]["wall_s"],
            "init_s": measured["init"]["wall_s"],
            "warm_up_s": measured["engine_steps_s"]["warm_up_s"],
            "peak_rss_mb": measured["peak_rss_mb"],
            "two_core_handler_warm_s": two_core["handler_warm_s"],
            "two_core_cpu_s": two_core["handler_cpu_s"],
            "speedup_two_cores": ratio(pinned, two_core["handler_warm_s"]),
            "one_core_factor": ratio(pinned, two_core["handler_cpu_s"]),
            "measurements": measured,
        }

    # ---- cost

    def cost(self) -> None:
        self.report["cost"] = cost_section(self.report)

    # ---- experiments

    def warm_up_experiment(self) -> None:
        a4_canvas = self._render_extra("warm-a4-3lines", _a4_few_lines)
        # (image, with the function's preprocessing?) The A4 page is always recognized with it.
        variants: dict[str, tuple[Path | None, bool]] = {
            "none": (None, False),
            "shipped warmup.png, no filters (today)": (WARM_UP_IMAGE, False),
            "shipped warmup.png with the filters": (WARM_UP_IMAGE, True),
            "A4 canvas, 3 lines, with the filters": (a4_canvas, True),
            "the A4 page itself, with the filters": (self.image_files["a4"], True),
        }
        results: dict[str, Any] = {}
        for variant, (path, filtered) in variants.items():
            measured = self.runner.run(
                "warm_up",
                f"warm-up '{variant}', then the A4 page {1 + self.experiment_repeat} times",
                image=str(self.image_files["a4"]),
                warm_up_image=str(path) if path else None,
                warm_up_preprocessing=filtered,
                repeat=self.experiment_repeat,
            )
            later = measured["later"].get("median_wall_s")
            results[variant] = {
                "warm_up_s": (measured["warm_up"] or {}).get("wall_s", 0.0),
                "first_s": measured["first"]["wall_s"],
                "later_s": later,
                "first_vs_warm": ratio(measured["first"]["wall_s"], later),
                "measurements": measured,
            }
        # Lambda allows Init at most 10 s (on-demand); past that it re-runs Init inside the
        # first invocation. Estimate each variant's Init at 2 vCPUs and, slowed down as the
        # A4 page is on one core, at 1 vCPU.
        cold = (self.report.get("cold_start") or {}).get("median", {})
        slowdown = (self.report.get("one_vcpu") or {}).get("speedup_two_cores") or None
        rest = (cold.get("init_s") or 0.0) - (cold.get("warm_up_s") or 0.0)
        for variant in results.values():
            two = rest + variant["warm_up_s"]
            variant["init_estimate_s"] = round(two, 2) if cold else None
            variant["init_estimate_1vcpu_s"] = (
                round(rest + variant["warm_up_s"] * slowdown, 2) if cold and slowdown else None
            )
        self.report["experiments"]["warm_up"] = {
            "target": "A4 page (2480x3508), with the function's preprocessing filters",
            "first_vs_warm_target": TARGET_FIRST_VS_WARM,
            "init_limit_s": INIT_LIMIT_S,
            "variants": results,
        }

    def largest_allowed_experiment(self) -> None:
        """Peak memory of big photos up to the largest the limits let through (OCR_MAX_PIXELS,
        40 MP): the engine decodes the whole image before its scale filter runs."""
        sizes = {"24mp": (6000, 4000), "40mp": (7296, 5472)}
        photos: dict[str, Any] = {}
        for label, size in sizes.items():
            path = self._render_extra(
                f"photo-{label}", functools.partial(_resized_photo, size), extension="jpg"
            )
            measured = self.runner.run(
                "image_class",
                f"photo {size[0]}x{size[1]} ({size[0] * size[1] / 1e6:.1f} MP): Init, 1 request",
                name=f"photo-{label}",
                image=str(path),
                extension="jpg",
                repeat=0,
            )
            measured.pop("text")
            photos[label] = {
                "size": list(size),
                "megapixels": round(size[0] * size[1] / 1e6, 1),
                "bytes": path.stat().st_size,
                "request_s": measured["first_request"]["wall_s"],
                "cpu_s": measured["first_request"]["cpu_s"],
                "scale": measured["scale"],
                "peak_rss_mb": measured["peak_rss_mb"],
                "measurements": measured,
            }
        largest = photos["40mp"]
        self.report["experiments"]["largest_allowed"] = {
            "image": "the phone photo resized, JPEG q85; the handler scales it to 3508",
            "photos": photos,
            "peak_rss_mb": largest["peak_rss_mb"],
            "request_s": largest["request_s"],
            "scale": largest["scale"],
        }

    def _render_extra(self, name: str, render: Callable[[], bytes], extension: str = "png") -> Path:
        path = self.runner.workdir / f"{name}.{extension}"
        path.write_bytes(render())
        return path

    def scaling_experiment(self) -> None:
        """Each max side in its own process (its own peak memory), with the function's filters
        after the scale, as the handler applies them."""
        filters = self.production_filters()
        measured: dict[str, Any] = {"runs": {}}
        peaks: dict[str, float] = {}
        for name in ("photo", "a4"):
            image = self.bench_images[name]
            for side in MAX_SIDES:
                scale = _downscale(image.width, image.height, side)
                if side and scale is None:
                    continue  # the same as "off" for this image
                case: dict[str, Any] = {
                    "id": f"{name}@{side or 'off'}",
                    "image": name,
                    "variant": name,
                    "filters": filters,
                    "format": "image",
                    "max_side": side,
                    "scale": scale,
                }
                run = self.runner.run(
                    "options",
                    f"downscaling {case['id']}: 1 + {self.experiment_repeat} runs",
                    images={name: str(self.image_files[name])},
                    cases=[case],
                    repeat=self.experiment_repeat,
                    settle=True,
                )
                measured["runs"].update(run["runs"])
                peaks[case["id"]] = run["peak_rss_mb"]
        cases = self._options_cases(measured, baseline_suffix="@off")
        for case_id, case in cases.items():
            case["peak_rss_mb"] = peaks[case_id]
        self.report["experiments"]["scaling"] = {
            "note": (
                "Bare engine with the pipeline's scale factor (OCR_MAX_IMAGE_SIDE / longest "
                f"side, PreprocessingFilter.scale) then the function's filters {filters}; "
                "one process per case; text scored on the trial prefix."
            ),
            "cases": cases,
        }

    def production_filters(self) -> list[str]:
        """The engine filter names the function applies by default (template environment)."""
        from ocr_service.config import (  # noqa: PLC0415
            PREPROCESSING_FILTERS,
            load_settings,
        )

        preprocessing = load_settings(self.runner.environment).preprocessing
        return [PREPROCESSING_FILTERS[name] for name in preprocessing.filters]

    def options_experiment(self) -> None:
        filters = self.production_filters()
        cases = []
        for name in ("a4", "photo"):
            image = self.bench_images[name]
            scale = _downscale(image.width, image.height, 3508)
            for option in ENGINE_OPTIONS:
                cases.append(
                    {
                        "filters": filters,  # the function's filters unless the option says
                        **option,
                        "id": f"{name}:{option['option']}",
                        "image": name,
                        "format": "image",
                        "scale": scale,
                    }
                )
        measured = self.runner.run(
            "options",
            f"engine options: {len(cases)} cases x {self.experiment_repeat}",
            images={name: str(self.image_files[name]) for name in ("a4", "photo")},
            cases=cases,
            repeat=self.experiment_repeat,
            settle=True,
        )
        self.report["experiments"]["engine_options"] = {
            "note": (
                "Bare engine, images as the pipeline feeds them (photo scaled to 3508, then "
                f"the function's filters {filters}); threads_count 0 is the engine's default."
            ),
            "cases": self._options_cases(measured, baseline_suffix=":default"),
            "peak_rss_mb": measured["peak_rss_mb"],
        }

    def input_route_experiment(self) -> None:
        """The same bytes given to the engine as a stream (what OcrEngine.recognize does) and
        as a file path (what tutorials do), per format, default settings."""
        names = [name for name in ("a4", "tiff") if name in self.image_files]
        cases = []
        for name in names:
            image = self.bench_images[name]
            for route in ("stream", "path"):
                cases.append(
                    {
                        "id": f"{name}:{route}",
                        "image": name,
                        "variant": name,
                        "format": image.engine_input,
                        "route": route,
                        "scale": None,
                    }
                )
        measured = self.runner.run(
            "options",
            f"input route (stream vs file path): {len(cases)} cases x 1",
            images={name: str(self.image_files[name]) for name in names},
            cases=cases,
            repeat=1,
            settle=True,
        )
        self.report["experiments"]["input_route"] = {
            "note": "Bare engine, default settings, no scaling; speed-up: path over stream.",
            "cases": self._options_cases(measured, baseline_suffix=":stream"),
            "peak_rss_mb": measured["peak_rss_mb"],
        }

    def _options_cases(
        self, measured: dict[str, Any], baseline_suffix: str
    ) -> dict[str, dict[str, Any]]:
        runs: dict[str, dict[str, Any]] = measured["runs"]
        cases: dict[str, dict[str, Any]] = {}
        for case_id, run in runs.items():
            image = self.bench_images[run["image"]]
            text = run.pop("text")
            if not run.get("error"):
                _check_pages(case_id, image, text)
            baseline = runs.get(run.get("variant", run["image"]) + baseline_suffix, {})
            cases[case_id] = {
                **run,
                "speedup": ratio(baseline.get("median_wall_s"), run.get("median_wall_s")),
                "text": {"recognized": text, **text_quality(text, image.text)}
                if not run.get("error")
                else None,
            }
        return cases

    def scans(self, directory: Path) -> None:
        truth: dict[str, dict[str, Any]] = json.loads(
            (directory / "groundtruth.json").read_text(encoding="utf-8")
        )
        from PIL import Image  # noqa: PLC0415

        cases = []
        files: dict[str, str] = {}
        for relative in truth:
            path = directory / relative
            with Image.open(path) as opened:
                width, height = opened.size
            files[relative] = str(path)
            cases.append(
                {
                    "id": relative,
                    "image": relative,
                    "format": "tiff" if path.suffix.lower() in (".tif", ".tiff") else "image",
                    "scale": None,
                    "size": [width, height],
                    "scaled_at": {
                        str(side or "off"): _downscale(width, height, side) for side in MAX_SIDES
                    },
                }
            )
        measured = self.runner.run(
            "options",
            f"real scans: {len(cases)} files x {self.experiment_repeat}",
            images=files,
            cases=cases,
            repeat=self.experiment_repeat,
        )
        results: dict[str, Any] = {}
        for relative, run in measured["runs"].items():
            expected = truth[relative]["expected_text"]
            text = run.pop("text")
            path = directory / relative
            match = truth[relative].get("match")
            tess = self.tesseract(path, expected, label=f"scan {relative}", match=match)
            results[relative] = {
                **run,
                "match": truth[relative].get("match"),
                "lang": truth[relative].get("lang"),
                "text": {"recognized": text, **text_quality(text, expected, match=match)},
                "tesseract": tess,
            }
        self.report["scans"] = {
            "directory": str(directory),
            "note": (
                "No scan here is longer than the smallest OCR_MAX_IMAGE_SIDE tried, so "
                "downscaling never applies to them (see scaled_at); Tesseract has only 'eng'."
            ),
            "files": results,
        }


def _check_pages(label: str, image: images.BenchImage, text: str) -> None:
    """Every page must come back: a multi-page file read as a single image yields page 1."""
    pages = text.count("\f") + 1
    if pages != len(image.pages):
        raise BenchError(f"{label}: {pages} page(s) recognized, the image has {len(image.pages)}")


def _downscale(width: int, height: int, max_side: int) -> float | None:
    longest = max(width, height)
    if not max_side or longest <= max_side:
        return None
    return max_side / longest


def _a4_few_lines() -> bytes:
    image = images.render_page(
        images.LABEL_LINES, images.A4_300_DPI, font_size=50, margin=200, line_spacing=1.5
    )
    return _png(image)


def _resized_photo(size: tuple[int, int]) -> bytes:
    import io  # noqa: PLC0415

    from PIL import Image  # noqa: PLC0415

    photo = Image.open(io.BytesIO(images.phone_photo().data))
    buffer = io.BytesIO()
    photo.resize(size, Image.Resampling.BICUBIC).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _png(image: Any) -> bytes:
    import io  # noqa: PLC0415

    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


# --------------------------------------------------------------------------- conclusions


def cost_section(report: dict[str, Any]) -> dict[str, Any]:
    """Lambda duration and cost per memory size, and the recommended size (bench.costs)."""
    classes = report["classes"]
    one_vcpu = report.get("one_vcpu") or {}
    factor = one_vcpu.get("one_core_factor") or 1.0
    times = {
        name: costs.ClassTimes(
            pages=entry["image"]["pages"],
            two_vcpu_s=entry["handler_warm_s"],
            cpu_s=entry["handler_cpu_s"],
            peak_rss_mb=entry["peak_rss_mb"],
        )
        for name, entry in classes.items()
        if entry.get("handler_warm_s") is not None
    }
    table = costs.estimates(times, factor)
    init_s = (report.get("cold_start") or {}).get("median", {}).get("init_s")
    return {
        "assumptions": {**costs.ASSUMPTIONS, "one_core_factor_used": factor},
        "per_class": table,
        "recommendation": costs.recommend(table, times),
        "init_cost_per_cold_start_usd": {
            str(memory): round(costs.init_cost_usd(init_s, memory), 7)
            for memory in costs.MEMORY_SIZES_MB
        }
        if init_s
        else None,
    }


def derive(report: dict[str, Any]) -> None:
    """Everything computed from the measurements: cost, targets, recommendations."""
    if report["classes"]:
        report["cost"] = cost_section(report)
    report["targets"] = targets(report)
    report["recommendations"] = recommendations(report)


def targets(report: dict[str, Any]) -> dict[str, Any]:
    """The "make it fast" targets, met or not, from this run's numbers."""
    classes = report["classes"]
    basis = "a4" if "a4" in classes else next(iter(classes), None)
    result: dict[str, Any] = {"basis": basis}
    if basis is None:
        return result
    entry = classes[basis]
    overhead = entry["overhead_ratio"]
    first = entry["first_vs_warm"]
    result["handler_overhead"] = {
        "value": overhead,
        "target": TARGET_OVERHEAD,
        "met": None if overhead is None else overhead <= TARGET_OVERHEAD,
    }
    result["first_vs_warm"] = {
        "value": first,
        "target": TARGET_FIRST_VS_WARM,
        "met": None if first is None else first <= TARGET_FIRST_VS_WARM,
    }
    return result


def _scan_quality(quality: dict[str, Any] | None) -> str:
    if not quality:
        return "n/a"
    cer = _pct(quality["prefix"]["cer"])
    if "found" in quality:
        return f"{'found' if quality['found'] else 'absent'} {cer}"
    return cer


def _cer(case: dict[str, Any] | None) -> float | None:
    if not case or not case.get("text"):
        return None
    value: float | None = case["text"]["prefix"]["cer"]
    return value


def recommendations(report: dict[str, Any]) -> dict[str, Any]:
    """What this run's numbers say to configure, each with the numbers behind it."""
    advice: dict[str, Any] = {}
    cost = report.get("cost") or {}
    if cost.get("recommendation"):
        advice["memory_size"] = dict(cost["recommendation"])
        largest = report["experiments"].get("largest_allowed") or {}
        memory = advice["memory_size"].get("memory_mb")
        if memory and largest.get("peak_rss_mb"):
            advice["memory_size"]["largest_allowed_peak_rss_mb"] = largest["peak_rss_mb"]
            advice["memory_size"]["largest_allowed_headroom"] = round(
                memory / largest["peak_rss_mb"], 2
            )
    scaling = (report["experiments"].get("scaling") or {}).get("cases")
    if scaling:
        advice["max_image_side"] = _max_side_advice(scaling)
    options = (report["experiments"].get("engine_options") or {}).get("cases")
    if options:
        advice["engine_options"] = {
            case_id: {
                "speedup": case["speedup"],
                "cer": _cer(case),
                "cer_default": _cer(options.get(case["image"] + ":default")),
                "error": case.get("error"),
            }
            for case_id, case in options.items()
        }
    warm = (report["experiments"].get("warm_up") or {}).get("variants")
    if warm:
        acceptable = {
            name: variant
            for name, variant in warm.items()
            if variant["first_vs_warm"] is not None
            and variant["first_vs_warm"] <= TARGET_FIRST_VS_WARM
            and (variant.get("init_estimate_1vcpu_s") or 0.0) < INIT_LIMIT_S
        }
        cheapest = min(acceptable, key=lambda name: acceptable[name]["warm_up_s"], default=None)
        advice["warm_up"] = {
            "cheapest_meeting_target": cheapest,
            "first_vs_warm": {name: variant["first_vs_warm"] for name, variant in warm.items()},
            "warm_up_s": {name: variant["warm_up_s"] for name, variant in warm.items()},
        }
    return advice


def _max_side_advice(cases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The smallest max side that keeps every image's text (CER within CER_TOLERANCE of no
    scaling) and what it gains on the photo."""
    by_side: dict[int, list[dict[str, Any]]] = {}
    for case in cases.values():
        by_side.setdefault(case["max_side"], []).append(case)
    keeps = []
    for side in sorted(side for side in by_side if side):
        ok = True
        for case in by_side[side]:
            base_cer, cer = _cer(cases.get(f"{case['variant']}@off")), _cer(case)
            if base_cer is not None and base_cer > UNREADABLE_CER:
                continue  # unreadable at full size: scaling cannot make it worse
            if base_cer is None or cer is None or cer > base_cer + CER_TOLERANCE:
                ok = False
        if ok:
            keeps.append(side)
    chosen = min(keeps) if keeps else 0
    photo = cases.get(f"photo@{chosen or 'off'}", {})
    return {
        "smallest_side_keeping_text": chosen,
        "sides_keeping_text": keeps,
        "photo_speedup_vs_off": photo.get("speedup"),
        "speedup_vs_off": {case_id: case.get("speedup") for case_id, case in cases.items()},
        "rule": (
            f"prefix CER at most {CER_TOLERANCE} above no scaling on every image variant "
            f"that is readable unscaled (CER <= {UNREADABLE_CER})"
        ),
    }


# --------------------------------------------------------------------------- printing


def _short_error(error: str | None) -> str:
    if not error:
        return "n/a"
    missing = re.search(r"install the '([^']+)'", error)
    return f"needs model {missing.group(1)}" if missing else error[:50]


def _fmt(value: Any, digits: int = 2, suffix: str = "") -> str:
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
        cells = [str(cell) for cell in row]
        lines.append(
            "  ".join(
                cell.ljust(w) if index == 0 else cell.rjust(w)
                for index, (cell, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
    return "\n".join(lines)


def render_report(report: dict[str, Any]) -> str:  # noqa: PLR0912, PLR0915 - one table each
    out: list[str] = []
    machine = report["machine"]
    mode = "licensed" if report["engine"].get("licensed") else "TRIAL: text cut to 300 chars/page"
    out.append(
        f"OCR benchmark {report['started_utc']}  engine {report['engine'].get('version')} ({mode})"
    )
    out.append(
        f"machine: {machine['cpus']} cores {machine['cpu_model']}, {machine['memory_gb']} GB; "
        f"load average before {machine['load_before']}, after {machine['load_after']}; "
        f"repeat {report['options']['repeat']}; {machine['tesseract'] or 'no tesseract'}"
    )
    cold = report.get("cold_start")
    if cold:
        m = cold["median"]
        out.append("")
        out.append(
            table(
                f"Cold start (Init), median of {len(cold['runs'])} fresh processes",
                ["step", "seconds"],
                [
                    ["interpreter start", _fmt(m["interpreter_start_s"], 3)],
                    [
                        "function modules (boto3, Powertools, config)",
                        _fmt(m["function_modules_s"], 3),
                    ],
                    ["native setup (OpenSSL)", _fmt(m.get("native_setup_s"), 3)],
                    ["import aspose.ocr", _fmt(m.get("import_s"), 3)],
                    ["AsposeOcr() engine creation", _fmt(m.get("create_s"), 3)],
                    ["license", _fmt(m.get("license_s"), 3)],
                    ["warm-up recognition", _fmt(m.get("warm_up_s"), 3)],
                    ["Init total (import app.py)", _fmt(m["init_s"], 3)],
                    ["RSS after Init (MB)", _fmt(m["rss_after_init_mb"], 0)],
                ],
            )
        )
    classes = report["classes"]
    if classes:
        rows = []
        for name, c in classes.items():
            rows.append(
                [
                    name,
                    f"{c['image']['width']}x{c['image']['height']}x{c['image']['pages']}",
                    _fmt(c["engine_warm_s"]),
                    _fmt(c["handler_warm_s"]),
                    _fmt(c["overhead_ratio"], 3, "x"),
                    _fmt(c.get("handler_outside_engine_s"), 3),
                    _fmt(c["first_request_s"]),
                    _fmt(c["first_vs_warm"], 2, "x"),
                    _fmt(c["handler_cpu_s"]),
                    _fmt(c["peak_rss_mb"], 0),
                    str(c["text"]["chars"]),
                    _pct(c["text"]["prefix"]["cer"]),
                ]
            )
        out.append("")
        out.append(
            table(
                "This function: warm medians (s), 2 cores; CER on the trial prefix",
                [
                    "class",
                    "size",
                    "engine",
                    "handler",
                    "overhead",
                    "non-engine s",
                    "1st req",
                    "1st/warm",
                    "CPU s",
                    "peak MB",
                    "chars",
                    "CER",
                ],
                rows,
            )
        )
        rows = []
        for name, c in classes.items():
            naive = c["naive"] or {"text": {"prefix": {"cer": None}}}
            tess = c["tesseract"]
            ok = tess.get("status") == "ok"
            rows.append(
                [
                    name,
                    _fmt(c["handler_warm_s"]),
                    _fmt(naive.get("first_s")),
                    _fmt(naive.get("later_s")),
                    _fmt(naive.get("peak_rss_mb"), 0),
                    _pct(naive["text"]["prefix"]["cer"]),
                    _fmt(tess.get("median_wall_s")) if ok else "n/a",
                    _fmt(tess.get("median_cpu_s")) if ok else "n/a",
                    _fmt(tess.get("peak_rss_mb"), 0) if ok else "n/a",
                    _pct(tess["text"]["prefix"]["cer"]) if ok else "n/a",
                    _pct(tess["text"]["full"]["cer"]) if ok else "n/a",
                ]
            )
        out.append("")
        out.append(
            table(
                "Where we stand: our handler vs a tutorial's code vs Tesseract 5 CLI (s, MB)",
                [
                    "class",
                    "ours",
                    "naive 1st",
                    "naive later",
                    "naive MB",
                    "naive CER",
                    "tess",
                    "tess CPU",
                    "tess MB",
                    "tess CER300",
                    "tess CER full",
                ],
                rows,
            )
        )
        notes = {
            name: c["tesseract"]["reason"]
            for name, c in classes.items()
            if c["tesseract"].get("status") != "ok"
        }
        for name, reason in notes.items():
            out.append(f"  tesseract n/a for {name}: {reason}")
    one = report.get("one_vcpu")
    if one and "skipped" not in one:
        out.append("")
        out.append(
            f"A4 pinned to one core: warm {_fmt(one['handler_warm_s'])} s (two cores "
            f"{_fmt(one['two_core_handler_warm_s'])} s, "
            f"speed-up {_fmt(one['speedup_two_cores'])}x); "
            f"one-core wall / two-core CPU = {_fmt(one['one_core_factor'], 3)}; "
            f"first request {_fmt(one['first_request_s'])} s; Init {_fmt(one.get('init_s'))} s "
            f"(warm-up {_fmt(one.get('warm_up_s'))} s); "
            f"peak {_fmt(one['peak_rss_mb'], 0)} MB"
        )
    cost = report.get("cost")
    if cost and cost["per_class"]:
        sizes = [row["memory_mb"] for row in next(iter(cost["per_class"].values()))]
        rows = []
        for name, entries in cost["per_class"].items():
            rows.append(
                [name]
                + [
                    f"{row['duration_s']:.1f}s ${row['cost_per_1000_pages_usd']:.3f}"
                    + ("" if row["fits"] else "!")
                    for row in entries
                ]
            )
        out.append("")
        out.append(
            table(
                "Lambda estimate: duration per request and $ per 1,000 pages "
                "(! = below the memory headroom)",
                ["class", *[f"{size} MB" for size in sizes]],
                rows,
            )
        )
        rec = cost["recommendation"]
        out.append(
            f"  recommended MemorySize: {rec.get('memory_mb')} MB "
            f"({rec.get('duration_s')} s and ${rec.get('cost_per_1000_pages_usd')} per 1,000 A4 "
            f"pages; needs >= {rec.get('required_memory_mb')} MB: {costs.HEADROOM} x A4 peak "
            f"{rec.get('basis_peak_rss_mb')} MB, {costs.WORST_HEADROOM} x largest peak "
            f"{rec.get('largest_peak_rss_mb')} MB ({rec.get('largest_peak_class')}))"
            if rec.get("memory_mb")
            else f"  no memory recommendation: {rec.get('reason')} "
            f"(needs >= {rec.get('required_memory_mb')} MB)"
        )
        out.append(
            "  assumptions: x86 $0.0000166667/GB-s + $0.20/1M requests; 1 vCPU per 1769 MB; "
            "see JSON cost.assumptions"
        )
    experiments = report["experiments"]
    warm = experiments.get("warm_up")
    if warm and "variants" in warm:
        rows = [
            [
                name,
                _fmt(v["warm_up_s"]),
                _fmt(v.get("init_estimate_s")),
                _fmt(v.get("init_estimate_1vcpu_s")),
                _fmt(v["first_s"]),
                _fmt(v["later_s"]),
                _fmt(v["first_vs_warm"], 2, "x"),
            ]
            for name, v in warm["variants"].items()
        ]
        out.append("")
        out.append(
            table(
                "Warm-up image in Init vs the first A4 request (fresh process each; "
                f"Lambda's Init limit {INIT_LIMIT_S:.0f} s)",
                ["warm-up", "warm-up s", "Init", "Init 1vCPU", "1st A4 s", "later A4", "1st/later"],
                rows,
            )
        )
    for key, title in (
        ("scaling", "Downscaling (OCR_MAX_IMAGE_SIDE), bare engine"),
        ("engine_options", "Engine options, bare engine"),
        ("input_route", "Input route: stream (ours) vs file path, bare engine"),
    ):
        section = experiments.get(key)
        if not section or "cases" not in section:
            continue
        rows = []
        for case_id, case in section["cases"].items():
            quality = case.get("text")
            rows.append(
                [
                    case_id,
                    _fmt(case.get("scale"), 3) if key == "scaling" else "",
                    _fmt(case.get("median_wall_s")),
                    _fmt(case.get("median_cpu_s")),
                    _fmt(case.get("speedup"), 2, "x"),
                    _fmt(case.get("peak_rss_mb"), 0) if "peak_rss_mb" in case else "",
                    str(quality["chars"]) if quality else "n/a",
                    _pct(_cer(case)) if quality else _short_error(case.get("error")),
                ]
            )
        out.append("")
        headers = ["case", "scale", "wall s", "CPU s", "speed-up", "peak MB", "chars", "CER"]
        out.append(table(title, headers, rows))
    largest = experiments.get("largest_allowed")
    if largest and "photos" in largest:
        out.append("")
        for photo in largest["photos"].values():
            out.append(
                f"Photo {photo['size'][0]}x{photo['size'][1]} ({photo['megapixels']} MP) through "
                f"the handler: {_fmt(photo['request_s'])} s, scale {_fmt(photo['scale'], 3)}, "
                f"peak RSS {_fmt(photo['peak_rss_mb'], 0)} MB"
            )
    scans = report.get("scans")
    if scans and "files" in scans:
        rows = []
        for name, scan in scans["files"].items():
            tess = scan["tesseract"]
            ok = tess.get("status") == "ok"
            rows.append(
                [
                    name,
                    "x".join(str(side) for side in scan["size"]),
                    scan.get("match") or "",
                    _fmt(scan.get("median_wall_s")),
                    str(scan["text"]["chars"]) if scan.get("text") else "n/a",
                    _scan_quality(scan.get("text")),
                    _fmt(tess.get("median_wall_s")) if ok else "n/a",
                    _scan_quality(tess.get("text")) if ok else "n/a",
                    _pct(tess["text"]["full"]["cer"]) if ok and "full" in tess["text"] else "",
                ]
            )
        out.append("")
        out.append(
            table(
                "Real scans vs ground truth (CER of the trial prefix; substring: found?, CER of "
                "the closest stretch)",
                ["file", "size", "match", "aspose s", "chars", "CER", "tess s", "tess", "full"],
                rows,
            )
        )
        out.append(f"  {scans['note']}")
    goals = report.get("targets") or {}
    if goals.get("handler_overhead"):
        out.append("")
        overhead, first = goals["handler_overhead"], goals["first_vs_warm"]
        out.append(
            f"Targets ({goals['basis']}): handler/engine {_fmt(overhead['value'], 3)}x "
            f"(<= {TARGET_OVERHEAD}: {_fmt(overhead['met'])}); first/warm "
            f"{_fmt(first['value'], 2)}x (<= {TARGET_FIRST_VS_WARM}: {_fmt(first['met'])})"
        )
    advice = report.get("recommendations") or {}
    if advice.get("max_image_side"):
        side = advice["max_image_side"]
        out.append(
            "OCR_MAX_IMAGE_SIDE: smallest keeping the text "
            f"{side['smallest_side_keeping_text'] or 'off'} (photo speed-up vs off "
            f"{_fmt(side['photo_speedup_vs_off'], 2)}x; {side['rule']})"
        )
    if advice.get("warm_up"):
        out.append(
            f"Warm-up: cheapest variant meeting first/warm <= {TARGET_FIRST_VS_WARM}: "
            f"{advice['warm_up']['cheapest_meeting_target']}"
        )
    failed = {key: part["error"] for key, part in experiments.items() if "error" in part}
    if scans and "error" in scans:
        failed["scans"] = scans["error"]
    for key, error in failed.items():
        out.append(f"FAILED {key}: {error.splitlines()[0] if error else ''}")
    out.append("")
    out.append(f"JSON: {report['json_path']}")
    return "\n".join(out)


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
    parser.add_argument("--repeat", type=int, default=3, help="warm requests per measurement (3)")
    parser.add_argument("--quick", action="store_true", help="only the small label, once")
    parser.add_argument("--json", type=Path, help="where to write the results")
    parser.add_argument(
        "--cold-runs", type=int, default=3, help="fresh processes for the cold start (3)"
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="RESULTS_JSON",
        help="measure nothing: recompute cost and recommendations from a results file and "
        "print its tables (with --json, also write the recomputed file)",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=[
            "naive",
            "tesseract",
            "one-vcpu",
            "warm-up",
            "scaling",
            "options",
            "route",
            "largest",
        ],
        help="leave out a part (development only; repeatable)",
    )
    parser.add_argument(
        "--class",
        dest="classes",
        action="append",
        choices=CLASSES,
        help="measure only this image class (development only; repeatable)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.samples is not None and not (args.samples / "groundtruth.json").is_file():
        parser.error(f"--samples {args.samples}: no groundtruth.json there")
    return args


def reprint(source: Path, target: Path | None) -> int:
    """`--report`: recompute the derived sections of saved results and print them."""
    saved: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    derive(saved)
    if target is not None:
        saved["json_path"] = str(target)
        target.write_text(json.dumps(saved, indent=2, ensure_ascii=False) + "\n")
    print(render_report(saved))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report is not None:
        return reprint(args.report, args.json)
    if args.quick:
        args.repeat, args.cold_runs = 1, 1
    started = datetime.now(UTC)
    json_path: Path = args.json or RESULTS_DIR / f"{started:%Y%m%dT%H%M%SZ}.json"
    openssl_dir = Path(os.environ.get("OCR_OPENSSL_LIB_DIR") or DEFAULT_OPENSSL_DIR)
    if not (openssl_dir / "libssl.so.1.1").is_file():
        print(
            f"OpenSSL 1.1 not found in {openssl_dir}: run `make setup` or set OCR_OPENSSL_LIB_DIR",
            file=sys.stderr,
        )
        return 2
    resources_dir = Path(os.environ.get("OCR_RESOURCES_DIR") or DEFAULT_RESOURCES_DIR)
    resources_dir.mkdir(parents=True, exist_ok=True)
    if tesseract.executable() is None:
        print(
            f"tesseract not found: its cells will read n/a. To compare, install it: "
            f"{tesseract.INSTALL_HINT}",
            file=sys.stderr,
        )
    names = QUICK_CLASSES if args.quick else tuple(args.classes or CLASSES)
    skipped = "skipped (--quick)" if args.quick else None
    report: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "started_utc": started.isoformat(timespec="seconds"),
        "options": {
            "repeat": args.repeat,
            "quick": args.quick,
            "cold_runs": args.cold_runs,
            "samples": str(args.samples) if args.samples else None,
            "skip": args.skip,
        },
        "machine": {**machine_info(), "load_before": load_average()},
        "engine": {},
        "images": {},
        "cold_start": None,
        "classes": {},
        "one_vcpu": None,
        "cost": None,
        "experiments": {},
        "scans": None,
        "targets": None,
        "recommendations": None,
        "json_path": str(json_path),
    }
    log(f"load average {report['machine']['load_before']}; rendering {', '.join(names)}")
    bench_images = {name: images.render(name) for name in names}
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per S3 request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        child_env = child_environment(endpoint)
        _create_buckets(endpoint)
        with tempfile.TemporaryDirectory(prefix="ocr-bench-") as temporary:
            workdir = Path(temporary)
            image_files = {}
            for name, image in bench_images.items():
                path = workdir / f"{name}.{image.extension}"
                path.write_bytes(image.data)
                image_files[name] = path
                report["images"][name] = {
                    "description": image.description,
                    "bytes": len(image.data),
                    "width": image.width,
                    "height": image.height,
                    "pages": len(image.pages),
                    "chars": len(image.text),
                }
            runner = Runner(
                workdir=workdir,
                environment=function_environment(openssl_dir, resources_dir, endpoint),
                child_environment=child_env,
                common={
                    "openssl_lib_dir": str(openssl_dir),
                    "resources_dir": str(resources_dir),
                    "input_bucket": INPUT_BUCKET,
                    "output_bucket": OUTPUT_BUCKET,
                    "run_id": f"{started:%Y%m%dT%H%M%SZ}",
                },
            )
            bench = Bench(
                runner, image_files, bench_images, args.repeat, report, frozenset(args.skip)
            )
            _run_sections(bench, args, names, skipped)
    finally:
        server.stop()
    report["machine"]["load_after"] = load_average()
    report["finished_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
    report["duration_s"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(render_report(report))
    return 0


def _run_sections(
    bench: Bench, args: argparse.Namespace, names: Sequence[str], skipped: str | None
) -> None:
    report = bench.report
    bench.cold_start(args.cold_runs)
    for name in names:
        bench.image_class(name)
    experiments = report["experiments"]
    if skipped or "one-vcpu" in args.skip or "a4" not in names:
        report["one_vcpu"] = {"skipped": skipped or "--skip or no a4 class"}
    else:
        bench.one_vcpu()
    bench.cost()
    needs = {
        "warm-up": {"a4"},
        "scaling": {"a4", "photo"},
        "options": {"a4", "photo"},
        "route": {"a4", "tiff"},
    }
    for key, part, run in (
        ("warm_up", "warm-up", bench.warm_up_experiment),
        ("scaling", "scaling", bench.scaling_experiment),
        ("engine_options", "options", bench.options_experiment),
        ("input_route", "route", bench.input_route_experiment),
        ("largest_allowed", "largest", bench.largest_allowed_experiment),
    ):
        if skipped or part in args.skip:
            experiments[key] = {"skipped": skipped or "--skip"}
        elif not needs.get(part, set()) <= set(names):
            experiments[key] = {"skipped": f"needs the classes {sorted(needs[part])}"}
        else:
            _guarded(experiments, key, run)
    if args.samples is not None and not args.quick:
        _guarded(report, "scans", lambda: bench.scans(args.samples))
    derive(report)


def _guarded(where: dict[str, Any], key: str, run: Callable[[], None]) -> None:
    """Run one part; if it fails, record why and go on: a long run keeps what it measured."""
    try:
        run()
    except Exception as error:
        log(f"{key} failed: {error}")
        where[key] = {"error": str(error)[-3000:]}


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
