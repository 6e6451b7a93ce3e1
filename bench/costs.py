"""Lambda cost per 1,000 pages at each engine's memory size, and Textract's price for scale.

Model (the assumptions are also written into the benchmark's JSON):
- Each engine is measured with the CPU its memory size buys in Lambda: one full vCPU per
  1,769 MB (Aspose at 3538 MB: both cores of this machine; Tesseract at 1769 MB: the worker
  pinned to one core). A request is billed for the handler's wall time (warm median).
- x86 price: $0.0000166667 per GB-second (memory in MB / 1024) and $0.20 per million requests;
  one request per object; free tier, S3 and Init (billed once per cold start, reported on its
  own) left out.
- Amazon Textract DetectDocumentText: $1.50 per 1,000 pages (list price, first million pages a
  month, us-east-1): a managed service's price per page, for scale.
- This machine's cores are not Lambda's: read the ratios between engines, and the absolute
  numbers as estimates within tens of percent.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICE_PER_GB_SECOND = 0.0000166667  # x86, us-east-1 (first 6 billion GB-seconds a month)
PRICE_PER_REQUEST = 0.20 / 1_000_000
MB_PER_VCPU = 1769
TEXTRACT_DETECT_PER_1000_PAGES_USD = 1.50


@dataclass(frozen=True)
class Assumptions:
    price_per_gb_second_usd: float = PRICE_PER_GB_SECOND
    price_per_million_requests_usd: float = PRICE_PER_REQUEST * 1_000_000
    mb_per_vcpu: int = MB_PER_VCPU
    textract_detect_document_text_per_1000_pages_usd: float = TEXTRACT_DETECT_PER_1000_PAGES_USD
    architecture: str = "x86_64"
    duration: str = "warm handler wall time (median) with the cores the memory size buys"
    requests: str = "one per object (a PDF or TIFF of 3 pages is one request)"
    excluded: str = "free tier; S3; Init (billed per cold start, reported separately)"


def vcpus(memory_mb: int) -> float:
    """What Lambda gives: one full vCPU per 1,769 MB."""
    return memory_mb / MB_PER_VCPU


def cores_for(memory_mb: int, available: int) -> int:
    """The cores of this machine that stand for `memory_mb`'s vCPUs (at least one)."""
    return max(1, min(available, round(vcpus(memory_mb))))


def cost_per_1000_pages_usd(duration_s: float, memory_mb: int, pages_per_request: int) -> float:
    """Lambda's price for 1,000 pages, each request of `pages_per_request` pages taking
    `duration_s` at `memory_mb`."""
    per_request = duration_s * memory_mb / 1024 * PRICE_PER_GB_SECOND + PRICE_PER_REQUEST
    return 1000 / pages_per_request * per_request


def init_cost_usd(init_s: float, memory_mb: int) -> float:
    """What one cold start's Init costs when it is billed."""
    return init_s * memory_mb / 1024 * PRICE_PER_GB_SECOND
