"""What the load test uploads: small rendered labels (PNG, one in 20 WEBP), a share of bad
inputs, keys with spaces, `+` and non-ASCII characters, objects uploaded twice with changed
content, and multi-page documents the function fans out; deterministic for a seed."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

from PIL import Image

from ocr_service.core.formats import ImageFormat
from tools.samples import render_document, render_lines

MIN_OBJECTS = 20
BAD_SHARE = 0.10  # of the objects, cycling through BAD_KINDS (at least one of each)
CHANGED_SHARE = 0.10  # uploaded twice with other content (at least one of each transition)
FAULT_SHARE = 0.03  # whose first GetObject fails once, as S3 or the network sometimes does
DUPLICATE_SHARE = 0.10  # of the objects uploaded once, whose notification comes twice
LABEL_WIDTH, LABEL_FONT = 400, 20  # four lines: about 400x212 pixels
MIN_CHANGED = 6  # two timings x three transitions
LONG_PAGES = (25, 40)

# What each bad input must end as: the failure reason in its .error.json.
BAD_KINDS: dict[str, str] = {
    "empty": "empty-object",
    "text": "unsupported-format",
    "truncated": "truncated-image",
    "tiny": "image-too-small",
}
GOOD = "good"  # a rendered label as PNG
WEBP = "webp"  # a rendered label as WEBP: the engine cannot read it, the function converts it
LONG_TIFF, LONG_PDF = "long-tiff", "long-pdf"  # multi-page documents, fanned out by pages
LONG_FORMATS = {LONG_TIFF: ImageFormat.TIFF, LONG_PDF: ImageFormat.PDF}
WEBP_EVERY = 20  # of the objects uploaded once
TRANSITIONS = ((GOOD, GOOD), (GOOD, "bad"), ("bad", GOOD))
KEY_STYLES = (
    "load/label-{n:04d}.{ext}",
    "load/scan {n:04d} (copy).{ext}",
    "load/счёт № {n:04d}.{ext}",
    "load/a+b=c {n:04d}.{ext}",
    "load/領収書-{n:04d}.{ext}",
    "load/reçu été ✓ {n:04d}.{ext}",
)
PHRASES = (
    "total amount paid in cash",
    "order number and date",
    "customer account balance",
    "shipping address street",
    "quick brown fox jumps",
    "lazy dog near the river",
    "office paper and window",
    "market station ticket",
    "seven eleven ninety",
    "thank you for the receipt",
    "green yellow morning",
    "garden evening city bank",
)


@dataclass(frozen=True)
class Version:
    """One upload of an object."""

    kind: str
    """GOOD, WEBP, LONG_TIFF, LONG_PDF, or one of BAD_KINDS."""
    body: bytes
    label: str | None = None
    """The first line of a rendered label ("Label 0042 rev 1")."""
    pages: int = 1


@dataclass(frozen=True)
class PlannedObject:
    key: str
    versions: tuple[Version, ...]
    change: str | None = None
    """None (one upload); "early": the new content follows at once; "late": it follows only
    once the first version's result exists."""
    fault: bool = False
    """Its first GetObject fails once with a connection error (a transient failure)."""
    duplicate: bool = False
    """Its notification is sent again once its result exists."""

    @property
    def final(self) -> Version:
        return self.versions[-1]


def label_image(serial: int, revision: int, rng: random.Random, kind: str = GOOD) -> Version:
    label = f"Label {serial:04d} rev {revision}"
    lines = [label, *rng.sample(PHRASES, 3)]
    image_format = "WEBP" if kind == WEBP else "PNG"
    body = render_lines(lines, width=LABEL_WIDTH, font_size=LABEL_FONT, image_format=image_format)
    return Version(kind, body, label)


def bad_version(kind: str, serial: int, revision: int) -> Version:
    """Bad content that differs between objects and revisions (except `empty`)."""
    if kind == "empty":
        return Version(kind, b"")
    if kind == "text":
        return Version(kind, f"not an image: note {serial} rev {revision}\n".encode() * 3)
    label = (f"Broken {serial:04d} rev {revision}", "this part is lost")
    if kind == "truncated":
        png = render_lines(label, width=LABEL_WIDTH, font_size=LABEL_FONT)
        return Version(kind, png[: len(png) // 2])
    if kind == "tiny":
        buffer = io.BytesIO()
        Image.new("L", (1, 1), (serial * 7 + revision) % 256).save(buffer, "PNG")
        return Version(kind, buffer.getvalue())
    raise ValueError(f"unknown kind {kind!r}")


def long_document(index: int, rng: random.Random) -> PlannedObject:
    """A TIFF (even index) or PDF of 25-40 pages whose page N says "Page N of the long report"."""
    kind = LONG_TIFF if index % 2 == 0 else LONG_PDF
    pages = rng.randint(*LONG_PAGES)
    image_format = LONG_FORMATS[kind].value.upper()
    body = render_document(pages, image_format)
    ext = "tif" if kind == LONG_TIFF else "pdf"
    return PlannedObject(f"load/long/report {index:02d}.{ext}", (Version(kind, body, None, pages),))


def build_plan(objects: int, seed: int = 1, long_documents: int = 2) -> list[PlannedObject]:
    """The objects to upload, deterministic for a seed. Every bad kind, a WEBP, both change
    timings and every change transition appear at least once; `long_documents` multi-page
    documents (TIFF and PDF by turns) come on top of `objects`."""
    if objects < MIN_OBJECTS:
        raise ValueError(f"at least {MIN_OBJECTS} objects are needed for every case")
    rng = random.Random(seed)
    order = list(range(objects))
    rng.shuffle(order)
    n_bad = max(len(BAD_KINDS), round(objects * BAD_SHARE))
    n_changed = max(MIN_CHANGED, round(objects * CHANGED_SHARE))
    n_faults = max(1, round(objects * FAULT_SHARE))
    n_duplicates = max(1, round(objects * DUPLICATE_SHARE))
    bad = {serial: index for index, serial in enumerate(order[:n_bad])}
    changed = {serial: index for index, serial in enumerate(order[n_bad : n_bad + n_changed])}
    once = order[n_bad + n_changed :]
    faults_at = set(once[:n_faults])
    duplicates = set(once[n_faults : n_faults + n_duplicates]) | set(order[:1])  # and a bad one
    kinds = list(BAD_KINDS)
    plan = []
    for serial in range(objects):
        change: str | None = None
        if serial in bad:
            versions: tuple[Version, ...] = (
                bad_version(kinds[bad[serial] % len(kinds)], serial, 1),
            )
        elif serial in changed:
            index = changed[serial]
            change = "early" if index % 2 == 0 else "late"
            bad_kind = kinds[index % len(kinds)]
            versions = tuple(
                label_image(serial, revision, rng)
                if kind == GOOD
                else bad_version(bad_kind, serial, revision)
                for revision, kind in enumerate(TRANSITIONS[(index // 2) % len(TRANSITIONS)], 1)
            )
        else:
            kind = WEBP if serial % WEBP_EVERY == WEBP_EVERY // 2 else GOOD
            versions = (label_image(serial, 1, rng, kind),)
        ext = "webp" if versions[0].kind == WEBP else "png"
        key = KEY_STYLES[serial % len(KEY_STYLES)].format(n=serial, ext=ext)
        plan.append(PlannedObject(key, versions, change, serial in faults_at, serial in duplicates))
    for index in range(long_documents):
        document = long_document(index, rng)
        plan.append(PlannedObject(document.key, document.versions, duplicate=index == 0))
    return plan
