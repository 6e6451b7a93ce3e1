"""S3 put events in the format `sam local generate-event s3 put` writes, and the repo's samples.

`python -m tools.events` rewrites events/*.json from SAMPLE_EVENTS.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus

EXAMPLE_BUCKET = "aspose-ocr-input-example"
EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"


@dataclass(frozen=True)
class Upload:
    """One uploaded object, as a record describes it. `encoded_key` is the key as S3 sends it."""

    bucket: str
    encoded_key: str
    size: int = 1024
    etag: str = "0123456789abcdef0123456789abcdef"
    version_id: str | None = None


def encode_key(key: str) -> str:
    """Encode a key the way S3 does in event notifications (form encoding: space is `+`)."""
    return quote_plus(key, safe="/")


def s3_put_event(uploads: Sequence[Upload], region: str = "us-east-1") -> dict[str, object]:
    """An `ObjectCreated:Put` event with one record per upload."""
    return {"Records": [_record(upload, region) for upload in uploads]}


def _record(upload: Upload, region: str) -> dict[str, object]:
    s3_object: dict[str, object] = {
        "key": upload.encoded_key,
        "size": upload.size,
        "eTag": upload.etag,
        "sequencer": "0A1B2C3D4E5F678901",
    }
    if upload.version_id is not None:
        s3_object["versionId"] = upload.version_id
    return {
        "eventVersion": "2.0",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": "1970-01-01T00:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": "EXAMPLE123456789",
            "x-amz-id-2": "EXAMPLE123/5678abcdefghijklambdaisawesome/mnopqrstuvwxyzABCDEFGH",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "testConfigRule",
            "bucket": {
                "name": upload.bucket,
                "ownerIdentity": {"principalId": "EXAMPLE"},
                "arn": f"arn:aws:s3:::{upload.bucket}",
            },
            "object": s3_object,
        },
    }


# file name -> the encoded keys of its records (decoded key in the comment)
SAMPLE_EVENTS: dict[str, tuple[str, ...]] = {
    "s3-put.json": ("scans/invoice-4821.png",),
    # scans/my scan 2024.png, spaces encoded as S3 does ...
    "s3-put-spaces-plus.json": ("scans/my+scan+2024.png",),
    # ... and as a hand-written event might
    "s3-put-spaces-percent.json": ("scans/my%20scan%202024.png",),
    # scans/счёт № 7 (c++).png: UTF-8 bytes, a space and a literal plus sign
    "s3-put-unicode.json": (encode_key("scans/счёт № 7 (c++).png"),),
    "s3-put-two-records.json": ("scans/page-1.png", "scans/page-2.png"),
}


def write_sample_events(directory: Path = EVENTS_DIR) -> list[Path]:
    written = []
    for name, keys in SAMPLE_EVENTS.items():
        event = s3_put_event([Upload(EXAMPLE_BUCKET, key) for key in keys])
        path = directory / name
        path.write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_sample_events():
        print(f"wrote {path}")
