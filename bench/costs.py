"""Lambda cost and latency per memory size, from times measured on this machine.

Model (every assumption is also written into the benchmark's JSON):
- Lambda gives CPU in proportion to memory: 1 vCPU at 1,769 MB, 2 vCPUs at 3,538 MB.
- At 2 vCPUs a request takes what it takes here on both cores (wall-clock, warm median).
- At 1 vCPU it takes its CPU seconds (as measured on two cores) times the factor measured on the
  A4 page pinned to one core (pinned wall / two-core CPU): spinning threads and lost parallelism
  make a single core a little slower than the CPU seconds alone say.
- Between one and two vCPUs, Amdahl's law through those two points (a serial part plus a
  parallel part); below one vCPU, the 1-vCPU time stretched by the CPU share; above two vCPUs,
  no further gain is assumed (two cores are all this machine can show).
- x86 price: $0.0000166667 per GB-second (memory in MB / 1024) and $0.20 per million requests;
  one request per object; free tier and Init (billed once per cold start since August 2025,
  shown separately) left out.
- This machine's cores are not Lambda's: use the ratios between sizes, and the absolute numbers
  as an estimate within tens of percent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

PRICE_PER_GB_SECOND = 0.0000166667  # x86, us-east-1 (first 6 billion GB-seconds a month)
PRICE_PER_REQUEST = 0.20 / 1_000_000
MB_PER_VCPU = 1769
MEMORY_SIZES_MB = (1024, 1769, 2654, 3538, 5307)
HEADROOM = 1.5
"""Memory is at least this times the basis class's (the A4 page's) peak RSS ..."""
WORST_HEADROOM = 1.2
"""... and at least this times the largest peak RSS of any class measured."""
COST_TOLERANCE = 1.10
"""The recommendation takes the fastest size that costs at most this much more than the
cheapest one that fits."""

ASSUMPTIONS = {
    "price_per_gb_second_usd": PRICE_PER_GB_SECOND,
    "price_per_million_requests_usd": PRICE_PER_REQUEST * 1_000_000,
    "architecture": "x86_64",
    "gb": "MemorySize in MB / 1024",
    "vcpus": "MemorySize / 1769 MB (1 vCPU at 1769 MB, 2 at 3538 MB)",
    "two_vcpu_seconds": "warm handler wall time on this 2-core machine (median)",
    "one_vcpu_seconds": (
        "warm handler CPU seconds on two cores x (A4 pinned to one core: wall / two-core CPU)"
    ),
    "between_1_and_2_vcpus": "Amdahl's law through the 1- and 2-vCPU times",
    "below_1_vcpu": "1-vCPU time / vCPU share",
    "above_2_vcpus": "no gain assumed",
    "requests": "one per object (a PDF or TIFF of 3 pages is one request)",
    "excluded": (
        "free tier; Init (billed per cold start since 1 Aug 2025, reported separately); S3"
    ),
    "memory_headroom": (
        f"MemorySize >= {HEADROOM} x the A4 page's peak RSS and >= {WORST_HEADROOM} x the "
        "largest peak RSS of any class"
    ),
    "recommendation_rule": (
        f"fastest A4 latency among sizes that fit, costing <= {COST_TOLERANCE} x the cheapest"
    ),
}


def vcpus(memory_mb: int) -> float:
    return memory_mb / MB_PER_VCPU


def duration_s(memory_mb: int, one_vcpu_s: float, two_vcpu_s: float) -> float:
    """A request's duration at ``memory_mb`` from its 1- and 2-vCPU durations."""
    share = vcpus(memory_mb)
    if share <= 1:
        return one_vcpu_s / share
    if share >= 2:  # noqa: PLR2004 - two vCPUs
        return two_vcpu_s
    parallel = 2 * (one_vcpu_s - two_vcpu_s)  # Amdahl: t(v) = serial + parallel / v
    serial = one_vcpu_s - parallel
    return serial + parallel / share


def cost_per_1000_pages_usd(duration: float, memory_mb: int, pages_per_request: int) -> float:
    per_request = duration * memory_mb / 1024 * PRICE_PER_GB_SECOND + PRICE_PER_REQUEST
    return 1000 / pages_per_request * per_request


@dataclass(frozen=True)
class ClassTimes:
    """What the model needs of one image class."""

    pages: int
    two_vcpu_s: float
    cpu_s: float
    peak_rss_mb: float


@dataclass(frozen=True)
class SizeEstimate:
    memory_mb: int
    vcpus: float
    fits: bool
    duration_s: float
    cost_per_1000_pages_usd: float


def estimates(
    classes: dict[str, ClassTimes], one_core_factor: float, basis: str = "a4"
) -> dict[str, list[dict[str, Any]]]:
    """Duration and cost per 1,000 pages for each class at each memory size."""
    required = required_memory_mb(classes, basis)
    table: dict[str, list[dict[str, Any]]] = {}
    for name, times in classes.items():
        # One vCPU is never faster than two (a loaded machine can show CPU < wall).
        one_vcpu_s = max(times.cpu_s * one_core_factor, times.two_vcpu_s)
        rows = []
        for memory in MEMORY_SIZES_MB:
            duration = duration_s(memory, one_vcpu_s, times.two_vcpu_s)
            rows.append(
                asdict(
                    SizeEstimate(
                        memory_mb=memory,
                        vcpus=round(vcpus(memory), 2),
                        fits=memory >= required,
                        duration_s=round(duration, 3),
                        cost_per_1000_pages_usd=round(
                            cost_per_1000_pages_usd(duration, memory, times.pages), 4
                        ),
                    )
                )
            )
        table[name] = rows
    return table


def required_memory_mb(classes: dict[str, ClassTimes], basis: str = "a4") -> int:
    worst = max((times.peak_rss_mb for times in classes.values()), default=0.0)
    basis_peak = classes[basis].peak_rss_mb if basis in classes else worst
    return int(max(basis_peak * HEADROOM, worst * WORST_HEADROOM) + 0.5)


def recommend(
    table: dict[str, list[dict[str, Any]]], classes: dict[str, ClassTimes], basis: str = "a4"
) -> dict[str, Any]:
    """The memory size for ``basis`` pages by the rule in ASSUMPTIONS, with its reasons."""
    if basis not in table:
        return {"memory_mb": None, "reason": f"no {basis!r} measurement in this run"}
    rows = [row for row in table[basis] if row["fits"]]
    if not rows:
        return {
            "memory_mb": None,
            "reason": "no memory size considered fits the peak RSS",
            "required_memory_mb": required_memory_mb(classes, basis),
        }
    cheapest = min(row["cost_per_1000_pages_usd"] for row in rows)
    affordable = [row for row in rows if row["cost_per_1000_pages_usd"] <= cheapest * 1.10]
    best = min(affordable, key=lambda row: (row["duration_s"], row["memory_mb"]))
    peak = max(times.peak_rss_mb for times in classes.values())
    largest = max(classes, key=lambda name: classes[name].peak_rss_mb)
    return {
        "memory_mb": best["memory_mb"],
        "basis": basis,
        "duration_s": best["duration_s"],
        "cost_per_1000_pages_usd": best["cost_per_1000_pages_usd"],
        "cheapest_cost_per_1000_pages_usd": cheapest,
        "required_memory_mb": required_memory_mb(classes, basis),
        "basis_peak_rss_mb": classes[basis].peak_rss_mb,
        "basis_headroom": round(best["memory_mb"] / classes[basis].peak_rss_mb, 2),
        "largest_peak_rss_mb": peak,
        "largest_peak_class": largest,
        "headroom_at_recommended": round(best["memory_mb"] / peak, 2) if peak else None,
    }


def init_cost_usd(init_s: float, memory_mb: int) -> float:
    """What one cold start's Init costs when it is billed."""
    return init_s * memory_mb / 1024 * PRICE_PER_GB_SECOND
